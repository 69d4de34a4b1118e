#!/usr/bin/env bash
# Gateway throughput benchmark with wrk, everything on 127.0.0.1:
#   (1) the trivial backend directly, (2) nginx as a reverse proxy to it,
#   (3) `gatehouse serve`'s plain HTTP_PROXY route to it,
#   (4) the same gatehouse with API key + usage plan + Cognito JWT authorizer, (5) a backend that
#   takes 2 ms per response directly and (6) through a gatehouse cached route (cache hits) —
#   twice: a backend that waits 2 ms (its rate grows with the connections: 50 connections /
#   ~3.5 ms) and (5c)/(6c) one that computes for 2 ms on each of its 2 threads (its rate is
#   capped near 1 000 req/s, as a service doing real work per request is) — then (2t), (3t) and
#   (4t): nginx and gatehouse over TLS (the same ECDSA P-256 certificate, TLS 1.3 with
#   TLS_AES_256_GCM_SHA384 and X25519 on both), and p99 of (1), (2) and (3) at half of (3)'s
#   peak rate (see `fixed_rate`).
# gatehouse is what ships, run as a user runs it: `gatehouse serve --api bench-api.yaml` with a
# data folder, a user pool and user made through the Cognito API, and an API key made with
# `gatehouse apikey create` (`gatehouse.sh`); every pipeline step `serve` installs runs.
# For the proxies it also reports CPU time per request (user + system of the proxy process
# over the measured run, from /proc/PID/stat, divided by the requests wrk counted): on a
# shared machine this moves less than req/s does.
# nginx and gatehouse get the same number of workers (WORKERS, default 1: nginx
# `worker_processes`, gatehouse `--gateway-workers`: single-threaded runtimes with
# SO_REUSEPORT listeners).
# Installs wrk and nginx from Debian if missing, builds the release binaries once, runs each
# case for DURATION seconds with THREADS threads and CONNECTIONS connections, prints req/s and
# p99, and stops every process it started. Everything binds 127.0.0.1 only.
#
# The machine is shared, so throughput drifts between runs: the throughput cases run ROUNDS
# times, interleaved, and the table shows each case's medians over the rounds (req/s and p99
# taken separately; with an even ROUNDS, the mean of the middle two). nginx and gatehouse's
# two routes take turns at going first in their round, so ROUNDS is best a multiple of
# three. The key + plan + JWT ratios here are against nginx given the bare request; `cpu.sh`
# also gives nginx the same request, for the comparison of CPU per request.
#
#   gateway/benches/wrk.sh   # DURATION=10 THREADS=2 CONNECTIONS=50 WORKERS=1 ROUNDS=3 by default
set -euo pipefail

DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-50}"
WORKERS="${WORKERS:-1}"
ROUNDS="${ROUNDS:-3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$(mktemp -d)"
PIDS=()

# shellcheck source=gatehouse.sh
. "$HERE/gatehouse.sh"
trap stop_all EXIT
counts ROUNDS DURATION WORKERS THREADS CONNECTIONS

need wrk wrk
need nginx nginx
need openssl openssl

echo "building release binaries ..." >&2
bench_binaries

start backend 18081 "$BACKEND" --listen 127.0.0.1:18081
start backend-2ms 18084 "$BACKEND" --listen 127.0.0.1:18084 --delay-ms 2
start backend-cpu 18086 "$BACKEND" --listen 127.0.0.1:18086 --work-ms 2 --threads 2
bench_certificate
start_nginx "$WORKERS"
# The pool, user, token and key (sets KEY, JWT, GATEHOUSE_DATA, GATEHOUSE_API).
gatehouse_prepare "$WORK" 18097
mapfile -t SERVE_ARGS < <(gatehouse_serve_args 18087 18083 "$WORKERS")
start gatehouse 18083 "$GATEHOUSE" "${SERVE_ARGS[@]}"
GATEWAY_PID="${PIDS[-1]}"
# The same, over TLS: a second node on the same data folder and definition.
mapfile -t SERVE_ARGS < <(gatehouse_serve_args 18088 18085 "$WORKERS")
start gatehouse-tls 18085 "$GATEHOUSE" "${SERVE_ARGS[@]}" \
    --gateway-tls-cert "$WORK/tls.crt" --gateway-tls-key "$WORK/tls.key"
TLS_PID="${PIDS[-1]}"
gatehouse_warm http://127.0.0.1:18083
gatehouse_warm https://127.0.0.1:18085
NGINX_WORKERS="$(pgrep -P "$NGINX_MASTER" | tr '\n' ' ')"

declare -A RPS P99 RPS_ALL P99_ALL SEEN CPU CPU_ALL
ORDER=()

to_ms() { # wrk latency like 1.23ms / 850.00us / 1.02s → milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.3f", n }'
}

ticks() { # pids... → their user + system clock ticks, summed
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$total"
}

run_case() { # label url [extra wrk args, e.g. -H "x-api-key: ..."]; CPU_PIDS: the proxy's
    local label="$1" url="$2"
    shift 2
    # Warm the connections and pools before measuring.
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$@" "$url" >/dev/null
    local out before after
    before="$(ticks ${CPU_PIDS:-})"
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")"
    after="$(ticks ${CPU_PIDS:-})"
    if [ -n "${CPU_PIDS:-}" ]; then
        local requests
        requests="$(echo "$out" | awk '/requests in/ { print $1 }')"
        CPU_ALL[$label]="${CPU_ALL[$label]:-} $(awk -v t=$((after - before)) -v n="$requests" \
            -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
        CPU[$label]="$(median ${CPU_ALL[$label]})"
    fi
    echo "$out" >"$WORK/wrk-$(echo "$label" | tr -c 'a-zA-Z0-9' '_').txt"
    if echo "$out" | grep -q "Non-2xx"; then
        echo "warning: $label had non-2xx responses:" >&2
        echo "$out" | grep "Non-2xx" >&2
    fi
    local rps p99
    rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
    p99="$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")"
    RPS_ALL[$label]="${RPS_ALL[$label]:-} $rps"
    P99_ALL[$label]="${P99_ALL[$label]:-} $p99"
    RPS[$label]="$(median ${RPS_ALL[$label]})"
    P99[$label]="$(median ${P99_ALL[$label]})"
    [ -n "${SEEN[$label]:-}" ] || ORDER+=("$label")
    SEEN[$label]=1
    printf '%-36s %12s req/s   p99 %8s ms   %s\n' "$label" "$rps" "$p99" \
        "${CPU_PIDS:+CPU $(echo "${CPU_ALL[$label]}" | awk '{ print $NF }') µs/req}" >&2
}

round_ratios() { # a b → a/b for each round, side by side
    paste -d' ' <(printf '%s\n' ${RPS_ALL[$1]:-}) <(printf '%s\n' ${RPS_ALL[$2]:-}) |
        awk '$2 > 0 { printf "%s%.2f", (NR > 1 ? " " : ""), $1 / $2 } END { print "" }'
}

ratio() { # a b → a/b
    awk -v a="${RPS[$1]:-0}" -v b="${RPS[$2]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

fixed_rate() { # label url rate [extra wrk args]: latency at a fixed request rate
    # wrk has no rate option (wrk2 is not in Debian): every connection waits DELAY_MS after
    # each response (the script's `delay()`), so CONNECTIONS_FR = rate × DELAY_MS / 1000
    # connections offer about `rate` req/s; the achieved rate is reported next to p99.
    local label="$1" url="$2" rate="$3"
    shift 3
    local delay_ms=5
    local conns=$(((rate * delay_ms + 999) / 1000))
    ((conns < THREADS)) && conns=$THREADS
    printf 'function delay() return %d end\n' "$delay_ms" >"$WORK/delay.lua"
    wrk -t"$THREADS" -c"$conns" -d2s -s "$WORK/delay.lua" "$@" "$url" >/dev/null
    local out
    out="$(wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --latency -s "$WORK/delay.lua" "$@" "$url")"
    RPS[$label]="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
    P99[$label]="$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")"
    ORDER+=("$label")
    printf '%-36s %12s req/s   p99 %8s ms   (%d connections, %d ms between requests)\n' \
        "$label" "${RPS[$label]}" "${P99[$label]}" "$conns" "$delay_ms" >&2
}

# --- cases -------------------------------------------------------------------------------
# The proxy comparisons, by number: 0–2 in plain HTTP, 3–5 over TLS.
proxy_case() {
    case "$1" in
        0) CPU_PIDS="$NGINX_WORKERS" run_case "(2) nginx proxy" http://127.0.0.1:18082/hello ;;
        1) CPU_PIDS="$GATEWAY_PID" run_case "(3) gatehouse plain route" \
            http://127.0.0.1:18083/bench/hello ;;
        2) CPU_PIDS="$GATEWAY_PID" run_case "(4) gatehouse key+plan+JWT" \
            http://127.0.0.1:18083/bench/secure -H "x-api-key: $KEY" -H "Authorization: Bearer $JWT" ;;
        3) CPU_PIDS="$NGINX_WORKERS" run_case "(2t) nginx proxy over TLS" \
            https://127.0.0.1:18089/hello ;;
        4) CPU_PIDS="$TLS_PID" run_case "(3t) gatehouse plain route over TLS" \
            https://127.0.0.1:18085/bench/hello ;;
        5) CPU_PIDS="$TLS_PID" run_case "(4t) gatehouse key+plan+JWT over TLS" \
            https://127.0.0.1:18085/bench/secure -H "x-api-key: $KEY" -H "Authorization: Bearer $JWT" ;;
    esac
}

for round in $(seq 1 "$ROUNDS"); do
    echo "round $round of $ROUNDS" >&2
    run_case "(1) backend directly" http://127.0.0.1:18081/hello
    # Each comparison's three cases take turns at going first (`in_turn`).
    for case in $(in_turn "$round"); do
        proxy_case "$case"
    done
    run_case "(5) backend waiting 2 ms, directly" http://127.0.0.1:18084/hello
    run_case "(6) gatehouse cached route to (5)" http://127.0.0.1:18083/bench/cached
    run_case "(5c) backend computing 2 ms, directly" http://127.0.0.1:18086/hello
    run_case "(6c) gatehouse cached route to (5c)" http://127.0.0.1:18083/bench/cached-cpu
    for case in $(in_turn "$round"); do
        proxy_case $((3 + case))
    done
done
HALF="$(awk -v r="${RPS["(3) gatehouse plain route"]}" 'BEGIN { printf "%d", r / 2 }')"
fixed_rate "(1) backend at half peak" http://127.0.0.1:18081/hello "$HALF"
fixed_rate "(2) nginx at half peak" http://127.0.0.1:18082/hello "$HALF"
fixed_rate "(3) gatehouse at half peak" http://127.0.0.1:18083/bench/hello "$HALF"

echo
echo "| case | req/s | p99 (ms) | proxy CPU per request (µs) |"
echo "|---|---:|---:|---:|"
for label in "${ORDER[@]}"; do
    echo "| $label | ${RPS[$label]} | ${P99[$label]} | ${CPU[$label]:-} |"
done
echo
P3="(3) gatehouse plain route" P4="(4) gatehouse key+plan+JWT"
echo "(3)/(2) gatehouse / nginx: $(ratio "$P3" "(2) nginx proxy") (rounds: $(round_ratios "$P3" "(2) nginx proxy"))"
echo "(4)/(2) gatehouse key+plan+JWT / nginx's bare request: $(ratio "$P4" "(2) nginx proxy") (rounds: $(round_ratios "$P4" "(2) nginx proxy"))"
P2T="(2t) nginx proxy over TLS" P3T="(3t) gatehouse plain route over TLS" P4T="(4t) gatehouse key+plan+JWT over TLS"
echo "(3t)/(2t) over TLS: $(ratio "$P3T" "$P2T") (rounds: $(round_ratios "$P3T" "$P2T"))"
echo "(4t)/(2t) key+plan+JWT over TLS / nginx's bare request: $(ratio "$P4T" "$P2T") (rounds: $(round_ratios "$P4T" "$P2T"))"
cpu_ratio() { # a b → CPU per request a/b (medians)
    awk -v a="${CPU[$1]:-0}" -v b="${CPU[$2]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}
echo "CPU per request gatehouse / nginx: plain $(cpu_ratio "$P3" "(2) nginx proxy"), key+plan+JWT $(cpu_ratio "$P4" "(2) nginx proxy"), TLS plain $(cpu_ratio "$P3T" "$P2T"), TLS key+plan+JWT $(cpu_ratio "$P4T" "$P2T")"
P5="(5) backend waiting 2 ms, directly" P6="(6) gatehouse cached route to (5)"
P5C="(5c) backend computing 2 ms, directly" P6C="(6c) gatehouse cached route to (5c)"
echo "(6)/(5) cached / waiting backend: $(ratio "$P6" "$P5") (rounds: $(round_ratios "$P6" "$P5"))"
echo "(6c)/(5c) cached / computing backend: $(ratio "$P6C" "$P5C") (rounds: $(round_ratios "$P6C" "$P5C"))"
added() { # label → its p99 minus the backend's, at half peak
    awk -v a="${P99[$1]}" -v b="${P99["(1) backend at half peak"]}" 'BEGIN { printf "%.3f", a - b }'
}
echo "p99 added at $HALF req/s: gatehouse $(added "(3) gatehouse at half peak") ms, nginx $(added "(2) nginx at half peak") ms"
