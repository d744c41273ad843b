"""python3 -m batchd: a few daemon queries, and a runner for Python workers."""

import argparse
import importlib
import importlib.util
import logging
import os
import signal
import sys
from typing import Any, List, Optional

import batchd

_DESCRIPTION = """\
The batchd Python client (package `batchd`).

In Python:
  from batchd import BatchProcessor, BatchTask     # the design's API, run by batchd
  processor = BatchProcessor(max_concurrent=10)     # target: $BATCHD_ADDR or 127.0.0.1:50051
  summary = processor.process_batch(tasks, executor)

  batchd.Client   submit / stream_results / progress / watch / cancel / get / list
  batchd.Worker   serve Python functions as executors: @worker.executor("embed")

From the shell (this command):
"""

_EPILOG = """\
examples:
  python3 -m batchd executors
  python3 -m batchd --addr 127.0.0.1:50051 list --limit 5
  python3 -m batchd worker my_workers.py          # runs the batchd.Worker named `worker`
  python3 -m batchd worker my_workers.py:embedder

Setup: build the stubs (cmake --build <build> --target batchd_python_stubs) and set
PYTHONPATH=<repo>/client/python:<build>/python. See client/python/README.md.
"""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m batchd", description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addr", help="daemon address, host:port or unix:/path "
                        "(default: $BATCHD_ADDR or 127.0.0.1:50051)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("executors", help="list the daemon's executors")
    batches = commands.add_parser("list", help="list batches, newest first")
    batches.add_argument("--limit", type=int, default=20, help="at most this many (0 = all)")
    worker_command = commands.add_parser(
        "worker", help="run a batchd.Worker defined in a Python file or module")
    worker_command.add_argument("spec", metavar="FILE.py[:NAME]|MODULE[:NAME]",
                        help="where the Worker is; NAME defaults to `worker`")
    worker_command.add_argument("-v", "--verbose", action="store_true", help="log connection events")
    args = parser.parse_args(argv)

    if args.addr:
        os.environ["BATCHD_ADDR"] = args.addr
    if args.command is None:
        parser.print_help()
        return 2

    try:
        if args.command == "executors":
            with batchd.Client() as client:
                for info in client.executors():
                    print(f"{info.name:24} {info.kind:8} workers={info.workers} "
                          f"capacity={info.capacity}")
        elif args.command == "list":
            with batchd.Client() as client:
                for p in client.list(args.limit):
                    print(f"{p.batch_id:24} {p.state:10} {p.completed_tasks}/{p.total_tasks} "
                          f"({p.progress_percentage:.0f}%)")
        else:
            logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                                format="%(asctime)s %(name)s %(levelname)s %(message)s")
            worker = _load_worker(args.spec)
            # SIGTERM (systemd, docker stop) closes the stream cleanly, as Ctrl-C does.
            signal.signal(signal.SIGTERM, _interrupt)
            worker.run()
    except batchd.BatchdError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _load_worker(spec: str) -> "batchd.Worker":
    where, _, name = spec.partition(":") if not os.path.exists(spec) else (spec, "", "")
    name = name or "worker"
    if where.endswith(".py") or os.path.sep in where:
        module_spec = importlib.util.spec_from_file_location("batchd_worker_module", where)
        if module_spec is None or module_spec.loader is None:
            raise SystemExit(f"error: cannot load {where}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    worker = getattr(module, name, None)
    if not isinstance(worker, batchd.Worker):
        raise SystemExit(f"error: {where} has no batchd.Worker named {name!r}")
    return worker


if __name__ == "__main__":
    sys.exit(main())
