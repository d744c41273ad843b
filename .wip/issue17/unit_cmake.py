#!/usr/bin/env python3
"""Writes tests/unit/<room>/CMakeLists.txt from the registered tests, mirroring the source rooms."""
import os, re, subprocess, collections
ROOM_LIB = {
 "core/base": "batchd_core_base", "core/time": "batchd_core_time", "core/model": "batchd_core_model",
 "core/process": "batchd_core_process", "core/graph": "batchd_core_graph",
 "core/executors": "batchd_core_executors", "core/executors/shell": "batchd_executor_shell",
 "core/executors/http": "batchd_executor_http", "core/executors/plugin": "batchd_executor_plugin",
 "core/workers": "batchd_core_workers", "core/journal": "batchd_core_journal",
 "core/scheduling": "batchd_core_scheduling",
 "server/rpc": "batchd_server_rpc", "server/convert": "batchd_server_convert",
 "server/flags": "batchd_server_flags", "server/observability": "batchd_server_observability",
 "server/journal": "batchd_server_journal", "server/daemon": "batchd_server_daemon",
 "client/cpp": "batchd_client", "client/format": "batchd_client_format",
 "client/worker": "batchd_worker_runtime", "client/batchctl": "batchctl_cli",
}
line_re = re.compile(r"batchd_test\((\S+) (.*?)SOURCES (\S+)(.*?)\)\s*$")
tests = collections.defaultdict(list)
for top in ("core", "server", "client"):
    path = f"tests/unit/{top}/CMakeLists.txt"
    if not os.path.exists(path):
        continue
    for line in open(path):
        if line.startswith("#") or not line.strip() or line.startswith("add_subdirectory"):
            continue
        m = line_re.match(line.strip())
        if not m:
            raise SystemExit(f"cannot parse: {line}")
        name, mid, src, rest = m.groups()
        # find where the test file lives now
        found = subprocess.run(["git", "ls-files", f"tests/unit/{top}/**/{src}", f"tests/unit/{top}/{src}"],
                               capture_output=True, text=True).stdout.split()
        if not found:
            raise SystemExit(f"no file for {src}")
        room = os.path.dirname(found[0])[len("tests/unit/"):]
        if top == "server" and not name.startswith("server_"):
            name = "server_" + name
        rest = rest.replace("../../testing/http_test_server.cc", "").replace(" LIBS batchd_server", f" LIBS {ROOM_LIB[room]}")
        rest = re.sub(r" LIBS batchd_core\b", f" LIBS {ROOM_LIB[room]}", rest)
        rest = re.sub(r" LIBS batchd_client\b", f" LIBS {ROOM_LIB[room]}", rest)
        rest = re.sub(r" LIBS batchctl_cli\b", f" LIBS {ROOM_LIB[room]}", rest)
        tests[room].append(f"batchd_test({name} {mid}SOURCES {src}{re.sub(' +', ' ', rest)})")
rooms = sorted(tests)
children = collections.defaultdict(set)
for room in rooms:
    parts = room.split("/")
    for i in range(1, len(parts)):
        children["/".join(parts[:i])].add(parts[i])
for d in sorted(set(rooms) | set(children)):
    lines = [f"# Unit tests of {d}/, one file per component."] if d in tests else []
    lines += sorted(tests.get(d, []))
    lines += [f"add_subdirectory({c})" for c in sorted(children.get(d, []))]
    os.makedirs(f"tests/unit/{d}", exist_ok=True)
    open(f"tests/unit/{d}/CMakeLists.txt", "w").write("\n".join(lines) + "\n")
    print(f"tests/unit/{d}: {len(tests.get(d, []))} tests, {len(children.get(d, []))} subdirs")
