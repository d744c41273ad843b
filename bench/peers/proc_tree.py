"""CPU seconds of processes and their live descendants, read from /proc (Linux only).

Used by the peer benchmarks to charge a framework for every process it runs (Celery's prefork
pool, Redis, Dask's scheduler and worker), like bench/proc_stat.h does for batchd.
"""
import os

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(ppid, cpu seconds incl. reaped children) of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            line = f.read()
    except OSError:
        return None
    fields = line[line.rfind(")") + 2:].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return int(fields[1]), ticks / _TICK


def tree_cpu_seconds(roots):
    """Sum of CPU seconds of the processes `roots` and all their live descendants."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _stat(int(name))
            if s is not None:
                table[int(name)] = s
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, seen, todo = 0.0, set(), [int(p) for p in roots]
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        todo.extend(children.get(pid, []))
    return total


def self_cpu_seconds():
    """CPU seconds of this process (all threads)."""
    t = os.times()
    return t.user + t.system
