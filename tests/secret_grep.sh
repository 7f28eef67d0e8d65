#!/usr/bin/env bash
# After the integration suite: no token value or password the tests issued
# or used appears in any log line or audit record the suite produced.
#
#   tests/secret_grep.sh [DIR]     (DIR: $SCIMITAR_TEST_LOG_DIR, default target/tmp/test-logs)
#
# The suite (tests/integration/capture.rs) leaves in DIR the server logs
# (server-*.jsonl), CLI stderr (cli-*.log), a dump of every test database's
# audit records (audit-*.jsonl), the secrets it saw (secrets-*.txt) and the
# canaries it planted (canaries-*.txt).
#
# It fails when
#   - a secret appears in a log or an audit dump (it prints where, not what);
#   - the positive control fails: a canary is missing from the logs or from
#     the audit dumps (so a capture that silently broke cannot pass);
#   - there is nothing to check: no secrets, no logs or no audit dumps.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${1:-${SCIMITAR_TEST_LOG_DIR:-target/tmp/test-logs}}

fail() {
    echo "secret_grep: FAILED: $*" >&2
    exit 1
}

[[ -d "$DIR" ]] || fail "no capture directory $DIR (did the integration suite run?)"
shopt -s nullglob
secrets_files=("$DIR"/secrets-*.txt)
canary_files=("$DIR"/canaries-*.txt)
logs=("$DIR"/server-*.jsonl "$DIR"/cli-*.log)
audits=("$DIR"/audit-*.jsonl)

SECRETS=$(mktemp)
trap 'rm -f "$SECRETS"' EXIT
((${#secrets_files[@]})) && sort -u "${secrets_files[@]}" | grep -v '^$' >"$SECRETS" || true
n_secrets=$(wc -l <"$SECRETS")
((n_secrets >= 10)) || fail "only $n_secrets secrets recorded: the capture is not working"
((${#logs[@]})) || fail "no log files in $DIR"
((${#audits[@]})) || fail "no audit dumps in $DIR"
log_lines=$(cat "${logs[@]}" | wc -l)
audit_lines=$(cat "${audits[@]}" | wc -l)
((log_lines > 0)) || fail "the log files are empty"
((audit_lines > 0)) || fail "the audit dumps are empty"

# Positive control: every canary is found, in the logs and in the audit dumps.
((${#canary_files[@]})) || fail "no canaries planted (did capture::captured_logs_and_audit_records_hold_a_planted_canary run?)"
n_canaries=0
while IFS= read -r canary; do
    [[ -n "$canary" ]] || continue
    grep -qF -- "$canary" "${logs[@]}" || fail "positive control: canary $canary is not in the logs"
    grep -qF -- "$canary" "${audits[@]}" || fail "positive control: canary $canary is not in the audit dumps"
    n_canaries=$((n_canaries + 1))
done < <(cat "${canary_files[@]}")

# The check itself: fixed strings, all at once.
if hits=$(grep -nF -f "$SECRETS" -- "${logs[@]}" "${audits[@]}"); then
    echo "secret_grep: secrets found in logs or audit records:" >&2
    # Where, and the first characters only: the report must not spread them.
    cut -d: -f1,2 <<<"$hits" | sort -u | head -n 50 >&2
    fail "$(wc -l <<<"$hits") lines hold a secret"
fi

echo "secret_grep: ok: $n_secrets secrets absent from $log_lines log lines (${#logs[@]} files) and $audit_lines audit records (${#audits[@]} dumps); $n_canaries canaries found in both"
