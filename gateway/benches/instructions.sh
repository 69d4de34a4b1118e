#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: a number that
# does not move with the machine's load, for comparing two builds of the gateway — and the
# gateway with nginx — when req/s (`wrk.sh`) is too noisy to tell a few per cent apart. Kernel
# work (the system calls) is not counted, and valgrind runs the SHA-256 of API keys without the
# CPU's SHA instructions, so compare counts with each other, not with `wrk.sh`'s microseconds.
#
# PROXY=gatehouse (default): `gatehouse serve --api bench-api.yaml` exactly as a user runs it
# (prepared by `gatehouse.sh`: a user pool, a user's ID token, an API key bound to the
# file's usage plan), one gateway worker, under callgrind (instrumentation off). PROXY=nginx:
# nginx from Debian with `benches/nginx.conf` in one process (`master_process off`). Sends 300
# warm-up requests, switches instrumentation on for N requests (4 keep-alive connections, one
# request at a time each), and prints instructions per request: every thread of the process
# is counted, so gatehouse's background work during the run (storage polls once a second) is
# in the figure. CASE=plain (`/bench/hello`, nginx `/hello`) or CASE=stages (`/bench/secure`
# with API key and JWT, gatehouse only). TLS=1 sends the requests over TLS 1.3 (the same
# certificate and cipher suite for both proxies). Binds 127.0.0.1 only.
#
#   CASE=plain gateway/benches/instructions.sh       # N=3000 by default
#   GATEHOUSE_BIN=/tmp/gatehouse-before gateway/benches/instructions.sh   # another build
#   PROXY=nginx gateway/benches/instructions.sh
#   CASE=stages OUT=/tmp/cg.out gateway/benches/instructions.sh && callgrind_annotate /tmp/cg.out
set -euo pipefail

N="${N:-3000}"
CASE="${CASE:-plain}"
PROXY="${PROXY:-gatehouse}"
TLS="${TLS:-0}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$(mktemp -d)"
OUT="${OUT:-$WORK/callgrind.out}"
PIDS=()

# shellcheck source=gatehouse.sh
. "$HERE/gatehouse.sh"
trap stop_all EXIT
counts N

need valgrind valgrind
bench_binaries

"$BACKEND" --listen 127.0.0.1:18091 >"$WORK/backend.log" 2>&1 &
PIDS+=("$!")
wait_port 18091
bench_certificate
CALLGRIND=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT")
case "$PROXY" in
    gatehouse)
        gatehouse_prepare "$WORK" 18094 's/127\.0\.0\.1:18081/127.0.0.1:18091/'
        mapfile -t SERVE_ARGS < <(gatehouse_serve_args 18096 18095 1)
        if [ "$TLS" = 1 ]; then
            SERVE_ARGS+=(--gateway-tls-cert "$WORK/tls.crt" --gateway-tls-key "$WORK/tls.key")
        fi
        "${CALLGRIND[@]}" "$GATEHOUSE" "${SERVE_ARGS[@]}" >"$WORK/proxy.log" 2>&1 &
        PORT=18095
        case "$CASE" in
            plain) URL_PATH=/bench/hello HEADERS=() ;;
            stages) URL_PATH=/bench/secure HEADERS=("x-api-key: $KEY" "Authorization: Bearer $JWT") ;;
            *) echo "CASE is plain or stages" >&2; exit 64 ;;
        esac
        ;;
    nginx)
        NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
        mkdir -p "$WORK/nginx/tmp"
        sed -e 's/127\.0\.0\.1:18081/127.0.0.1:18091/' -e 's/127\.0\.0\.1:18082/127.0.0.1:18095/' \
            -e 's/127\.0\.0\.1:18089/127.0.0.1:18093/' -e "s#TLS_DIR#$WORK#" \
            -e 's/^daemon off;/daemon off;\nmaster_process off;/' "$HERE/nginx.conf" >"$WORK/nginx.conf"
        "${CALLGRIND[@]}" "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx.conf" -e stderr \
            >"$WORK/proxy.log" 2>&1 &
        PORT=$([ "$TLS" = 1 ] && echo 18093 || echo 18095)
        [ "$CASE" = plain ] || { echo "nginx has only CASE=plain" >&2; exit 64; }
        URL_PATH=/hello HEADERS=()
        ;;
    *) echo "PROXY is gatehouse or nginx" >&2; exit 64 ;;
esac
PROXY_PID="$!"
PIDS+=("$PROXY_PID")
wait_port "$PORT" 1200 # valgrind starts slowly
if [ "$PROXY" = gatehouse ]; then
    gatehouse_warm "$([ "$TLS" = 1 ] && echo https || echo http)://127.0.0.1:$PORT"
fi

send() { # count: keep-alive GETs over 4 connections; fails on any answer but 200
    python3 - "$1" "$PORT" "$TLS" "$URL_PATH" "${HEADERS[@]}" <<'PY'
import http.client, ssl, sys
count, port, tls, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
headers = dict(h.split(": ", 1) for h in sys.argv[5:])
def connect():
    if not tls:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=120, context=context)
conns = [connect() for _ in range(4)]
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
callgrind_control -i on "$PROXY_PID" >/dev/null 2>&1
send "$N"
callgrind_control -i off "$PROXY_PID" >/dev/null 2>&1
kill -INT "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
TOTAL="$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')"
echo "$PROXY $CASE$([ "$TLS" = 1 ] && echo " over TLS"): $((TOTAL / N)) instructions per request ($N requests)"
