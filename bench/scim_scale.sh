#!/usr/bin/env bash
# SCIM read latency at scale, on SQLite, against a release build.
#
# Requirement under test: "With 100,000 users in one org on SQLite: GET by
# id, `userName eq` filter and a page of 100 each take under 5 ms in the
# server." The page is measured at three depths: the first page, a page in
# the middle (startIndex about N/2) and a random startIndex.
#
# What it does:
#   1. cargo build --release (a no-op when up to date); installs wrk if missing.
#   2. Starts `scimitar serve` on a fresh SQLite file in a temp dir, on a free
#      loopback port, and creates an org SAT with scim:read + scim:write.
#   3. Seeds $USERS users through POST /scim/v2/Bulk, 1000 operations per
#      request, and prints the seeding throughput (users/s).
#   4. For each case (GET /Users/{id}, GET /Users?filter=userName eq "…",
#      GET /Users?startIndex=…&count=100 with startIndex=1, about N/2 and
#      random), with a random id / userName / startIndex on every request
#      (startIndex=1 stays the same), runs wrk
#        - with one connection (-t1 -c1): per-request latency ≈ server time
#          on loopback; this run is judged against the target, and
#        - with -t2 -c16 for throughput (its latency includes queueing).
#      It reads the server's CPU time from /proc/<pid>/stat around each run
#      to report requests per server CPU-second.
#   5. Prints a summary table and writes it to bench/results/scim_scale-<date>.md.
#
# Environment:
#   USERS=100000     users to seed
#   DURATION=15s     each measured wrk run
#   WARMUP=3s        a discarded one-connection wrk run before each case
#   TARGET_MS=5      the latency target
#   WRK_TIMEOUT=30s  wrk's per-request timeout (the server's own limit is 30 s)
#   KEEP=1           keep the temp dir (database, server log, wrk output)
#
# Exit status: 0 when the benchmark ran (whatever the verdict), non-zero if
# something in it failed (build, seeding, errors in the responses, ...).
set -euo pipefail

USERS=${USERS:-100000}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-3s}
TARGET_MS=${TARGET_MS:-5}
KEEP=${KEEP:-0}
WRK_TIMEOUT=${WRK_TIMEOUT:-30s}
PER_BULK=1000

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

# --- server -------------------------------------------------------------------
work_dir scim_scale
DB="$TMP/scim.db"
DB_URL="sqlite://$DB"

start_bench_server "$DB_URL"
TOKEN=$SCIM_TOKEN
AUTH=(-H "Authorization: Bearer $TOKEN")

CLK_TCK=$(getconf CLK_TCK)
# utime+stime of the server, in clock ticks (fields 14 and 15; the name in
# parentheses is skipped first).
server_ticks() { sed 's/^.*) //' "/proc/$SERVER_PID/stat" | awk '{print $12 + $13}'; }
now() { date +%s.%N; }
# Waits (up to 120 s) until the server has used no CPU for a second: requests
# still in flight when wrk stops must not run into the next measurement.
wait_idle() {
	local a b
	for _ in $(seq 1 120); do
		a=$(server_ticks); sleep 1; b=$(server_ticks)
		[ "$a" = "$b" ] && return 0
	done
	log "  the server is still busy after 120 s"
}
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- seeding ------------------------------------------------------------------
# The org already has members (the bootstrap admin): they are Users too.
BEFORE=$(curl -fsS "${AUTH[@]}" "$BASE/scim/v2/Users?count=0" | json_field 'd["totalResults"]') ||
	die "GET /Users?count=0"
log "generating $USERS users in bulk requests of $PER_BULK"
python3 "$LIB/scim_bulk.py" gen "$TMP/bulk" "$USERS" "$PER_BULK" >&2
mkdir -p "$TMP/bulk-resp"
files=("$TMP"/bulk/bulk-*.json)
log "seeding through POST /scim/v2/Bulk (${#files[@]} requests)"
seed_ticks0=$(server_ticks)
seed_t0=$(now)
done_users=0
for f in "${files[@]}"; do
	name=$(basename "$f")
	t0=$(now)
	code=$(curl -sS -o "$TMP/bulk-resp/$name" -w '%{http_code}' "${AUTH[@]}" \
		-H 'Content-Type: application/scim+json' --data-binary "@$f" "$BASE/scim/v2/Bulk") ||
		die "POST /Bulk ($name): curl failed"
	[ "$code" = 200 ] || { head -c 2000 "$TMP/bulk-resp/$name" >&2; echo >&2; die "POST /Bulk ($name) answered $code"; }
	t1=$(now)
	done_users=$((done_users + PER_BULK))
	[ "$done_users" -gt "$USERS" ] && done_users=$USERS
	i=${name#bulk-}; i=$((10#${i%.json}))
	if [ $((i % 10)) = 0 ] || [ "$done_users" = "$USERS" ]; then
		log "$(printf '%7d users  last request %.2fs  overall %.0f users/s' "$done_users" \
			"$(calc "$t1 - $t0")" "$(calc "$done_users / ($t1 - $seed_t0)")")"
	fi
done
seed_t1=$(now)
seed_ticks1=$(server_ticks)
SEED_SECONDS=$(printf '%.1f' "$(calc "$seed_t1 - $seed_t0")")
SEED_RATE=$(printf '%.0f' "$(calc "$USERS / ($seed_t1 - $seed_t0)")")
SEED_CPU=$(printf '%.1f' "$(calc "($seed_ticks1 - $seed_ticks0) / $CLK_TCK")")
CREATED=$(python3 "$LIB/scim_bulk.py" ids "$TMP/bulk-resp" "$TMP/bulk/usernames.txt" "$TMP/ids.txt" "$TMP/usernames.txt") ||
	die "reading the bulk responses"
[ "$CREATED" = "$USERS" ] || die "created $CREATED users, expected $USERS"
DB_MB=$(du -cm "$DB"* | tail -1 | cut -f1)
log "seeded $USERS users in ${SEED_SECONDS}s: $SEED_RATE users/s (server CPU ${SEED_CPU}s; database ${DB_MB} MiB)"

# --- sanity: each case answers what it should -----------------------------------
TOTAL=$((BEFORE + USERS))
some_id=$(sed -n "$((USERS / 2 + 1))p" "$TMP/ids.txt")
some_name=$(sed -n "$((USERS / 2 + 1))p" "$TMP/usernames.txt")
got=$(curl -fsS "${AUTH[@]}" "$BASE/scim/v2/Users/$some_id" | json_field 'd["userName"]') || die "GET /Users/{id}"
[ "$got" = "$some_name" ] || die "GET /Users/$some_id returned userName $got, expected $some_name"
got=$(curl -fsS -G "${AUTH[@]}" --data-urlencode "filter=userName eq \"$some_name\"" "$BASE/scim/v2/Users" |
	json_field 'd["totalResults"], d["Resources"][0]["id"]') || die "GET /Users?filter="
[ "$got" = "1 $some_id" ] || die "the userName filter returned '$got', expected '1 $some_id'"
got=$(curl -fsS "${AUTH[@]}" "$BASE/scim/v2/Users?startIndex=$((TOTAL - 99))&count=100" |
	json_field 'd["totalResults"], len(d["Resources"])') || die "GET /Users?startIndex="
[ "$got" = "$TOTAL 100" ] || die "the last page returned '$got', expected '$TOTAL 100'"
log "sanity checks passed"

# --- single-request probes: where a list request spends its time ------------------
# curl's time_total, median of 5, one request at a time.
probe() { # label url
	local t
	t=$(for _ in 1 2 3 4 5; do
		curl -fsS -o /dev/null -w '%{time_total}\n' "${AUTH[@]}" "$2" || echo nan
	done | sort -g | sed -n 3p)
	PROBES+=("| \`$1\` | $(printf '%.2f' "$(calc "$t * 1000")") |")
	log "  probe $(printf '%-48s %8.2f ms' "$1" "$(calc "$t * 1000")")"
}
PROBES=()
log "single-request probes (median of 5)"
probe "GET /Users/{id}" "$BASE/scim/v2/Users/$some_id"
probe "GET /Users?count=0 (count only)" "$BASE/scim/v2/Users?count=0"
probe "GET /Users?startIndex=1&count=1" "$BASE/scim/v2/Users?startIndex=1&count=1"
probe "GET /Users?startIndex=1&count=100" "$BASE/scim/v2/Users?startIndex=1&count=100"
probe "GET /Users?startIndex=$((TOTAL / 2))&count=100" "$BASE/scim/v2/Users?startIndex=$((TOTAL / 2))&count=100"
probe "GET /Users?startIndex=$((TOTAL - 99))&count=100" "$BASE/scim/v2/Users?startIndex=$((TOTAL - 99))&count=100"

# --- measurements -----------------------------------------------------------------
CASES=(id filter page_first page_mid page)
declare -A LABEL=(
	[id]='GET /Users/{id}'
	[filter]='GET /Users?filter=userName eq "…"'
	[page_first]='GET /Users?startIndex=1&count=100'
	[page_mid]='GET /Users?startIndex=N/2±100&count=100'
	[page]='GET /Users?startIndex=rand&count=100'
)
# For the page cases, the wrk script only counts the lines of the file (N).
declare -A FILE=([id]="$TMP/ids.txt" [filter]="$TMP/usernames.txt" [page_first]="$TMP/ids.txt"
	[page_mid]="$TMP/ids.txt" [page]="$TMP/ids.txt")
ROWS=()     # summary rows
VERDICTS=() # PASS/FAIL lines
RAW=""      # raw wrk output for the results file
FAILED=0

run_wrk() { # case threads connections duration outfile
	wrk -t"$2" -c"$3" -d"$4" --timeout "$WRK_TIMEOUT" --latency -s "$LIB/scim_users.lua" "$BASE" -- "$1" "${FILE[$1]}" >"$5" 2>&1
}

for c in "${CASES[@]}"; do
	log "case $c: ${LABEL[$c]}"
	run_wrk "$c" 1 1 "$WARMUP" "$TMP/wrk-$c-warmup.txt" || die "wrk warm-up for $c"
	for shape in "1 1" "2 16"; do
		read -r threads conns <<<"$shape"
		wait_idle
		out="$TMP/wrk-$c-c$conns.txt"
		ticks0=$(server_ticks)
		w0=$(now)
		run_wrk "$c" "$threads" "$conns" "$DURATION" "$out" || { cat "$out" >&2; die "wrk for $c"; }
		w1=$(now)
		ticks1=$(server_ticks)
		read -r rps p50 p90 p99 reqs non2xx sockerr < <(python3 "$LIB/wrk_parse.py" "$out")
		cpu=$(calc "($ticks1 - $ticks0) / $CLK_TCK")
		per_cpu=$(awk "BEGIN { if ($cpu <= 0) print \"n/a\"; else if ($reqs / $cpu < 100) printf \"%.2f\", $reqs / $cpu; else printf \"%.0f\", $reqs / $cpu }")
		cpu_pct=$(printf '%.0f' "$(calc "100 * $cpu / ($w1 - $w0)")")
		RAW+=$'\n'"### $c, -t$threads -c$conns"$'\n\n```\n'"$(cat "$out")"$'\n```\n'
		if [ "$non2xx" != 0 ] || [ "$sockerr" != 0 ]; then
			FAILED=1
			log "  ERROR: $non2xx non-2xx responses and $sockerr socket errors"
		fi
		verdict="n/a (throughput run)"
		if [ "$conns" = 1 ]; then
			v50=$(awk "BEGIN { print ($p50 < $TARGET_MS) ? \"PASS\" : \"FAIL\" }")
			v99=$(awk "BEGIN { print ($p99 < $TARGET_MS) ? \"PASS\" : \"FAIL\" }")
			verdict="median $v50, p99 $v99"
			VERDICTS+=("$v50 (median ${p50} ms < ${TARGET_MS} ms) / $v99 (p99 ${p99} ms < ${TARGET_MS} ms): ${LABEL[$c]}")
		fi
		printf '  -t%s -c%-2s  %9s req/s  p50 %8s ms  p90 %8s ms  p99 %8s ms  %7s req/server-CPU-s (server CPU %s%%)  %s\n' \
			"$threads" "$conns" "$rps" "$p50" "$p90" "$p99" "$per_cpu" "$cpu_pct" "$verdict" >&2
		ROWS+=("| \`${LABEL[$c]}\` | $conns | $reqs | $rps | $p50 | $p90 | $p99 | $per_cpu | $cpu_pct% | $verdict |")
	done
done

# --- summary --------------------------------------------------------------------
CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
STAMP=$(date +%Y-%m-%d-%H%M)
RESULTS_DIR=$HERE/results
RESULT_FILE=$RESULTS_DIR/scim_scale-$STAMP.md
mkdir -p "$RESULTS_DIR"

SUMMARY=$(
	cat <<EOF
| case | connections | requests | req/s | p50 ms | p90 ms | p99 ms | req per server CPU-s | server CPU | verdict (< ${TARGET_MS} ms) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
$(printf '%s\n' "${ROWS[@]}")
EOF
)

{
	echo "# scim_scale: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "Requirement: with $USERS users in one org on SQLite, GET by id, \`userName eq\` filter"
	echo "and a page of 100 each take under ${TARGET_MS} ms in the server. The page is measured at"
	echo "startIndex=1, at startIndex N/2±100 and at a random startIndex (N = the seeded users)."
	echo
	echo "- machine: $(nproc) CPUs, $CPU_MODEL, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- commit: $COMMIT; $(rustc --version 2>/dev/null || echo 'rustc ?'); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "- seeding: $USERS users through POST /Bulk (${PER_BULK} operations per request) in ${SEED_SECONDS} s = **${SEED_RATE} users/s** (server CPU ${SEED_CPU} s); database ${DB_MB} MiB"
	echo "- each run: wrk ${DURATION} with --latency after a ${WARMUP} one-connection warm-up; random id / userName / startIndex per request (startIndex=1: the same request every time)"
	echo "- the one-connection run is judged (latency over loopback ≈ server time); the 16-connection run is for throughput, its latency includes queueing on 2 cores"
	echo
	echo "$SUMMARY"
	echo
	for v in "${VERDICTS[@]}"; do echo "- $v"; done
	echo
	echo "Single requests (curl time_total, median of 5, before the wrk runs):"
	echo
	echo "| request | ms |"
	echo "| --- | ---: |"
	printf '%s\n' "${PROBES[@]}"
	echo
	echo "<details><summary>raw wrk output</summary>"
	echo "$RAW"
	echo "</details>"
} >"$RESULT_FILE"

echo
echo "== scim_scale: $USERS users, SQLite, $(nproc) CPUs ($CPU_MODEL), commit $COMMIT"
echo "seeding: $USERS users in ${SEED_SECONDS}s = ${SEED_RATE} users/s (server CPU ${SEED_CPU}s)"
echo
echo "$SUMMARY"
echo
for v in "${VERDICTS[@]}"; do echo "$v"; done
echo
printf '%s\n' "| single request (curl, median of 5) | ms |" "| --- | ---: |" "${PROBES[@]}"
echo
echo "written to ${RESULT_FILE#"$ROOT"/}"
[ "$FAILED" = 0 ] || die "some requests failed (see above)"
