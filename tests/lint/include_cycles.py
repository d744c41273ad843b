#!/usr/bin/python3
"""Fails if project includes form a cycle, between files or between folders (rooms).

Usage: include_cycles.py <source root> [dir ...]   (default dirs: core server client)
       include_cycles.py --self-test               (proves both kinds of cycle are caught)
Reads `#include "dir/..."` lines of *.h/*.cc/*.c files; a file's room is its folder. A header
and its .cc are one node for the folder graph only through their folder, so a folder that
includes a sibling folder which includes it back is reported with the files that do it."""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def read_graph(root, dirs):
    files = {}
    for d in dirs:
        for base, _, names in os.walk(os.path.join(root, d)):
            if "node_modules" in base or "/python" in base:
                continue
            for n in names:
                if n.endswith((".h", ".cc", ".c")):
                    path = os.path.relpath(os.path.join(base, n), root)
                    with open(os.path.join(root, path), encoding="utf-8") as f:
                        files[path] = INCLUDE.findall(f.read())
    return {f: [i for i in incs if i in files] for f, incs in files.items()}


def find_cycle(graph):
    """A list of nodes forming a cycle, or None (iterative DFS, colours)."""
    colour = {}
    for start in sorted(graph):
        if start in colour:
            continue
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        colour[start] = 1
        path = [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            if colour.get(child) == 1:
                return path[path.index(child):] + [child]
            if child not in colour:
                colour[child] = 1
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
    return None


def check(root, dirs):
    graph = read_graph(root, dirs)
    failed = False
    cycle = find_cycle(graph)
    if cycle:
        print("file include cycle: " + " -> ".join(cycle))
        failed = True
    folders = {}
    witness = {}
    for f, incs in graph.items():
        for i in incs:
            a, b = os.path.dirname(f), os.path.dirname(i)
            if a != b:
                folders.setdefault(a, set()).add(b)
                witness.setdefault((a, b), f"{f} includes {i}")
    cycle = find_cycle({k: sorted(v) for k, v in folders.items()})
    if cycle:
        print("folder include cycle: " + " -> ".join(cycle))
        for a, b in zip(cycle, cycle[1:]):
            print(f"  {witness[(a, b)]}")
        failed = True
    if not failed:
        print(f"OK: {len(graph)} files in {len({os.path.dirname(f) for f in graph})} folders, "
              "no include cycle")
    return 1 if failed else 0


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        def write(path, text):
            os.makedirs(os.path.dirname(os.path.join(tmp, path)), exist_ok=True)
            with open(os.path.join(tmp, path), "w") as f:
                f.write(text)
        write("core/a/x.h", '#include "core/b/y.h"\n')
        write("core/b/y.h", "\n")
        assert check(tmp, ["core"]) == 0, "clean tree flagged"
        write("core/b/z.cc", '#include "core/a/x.h"\n')
        assert check(tmp, ["core"]) == 1, "folder cycle missed"
        os.remove(os.path.join(tmp, "core/b/z.cc"))
        write("core/b/y.h", '#include "core/a/x.h"\n')
        assert check(tmp, ["core"]) == 1, "file cycle missed"
    print("self-test passed")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    sys.exit(check(sys.argv[1], sys.argv[2:] or ["core", "server", "client"]))
