#!/usr/bin/env bash
# Two builds of the server, run in turn on one SCIM scenario: how a change
# is judged on these machines, where one run moves by a fifth from the next
# while runs taken in turn share the machine's moment.
#
#   bench/interleave.sh BIN_A BIN_B SCENARIO [DATABASE_URL]
#     BIN_A, BIN_B: two release binaries (copy target/release/scimitar
#       aside before building the other).
#     SCENARIO: get_id | filter | list | patch | create
#     DATABASE_URL: a fresh SQLite file for each run by default; a
#       postgres://… URL has its database dropped and created afresh for
#       each run.
#
# Each run starts the server with /metrics on a port of its own, seeds
# $USERS users through /Bulk, waits $SETTLE seconds, and drives it with wrk
# ($CONNECTIONS connections for $DURATION seconds). Per run it prints the
# requests a second, the p99, the server's CPU per request (from /proc),
# PostgreSQL's CPU per request when it runs on this host, how much of the
# machine stayed idle, the server's RSS at the end, and the group commit's
# batches during the run: records per batch and the commit's mean time.
# The environment passes through to the servers (EXPERIMENT=1 ./a, say).
#
# Environment: ROUNDS=3 USERS=10000 DURATION=8 CONNECTIONS=4 SETTLE=2
set -euo pipefail

BIN_A=${1:?usage: bench/interleave.sh BIN_A BIN_B SCENARIO [DATABASE_URL]}
BIN_B=${2:?usage: bench/interleave.sh BIN_A BIN_B SCENARIO [DATABASE_URL]}
SCENARIO=${3:?usage: bench/interleave.sh BIN_A BIN_B SCENARIO [DATABASE_URL]}
ROUNDS=${ROUNDS:-3}
USERS=${USERS:-10000}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-4}
SETTLE=${SETTLE:-2}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$BIN_A
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
[ -x "$BIN_B" ] || die "no binary at $BIN_B"

work_dir interleave
scenario_args "$SCENARIO" # refuses an unknown one before any run

# cpu_ticks PID…: user and system clock ticks of those processes.
cpu_ticks() {
	local pid sum=0
	for pid in "$@"; do
		sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
	done
	echo "$sum"
}
# postgres_pids: the PostgreSQL processes of this host, if any.
postgres_pids() { pgrep -x postgres || true; }
# busy_ticks: the machine's busy and total clock ticks.
busy_ticks() { head -1 /proc/stat | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }'; }
# batch_sums METRICS_URL: the group commit's records and commit seconds, summed.
batch_sums() {
	curl -fsS "$1" | awk '
		/^scimitar_audit_batch_records_sum/ { r = $2 }
		/^scimitar_audit_batch_records_count/ { n = $2 }
		/^scimitar_audit_batch_commit_seconds_sum/ { s = $2 }
		END { print r + 0, n + 0, s + 0 }'
}

# one_run NAME BINARY: prints one line of figures for BINARY.
one_run() {
	local name=$1 url=${DB_URL:-sqlite://$TMP/run.db}
	BIN=$2
	rm -f "$TMP"/run.db*
	export SCIMITAR_METRICS_LISTEN="127.0.0.1:$(free_port)"
	start_bench_server "$url" 2>/dev/null
	seed_users "$USERS" 2>/dev/null
	scenario_args "$SCENARIO"
	sleep "$SETTLE"
	local metrics="http://$SCIMITAR_METRICS_LISTEN/metrics" pg
	# shellcheck disable=SC2207 # one pid a line
	pg=($(postgres_pids))
	local s0 p0 m0 b0
	s0=$(cpu_ticks "$SERVER_PID")
	p0=$(cpu_ticks "${pg[@]}")
	m0=$(busy_ticks)
	b0=$(batch_sums "$metrics")
	wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "${ARGS[0]}" "$BASE" -- "${ARGS[@]:1}" \
		>"$TMP/wrk.txt" 2>&1
	# Connections opened during the run have backends of their own: count
	# the processes there are now (one that ended meanwhile is missed).
	# shellcheck disable=SC2207 # one pid a line
	pg=($(postgres_pids))
	python3 - "$name" "$(cpu_ticks "$SERVER_PID")" "$s0" "$(cpu_ticks "${pg[@]}")" "$p0" \
		"$(busy_ticks)" "$m0" "$(batch_sums "$metrics")" "$b0" \
		"$(awk '/VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")" \
		"$(getconf CLK_TCK)" "${url%%:*}" "$TMP/wrk.txt" <<'PY'
import re, sys
(name, s1, s0, p1, p0, m1, m0, b1, b0, rss, hz, backend, wrk) = sys.argv[1:]
wrk = open(wrk).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
p99 = re.search(r"99%\s+(\S+)", wrk).group(1)
requests = int(re.search(r"(\d+) requests in", wrk).group(1))
hz = int(hz)
per = lambda a, b: (int(a) - int(b)) / hz / requests * 1e6
busy = [int(x) for x in m1.split()]
busy0 = [int(x) for x in m0.split()]
idle = 1 - (busy[0] - busy0[0]) / max(1, busy[1] - busy0[1])
r1, n1, c1 = (float(x) for x in b1.split())
r0, n0, c0 = (float(x) for x in b0.split())
batches = n1 - n0
batch = f"{(r1 - r0) / batches:5.2f} {(c1 - c0) / batches * 1e6:6.0f} µs" if batches else "   -        -"
pg = f"{per(p1, p0):6.0f} µs" if backend == "postgres" else "       -"
print(f"{name:4} {rps:9.0f} {p99:>9} {per(s1, s0):6.0f} µs {pg} {idle:5.2f} {int(rss) / 1024:5.0f} MiB  {batch}")
PY
	stop_server
}

log "$SCENARIO, $ROUNDS rounds of A then B, $USERS users, $CONNECTIONS connections, ${DURATION}s a run"
log "A: $BIN_A"
log "B: $BIN_B"
DB_URL=${4:-}
echo "run    req/s       p99 server CPU/req  PG CPU/req idle   RSS     records/batch commit"
for round in $(seq 1 "$ROUNDS"); do
	one_run "A$round" "$BIN_A"
	one_run "B$round" "$BIN_B"
done
