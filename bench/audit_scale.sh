#!/usr/bin/env bash
# Audit Log API at scale, on SQLite, against a release build.
#
# Requirements under test:
#   - "With 1,000,000 records in an org, a filtered page takes under 20 ms in
#     the server."
#   - "Export of 1,000,000 records must not grow the process by more than a
#     few MiB." (judged here against 16 MiB)
#
# What it does:
#   1. cargo build --release (a no-op when up to date); installs wrk if missing.
#   2. Starts `scimitar serve` once on a fresh SQLite file in a temp dir, so
#      that it creates the schema and organization `default`, and stops it.
#   3. Seeds $RECORDS hash-chained audit records for `default` straight into
#      the file (bench/lib/audit_seed.py; seeding that many through the API
#      would take hours), and moves the chain head to the last one.
#   4. Starts the server again on that file, creates an org SAT with
#      audit_logs:read through the CLI, and checks that
#      GET /api/v1/audit-logs/verify answers ok over the whole chain and that
#      each case answers what it should.
#   5. Prints the query plan of each case (EXPLAIN QUERY PLAN, Python's
#      sqlite3 module) and a few single-request probes.
#   6. For each case (unfiltered page, action prefix, exact action, actor_id,
#      outcome=failure, target_id, since/until, and two extra cases), with
#      random values on every request, runs wrk with one connection: the
#      latency of each request over loopback is about the server's time. The
#      median is judged against $TARGET_MS.
#   7. Runs a full NDJSON export with curl while sampling the server's VmRSS
#      every 200 ms, and judges the growth against $RSS_LIMIT_MIB.
#   8. Prints a summary and writes it to bench/results/audit_scale-<date>.md.
#
# Environment:
#   RECORDS=1000000   records to seed
#   DAYS=30           the seeded records span the last DAYS days
#   RANGE_SECONDS=86400  the window of the since/until case
#   DURATION=15s      each measured wrk run
#   WARMUP=3s         a discarded wrk run before each case
#   TARGET_MS=20      the latency target (on the median)
#   RSS_LIMIT_MIB=16  the export's allowed RSS growth ("a few MiB")
#   WRK_TIMEOUT=30s   wrk's per-request timeout (the server's own limit is 30 s)
#   KEEP=1            keep the temp dir (database, server log, wrk output)
#
# Exit status: 0 when the benchmark ran (whatever the verdict), non-zero if
# something in it failed (build, seeding, verification, errors in responses).
set -euo pipefail

RECORDS=${RECORDS:-1000000}
DAYS=${DAYS:-30}
RANGE_SECONDS=${RANGE_SECONDS:-86400}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-3s}
TARGET_MS=${TARGET_MS:-20}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-16}
KEEP=${KEEP:-0}
WRK_TIMEOUT=${WRK_TIMEOUT:-30s}
export RANGE_SECONDS

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

# --- server -------------------------------------------------------------------
work_dir audit_scale
DB="$TMP/audit.db"
DB_URL="sqlite://$DB"
DATA="$TMP/data"
SAMPLER_PID=""
extra_cleanup() {
	if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
}

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
start_server() { # logfile
	# The bench measures capacity: the abuse limits (README) would cap one
	# token at 100 requests a second.
	"$BIN" serve --listen "127.0.0.1:$PORT" --database-url "$DB_URL" \
		--rate-limit-per-token 0 --rate-limit-per-address 0 >"$1" 2>&1 &
	SERVER_PID=$!
	await_server "$1" 600
}

CLK_TCK=$(getconf CLK_TCK)
server_ticks() { sed 's/^.*) //' "/proc/$SERVER_PID/stat" | awk '{print $12 + $13}'; }
now() { date +%s.%N; }
# Waits (up to 120 s) until the server uses (almost) no CPU for a second: the
# background checkpointer signs its backlog after the seeding, and requests
# still in flight when wrk stops must not run into the next measurement.
wait_idle() {
	local a b
	for _ in $(seq 1 120); do
		a=$(server_ticks); sleep 1; b=$(server_ticks)
		[ $((b - a)) -le 2 ] && return 0
	done
	log "  the server is still busy after 120 s"
}
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
mib() { awk "BEGIN { printf \"%.1f\", $1 / 1024 }"; }

log "first start on $DB: schema and organization default"
start_server "$TMP/server-first.log"
stop_server

# --- seeding ------------------------------------------------------------------
log "seeding $RECORDS audit records into $DB (server stopped)"
seed_t0=$(now)
python3 "$LIB/audit_seed.py" seed "$DB" "$RECORDS" "$DATA" --days "$DAYS" || die "seeding"
seed_t1=$(now)
SEED_SECONDS=$(printf '%.1f' "$(calc "$seed_t1 - $seed_t0")")
SEED_RATE=$(printf '%.0f' "$(calc "$RECORDS / ($seed_t1 - $seed_t0)")")
DB_MB=$(du -cm "$DB"* | tail -1 | cut -f1)
# shellcheck disable=SC1091
. "$DATA/meta.sh"
log "seeded $RECORDS records in ${SEED_SECONDS}s: $SEED_RATE records/s; database ${DB_MB} MiB; seq $FIRST_SEQ..$LAST_SEQ"

log "starting the server on $BASE"
start_server "$TMP/server.log"
TOKEN=$("$BIN" --json token create --org default --name siem --permission audit_logs:read \
	--database-url "$DB_URL" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') ||
	die "token create"
export AUDIT_TOKEN=$TOKEN
AUTH=(-H "Authorization: Bearer $TOKEN")

# --- sanity: the chain verifies, each case answers what it should ----------------
log "GET /api/v1/audit-logs/verify over the whole chain"
v_t0=$(now)
VERIFY=$(curl -sS "${AUTH[@]}" -w '\n%{http_code}' "$BASE/api/v1/audit-logs/verify") || die "GET /verify"
v_t1=$(now)
VERIFY_SECONDS=$(printf '%.1f' "$(calc "$v_t1 - $v_t0")")
VERIFY_CODE=${VERIFY##*$'\n'}
VERIFY=${VERIFY%$'\n'*}
log "  $VERIFY_CODE in ${VERIFY_SECONDS}s: $VERIFY"
[ "$VERIFY_CODE" = 200 ] || die "GET /verify answered $VERIFY_CODE"
python3 -c '
import json, sys
r = json.loads(sys.argv[1])
ok = r["ok"] and r["records"] >= int(sys.argv[2]) and r["first_seq"] == 1
sys.exit(0 if ok else 1)' "$VERIFY" "$LAST_SEQ" || die "the seeded chain does not verify"

SOME_ACTOR=$(sed -n 1p "$DATA/actors.txt")
SOME_USER=$(sed -n "$(( ($(wc -l <"$DATA/users.txt") + 1) / 2 ))p" "$DATA/users.txt")
iso() { python3 -c 'import sys,datetime; print(datetime.datetime.fromtimestamp(int(sys.argv[1]), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$1"; }
MID_T=$(( (T_FIRST + T_LAST) / 2 ))
MID_SEQ=$(( (FIRST_SEQ + LAST_SEQ) / 2 ))
check() { # label query python-condition-on-records
	local body
	body=$(curl -fsS -G "${AUTH[@]}" "$BASE/api/v1/audit-logs" "${@:2:$#-2}") || die "sanity $1: request failed"
	python3 -c '
import json, sys
d = json.loads(sys.argv[1]); recs = d["records"]
ok = len(recs) > 0 and all(eval(sys.argv[2], {"r": r}) for r in recs)
seqs = [r["seq"] for r in recs]
ok = ok and seqs == sorted(seqs)
print(len(recs))
sys.exit(0 if ok else 1)' "$body" "${!#}" >/dev/null || die "sanity $1: unexpected records"
}
check page --data "limit=100" --data "cursor=$MID_SEQ" "r['seq'] > $MID_SEQ"
check prefix --data-urlencode "action=scim.user.*" --data "cursor=$MID_SEQ" "r['action'].startswith('scim.user.')"
check action --data "action=scim.user.patch" --data "cursor=$MID_SEQ" "r['action'] == 'scim.user.patch'"
check actor --data-urlencode "actor_id=$SOME_ACTOR" "r['actor_id'] == '$SOME_ACTOR'"
check failure --data "outcome=failure" --data "cursor=$MID_SEQ" "r['outcome'] == 'failure'"
check target --data "target_id=$SOME_USER" "r['target_id'] == '$SOME_USER'"
check range --data-urlencode "since=$(iso "$MID_T")" --data-urlencode "until=$(iso $((MID_T + RANGE_SECONDS)))" \
	"'$(iso "$MID_T" | cut -c1-19)' <= r['occurred_at'][:19] < '$(iso $((MID_T + RANGE_SECONDS)) | cut -c1-19)'"
log "sanity checks passed"

# --- query plans ----------------------------------------------------------------
log "query plans"
PLANS=$(python3 "$LIB/audit_seed.py" plans "$DB" "$DATA" 2>&1) || die "query plans"
printf '%s\n' "$PLANS" | sed 's/^/  /' >&2

# --- single-request probes --------------------------------------------------------
probe() { # label url-query
	local t
	t=$(for _ in 1 2 3 4 5; do
		curl -fsS -o /dev/null -w '%{time_total}\n' "${AUTH[@]}" "$BASE/api/v1/audit-logs?$2" || echo nan
	done | sort -g | sed -n 3p)
	PROBES+=("| \`$1\` | $(printf '%.2f' "$(calc "$t * 1000")") |")
	log "  probe $(printf '%-56s %9.2f ms' "$1" "$(calc "$t * 1000")")"
}
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
PROBES=()
LATE_T=$((T_LAST - RANGE_SECONDS))
log "single-request probes (curl, median of 5)"
probe "limit=100 (first page)" "limit=100"
probe "limit=100&cursor=$((LAST_SEQ - 100))" "limit=100&cursor=$((LAST_SEQ - 100))"
probe "target_id=<user>" "target_id=$SOME_USER&limit=100"
probe "target_type=user&target_id=<user>" "target_type=user&target_id=$SOME_USER&limit=100"
probe "target_type=sat (first page)" "target_type=sat&limit=100"
probe "action=sat.* (first page)" "action=$(enc 'sat.*')&limit=100"
probe "action=audit_logs.export (first page)" "action=audit_logs.export&limit=100"
probe "action=audit_logs.ex* (first page)" "action=$(enc 'audit_logs.ex*')&limit=100"
for w in 3600 86400 604800; do
	probe "since/until, ${w}s window, oldest" "since=$(enc "$(iso "$T_FIRST")")&until=$(enc "$(iso $((T_FIRST + w)))")&limit=100"
	probe "since/until, ${w}s window, newest" "since=$(enc "$(iso $((T_LAST - w)))")&until=$(enc "$(iso "$T_LAST")")&limit=100"
done
probe "since=<newest day> (no until)" "since=$(enc "$(iso "$LATE_T")")&limit=100"

# --- measurements -----------------------------------------------------------------
CASES=(page prefix action actor failure target range target_typed prefix_rare)
declare -A LABEL=(
	[page]='limit=100&cursor=rand (unfiltered)'
	[prefix]='action=scim.user.*&cursor=rand'
	[action]='action=scim.user.patch&cursor=rand'
	[actor]='actor_id=<rand actor>&cursor=rand'
	[failure]='outcome=failure&cursor=rand'
	[target]='target_id=<rand user>'
	[range]="since=<rand>&until=+${RANGE_SECONDS}s"
	[target_typed]='target_type=user&target_id=<rand user> (extra)'
	[prefix_rare]='action=sat.*&cursor=rand (extra)'
)
ROWS=()
VERDICTS=()
RAW=""
FAILED=0

for c in "${CASES[@]}"; do
	log "case $c: ${LABEL[$c]}"
	wait_idle
	wrk -t1 -c1 -d"$WARMUP" --timeout "$WRK_TIMEOUT" --latency -s "$LIB/audit_logs.lua" "$BASE" -- "$c" "$DATA" \
		>"$TMP/wrk-$c-warmup.txt" 2>&1 || die "wrk warm-up for $c"
	wait_idle
	out="$TMP/wrk-$c.txt"
	ticks0=$(server_ticks)
	w0=$(now)
	wrk -t1 -c1 -d"$DURATION" --timeout "$WRK_TIMEOUT" --latency -s "$LIB/audit_logs.lua" "$BASE" -- "$c" "$DATA" \
		>"$out" 2>&1 || { cat "$out" >&2; die "wrk for $c"; }
	w1=$(now)
	ticks1=$(server_ticks)
	read -r rps p50 p90 p99 reqs non2xx sockerr < <(python3 "$LIB/wrk_parse.py" "$out")
	cpu=$(calc "($ticks1 - $ticks0) / $CLK_TCK")
	per_cpu=$(awk "BEGIN { if ($cpu <= 0) print \"n/a\"; else if ($reqs / $cpu < 100) printf \"%.2f\", $reqs / $cpu; else printf \"%.0f\", $reqs / $cpu }")
	cpu_pct=$(printf '%.0f' "$(calc "100 * $cpu / ($w1 - $w0)")")
	RAW+=$'\n'"### $c: ${LABEL[$c]}"$'\n\n```\n'"$(cat "$out")"$'\n```\n'
	if [ "$non2xx" != 0 ] || [ "$sockerr" != 0 ]; then
		FAILED=1
		log "  ERROR: $non2xx non-2xx responses and $sockerr socket errors"
	fi
	v50=$(awk "BEGIN { print ($p50 < $TARGET_MS) ? \"PASS\" : \"FAIL\" }")
	VERDICTS+=("$v50 (median ${p50} ms < ${TARGET_MS} ms): ${LABEL[$c]}")
	printf '  %9s req/s  p50 %9s ms  p90 %9s ms  p99 %9s ms  %7s req/server-CPU-s (server CPU %s%%)  %s\n' \
		"$rps" "$p50" "$p90" "$p99" "$per_cpu" "$cpu_pct" "$v50" >&2
	ROWS+=("| \`${LABEL[$c]}\` | $reqs | $rps | $p50 | $p90 | $p99 | $per_cpu | $cpu_pct% | $v50 |")
done

# --- export -------------------------------------------------------------------------
log "full NDJSON export, sampling VmRSS every 200 ms"
wait_idle
HEAD_BEFORE=$(python3 -c '
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT last_seq FROM audit_chain_heads WHERE chain = ?", (sys.argv[2],)).fetchone()[0])' "$DB" "$CHAIN")
RSS_BEFORE=$(rss_kib)
# Resets VmHWM (the peak RSS) to the current RSS, so that VmHWM after the
# export is the exact peak during it (Linux >= 4.0; best effort).
HWM_RESET=0
if echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null; then HWM_RESET=1; fi
(
	while kill -0 "$SERVER_PID" 2>/dev/null; do
		awk -v t="$(date +%s.%N)" '/^VmRSS:/ {r=$2} /^RssAnon:/ {a=$2} /^RssFile:/ {f=$2} END {print t, r, a, f}' \
			"/proc/$SERVER_PID/status"
		sleep 0.2
	done
) >"$TMP/rss.txt" 2>/dev/null &
SAMPLER_PID=$!
sleep 1
ticks0=$(server_ticks)
EXPORT_LINES=$(curl -sS --fail "${AUTH[@]}" \
	-w '%{stderr}%{http_code} %{size_download} %{time_total} %{time_starttransfer}\n' \
	"$BASE/api/v1/audit-logs/export?format=ndjson" 2>"$TMP/export-curl.txt" | wc -l) ||
	{ cat "$TMP/export-curl.txt" >&2; die "the export failed"; }
ticks1=$(server_ticks)
sleep 1
RSS_AFTER=$(rss_kib)
HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
read -r EXPORT_CODE EXPORT_BYTES EXPORT_TIME EXPORT_TTFB <"$TMP/export-curl.txt"
[ "$EXPORT_CODE" = 200 ] || die "the export answered $EXPORT_CODE"
RSS_PEAK=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$TMP/rss.txt")
RSS_SAMPLES=$(wc -l <"$TMP/rss.txt")
PEAK_ANON=$(awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { print m }' "$TMP/rss.txt")
FIRST_ANON=$(head -1 "$TMP/rss.txt" | awk '{print $3}')
PEAK=$RSS_PEAK
if [ "$HWM_RESET" = 1 ] && [ "$HWM" -gt "$PEAK" ]; then PEAK=$HWM; fi
GROWTH_KIB=$((PEAK - RSS_BEFORE))
EXPORT_RATE=$(printf '%.0f' "$(calc "$EXPORT_LINES / $EXPORT_TIME")")
EXPORT_MIBS=$(printf '%.1f' "$(calc "$EXPORT_BYTES / 1048576 / $EXPORT_TIME")")
EXPORT_CPU=$(printf '%.1f' "$(calc "($ticks1 - $ticks0) / $CLK_TCK")")
EXPECTED_LINES=$((HEAD_BEFORE + 1)) # the export's own audit record is written before its body
if [ "$EXPORT_LINES" != "$EXPECTED_LINES" ]; then
	log "  WARNING: the export had $EXPORT_LINES records, the chain $EXPECTED_LINES"
	FAILED=1
fi
RSS_VERDICT=$(awk "BEGIN { print ($GROWTH_KIB <= $RSS_LIMIT_MIB * 1024) ? \"PASS\" : \"FAIL\" }")
HWM_NOTE="VmHWM was reset before the export and read after it"
[ "$HWM_RESET" = 1 ] || HWM_NOTE="VmHWM could not be reset: the peak is the highest 200 ms sample"
EXPORT_ROWS=(
	"| records exported | $EXPORT_LINES (the chain had $EXPECTED_LINES) |"
	"| bytes | $EXPORT_BYTES ($(mib $((EXPORT_BYTES / 1024))) MiB) |"
	"| time (first byte) | $(printf '%.2f' "$EXPORT_TIME") s ($(printf '%.3f' "$EXPORT_TTFB") s) |"
	"| throughput | **$EXPORT_RATE records/s**, $EXPORT_MIBS MiB/s |"
	"| server CPU | ${EXPORT_CPU} s |"
	"| VmRSS before | $(mib "$RSS_BEFORE") MiB |"
	"| VmRSS peak during | $(mib "$PEAK") MiB (highest of $RSS_SAMPLES samples: $(mib "$RSS_PEAK") MiB; VmHWM: $(mib "$HWM") MiB) |"
	"| RssAnon first sample / peak | $(mib "$FIRST_ANON") / $(mib "$PEAK_ANON") MiB |"
	"| VmRSS 1 s after | $(mib "$RSS_AFTER") MiB |"
	"| growth (peak - before) | **$(mib "$GROWTH_KIB") MiB**: $RSS_VERDICT (<= $RSS_LIMIT_MIB MiB) |"
)
log "  $EXPORT_LINES records, $EXPORT_BYTES bytes in ${EXPORT_TIME}s ($EXPORT_RATE records/s); RSS $(mib "$RSS_BEFORE") -> peak $(mib "$PEAK") -> $(mib "$RSS_AFTER") MiB: $RSS_VERDICT"

# --- summary --------------------------------------------------------------------
CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
STAMP=$(date +%Y-%m-%d-%H%M)
RESULTS_DIR=$HERE/results
RESULT_FILE=$RESULTS_DIR/audit_scale-$STAMP.md
mkdir -p "$RESULTS_DIR"

SUMMARY=$(
	cat <<EOF
| case (GET /api/v1/audit-logs?…, limit=100) | requests | req/s | p50 ms | p90 ms | p99 ms | req per server CPU-s | server CPU | verdict (median < ${TARGET_MS} ms) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
$(printf '%s\n' "${ROWS[@]}")
EOF
)
EXPORT_TABLE=$(printf '%s\n' "| export (GET /api/v1/audit-logs/export?format=ndjson) | |" "| --- | --- |" "${EXPORT_ROWS[@]}")

{
	echo "# audit_scale: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "Requirements: with $RECORDS records in an org, a filtered page takes under ${TARGET_MS} ms in the"
	echo "server; an export of them does not grow the process by more than a few MiB (judged: ${RSS_LIMIT_MIB} MiB)."
	echo
	echo "- machine: $(nproc) CPUs, $CPU_MODEL, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- commit: $COMMIT; $(rustc --version 2>/dev/null || echo 'rustc ?'); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "- seeding: $RECORDS records straight into SQLite (bench/lib/audit_seed.py) in ${SEED_SECONDS} s = ${SEED_RATE} records/s; database ${DB_MB} MiB; seq $FIRST_SEQ..$LAST_SEQ over the last $DAYS days"
	echo "- GET /api/v1/audit-logs/verify over the whole chain: HTTP $VERIFY_CODE in ${VERIFY_SECONDS} s: \`$VERIFY\`"
	echo "- each case: wrk ${DURATION}, one connection, --latency, after a ${WARMUP} warm-up; random cursor / actor / user / window on every request; every request also appends its own audit record (group commit)"
	echo
	echo "$SUMMARY"
	echo
	for v in "${VERDICTS[@]}"; do echo "- $v"; done
	echo
	echo "$EXPORT_TABLE"
	echo
	echo "RSS: $HWM_NOTE; samples every 200 ms in \`rss.txt\` of the temp dir (KEEP=1)."
	echo
	echo "Single requests (curl time_total, median of 5, before the wrk runs):"
	echo
	echo "| request (GET /api/v1/audit-logs?…) | ms |"
	echo "| --- | ---: |"
	printf '%s\n' "${PROBES[@]}"
	echo
	echo "Query plans (EXPLAIN QUERY PLAN through Python's sqlite3 module; a cursor in the middle of the chain, a one-day window):"
	echo
	echo '```'
	echo "$PLANS"
	echo '```'
	echo
	echo "<details><summary>raw wrk output</summary>"
	echo "$RAW"
	echo "</details>"
} >"$RESULT_FILE"

echo
echo "== audit_scale: $RECORDS records, SQLite, $(nproc) CPUs ($CPU_MODEL), commit $COMMIT"
echo "seeding: ${SEED_SECONDS}s (${SEED_RATE} records/s); verify: HTTP $VERIFY_CODE in ${VERIFY_SECONDS}s"
echo
echo "$SUMMARY"
echo
for v in "${VERDICTS[@]}"; do echo "$v"; done
echo
echo "$EXPORT_TABLE"
echo
printf '%s\n' "| single request (curl, median of 5) | ms |" "| --- | ---: |" "${PROBES[@]}"
echo
echo "written to ${RESULT_FILE#"$ROOT"/}"
[ "$FAILED" = 0 ] || die "some requests failed (see above)"
