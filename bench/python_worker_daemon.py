#!/usr/bin/python3
"""Workload 6 for the Python SDK (issue 22): no-op tasks through one Python worker connection.

  bench/python_worker_daemon.py --build-dir build/release [--tasks 20000] [--runs 5]
                                [--slots 64] [--baseline-rev REV]

For each worker — the threaded ``batchd.Worker`` (bench/peers/sdk_worker.py) and the asyncio
``batchd.aio.AsyncWorker`` (bench/peers/sdk_async_worker.py), each in its own process with
`--slots` slots — a fresh batchd (--durability=none, --max-running=4096) gets --tasks no-op
tasks per run from bench/worker_bench (ProcessBatch, like bench/run_all.py's workload 6), after
one warm-up run. With --baseline-rev the threaded worker also runs with the package as it was
at that git revision (extracted with `git archive`), in the same run, for a before/after.

Reported per worker (JSON on stdout; medians with min–max over the runs): tasks/s end to end,
the worker's CPU µs per task (utime + stime from /proc), the daemon's. Exits 1 when a worker
of this revision is under --target-rate (20,000/s) or over --target-cpu-us (100 µs) by median.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
PEERS = os.path.join(BENCH_DIR, "peers")
sys.path.insert(0, BENCH_DIR)
from run_all import Servers, _listening_address, wait_for  # noqa: E402

PYTHON = "/usr/bin/python3"


def extract_package(rev, into):
    """client/python of git revision `rev`, extracted under `into`; its directory."""
    archive = os.path.join(into, "sdk.tar")
    subprocess.run(["git", "-C", REPO, "archive", "--format=tar", "-o", archive, rev,
                    "client/python"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into)
    package = os.path.join(into, "client", "python")
    # Packages before issue 22 imported google.rpc's generated modules: make them next to it.
    subprocess.run(["protoc", f"--proto_path={os.path.join(REPO, 'proto')}",
                    f"--python_out={package}", "google/rpc/status.proto",
                    "google/rpc/error_details.proto"], check=True)
    return package


def registered(address, sdk_dir, build_dir):
    """Whether a worker serves "pynoop" (asked by a child process: the package under test may
    be another revision's)."""
    check = subprocess.run(
        [PYTHON, "-c", "import sys, batchd; sys.exit(0 if any(e.name == 'pynoop' for e in "
         f"batchd.Client({address!r}).executors()) else 1)"],
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([sdk_dir, os.path.join(build_dir,
                                                                              "python")])),
        capture_output=True, timeout=30)
    return check.returncode == 0


def measure(servers, build_dir, worker_script, sdk_dir, args):
    binary = os.path.join(build_dir, "server", "batchd")
    daemon = servers.start("batchd", [binary, "--listen=127.0.0.1:0", "--durability=none",
                                      "--log-level=warn", "--max-running=4096"])
    try:
        address = wait_for(lambda: _listening_address(servers.log(daemon, "out")),
                           "batchd start", 30, daemon)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [sdk_dir, os.path.join(build_dir, "python")]), PYTHONDONTWRITEBYTECODE="1")
        worker = servers.start(os.path.basename(worker_script), [
            PYTHON, worker_script, "--addr", address, "--executor", "pynoop",
            "--slots", str(args.slots)], env=env)
        try:
            wait_for(lambda: registered(address, sdk_dir, build_dir), "the worker's registration",
                     30, worker)
            run = subprocess.run([
                os.path.join(build_dir, "bench", "worker_bench"), "--addr", address,
                "--executor", "pynoop", "--tasks", str(args.tasks), "--max-concurrent", "4096",
                "--runs", str(args.runs), "--warmup", "1", "--json", "1",
                "--daemon-pid", str(daemon.pid), "--worker-pid", str(worker.pid)],
                capture_output=True, text=True, timeout=600, check=True)
        finally:
            servers.stop(worker)
    finally:
        servers.stop(daemon)
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]

    def stat(values):
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    n = args.tasks
    return {
        "tasks_per_s": stat([n / r["wall_s"] for r in rows]),
        "worker_cpu_us_per_task": stat([r["worker_cpu_s"] / n * 1e6 for r in rows]),
        "daemon_cpu_us_per_task": stat([r["daemon_cpu_s"] / n * 1e6 for r in rows]),
        "runs": rows,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--baseline-rev", default="")
    parser.add_argument("--target-rate", type=float, default=20000)
    parser.add_argument("--target-cpu-us", type=float, default=100)
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    sdk_dir = os.path.join(REPO, "client", "python")
    out = {"tasks": args.tasks, "runs": args.runs, "slots": args.slots,
           "load_before": os.getloadavg()}
    ok = True
    with tempfile.TemporaryDirectory(prefix="batchd-pyworker-bench-") as work:
        servers = Servers(work)
        try:
            workers = [("threaded (batchd.Worker)", os.path.join(PEERS, "sdk_worker.py"),
                        sdk_dir, True)]
            async_script = os.path.join(PEERS, "sdk_async_worker.py")
            if os.path.isfile(async_script):
                workers.append(("asyncio (batchd.aio.AsyncWorker)", async_script, sdk_dir, True))
            if args.baseline_rev:
                old = extract_package(args.baseline_rev, work)
                workers.insert(0, (f"threaded at {args.baseline_rev}",
                                   os.path.join(PEERS, "sdk_worker.py"), old, False))
            for label, script, package, checked in workers:
                figures = measure(servers, build_dir, script, package, args)
                out[label] = figures
                if checked:
                    ok = ok and (figures["tasks_per_s"]["median"] >= args.target_rate
                                 and figures["worker_cpu_us_per_task"]["median"]
                                 <= args.target_cpu_us)
        finally:
            servers.stop_all()
    out["load_after"] = os.getloadavg()
    for label in [k for k in out if isinstance(out[k], dict)]:
        f = out[label]
        print(f"{label}: {f['tasks_per_s']['median']:,.0f} tasks/s "
              f"({f['tasks_per_s']['min']:,.0f}–{f['tasks_per_s']['max']:,.0f}), worker CPU "
              f"{f['worker_cpu_us_per_task']['median']:.1f} µs/task, daemon CPU "
              f"{f['daemon_cpu_us_per_task']['median']:.1f} µs/task", file=sys.stderr)
    print(json.dumps(out, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
