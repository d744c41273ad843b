#!/usr/bin/env bash
# The Python client (client/python, package `batchd`) passes `mypy --strict` with the
# configuration of client/python/pyproject.toml ([tool.mypy]), checked on the package as it is
# built: setup.py's build_py copies it and generates the batchd.v1 stubs (protoc +
# grpc_python_plugin, .pyi included) into a temporary directory, where mypy reads it. Then a
# type error planted in that copy must be reported, so a configuration that checks nothing
# cannot pass.
# Usage: python_mypy.sh <source root>     (the same by hand: see client/python/README.md)
set -euo pipefail

python=${BATCHD_PYTHON:-/usr/bin/python3}
root=${1:?usage: $0 <source root>}
package=$root/client/python

"$python" -m mypy --version >/dev/null 2>&1 ||
  { echo "SKIP: mypy not installed for $python (apt-get install python3-mypy)"; exit 77; }
for tool in protoc grpc_python_plugin; do
  command -v "$tool" >/dev/null ||
    { echo "SKIP: $tool not found (protobuf-compiler, protobuf-compiler-grpc)"; exit 77; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset PYTHONPATH MYPYPATH
export PYTHONDONTWRITEBYTECODE=1

(cd "$package" && "$python" setup.py -q build_py --build-lib "$tmp/lib") >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; echo "FAIL: building the package (setup.py build_py)"; exit 1; }

run_mypy() {
  (cd "$tmp" && MYPYPATH=$tmp/lib "$python" -m mypy --config-file "$package/pyproject.toml" \
    --cache-dir "$tmp/cache" --no-error-summary -p batchd)
}

if ! out=$(run_mypy 2>&1); then
  # Paths as in the source tree (the generated batchd/v1 modules are not checked).
  printf '%s\n' "$out" | sed "s|^lib/batchd/|client/python/batchd/|"
  echo "FAIL: $(printf '%s\n' "$out" | grep -c ': error:') mypy --strict errors in client/python"
  exit 1
fi
files=$(find "$tmp/lib/batchd" -name '*.py' -not -path '*/v1/*' | wc -l)

# The check must see the package: a planted error is reported.
printf '\n_planted: int = "not an int"\n' >>"$tmp/lib/batchd/values.py"
if out=$(run_mypy 2>&1) || [[ $out != *"values.py"*"Incompatible types in assignment"* ]]; then
  printf '%s\n' "$out"
  echo "FAIL: self-check: mypy did not report the error planted in batchd/values.py"
  exit 1
fi
echo "OK: mypy --strict clean on $files modules of client/python/batchd"
