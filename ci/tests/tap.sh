# shellcheck shell=bash
# The one test library of tvdc's shell tests: every test script sources it
# first thing.  It sets the options of every test (set -uo pipefail: no -e,
# a failing command is a check's outcome, not the end of the script), the C
# locale (tools' output is parsed), and prints TAP for meson's
# `protocol : 'tap'`:
#
#   ok N - DESC  /  not ok N - DESC  /  ok N - DESC # SKIP REASON
#   # diagnostics            1..N (at exit)        Bail out! REASON
#
# Checks (DESC first; each prints one test line):
#   pass DESC                     a check that passed
#   fail DESC [DETAIL...]         a check that failed; DETAIL lines as "#   "
#   skip DESC REASON              a check that cannot run here
#   check DESC CMD...             CMD succeeds (its stdout goes to stderr)
#   check_not DESC CMD...         CMD fails (likewise)
#   check_eq DESC WANT GOT        the strings are equal
#   check_line DESC FILE LINE     FILE has LINE as a whole line
#   check_jq DESC FILTER WANT [FILE]  jq -r FILTER of FILE (default: the last
#                                 run's stdout) prints WANT
#   run CMD...                    RC, OUT, ERR of CMD; its stdout and stderr
#                                 also in $TAP_TMP/out and $TAP_TMP/err
#   expect_ok DESC CMD...         CMD exits 0
#   expect_fail DESC CMD...       CMD exits non-zero
#   expect_exit DESC CODE CMD...  CMD exits CODE
# Script control:
#   note MSG...                   "# MSG" for each line of each MSG
#   bail MSG                      "Bail out! MSG", exit 1 (setup failed)
#   skip_all REASON               "1..0 # SKIP REASON", exit 0 (before any
#                                 check: the whole script cannot run here)
#   tap_delegate CMD...           CMD prints the TAP (its own plan) of the
#                                 rest of the script, whose exit status is
#                                 CMD's (before any check)
#   tap_exec CMD...               exec CMD, which prints the TAP of the
#                                 script (before any check; TAP_TMP is
#                                 removed first)
#   at_exit CMD                   run CMD at exit (last registered first),
#                                 before the plan, with the script's exit
#                                 status in TAP_RC; never replace the EXIT
#                                 trap
#
# TAP_TMP is a private scratch directory, removed at exit (kept with
# TAP_KEEP=1).  Exit status: 0 when every check passed (or skip_all), 1 when
# one failed, when the script bailed out or died, or when it ran no check.

set -uo pipefail
export LC_ALL=C

TAP_NAME=${TAP_NAME:-$(basename "$0" .sh)}
tap_n=0
tap_failed=0
tap_skipped=0
tap_ended=0
tap_at_exit=()
TAP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tvdc-$TAP_NAME.XXXXXX") || {
    echo "Bail out! $TAP_NAME: mktemp failed"
    exit 1
}
export TAP_TMP

note() {
    local msg line
    for msg in "$@"; do
        while IFS= read -r line; do printf '# %s\n' "$line"; done <<<"$msg"
    done
}

# A description is printed on one line; it must not hold "# SKIP" or
# "# TODO" (TAP reads them as directives).
pass() {
    tap_n=$((tap_n + 1))
    printf 'ok %d - %s\n' "$tap_n" "${1//$'\n'/ }"
}

# fail DESC [DETAIL...]
fail() {
    local line l
    tap_n=$((tap_n + 1))
    tap_failed=$((tap_failed + 1))
    printf 'not ok %d - %s\n' "$tap_n" "${1//$'\n'/ }"
    shift
    for line in "$@"; do
        while IFS= read -r l; do printf '#   %s\n' "$l"; done <<<"$line"
    done
    return 0
}

skip() {
    tap_n=$((tap_n + 1))
    tap_skipped=$((tap_skipped + 1))
    printf 'ok %d - %s # SKIP %s\n' "$tap_n" "${1//$'\n'/ }" "${2//$'\n'/ }"
}

bail() {
    local msg="$*"
    printf 'Bail out! %s\n' "${msg//$'\n'/ }"
    tap_ended=1
    exit 1
}

skip_all() {
    (( tap_n == 0 )) || bail "skip_all after $tap_n checks: $*"
    local msg="$*"
    printf '1..0 # SKIP %s\n' "${msg//$'\n'/ }"
    tap_ended=1
    exit 0
}

tap_delegate() {
    local rc=0
    (( tap_n == 0 )) || bail "tap_delegate after $tap_n checks: $*"
    tap_ended=1
    "$@" || rc=$?
    exit "$rc"
}

tap_exec() {
    (( tap_n == 0 )) || bail "tap_exec after $tap_n checks: $*"
    rm -rf "$TAP_TMP"
    trap - EXIT
    exec "$@"
}

at_exit() {
    tap_at_exit+=("$*")
}

tap_exit() {
    local rc=$? i
    trap - EXIT
    TAP_RC=$rc      # for the at_exit commands
    export TAP_RC
    for (( i = ${#tap_at_exit[@]} - 1; i >= 0; i-- )); do
        eval "${tap_at_exit[i]}"
    done
    if (( ! tap_ended )); then
        if (( tap_n == 0 )); then
            fail "$TAP_NAME ran a check" "exit $rc before the first check"
        fi
        printf '1..%d\n' "$tap_n"
        (( rc != 0 )) && note "$TAP_NAME: exit $rc before the end"
        note "$TAP_NAME: $((tap_n - tap_failed - tap_skipped)) passed, $tap_failed failed, $tap_skipped skipped"
        (( tap_failed == 0 )) || rc=1
    fi
    if [[ -n ${TAP_KEEP:-} ]]; then
        note "kept $TAP_TMP"
    else
        rm -rf "$TAP_TMP"
    fi
    exit "$rc"
}
trap tap_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

check() {
    local desc=$1
    shift
    if "$@" >&2; then
        pass "$desc"
    else
        fail "$desc" "false: $*"
    fi
}

check_not() {
    local desc=$1
    shift
    if "$@" >&2; then
        fail "$desc" "true: $*"
    else
        pass "$desc"
    fi
}

check_eq() {
    if [[ $3 == "$2" ]]; then
        pass "$1"
    else
        fail "$1" "expected: $2" "got:      $3"
    fi
}

check_line() {
    if grep -qxF -- "$3" "$2"; then
        pass "$1"
    else
        fail "$1" "no line: $3" "in $2:" "$(head -c 4000 "$2")"
    fi
}

check_jq() {
    local got
    got=$(jq -r "$2" "${4:-$TAP_TMP/out}" 2>&1)
    check_eq "$1" "$3" "$got"
}

# run CMD...: RC, OUT, ERR of CMD (also in $TAP_TMP/out, $TAP_TMP/err)
run() {
    "$@" >"$TAP_TMP/out" 2>"$TAP_TMP/err"
    RC=$?
    OUT=$(<"$TAP_TMP/out")
    ERR=$(<"$TAP_TMP/err")
}

expect_exit() {
    local desc=$1 want=$2
    shift 2
    run "$@"
    if (( RC == want )); then
        pass "$desc"
    else
        fail "$desc" "exit $RC, want $want: $*" "$ERR"
    fi
}

expect_ok() {
    local desc=$1
    shift
    expect_exit "$desc" 0 "$@"
}

expect_fail() {
    local desc=$1
    shift
    run "$@"
    if (( RC != 0 )); then
        pass "$desc"
    else
        fail "$desc" "succeeded: $*" "$OUT"
    fi
}
