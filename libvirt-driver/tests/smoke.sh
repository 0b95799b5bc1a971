#!/bin/bash
# Smoke test of the tvdc driver on one patched libvirtd, run from its build
# tree in a private mount/UTS/network namespace (nothing of the host's
# libvirt is touched).  Needs root, QEMU, and a guest kernel and initrd.
#
#   smoke.sh LIBVIRT_BUILD_DIR TVDC_BIN POLICY_JSON KERNEL INITRD
#
# Prints one line per check and "N passed, N failed"; exit 1 if any failed.
# The datacenter-in-a-box suite (ci/) is the real acceptance test; this is
# the driver developer's quick loop.
set -uo pipefail

if [[ -z ${TVDC_SMOKE_INNER:-} ]]; then
    [[ $# -eq 5 ]] || { echo "usage: $0 LIBVIRT_BUILD TVDC POLICY_JSON KERNEL INITRD" >&2; exit 2; }
    [[ $(id -u) -eq 0 ]] || { echo "$0: must run as root" >&2; exit 2; }
    exec unshare -m -u -n --propagation private env TVDC_SMOKE_INNER=1 "$0" "$@"
fi

BUILD=$(realpath "$1") TVDC=$(realpath "$2") POLICY=$(realpath "$3")
KERNEL=$(realpath "$4") INITRD=$(realpath "$5")
WORK=$(mktemp -d /tmp/tvdc-smoke.XXXXXX)
passed=0 failed=0
pids=()

cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }

virsh() { "$BUILD/run" "$BUILD/tools/virsh" -q -c qemu:///system "$@"; }

# expect_ok DESC CMD...: CMD succeeds
expect_ok() {
    local desc=$1 out; shift
    if out=$("$@" 2>&1); then ok "$desc"; else bad "$desc: $out"; fi
}

# expect_fail DESC REGEX CMD...: CMD fails and its output matches REGEX
expect_fail() {
    local desc=$1 re=$2 out; shift 2
    if out=$("$@" 2>&1); then
        bad "$desc: succeeded: $out"
    elif [[ $out =~ $re ]]; then
        ok "$desc"
        [[ -z ${TVDC_SMOKE_VERBOSE:-} ]] || echo "     $out"
    else
        bad "$desc: output does not match /$re/: $out"
    fi
}

# A private host: host-a.
hostname host-a
for d in /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt \
         /etc/libvirt /etc/tvdc /var/lib/tvdc /var/log/tvdc; do
    mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
done
ip link set lo up

cat > /etc/libvirt/qemu.conf <<CONF
security_driver = [ "tvdc" ]
user = "root"
group = "root"
namespaces = [ ]
stdio_handler = "file"
remember_owner = 0
CONF
cat > /etc/libvirt/tvdc.conf <<CONF
# smoke test
policy = "/etc/tvdc/policy.bin"
host_name = "host-a"
resource_store = "/etc/tvdc/resources.json"
audit_log = "/var/log/tvdc/audit.log"
mode = "enforcing"
CONF
# the given policy plus a label that requires a vTPM
python3 - "$POLICY" "$WORK/policy.json" <<'PY' || exit 2
import json, sys
p = json.load(open(sys.argv[1]))
p["labels"].append({"name": "vtpm-ma", "types": [p["labels"][0]["types"][0]], "vtpm": "required"})
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
POLICY=$WORK/policy.json
"$TVDC" policy compile "$POLICY" --output /etc/tvdc/policy.bin >/dev/null || exit 2

truncate -s 1M "$WORK/ma.img" "$WORK/su.img" "$WORK/unlabeled.img"
"$TVDC" label set "$WORK/ma.img" market-analysis \
    --store /etc/tvdc/resources.json --policy /etc/tvdc/policy.bin >/dev/null || exit 2
"$TVDC" label set "$WORK/su.img" underwriting \
    --store /etc/tvdc/resources.json --policy /etc/tvdc/policy.bin >/dev/null || exit 2

start_libvirtd() {
    "$BUILD/run" "$BUILD/src/libvirtd" >"$WORK/libvirtd.log" 2>&1 &
    pids+=($!)
    local i
    for i in $(seq 100); do
        virsh version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "libvirtd did not come up:"; tail -20 "$WORK/libvirtd.log"; exit 2
}

stop_libvirtd() {
    local p=${pids[-1]}
    kill "$p"; while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
    unset 'pids[-1]'
}

# domain NAME LABEL|"" DISK|"" [KERNEL] > XML
domain() {
    local name=$1 label=$2 disk=$3 kernel=${4:-$KERNEL}
    echo "<domain type='qemu'><name>$name</name><memory unit='MiB'>96</memory><vcpu>1</vcpu>"
    echo "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>$kernel</kernel>"
    echo "<initrd>$INITRD</initrd><cmdline>console=ttyS0</cmdline></os>"
    echo "<features><acpi/></features><devices>"
    echo "<emulator>/usr/bin/qemu-system-x86_64</emulator>"
    [[ -n $disk ]] && echo "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$disk'/><target dev='vda' bus='virtio'/></disk>"
    echo "<serial type='pty'/><memballoon model='none'/></devices>"
    [[ -n $label ]] && echo "<seclabel type='static' model='tvdc' relabel='no'><label>$label</label></seclabel>"
    echo "</domain>"
}

define() { domain "$@" > "$WORK/$1.xml"; virsh define "$WORK/$1.xml"; }

status_has() { grep -q "$1" /run/libvirt/tvdc/status.json; }

start_libvirtd

expect_ok "capabilities list secmodel tvdc" \
    bash -c "'$BUILD/run' '$BUILD/tools/virsh' -c qemu:///system capabilities | grep -q '<model>tvdc</model>'"
expect_ok "status file names the policy" status_has '"name": "bank-dc"'

expect_ok "define ma-1 (MA disk)" define ma-1 market-analysis "$WORK/ma.img"
expect_ok "define su-1 (SU disk)" define su-1 underwriting "$WORK/su.img"
expect_fail "define with a disk of another type is refused" \
    "deny: VM 'ma-bad' \(label market-analysis, types MA\): resource: disk 'vda' .* shares no type" \
    define ma-bad market-analysis "$WORK/su.img"
expect_fail "define with an unlabeled disk is refused" \
    "resource: disk 'vda' \(.*unlabeled.img\) is not labeled" \
    define ma-unl market-analysis "$WORK/unlabeled.img"
expect_fail "define with an unknown label is refused" \
    "label: unknown label 'nosuch'" define x-1 nosuch ""
expect_ok "define an unlabeled VM" define plain "" ""
expect_fail "define without a vTPM where the label requires one is refused" \
    "label: label vtpm-ma requires a vTPM" define vt-1 vtpm-ma ""

expect_ok "start ma-1" virsh start ma-1
expect_ok "status lists ma-1 reserved" status_has '"name": "ma-1"'
expect_fail "start su-1 next to ma-1: collocation" \
    "collocation: type SU of label underwriting conflicts with running type MA \(label market-analysis\) in conflict set chinese-wall" \
    virsh start su-1
expect_fail "hotplug of a disk of another type is refused" \
    "resource: disk image \(.*su.img\): label market-analysis \(types MA\) shares no type" \
    virsh attach-disk ma-1 "$WORK/su.img" vdb --targetbus virtio
expect_ok "the refused disk is not attached" \
    bash -c "! '$BUILD/run' '$BUILD/tools/virsh' -c qemu:///system domblklist ma-1 | grep -q su.img"
truncate -s 1M "$WORK/ma2.img"
"$TVDC" label set "$WORK/ma2.img" market-analysis \
    --store /etc/tvdc/resources.json --policy /etc/tvdc/policy.bin >/dev/null
expect_ok "hotplug of a disk of the same type works" \
    virsh attach-disk ma-1 "$WORK/ma2.img" vdb --targetbus virtio
expect_fail "start an unlabeled VM: denied by default" \
    "VM 'plain' \(unlabeled\): label: VM has no tvdc label" virsh start plain

# libvirtd restart: the running VM keeps its reservation
stop_libvirtd
start_libvirtd
expect_fail "after libvirtd restart su-1 is still refused" \
    "conflicts with running type MA" virsh start su-1
expect_ok "destroy ma-1" virsh destroy ma-1
expect_ok "then su-1 starts" virsh start su-1
expect_ok "destroy su-1" virsh destroy su-1

# a failed start leaves no reservation behind
expect_ok "define ma-2 with a missing kernel" define ma-2 market-analysis "" /nonexistent/vmlinuz
expect_fail "start ma-2 fails" "." virsh start ma-2
expect_ok "status has no reservation after the failed start" \
    grep -q '"reservations": 0' /run/libvirt/tvdc/status.json
expect_ok "su-1 starts after the failed start of ma-2" virsh start su-1
expect_ok "destroy su-1" virsh destroy su-1

# a VM that dies while libvirtd is down leaves no reservation behind
expect_ok "start ma-1 again" virsh start ma-1
stop_libvirtd
pkill_qemu() {
    local pid
    pid=$(cat /run/libvirt/qemu/ma-1.pid) && kill "$pid" &&
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
expect_ok "kill ma-1's QEMU while libvirtd is down" pkill_qemu
start_libvirtd
expect_ok "su-1 starts: the dead VM's reservation is gone" virsh start su-1
expect_ok "destroy su-1" virsh destroy su-1

# a policy change never makes a defined domain disappear
"$TVDC" label set "$WORK/ma.img" underwriting --store /etc/tvdc/resources.json \
    --policy /etc/tvdc/policy.bin >/dev/null
stop_libvirtd
start_libvirtd
expect_ok "ma-1 is still defined after relabeling its disk and a restart" virsh dominfo ma-1
expect_fail "but its start is refused with the reason" "shares no type" virsh start ma-1

# conflicting starts at the same instant: never both
"$TVDC" label set "$WORK/ma.img" market-analysis --store /etc/tvdc/resources.json \
    --policy /etc/tvdc/policy.bin >/dev/null
both=0 none=0
for round in 1 2 3 4 5; do
    virsh start ma-1 >/dev/null 2>&1 &
    a=$!
    virsh start su-1 >/dev/null 2>&1 &
    b=$!
    wait $a; wait $b
    running=$(virsh list --name | grep -c .)
    [[ $running -le 1 ]] || both=$((both + 1))
    [[ $running -ge 1 ]] || none=$((none + 1))
    virsh destroy ma-1 >/dev/null 2>&1; virsh destroy su-1 >/dev/null 2>&1
done
if [[ $both -eq 0 && $none -eq 0 ]]; then
    ok "5 rounds of simultaneous conflicting starts: exactly one runs"
else
    bad "simultaneous conflicting starts: both ran in $both rounds, none in $none"
fi

# permissive mode: logged and audited as would-deny, and permitted
sed -i 's/^mode = .*/mode = "permissive"/' /etc/libvirt/tvdc.conf
stop_libvirtd
start_libvirtd
expect_ok "permissive: start ma-1" virsh start ma-1
expect_ok "permissive: start su-1 next to it" virsh start su-1
expect_ok "permissive: audited as would-deny" \
    grep -q '"vm_name":"su-1".*"decision":"would-deny","rule":"conflict"' /var/log/tvdc/audit.log
expect_ok "permissive: status says so" status_has '"mode": "permissive"'
expect_ok "destroy ma-1" virsh destroy ma-1
expect_ok "destroy su-1" virsh destroy su-1
sed -i 's/^mode = .*/mode = "enforcing"/' /etc/libvirt/tvdc.conf

# a policy that cannot be loaded denies everything, with the reason
cp "$POLICY" /etc/tvdc/policy.bin
stop_libvirtd
start_libvirtd
expect_fail "JSON policy in libvirtd: every VM denied" \
    "VM 'ma-1' \(label market-analysis\): no policy: policy /etc/tvdc/policy.bin is not a compiled policy" \
    virsh start ma-1
expect_ok "status file has the error" status_has '"error": "policy /etc/tvdc/policy.bin is not a compiled policy'
"$TVDC" policy compile "$POLICY" --output /etc/tvdc/policy.bin >/dev/null
sed -i 's/^mode = .*/mode = "lax"/' /etc/libvirt/tvdc.conf
stop_libvirtd
start_libvirtd
expect_fail "bad tvdc.conf: every VM denied, with line and column" \
    "no policy: configuration /etc/libvirt/tvdc.conf:[0-9]+:8: mode: expected" \
    virsh start su-1
sed -i 's/^mode = .*/mode = "enforcing"/' /etc/libvirt/tvdc.conf

expect_ok "audit log has a permit record" grep -q '"decision":"permit"' /var/log/tvdc/audit.log
expect_ok "audit log has a collocation deny" grep -q '"rule":"conflict"' /var/log/tvdc/audit.log

[[ -z ${TVDC_SMOKE_VERBOSE:-} ]] || { cat /var/log/tvdc/audit.log; cat /run/libvirt/tvdc/status.json; }
stop_libvirtd
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
