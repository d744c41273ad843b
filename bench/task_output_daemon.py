#!/usr/bin/python3
"""Partial output through the real daemon (issue 21): how soon a StreamTaskOutput reader sees a
chunk a Python worker sent with batchd.output(). Figures on stdout (JSON).

  bench/task_output_daemon.py --build-dir build/release [--chunks 10000] [--rate 10000]

One task on a Python worker (its own process) sends --chunks chunks of 100 bytes, paced at
--rate chunks/s (bursts every millisecond), each starting with the time it was sent
(CLOCK_MONOTONIC, time.monotonic_ns(), which both processes share); a reader in this process
follows the task with StreamTaskOutput and records, for every chunk, when it arrived. Latency = arrival - send. Reported: the median, p90, p99 and max, chunks seen, the
achieved send rate, and the daemon's CPU per chunk. Exits 1 when the median is over --target-ms
(5) or chunks were lost.

Starts its own batchd on loopback (port 0, --durability=none) and stops it.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
from run_all import Servers, _listening_address, proc_cpu_seconds, wait_for  # noqa: E402

CHUNK_BYTES = 100


def serve(address, chunks, rate):
    """The worker process: executor "stream" sends the chunks of one task."""
    import batchd

    worker = batchd.Worker(address, name="streamer", slots=1)

    @worker.executor("stream")
    def stream(task):
        per_ms = max(1, int(rate / 1000))
        start = time.monotonic()
        for i in range(chunks):
            if i % per_ms == 0:  # a burst each millisecond: the rate, without busy-waiting
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            stamp = time.monotonic_ns()
            batchd.output(f"{i:08d} {stamp:020d} ".ljust(CHUNK_BYTES - 1, "x") + "\n")
        return {"seconds": time.monotonic() - start}

    worker.run()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--chunks", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=10000)
    parser.add_argument("--target-ms", type=float, default=5.0)
    args = parser.parse_args()
    sys.path[:0] = [os.path.join(REPO, "client", "python"), os.path.join(args.build_dir, "python")]
    if args.worker:
        return serve(args.worker, args.chunks, args.rate)
    import batchd
    from batchd import BatchTask

    binary = os.path.join(args.build_dir, "server", "batchd")
    with tempfile.TemporaryDirectory(prefix="batchd-output-bench-") as work:
        servers = Servers(work)
        try:
            proc = servers.start("batchd-output", [
                binary, "--listen=127.0.0.1:0", "--durability=none", "--log-level=warn",
                f"--max-task-output-bytes={4 * CHUNK_BYTES * args.chunks}"])
            address = wait_for(lambda: _listening_address(servers.log(proc, "out")),
                               "batchd start", 30, proc)
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path[:2]))
            worker = servers.start("streamer", [
                sys.executable, os.path.abspath(__file__), "--worker", address,
                "--build-dir", args.build_dir, "--chunks", str(args.chunks),
                "--rate", str(args.rate)], env=env)
            arrivals = []
            with batchd.Client(address) as client:
                batch_id = client.submit([BatchTask("t", None, executor="stream")],
                                         wait_for_workers=True)
                cpu0 = proc_cpu_seconds(proc.pid)
                output = client.stream_task_output(batch_id, "t")
                pending = ""
                for data in output:
                    now = time.monotonic_ns()
                    pending += data
                    lines = pending.split("\n")
                    pending = lines.pop()
                    for line in lines:
                        arrivals.append((now - int(line.split(" ")[1])) / 1e6)
                cpu = proc_cpu_seconds(proc.pid) - cpu0
                result = output.result
            sent = result.result if result is not None and result.success else {}
        finally:
            servers.stop_all()
    arrivals.sort()
    out = {
        "chunks_sent": args.chunks, "chunk_bytes": CHUNK_BYTES,
        "chunks_seen": len(arrivals),
        "send_rate_per_s": args.chunks / sent["seconds"] if sent.get("seconds") else 0,
        "latency_ms_median": statistics.median(arrivals) if arrivals else None,
        "latency_ms_p90": arrivals[int(len(arrivals) * 0.9)] if arrivals else None,
        "latency_ms_p99": arrivals[int(len(arrivals) * 0.99)] if arrivals else None,
        "latency_ms_max": arrivals[-1] if arrivals else None,
        "daemon_cpu_us_per_chunk": cpu / max(1, len(arrivals)) * 1e6,
        "result_state": result.state if result else None,
        "target_median_ms": args.target_ms,
    }
    print(json.dumps(out, indent=2))
    ok = (len(arrivals) == args.chunks and out["latency_ms_median"] is not None
          and out["latency_ms_median"] <= args.target_ms)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
