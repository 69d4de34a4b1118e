#!/usr/bin/env bash
# Gateway throughput benchmark with wrk, everything on 127.0.0.1:
#   (1) the trivial backend directly, (2) nginx as a reverse proxy to it,
#   (3) the gatehouse gateway's plain HTTP_PROXY route to it,
#   (4)-(6) slots for keys+plan+JWT and cached routes (see `cases` at the bottom).
# Installs wrk and nginx from Debian if missing, builds the release binaries once, runs each
# case for DURATION seconds with 2 threads and 50 connections, prints req/s and p99, and stops
# every process it started.
#
#   gateway/benches/wrk.sh            # DURATION=10 THREADS=2 CONNECTIONS=50 by default
set -euo pipefail

DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-50}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

need() { # command debian-package
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ]; then
        echo "installing $2 ..." >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    fi
}
need wrk wrk
need nginx nginx
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

echo "building release binaries ..." >&2
(cd "$ROOT" && cargo build --release -q -p gatehouse-gateway --example bench_backend --example bench_gateway)
BIN="$ROOT/target/release/examples"

wait_port() { # port
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listening on port $1" >&2
    return 1
}

start() { # name port command...
    local name="$1" port="$2"
    shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    wait_port "$port"
}

start backend 18081 "$BIN/bench_backend" --listen 127.0.0.1:18081
start backend-2ms 18084 "$BIN/bench_backend" --listen 127.0.0.1:18084 --delay-ms 2
mkdir -p "$WORK/nginx/tmp"
start nginx 18082 "$NGINX" -p "$WORK/nginx" -c "$HERE/nginx.conf" -e stderr
start gateway 18083 "$BIN/bench_gateway" --listen 127.0.0.1:18083 --api "$HERE/bench-api.yaml"

declare -A RPS P99
ORDER=()

to_ms() { # wrk latency like 1.23ms / 850.00us / 1.02s → milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.3f", n }'
}

run_case() { # label url [extra wrk args, e.g. -H "x-api-key: ..."]
    local label="$1" url="$2"
    shift 2
    # Warm the connections and pools before measuring.
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$@" "$url" >/dev/null
    local out
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")"
    echo "$out" >"$WORK/wrk-$(echo "$label" | tr -c 'a-zA-Z0-9' '_').txt"
    if echo "$out" | grep -q "Non-2xx"; then
        echo "warning: $label had non-2xx responses:" >&2
        echo "$out" | grep "Non-2xx" >&2
    fi
    RPS[$label]="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
    P99[$label]="$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")"
    ORDER+=("$label")
    printf '%-36s %12s req/s   p99 %8s ms\n' "$label" "${RPS[$label]}" "${P99[$label]}" >&2
}

ratio() { # a b → a/b
    awk -v a="${RPS[$1]:-0}" -v b="${RPS[$2]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

# --- cases -------------------------------------------------------------------------------
# The next stages add one line each, e.g.
#   run_case "(4) gatehouse keys+plan+JWT" http://127.0.0.1:18083/bench/secure -H "x-api-key: $KEY" -H "Authorization: $JWT"
#   run_case "(5) backend 2 ms directly" http://127.0.0.1:18084/hello
#   run_case "(6) gatehouse cached route" http://127.0.0.1:18083/bench/cached
run_case "(1) backend directly" http://127.0.0.1:18081/hello
run_case "(2) nginx proxy" http://127.0.0.1:18082/hello
run_case "(3) gatehouse plain route" http://127.0.0.1:18083/bench/hello

echo
echo "| case | req/s | p99 (ms) |"
echo "|---|---:|---:|"
for label in "${ORDER[@]}"; do
    echo "| $label | ${RPS[$label]} | ${P99[$label]} |"
done
echo
echo "(3)/(2) gatehouse / nginx: $(ratio "(3) gatehouse plain route" "(2) nginx proxy")"
