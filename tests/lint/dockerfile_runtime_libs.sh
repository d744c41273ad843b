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

# Package names from a Depends field: "a (>= 1), b | c, d:any" -> a b c d.
dependency_names() {
  tr ',|' '\n\n' | sed -E 's/\(.*\)//; s/:any//; s/^ +//; s/ +$//' | grep -v '^$' || true
}

# Everything the listed packages pull in: Depends and Pre-Depends, transitively, as installed.
# One dpkg-query per level of the dependency tree.
declare -A closure=()
level=($listed)
while ((${#level[@]})); do
  next=()
  for pkg in "${level[@]}"; do closure[$pkg]=1; done
  while read -r dep; do
    [[ -z ${closure[$dep]:-} ]] && next+=("$dep")
  done < <(dpkg-query -W -f='${Depends}, ${Pre-Depends}\n' "${level[@]}" 2>/dev/null |
           dependency_names | sort -u)
  level=("${next[@]}")
done
# Always present in debian:bookworm-slim.
for essential in libc6 libgcc-s1 libstdc++6 zlib1g; do closure[$essential]=1; done

# Library -> owning package, all at once. With usrmerge dpkg may know a file under /lib or
# /usr/lib, so each library is looked up under both names (and its resolved path).
declare -A name_of=()  # candidate path -> library file name
for binary in "$@"; do
  [[ -x $binary ]] || { echo "FAIL: no binary $binary"; exit 1; }
  while read -r lib; do
    real=$(readlink -f "$lib")
    for candidate in "$lib" "$real" "${real#/usr}" "/usr${real#/usr}"; do
      name_of[$candidate]=$(basename "$lib")
    done
  done < <(ldd "$binary" | awk '/=> \// {print $3}')
done
declare -A owner_of=()  # library file name -> package
while IFS= read -r line; do
  path=${line#*: }
  pkg=${line%%:*}
  [[ -n ${name_of[$path]:-} ]] && owner_of[${name_of[$path]}]=${pkg%%,*}
done < <(dpkg-query -S "${!name_of[@]}" 2>/dev/null || true)

missing=()
while read -r name; do
  pkg=${owner_of[$name]:-}
  if [[ -z $pkg ]]; then
    missing+=("no installed package owns $name")
  elif [[ -z ${closure[$pkg]:-} ]]; then
    missing+=("$pkg (for $name)")
  fi
done < <(printf '%s\n' "${name_of[@]}" | sort -u)
if ((${#missing[@]})); then
  echo "FAIL: add to RUNTIME_PACKAGES in $dockerfile:"
  printf '  %s\n' "${missing[@]}" | sort -u
  exit 1
fi
echo "PASS: RUNTIME_PACKAGES ($listed) covers every library of: $*"
