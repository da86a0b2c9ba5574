#!/usr/bin/env bash
# Delivery figures for the event log and webhooks, rerunnable and bounded:
#   events/s into the log: 500-invitation bulk requests (each invitation is
#     one event and one queued message, in the request's one transaction);
#   deliveries/s: EVENTS events queued for ENDPOINTS endpoints (each endpoint
#     wants every invitation.created), drained to a local receiver
#     (examples/webhook_sink.rs) while nothing else runs, from the first
#     delivery to the last.
# The server is pinned to core 0 (one worker), the receiver and the client to
# core 1. Appends its table to bench/RESULTS-webhooks.md.
#
#   bench/webhooks.sh                     # ENDPOINTS="1 8" EVENTS=5000
#   ENDPOINTS=4 EVENTS=2000 bench/webhooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ENDPOINTS=${ENDPOINTS:-"1 8"}
EVENTS=${EVENTS:-5000}
PORT=${PORT:-18080}
SINK_PORT=${SINK_PORT:-18095}
WORK=${WORK:-/tmp/enlist-webhook-bench}
OUT=${OUT:-$ROOT/bench/RESULTS-webhooks.md}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

if [[ ${BUILD:-1} == 1 ]]; then
    cargo build --release --locked --bin enlist --example webhook_sink
fi
BIN=$TARGET/release/enlist
SINK=$TARGET/release/examples/webhook_sink

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

now_ms() { date +%s%3N; }
wait_http() {
    for _ in $(seq 1 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "no answer from $1" >&2; exit 1
}

taskset -c 1 "$SINK" "127.0.0.1:$SINK_PORT" & PIDS+=($!)
wait_http "http://127.0.0.1:$SINK_PORT/count"

rows=()
for endpoints in $ENDPOINTS; do
    rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
    export ENLIST_DATABASE="$WORK/enlist.db"
    "$BIN" init >/dev/null
    org=$("$BIN" org create --name Bench --admin-email admin@bench.test)
    org_id=$(echo "$org" | python3 -c 'import json,sys; print(json.load(sys.stdin)["organization"]["id"])')
    admin_id=$(echo "$org" | python3 -c 'import json,sys; print(json.load(sys.stdin)["admin"]["id"])')
    key=$("$BIN" api-key create --org "$org_id" --user "$admin_id" \
        --scopes invitations:write,webhooks:write,events:read \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
    ENLIST_WEBHOOKS__ALLOW_HTTP_LOOPBACK=true ENLIST_LIMITS__ADMIN_PER_MINUTE=0 \
    ENLIST_INVITATIONS__MESSAGES_PER_ORG_PER_HOUR=0 ENLIST_SERVER__WORKERS=1 \
    ENLIST_LOG__LEVEL=warn \
        taskset -c 0 "$BIN" serve --bind "127.0.0.1:$PORT" 2>"$WORK/serve.log" & PIDS+=($!)
    wait_http "http://127.0.0.1:$PORT/healthz"
    api() { curl -fsS -H "X-API-Key: $key" -H 'Content-Type: application/json' "$@"; }
    for n in $(seq 1 "$endpoints"); do
        api -X POST "http://127.0.0.1:$PORT/v1/organization/webhooks" \
            -d "{\"url\":\"http://127.0.0.1:$SINK_PORT/hook$n\",\"events\":[\"invitation.created\"],\"enabled\":false}" >/dev/null
    done
    # Events into the log: bulk requests of 500 while no endpoint is enabled.
    batches=$(( (EVENTS + 499) / 500 ))
    started=$(now_ms)
    for b in $(seq 1 "$batches"); do
        python3 - "$b" >"$WORK/bulk.json" <<'PY'
import json, sys
b = int(sys.argv[1])
print(json.dumps({"items": [{"inviteeEmail": f"p{b}-{i}@bench.test", "role": "MEMBER"} for i in range(500)]}))
PY
        api -X POST "http://127.0.0.1:$PORT/v1/organization/invitations/bulk" --data-binary @"$WORK/bulk.json" >/dev/null
    done
    logged_ms=$(( $(now_ms) - started ))
    events=$(( batches * 500 ))
    # Deliveries: enable the endpoints and re-queue every invitation event for them.
    sqlite3 -cmd ".timeout 10000" "$WORK/enlist.db" "UPDATE webhook_endpoints SET enabled = 1;
        INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_attempt_at, created_at)
        SELECT w.id, e.id, 'pending', 0, 0 FROM webhook_endpoints w, events e
        WHERE e.type = 'invitation.created' ORDER BY w.id, e.id;"
    before=$(curl -fs "http://127.0.0.1:$SINK_PORT/count")
    expected=$(( before + events * endpoints ))
    started=$(now_ms)
    # The worker polls every second: the first look starts the clock.
    deadline=$(( started + 300000 ))
    first=""
    while :; do
        got=$(curl -fs "http://127.0.0.1:$SINK_PORT/count")
        if [[ -z $first && $got -gt $before ]]; then first=$(now_ms); fi
        [[ $got -ge $expected ]] && break
        [[ $(now_ms) -gt $deadline ]] && { echo "timed out: $got of $expected" >&2; exit 1; }
        sleep 0.05
    done
    drained_ms=$(( $(now_ms) - first ))
    delivered=$(( events * endpoints ))
    log_rate=$(( events * 1000 / logged_ms ))
    delivery_rate=$(( delivered * 1000 / (drained_ms > 0 ? drained_ms : 1) ))
    rows+=("| $endpoints | $events | $log_rate | $delivered | $drained_ms | $delivery_rate |")
    echo "endpoints=$endpoints events=$events log=${log_rate}/s delivered=$delivered in ${drained_ms} ms = ${delivery_rate}/s"
    kill "${PIDS[-1]}" && wait "${PIDS[-1]}" 2>/dev/null || true
    unset 'PIDS[-1]'
    cd "$ROOT"
done

{
    echo
    echo "## $(date -u +%Y-%m-%dT%H:%MZ) · $(git rev-parse --short HEAD) · \`bench/webhooks.sh\` (ENDPOINTS=\"$ENDPOINTS\" EVENTS=$EVENTS)"
    echo
    echo "Server pinned to core 0 (one worker, SQLite), receiver and client on core 1."
    echo
    echo "| endpoints | events | events/s into the log (bulk of 500) | deliveries | drained in ms | deliveries/s |"
    echo "|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
} >>"$OUT"
echo "appended to $OUT"
