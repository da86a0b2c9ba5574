#!/usr/bin/env bash
# The enlist benchmark: seeds databases of several sizes, serves each on
# 127.0.0.1, drives every scenario with a real load generator (wrk when
# pinned, the default; oha or wrk unpinned) or, for
# requests that must differ (create, revoke, accept), examples/loadgen.rs,
# and writes bench/RESULTS.md. Rerunnable; every run is bounded in time.
#
#   bench/run.sh                       # the full run (about 10 minutes)
#   SIZES="1000" DURATION=2 bench/run.sh   # a quick look
#   PINNED=0 bench/run.sh              # both cores for everything, as before
#   BACKEND=postgres bench/run.sh      # the same on PostgreSQL (bench/RESULTS-postgres.md)
#
# BACKEND=postgres: a throwaway PostgreSQL cluster (Debian's binaries, as
# the tests use) under $WORK/pg, pinned to the server's core, so one core
# runs enlist and its database as it runs enlist and its SQLite file. Each
# size is seeded as a SQLite file and moved with `enlist copy`. After the
# one-node scenarios, a second node on the same database serves the reads
# and creates again, each node driven by its own load generator (unpinned:
# two nodes, the database and two load generators share the two cores).
#
# Pinned mode (the default): the server (and the hello ceiling) run on core
# 0 with one worker, the load generator on core 1 (wrk -t1), so a figure is
# one server core's and the hello ceiling beside it was measured the same
# way in the same run.
#
# The server runs with the built-in defaults but for the per-key request
# limit and the per-organization mail cap (both off): one API key drives
# every scenario, far past what those limits allow a real caller.
#
# Settings (environment): SIZES, DURATION (seconds per scenario),
# CONCURRENCY, OTHER_ORGS, OTHER_INVITATIONS, MEMBERS, ACCEPT_POOL,
# REVOKE_POOL, PORT, HELLO_PORT, WORK (scratch folder), OUT (the report),
# MAX_BUSY (percent of the machine other processes may use before a
# scenario waits), LOADTOOL (oha or wrk), BUILD=0 (skip the build),
# CARGO_TARGET_DIR, PINNED (1 or 0), SERVER_CPU, LOAD_CPU, WORKERS (server
# workers, 0 = one per core), WRK_THREADS.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
COMMAND_LINE="bench/run.sh${*:+ $*}"
SIZES=${SIZES:-"1000 100000 1000000"}
DURATION=${DURATION:-5}
CONCURRENCY=${CONCURRENCY:-32}
OTHER_ORGS=${OTHER_ORGS:-3}
OTHER_INVITATIONS=${OTHER_INVITATIONS:-20000}
MEMBERS=${MEMBERS:-200}
ACCEPT_POOL=${ACCEPT_POOL:-60000}
REVOKE_POOL=${REVOKE_POOL:-60000}
PORT=${PORT:-18080}
HELLO_PORT=${HELLO_PORT:-18090}
WORK=${WORK:-/tmp/enlist-bench}
BACKEND=${BACKEND:-sqlite}
if [[ $BACKEND == postgres ]]; then
    OUT=${OUT:-$ROOT/bench/RESULTS-postgres.md}
else
    OUT=${OUT:-$ROOT/bench/RESULTS.md}
fi
PG_PORT=${PG_PORT:-18432}
PORT2=${PORT2:-18081}
MAX_BUSY=${MAX_BUSY:-35}
PINNED=${PINNED:-1}
if [[ $PINNED == 1 ]]; then
    SERVER_CPU=${SERVER_CPU:-0}
    LOAD_CPU=${LOAD_CPU:-1}
    WORKERS=${WORKERS:-1}
    WRK_THREADS=${WRK_THREADS:-1}
    LOADTOOL=${LOADTOOL:-wrk}
    SERVER_ON=(taskset -c "$SERVER_CPU")
    LOAD_ON=(taskset -c "$LOAD_CPU")
else
    WORKERS=${WORKERS:-0}
    WRK_THREADS=${WRK_THREADS:-2}
    SERVER_ON=()
    LOAD_ON=()
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
RELEASE=$CARGO_TARGET_DIR/release

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

# --- tools -------------------------------------------------------------
need_apt() {
    command -v "$1" >/dev/null && return
    log "installing $2 (apt-get)"
    apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
}
need_apt curl curl
need_apt jq jq
[[ $PINNED == 1 ]] && need_apt taskset util-linux
export PATH="$HOME/.cargo/bin:$PATH"
# LOADTOOL=oha (cargo install oha --locked) or wrk (Debian's package);
# pinned mode chose wrk above, as the issue's figures were measured with it.
LOADTOOL=${LOADTOOL:-oha}
if [[ $LOADTOOL == oha ]] && ! command -v oha >/dev/null; then
    log "installing oha (cargo install oha --locked)"
    if ! cargo install oha --locked; then
        log "oha did not build here; using wrk"
        LOADTOOL=wrk
    fi
fi
[[ $LOADTOOL == wrk ]] && need_apt wrk wrk

if [[ ${BUILD:-1} == 1 ]]; then
    log "building (release): enlist, examples hello, floor and loadgen"
    cargo build --release --locked --bin enlist --example hello --example floor --example loadgen
fi
ENLIST=$RELEASE/enlist
HELLO=$RELEASE/examples/hello
FLOOR=$RELEASE/examples/floor
LOADGEN=$RELEASE/examples/loadgen

mkdir -p "$WORK"
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
SERVER_PID=
cleanup() {
    if [[ -n ${SERVER_PID:-} ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

# --- helpers -----------------------------------------------------------
# Percent of the machine busy over one second (our server is idle then).
busy_percent() {
    local a b
    read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ </proc/stat
    sleep 1
    read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ </proc/stat
    a=$((a1 + a2 + a3 + a5 + a6 + a7 + a8)); b=$((b1 + b2 + b3 + b5 + b6 + b7 + b8))
    local total=$(((b + b4) - (a + a4)))
    echo $(((b - a) * 100 / (total > 0 ? total : 1)))
}

# Waits (up to 60 s) until other processes leave the machine quiet enough.
BUSY=0
wait_quiet() {
    local waited=0
    BUSY=$(busy_percent)
    while ((BUSY > MAX_BUSY && waited < 60)); do
        log "machine ${BUSY}% busy with other work; waiting"
        sleep 4; waited=$((waited + 5))
        BUSY=$(busy_percent)
    done
}

wait_ready() { # url -> milliseconds until it answers 200
    local start end
    start=$(date +%s%N)
    for _ in $(seq 1 4000); do
        if curl -sf -o /dev/null "$1"; then
            end=$(date +%s%N); echo $(((end - start) / 1000000)); return 0
        fi
        sleep 0.002
    done
    log "server at $1 never became ready"; return 1
}

start_server() { # db log -> SERVER_PID, READY_MS
    local database=(ENLIST_DATABASE="$1")
    [[ $BACKEND == postgres ]] && database=(ENLIST_DATABASE__URL="$DB_URL" ENLIST_SERVER__PUBLIC_URL="http://127.0.0.1:$PORT")
    (cd "$WORK" && exec env "${database[@]}" ENLIST_SERVER__BIND="127.0.0.1:$PORT" \
        ENLIST_SERVER__WORKERS="$WORKERS" ENLIST_LIMITS__ADMIN_PER_MINUTE=0 \
        ENLIST_INVITATIONS__MESSAGES_PER_ORG_PER_HOUR=0 \
        "${SERVER_ON[@]}" "$ENLIST" serve >>"$2" 2>&1) &
    SERVER_PID=$!
    READY_MS=$(wait_ready "http://127.0.0.1:$PORT/readyz")
}

start_second_node() { # url log -> NODE2_PID
    (cd "$WORK" && exec env ENLIST_DATABASE__URL="$1" ENLIST_SERVER__BIND="127.0.0.1:$PORT2" \
        ENLIST_SERVER__WORKERS=1 ENLIST_LIMITS__ADMIN_PER_MINUTE=0 \
        ENLIST_INVITATIONS__MESSAGES_PER_ORG_PER_HOUR=0 \
        ENLIST_SERVER__PUBLIC_URL="http://127.0.0.1:$PORT" \
        "$ENLIST" serve >>"$2" 2>&1) &
    NODE2_PID=$!
    wait_ready "http://127.0.0.1:$PORT2/readyz" >/dev/null
}

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
# Resets the peak RSS so the next reading covers one scenario only.
reset_peak() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }

# record size scenario json-from-the-driver pid expected-status
record() {
    local rss
    rss=$(peak_rss_kib "$4")
    jq -c --arg size "$1" --arg scenario "$2" --argjson rss "$rss" --argjson busy "$BUSY" \
        '. + {size: ($size | tonumber), scenario: $scenario, rss_kib: $rss, busy: $busy}' \
        <<<"$3" >>"$RESULTS"
    jq -r '"  \(.scenario): \(.rps | floor) req/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, errors \(.errors), rss \(.rss_kib) KiB"' \
        <<<"$(tail -n 1 "$RESULTS")" >&2
}

# A fixed request repeated by the load generator (oha or wrk), normalised
# to the driver's fields. Statuses other than $expected count as errors.
# Options: -m METHOD, -H HEADER (repeatable), -a USER:PASS, -T TYPE, -d BODY.
run_fixed() { # size scenario pid expected url [options...]
    local size=$1 scenario=$2 pid=$3 expected=$4 url=$5
    shift 5
    local method=GET body= type= headers=()
    while (($#)); do
        case $1 in
            -m) method=$2 ;;
            -H) headers+=("$2") ;;
            -a) headers+=("Authorization: Basic $(printf %s "$2" | base64 -w0)") ;;
            -T) type=$2 ;;
            -d) body=$2 ;;
            *) log "run_fixed: unknown option $1"; return 1 ;;
        esac
        shift 2
    done
    [[ -n $type ]] && headers+=("Content-Type: $type")
    local hargs=()
    for h in "${headers[@]}"; do hargs+=(-H "$h"); done
    wait_quiet
    reset_peak "$pid"
    local json
    if [[ $LOADTOOL == oha ]]; then
        local raw
        raw=$("${LOAD_ON[@]}" oha -z "${DURATION}s" -c "$CONCURRENCY" --no-tui --output-format json \
            -m "$method" ${body:+-d "$body"} "${hargs[@]}" "$url")
        json=$(jq -c --arg ok "$expected" '{
            requests: ([.statusCodeDistribution[]] | add // 0),
            rps: .summary.requestsPerSec,
            p50_ms: ((.latencyPercentiles.p50 // 0) * 1000),
            p99_ms: ((.latencyPercentiles.p99 // 0) * 1000),
            p999_ms: ((.latencyPercentiles["p99.9"] // 0) * 1000),
            errors: (([.statusCodeDistribution | to_entries[] | select(.key != $ok) | .value] | add // 0)
                     + ([.errorDistribution | to_entries[]? | select(.key | test("deadline") | not) | .value] | add // 0)),
            statuses: .statusCodeDistribution,
            transport_errors: (.errorDistribution | with_entries(select(.key | test("deadline") | not)))
        }' <<<"$raw")
    else
        local raw
        raw=$(WRK_METHOD=$method WRK_BODY=$body "${LOAD_ON[@]}" wrk -t "$WRK_THREADS" -c "$CONCURRENCY" -d "${DURATION}s" \
            -s "$ROOT/bench/wrk-report.lua" "${hargs[@]}" "$url" | grep '^{')
        # wrk only counts answers of 400 and above: for an expected 4xx the
        # errors are the answers below 400.
        json=$(jq -c --arg ok "$expected" '. + {
            errors: ((if ($ok | tonumber) >= 400 then .requests - .status_4xx_5xx else .status_4xx_5xx end)
                     + .socket_errors),
            statuses: {"4xx/5xx": .status_4xx_5xx}
        }' <<<"$raw")
    fi
    record "$size" "$scenario" "$json" "$pid"
}

run_loadgen() { # size scenario pid [loadgen args...]
    local size=$1 scenario=$2 pid=$3
    shift 3
    wait_quiet
    reset_peak "$pid"
    local json
    json=$("${LOAD_ON[@]}" "$LOADGEN" --base "http://127.0.0.1:$PORT" --concurrency "$CONCURRENCY" \
        --seconds "$DURATION" "$@")
    record "$size" "$scenario" "$json" "$pid"
}

token_for() { # client_id secret
    curl -sf -X POST "http://127.0.0.1:$PORT/oauth/token" -u "$1:$2" \
        -d grant_type=client_credentials | jq -r .access_token
}

# --- the ceiling -------------------------------------------------------
measure_hello() { # size
    "${SERVER_ON[@]}" "$HELLO" "127.0.0.1:$HELLO_PORT" "$WORKERS" >/dev/null 2>&1 &
    local pid=$!
    wait_ready "http://127.0.0.1:$HELLO_PORT/readyz" >/dev/null
    run_fixed "$1" hello "$pid" 200 "http://127.0.0.1:$HELLO_PORT/hello"
    run_fixed "$1" hello_blocking "$pid" 200 "http://127.0.0.1:$HELLO_PORT/hello-blocking"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

# The least code doing the same reads on the same file (examples/floor.rs):
# what the first page and the organization cost with nothing of enlist's.
measure_floor() { # size db key
    "${SERVER_ON[@]}" "$FLOOR" "$2" "127.0.0.1:$HELLO_PORT" "$WORKERS" >/dev/null 2>&1 &
    local pid=$!
    wait_ready "http://127.0.0.1:$HELLO_PORT/readyz" >/dev/null
    run_fixed "$1" floor_first_page "$pid" 200 "http://127.0.0.1:$HELLO_PORT/v1/organization/invitations" -H "X-API-Key: $3"
    run_fixed "$1" floor_organization "$pid" 200 "http://127.0.0.1:$HELLO_PORT/v1/organization" -H "X-API-Key: $3"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

# --- PostgreSQL --------------------------------------------------------
PG_BIN=
PG_DATA=$WORK/pg/data
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
start_postgres() {
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    [[ -x $PG_BIN/initdb ]] || { log "BACKEND=postgres needs Debian's postgresql package"; exit 1; }
    rm -rf "$WORK/pg"; mkdir -p "$WORK/pg"
    [[ $(id -u) == 0 ]] && chown postgres "$WORK/pg"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --locale=C >/dev/null
    # Default durability (fsync on, synchronous_commit on): figures a
    # deployment would see, on the server's core.
    as_postgres "${SERVER_ON[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$WORK/pg/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $WORK/pg -c max_connections=200" start >/dev/null
    log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}
stop_postgres() {
    [[ -n $PG_BIN ]] && as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null 2>&1 || true
}
pg_url() { echo "postgres://postgres@127.0.0.1:$PG_PORT/enlist_$1"; }

# --- one size ----------------------------------------------------------
bench_size() { # invitations
    local size=$1
    local db=$WORK/enlist-$size.db serverlog=$WORK/server-$size.log
    rm -f "$db" "$db-wal" "$db-shm" "$serverlog"
    log "size $size: seeding (measured org $size invitations, $OTHER_ORGS others with $OTHER_INVITATIONS, $MEMBERS members each, accept pool $ACCEPT_POOL)"
    local seed
    seed=$("$ENLIST" --database "$db" dev seed --orgs $((OTHER_ORGS + 1)) \
        --invitations "$size" --other-invitations "$OTHER_INVITATIONS" --members "$MEMBERS" \
        --accept-pool "$ACCEPT_POOL" --accept-pool-out "$WORK/accept-$size.txt")
    echo "$seed" >"$WORK/seed-$size.json"
    local seconds key
    seconds=$(jq .seconds <<<"$seed")
    key=$(jq -r .apiKey <<<"$seed")
    log "size $size: seeded in ${seconds}s ($(du -h "$db" | cut -f1))"
    jq -c --arg size "$size" --argjson s "$seconds" --arg bytes "$(stat -c %s "$db")" \
        -n '{size: ($size | tonumber), scenario: "seed", seed_seconds: $s, db_bytes: ($bytes | tonumber)}' >>"$RESULTS"

    DB_URL=
    if [[ $BACKEND == postgres ]]; then
        as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "enlist_$size"
        DB_URL=$(pg_url "$size")
        local copy_start copy_end
        copy_start=$(date +%s%N)
        "$ENLIST" --database "$db" copy --to "$DB_URL" >"$WORK/copy-$size.json"
        copy_end=$(date +%s%N)
        log "size $size: copied to PostgreSQL in $(((copy_end - copy_start) / 1000000)) ms"
        as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "enlist_$size" -qc "VACUUM ANALYZE" >/dev/null
    fi
    measure_hello "$size"
    [[ $BACKEND == sqlite ]] && measure_floor "$size" "$db" "$key"

    # Cold start to ready on the existing database, three times (median kept).
    local starts=()
    for _ in 1 2 3; do
        start_server "$db" "$serverlog"
        starts+=("$READY_MS")
        stop_server
    done
    local cold
    cold=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 2p)
    log "size $size: cold start to ready ${starts[*]} ms (median $cold)"
    jq -c -n --arg size "$size" --argjson ms "$cold" --arg all "${starts[*]}" \
        '{size: ($size | tonumber), scenario: "cold_start", ready_ms: $ms, all: $all}' >>"$RESULTS"

    start_server "$db" "$serverlog"
    local pid=$SERVER_PID api=http://127.0.0.1:$PORT
    local invitee_token acceptor_token
    invitee_token=$(token_for "$(jq -r .inviteeClient.clientId <<<"$seed")" "$(jq -r .inviteeClient.clientSecret <<<"$seed")")
    acceptor_token=$(token_for "$(jq -r .acceptPool.clientId <<<"$seed")" "$(jq -r .acceptPool.clientSecret <<<"$seed")")
    local total
    total=$(curl -sf "$api/v1/organization/invitations?limit=1" -H "X-API-Key: $key" | jq .totalCount)

    run_fixed "$size" list_first_page "$pid" 200 "$api/v1/organization/invitations?limit=100" -H "X-API-Key: $key"
    run_fixed "$size" list_status_pending "$pid" 200 "$api/v1/organization/invitations?limit=100&status=PENDING" -H "X-API-Key: $key"
    run_fixed "$size" list_include_expired "$pid" 200 "$api/v1/organization/invitations?limit=100&includeExpired=true" -H "X-API-Key: $key"
    run_fixed "$size" list_users "$pid" 200 "$api/v1/organization/users?limit=100" -H "X-API-Key: $key"
    # Search and cursors (issue 27): one exact address, from the middle of
    # the list; and the page a cursor 100 000 rows deep continues to (the
    # middle at sizes below that), the cursor taken once from the offset
    # page ending there. Both should cost what the first page costs.
    local probe_email deep_offset deep_cursor
    probe_email=$(curl -sf "$api/v1/organization/invitations?limit=1&offset=$((total / 2))" -H "X-API-Key: $key" \
        | jq -r '.items[0].inviteeEmail // empty')
    [[ -n $probe_email ]] || { log "size $size: no invitation to search for"; exit 1; }
    run_fixed "$size" search_email "$pid" 200 \
        "$api/v1/organization/invitations?limit=100&email=$(jq -rn --arg e "$probe_email" '$e | @uri')" -H "X-API-Key: $key"
    deep_offset=$((total > 100100 ? 100000 - 100 : total / 2))
    deep_cursor=$(curl -sf "$api/v1/organization/invitations?limit=100&offset=$deep_offset" -H "X-API-Key: $key" \
        | jq -r '.nextCursor // empty')
    [[ -n $deep_cursor ]] || { log "size $size: no nextCursor at offset $deep_offset"; exit 1; }
    run_fixed "$size" cursor_page_at_1M "$pid" 200 "$api/v1/organization/invitations?limit=100&after=$deep_cursor" -H "X-API-Key: $key"
    run_fixed "$size" organization "$pid" 200 "$api/v1/organization" -H "X-API-Key: $key"
    # Beside the organization read: one member's role and what it grants
    # (two primary-key lookups), the answer an app asks before it acts.
    local admin_id
    admin_id=$(jq -r '.organizations[0].adminUserId' <<<"$seed")
    run_fixed "$size" permission_check "$pid" 200 "$api/v1/organization/permissions/check" -m POST \
        -H "X-API-Key: $key" -T application/json \
        -d "{\"userId\": $admin_id, \"permissions\": [\"members:manage\", \"invoices:read\"]}"
    run_fixed "$size" invitee_list "$pid" 200 "$api/invitations" -H "Authorization: Bearer $invitee_token"
    run_fixed "$size" token_client_credentials "$pid" 200 "$api/oauth/token" -m POST \
        -a "$(jq -r .inviteeClient.clientId <<<"$seed"):$(jq -r .inviteeClient.clientSecret <<<"$seed")" \
        -T application/x-www-form-urlencoded -d grant_type=client_credentials
    run_fixed "$size" invalid_api_key "$pid" 401 "$api/v1/organization/invitations?limit=100" \
        -H "X-API-Key: enl_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
    run_loadgen "$size" create_invitation "$pid" --mode create --api-key "$key"
    run_loadgen "$size" revoke "$pid" --mode revoke --api-key "$key" --pool "$REVOKE_POOL"
    run_loadgen "$size" accept "$pid" --mode accept --token "$acceptor_token" --uuids-file "$WORK/accept-$size.txt"

    # Last: the deep page leaves the server with more threads and memory
    # (see ANALYSIS.md), which would show in every later scenario's peak RSS.
    if ((total > 100000)); then
        run_fixed "$size" list_offset_100000 "$pid" 200 "$api/v1/organization/invitations?limit=100&offset=100000" -H "X-API-Key: $key"
    else
        log "size $size: skipping the deep page (totalCount $total ≤ 100000)"
    fi
    if [[ $BACKEND == postgres ]]; then
        two_nodes "$size" "$pid" "$key" "$serverlog"
    fi
    local five_hundreds
    five_hundreds=$(grep -c 'status=5[0-9][0-9]\|"status":5[0-9][0-9]' "$serverlog" || true)
    jq -c -n --arg size "$size" --argjson n "${five_hundreds:-0}" \
        '{size: ($size | tonumber), scenario: "server_5xx_log_lines", count: $n}' >>"$RESULTS"
    stop_server
}

# Two nodes on one database, each with its own load generator at half the
# concurrency, at the same time; the figure is their sum.
two_nodes() { # size pid key serverlog
    local size=$1 key=$3
    start_second_node "$DB_URL" "$4"
    local api1=http://127.0.0.1:$PORT api2=http://127.0.0.1:$PORT2 half=$((CONCURRENCY / 2))
    record_two "$size" two_nodes_list_first_page "$api1/v1/organization/invitations?limit=100" \
        "$api2/v1/organization/invitations?limit=100" "$key"
    record_two "$size" two_nodes_organization "$api1/v1/organization" "$api2/v1/organization" "$key"
    wait_quiet
    "$LOADGEN" --base "$api1" --concurrency "$half" --seconds "$DURATION" --mode create --api-key "$key" >"$WORK/two-a.json" &
    local g=$!
    "$LOADGEN" --base "$api2" --concurrency "$half" --seconds "$DURATION" --mode create --api-key "$key" >"$WORK/two-b.json"
    wait "$g" || true
    jq -c -s --arg size "$size" --argjson busy "$BUSY" \
        '{size: ($size | tonumber), scenario: "two_nodes_create_invitation", rps: (.[0].rps + .[1].rps),
          p50_ms: ([.[0].p50_ms, .[1].p50_ms] | max), p99_ms: ([.[0].p99_ms, .[1].p99_ms] | max),
          p999_ms: ([.[0].p999_ms, .[1].p999_ms] | max), errors: (.[0].errors + .[1].errors),
          rss_kib: 0, busy: $busy}' "$WORK/two-a.json" "$WORK/two-b.json" >>"$RESULTS"
    kill "$NODE2_PID" 2>/dev/null || true; wait "$NODE2_PID" 2>/dev/null || true
}

# Both nodes driven at once by wrk, one process each; rps summed.
record_two() { # size scenario url1 url2 key
    local half=$((CONCURRENCY / 2))
    wait_quiet
    wrk -t1 -c "$half" -d "${DURATION}s" -s "$ROOT/bench/wrk-report.lua" -H "X-API-Key: $5" "$3" | grep '^{' >"$WORK/two-a.json" &
    local first=$!
    wrk -t1 -c "$half" -d "${DURATION}s" -s "$ROOT/bench/wrk-report.lua" -H "X-API-Key: $5" "$4" | grep '^{' >"$WORK/two-b.json"
    wait "$first" || true
    jq -c -s --arg size "$1" --arg scenario "$2" --argjson busy "$BUSY" \
        '{size: ($size | tonumber), scenario: $scenario, rps: (.[0].rps + .[1].rps),
          p50_ms: ([.[0].p50_ms, .[1].p50_ms] | max), p99_ms: ([.[0].p99_ms, .[1].p99_ms] | max),
          p999_ms: ([.[0].p999_ms, .[1].p999_ms] | max),
          errors: (.[0].status_4xx_5xx + .[1].status_4xx_5xx + .[0].socket_errors + .[1].socket_errors),
          rss_kib: 0, busy: $busy}' "$WORK/two-a.json" "$WORK/two-b.json" >>"$RESULTS"
    jq -r '"  \(.scenario): \(.rps | floor) req/s (two nodes), p99 \(.p99_ms) ms, errors \(.errors)"' <<<"$(tail -n 1 "$RESULTS")" >&2
}

[[ $BACKEND == postgres ]] && { start_postgres; trap 'cleanup; stop_postgres' EXIT; }
log "work folder $WORK; backend $BACKEND; sizes $SIZES; ${DURATION}s per scenario at concurrency $CONCURRENCY"
for size in $SIZES; do
    bench_size "$size"
done

# --- the report --------------------------------------------------------
COMMIT=$(git rev-parse --short HEAD)
if ! git diff --quiet HEAD -- src Cargo.toml Cargo.lock schema.sql examples 2>/dev/null; then
    COMMIT="$COMMIT (with uncommitted changes)"
fi
{
    echo "# enlist benchmark results"
    echo
    echo "Generated by \`$COMMAND_LINE\` (settings: SIZES=\"$SIZES\" DURATION=$DURATION CONCURRENCY=$CONCURRENCY"
    echo "OTHER_ORGS=$OTHER_ORGS OTHER_INVITATIONS=$OTHER_INVITATIONS MEMBERS=$MEMBERS ACCEPT_POOL=$ACCEPT_POOL)."
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "- commit: $COMMIT"
    echo "- cores (\`nproc\`): $(nproc); CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    if [[ $BACKEND == postgres ]]; then
        echo "- backend: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') (Debian), a local cluster with default durability (fsync, synchronous_commit on), pinned with the server; each size seeded as SQLite and moved with 'enlist copy'; *peak RSS* is enlist's alone; *two_nodes_** rows: a second 'enlist serve' on the same database, each node driven by its own load generator at half the concurrency at once, figures summed, nothing pinned"
    fi
    echo "- load generator: $(if [[ $LOADTOOL == oha ]]; then oha --version | head -n1; else wrk --version 2>&1 | head -n1; fi) for fixed requests; examples/loadgen.rs (reqwest) for create, revoke, accept"
    if [[ $PINNED == 1 ]]; then
        echo "- pinned: server and hello ceiling on core $SERVER_CPU (\`taskset\`, $WORKERS worker), load generator on core $LOAD_CPU ($LOADTOOL, $WRK_THREADS thread for fixed requests)"
        echo "- server: \`enlist serve\` with built-in defaults otherwise (8 read connections, log level info) on 127.0.0.1"
    else
        echo "- server: \`enlist serve\` with built-in defaults (workers = cores, 8 read connections, log level info) on 127.0.0.1; load generator on the same machine, unpinned"
    fi
    echo
    echo "Latencies in milliseconds. *vs hello* is requests/s as a share of the minimal actix-web"
    echo "JSON endpoint (examples/hello.rs) measured in the same size's run; *hello_blocking* is"
    echo "that endpoint answering from the blocking thread pool, the ceiling of any endpoint that"
    echo "makes one database call (enlist never runs SQLite on the async executor); *floor_first_page*"
    echo "and *floor_organization* are examples/floor.rs, the least code doing those two reads on the"
    echo "same database file (key check, counters, 100 rows; key check, one row), nothing of enlist's"
    echo "around them. *errors* counts answers"
    echo "other than the expected status (401 for the invalid key, 2xx elsewhere). *peak RSS* is the"
    echo "server's VmHWM during that scenario alone (reset before each). *busy* is how much of the"
    echo "machine other processes used in the second before the scenario."
    for size in $SIZES; do
        echo
        echo "## $size invitations in the measured organization"
        echo
        jq -r --arg size "$size" -s '
            map(select(.size == ($size | tonumber))) as $rows
            | ($rows | map(select(.scenario == "seed"))[0]) as $seed
            | ($rows | map(select(.scenario == "cold_start"))[0]) as $cold
            | ($rows | map(select(.scenario == "server_5xx_log_lines"))[0]) as $five
            | "Seeded in \($seed.seed_seconds) s (database \($seed.db_bytes / 1048576 | floor) MiB); cold start to ready \($cold.ready_ms) ms (runs: \($cold.all) ms); server log lines with a 5xx: \($five.count // "n/a").\n"' \
            "$RESULTS"
        echo "| scenario | req/s | vs hello | p50 | p99 | p99.9 | errors | peak RSS MiB | busy % |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        jq -r --arg size "$size" -s '
            map(select(.size == ($size | tonumber) and .rps != null)) as $rows
            | ($rows | map(select(.scenario == "hello"))[0].rps) as $hello
            | $rows[]
            | "| \(.scenario)\(if .exhausted == true then " (work ran out)" else "" end) | \(.rps | floor) | \(.rps / $hello * 100 | round)% | \(.p50_ms * 100 | round / 100) | \(.p99_ms * 100 | round / 100) | \(.p999_ms * 100 | round / 100) | \(.errors)\(if .errors > 0 then " " + (.statuses | tostring) else "" end) | \(.rss_kib / 1024 * 10 | round / 10) | \(.busy) |"' \
            "$RESULTS"
    done
    echo
    echo "Raw figures: \`$RESULTS\` during the run. Analysis against the targets: [ANALYSIS.md](ANALYSIS.md)."
} >"$OUT"
log "wrote $OUT"
