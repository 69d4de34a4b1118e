#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: a number that
# does not move with the machine's load, for comparing two builds of the gateway when req/s
# (`wrk.sh`) is too noisy to tell a few per cent apart. Kernel work (the system calls) is not
# counted, and valgrind runs the SHA-256 of API keys without the CPU's SHA instructions, so
# compare builds with each other, not with `wrk.sh`'s microseconds.
#
# Starts the trivial backend and `bench_gateway --stages` under callgrind (instrumentation off),
# sends 300 warm-up requests, switches instrumentation on for N requests (4 keep-alive
# connections, one request at a time each), and prints instructions per request. CASE=plain
# (`/bench/hello`) or CASE=stages (`/bench/secure` with API key and JWT). Binds 127.0.0.1 only.
#
#   CASE=plain gateway/benches/instructions.sh       # N=3000 by default
#   CASE=stages OUT=/tmp/cg.out gateway/benches/instructions.sh && callgrind_annotate /tmp/cg.out
set -euo pipefail

N="${N:-3000}"
CASE="${CASE:-plain}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$(mktemp -d)"
OUT="${OUT:-$WORK/callgrind.out}"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v valgrind >/dev/null 2>&1; then
    echo "installing valgrind ..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
(cd "$ROOT" && cargo build --release -q -p gatehouse-gateway --example bench_backend --example bench_gateway)
BIN="$ROOT/target/release/examples"

wait_port() { # port (valgrind starts slowly)
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listening on port $1" >&2
    return 1
}

"$BIN/bench_backend" --listen 127.0.0.1:18091 >"$WORK/backend.log" 2>&1 &
PIDS+=("$!")
wait_port 18091
sed 's/127\.0\.0\.1:18081/127.0.0.1:18091/' "$HERE/bench-api.yaml" >"$WORK/api.yaml"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
    "$BIN/bench_gateway" --listen 127.0.0.1:18095 --workers 1 --api "$WORK/api.yaml" \
    --stages "$WORK/credentials" >"$WORK/gateway.log" 2>&1 &
GATEWAY="$!"
PIDS+=("$GATEWAY")
wait_port 18095
KEY="$(sed -n 's/^KEY=//p' "$WORK/credentials")"
JWT="$(sed -n 's/^JWT=//p' "$WORK/credentials")"
case "$CASE" in
    plain) URL_PATH=/bench/hello HEADERS=() ;;
    stages) URL_PATH=/bench/secure HEADERS=("x-api-key: $KEY" "Authorization: Bearer $JWT") ;;
    *) echo "CASE is plain or stages" >&2; exit 64 ;;
esac

send() { # count: keep-alive GETs over 4 connections; fails on any answer but 200
    python3 - "$1" "$URL_PATH" "${HEADERS[@]}" <<'PY'
import http.client, sys
count, path = int(sys.argv[1]), sys.argv[2]
headers = dict(h.split(": ", 1) for h in sys.argv[3:])
conns = [http.client.HTTPConnection("127.0.0.1", 18095, timeout=60) for _ in range(4)]
for i in range(count):
    conn = conns[i % 4]
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"request {i}: status {response.status}")
PY
}

send 300
callgrind_control -i on "$GATEWAY" >/dev/null 2>&1
send "$N"
callgrind_control -i off "$GATEWAY" >/dev/null 2>&1
kill -INT "$GATEWAY"
wait "$GATEWAY" 2>/dev/null || true
TOTAL="$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')"
echo "$CASE: $((TOTAL / N)) instructions per request ($N requests)"
