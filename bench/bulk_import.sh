#!/usr/bin/env bash
# Bulk import throughput: $USERS users through POST /scim/v2/Bulk, 1,000
# operations a request, one request at a time, against a release build on
# a fresh database.
#
#   bench/bulk_import.sh [DATABASE_URL]
#     DATABASE_URL: a fresh SQLite file in a temp dir by default; a
#       postgres://… URL is used as given (its database is dropped and
#       created afresh).
#
# Prints the users per second of the import (the server's wall time from
# the first request to the last answer) and checks every operation got 201.
# Environment: USERS=20000 KEEP=1 (keep the temp dir)
set -euo pipefail

USERS=${USERS:-20000}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

work_dir bulk_import
DB_URL=${1:-sqlite://$TMP/import.db}
if [[ "$DB_URL" == postgres* ]]; then
	command -v psql >/dev/null || die "psql is required for PostgreSQL"
	psql "${DB_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS ${DB_URL##*/}" \
		-c "CREATE DATABASE ${DB_URL##*/}" >/dev/null
fi
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
"$BIN" serve --listen "127.0.0.1:$PORT" --database-url "$DB_URL" \
	--rate-limit-per-token 0 --rate-limit-per-address 0 >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
await_server "$TMP/server.log"
TOKEN=$("$BIN" --json token create --org default --name import \
	--permission scim:read --permission scim:write --database-url "$DB_URL" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || die "token create"

python3 "$LIB/scim_bulk.py" gen "$TMP/bulk" "$USERS" 1000 >&2
mkdir -p "$TMP/bulk-resp"
start=$(date +%s.%N)
for f in "$TMP"/bulk/bulk-*.json; do
	curl -fsS -X POST "$BASE/scim/v2/Bulk" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/scim+json' --data-binary "@$f" \
		-o "$TMP/bulk-resp/$(basename "$f")" || die "bulk request $f"
done
end=$(date +%s.%N)
python3 "$LIB/scim_bulk.py" ids "$TMP/bulk-resp" "$TMP/bulk/usernames.txt" "$TMP/ids.txt" \
	"$TMP/names.txt" >&2 || die "not every operation was created"
created=$(wc -l <"$TMP/ids.txt")
secs=$(awk "BEGIN { printf \"%.2f\", $end - $start }")
rate=$(awk "BEGIN { printf \"%.0f\", $created / ($end - $start) }")
echo "bulk import on ${DB_URL%%:*}: $created users in $secs s = $rate users/s (commit $COMMIT)"
