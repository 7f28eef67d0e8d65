# Shared by the bench scripts (sourced): logging, the tools they need, the
# release build, and the commit it was built from. Expects HERE (the bench
# folder) to be set.
ROOT=$(cd "$HERE/.." && pwd)
LIB=$HERE/lib
# BIN=/path/to/scimitar runs that binary as it is (to compare two builds
# in turn); by default the checkout is built and its binary run.
BIN_GIVEN=${BIN:+yes}
BIN=${BIN:-$ROOT/target/release/scimitar}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "FAILED: $*"
	exit 1
}

# --- tools --------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required"
if ! command -v wrk >/dev/null; then
	log "installing wrk"
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null
	else
		sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null
	fi
fi
command -v wrk >/dev/null || die "wrk is not installed"

# --- build --------------------------------------------------------------------
if [ -z "$BIN_GIVEN" ]; then
	log "cargo build --release"
	(cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release"
fi
[ -x "$BIN" ] || die "no binary at $BIN"
# The commit the binary was built from (taken now: the tree may move on while this runs).
COMMIT=$(cd "$ROOT" && git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# Changes under bench/ do not change the binary.
if [ -n "$(cd "$ROOT" && git status --porcelain --untracked-files=no -- . ':!bench' 2>/dev/null)" ]; then
	COMMIT="$COMMIT (with uncommitted changes)"
fi
[ -z "$BIN_GIVEN" ] || COMMIT="the binary $BIN, as given"

# --- server -------------------------------------------------------------------
# free_port prints a port nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# await_server LOG [TENTHS]: waits (TENTHS of a second, default 300) until the
# server in SERVER_PID answers $BASE/healthz; dies, showing LOG, if it exits.
await_server() {
	for _ in $(seq 1 "${2:-300}"); do
		curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$1" >&2; die "the server exited"; }
		sleep 0.1
	done
	die "the server did not answer /healthz"
}

# --- temp dir and server lifetime ----------------------------------------------
# work_dir NAME makes TMP, a temp dir removed at exit (kept with KEEP=1), and
# stops the server in SERVER_PID first. A script that starts more processes
# defines extra_cleanup, which runs before that.
SERVER_PID=""
stop_server() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=""
}
bench_cleanup() {
	if declare -F extra_cleanup >/dev/null; then extra_cleanup; fi
	stop_server
	if [ "${KEEP:-0}" = 1 ]; then
		log "kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
work_dir() { # name
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# --- a server to measure ----------------------------------------------------------
# start_bench_server DB_URL: drops and recreates the database first if it is
# PostgreSQL, starts `scimitar serve` on a free loopback port with the abuse
# limits off (a bench measures capacity; the limits would cap one token),
# waits for it, and sets PORT, BASE, SERVER_PID and SCIM_TOKEN (an org SAT
# with scim:read and scim:write). Its log is $TMP/server.log.
start_bench_server() {
	local url=$1
	if [[ "$url" == postgres* ]]; then
		command -v psql >/dev/null || die "psql is required for PostgreSQL"
		psql "${url%/*}/postgres" -qc "DROP DATABASE IF EXISTS ${url##*/}" \
			-c "CREATE DATABASE ${url##*/}" >/dev/null
	fi
	PORT=$(free_port)
	BASE="http://127.0.0.1:$PORT"
	log "starting the server on $BASE with ${url%%\?*}"
	"$BIN" serve --listen "127.0.0.1:$PORT" --database-url "$url" \
		--rate-limit-per-token 0 --rate-limit-per-address 0 >"$TMP/server.log" 2>&1 &
	SERVER_PID=$!
	await_server "$TMP/server.log"
	SCIM_TOKEN=$("$BIN" --json token create --org default --name bench \
		--permission scim:read --permission scim:write --database-url "$url" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || die "token create"
	export SCIM_TOKEN
}

# seed_users N: imports N users through /Bulk (1,000 operations a request)
# into the server at $BASE with $SCIM_TOKEN, and writes their ids to
# $TMP/ids.txt and their userNames to $TMP/names.txt.
seed_users() {
	rm -rf "$TMP/bulk" "$TMP/bulk-resp"
	python3 "$LIB/scim_bulk.py" gen "$TMP/bulk" "$1" 1000 >&2
	mkdir -p "$TMP/bulk-resp"
	local f
	for f in "$TMP"/bulk/bulk-*.json; do
		curl -fsS -X POST "$BASE/scim/v2/Bulk" -H "Authorization: Bearer $SCIM_TOKEN" \
			-H 'Content-Type: application/scim+json' --data-binary "@$f" \
			-o "$TMP/bulk-resp/$(basename "$f")" || die "bulk seeding"
	done
	python3 "$LIB/scim_bulk.py" ids "$TMP/bulk-resp" "$TMP/bulk/usernames.txt" "$TMP/ids.txt" \
		"$TMP/names.txt" >&2
}

# scenario_args SCENARIO: sets ARGS to the wrk script and its arguments for
# one of get_id | filter | list | patch | create, over the users seed_users
# wrote.
scenario_args() {
	case "$1" in
	get_id) ARGS=("$LIB/scim_users.lua" id "$TMP/ids.txt") ;;
	filter) ARGS=("$LIB/scim_users.lua" filter "$TMP/names.txt") ;;
	list) ARGS=("$LIB/scim_users.lua" page_first "$TMP/ids.txt") ;;
	patch) ARGS=("$LIB/scim_writes.lua" patch "$TMP/ids.txt") ;;
	create) ARGS=("$LIB/scim_writes.lua" create "$TMP/ids.txt") ;;
	*) die "unknown scenario $1" ;;
	esac
}
