#!/bin/bash
# Size limits that must hold: 65,536 types and 1,000,000 labels load (JSON
# and compiled), decisions work at that size, and one type over the limit
# is refused with E2BIG's message rather than a crash.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"
tmp=$TAP_TMP

python3 - "$tmp/big.json" <<'PY' || bail "cannot write the big policy"
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

want="valid: scale v1: 65536 types, 1000000 labels, 1 conflict set, 1 host"
check_eq "JSON loads" "$want" "$("$TVDC" policy validate "$tmp/big.json" 2>&1)"
expect_ok "compile" "$TVDC" policy compile "$tmp/big.json" --output "$tmp/big.bin"
check_eq "binary loads" "$want" "$("$TVDC" policy validate "$tmp/big.bin" 2>&1)"

# L0 = {T0, T1}; L65535 = {T65535, T(65535*7+1 mod 65536)} holds T65535,
# which conflicts with T0.
expect_exit "decide at scale: denied" 1 "$TVDC" policy decide "$tmp/big.bin" --host h --label L0 --running L65535
check_line "decide at scale: the conflict named" "$tmp/out" \
    "deny: collocation: type T0 of label L0 conflicts with running type T65535 (label L65535) in conflict set C0"
