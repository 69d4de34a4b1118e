# Sourced by wrk.sh, cpu.sh and instructions.sh: prepares `gatehouse serve` for the benchmark exactly as
# a user runs it — a data folder, a user pool made through the Cognito API (SigV4-signed with
# curl), a user signed in with ADMIN_USER_PASSWORD_AUTH for an ID token (what a Cognito authorizer without scopes takes), an API key made
# with `gatehouse apikey create` and bound by name to the definition file's usage plan, and the
# benchmark's definition file (`bench-api.yaml`) with the pool's ARN in it. Everything binds
# 127.0.0.1 only.
#
#   bench_binaries
#     → builds the release gatehouse and bench_backend (unless GATEHOUSE_BIN / BENCH_BACKEND_BIN
#       name builds to measure instead) and sets GATEHOUSE and BACKEND to them
#   gatehouse_prepare WORKDIR SETUP_PORT [sed expressions for the definition file...]
#     → sets GATEHOUSE_DATA, GATEHOUSE_API (the definition file), KEY and JWT
#   gatehouse_serve_args IDENTITY_PORT GATEWAY_PORT WORKERS
#     → prints the arguments of `gatehouse serve` for the measured process, one a line
#   gatehouse_warm BASE_URL
#     → waits until BASE_URL/bench/secure answers 200 with KEY and JWT: a node loads a pool's
#       signing keys in the background on the first token it sees for it
#
# Operator credentials are fixed for the run (GATEHOUSE_OPERATOR_* in the environment) and
# exported for the measured process too.
#
# It also holds what the scripts share to run processes (each script sets WORK, a temporary
# folder, and PIDS, an array, before sourcing it):
#   need COMMAND DEBIAN-PACKAGE   → installs the package when the command is missing
#   wait_port PORT [TRIES]        → waits until 127.0.0.1:PORT accepts (TRIES × 0.1 s, 100)
#   start NAME PORT COMMAND...    → runs COMMAND in the background (its output in
#                                   $WORK/NAME.log), adds it to PIDS, waits for PORT
#   stop_all                      → the scripts' EXIT trap: stops and reaps every process in
#                                   PIDS, removes WORK
#   median NUMBERS...             → the median (the mean of the middle two for an even count);
#                                   fails on no numbers
#   in_turn ROUND [COUNT]         → 0 … COUNT-1 (COUNT 3 unless given), one a line, in the
#                                   order ROUND (1-based) runs a round's compared cases
#   counts NAME...                → stops the script, naming the setting, unless each named
#                                   variable is a whole number of 1 or more
#   bench_certificate             → $WORK/tls.crt and tls.key: the run's one certificate,
#                                   for every TLS listener of both proxies
#   start_nginx WORKERS           → nginx with nginx.conf (18082, and 18089 over TLS with
#                                   that certificate), WORKERS worker processes; sets
#                                   NGINX_MASTER

export GATEHOUSE_OPERATOR_ACCESS_KEY_ID="AKIAGATEHOUSEBENCH01"
export GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY="bench/operator/secret/0123456789abcdefABCD"
BENCH_PASSWORD="Bench-Password-9!"

need() { # command debian-package
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ]; then
        echo "installing $2 ..." >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    fi
}

wait_port() { # port [tries of 0.1 s]
    for _ in $(seq 1 "${2:-100}"); do
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

stop_all() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}

median() { # numbers → the median (the mean of the two middle ones for an even count)
    # Not the lower middle one: for CPU per request (lower is better) it would lean towards
    # gatehouse, for req/s (higher is better) against it. An odd count's median is printed as
    # it was given.
    [ "$#" -gt 0 ] || return 1
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

counts() { # variable names → exits unless each holds a whole number of 1 or more
    local name
    for name in "$@"; do
        if ! [[ "${!name}" =~ ^[1-9][0-9]*$ ]]; then
            echo "$name must be a whole number of 1 or more, not '${!name}'" >&2
            exit 64
        fi
    done
}

in_turn() { # round (1-based) [count] → 0 … count-1, one a line: the order of that round
    # The machine drifts within a round, so a fixed order would hand any drift, or any
    # advantage of a place, to the same case every round (with nginx always first, five
    # rounds once read gatehouse ÷ nginx 0.1 higher than five with gatehouse first). The
    # scripts compare cases in pairs, round by round, so what matters is how often one case
    # of a pair runs before the other: the rounds follow a balanced Latin square (Williams'
    # design). For an even count, over any `count` rounds each case takes each place once and
    # runs right after each other case once, and each pair of cases runs in each order equally
    # often. For 4: 0 1 3 2 / 1 2 0 3 / 2 3 1 0 / 3 0 2 1. (A plain rotation, 0 1 2 3 / 1 2 3
    # 0 / …, runs case 0 before case 1 in three rounds of four.) For 3 it is the rotation
    # 0 1 2 / 1 2 0 / 2 0 1, where each pair still runs one way in two rounds of three.
    local count="${2:-3}" step base
    for ((step = 0; step < count; step++)); do
        if ((step % 2)); then
            base=$(((step + 1) / 2))
        else
            base=$(((count - step / 2) % count))
        fi
        echo $(((base + $1 - 1) % count))
    done
}

bench_certificate() {
    # ECDSA P-256, for localhost and 127.0.0.1 (wrk and `curl -k` do not check it; the
    # names are right for a client that would).
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
}

start_nginx() { # workers
    local nginx
    nginx="$(command -v nginx || echo /usr/sbin/nginx)"
    mkdir -p "$WORK/nginx/tmp"
    sed -e "s/^worker_processes .*/worker_processes $1;/" -e "s#TLS_DIR#$WORK#" \
        "$HERE/nginx.conf" >"$WORK/nginx.conf"
    start nginx 18082 "$nginx" -p "$WORK/nginx" -c "$WORK/nginx.conf" -e stderr
    NGINX_MASTER="${PIDS[-1]}"
    wait_port 18089
}

# One Cognito call: cognito OPERATION JSON → the response body (fails on an error status).
cognito() {
    curl -sS --fail-with-body --aws-sigv4 "aws:amz:us-east-1:cognito-idp" \
        --user "$GATEHOUSE_OPERATOR_ACCESS_KEY_ID:$GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY" \
        -H "content-type: application/x-amz-json-1.1" \
        -H "x-amz-target: AWSCognitoIdentityProviderService.$1" \
        --data "$2" "http://127.0.0.1:$SETUP_PORT/"
}

json_field() { # path.to.field < json
    python3 -c 'import json, sys
value = json.load(sys.stdin)
for part in sys.argv[1].split("."):
    value = value[part]
print(value)' "$1"
}

bench_binaries() {
    # GATEHOUSE_BIN=path measures that build of gatehouse instead (to compare two builds).
    if [ -z "${GATEHOUSE_BIN:-}" ]; then
        (cd "$ROOT" && cargo build --release -q --bin gatehouse)
    fi
    # BENCH_BACKEND_BIN=path: a bench_backend already built (the same backend for every proxy).
    if [ -z "${BENCH_BACKEND_BIN:-}" ]; then
        (cd "$ROOT" && cargo build --release -q -p gatehouse-gateway --example bench_backend)
    fi
    # cargo ran in $ROOT: a relative CARGO_TARGET_DIR is relative to it.
    local target
    target="$(cd "$ROOT" && realpath -m "${CARGO_TARGET_DIR:-target}")"
    BACKEND="${BENCH_BACKEND_BIN:-$target/release/examples/bench_backend}"
    GATEHOUSE="${GATEHOUSE_BIN:-$target/release/gatehouse}"
    local bin
    for bin in "$BACKEND" "$GATEHOUSE"; do
        [ -x "$bin" ] || { echo "$0: $bin is not an executable" >&2; exit 1; }
    done
}

gatehouse_prepare() { # workdir setup-port [sed expressions...]
    local work="$1"
    SETUP_PORT="$2"
    shift 2
    GATEHOUSE_DATA="$work/gatehouse-data"
    GATEHOUSE_API="$work/bench-api.yaml"
    mkdir -p "$GATEHOUSE_DATA"
    # One issuer for the tokens, whatever port each process's identity listener has.
    PUBLIC_URL="http://127.0.0.1:$SETUP_PORT"
    "$GATEHOUSE" serve --data-dir "$GATEHOUSE_DATA" --listen "127.0.0.1:$SETUP_PORT" \
        --public-url "$PUBLIC_URL" --gateway-listen 127.0.0.1:0 --metrics-listen none \
        >"$work/setup.log" 2>&1 &
    local setup=$!
    wait_port "$SETUP_PORT"
    local pool client
    pool="$(cognito CreateUserPool '{"PoolName":"bench"}' | json_field UserPool.Id)"
    client="$(cognito CreateUserPoolClient "{\"UserPoolId\":\"$pool\",\"ClientName\":\"bench\",
        \"ExplicitAuthFlows\":[\"ALLOW_ADMIN_USER_PASSWORD_AUTH\",\"ALLOW_REFRESH_TOKEN_AUTH\"],
        \"AccessTokenValidity\":24,\"TokenValidityUnits\":{\"AccessToken\":\"hours\"}}" |
        json_field UserPoolClient.ClientId)"
    cognito AdminCreateUser "{\"UserPoolId\":\"$pool\",\"Username\":\"bench\",\"MessageAction\":\"SUPPRESS\"}" >/dev/null
    cognito AdminSetUserPassword "{\"UserPoolId\":\"$pool\",\"Username\":\"bench\",
        \"Password\":\"$BENCH_PASSWORD\",\"Permanent\":true}" >/dev/null
    JWT="$(cognito AdminInitiateAuth "{\"UserPoolId\":\"$pool\",\"ClientId\":\"$client\",
        \"AuthFlow\":\"ADMIN_USER_PASSWORD_AUTH\",
        \"AuthParameters\":{\"USERNAME\":\"bench\",\"PASSWORD\":\"$BENCH_PASSWORD\"}}" |
        json_field AuthenticationResult.IdToken)"
    kill -TERM "$setup"
    wait "$setup" 2>/dev/null || true
    local expressions=(-e "s/us-east-1_Bench/$pool/")
    for expression in "$@"; do expressions+=(-e "$expression"); done
    sed "${expressions[@]}" "$HERE/bench-api.yaml" >"$GATEHOUSE_API"
    KEY="bench-key-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    "$GATEHOUSE" apikey create --data-dir "$GATEHOUSE_DATA" --api "$GATEHOUSE_API" \
        --name bench --value "$KEY" >/dev/null
}

gatehouse_serve_args() { # identity-port gateway-port workers
    printf '%s\n' serve --data-dir "$GATEHOUSE_DATA" --api "$GATEHOUSE_API" \
        --listen "127.0.0.1:$1" --gateway-listen "127.0.0.1:$2" --gateway-workers "$3" \
        --public-url "$PUBLIC_URL" --metrics-listen none
}

gatehouse_warm() { # base-url (http://… or https://…)
    for _ in $(seq 1 600); do
        if [ "$(curl -sk -o /dev/null -w '%{http_code}' -H "x-api-key: $KEY" \
            -H "Authorization: Bearer $JWT" "$1/bench/secure")" = 200 ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "gatehouse never accepted the benchmark's token at $1" >&2
    return 1
}
