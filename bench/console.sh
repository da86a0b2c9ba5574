#!/usr/bin/env bash
# The admin console's pages under load: what one server core serves of
# the overview, the invitation list (25 rows, the console's default, and
# 100) and the member list, signed in as the seeded organization's admin,
# beside the hello ceiling measured the same way in the same run. Writes
# bench/RESULTS-console.md. Rerunnable; bounded in time (about a minute).
#
#   bench/console.sh
#   SIZE=1000000 DURATION=5 bench/console.sh
#
# Pinned as bench/run.sh is: server (and hello) on core 0 with one worker,
# wrk -t1 -c32 on core 1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZE=${SIZE:-1000}
DURATION=${DURATION:-5}
PORT=${PORT:-18180}
HELLO_PORT=${HELLO_PORT:-18190}
WORK=${WORK:-/tmp/enlist-bench-console}
OUT=${OUT:-$ROOT/bench/RESULTS-console.md}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
RELEASE=$CARGO_TARGET_DIR/release
log() { printf '[console bench %s] %s\n' "$(date +%T)" "$*" >&2; }
for tool in curl jq wrk taskset; do
    command -v "$tool" >/dev/null || { log "installing $tool"; apt-get install -y -qq "$([[ $tool == taskset ]] && echo util-linux || echo "$tool")" >/dev/null; }
done
[[ ${BUILD:-1} == 1 ]] && cargo build --release --locked --bin enlist --example hello
ENLIST=$RELEASE/enlist
rm -rf "$WORK" && mkdir -p "$WORK"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
ready() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return; sleep 0.1; done; log "$1 never answered"; exit 1; }

db=$WORK/enlist.db
log "seeding $SIZE invitations"
seed=$("$ENLIST" --database "$db" dev seed --orgs 1 --invitations "$SIZE" --members 200)
key=$(jq -r .apiKey <<<"$seed")
uuid=$(jq -r '.organizations[0].uuid' <<<"$seed")
admin_id=$(jq -r '.organizations[0].adminUserId' <<<"$seed")

ENLIST_SERVER__WORKERS=1 ENLIST_DATABASE__PATH=$db ENLIST_LIMITS__ADMIN_PER_MINUTE=0 \
    taskset -c 0 "$ENLIST" serve --bind "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
ready "http://127.0.0.1:$PORT/readyz"
base=http://127.0.0.1:$PORT
email=$(curl -sf -H "X-API-Key: $key" "$base/v1/organization/users?limit=1000" \
    | jq -r --argjson id "$admin_id" '.items[] | select(.id == $id) | .email')
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" | "$ENLIST" --database "$db" user set-password --email "$email" --password-stdin >/dev/null
ENLIST_SERVER__WORKERS=1 ENLIST_DATABASE__PATH=$db ENLIST_LIMITS__ADMIN_PER_MINUTE=0 \
    taskset -c 0 "$ENLIST" serve --bind "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
ready "$base/readyz"

# Sign in as a browser does: the form's CSRF token and cookie, then the post.
jar=$WORK/jar
csrf=$(curl -sf -c "$jar" "$base/admin" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -sf -b "$jar" -c "$jar" -o /dev/null -X POST "$base/admin" \
    --data-urlencode "csrf_token=$csrf" --data-urlencode "email=$email" --data-urlencode "password=$password"
session=$(awk '$6 == "enlist_session" { print $7 }' "$jar")
[[ -n $session ]] || { log "sign-in failed"; exit 1; }
cookie="Cookie: enlist_session=$session"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "$cookie" "$base/admin/orgs/$uuid")
[[ $status == 200 ]] || { log "overview answered $status"; exit 1; }

taskset -c 0 "$RELEASE/examples/hello" "127.0.0.1:$HELLO_PORT" 1 >/dev/null 2>&1 &
PIDS+=($!)
ready "http://127.0.0.1:$HELLO_PORT/readyz"

run() { # name url [header]
    local out
    out=$(taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" --latency ${3:+-H "$3"} "$2")
    local rps p50 p99 non2xx
    rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
    echo "$1|$rps|$p50|$p99|${non2xx:-0}"
}
rows=()
rows+=("$(run hello "http://127.0.0.1:$HELLO_PORT/hello")")
rows+=("$(run overview "$base/admin/orgs/$uuid" "$cookie")")
rows+=("$(run "invitations, 25 rows" "$base/admin/orgs/$uuid/invitations" "$cookie")")
rows+=("$(run "invitations, 100 rows" "$base/admin/orgs/$uuid/invitations?limit=100" "$cookie")")
rows+=("$(run "members, 25 rows" "$base/admin/orgs/$uuid/members" "$cookie")")
rows+=("$(run "JSON API first page (100)" "$base/v1/organization/invitations" "X-API-Key: $key")")
hello=$(cut -d'|' -f2 <<<"${rows[0]}")
{
    echo "# Admin console pages under load"
    echo
    echo "\`bench/console.sh\` (SIZE=$SIZE, DURATION=$DURATION s), $(date -u +%Y-%m-%d), $(nproc) cores; server and hello"
    echo "ceiling on core 0 (one worker), \`wrk -t1 -c32\` on core 1; signed in as the seeded admin (one session"
    echo "cookie); the organization has $SIZE invitations and 200 members."
    echo
    echo "| page | req/s | vs hello | p50 | p99 | non-2xx |"
    echo "|---|---:|---:|---:|---:|---:|"
    for row in "${rows[@]}"; do
        IFS='|' read -r name rps p50 p99 bad <<<"$row"
        share=$(awk -v r="$rps" -v h="$hello" 'BEGIN { printf "%.1f%%", r / h * 100 }')
        echo "| $name | ${rps%.*} | $share | $p50 | $p99 | $bad |"
    done
} >"$OUT"
cat "$OUT"
