#!/usr/bin/env bash
# A quick A/B of one build on one request: serves a database bench/run.sh
# seeded (a copy of it) on core 0 and drives each given path with
# `wrk -t1 -c32` on core 1, printing the status and requests/s. Build a
# variant (cargo build --release --bin enlist), run this, change, rebuild,
# run again: the same database, the same pinning, seconds per figure.
#
#   bench/ab.sh                                        # the first page, once
#   bench/ab.sh '/v1/organization/invitations?limit=100' '/v1/organization'
#   SIZE=1000000 DURATION=10 bench/ab.sh …
#
# Settings (environment): SIZE (a size bench/run.sh seeded; default 1000),
# WORK (its scratch folder; default /tmp/enlist-bench), BIN (the server
# binary; default target/release/enlist), DURATION (seconds per path),
# PORT, LOG (the server's log level; default warn).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1000}
WORK=${WORK:-/tmp/enlist-bench}
BIN=${BIN:-target/release/enlist}
DURATION=${DURATION:-5}
PORT=${PORT:-18995}
LOG=${LOG:-warn}
seed=$WORK/seed-$SIZE.json
[[ -f $seed ]] || { echo "no $seed: run bench/run.sh (SIZES=\"$SIZE\") first" >&2; exit 2; }
key=$(jq -r .apiKey "$seed")
db=$(mktemp -d)/ab.db
cp "$WORK/enlist-$SIZE.db" "$db"
ENLIST_LIMITS__ADMIN_PER_MINUTE=0 ENLIST_LOG__LEVEL=$LOG \
    taskset -c 0 "$BIN" --database "$db" serve --bind "127.0.0.1:$PORT" >"$db.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$(dirname "$db")"' EXIT
for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
    sleep 0.1
done
for path in "${@:-/v1/organization/invitations?limit=100}"; do
    status=$(curl -s -o /dev/null -w "%{http_code}" -H "X-API-Key: $key" "http://127.0.0.1:$PORT$path")
    rate=$(taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" -H "X-API-Key: $key" \
        "http://127.0.0.1:$PORT$path" | awk '/Requests\/sec/ {print $2}')
    echo "$path: status $status, $rate req/s"
done
