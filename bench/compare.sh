#!/usr/bin/env bash
# scimitar against a bare reference server, on SQLite and on PostgreSQL,
# in one go, with the results written as Markdown.
#
#   BENCH_KIT=/path/to/kit bench/compare.sh
#
# The comparison kit is not part of this repository: it is a directory
# holding `compare` (which builds the reference, a bare axum + sqlx +
# SQLite Users server with one bearer check, one statement per read and one
# transaction with an audit row per write; starts each server on a fresh
# database; seeds users; drives the same five wrk scenarios against both;
# and prints req/s and the ratio scimitar / reference per scenario). This
# script runs it twice, once with scimitar on SQLite and once on
# PostgreSQL (the reference always runs on SQLite), then adds the Bulk
# import figure of `bench/bulk_import.sh` for each backend, and writes
# everything to bench/results/compare-<date>.md.
#
# Environment: USERS (10000), DURATION (10), passed on to the kit;
# PG_URL (postgres://postgres@127.0.0.1:5432/scimbench, dropped and made
# afresh); BULK_USERS (20000).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
KIT=${BENCH_KIT:?set BENCH_KIT to the directory holding the comparison kit}
[ -x "$KIT/compare" ] || { echo "no executable $KIT/compare" >&2; exit 2; }
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/scimbench}
export USERS=${USERS:-10000} DURATION=${DURATION:-10}
STAMP=$(date -u +%Y-%m-%d-%H%M)
OUT="$ROOT/bench/results/compare-$STAMP.md"
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT

cd "$ROOT"
echo "== SQLite" >&2
"$KIT/compare" 2>&1 | tee "$LOGS/sqlite.txt" >&2
echo "== PostgreSQL" >&2
SCIMITAR_DB="$PG_URL" "$KIT/compare" 2>&1 | tee "$LOGS/postgres.txt" >&2
echo "== Bulk import" >&2
BULK_SQLITE=$(USERS=${BULK_USERS:-20000} bench/bulk_import.sh 2>/dev/null | tail -1)
BULK_PG=$(USERS=${BULK_USERS:-20000} bench/bulk_import.sh "${PG_URL%/*}/scimbulk" 2>/dev/null | tail -1)

table() { sed -n '/^scimitar (/,/^seeding/p' "$1"; }
{
	echo "# scimitar against the reference server, $STAMP"
	echo
	echo "Commit $(git rev-parse --short=12 HEAD)$(git diff --quiet -- . ':!bench' || echo ' (with uncommitted changes)')," \
		"$(nproc) cores, $USERS users, $DURATION s per scenario. Ratios are scimitar / reference," \
		"measured in the same run; absolute figures move with the machine's load."
	echo
	echo "## SQLite"
	echo
	echo '```'
	table "$LOGS/sqlite.txt"
	echo '```'
	echo
	echo "## PostgreSQL (the reference on SQLite)"
	echo
	echo '```'
	table "$LOGS/postgres.txt"
	echo '```'
	echo
	echo "## Bulk import (bench/bulk_import.sh, ${BULK_USERS:-20000} users, 1,000 operations a request)"
	echo
	echo '```'
	echo "$BULK_SQLITE"
	echo "$BULK_PG"
	echo '```'
} >"$OUT"
echo "wrote $OUT" >&2
