#!/bin/bash
# Integration test of `tvdc net apply|clean --connect URI`: the libvirt
# networks tvdc-<type> (forward mode bridge, on the type's bridge), with a
# private virtnetworkd of the patched libvirt build (ci/build-libvirt's, in
# $TVDC_CACHE) in a mount + network namespace of its own (root).
#
#   bash libvirt-driver/net/tests/it-net-libvirt.sh
#
# TVDC: the tvdc binary; TVDC_LIBVIRT_BUILD: a libvirt build directory
# (default: the newest $TVDC_CACHE/libvirt-*/build that has virtnetworkd).
# Without a libvirt build the test is skipped (1..0 # SKIP), never passed.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../../ci/tests/tap.sh"

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
TVDC=${TVDC:-$ROOT/build/labels/tool/tvdc}
CACHE=${TVDC_CACHE:-/var/cache/tvdc}

if [[ ${1:-} != --inside ]]; then
    [[ $(id -u) -eq 0 ]] || skip_all "it-net-libvirt needs root"
    build=${TVDC_LIBVIRT_BUILD:-}
    if [[ -z $build ]]; then
        mapfile -t dirs < <(ls -td "$CACHE"/libvirt-*/ 2>/dev/null)
        for d in "${dirs[@]}"; do
            if [[ -x $d/build/src/virtnetworkd && -x $d/build/tools/virsh ]]; then
                build=${d%/}/build
                break
            fi
        done
    fi
    [[ -n $build ]] || skip_all "no libvirt build (ci/build-libvirt) in $CACHE"
    note "libvirt build $build"
    # A shared lock on the build keeps ci/build-libvirt's pruning away from it.
    exec 9>"$(dirname "$build").lock"
    flock -s 9 || bail "cannot lock $build"
    # A PID namespace too: when the test ends, however it ends, the kernel
    # stops the virtnetworkd it started.
    tap_exec unshare -m -n -u -p --fork --kill-child --mount-proc --propagation private \
        bash "$0" --inside "$build"
fi

# Inside: a private /run/libvirt and friends, and this namespace's network.
build=$2
WORK=$TAP_TMP

for d in /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /etc/libvirt; do
    mkdir -p "$d"
    mount -t tmpfs tmpfs "$d" || bail "cannot mount a tmpfs on $d"
done
cleanup() {
    [[ -f /run/libvirt/virtnetworkd.pid ]] && kill "$(cat /run/libvirt/virtnetworkd.pid)" 2>/dev/null
}
at_exit cleanup
ip link set lo up
"$build/run" "$build/src/virtnetworkd" --daemon --pid-file /run/libvirt/virtnetworkd.pid
for _ in $(seq 100); do [[ -S /run/libvirt/virtnetworkd-sock ]] && break; sleep 0.1; done
URI=network:///system
printf '#!/bin/sh\nexec %s/run %s/tools/virsh "$@"\n' "$build" "$build" >"$WORK/virsh"
chmod +x "$WORK/virsh"
export TVDC_VIRSH=$WORK/virsh
virsh() { "$WORK/virsh" -c "$URI" "$@"; }

ip link add ul0 type veth peer name ul1
ip link set ul0 up
ip addr add 10.66.0.1/24 dev ul0
cat >"$WORK/policy.json" <<'EOF'
{
  "name": "it-net", "version": 1,
  "types": ["MA", "SU", "WEB"],
  "labels": [{"name": "dual-host", "types": ["MA", "SU", "WEB"]},
             {"name": "ma-host", "types": ["MA"]}],
  "hosts": [{"name": "host-a", "label": "dual-host"}],
  "networks": [{"type": "MA", "vlan": 101}, {"type": "SU", "vlan": 102},
               {"type": "WEB", "vlan": 103}]
}
EOF
sed 's/{"name": "host-a", "label": "dual-host"}/{"name": "host-a", "label": "ma-host"}/' \
    "$WORK/policy.json" >"$WORK/policy2.json"
tv() { "$TVDC" net "$@" --host host-a --mode vxlan --underlay ul0 --peer 10.66.0.2 --connect "$URI"; }

# A network of someone else's, which tvdc must leave alone.
cat >"$WORK/other.xml" <<'EOF'
<network><name>other</name><forward mode='bridge'/><bridge name='br-other'/></network>
EOF
virsh net-define "$WORK/other.xml" >/dev/null

tv apply --policy "$WORK/policy.json" >"$WORK/out" && rc=0 || rc=$?
check "apply --connect succeeds" test "$rc" = 0
sed 's/^/#   /' "$WORK/out"
check "tvdc-MA, tvdc-SU, tvdc-WEB are defined, active, autostarted" \
    bash -c "[[ \"\$('$WORK/virsh' -c $URI -q net-list --all | awk '/tvdc-/ { print \$1, \$2, \$3, \$4 }' | tr '\n' ';')\" == \
              'tvdc-MA active yes yes;tvdc-SU active yes yes;tvdc-WEB active yes yes;' ]]"
check "tvdc-SU is <forward mode='bridge'/> on tvdcb102" \
    bash -c "'$WORK/virsh' -c $URI net-dumpxml tvdc-SU | grep -q \"<forward mode='bridge'/>\" &&
             '$WORK/virsh' -c $URI net-dumpxml tvdc-SU | grep -q \"<bridge name='tvdcb102'/>\""
uuid=$(virsh net-uuid tvdc-MA)
check "apply again keeps the networks as they are (same UUID)" \
    bash -c "'$TVDC' net apply --policy '$WORK/policy.json' --host host-a --mode vxlan --underlay ul0 \
                 --peer 10.66.0.2 --connect $URI --json | jq -e '.libvirt_networks == [\"tvdc-MA\", \"tvdc-SU\", \"tvdc-WEB\"]' >/dev/null &&
             [[ \$('$WORK/virsh' -c $URI net-uuid tvdc-MA) == $uuid ]]"
check "policy v2 (host only MA): apply removes tvdc-SU and tvdc-WEB" \
    bash -c "'$TVDC' net apply --policy '$WORK/policy2.json' --host host-a --mode vxlan --underlay ul0 \
                 --peer 10.66.0.2 --connect $URI >/dev/null &&
             [[ \"\$('$WORK/virsh' -c $URI -q net-list --all --name | grep tvdc- | tr '\n' ' ')\" == 'tvdc-MA ' ]]"
check "clean --connect removes every tvdc-* network" \
    bash -c "'$TVDC' net clean --connect $URI >/dev/null &&
             ! '$WORK/virsh' -c $URI -q net-list --all --name | grep -q tvdc-"
check "the other network is untouched" bash -c "'$WORK/virsh' -c $URI -q net-list --all --name | grep -qx other"
check "clean removed the interfaces too" bash -c "! ip -o link show | grep -q 'alias tvdc:'"
