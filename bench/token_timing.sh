#!/usr/bin/env bash
# Token verification timing, against a release build.
#
# Requirement under test: "token verification for an unknown id, a known id
# with the wrong secret, and a valid token take indistinguishable time."
#
# What it does:
#   1. cargo build --release, and the example `token_timing`.
#   2. Function level (the sensitive measurement): runs the example, which
#      calls tokens::verify directly on a fresh SQLite file holding 1001
#      tokens, $PER_KIND times per kind, the kinds interleaved at random.
#   3. HTTP level: starts `scimitar serve` on a fresh SQLite file, creates an
#      organization SAT with the CLI, and times GET /api/v1/tokens/self with
#      the three kinds ($HTTP_PER_KIND each, interleaved, one keep-alive
#      connection). The valid token also runs the handler and writes its
#      audit record through the group-commit writer; the two refusals each
#      write an `auth.denied` record alone. So the HTTP comparison that
#      matters is unknown id against wrong secret. It then checks in the
#      database that the unknown ids were refused as `unknown_token` (not as
#      malformed) and the wrong secrets as `bad_secret`.
#   4. Summarises both with lib/timing_stats.py (median, p90, p99, IQR;
#      Mann-Whitney U and Kolmogorov-Smirnov between each pair) and writes
#      bench/results/token_timing-<date>.md.
#
# Environment:
#   PER_KIND=20000       function-level calls per kind
#   HTTP_PER_KIND=3000   HTTP requests per kind
#   KEEP=1               keep the temp dir (samples, database, server log)
#
# Reading the result: with tens of thousands of samples a Mann-Whitney test
# detects differences far below what a remote attacker can see through
# network jitter; the table gives the size of the difference (Δ median in
# µs, and relative to the spread) next to its significance.
set -euo pipefail

PER_KIND=${PER_KIND:-20000}
HTTP_PER_KIND=${HTTP_PER_KIND:-3000}
KEEP=${KEEP:-0}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

log "cargo build --release --example token_timing"
(cd "$ROOT" && cargo build --release --quiet --example token_timing) || die "build the example"
EXAMPLE=$ROOT/target/release/examples/token_timing

work_dir token_timing
DB="$TMP/timing.db"
DB_URL="sqlite://$DB"

# --- function level -------------------------------------------------------------
log "function level: $PER_KIND calls of tokens::verify per kind"
TMPDIR="$TMP" "$EXAMPLE" "$PER_KIND" >"$TMP/function.csv" || die "the example failed"

# --- HTTP level -----------------------------------------------------------------
export SCIMITAR_DATABASE_URL="$DB_URL"
"$BIN" --json org create timing >/dev/null || die "org create"
TOKEN=$("$BIN" --json token create --org timing --name timing --permission audit_logs:read |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || die "token create"

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
log "starting the server on $BASE"
# The bench sends thousands of refused credentials on purpose: the abuse
# limits (README) would answer them 429 before verification is reached.
SCIMITAR_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" \
	--rate-limit-per-token 0 --rate-limit-per-address 0 \
	--auth-failure-limit-per-address 0 --auth-failure-limit-per-token 0 >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
await_server "$TMP/server.log"

log "HTTP level: $HTTP_PER_KIND requests per kind"
python3 "$LIB/token_timing_http.py" "$BASE" "$TOKEN" "$HTTP_PER_KIND" >"$TMP/http.csv" ||
	die "the HTTP driver failed"

# The refusals were the intended ones.
python3 - "$DB" <<'EOF' || die "unexpected refusal reasons"
import collections, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
codes = collections.Counter(
    json.loads(c or "{}").get("reason_code")
    for (c,) in db.execute("SELECT changes FROM audit_events WHERE action = 'auth.denied'")
)
print("refusal reasons recorded:", dict(codes), file=sys.stderr)
assert set(codes) == {"unknown_token", "bad_secret"}, codes
EOF

# --- report -----------------------------------------------------------------------
mkdir -p "$HERE/results"
OUT="$HERE/results/token_timing-$(date -u +%Y-%m-%d-%H%M).md"
{
	echo "# Token verification timing"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "- commit: $COMMIT"
	echo "- machine: $(nproc) CPUs, $(uname -sr); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- function level: \`tokens::verify\` on SQLite with 1001 tokens, $PER_KIND calls per kind, interleaved at random"
	echo "- HTTP level: \`GET /api/v1/tokens/self\` on one keep-alive connection, $HTTP_PER_KIND requests per kind, interleaved at random"
	echo
	python3 "$LIB/timing_stats.py" "Function level (tokens::verify)" "$TMP/function.csv"
	python3 "$LIB/timing_stats.py" "HTTP level (client-side round trip)" "$TMP/http.csv"
} >"$OUT"
cat "$OUT"
log "wrote $OUT"
