#!/usr/bin/env bash
# deploy/batchd.service passes `systemd-analyze verify` without a warning (ExecStart pointed at
# the built daemon), and deploy/k8s.yaml is a Deployment and a Service whose probes use gRPC.
# Each check runs where its tool exists (systemd-analyze; python3 with PyYAML); exit 77 (skip)
# when neither does.
# Usage: deploy_files.sh <deploy dir> <batchd binary>
set -euo pipefail

deploy=${1:?usage: $(basename "$0") <deploy dir> <batchd binary>}
batchd=${2:?usage: $(basename "$0") <deploy dir> <batchd binary>}
ran=0

if command -v systemd-analyze >/dev/null; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  sed "s|^ExecStart=/usr/local/bin/batchd|ExecStart=$batchd|" "$deploy/batchd.service" \
    >"$work/batchd.service"
  # verify prints unknown keys and bad values as warnings and still exits 0: any output fails.
  out=$(systemd-analyze verify "$work/batchd.service" 2>&1) || { echo "$out"; exit 1; }
  if [[ -n $out ]]; then
    echo "FAIL: systemd-analyze verify $deploy/batchd.service:"
    echo "$out"
    exit 1
  fi
  echo "PASS: systemd-analyze verify batchd.service"
  ran=1
fi

if python3 -c 'import yaml' 2>/dev/null; then
  python3 - "$deploy/k8s.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = sorted(d["kind"] for d in docs)
assert kinds == ["Deployment", "Service"], kinds
deployment = next(d for d in docs if d["kind"] == "Deployment")
container = deployment["spec"]["template"]["spec"]["containers"][0]
for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
    assert container[probe]["grpc"]["port"] == 50051, probe
env = {e["name"]: e["value"] for e in container["env"]}
assert env["BATCHD_AUTH_TOKEN_FILE"], "a non-loopback listen needs a token"
print("PASS: k8s.yaml has a Deployment with gRPC probes and a Service")
PY
  ran=1
fi

if ((ran == 0)); then
  echo "SKIP: neither systemd-analyze nor python3 with PyYAML is installed"
  exit 77
fi
