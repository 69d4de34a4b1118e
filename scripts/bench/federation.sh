#!/usr/bin/env bash
# Identity-pool benchmarks, in one run on this machine (results go to docs/benchmarks.md):
#   1. GetCredentialsForIdentity/s through the API (a user-pool ID token verified, the identity
#      and pool read, the trust policy evaluated, a session token sealed);
#   2. DynamoDB GetItem/s straight to dynalite, and through gatehouse's row-level proxy with
#      temporary credentials (SigV4 verified, session unsealed, the row-level policy evaluated,
#      the request re-signed and forwarded), alternated twice in the same run: the ratio of
#      the two throughputs.
# gatehouse runs with `--workers` = CPUs − 1 (BENCH_WORKERS to change): one runtime thread fewer
# than there are CPUs, so dynalite, which answers on a single thread, competes less for a core
# (nothing is pinned; wrk shares the same cores).
# Release build, SQLite, wrk with the same threads and connections for every run. Everything
# runs on 127.0.0.1 and every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-16}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r tests/requirements.txt; }
[ -f node_modules/dynalite/cli.js ] || npm ci --silent

# GATEHOUSE_BIN: an already built release binary (otherwise this tree's is built).
if [ -z "${GATEHOUSE_BIN:-}" ]; then
  cargo build --release --quiet --bin gatehouse
fi
bin="${GATEHOUSE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/gatehouse}"

work=$(mktemp -d)
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
# The upstream's key, which the proxy re-signs with (dynalite checks only the form).
export AWS_ACCESS_KEY_ID=AKIAUPSTREAMBENCH001 AWS_SECRET_ACCESS_KEY=upstream/bench/secret

# `--workers` (see the header): with as many workers as cores, gatehouse's idle workers wake and
# park around every request on the core dynalite needs (docs/benchmarks.md has both counts).
cpus=$(nproc)
workers=${BENCH_WORKERS:-$(( cpus > 1 ? cpus - 1 : 1 ))}
echo "gatehouse --workers $workers, dynalite on one thread, $cpus CPUs"
# No per-address limit on the public operations: one client address sends everything here.
"$bin" serve --workers "$workers" --listen 127.0.0.1:0 --gateway-listen 127.0.0.1:0 --metrics-listen none \
  --rate-limit-per-second 0 --dynamodb-upstream "$dynalite" --data-dir "$work/data" \
  >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 1 200); do
  grep -q "^gatehouse listening on" "$work/stdout" 2>/dev/null && break
  sleep 0.05
done
endpoint=$(sed -n 's/^gatehouse listening on //p' "$work/stdout")
[ -n "$endpoint" ] || { cat "$work/stderr"; exit 1; }
for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$dynalite_port") 2>/dev/null && break
  sleep 0.05
done

.venv/bin/python scripts/bench/setup_federation.py "$endpoint" "$dynalite" "$work"

rate_of() { sed -n 's/^Requests\/sec: *//p' "$1"; }
p99_of() { awk '/ 99%/ {print $2}' "$1"; }
non2xx_of() { awk '/Non-2xx/ {print $NF}' "$1"; }
# CPU time (clock ticks, user + system) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # $1 = name, $2 = lua script, $3 = url; also records the CPU each process spent
  echo "== $1 ($seconds s, $connections connections)"
  local g d
  g=$(ticks "$server_pid"); d=$(ticks "$dynalite_pid")
  wrk -t 2 -c "$connections" -d "${seconds}s" --latency -s "$2" "$3" | tee "$work/$1.txt"
  echo "$(( $(ticks "$server_pid") - g )) $(( $(ticks "$dynalite_pid") - d ))" >"$work/$1.cpu"
}
# Microseconds of CPU per request a process spent in run $1 (field $2: 1 gatehouse, 2 dynalite).
cpu_per_request() {
  local requests
  requests=$(awk '/requests in/ {print $1}' "$work/$1.txt")
  awk -v f="$2" -v n="$requests" -v hz="$(getconf CLK_TCK)" '{printf "%.0f", $f / hz * 1e6 / n}' "$work/$1.cpu"
}

# The DynamoDB runs first: their signatures are good for five minutes.
run direct-1 "$work/ddb_direct.lua" "$dynalite/"
run gatehouse-1 "$work/ddb_gatehouse.lua" "$endpoint/"
run direct-2 "$work/ddb_direct.lua" "$dynalite/"
run gatehouse-2 "$work/ddb_gatehouse.lua" "$endpoint/"
run get-credentials "$work/get_credentials.lua" "$endpoint/"
if [ -n "${BENCH_PROFILE:-}" ]; then
  # Where gatehouse spends its CPU while proxying: perf samples of the server during one
  # more run through it (the signature is still fresh), hottest symbols first.
  perf record -F 999 -g -o "$work/perf.data" -p "$server_pid" -- sleep "$seconds" >/dev/null 2>&1 &
  perf_pid=$!
  run gatehouse-profiled "$work/ddb_gatehouse.lua" "$endpoint/"
  wait "$perf_pid" || true
  perf report -i "$work/perf.data" --no-children -g none --percent-limit 0.7 --sort dso,symbol \
    --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | cut -c1-150 || true
  perf report -i "$work/perf.data" --no-children -g none --percent-limit 1 --sort dso --stdio \
    2>/dev/null | grep -v '^#' | grep -v '^$' || true
fi

for name in direct-1 gatehouse-1 direct-2 gatehouse-2 get-credentials; do
  bad=$(non2xx_of "$work/$name.txt")
  [ -z "$bad" ] || { echo "$name: $bad answers were not 2xx"; tail -20 "$work/stderr"; exit 1; }
done
direct=$(echo "$(rate_of "$work/direct-1.txt") $(rate_of "$work/direct-2.txt")" | awk '{print ($1 + $2) / 2}')
through=$(echo "$(rate_of "$work/gatehouse-1.txt") $(rate_of "$work/gatehouse-2.txt")" | awk '{print ($1 + $2) / 2}')
echo
echo "| measurement | result |"
echo "|---|---|"
echo "| GetCredentialsForIdentity/s ($connections connections, $workers workers) | $(rate_of "$work/get-credentials.txt") (p99 $(p99_of "$work/get-credentials.txt")) |"
echo "| DynamoDB GetItem/s straight to dynalite (mean of 2 runs) | $direct (p99 $(p99_of "$work/direct-1.txt"), $(p99_of "$work/direct-2.txt")) |"
echo "| DynamoDB GetItem/s through gatehouse ($workers workers, mean of 2 runs) | $through (p99 $(p99_of "$work/gatehouse-1.txt"), $(p99_of "$work/gatehouse-2.txt")) |"
echo "| **ratio** (goal ≥ 0.8) | **$(echo "$through $direct" | awk '{printf "%.2f", $1 / $2}')** |"
echo "| CPU per GetItem straight to dynalite: dynalite | $(cpu_per_request direct-1 2) µs, $(cpu_per_request direct-2 2) µs |"
echo "| CPU per GetItem through gatehouse: gatehouse + dynalite | $(cpu_per_request gatehouse-1 1) + $(cpu_per_request gatehouse-1 2) µs, $(cpu_per_request gatehouse-2 1) + $(cpu_per_request gatehouse-2 2) µs |"
echo "| CPU per GetCredentialsForIdentity: gatehouse | $(cpu_per_request get-credentials 1) µs |"
