#!/bin/bash
# Every policy in invalid/ must be rejected by `tvdc policy validate` with
# exit 2 and exactly the message in its .err file (FILE:LINE:COL: message).
# TVDC_REGEN=1 rewrites the .err files from the current output.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"
dir=$(cd "$(dirname "$0")" && pwd)/invalid
cd "$dir" || bail "no $dir"
n=0
for f in *.json; do
    name=${f%.json}
    out=$("$TVDC" policy validate "$f" 2>&1 >/dev/null)
    rc=$?
    if [[ -n ${TVDC_REGEN:-} ]]; then
        printf '%s\n' "$out" >"$name.err"
    fi
    want=$(cat "$name.err" 2>/dev/null)
    if [[ $rc -eq 2 && $out == "$want" && -n $want ]]; then
        pass "$f: rejected with its message"
    else
        fail "$f: rejected with its message" "exit $rc" "got:  $out" "want: $want"
    fi
    n=$((n + 1))
done
check "the corpus is not empty" test "$n" -gt 0
