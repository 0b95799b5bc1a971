#!/bin/bash
# Integration test of `tvdc net` on this machine's kernel, vxlan mode, end
# to end (root).  Two network namespaces play host-a and host-b, joined by
# an underlay veth; `tvdc net apply` runs in each; veth pairs play the VMs'
# taps on the type bridges.  Checks: the bridges of exactly each host's
# types, FDB entries for the peer only, pings within a type across hosts
# pass and pings across types fail, repair, idempotence, a policy change,
# name clashes, a missing underlay, vlan mode on a kernel without 802.1Q,
# and that clean removes only tvdc's interfaces.  ip is used here to build
# the test topology and to look; the product never runs it (checked with
# strace).
#
#   bash libvirt-driver/net/tests/it-net-vxlan.sh      (TVDC=path/to/tvdc)
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../../ci/tests/tap.sh"

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
TVDC=${TVDC:-$ROOT/build/labels/tool/tvdc}
# namespace prefix: random, so that runs never mistake each other's
# namespaces for their own leftovers
P=tvdcit$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
A=$P-a B=$P-b C=$P-c
WORK=$TAP_TMP

cleanup() {
    local ns
    for ns in $(ip netns list | awk -v p="$P-" 'index($1, p) == 1 { print $1 }'); do
        ip netns del "$ns" 2>/dev/null || true
    done
}

[[ $(id -u) -eq 0 ]] || skip_all "it-net-vxlan needs root (network namespaces)"
[[ -x $TVDC ]] || bail "no tvdc at $TVDC"
at_exit cleanup     # also on a meson timeout (TERM)

# ---------------------------------------------------------------------------
# Policies and configurations

cat >"$WORK/policy.json" <<'EOF'
{
  "name": "it-net", "version": 1,
  "types": ["MA", "SU", "WEB", "NONET"],
  "labels": [
    {"name": "dual-host", "types": ["MA", "SU", "WEB", "NONET"]},
    {"name": "web-host", "types": ["MA", "WEB"]},
    {"name": "ma-host", "types": ["MA"]}
  ],
  "conflicts": [{"name": "chinese-wall", "types": ["MA", "SU"]}],
  "hosts": [{"name": "host-a", "label": "dual-host"},
            {"name": "host-b", "label": "web-host"},
            {"name": "host-c", "label": "dual-host"}],
  "networks": [{"type": "MA", "vlan": 101}, {"type": "SU", "vlan": 102},
               {"type": "WEB", "vlan": 103}]
}
EOF
# Version 2: host-b may no longer run WEB.
sed -e 's/"version": 1/"version": 2/' \
    -e 's/{"name": "host-b", "label": "web-host"}/{"name": "host-b", "label": "ma-host"}/' \
    "$WORK/policy.json" >"$WORK/policy2.json"

for h in a b c; do
    cat >"$WORK/$h.conf" <<EOF
host_name = "host-$h"
policy = "$WORK/policy.json"
net_mode = "vxlan"
net_underlay = "ul0"
vxlan_peers = [ "10.99.0.1", "10.99.0.2" ]   # the same list on every host
EOF
done

tv() {  # tv HOST ARGS...: tvdc in HOST's namespace with its tvdc.conf
    local h=$1; shift
    ip netns exec "$P-$h" env TVDC_CONF="$WORK/$h.conf" "$TVDC" "$@"
}

# ---------------------------------------------------------------------------
# Topology: host-a and host-b joined by an underlay veth

ip netns add "$A"
ip netns add "$B"
ip link add ul0 netns "$A" type veth peer name ul0 netns "$B"
ip -n "$A" addr add 10.99.0.1/24 dev ul0
ip -n "$B" addr add 10.99.0.2/24 dev ul0
for ns in "$A" "$B"; do
    ip -n "$ns" link set ul0 up
    ip -n "$ns" link set lo up
done

# vm HOST NAME BRIDGE ADDR: a VM namespace with eth0=ADDR/24, its "tap" NAME
# in HOST's namespace enslaved to BRIDGE.
vm() {
    local host=$P-$1 name=$2 br=$3 addr=$4
    ip netns add "$P-$name"
    ip -n "$host" link add "$name" type veth peer name eth0 netns "$P-$name"
    ip -n "$host" link set "$name" master "$br" up
    ip -n "$P-$name" addr add "$addr/24" dev eth0
    ip -n "$P-$name" link set eth0 up
    ip -n "$P-$name" link set lo up
}

pings() {  # pings VM ADDR: at least one of 3 echo requests answered
    ip netns exec "$P-$1" ping -q -c 3 -i 0.3 -W 2 "$2" >/dev/null 2>&1
}

pings_not() {  # one echo request, short wait: used where no answer is expected
    ip netns exec "$P-$1" ping -q -c 2 -i 0.3 -W 1 "$2" >/dev/null 2>&1
}

links() {  # names of the links of a namespace, one per line
    ip -n "$1" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
}

has_link() { links "$1" | grep -qx "$2"; }
tvdc_links() {  # links of a namespace with a tvdc: alias
    ip -n "$1" -o link show | awk '/ alias tvdc:/ { sub(/:$/, "", $2); sub(/@.*/, "", $2); print $2 }'
}
ifindex() { ip -n "$1" -o link show "$2" | cut -d: -f1; }

# ---------------------------------------------------------------------------
note "apply"

check "apply on host-a succeeds" tv a net apply
check "host-a: bridges and VXLAN ports of MA, SU, WEB, alias tvdc:it-net:<type>" \
    bash -c "[[ \"\$(ip -n $A -o link show | grep -c 'alias tvdc:it-net:')\" == 6 ]] &&
             ip -n $A -d link show tvdcx102 | grep -q 'vxlan id 102 dev ul0 .*dstport 4789' &&
             ip -n $A link show tvdcx102 | grep -q 'master tvdcb102' &&
             ip -n $A link show tvdcb101 | grep -q 'alias tvdc:it-net:MA'"
check "apply on host-b succeeds" tv b net apply
check "host-b: MA and WEB only; no bridge for SU (not in its label)" \
    bash -c "has_link() { ip -n $B -o link show | grep -q \" \$1[:@]\"; };
             has_link tvdcb101 && has_link tvdcx101 && has_link tvdcb103 && has_link tvdcx103 &&
             ! has_link tvdcb102 && ! has_link tvdcx102"
check "FDB: one all-zeros entry per VXLAN port, to the peer, none to itself" \
    bash -c "[[ \"\$(bridge -n $A fdb show dev tvdcx101 | grep '^00:00:00:00:00:00')\" == \
              '00:00:00:00:00:00 dst 10.99.0.2 self permanent' ]]"
check "show: all ok after apply (exit 0)" tv a net show
tv a net apply --json >"$WORK/out"
check "a second apply changes nothing" \
    jq -e '.created == 0 and .deleted == 0 and .changed == 0 and
           ([.found[] | select(.state != "ok" and .state != "no-network")] | length == 0)' \
       "$WORK/out"

if command -v strace >/dev/null; then
    tv a net clean >/dev/null
    # (LeakSanitizer cannot run under ptrace: off for a sanitizer build)
    ip netns exec "$A" env TVDC_CONF="$WORK/a.conf" ASAN_OPTIONS=detect_leaks=0 \
        strace -f -qq -e trace=execve -o "$WORK/strace" "$TVDC" net apply >/dev/null || true
    check "apply runs no program (no ip, bridge, brctl): one execve, tvdc's own" \
        bash -c "[[ \$(grep -c 'execve(' $WORK/strace) == 1 ]] && grep -q 'execve(\"$TVDC\"' $WORK/strace"
else
    fail "strace is not installed: cannot check that apply runs no program"
fi

# ---------------------------------------------------------------------------
note "traffic"

vm a ma-a tvdcb101 192.168.77.11
vm a su-a tvdcb102 192.168.77.12
vm a web-a tvdcb103 192.168.77.13
vm b ma-b tvdcb101 192.168.77.21
vm b web-b tvdcb103 192.168.77.22

check "MA on host-a reaches MA on host-b" pings ma-a 192.168.77.21
check "WEB on host-b reaches WEB on host-a" pings web-b 192.168.77.13
check_not "MA on host-a does not reach WEB on host-b" pings_not ma-a 192.168.77.22
check_not "MA on host-a does not reach SU on host-a (same host)" pings_not ma-a 192.168.77.12
check_not "SU on host-a does not reach MA on host-b" pings_not su-a 192.168.77.21
check_not "WEB on host-a does not reach MA on host-a" pings_not web-a 192.168.77.11

check "which: a VM's tap maps to the type of the bridge it is enslaved to" \
    bash -c "[[ \"\$(ip netns exec $A '$TVDC' net which --policy '$WORK/policy.json' su-a)\" == \
              'su-a: port of tvdcb102, type SU' ]]"
check "which: a bridge of tvdc's maps to its type" \
    bash -c "ip netns exec $A '$TVDC' net which --policy '$WORK/policy.json' tvdcb103 |
             grep -qx 'tvdcb103: bridge of type WEB'"
ip -n "$A" link add br-foreign type bridge
ip -n "$A" link add tap-x type veth peer name tap-xp
ip -n "$A" link set tap-x master br-foreign
check_not "which: a tap on a foreign bridge has no type (exit 1)" \
    ip netns exec "$A" "$TVDC" net which --policy "$WORK/policy.json" tap-x
# A direct interface (macvtap) is no bridge port: the device it sits on counts.
ip -n "$A" link add link tvdcb101 name mvt-ma type macvtap mode bridge
ip -n "$A" link add link br-foreign name mvt-x type macvtap mode bridge
check "which: a macvtap on a tvdc bridge maps to the bridge's type" \
    bash -c "ip netns exec $A '$TVDC' net which --policy '$WORK/policy.json' --json mvt-ma |
             jq -e '.type == \"MA\" and .bridge == \"tvdcb101\"' >/dev/null"
check_not "which: a macvtap on a foreign bridge has no type (exit 1)" \
    ip netns exec "$A" "$TVDC" net which --policy "$WORK/policy.json" mvt-x
ip -n "$A" link del mvt-ma
ip -n "$A" link del mvt-x

# ---------------------------------------------------------------------------
note "repair"

ip -n "$A" link set tvdcx101 down
bridge -n "$A" fdb del 00:00:00:00:00:00 dev tvdcx101 dst 10.99.0.2
check_not "show notices a port down and a missing FDB entry (exit 1)" tv a net show
check "show says what differs" \
    bash -c "ip netns exec $A env TVDC_CONF=$WORK/a.conf '$TVDC' net show --json |
             jq -e '.entries[] | select(.type == \"MA\") | .state == \"differs\" and
                    (.detail | contains(\"tvdcx101 is down\")) and
                    (.detail | contains(\"1 peer missing\"))' >/dev/null"
check "apply repairs it" tv a net apply
check "show: ok again" tv a net show
check "MA on host-a reaches MA on host-b again" pings ma-a 192.168.77.21
check "the VM's tap stayed on its bridge through the repair" \
    bash -c "ip -n $A link show ma-a | grep -q 'master tvdcb101'"

# ---------------------------------------------------------------------------
note "policy change"

ma_index=$(ifindex "$B" tvdcb101)
check "host-b, policy v2 without WEB: apply succeeds" \
    tv b net apply --policy "$WORK/policy2.json"
check "host-b: WEB's bridge and port are gone" \
    bash -c "! ip -n $B link show tvdcb103 2>/dev/null && ! ip -n $B link show tvdcx103 2>/dev/null"
check "host-b: MA's bridge is the same interface as before" \
    bash -c "[[ \$(ip -n $B -o link show tvdcb101 | cut -d: -f1) == $ma_index ]]"
check "host-b: the WEB VM's tap is still there, on no bridge" \
    bash -c "ip -n $B link show web-b >/dev/null && ! ip -n $B link show web-b | grep -q master"
check_not "WEB on host-a no longer reaches WEB on host-b" pings_not web-a 192.168.77.22
check "MA still crosses" pings ma-b 192.168.77.11

# ---------------------------------------------------------------------------
note "errors leave nothing half-made"

ip netns add "$C"
ip -n "$C" link add ul0 type veth peer name ul1
ip -n "$C" link set ul0 up
ip -n "$C" link add tvdcb103 type bridge
tv c net apply >"$WORK/out" 2>&1 && rc=0 || rc=$?
check "a foreign interface named tvdcb103: apply refuses (exit 2)" \
    bash -c "[[ $rc == 2 ]] && grep -qF \"type WEB: tvdcb103 exists and is not tvdc's\" $WORK/out"
check "... and creates nothing" bash -c "[[ -z \"\$(ip -n $C -o link show | grep tvdc:)\" ]] &&
                                         ! ip -n $C link show tvdcb101 2>/dev/null"
check "... and the foreign bridge is untouched" \
    bash -c "ip -n $C -o link show tvdcb103 | grep -vq alias"
ip -n "$C" link del tvdcb103

tv c net apply --underlay eth9 >"$WORK/out" 2>&1 && rc=0 || rc=$?
check "no such underlay: exit 2, said so, nothing created" \
    bash -c "[[ $rc == 2 ]] && grep -qF 'the underlay (net_underlay) eth9 does not exist' $WORK/out &&
             [[ -z \"\$(ip -n $C -o link show | grep tvdc)\" ]]"

if ip -n "$C" link add link ul0 name probe.5 type vlan id 5 2>/dev/null; then
    ip -n "$C" link del probe.5
    check "vlan mode (this kernel has 802.1Q): apply succeeds" \
        tv c net apply --mode vlan --uplink ul0
    tv c net clean >/dev/null
else
    tv c net apply --mode vlan --uplink ul0 >"$WORK/out" 2>&1 && rc=0 || rc=$?
    check "vlan mode on a kernel without 802.1Q: exit 2, 'no 802.1Q VLAN support'" \
        bash -c "[[ $rc == 2 ]] && grep -qF 'this kernel has no 802.1Q VLAN support (module 8021q)' $WORK/out"
    sed 's/^/#   /' "$WORK/out"
    check "... and leaves nothing behind (the bridge it made first is gone)" \
        bash -c "[[ -z \"\$(ip -n $C -o link show | grep tvdc)\" ]]"
fi
note "only some types (what the driver does before a VM starts)"
ip -n "$C" link add tvdcb7 type bridge
ip -n "$C" link set tvdcb7 alias tvdc:old:XY
tv c net apply --type WEB >/dev/null && rc=0 || rc=$?
got=$(links "$C" | grep '^tvdc' | sort | tr '\n' ' ')
check "apply --type WEB on host-c: WEB's bridge and port, nothing else ($got)" \
    test "$rc:$got" = "0:tvdcb103 tvdcb7 tvdcx103 "
tv b net apply --type MA --type WEB --policy "$WORK/policy.json" >/dev/null
tv b net apply --type SU --policy "$WORK/policy.json" >"$WORK/out" 2>&1 && rc=0 || rc=$?
check "apply --type SU on host-b: refused, SU is not in its label" \
    bash -c "[[ $rc == 2 ]] && grep -qF 'type SU is not in the label of host host-b' $WORK/out"
tv c net clean >/dev/null

before=$(tvdc_links "$A" | sort | tr '\n' ' ')
tv a net apply --mode vlan --uplink ul0 >"$WORK/out" 2>&1 && rc=0 || rc=$?
if [[ $rc == 0 ]]; then
    note "(this kernel has 802.1Q: host-a switched to vlan mode)"
    tv a net apply >/dev/null
else
    check "a failed switch to vlan mode on host-a leaves its vxlan interfaces as they were" \
        bash -c "[[ \"\$(ip -n $A -o link show | awk '/ alias tvdc:/ { sub(/:\$/, \"\", \$2); sub(/@.*/, \"\", \$2); print \$2 }' |
                      sort | tr '\n' ' ')\" == '$before' ]]"
    check "... and MA still crosses" pings ma-a 192.168.77.21
fi

# ---------------------------------------------------------------------------
note "clean"

check "clean on host-a succeeds" tv a net clean
check "host-a: no interface of tvdc's is left" bash -c "[[ -z \"\$(ip -n $A -o link show | grep 'alias tvdc:')\" ]] &&
    ! ip -n $A -o link show | grep -q ' tvdc[bvx][0-9]'"
check "host-a: the foreign bridge, its port, the VMs' taps and the underlay survive" \
    bash -c "for l in br-foreign tap-x ma-a su-a web-a ul0; do ip -n $A link show \$l >/dev/null || exit 1; done;
             ip -n $A link show tap-x | grep -q 'master br-foreign'"
check_not "show after clean reports what is missing (exit 1)" tv a net show
check "clean again: nothing to do" bash -c "ip netns exec $A '$TVDC' net clean --json |
                                            jq -e '.deleted == []' >/dev/null"
