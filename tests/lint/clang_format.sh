#!/usr/bin/env bash
# Every C and C++ file of core/, server/, client/, tests/ and bench/ is formatted as the
# repository's .clang-format says: fails listing each file clang-format would change (and the
# first lines it would change), so the style is kept by CI rather than by review.
# Usage: clang_format.sh <source root>     (fix with: clang-format-14 -i <files>)
#        clang_format.sh --self-test       (proves a badly formatted file is caught)
set -euo pipefail

formatter=${CLANG_FORMAT:-clang-format-14}

check() {
  local root=$1
  command -v "$formatter" >/dev/null || { echo "SKIP: $formatter not installed"; return 77; }
  local files=()
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git -C "$root" ls-files -- 'core/*.h' 'core/*.cc' 'core/*.c' \
      'server/*.h' 'server/*.cc' 'client/*.h' 'client/*.cc' 'tests/*.h' 'tests/*.cc' \
      'tests/*.c' 'bench/*.h' 'bench/*.cc')
  else
    local dirs=() d
    for d in core server client tests bench; do [[ -d $root/$d ]] && dirs+=("$d"); done
    ((${#dirs[@]})) || { echo "no source folders under $root" >&2; return 2; }
    mapfile -t files < <(cd "$root" && find "${dirs[@]}" -name node_modules -prune -o \
      \( -name '*.h' -o -name '*.cc' -o -name '*.c' \) -print)
  fi
  ((${#files[@]})) || { echo "no C/C++ files under $root" >&2; return 2; }
  local bad=0 f
  for f in "${files[@]}"; do
    if ! (cd "$root" && "$formatter" --dry-run -Werror "$f" >/dev/null 2>&1); then
      echo "not formatted: $f"
      (cd "$root" && "$formatter" "$f" | diff "$f" - | head -8) || true
      bad=$((bad + 1))
    fi
  done
  if ((bad)); then
    echo "$bad of ${#files[@]} files need: $formatter -i <file>"
    return 1
  fi
  echo "OK: ${#files[@]} files formatted"
}

self_test() {
  command -v "$formatter" >/dev/null || { echo "SKIP: $formatter not installed"; return 77; }
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  cp "$(dirname "$0")/../../.clang-format" "$tmp/"
  mkdir -p "$tmp/core"
  printf 'int f(int x) {\n  x += 1;\n  return x;\n}\n' >"$tmp/core/good.cc"
  check "$tmp" >/dev/null || { echo "self-test: a formatted file was flagged"; return 1; }
  printf 'int   g( ) { return 2; }\n' >"$tmp/core/bad.cc"
  local out
  if out=$(check "$tmp"); then
    echo "self-test: a badly formatted file passed"
    return 1
  fi
  [[ $out == *"not formatted: core/bad.cc"* ]] || { echo "self-test: wrong report: $out"; return 1; }
  echo "OK: self-test"
}

case "${1:-}" in
  --self-test) self_test ;;
  "") echo "usage: $0 <source root> | --self-test" >&2; exit 2 ;;
  *) check "$1" ;;
esac
