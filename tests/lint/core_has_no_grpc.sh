#!/usr/bin/env bash
# core/ must stay free of gRPC and generated protobuf code: fails, listing the offending lines,
# if a file under the given directory includes grpcpp/, grpc++/, grpc/ or any *.pb.h.
# Usage: core_has_no_grpc.sh <core dir>
#        core_has_no_grpc.sh --self-test   (proves the check catches each kind of include)
set -euo pipefail

# #include <grpcpp/...>, "grpc++/...", <grpc/...>, "x.pb.h", "x.grpc.pb.h" (any spacing).
pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]((grpcpp|grpc\+\+|grpc)/|[^>"]*\.pb\.h[>"])'

check() {
  local dir=$1
  [[ -d $dir ]] || { echo "no such directory: $dir" >&2; return 2; }
  local offenders
  offenders=$(grep -rnE "$pattern" "$dir" --include='*.h' --include='*.hpp' --include='*.cc' \
    --include='*.cpp' --include='*.inc' || true)
  if [[ -n $offenders ]]; then
    echo "core/ must not include gRPC or generated protobuf headers:"
    echo "$offenders"
    return 1
  fi
  echo "OK: no gRPC or .pb.h includes under $dir"
}

self_test() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo '#include "absl/status/status.h"' >"$tmp/clean.h"
  check "$tmp" >/dev/null || { echo "self-test: clean dir flagged"; return 1; }
  local bad
  for bad in '#include <grpcpp/grpcpp.h>' '#include "grpc++/server.h"' '#include <grpc/grpc.h>' \
             '#include "batchd/v1/batch.pb.h"' '  #  include "batchd/v1/batch_service.grpc.pb.h"' \
             '#include <google/protobuf/struct.pb.h>'; do
    echo "$bad" >"$tmp/bad.cc"
    if check "$tmp" >/dev/null; then
      echo "self-test: not caught: $bad"
      return 1
    fi
  done
  echo "OK: self-test caught every forbidden include"
}

if [[ ${1:-} == --self-test ]]; then
  self_test
else
  check "${1:?usage: core_has_no_grpc.sh <core dir> | --self-test}"
fi
