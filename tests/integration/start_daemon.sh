# Sourced by the buf curl tests with their arguments (<batchd binary> <buf binary> [daemon
# flags...]): skips (exit 77) without buf, starts batchd on a free loopback port with the extra
# flags, sets $batchd, $buf, $address, $work and $daemon_pid, kills the daemon on exit, and
# defines fail(). Every wait is bounded.

batchd=${1:?usage: $(basename "$0") <batchd> <buf>}
buf=${2:?usage: $(basename "$0") <batchd> <buf>}
if [[ ! -x $buf ]]; then
  echo "SKIP: $buf not found (run deploy/install-deps.sh)"
  exit 77
fi

work=$(mktemp -d)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]]; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- batchd stderr:" >&2
  cat "$work/stderr" >&2 || true
  exit 1
}

# Arguments after the first two are extra daemon flags.
"$batchd" --listen=127.0.0.1:0 --data-dir="$work/data" "${@:3}" >"$work/stdout" 2>"$work/stderr" &
daemon_pid=$!

# Wait (at most 20 s) for "batchd listening on 127.0.0.1:PORT".
address=
for _ in $(seq 200); do
  if address=$(sed -n 's/^batchd listening on //p' "$work/stdout") && [[ -n $address ]]; then
    break
  fi
  kill -0 "$daemon_pid" 2>/dev/null || fail "batchd exited before listening"
  sleep 0.1
done
[[ -n $address ]] || fail "batchd did not print its address within 20 s"
