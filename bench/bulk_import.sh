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
start_bench_server "$DB_URL"
TOKEN=$SCIM_TOKEN

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
