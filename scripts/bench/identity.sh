#!/usr/bin/env bash
# Identity benchmarks, in one run on this machine (results go to docs/benchmarks.md):
#   1. password logins/s through the API (InitiateAuth USER_PASSWORD_AUTH, default argon2id cost)
#      against raw argon2id verifications/s with the same parameters and the same concurrency;
#   2. token issuance/s through the API (InitiateAuth REFRESH_TOKEN_AUTH: no password hashing);
#   3. start-up time of `gatehouse serve` to its first accepted request (SQLite; existing data
#      folder, and a fresh one).
# Everything runs on 127.0.0.1 and every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${BENCH_SECONDS:-10}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r tests/requirements.txt; }

cargo build --release --quiet --bin gatehouse
cargo build --release --quiet -p gatehouse-identity --example argon2_rate
bin="${CARGO_TARGET_DIR:-$root/target}/release/gatehouse"

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

"$bin" serve --listen 127.0.0.1:0 --gateway-listen 127.0.0.1:0 --data-dir "$work/data" >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 1 200); do
  grep -q "^gatehouse listening on" "$work/stdout" 2>/dev/null && break
  sleep 0.05
done
endpoint=$(sed -n 's/^gatehouse listening on //p' "$work/stdout")
[ -n "$endpoint" ] || { cat "$work/stderr"; exit 1; }

# A pool, a client and a confirmed user, through boto3; prints shell assignments.
eval "$(.venv/bin/python scripts/bench/setup_pool.py "$endpoint")"

wrk_body() { # $1 = JSON body: writes a wrk Lua script posting it as a Cognito call
  cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = [[$1]]
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "AWSCognitoIdentityProviderService.InitiateAuth"
LUA
}
rate_of() { sed -n 's/^Requests\/sec: *//p' "$1"; }
p99_of() { awk '/ 99%/ {print $2}' "$1"; }
errors_of() { awk '/Non-2xx/ {print $NF}' "$1"; }

cores=$(nproc)
# More clients than cores, as in a login storm: the hashing pool (one slot per core) always has
# a login waiting while another one signs its tokens and writes its refresh token.
clients=$((cores * 4))
echo "== password logins through the API ($seconds s, $clients connections)"
wrk_body "{\"AuthFlow\":\"USER_PASSWORD_AUTH\",\"ClientId\":\"$client_id\",\"AuthParameters\":{\"USERNAME\":\"$username\",\"PASSWORD\":\"$password\"}}"
wrk -t "$cores" -c "$clients" -d "${seconds}s" --latency -s "$work/post.lua" "$endpoint/" | tee "$work/login.txt"
echo "== raw argon2id verifications ($seconds s, $cores threads)"
"${CARGO_TARGET_DIR:-$root/target}/release/examples/argon2_rate" "$seconds" "$cores" | tee "$work/argon2.txt"
echo "== token issuance through the API: REFRESH_TOKEN_AUTH ($seconds s, 16 connections)"
wrk_body "{\"AuthFlow\":\"REFRESH_TOKEN_AUTH\",\"ClientId\":\"$client_id\",\"AuthParameters\":{\"REFRESH_TOKEN\":\"$refresh_token\"}}"
wrk -t 2 -c 16 -d "${seconds}s" --latency -s "$work/post.lua" "$endpoint/" | tee "$work/refresh.txt"

kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

echo "== start-up to first accepted request (20 runs each)"
.venv/bin/python scripts/bench/startup.py "$bin" "$work/data" 20 | tee "$work/startup.txt"

login=$(rate_of "$work/login.txt")
argon=$(sed -n 's/^verifications\/s: //p' "$work/argon2.txt")
refresh=$(rate_of "$work/refresh.txt")
echo
echo "| measurement | result |"
echo "|---|---|"
echo "| password logins/s through the API ($clients clients) | $login (p99 $(p99_of "$work/login.txt")$(errors_of "$work/login.txt" | sed 's/^/, non-2xx: /')) |"
echo "| raw argon2id verifications/s, same parameters | $argon |"
echo "| ratio | $(python3 -c "print(f'{$login/$argon:.2f}')") |"
echo "| token issuance/s (REFRESH_TOKEN_AUTH) | $refresh (p99 $(p99_of "$work/refresh.txt")) |"
sed 's/^/| /; s/: / | /; s/$/ |/' "$work/startup.txt"
