// Reads another process's CPU time and resident memory from /proc, for the load generators that
// measure the daemon and workers from outside. Stateless; thread-safe.
#pragma once

namespace batchd::bench {

// CPU seconds of process `pid` (all threads, plus reaped children) from /proc/PID/stat;
// 0 when pid is 0 or the process is gone. Resolution: one clock tick (10 ms).
double ProcessCpuSeconds(int pid);

// Resident set size of process `pid` in KiB from /proc/PID/status; 0 when unknown.
long ResidentKib(int pid);

// CPU seconds this process has used (getrusage, all threads).
double SelfCpuSeconds();

}  // namespace batchd::bench
