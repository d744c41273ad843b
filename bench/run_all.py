#!/usr/bin/python3
"""Runs every benchmark of issue 7 on this machine in one go and writes the results.

  bench/run_all.py --build-dir DIR [--quick] [--runs N] [--out DIR] [--only w1,w5]

Starts the servers each workload needs on loopback (batchd on port 0; redis-server, a Dask
scheduler and worker on free ports), runs the C++ load generators (bench/batch_load,
bench/worker_bench, bench/scheduler_bench) and the peers (bench/peers/), stops every server
(also on SIGINT/SIGTERM, and through PR_SET_PDEATHSIG if this process is killed), and writes
OUT/latest.json, OUT/latest.md and OUT/*.png. Every figure is the median of --runs runs with
min-max; ratios compare medians of the same run. --quick runs each workload once at tiny
sizes (well under a minute) to check that everything works; bench/run.sh is the entry point.
Exits 1 if any workload failed (the others still run and are written).
"""
import argparse
import atexit
import ctypes
import datetime
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
PEERS_DIR = os.path.join(BENCH_DIR, "peers")
PYTHON = "/usr/bin/python3"  # Debian's, which has celery, distributed and matplotlib

# Sizes of the full run (issue 7) and of --quick.
FULL = dict(noop_tasks=100000, sched_tasks=0, sleep_tasks=2000, fanout_leaves=200,
            shell_tasks=1000, callback_tasks=100000, peer_tasks=10000)
QUICK = dict(noop_tasks=2000, sched_tasks=10000, sleep_tasks=20, fanout_leaves=20,
             shell_tasks=20, callback_tasks=2000, peer_tasks=200)
SLEEP_CONCURRENCY = [1, 10, 100, 1000]
DURABILITY_MODES = ["none", "normal", "full"]  # batchd --durability; "none" first (the base)
PLOTS = ["peers.png", "sleep_scaling.png", "dag.png", "shell.png"]


# --------------------------------------------------------------------------- processes

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_PR_SET_PDEATHSIG = 1


def _child_setup():
    # Dies with the orchestrator even if it is SIGKILLed (e.g. by a ctest timeout).
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Servers:
    """The server processes started so far; stop_all() ends them, bounded, in reverse order."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.procs = []

    def start(self, name, argv, env=None, cwd=None):
        out = open(os.path.join(self.log_dir, f"{name}.out"), "w")
        err = open(os.path.join(self.log_dir, f"{name}.err"), "w")
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True,
                                preexec_fn=_child_setup)
        proc.bench_name = name
        self.procs.append(proc)
        return proc

    def log(self, proc, stream="err"):
        with open(os.path.join(self.log_dir, f"{proc.bench_name}.{stream}")) as f:
            return f.read()

    def stop(self, proc, grace_s=5.0):
        if proc.poll() is None:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=grace_s)
        else:
            self._signal_group(proc, signal.SIGKILL)  # leftovers of its group, if any
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self):
        for proc in reversed(list(self.procs)):
            try:
                self.stop(proc)
            except Exception:  # noqa: BLE001 - keep stopping the others
                traceback.print_exc()

    @staticmethod
    def _signal_group(proc, sig):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what, timeout_s=60, proc=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not ready after {timeout_s} s")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- statistics

def summarize(values):
    values = [float(v) for v in values]
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": values}


def fmt_num(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt(s, scale=1.0):
    """'median (min–max)' of a summary, scaled."""
    if s is None:
        return "–"
    if len(s["runs"]) == 1:
        return fmt_num(s["median"] * scale)
    return (f"{fmt_num(s['median'] * scale)} ({fmt_num(s['min'] * scale)}–"
            f"{fmt_num(s['max'] * scale)})")


def per_run(rows, f):
    return summarize([f(r) for r in rows])


# --------------------------------------------------------------------------- runner

class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.sizes = QUICK if args.quick else FULL
        self.runs = args.runs or (1 if args.quick else 5)
        self.build = os.path.abspath(args.build_dir)
        self.work = tempfile.mkdtemp(prefix="batchd-bench-")
        self.servers = Servers(self.work)
        self.timeout = 300 if args.quick else 3600
        self.nproc = os.cpu_count() or 1

    def binary(self, rel):
        path = os.path.join(self.build, rel)
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is missing: build it (bench/run.sh builds it)")
        return path

    def run_json_lines(self, argv, env=None, cwd=None, timeout=None):
        """Runs a load generator; returns its JSON lines (one per run)."""
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                              timeout=timeout or self.timeout, preexec_fn=_child_setup)
        if proc.returncode != 0:
            raise RuntimeError(f"{os.path.basename(argv[0])} {' '.join(argv[1:4])}... exited "
                               f"{proc.returncode}: {proc.stderr.strip()[-2000:]}")
        return [json.loads(line) for line in proc.stdout.splitlines()
                if line.startswith("{")]

    def peer_env(self, **extra):
        env = dict(os.environ)
        env["PYTHONPATH"] = PEERS_DIR + os.pathsep + env.get("PYTHONPATH", "")
        env.update(extra)
        return env

    # -- servers

    def start_batchd(self, *flags):
        name = f"batchd-{len(os.listdir(self.work))}"
        batchd = self.args.batchd or self.binary("server/batchd")
        if not any(f.startswith(("--data-dir", "--durability")) for f in flags):
            flags = (f"--data-dir={os.path.join(self.work, name + '-data')}", *flags)
        proc = self.servers.start(name, [batchd, "--listen=127.0.0.1:0",
                                         "--log-level=warn", *flags])
        address = wait_for(lambda: _listening_address(self.servers.log(proc, "out")),
                           "batchd start", 30, proc)
        return proc, address

    def start_redis(self):
        port = free_port()
        proc = self.servers.start("redis", ["redis-server", "--port", str(port), "--bind",
                                            "127.0.0.1", "--save", "", "--appendonly", "no",
                                            "--dir", self.work, "--loglevel", "warning"])
        wait_for(lambda: port_open(port), "redis-server start", 30, proc)
        return proc, port

    # -- workloads

    def w1_noop(self):
        n = self.sizes["noop_tasks"]
        daemon, address = self.start_batchd()
        try:
            rows = self.run_json_lines([self.binary("bench/batch_load"), "--addr", address,
                                        "--workload", "echo", "--tasks", str(n),
                                        "--max-concurrent", "1024", "--runs", str(self.runs),
                                        "--warmup", "1", "--daemon-pid", str(daemon.pid)])
        finally:
            self.servers.stop(daemon)
        m = {
            "tasks_per_s": per_run(rows, lambda r: n / r["wall_s"]),
            "in_daemon_tasks_per_s": per_run(rows, lambda r: n / (r["batch_ms"] / 1000)),
            "wall_s": per_run(rows, lambda r: r["wall_s"]),
            "daemon_cpu_us_per_task": per_run(rows, lambda r: r["daemon_cpu_s"] / n * 1e6),
            "client_cpu_us_per_task": per_run(rows, lambda r: r["client_cpu_s"] / n * 1e6),
            "cpu_s": per_run(rows, lambda r: r["daemon_cpu_s"] + r["client_cpu_s"]),
            "daemon_rss_bytes_per_task": per_run(
                rows, lambda r: (r["daemon_rss_after_kib"] - r["daemon_rss_before_kib"])
                * 1024 / n),
        }
        table = [["tasks", "tasks/s end to end", "tasks/s in daemon", "wall s", "CPU s (all)",
                  "daemon CPU µs/task", "client CPU µs/task", "daemon RSS growth B/task"],
                 [f"{n:,}", fmt(m["tasks_per_s"]), fmt(m["in_daemon_tasks_per_s"]),
                  fmt(m["wall_s"]), fmt(m["cpu_s"]), fmt(m["daemon_cpu_us_per_task"]),
                  fmt(m["client_cpu_us_per_task"]), fmt(m["daemon_rss_bytes_per_task"])]]
        return {"title": "1. No-op end to end (echo, one SubmitBatch, StreamResults, C++ client)",
                "params": {"tasks": n, "max_concurrent": 1024, "aggregation": "UNORDERED"},
                "metrics": m, "table": table, "raw": rows}

    def w2_scheduler(self):
        n = self.sizes["sched_tasks"]
        argv = [self.binary("bench/scheduler_bench"), "--benchmark_filter=EchoCpu|Bytes",
                "--benchmark_format=json", f"--benchmark_repetitions={self.runs}",
                "--benchmark_report_aggregates_only=false"]
        if n:
            argv.append(f"--tasks={n}")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                              preexec_fn=_child_setup)
        if proc.returncode != 0:
            raise RuntimeError(f"scheduler_bench exited {proc.returncode}: {proc.stderr[-2000:]}")
        data = json.loads(proc.stdout)
        groups = {}
        for b in data["benchmarks"]:
            if b.get("run_type") == "iteration":
                groups.setdefault(b["run_name"], []).append(b)
        m, table = {}, [["benchmark", "tasks", "figure", "CPU s per run"]]
        for name, runs in sorted(groups.items()):
            parts = name.split("/")  # e.g. BM_StateBytesPerTask/<chain>/<tasks>/iterations:1
            tasks = int(parts[2] if parts[0] == "BM_StateBytesPerTask" else parts[1])
            if name.startswith("BM_EchoCpuPerTask"):
                s = summarize([r["cpu_us_per_task"] for r in runs])
                m[f"cpu_us_per_task_{tasks}"] = s
                cpu = summarize([r["cpu_us_per_task"] * tasks / 1e6 for r in runs])
                table.append(["echo, submit to last result", f"{tasks:,}",
                              f"{fmt(s)} µs CPU/task", fmt(cpu)])
            elif name.startswith("BM_StateBytesPerTask"):
                chain = parts[1] == "1"
                s = summarize([r["bytes_per_task"] for r in runs])
                m["bytes_per_task_chain" if chain else "bytes_per_task"] = s
                table.append([f"state, {'chain (1 edge/task)' if chain else 'independent'}",
                              f"{tasks:,}", f"{fmt(s)} B/task", "–"])
            elif name.startswith("BM_FinishedBytesPerTask"):
                s = summarize([r["bytes_per_task"] for r in runs])
                m["finished_bytes_per_task"] = s
                table.append(["state once finished (results kept)", f"{tasks:,}",
                              f"{fmt(s)} B/task", "–"])
        if "bytes_per_task_chain" in m and "bytes_per_task" in m:
            per_edge = [c - i for c, i in zip(m["bytes_per_task_chain"]["runs"],
                                              m["bytes_per_task"]["runs"])]
            m["bytes_per_edge"] = summarize(per_edge)
            table.append(["per edge (chain − independent)", "", f"{fmt(m['bytes_per_edge'])} B",
                          "–"])
        return {"title": "2. Scheduler only (Google Benchmark, in process, no gRPC)",
                "params": {"tasks": n or 1000000}, "metrics": m, "table": table,
                "raw": data["benchmarks"]}

    def w3_sleep(self):
        n = self.sizes["sleep_tasks"]
        daemon, address = self.start_batchd("--max-running=1024")
        m, raw = {}, {}
        try:
            seq = self.run_json_lines([PYTHON, os.path.join(PEERS_DIR, "tpe_bench.py"),
                                       "sequential", "--tasks", str(n), "--runs",
                                       str(self.runs), "--warmup", "0"], env=self.peer_env())
            m["sequential_wall_s"] = per_run(seq, lambda r: r["wall_s"])
            raw["sequential"] = seq
            for c in SLEEP_CONCURRENCY:
                ideal = 0.010 * math.ceil(n / c)
                rows = self.run_json_lines([self.binary("bench/batch_load"), "--addr", address,
                                            "--workload", "sleep", "--tasks", str(n),
                                            "--sleep-ms", "10", "--max-concurrent", str(c),
                                            "--runs", str(self.runs),
                                            "--warmup", "1" if c >= 100 else "0",
                                            "--daemon-pid", str(daemon.pid)])
                tpe = self.run_json_lines([PYTHON, os.path.join(PEERS_DIR, "tpe_bench.py"),
                                           "sleep", "--tasks", str(n), "--workers", str(c),
                                           "--runs", str(self.runs),
                                           "--warmup", "1" if c >= 100 else "0"],
                                          env=self.peer_env())
                raw[f"batchd_{c}"], raw[f"tpe_{c}"] = rows, tpe
                seq_median = m["sequential_wall_s"]["median"]
                m[f"batchd_{c}"] = {
                    "ideal_s": ideal,
                    "wall_s": per_run(rows, lambda r: r["wall_s"]),
                    "efficiency": per_run(rows, lambda r: ideal / r["wall_s"]),
                    "in_daemon_efficiency": per_run(rows, lambda r: ideal / (r["batch_ms"] / 1e3)),
                    "speedup": per_run(rows, lambda r: seq_median / r["wall_s"]),
                    "cpu_s": per_run(rows, lambda r: r["daemon_cpu_s"] + r["client_cpu_s"]),
                }
                m[f"tpe_{c}"] = {
                    "wall_s": per_run(tpe, lambda r: r["wall_s"]),
                    "efficiency": per_run(tpe, lambda r: ideal / r["wall_s"]),
                    "speedup": per_run(tpe, lambda r: seq_median / r["wall_s"]),
                    "cpu_s": per_run(tpe, lambda r: r["cpu_s"]),
                }
        finally:
            self.servers.stop(daemon)
        table = [["max_concurrent", "ideal s", "batchd wall s", "batchd efficiency",
                  "(in daemon)", "batchd speed-up", "batchd CPU s", "TPE wall s",
                  "TPE efficiency", "TPE speed-up", "TPE CPU s"]]
        for c in SLEEP_CONCURRENCY:
            b, t = m[f"batchd_{c}"], m[f"tpe_{c}"]
            table.append([str(c), fmt_num(b["ideal_s"]), fmt(b["wall_s"]), fmt(b["efficiency"]),
                          fmt(b["in_daemon_efficiency"]), fmt(b["speedup"]), fmt(b["cpu_s"]),
                          fmt(t["wall_s"]), fmt(t["efficiency"]), fmt(t["speedup"]),
                          fmt(t["cpu_s"])])
        return {"title": f"3. Sleep-bound scaling ({n:,} × sleep 10 ms; sequential loop "
                         f"{fmt(m['sequential_wall_s'])} s)",
                "params": {"tasks": n, "sleep_ms": 10, "concurrency": SLEEP_CONCURRENCY},
                "metrics": m, "table": table, "raw": raw}

    def w4_dag(self):
        daemon, address = self.start_batchd("--max-running=1024")
        m, raw = {}, {}
        cases = [("fanout", self.sizes["fanout_leaves"], 1000), ("uneven", 0, 100)]
        try:
            for name, tasks, c in cases:
                for barrier in ("0", "1"):
                    rows = self.run_json_lines([self.binary("bench/batch_load"), "--addr",
                                                address, "--workload", name, "--tasks",
                                                str(tasks), "--max-concurrent", str(c),
                                                "--runs", str(self.runs), "--warmup", "1",
                                                "--barrier", barrier,
                                                "--daemon-pid", str(daemon.pid)])
                    raw[f"{name}_{'barrier' if barrier == '1' else 'dataflow'}"] = rows
                dataflow = raw[f"{name}_dataflow"]
                barrier_rows = raw[f"{name}_barrier"]
                critical = dataflow[0]["critical_path_ms"] / 1000
                m[name] = {
                    "tasks": dataflow[0]["tasks"],
                    "critical_path_s": critical,
                    "makespan_s": per_run(dataflow, lambda r: r["wall_s"]),
                    "makespan_over_critical": per_run(dataflow, lambda r: r["wall_s"] / critical),
                    "in_daemon_over_critical": per_run(
                        dataflow, lambda r: r["batch_ms"] / 1000 / critical),
                    "barrier_s": per_run(barrier_rows, lambda r: r["wall_s"]),
                    "barrier_over_dataflow": summarize(
                        [b["wall_s"] / d["wall_s"] for b, d in zip(barrier_rows, dataflow)]),
                    "cpu_s": per_run(dataflow, lambda r: r["daemon_cpu_s"] + r["client_cpu_s"]),
                    "barrier_cpu_s": per_run(barrier_rows,
                                             lambda r: r["daemon_cpu_s"] + r["client_cpu_s"]),
                }
        finally:
            self.servers.stop(daemon)
        labels = {"fanout": "fan-out/fan-in (root → N leaves of 10–100 ms → sink)",
                  "uneven": "uneven branches (root → 8 chains of 1–8 steps → sink)"}
        table = [["DAG", "tasks", "critical path s", "batchd makespan s", "makespan / critical",
                  "(in daemon)", "layer-barrier s", "barrier / batchd", "CPU s (batchd)"]]
        for name, _, _ in cases:
            d = m[name]
            table.append([labels[name], str(d["tasks"]), fmt_num(d["critical_path_s"]),
                          fmt(d["makespan_s"]), fmt(d["makespan_over_critical"]),
                          fmt(d["in_daemon_over_critical"]), fmt(d["barrier_s"]),
                          fmt(d["barrier_over_dataflow"]), fmt(d["cpu_s"])])
        return {"title": "4. DAG: dataflow start vs layer-by-layer barrier (one batch per layer)",
                "params": {"fanout_leaves": self.sizes["fanout_leaves"]}, "metrics": m,
                "table": table, "raw": raw}

    def w5_shell(self):
        n, p = self.sizes["shell_tasks"], self.nproc
        tmp = os.path.join(self.work, "shell")
        os.makedirs(tmp, exist_ok=True)
        makefile = os.path.join(tmp, "Makefile")
        with open(makefile, "w") as f:
            names = " ".join(f"t{i}" for i in range(n))
            f.write(f".PHONY: all {names}\nall: {names}\n")
            for i in range(n):
                f.write(f"t{i}:\n\t@true\n")
        daemon, address = self.start_batchd("--enable-shell", "--max-running=1024")
        seq_input = "".join(f"{i}\n" for i in range(n))
        tools = {
            "batchd": [self.binary("bench/batch_load"), "--addr", address, "--workload",
                       "shell", "--tasks", str(n), "--max-concurrent", str(p), "--runs", "1",
                       "--warmup", "0", "--daemon-pid", str(daemon.pid)],
            "xargs -P": ["xargs", "-P", str(p), "-n", "1", "true"],
            "GNU parallel": ["parallel", "--will-cite", "-j", str(p), "-n", "1", "true"],
            "make -j": ["make", "-s", "-j", str(p), "-f", makefile],
        }
        walls = {t: [] for t in tools}
        cpus = {t: [] for t in tools}
        try:
            self._timed(tools["batchd"], None)  # warm-up: first connection, page cache
            for _ in range(self.runs):  # rounds alternate so load changes hit every tool
                for tool, argv in tools.items():
                    wall, cpu, out = self._timed(argv, None if tool == "batchd" else seq_input)
                    if tool == "batchd":
                        cpu += json.loads(out.splitlines()[-1])["daemon_cpu_s"]
                    walls[tool].append(wall)
                    cpus[tool].append(cpu)
        finally:
            self.servers.stop(daemon)
        m = {t: {"wall_s": summarize(walls[t]), "cpu_s": summarize(cpus[t]),
                 "runs_per_s": summarize([n / w for w in walls[t]])} for t in tools}
        m["batchd_over_xargs"] = summarize([b / x for b, x in zip(walls["batchd"],
                                                                  walls["xargs -P"])])
        table = [["tool", "wall s", "runs/s", "CPU s (incl. children)", "wall / xargs"]]
        for t in tools:
            ratio = summarize([w / x for w, x in zip(walls[t], walls["xargs -P"])])
            table.append([t, fmt(m[t]["wall_s"]), fmt(m[t]["runs_per_s"]), fmt(m[t]["cpu_s"]),
                          fmt(ratio)])
        return {"title": f"5. Shell: {n:,} × `true` at concurrency {p} (whole command timed)",
                "params": {"tasks": n, "concurrency": p}, "metrics": m, "table": table,
                "raw": {"wall_s": walls, "cpu_s": cpus}}

    def _timed(self, argv, stdin_text):
        """(wall s, CPU s of the command and its reaped children, stdout) of one command."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, input=stdin_text, capture_output=True, text=True,
                              timeout=self.timeout, preexec_fn=_child_setup)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {proc.stderr[-1000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, proc.stdout

    def w6_callback(self):
        n, slots = self.sizes["callback_tasks"], 4096
        daemon, address = self.start_batchd(f"--max-running={slots}")
        m, raw, table = {}, {}, [["worker", "tasks", "tasks/s end to end", "tasks/s in daemon",
                                  "wall s", "CPU s (daemon)", "CPU s (worker)",
                                  "CPU s (client)", "CPU µs/task (all)"]]
        try:
            worker = self.servers.start("noop_worker", [self.binary("bench/noop_worker"),
                                                        "--addr", address, "--executor",
                                                        "noop", "--slots", str(slots)])
            rows = self.run_json_lines([self.binary("bench/worker_bench"), "--addr", address,
                                        "--executor", "noop", "--tasks", str(n),
                                        "--max-concurrent", str(slots), "--runs",
                                        str(self.runs), "--warmup", "1", "--json", "1",
                                        "--daemon-pid", str(daemon.pid), "--worker-pid",
                                        str(worker.pid)])
            self.servers.stop(worker)
            raw["cpp"] = rows
            m["cpp"] = self._callback_metrics(rows, n)
            table.append(self._callback_row("C++ (bench/noop_worker)", n, m["cpp"]))
            sdk = self._python_sdk_worker(address, daemon.pid, n)
            if sdk is None:
                m["python"] = None
                table.append(["Python SDK", "pending (Python SDK)"] + ["–"] * 7)
            else:
                raw["python"], m["python"] = sdk[0], self._callback_metrics(sdk[0], sdk[1])
                table.append(self._callback_row("Python SDK (batchd.Worker)", sdk[1],
                                                m["python"]))
        finally:
            self.servers.stop(daemon)
        return {"title": "6. Callback workers: no-op tasks through one worker connection "
                         "(ProcessBatch)",
                "params": {"tasks": n, "slots": slots}, "metrics": m, "table": table,
                "raw": raw}

    @staticmethod
    def _callback_metrics(rows, n):
        return {"tasks_per_s": per_run(rows, lambda r: n / r["wall_s"]),
                "wall_s": per_run(rows, lambda r: r["wall_s"]),
                "daemon_cpu_s": per_run(rows, lambda r: r["daemon_cpu_s"]),
                "worker_cpu_s": per_run(rows, lambda r: r["worker_cpu_s"]),
                "client_cpu_s": per_run(rows, lambda r: r["client_cpu_s"]),
                "in_daemon_tasks_per_s": per_run(rows, lambda r: n / (r["batch_ms"] / 1e3)),
                "cpu_us_per_task": per_run(
                    rows, lambda r: (r["daemon_cpu_s"] + r["worker_cpu_s"] + r["client_cpu_s"])
                    / n * 1e6)}

    @staticmethod
    def _callback_row(label, n, s):
        return [label, f"{n:,}", fmt(s["tasks_per_s"]), fmt(s["in_daemon_tasks_per_s"]),
                fmt(s["wall_s"]), fmt(s["daemon_cpu_s"]), fmt(s["worker_cpu_s"]),
                fmt(s["client_cpu_s"]), fmt(s["cpu_us_per_task"])]

    def _python_sdk_worker(self, address, daemon_pid, n):
        """Runs the Python SDK's worker if client/python/batchd exists; None otherwise."""
        sdk_dir = os.path.join(REPO_DIR, "client", "python")
        stubs_dir = os.path.join(self.build, "python")
        if not os.path.isfile(os.path.join(sdk_dir, "batchd", "__init__.py")):
            return None
        if not os.path.isfile(os.path.join(stubs_dir, "batchd", "v1", "batch_pb2.py")):
            raise RuntimeError(f"the Python SDK's stubs are not in {stubs_dir}: build the "
                               "target batchd_python_stubs (bench/run.sh does)")
        # The Python worker is far slower than the C++ one: fewer tasks keep the run short.
        n = min(n, 2000 if self.quick else 20000)
        env = self.peer_env(PYTHONPATH=os.pathsep.join([sdk_dir, stubs_dir, PEERS_DIR]))
        worker = self.servers.start("sdk_worker", [PYTHON, os.path.join(PEERS_DIR,
                                                                        "sdk_worker.py"),
                                                   "--addr", address, "--executor", "pynoop"],
                                    env=env)
        try:
            rows = self.run_json_lines([self.binary("bench/worker_bench"), "--addr", address,
                                        "--executor", "pynoop", "--tasks", str(n),
                                        "--max-concurrent", "4096", "--runs", str(self.runs),
                                        "--warmup", "1", "--json", "1", "--daemon-pid",
                                        str(daemon_pid), "--worker-pid",
                                        str(worker.pid)])
        finally:
            self.servers.stop(worker)
        return rows, n

    def w7_peers(self):
        n = self.sizes["peer_tasks"]
        m, raw = {}, {}
        daemon, address = self.start_batchd()
        try:
            rows = self.run_json_lines([self.binary("bench/batch_load"), "--addr", address,
                                        "--workload", "echo", "--tasks", str(n),
                                        "--max-concurrent", "1024", "--runs", str(self.runs),
                                        "--warmup", "1", "--daemon-pid", str(daemon.pid)])
        finally:
            self.servers.stop(daemon)
        raw["batchd"] = [dict(r, cpu_s=r["client_cpu_s"], server_cpu_s=r["daemon_cpu_s"])
                         for r in rows]
        raw["ThreadPoolExecutor"] = self.run_json_lines(
            [PYTHON, os.path.join(PEERS_DIR, "tpe_bench.py"), "noop", "--tasks", str(n),
             "--runs", str(self.runs)], env=self.peer_env())
        raw["Celery + Redis"] = self._celery(n)
        raw["Dask distributed"] = self._dask(n)
        for name, r in raw.items():
            m[name] = {"tasks_per_s": per_run(r, lambda x: n / x["wall_s"]),
                       "wall_s": per_run(r, lambda x: x["wall_s"]),
                       "cpu_s": per_run(r, lambda x: x["cpu_s"] + x.get("server_cpu_s", 0)),
                       "cpu_us_per_task": per_run(
                           r, lambda x: (x["cpu_s"] + x.get("server_cpu_s", 0)) / n * 1e6)}
        batchd_rate = m["batchd"]["tasks_per_s"]["median"]
        table = [["system", "tasks/s", "wall s", "CPU s (client + servers)", "CPU µs/task",
                  "batchd ratio"]]
        for name in raw:
            rate = m[name]["tasks_per_s"]["median"]
            m[name]["batchd_ratio"] = batchd_rate / rate
            table.append([name, fmt(m[name]["tasks_per_s"]), fmt(m[name]["wall_s"]),
                          fmt(m[name]["cpu_s"]), fmt(m[name]["cpu_us_per_task"]),
                          "1" if name == "batchd" else f"{batchd_rate / rate:.1f}×"])
        return {"title": f"7. Peers: {n:,} no-op tasks, submit all and wait for every result",
                "params": {"tasks": n, "celery": "prefork, concurrency = nproc, Redis broker "
                           "and backend, one group", "dask": "1 worker (no nanny), nthreads = "
                           "nproc, Client.map + gather", "tpe": "default max_workers"},
                "metrics": m, "table": table, "raw": raw}

    def w8_durability(self):
        """Workload 1's no-op batch and workload 3's sleep batch per --durability mode.

        Rounds alternate between the modes (a fresh daemon and data dir each) so that load
        changes hit every mode alike; the journal's size is read while the daemon still runs.
        """
        n, n_sleep, c_sleep = self.sizes["noop_tasks"], self.sizes["sleep_tasks"], 1000
        rows = {mode: [] for mode in DURABILITY_MODES}
        sleep_rows = {mode: [] for mode in DURABILITY_MODES}
        journal = {mode: [] for mode in DURABILITY_MODES}
        for rnd in range(self.runs):
            for mode in DURABILITY_MODES:
                data_dir = os.path.join(self.work, f"durability-{mode}-{rnd}")
                daemon, address = self.start_batchd(f"--durability={mode}",
                                                    f"--data-dir={data_dir}",
                                                    "--max-running=1024")
                try:
                    rows[mode] += self.run_json_lines(
                        [self.binary("bench/batch_load"), "--addr", address, "--workload",
                         "echo", "--tasks", str(n), "--max-concurrent", "1024", "--runs", "1",
                         "--warmup", "1", "--daemon-pid", str(daemon.pid)])
                    journal[mode].append(_dir_bytes(data_dir))
                    sleep_rows[mode] += self.run_json_lines(
                        [self.binary("bench/batch_load"), "--addr", address, "--workload",
                         "sleep", "--tasks", str(n_sleep), "--sleep-ms", "10",
                         "--max-concurrent", str(c_sleep), "--runs", "1", "--warmup", "1",
                         "--daemon-pid", str(daemon.pid)])
                finally:
                    self.servers.stop(daemon)
        ideal = 0.010 * math.ceil(n_sleep / c_sleep)
        m = {}
        for mode in DURABILITY_MODES:
            r, sr = rows[mode], sleep_rows[mode]
            m[mode] = {
                "tasks_per_s": per_run(r, lambda x: n / x["wall_s"]),
                "in_daemon_tasks_per_s": per_run(r, lambda x: n / (x["batch_ms"] / 1000)),
                "daemon_cpu_us_per_task": per_run(r, lambda x: x["daemon_cpu_s"] / n * 1e6),
                # Two batches of n tasks (warm-up and measured) are in the journal.
                "journal_bytes": summarize(journal[mode]),
                "journal_bytes_per_task": summarize([b / (2 * n) for b in journal[mode]]),
                "sleep_efficiency": per_run(sr, lambda x: ideal / x["wall_s"]),
                "sleep_in_daemon_efficiency": per_run(
                    sr, lambda x: ideal / (x["batch_ms"] / 1000)),
            }
        base = m["none"]
        ratios = {}
        for mode in DURABILITY_MODES[1:]:
            # Medians of rounds: each round ran every mode back to back.
            ratios[f"{mode}_over_none"] = {
                key: _ratios(m[mode][key]["runs"], base[key]["runs"])
                for key in ("tasks_per_s", "daemon_cpu_us_per_task")}
        m["ratios"] = ratios
        table = [["--durability", "tasks/s end to end", "tasks/s in daemon",
                  "daemon CPU µs/task", "journal MB (2 batches)", "journal B/task",
                  "tasks/s vs none", "CPU vs none", f"sleep efficiency @ {c_sleep}",
                  "(in daemon)"]]
        for mode in DURABILITY_MODES:
            d = m[mode]
            ratio = ratios.get(f"{mode}_over_none")
            table.append([mode, fmt(d["tasks_per_s"]), fmt(d["in_daemon_tasks_per_s"]),
                          fmt(d["daemon_cpu_us_per_task"]), fmt(d["journal_bytes"], 1e-6),
                          fmt(d["journal_bytes_per_task"]),
                          fmt(ratio["tasks_per_s"]) if ratio else "1",
                          fmt(ratio["daemon_cpu_us_per_task"]) if ratio else "1",
                          fmt(d["sleep_efficiency"]), fmt(d["sleep_in_daemon_efficiency"])])
        return {"title": f"8. Durability: workload 1 ({n:,} no-op tasks) and {n_sleep:,} × sleep "
                         f"10 ms @ {c_sleep} per --durability (rounds alternate the modes)",
                "params": {"tasks": n, "sleep_tasks": n_sleep, "sleep_max_concurrent": c_sleep,
                           "modes": DURABILITY_MODES},
                "metrics": m, "table": table,
                "raw": {"noop": rows, "sleep": sleep_rows, "journal_bytes": journal}}

    def _celery(self, n):
        redis, port = self.start_redis()
        env = self.peer_env(BENCH_REDIS_URL=f"redis://127.0.0.1:{port}/0")
        worker = self.servers.start("celery", [PYTHON, "-m", "celery", "-A", "celery_app",
                                               "worker", "--pool", "prefork", "--concurrency",
                                               str(self.nproc), "--loglevel", "warning",
                                               "--without-gossip", "--without-mingle",
                                               "--without-heartbeat"], env=env, cwd=PEERS_DIR)
        try:
            return self.run_json_lines([PYTHON, os.path.join(PEERS_DIR, "celery_client.py"),
                                        "--tasks", str(n), "--runs", str(self.runs), "--pids",
                                        f"{worker.pid},{redis.pid}"], env=env, cwd=PEERS_DIR)
        finally:
            self.servers.stop(worker, grace_s=10)
            self.servers.stop(redis)

    def _dask(self, n):
        port = free_port()
        scheduler = self.servers.start("dask-scheduler", [PYTHON, "-m", "dask", "scheduler",
                                                          "--host", "127.0.0.1", "--port",
                                                          str(port), "--no-dashboard"],
                                       env=self.peer_env(), cwd=self.work)
        try:
            wait_for(lambda: port_open(port), "dask scheduler start", 90, scheduler)
            worker = self.servers.start("dask-worker", [PYTHON, "-m", "dask", "worker",
                                                        f"tcp://127.0.0.1:{port}", "--host",
                                                        "127.0.0.1", "--nthreads",
                                                        str(self.nproc), "--no-nanny",
                                                        "--no-dashboard", "--local-directory",
                                                        self.work], env=self.peer_env(),
                                        cwd=self.work)
            try:
                return self.run_json_lines([PYTHON, os.path.join(PEERS_DIR, "dask_client.py"),
                                            "--scheduler", f"tcp://127.0.0.1:{port}",
                                            "--tasks", str(n), "--runs", str(self.runs),
                                            "--pids", f"{scheduler.pid},{worker.pid}"],
                                           env=self.peer_env(), cwd=self.work)
            finally:
                self.servers.stop(worker, grace_s=10)
        finally:
            self.servers.stop(scheduler, grace_s=10)


def _ratios(values, bases):
    """summarize() of values[i] / bases[i], skipping zero bases (CPU below one tick); or None."""
    r = [v / b for v, b in zip(values, bases) if b]
    return summarize(r) if r else None


def _dir_bytes(path):
    """Bytes of every file under path (the journal and its WAL); 0 when there is none."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def _listening_address(stdout_text):
    match = re.search(r"^batchd listening on (\S+)", stdout_text, re.M)
    return match.group(1) if match else None


WORKLOADS = [("w1", "w1_noop"), ("w2", "w2_scheduler"), ("w3", "w3_sleep"), ("w4", "w4_dag"),
             ("w5", "w5_shell"), ("w6", "w6_callback"), ("w7", "w7_peers"),
             ("w8", "w8_durability")]


# --------------------------------------------------------------------------- report

def machine_info():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    try:
        commit = subprocess.run(["git", "-C", REPO_DIR, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO_DIR, "status", "--porcelain"],
                               capture_output=True, text=True).stdout.strip() != ""
    except OSError:
        commit, dirty = "unknown", False
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release(), "os": _os_name(), "python": platform.python_version(),
            "commit": commit + ("+dirty" if dirty else "")}


def _os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def targets(results):
    """[(target, figure, status)] with status True/False/None (not measured)."""
    def get(path):
        node = results
        for key in path:
            if not isinstance(node, dict) or key not in node or node[key] is None:
                return None
            node = node[key]
        return node

    out = []
    rate = get(["w1", "metrics", "tasks_per_s", "median"])
    out.append(("No-op end to end ≥ 150,000 tasks/s (stretch 500,000)",
                f"{fmt_num(rate)} tasks/s" if rate else "–", _meets(rate, rate and rate >= 150000)))
    for peer in ("Celery + Redis", "Dask distributed"):
        ratio = get(["w7", "metrics", peer, "batchd_ratio"])
        out.append((f"No-op ≥ 20× {peer}", f"{ratio:.1f}×" if ratio else "–",
                    _meets(ratio, ratio and ratio >= 20)))
    sched = get(["w2", "metrics"]) or {}
    cpu_key = max((k for k in sched if k.startswith("cpu_us_per_task_")),
                  key=lambda k: int(k.rsplit("_", 1)[1]), default=None)
    cpu = sched[cpu_key]["median"] if cpu_key else None
    out.append(("Scheduler ≤ 2 µs CPU per task",
                f"{cpu:.2f} µs ({int(cpu_key.rsplit('_', 1)[1]):,} tasks)" if cpu else "–",
                _meets(cpu, cpu is not None and cpu <= 2)))
    per_task = get(["w2", "metrics", "bytes_per_task", "median"])
    per_edge = get(["w2", "metrics", "bytes_per_edge", "median"])
    out.append(("Scheduler ≤ 256 B per task + 16 B per edge",
                f"{fmt_num(per_task)} B/task + {fmt_num(per_edge)} B/edge"
                if per_task is not None and per_edge is not None else "–",
                _meets(per_edge, per_task is not None and per_edge is not None
                       and per_task <= 256 and per_edge <= 16)))
    eff = get(["w3", "metrics", "batchd_1000", "efficiency", "median"])
    eff_in = get(["w3", "metrics", "batchd_1000", "in_daemon_efficiency", "median"])
    out.append(("Sleep-bound efficiency ≥ 95 % at max_concurrent 1000 (end to end)",
                f"{eff * 100:.1f} % (in daemon {eff_in * 100:.1f} %)" if eff else "–",
                _meets(eff, eff is not None and eff >= 0.95)))
    worst = None
    for dag in ("fanout", "uneven"):
        r = get(["w4", "metrics", dag, "makespan_over_critical", "median"])
        if r is not None:
            worst = r if worst is None else max(worst, r)
    out.append(("DAG makespan ≤ 1.05 × critical path (worst DAG, end to end)",
                f"{worst:.3f}×" if worst else "–",
                _meets(worst, worst is not None and worst <= 1.05)))
    shell = get(["w5", "metrics", "batchd_over_xargs", "median"])
    out.append(("Shell ≤ 1.2 × xargs -P wall", f"{shell:.2f}×" if shell else "–",
                _meets(shell, shell is not None and shell <= 1.2)))
    cb = get(["w6", "metrics", "cpp", "tasks_per_s", "median"])
    out.append(("Callback ≥ 100,000 tasks/s over one connection (C++ worker)",
                f"{fmt_num(cb)} tasks/s" if cb else "–",
                _meets(cb, cb is not None and cb >= 100000)))
    return out


def _meets(figure, ok):
    """True/False, or None when the figure was not measured."""
    return None if figure is None else bool(ok)


def markdown(report):
    mach = report["machine"]
    lines = [f"Run of {report['date']} ({'quick' if report['quick'] else 'full'}, "
             f"median of {report['runs']} run(s), (min–max) in parentheses), commit "
             f"{mach['commit']}.", "",
             f"Machine: {mach['nproc']} × {mach['cpu_model']}, {mach['mem_gib']} GiB, "
             f"{mach['os']}, kernel {mach['kernel']}. Load average at start "
             f"{report['load_start']}, at end {report['load_end']}; took "
             f"{report['duration_s']:.0f} s.", ""]
    lines += ["| target | figure | status |", "|---|---|---|"]
    for target, figure, ok in report["targets"]:
        lines.append(f"| {target} | {figure} | {'✔' if ok else ('✘' if ok is False else '–')} |")
    lines.append("")
    ratios = report["workloads"].get("w8", {}).get("metrics", {}).get("ratios")
    if ratios:
        lines += ["Cost of the journal (workload 8, median of per-round ratios against "
                  "`--durability=none`): " + "; ".join(
                      f"{mode.split('_')[0]}: tasks/s × {fmt(r['tasks_per_s'])}, daemon CPU "
                      f"per task × {fmt(r['daemon_cpu_us_per_task'])}"
                      for mode, r in ratios.items()) + ".", ""]
    for key, _ in WORKLOADS:
        w = report["workloads"].get(key)
        if w is None:
            continue
        if "error" in w:
            lines += [f"### {key}: FAILED", "", "```", w["error"].strip()[-1500:], "```", ""]
            continue
        lines += [f"### {w['title']}", ""]
        header, *rows = w["table"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for row in rows:
            lines.append("| " + " | ".join(row) + " |")
        lines.append(f"\n(load {w['load_before']} → {w['load_after']}, {w['seconds']:.0f} s)\n")
    return "\n".join(lines)


def plots(report, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    w = report["workloads"]

    def err(s):
        return [[s["median"] - s["min"]], [s["max"] - s["median"]]]

    def bars(ax, labels, summaries, color):
        for i, (label, s) in enumerate(zip(labels, summaries)):
            ax.bar(i, s["median"], yerr=err(s), capsize=4, color=color)
        ax.set_xticks(range(len(labels)), labels, rotation=15, ha="right")

    if "w7" in w and "error" not in w["w7"]:
        m = w["w7"]["metrics"]
        labels = [k for k in m if isinstance(m[k], dict) and "tasks_per_s" in m[k]]
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.5))
        bars(a, labels, [m[k]["tasks_per_s"] for k in labels], "tab:blue")
        a.set_yscale("log")
        a.set_ylabel("tasks/s (log)")
        a.set_title(f"{w['w7']['params']['tasks']:,} no-op tasks: throughput")
        bars(b, labels, [m[k]["cpu_us_per_task"] for k in labels], "tab:orange")
        b.set_yscale("log")
        b.set_ylabel("CPU µs per task, client + servers (log)")
        b.set_title("CPU per task")
        written.append(_save(fig, out_dir, "peers.png"))
    if "w3" in w and "error" not in w["w3"]:
        m = w["w3"]["metrics"]
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.5))
        for who, color in (("batchd", "tab:blue"), ("tpe", "tab:green")):
            ss = [m[f"{who}_{c}"]["efficiency"] for c in SLEEP_CONCURRENCY]
            a.errorbar(SLEEP_CONCURRENCY, [s["median"] for s in ss],
                       yerr=[[s["median"] - s["min"] for s in ss],
                             [s["max"] - s["median"] for s in ss]],
                       marker="o", capsize=4, color=color,
                       label="batchd" if who == "batchd" else "ThreadPoolExecutor")
            cs = [m[f"{who}_{c}"]["cpu_s"] for c in SLEEP_CONCURRENCY]
            b.errorbar(SLEEP_CONCURRENCY, [s["median"] for s in cs],
                       yerr=[[s["median"] - s["min"] for s in cs],
                             [s["max"] - s["median"] for s in cs]],
                       marker="o", capsize=4, color=color,
                       label="batchd (daemon + client)" if who == "batchd"
                       else "ThreadPoolExecutor")
        a.axhline(0.95, ls="--", color="grey", label="target 95 %")
        a.set_xscale("log")
        a.set_xlabel("max_concurrent / max_workers")
        a.set_ylabel("efficiency = ideal / wall")
        a.set_title(f"{w['w3']['params']['tasks']:,} × sleep 10 ms")
        a.legend()
        b.set_xscale("log")
        b.set_xlabel("max_concurrent / max_workers")
        b.set_ylabel("CPU seconds per batch")
        b.set_title("CPU")
        b.legend()
        written.append(_save(fig, out_dir, "sleep_scaling.png"))
    if "w4" in w and "error" not in w["w4"]:
        m = w["w4"]["metrics"]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for i, dag in enumerate(("fanout", "uneven")):
            d = m[dag]
            ax.bar(i - 0.27, d["critical_path_s"], 0.27, color="grey",
                   label="critical path" if i == 0 else None)
            ax.bar(i, d["makespan_s"]["median"], 0.27, yerr=err(d["makespan_s"]), capsize=4,
                   color="tab:blue", label="batchd (dataflow)" if i == 0 else None)
            ax.bar(i + 0.27, d["barrier_s"]["median"], 0.27, yerr=err(d["barrier_s"]),
                   capsize=4, color="tab:red", label="layer-by-layer barrier" if i == 0 else None)
        ax.set_xticks([0, 1], ["fan-out/fan-in", "uneven branches"])
        ax.set_ylabel("seconds")
        ax.set_title("DAG makespan")
        ax.legend()
        written.append(_save(fig, out_dir, "dag.png"))
    if "w5" in w and "error" not in w["w5"]:
        m = w["w5"]["metrics"]
        tools = [k for k in m if k != "batchd_over_xargs"]
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.5))
        bars(a, tools, [m[t]["wall_s"] for t in tools], "tab:blue")
        a.set_ylabel("wall seconds")
        a.set_title(f"{w['w5']['params']['tasks']:,} × true, concurrency "
                    f"{w['w5']['params']['concurrency']}")
        bars(b, tools, [m[t]["cpu_s"] for t in tools], "tab:orange")
        b.set_ylabel("CPU seconds (incl. children)")
        b.set_title("CPU")
        written.append(_save(fig, out_dir, "shell.png"))
    return written


def _save(fig, out_dir, name):
    fig.tight_layout()
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return name


def update_readme(md_text):
    """Replaces the latest-run section of bench/README.md (full runs only)."""
    path = os.path.join(BENCH_DIR, "README.md")
    with open(path) as f:
        text = f.read()
    begin, end = "<!-- latest-run:begin -->", "<!-- latest-run:end -->"
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(f"{head}{begin}\n{md_text}\n{end}{tail}")
    return True


# --------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", required=True)
    p.add_argument("--batchd", default=None, help="daemon binary (default BUILD_DIR/server/batchd)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int, default=0, help="runs per figure (default 5; quick 1)")
    p.add_argument("--out", default=None, help="default bench/results (quick: "
                                               "bench/results/quick)")
    p.add_argument("--only", default="", help="comma-separated workloads, e.g. w1,w7")
    args = p.parse_args()
    out_dir = os.path.abspath(args.out or os.path.join(
        BENCH_DIR, "results", "quick" if args.quick else ""))
    os.makedirs(out_dir, exist_ok=True)
    for name in ["latest.json", "latest.md"] + PLOTS:  # never report a previous run's files
        if os.path.exists(os.path.join(out_dir, name)):
            os.remove(os.path.join(out_dir, name))

    bench = Bench(args)
    atexit.register(bench.servers.stop_all)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: sys.exit(128 + s))

    only = {x.strip() for x in args.only.split(",") if x.strip()}
    start = time.time()
    report = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "quick": args.quick, "runs": bench.runs, "machine": machine_info(),
              "load_start": _load(), "sizes": bench.sizes,
              "batchd": os.path.abspath(args.batchd or os.path.join(bench.build,
                                                                    "server/batchd")),
              "workloads": {}}
    failed = []
    for key, method in WORKLOADS:
        if only and key not in only:
            continue
        load_before, t0 = _load(), time.time()
        print(f"[bench] {key} ({method[3:]}) ...", flush=True)
        try:
            result = getattr(bench, method)()
        except Exception as e:  # noqa: BLE001 - record it and run the next workload
            failed.append(key)
            result = {"error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"}
            print(f"[bench] {key} FAILED: {e}", file=sys.stderr, flush=True)
        finally:
            bench.servers.stop_all()
        result.update(load_before=load_before, load_after=_load(), seconds=time.time() - t0)
        report["workloads"][key] = result
        print(f"[bench] {key} done in {result['seconds']:.1f} s", flush=True)
    report["load_end"] = _load()
    report["duration_s"] = time.time() - start
    report["targets"] = targets(report["workloads"])
    report["failed"] = failed

    md_text = markdown(report)
    with open(os.path.join(out_dir, "latest.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write(md_text + "\n")
    try:
        report["plots"] = plots(report, out_dir)
    except Exception as e:  # noqa: BLE001
        failed.append("plots")
        print(f"[bench] plots FAILED: {e}", file=sys.stderr)
        traceback.print_exc()
    missing = [name for name in ["latest.json", "latest.md"] + PLOTS
               if not os.path.isfile(os.path.join(out_dir, name)) and not only]
    if missing:
        failed.append("files")
        print(f"[bench] not written: {', '.join(missing)}", file=sys.stderr)
    if not args.quick and not only and args.out is None and not failed:
        update_readme(md_text)
    print(md_text)
    print(f"[bench] wrote {out_dir}/latest.json, latest.md, {', '.join(report.get('plots', []))}")
    if failed:
        print(f"[bench] failed: {', '.join(failed)}; server logs kept in {bench.work}",
              file=sys.stderr)
        return 1
    shutil.rmtree(bench.work, ignore_errors=True)
    return 0


def _load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
