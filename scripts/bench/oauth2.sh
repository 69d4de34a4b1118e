#!/usr/bin/env bash
# Token-endpoint benchmark (results go to docs/benchmarks.md): grants per second on
# `POST /{poolId}/oauth2/token` of a release `gatehouse serve` (SQLite), in ROUNDS rounds of
#   1. client_credentials: a confidential client, HTTP Basic, one resource-server scope;
#   2. authorization_code: a confidential client redeeming codes minted just before the run
#      (scripts/bench/setup_oauth2.py: one hosted sign-in, then its session cookie), each code
#      sent once; the run fails if any answer is not 200 or a load thread runs out of codes.
# wrk drives both with the same threads and connections; the server's CPU time is read around
# each run (/proc/PID/stat). Everything runs on 127.0.0.1 and every process started here is
# stopped on exit.
#
#   ./scripts/bench/oauth2.sh        # BENCH_SECONDS=10 BENCH_CONNECTIONS=16 ROUNDS=3;
#                                    # GATEHOUSE_BIN=… to use a release binary already built;
#                                    # BENCH_PROFILE=1 adds a perf profile of the code grant
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-16}
rounds=${ROUNDS:-3}
threads=2

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r tests/requirements.txt; }

if [ -z "${GATEHOUSE_BIN:-}" ]; then
  cargo build --release --quiet --bin gatehouse
fi
bin="${GATEHOUSE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/gatehouse}"

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export GATEHOUSE_OPERATOR_ACCESS_KEY_ID=AKIAGATEHOUSEBENCH01
export GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY=bench/operator/secret/0123456789abcdefgh
export GATEHOUSE_LOG=warn

# No per-address limit: one client address sends everything here.
"$bin" serve --listen 127.0.0.1:0 --gateway-listen 127.0.0.1:0 --metrics-listen none \
  --rate-limit-per-second 0 --data-dir "$work/data" >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 1 200); do
  grep -q "^gatehouse listening on" "$work/stdout" 2>/dev/null && break
  sleep 0.05
done
endpoint=$(sed -n 's/^gatehouse listening on //p' "$work/stdout")
[ -n "$endpoint" ] || { cat "$work/stderr"; exit 1; }

eval "$(.venv/bin/python scripts/bench/setup_oauth2.py "$endpoint" "$work")"
token_url="$endpoint/$pool_id/oauth2/token"
basic() { printf '%s:%s' "$1" "$2" | base64 -w0; }
urlencode() { .venv/bin/python -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

cat >"$work/client_credentials.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=$(urlencode "$api_scope")"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(basic "$machine_id" "$machine_secret")"
LUA

# Each load thread takes every THREADS-th code of the file, each once; past its last one it
# sends an empty code, which the endpoint refuses, so the run reports non-2xx answers.
cat >"$work/authorization_code.lua" <<LUA
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
function init(args)
  codes = {}
  local i = 0
  for line in io.lines("$work/codes") do
    if i % $threads == id then codes[#codes + 1] = line end
    i = i + 1
  end
  position = 0
end
function request()
  position = position + 1
  local code = codes[position] or ""
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic $(basic "$web_id" "$web_secret")",
  }, "grant_type=authorization_code&redirect_uri=$(urlencode "$callback")&code=" .. code)
end
LUA

rate_of() { sed -n 's/^Requests\/sec: *//p' "$1"; }
requests_of() { awk '/requests in/ {print $1}' "$1"; }
p99_of() { awk '/ 99%/ {print $2}' "$1"; }
p99_ms() { p99_of "$1" | awk '/us$/ {printf "%.2f", $1 / 1000; next} /ms$/ {printf "%.2f", $1; next} /s$/ {printf "%.2f", $1 * 1000}'; }
non2xx_of() { awk '/Non-2xx/ {print $NF}' "$1"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
run() { # $1 = name, $2 = lua script: one wrk run, the server's CPU per grant in $work/$1.cpu
  local before
  before=$(ticks "$server_pid")
  wrk -t "$threads" -c "$connections" -d "${seconds}s" --latency -s "$2" "$token_url" >"$work/$1.txt"
  local bad
  bad=$(non2xx_of "$work/$1.txt")
  [ -z "$bad" ] || { cat "$work/$1.txt"; echo "$1: $bad answers were not 200"; tail -20 "$work/stderr"; exit 1; }
  awk -v t="$(( $(ticks "$server_pid") - before ))" -v n="$(requests_of "$work/$1.txt")" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}' >"$work/$1.cpu"
  echo "$1: $(rate_of "$work/$1.txt") grants/s, p99 $(p99_of "$work/$1.txt"), $(cat "$work/$1.cpu") µs CPU per grant, load $(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "== $rounds rounds of $seconds s, wrk $threads threads $connections connections; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  run "cc-$r" "$work/client_credentials.lua"
  # Enough codes for the run: at the client-credentials rate plus a margin in the first
  # round (the code grant does more per request, so it is slower), at three times the last
  # code round's rate after that.
  if [ "$r" -eq 1 ]; then
    count=$(awk -v r="$(rate_of "$work/cc-$r.txt")" -v s="$seconds" 'BEGIN {printf "%d", r * s * 1.2 + 500}')
  else
    count=$(awk -v r="$(rate_of "$work/code-$((r - 1)).txt")" -v s="$seconds" 'BEGIN {printf "%d", r * s * 3 + 500}')
  fi
  .venv/bin/python scripts/bench/setup_oauth2.py "$endpoint" "$work" codes "$count"
  run "code-$r" "$work/authorization_code.lua"
  used=$(requests_of "$work/code-$r.txt")
  [ "$used" -le "$count" ] || { echo "code-$r: more requests ($used) than codes ($count)"; exit 1; }
done

if [ -n "${BENCH_PROFILE:-}" ]; then
  # Where the server spends its CPU on the code grant: perf samples during one more run.
  .venv/bin/python scripts/bench/setup_oauth2.py "$endpoint" "$work" codes "$count"
  utime() { awk '{print $14}' "/proc/$server_pid/stat"; }
  stime() { awk '{print $15}' "/proc/$server_pid/stat"; }
  u=$(utime); s=$(stime)
  perf record -F 999 -g -o "$work/perf.data" -p "$server_pid" -- sleep "$seconds" >/dev/null 2>&1 &
  perf_pid=$!
  run code-profiled "$work/authorization_code.lua"
  wait "$perf_pid" || true
  echo "server user / system CPU during the profiled run (ticks): $(( $(utime) - u )) / $(( $(stime) - s ))"
  perf report -i "$work/perf.data" --no-children -g none --percent-limit 0.7 --sort dso,symbol \
    --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | cut -c1-150 || true
  perf report -i "$work/perf.data" --children -g none --percent-limit 3 --sort symbol \
    --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | cut -c1-150 | head -60 || true
fi

series() { for r in $(seq 1 "$rounds"); do $1 "$work/$2-$r.txt"; echo; done | grep . | tr '\n' ' '; }
cpu_series() { for r in $(seq 1 "$rounds"); do cat "$work/$1-$r.cpu"; echo; done | tr '\n' ' '; }
med() { echo "$1" | tr ' ' '\n' | grep . | median; }
cc=$(series rate_of cc); code=$(series rate_of code)
echo
echo "| measurement (median of $rounds rounds) | result | rounds |"
echo "|---|---|---|"
echo "| client_credentials grants/s | $(med "$cc") | $cc |"
echo "| authorization_code grants/s | $(med "$code") | $code |"
echo "| server CPU per client_credentials grant (µs) | $(med "$(cpu_series cc)") | $(cpu_series cc) |"
echo "| server CPU per authorization_code grant (µs) | $(med "$(cpu_series code)") | $(cpu_series code) |"
echo "| p99 client_credentials / authorization_code | $(med "$(series p99_ms cc)") ms / $(med "$(series p99_ms code)") ms | |"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
