#!/usr/bin/env bash
# Where a release server spends its time under one SCIM scenario: a CPU
# profile (`perf record -g`) of the running server while wrk drives it.
#
#   bench/profile.sh SCENARIO [DATABASE_URL]
#     SCENARIO: get_id | filter | list | patch | create
#     DATABASE_URL: a fresh SQLite file in a temp dir by default; a
#       postgres://… URL is used as given (its database is dropped and
#       created afresh).
#
# What it does: builds the release binary, starts `scimitar serve` with the
# abuse limits off, seeds $USERS users through /Bulk, runs wrk with
# $CONNECTIONS connections for $DURATION seconds, records the server with
# `perf record -g` during the middle of that run, and prints the wrk result
# and the top of `perf report` (self time, by symbol; then by shared object,
# which shows the kernel's share). KEEP=1 keeps the temp dir with perf.data.
#
# Environment: USERS=2000 DURATION=12 CONNECTIONS=4 PERF_SECONDS=6
set -euo pipefail

SCENARIO=${1:?usage: bench/profile.sh get_id|filter|list|patch|create [DATABASE_URL]}
USERS=${USERS:-2000}
DURATION=${DURATION:-12}
CONNECTIONS=${CONNECTIONS:-4}
PERF_SECONDS=${PERF_SECONDS:-6}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
command -v perf >/dev/null || die "perf is required (Debian: linux-perf)"

work_dir profile
DB_URL=${2:-sqlite://$TMP/profile.db}
start_bench_server "$DB_URL"

log "seeding $USERS users through /Bulk"
seed_users "$USERS"
scenario_args "$SCENARIO"

log "wrk: $SCENARIO, $CONNECTIONS connections, ${DURATION}s; perf for ${PERF_SECONDS}s"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "${ARGS[0]}" "$BASE" -- "${ARGS[@]:1}" \
	>"$TMP/wrk.txt" 2>&1 &
WRK_PID=$!
sleep $(((DURATION - PERF_SECONDS) / 2))
perf record -g -o "$TMP/perf.data" -p "$SERVER_PID" -- sleep "$PERF_SECONDS" 2>"$TMP/perf.log" >/dev/null
wait "$WRK_PID"

echo "## $SCENARIO on ${DB_URL%%:*}, $USERS users, $CONNECTIONS connections (commit $COMMIT)"
echo
echo '```'
grep -E "Requests/sec|Latency  |Non-2xx" "$TMP/wrk.txt"
echo '```'
echo
echo "Self time by shared object:"
echo
echo '```'
perf report -i "$TMP/perf.data" --no-children --sort dso --stdio 2>/dev/null |
	grep -E '^ +[0-9]' | head -8
echo '```'
echo
echo "Self time by symbol (top 25):"
echo
echo '```'
perf report -i "$TMP/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
	grep -E '^ +[0-9]' | head -25 | cut -c1-150
echo '```'
