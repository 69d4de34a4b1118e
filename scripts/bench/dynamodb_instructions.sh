#!/usr/bin/env bash
# User-space instructions gatehouse spends per proxied DynamoDB GetItem (results go to
# docs/benchmarks.md): a figure that does not move with the machine's load, unlike the
# throughput ratio of federation.sh. The release `gatehouse serve` runs under callgrind in
# front of dynalite, set up as federation.sh does it (scripts/bench/setup_federation.py: a
# user-pool user's temporary credentials, AWS's row-level policy); after WARM requests,
# instrumentation is switched on for N more, all the same signed GetItem of the user's own row
# sent over 4 keep-alive connections one at a time each (every answer must be 200). Every
# thread of the process is counted; the kernel is not.
#
#   N=2000 scripts/bench/dynamodb_instructions.sh         # GATEHOUSE_BIN=… for another build
#   OUT=/tmp/ddb.callgrind N=2000 scripts/bench/…          # keep the profile for callgrind_annotate
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
n=${N:-2000}
warm=${WARM:-300}

command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r tests/requirements.txt; }
[ -f node_modules/dynalite/cli.js ] || npm ci --silent
if [ -z "${GATEHOUSE_BIN:-}" ]; then
  cargo build --release --quiet --bin gatehouse
fi
bin="${GATEHOUSE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/gatehouse}"

work=$(mktemp -d)
out=${OUT:-$work/callgrind.out}
server_pid=""
dynalite_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$dynalite_pid" ] && kill "$dynalite_pid" 2>/dev/null && wait "$dynalite_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dynalite_port=$(free_port)
node node_modules/dynalite/cli.js --host 127.0.0.1 --port "$dynalite_port" --createTableMs 0 >/dev/null 2>&1 &
dynalite_pid=$!
dynalite="http://127.0.0.1:$dynalite_port"

export GATEHOUSE_OPERATOR_ACCESS_KEY_ID=AKIAGATEHOUSEBENCH01
export GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY=bench/operator/secret/0123456789abcdefgh
export GATEHOUSE_LOG=warn
export AWS_ACCESS_KEY_ID=AKIAUPSTREAMBENCH001 AWS_SECRET_ACCESS_KEY=upstream/bench/secret

port=$(free_port)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
  "$bin" serve --listen "127.0.0.1:$port" --gateway-listen 127.0.0.1:0 --metrics-listen none \
  --rate-limit-per-second 0 --dynamodb-upstream "$dynalite" --data-dir "$work/data" \
  >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 1 1200); do
  grep -q "^gatehouse listening on" "$work/stdout" 2>/dev/null && break
  sleep 0.1
done
endpoint=$(sed -n 's/^gatehouse listening on //p' "$work/stdout")
[ -n "$endpoint" ] || { cat "$work/stderr"; exit 1; }

.venv/bin/python scripts/bench/setup_federation.py "$endpoint" "$dynalite" "$work"

send() { # count: the signed GetItem over 4 keep-alive connections; fails on any answer but 200
  .venv/bin/python - "$1" "$port" "$work/ddb_gatehouse.json" <<'PY'
import http.client, json, sys
count, port, request = int(sys.argv[1]), int(sys.argv[2]), json.load(open(sys.argv[3]))
headers = {k: v for k, v in request["headers"].items() if k.lower() != "host"}
connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=300) for _ in range(4)]
for i in range(count):
    connection = connections[i % 4]
    connection.request("POST", "/", body=request["body"].encode(), headers=headers)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        sys.exit(f"request {i}: status {response.status}: {answer[:200]!r}")
PY
}

send "$warm"
callgrind_control -i on "$server_pid" >/dev/null
send "$n"
callgrind_control -i off "$server_pid" >/dev/null
kill -INT "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "gatehouse DynamoDB GetItem: $((total / n)) instructions per proxied request ($n requests)"
