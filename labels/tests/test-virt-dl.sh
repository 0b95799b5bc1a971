#!/bin/bash
# The tvdc command loads libvirt only when a verb talks to it
# (labels/cli/virt-dl.c): it does not link libvirt.so.0 nor export libvirt's
# names (libvirt's internal calls must not bind to the forwarders), dc
# reaches libvirt's test driver through it, and with libvirt.so.0 unusable
# (a private mount namespace puts /dev/null over it; skipped where
# unprivileged user namespaces are off) dc and attest fail with exit 2
# naming the library while the policy verbs still work.
# Needs $TVDC and $TVDC_EXAMPLES; uses readelf, nm, jq, unshare.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"
: "${TVDC:?set TVDC to the tvdc binary}"
: "${TVDC_EXAMPLES:?set TVDC_EXAMPLES to labels/examples}"
policy=$TVDC_EXAMPLES/bank.json
starts() {  # starts DESC PREFIX TEXT: TEXT starts with PREFIX
    if [[ $3 == "$2"* ]]; then pass "$1"; else fail "$1" "want: $2..." "got: $3"; fi
}

run readelf -d "$TVDC"
check_eq "tvdc does not link libvirt" "" "$(grep -i 'NEEDED.*libvirt' "$TAP_TMP/out")"
run nm -D --defined-only "$TVDC"
check_eq "tvdc exports no libvirt function" "" "$(grep -E ' vir[A-Z]' "$TAP_TMP/out")"

# exit 1: test:///default has no tvdc driver (drift)
run "$TVDC" dc status --connect test:///default --policy "$policy" --json
check_eq "dc status through the loaded libvirt" "1 true test" \
    "$RC $(jq -r '"\(.hosts[0].reachable) \(.hosts[0].domains[0].name)"' <<<"$OUT")"

lib=$(PATH=$PATH:/usr/sbin:/sbin ldconfig -p 2>/dev/null | awk '$1 == "libvirt.so.0" { print $NF; exit }')
if [[ -z $lib ]]; then
    skip "without libvirt.so.0" "no libvirt.so.0 in ldconfig's cache"
elif ! unshare -rm true 2>/dev/null; then
    skip "without libvirt.so.0" "no unprivileged user and mount namespaces"
else
    lib=$(readlink -f "$lib")
    # without ARGS...: ARGS run where libvirt.so.0 is /dev/null
    without() {
        run unshare -rm bash -c 'mount --bind /dev/null "$1" && shift && exec "$@"' _ "$lib" "$@"
    }
    want="cannot initialize libvirt: cannot load libvirt.so.0: "
    without "$TVDC" dc status --connect test:///default --policy "$policy"
    check_eq "dc status without libvirt: exit 2" 2 "$RC"
    starts "dc status without libvirt: says why" "tvdc: dc: cannot query the hosts: $want" "$ERR"
    without "$TVDC" attest some-vm --connect test:///default --policy "$policy" --ca "$TAP_TMP"
    check_eq "attest without libvirt: exit 2" 2 "$RC"
    starts "attest without libvirt: says why" "tvdc: attest: $want" "$ERR"
    without "$TVDC" policy validate "$policy"
    check_eq "policy validate without libvirt" 0 "$RC"
fi
