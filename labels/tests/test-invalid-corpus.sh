#!/usr/bin/env bash
# Every policy in invalid/ must be rejected by `tvdc policy validate` with
# exit 2 and exactly the message in its .err file (FILE:LINE:COL: message).
# TVDC_REGEN=1 rewrites the .err files from the current output.
set -u
dir=$(cd "$(dirname "$0")" && pwd)/invalid
cd "$dir" || exit 2
pass=0 fail=0
for f in *.json; do
    name=${f%.json}
    out=$("$TVDC" policy validate "$f" 2>&1 >/dev/null)
    rc=$?
    if [ -n "${TVDC_REGEN:-}" ]; then
        printf '%s\n' "$out" > "$name.err"
    fi
    want=$(cat "$name.err" 2>/dev/null)
    if [ "$rc" -eq 2 ] && [ "$out" = "$want" ] && [ -n "$want" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $f: exit $rc"
        echo "  got:  $out"
        echo "  want: $want"
    fi
done
echo "invalid corpus: $pass rejected as expected, $fail wrong"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
