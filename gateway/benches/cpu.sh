#!/usr/bin/env bash
# CPU time and system calls per proxied request, gatehouse against nginx, round by round: the
# figure issue-style goals compare ("CPU per proxied request at or below nginx's"), measured
# the way the kernel counts it. Each round runs wrk (THREADS threads, CONNECTIONS
# connections) against four cases in turn:
#   0  nginx's `/hello`, wrk's bare request
#   1  gatehouse's plain route, the same bare request
#   2  gatehouse's key + plan + JWT route, with an API key and a user's ID token
#   3  nginx's `/hello` with case 2's request (the two headers, about a kilobyte, which nginx
#      reads and forwards to the backend as gatehouse does)
# `perf stat` counts, over the same DURATION seconds of each case, the proxy's task-clock
# (user + system time of every thread of the process, or of every nginx worker) and its
# system calls; both are divided by the requests wrk completed in those seconds.
#
# Each round prints one line per case and gatehouse ÷ nginx for that round, CPU per request
# and req/s: case 1 against case 0, and case 2 against case 3 (the same request to both
# proxies, so the difference is the work of the API key, usage plan and JWT steps) and, in
# brackets, against case 0 (what cpu.sh compared before 2026-12-04, which also charges those
# steps for the kilobyte every proxy reads and forwards). The end prints the medians of the
# per-round ratios, then each case's own medians (µs of CPU, req/s and system calls per
# request, each over the rounds; not ratios, so they move with the machine). The order of the cases changes from round to round (`in_turn` in
# `gatehouse.sh`: each pair runs in each order equally often), so ROUNDS is best a multiple
# of four. TLS=1 sends every case over TLS 1.3 instead (nginx's TLS server, and a
# gatehouse gateway listener with `--gateway-tls-cert/-key`: one certificate and cipher suite
# for both), for the goals' "and over TLS".
#
# `wrk.sh` reports CPU per request too (from /proc ticks over a longer run, beside req/s and
# latency, and its key + plan + JWT figures against nginx's bare request); this script is the
# cheaper one to repeat for many rounds, which is what the ratio needs on a shared machine:
# single rounds differ by up to 0.3.
#
# gatehouse is `gatehouse serve --api bench-api.yaml` exactly as a user runs it (prepared by
# `gatehouse.sh`); nginx is Debian's with `benches/nginx.conf`; both get WORKERS workers.
# Installs wrk, nginx and perf (linux-perf) from Debian if missing; binds 127.0.0.1 only and
# stops every process it started.
#
#   gateway/benches/cpu.sh                    # ROUNDS=8 DURATION=5 WORKERS=1 THREADS=2 CONNECTIONS=50 TLS=0
#   WORKERS=2 ROUNDS=12 gateway/benches/cpu.sh
#   TLS=1 [WORKERS=2] ROUNDS=8 gateway/benches/cpu.sh
#   GATEHOUSE_BIN=/tmp/gatehouse-before gateway/benches/cpu.sh
set -euo pipefail

ROUNDS="${ROUNDS:-8}"
DURATION="${DURATION:-5}"
WORKERS="${WORKERS:-1}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-50}"
TLS="${TLS:-0}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$(mktemp -d)"
PIDS=()

# shellcheck source=gatehouse.sh
. "$HERE/gatehouse.sh"
trap stop_all EXIT
counts ROUNDS DURATION WORKERS THREADS CONNECTIONS
case "$TLS" in
    0) SCHEME=http NGINX_URL=http://127.0.0.1:18082 OVER="" ;;
    1) SCHEME=https NGINX_URL=https://127.0.0.1:18089 OVER=", over TLS" ;;
    *) echo "TLS must be 0 or 1, not '$TLS'" >&2; exit 64 ;;
esac

need wrk wrk
need nginx nginx
need perf linux-perf
need openssl openssl

bench_binaries

start backend 18081 "$BACKEND" --listen 127.0.0.1:18081
bench_certificate # nginx.conf's TLS server needs it to start even when TLS=0
start_nginx "$WORKERS"
gatehouse_prepare "$WORK" 18097
mapfile -t SERVE_ARGS < <(gatehouse_serve_args 18087 18083 "$WORKERS")
if [ "$TLS" = 1 ]; then
    SERVE_ARGS+=(--gateway-tls-cert "$WORK/tls.crt" --gateway-tls-key "$WORK/tls.key")
fi
start gatehouse 18083 "$GATEHOUSE" "${SERVE_ARGS[@]}"
GATEHOUSE_PID="${PIDS[-1]}"
GATEHOUSE_URL="$SCHEME://127.0.0.1:18083"
gatehouse_warm "$GATEHOUSE_URL"
NGINX_WORKERS="$(pgrep -P "$NGINX_MASTER" | paste -sd,)"

# measure label pids url [wrk args] → sets CPU_US (µs per request) and RPS (requests per
# second), and prints the case's line
measure() {
    local label="$1" pids="$2" url="$3"
    shift 3
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$@" "$url" >/dev/null
    # wrk runs half a second longer on each side than perf counts, so the counted seconds
    # are all under full load; the requests of those seconds are wrk's rate times DURATION.
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$((DURATION + 1))s" "$@" "$url" >"$WORK/wrk.txt" &
    local wrk_pid=$!
    PIDS+=("$wrk_pid")
    sleep 0.5
    if ! perf stat -x, -e task-clock,raw_syscalls:sys_enter -p "$pids" -- sleep "$DURATION" \
        2>"$WORK/perf.txt" >/dev/null; then
        echo "perf stat failed for $label:" >&2
        cat "$WORK/perf.txt" >&2
        exit 1
    fi
    wait "$wrk_pid"
    unset 'PIDS[-1]' # finished: its number may be another process's by the end
    if grep -q "Non-2xx" "$WORK/wrk.txt"; then
        echo "warning: $label had non-2xx responses" >&2
    fi
    local rps task_ms syscalls line
    rps="$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.txt")"
    task_ms="$(awk -F, '/task-clock/ { print $1 }' "$WORK/perf.txt")"
    syscalls="$(awk -F, '/raw_syscalls/ { print $1 }' "$WORK/perf.txt")"
    local number='^[0-9]+([.][0-9]+)?$'
    if ! [[ "$rps" =~ $number && "$task_ms" =~ $number && "$syscalls" =~ $number ]] ||
        [ "$rps" = 0 ]; then
        echo "no measurement for $label (req/s '$rps', task-clock '$task_ms', system calls '$syscalls'):" >&2
        cat "$WORK/wrk.txt" "$WORK/perf.txt" >&2
        exit 1
    fi
    read -r CPU_US CALLS line < <(awk -v l="$label" -v r="$rps" -v t="$task_ms" -v s="$syscalls" \
        -v d="$DURATION" 'BEGIN {
            n = r * d; us = t * 1000 / n;
            printf "%.2f %.2f %-30s %9.0f req/s  %6.2f µs CPU/req  %5.2f syscalls/req\n", us, s / n, l, r, us, s / n }')
    RPS="$rps"
    echo "$line" >&2
}

# The four cases' names, and each case's figures round by round (space-separated), for the
# medians per case at the end.
CASE_NAMES=("nginx" "gatehouse plain" "gatehouse key+plan+JWT" "nginx, key+plan+JWT's request")
CASE_US=("" "" "" "")
CASE_RPS=("" "" "" "")
CASE_CALLS=("" "" "" "")

# The four cases of a round, by number; each sets its own result variable.
measure_case() {
    case "$1" in
        0)
            measure "${CASE_NAMES[0]}" "$NGINX_WORKERS" "$NGINX_URL/hello"
            nginx_us="$CPU_US" nginx_rps="$RPS"
            ;;
        1)
            measure "${CASE_NAMES[1]}" "$GATEHOUSE_PID" "$GATEHOUSE_URL/bench/hello"
            plain_us="$CPU_US" plain_rps="$RPS"
            ;;
        2)
            measure "${CASE_NAMES[2]}" "$GATEHOUSE_PID" "$GATEHOUSE_URL/bench/secure" \
                -H "x-api-key: $KEY" -H "Authorization: Bearer $JWT"
            stages_us="$CPU_US" stages_rps="$RPS"
            ;;
        3)
            measure "${CASE_NAMES[3]}" "$NGINX_WORKERS" "$NGINX_URL/hello" \
                -H "x-api-key: $KEY" -H "Authorization: Bearer $JWT"
            same_us="$CPU_US" same_rps="$RPS"
            ;;
    esac
    CASE_US[$1]+=" $CPU_US"
    CASE_RPS[$1]+=" $RPS"
    CASE_CALLS[$1]+=" $CALLS"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

PLAIN_RATIOS=()
STAGES_RATIOS=()
BARE_RATIOS=()
PLAIN_RPS_RATIOS=()
STAGES_RPS_RATIOS=()
BARE_RPS_RATIOS=()
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round of $ROUNDS ($WORKERS worker(s) each$OVER)" >&2
    for case in $(in_turn "$round" 4); do
        measure_case "$case"
    done
    PLAIN_RATIOS+=("$(ratio "$plain_us" "$nginx_us")")
    STAGES_RATIOS+=("$(ratio "$stages_us" "$same_us")")
    BARE_RATIOS+=("$(ratio "$stages_us" "$nginx_us")")
    PLAIN_RPS_RATIOS+=("$(ratio "$plain_rps" "$nginx_rps")")
    STAGES_RPS_RATIOS+=("$(ratio "$stages_rps" "$same_rps")")
    BARE_RPS_RATIOS+=("$(ratio "$stages_rps" "$nginx_rps")")
    echo "  gatehouse ÷ nginx, CPU per request: plain ${PLAIN_RATIOS[-1]}," \
        "key+plan+JWT ${STAGES_RATIOS[-1]} (${BARE_RATIOS[-1]} against the bare request);" \
        "req/s: plain ${PLAIN_RPS_RATIOS[-1]}, key+plan+JWT ${STAGES_RPS_RATIOS[-1]} (${BARE_RPS_RATIOS[-1]})" >&2
done
echo "CPU per request gatehouse ÷ nginx, median of $ROUNDS rounds ($WORKERS worker(s)$OVER):" \
    "plain $(median "${PLAIN_RATIOS[@]}") (rounds: ${PLAIN_RATIOS[*]})," \
    "key+plan+JWT (nginx given the same request) $(median "${STAGES_RATIOS[@]}") (rounds: ${STAGES_RATIOS[*]});" \
    "key+plan+JWT against nginx's bare request $(median "${BARE_RATIOS[@]}") (rounds: ${BARE_RATIOS[*]})"
echo "req/s gatehouse ÷ nginx, median of $ROUNDS rounds ($WORKERS worker(s)$OVER):" \
    "plain $(median "${PLAIN_RPS_RATIOS[@]}") (rounds: ${PLAIN_RPS_RATIOS[*]})," \
    "key+plan+JWT (nginx given the same request) $(median "${STAGES_RPS_RATIOS[@]}") (rounds: ${STAGES_RPS_RATIOS[*]});" \
    "key+plan+JWT against nginx's bare request $(median "${BARE_RPS_RATIOS[@]}") (rounds: ${BARE_RPS_RATIOS[*]})"
per_case=()
for case in 0 1 2 3; do
    read -ra us <<<"${CASE_US[$case]}"
    read -ra rps <<<"${CASE_RPS[$case]}"
    read -ra calls <<<"${CASE_CALLS[$case]}"
    per_case+=("$(awk -v n="${CASE_NAMES[$case]}" -v u="$(median "${us[@]}")" \
        -v r="$(median "${rps[@]}")" -v c="$(median "${calls[@]}")" \
        'BEGIN { printf "%s %.2f µs CPU/req, %.0f req/s, %.2f syscalls/req", n, u, r, c }')")
done
echo "medians per case of $ROUNDS rounds ($WORKERS worker(s)$OVER): ${per_case[0]}; ${per_case[1]};" \
    "${per_case[2]}; ${per_case[3]}"
