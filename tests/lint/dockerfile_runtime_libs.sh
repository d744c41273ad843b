#!/usr/bin/env bash
# The Dockerfile's runtime image installs only RUNTIME_PACKAGES: fails, naming the package, when
# a shared library the built binaries link (ldd) comes from a Debian package that is neither in
# that list nor among its (installed) dependencies. No Docker engine is needed.
# Usage: dockerfile_runtime_libs.sh <Dockerfile> <binary>...   Exit 77 (skip) without dpkg.
set -euo pipefail

dockerfile=${1:?usage: $(basename "$0") <Dockerfile> <binary>...}
shift
if ! command -v dpkg-query >/dev/null || ! command -v ldd >/dev/null; then
  echo "SKIP: needs dpkg-query and ldd (Debian)"
  exit 77
fi

listed=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' "$dockerfile")
[[ -n $listed ]] || { echo "FAIL: no ARG RUNTIME_PACKAGES=\"...\" line in $dockerfile"; exit 1; }

# The package owning a library file (usrmerge: /lib and /usr/lib are the same directory, and
# dpkg knows the file under one of the two names).
owner() {
  local file=$1 real
  real=$(readlink -f "$file")
  for candidate in "$file" "$real" "${real#/usr}" "/usr$real"; do
    if out=$(dpkg-query -S "$candidate" 2>/dev/null); then
      echo "${out%%:*}" | cut -d, -f1
      return
    fi
  done
  echo "UNKNOWN($file)"
}

# Everything the listed packages pull in: Depends and Pre-Depends, transitively, as installed.
declare -A closure=()
queue=($listed)
while ((${#queue[@]})); do
  pkg=${queue[0]}
  queue=("${queue[@]:1}")
  [[ -n ${closure[$pkg]:-} ]] && continue
  closure[$pkg]=1
  deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$pkg" 2>/dev/null || true)
  for dep in $(tr ',|' '\n\n' <<<"$deps" | sed -E 's/\(.*\)//; s/:any//; s/^ +//; s/ +$//' |
               grep -v '^$' || true); do
    queue+=("$dep")
  done
done

# Always present in debian:bookworm-slim.
for essential in libc6 libgcc-s1 libstdc++6 zlib1g; do closure[$essential]=1; done

missing=()
for binary in "$@"; do
  [[ -x $binary ]] || { echo "FAIL: no binary $binary"; exit 1; }
  for lib in $(ldd "$binary" | awk '/=> \// {print $3}'); do
    pkg=$(owner "$lib")
    [[ -n ${closure[$pkg]:-} ]] || missing+=("$pkg (for $(basename "$lib") of $(basename "$binary"))")
  done
done
if ((${#missing[@]})); then
  echo "FAIL: add to RUNTIME_PACKAGES in $dockerfile:"
  printf '  %s\n' "${missing[@]}" | sort -u
  exit 1
fi
echo "PASS: RUNTIME_PACKAGES ($listed) covers every library of: $*"
