# Helpers shared by the CLI tests; source after setting $tmp.
# Each check counts into pass/fail; a test ends with `cli_done NAME`.
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect WANT_EXIT DESCRIPTION -- CMD...: runs CMD, keeps stdout/stderr.
expect() {
    local want=$1 what=$2; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else bad "$what: exit $rc, want $want: $(cat "$tmp/err")"; fi
}
has() {  # has FILE TEXT DESCRIPTION: FILE contains the line TEXT
    if grep -qxF -- "$2" "$1"; then ok; else bad "$3: no line '$2' in: $(cat "$1")"; fi
}
jqeq() {  # jqeq FILTER WANT DESCRIPTION (on $tmp/out)
    local got
    got=$(jq -r "$1" "$tmp/out" 2>&1)
    if [ "$got" = "$2" ]; then ok; else bad "$3: $1 = '$got', want '$2'"; fi
}
