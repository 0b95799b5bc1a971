#!/usr/bin/env bash
# Size limits that must hold: 65,536 types and 1,000,000 labels load (JSON
# and compiled), decisions work at that size, and one type over the limit
# is refused with E2BIG's message rather than a crash.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

python3 - "$tmp/big.json" <<'PY'
import json, sys
n_types, n_labels = 65536, 1000000
with open(sys.argv[1], "w") as f:
    f.write('{"name":"scale","version":1,"types":[')
    f.write(",".join('"T%d"' % t for t in range(n_types)))
    f.write('],"labels":[')
    f.write(",".join('{"name":"L%d","types":["T%d","T%d"]}' % (l, l % n_types, (l * 7 + 1) % n_types)
                     for l in range(n_labels)))
    f.write('],"conflicts":[{"name":"C0","types":["T0","T65535"]}],')
    f.write('"hosts":[{"name":"h","label":"L0"}]}')
PY

out=$("$TVDC" policy validate "$tmp/big.json" 2>&1)
want="valid: scale v1: 65536 types, 1000000 labels, 1 conflict set, 1 host"
[ "$out" = "$want" ] || { echo "FAIL: JSON: $out"; fail=1; }

"$TVDC" policy compile "$tmp/big.json" --output "$tmp/big.bin" >/dev/null || { echo "FAIL: compile"; fail=1; }
out=$("$TVDC" policy validate "$tmp/big.bin" 2>&1)
[ "$out" = "$want" ] || { echo "FAIL: binary: $out"; fail=1; }

# L0 = {T0, T1}; L65535 = {T65535, T(65535*7+1 mod 65536)} holds T65535,
# which conflicts with T0.
"$TVDC" policy decide "$tmp/big.bin" --host h --label L0 --running L65535 > "$tmp/out"
rc=$?
grep -qx "deny: collocation: type T0 of label L0 conflicts with running type T65535 (label L65535) in conflict set C0" "$tmp/out" && [ $rc -eq 1 ] ||
    { echo "FAIL: decide at scale (exit $rc): $(cat "$tmp/out")"; fail=1; }

echo "scale: $([ $fail -eq 0 ] && echo ok || echo FAILED)"
exit $fail
