#!/bin/bash
# Integration smoke test of the datacenter in a box: two hosts, a TCG guest
# booted on host-a that answers ping (and an unused address that must not),
# live-migrated to host-b.  Root; about 30 s.  Run from anywhere:
#   bash ci/tests/dcbox-smoke.sh
#
# The box has a state directory of its own (unless TVDC_DCBOX_STATE is set),
# so a box someone else has up on this machine is left alone.  The hosts'
# libvirt logs are kept in /var/log/tvdc-dcbox-smoke/ after the run.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/tap.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DCBOX=$ROOT/ci/dcbox
VM=smoke
GUEST_IP=198.51.100.10          # on br0 of the host running it
BRIDGE_IP=198.51.100.1          # br0 of every box host
UNUSED_IP=198.51.100.99         # nothing has it
CONSOLE=/var/log/libvirt/qemu/$VM-console.log
BOOT_TIMEOUT=90

declare -A timing=()

stop() {            # stop DESC: a failed check that the next ones need
    fail "$*"
    exit 1
}

now_ms() {
    date +%s%3N
}

on() {              # on HOST CMD...: run inside a box host
    "$DCBOX" exec "$@"
}

cleanup() {
    if (( TAP_RC != 0 )); then
        note "host-a console (last lines):" "$(on host-a tail -5 "$CONSOLE" 2>/dev/null)"
    fi
    "$DCBOX" down >/dev/null 2>&1 || note "warning: ci/dcbox down failed"
    [[ -z ${OWN_STATE:-} ]] || rm -rf "$OWN_STATE"
}

guest_xml() {
    local kernel=$1 initrd=$2
    cat <<EOF
<domain type='qemu'>
  <name>$VM</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$kernel</kernel>
    <initrd>$initrd</initrd>
    <cmdline>console=ttyS0 tvdc.ip=$GUEST_IP/24 tvdc.ping=$BRIDGE_IP,$UNUSED_IP</cmdline>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='bridge'>
      <source bridge='br0'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$CONSOLE'/>
    </serial>
    <console type='file'>
      <source path='$CONSOLE'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

wait_ready() {
    local deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
    while (( $(date +%s) < deadline )); do
        on host-a grep -q 'TVDC-GUEST READY' "$CONSOLE" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# The names of the running domains on HOST, one a line.
running_on() {
    on "$1" virsh list --name | sed '/^$/d'
}

main() {
    local t0 t h image kernel initrd
    [[ $(id -u) -eq 0 ]] || skip_all "dcbox-smoke needs root"
    if [[ -z ${TVDC_DCBOX_STATE:-} ]]; then
        OWN_STATE=$(mktemp -d /run/tvdc-dcbox-smoke.XXXXXX)
        export TVDC_DCBOX_STATE=$OWN_STATE
        export TVDC_DCBOX_LOGS=${TVDC_DCBOX_LOGS:-/var/log/tvdc-dcbox-smoke}
    fi
    at_exit cleanup
    t0=$(now_ms)

    note "bringing up host-a and host-b (state $TVDC_DCBOX_STATE)"
    t=$(now_ms)
    "$DCBOX" up --hosts 2 --security-driver none >&2 || stop "ci/dcbox up"
    timing[up]=$(( $(now_ms) - t ))
    for h in host-a host-b; do
        on "$h" virsh -q version >/dev/null || stop "$h: libvirtd does not answer"
        [[ $(on "$h" hostname) == "$h" ]] || stop "$h: wrong hostname"
    done
    pass "both libvirtds answer, hostnames set"
    on host-a ping -q -c 1 -W 2 host-b >/dev/null || stop "host-a cannot reach host-b"
    pass "host-a reaches host-b by name over the fabric"
    "$DCBOX" up --hosts 2 --security-driver none >&2 2>/dev/null ||
        stop "a second up is not a no-op"
    pass "a second up succeeds"

    image=$("$DCBOX" image) || stop "ci/dcbox image"
    kernel=${image#kernel=}
    kernel=${kernel%% initrd=*}
    initrd=${image##* initrd=}
    [[ -r $kernel && -r $initrd ]] || stop "image paths not readable: $kernel $initrd"
    guest_xml "$kernel" "$initrd" >"$TAP_TMP/$VM.xml"
    on host-a virsh define "$TAP_TMP/$VM.xml" >/dev/null || stop "virsh define $VM"
    t=$(now_ms)
    on host-a virsh start "$VM" >/dev/null || stop "virsh start $VM"
    wait_ready || stop "no 'TVDC-GUEST READY' within $BOOT_TIMEOUT s"
    timing[boot]=$(( $(now_ms) - t ))
    pass "guest booted on host-a (${timing[boot]} ms to READY)"

    on host-a grep -q "PING $BRIDGE_IP ok" "$CONSOLE" ||
        stop "guest could not ping host-a's bridge $BRIDGE_IP"
    on host-a grep -q "PING $UNUSED_IP fail" "$CONSOLE" ||
        stop "guest's ping of the unused $UNUSED_IP did not fail"
    pass "from the guest: $BRIDGE_IP answers, $UNUSED_IP does not"
    on host-a ping -q -c 3 -W 2 "$GUEST_IP" >/dev/null ||
        stop "host-a cannot ping the guest at $GUEST_IP"
    pass "host-a pings the guest at $GUEST_IP"
    if on host-a ping -q -c 2 -W 1 "$UNUSED_IP" >/dev/null 2>&1; then
        stop "ping of the unused $UNUSED_IP succeeded"
    fi
    pass "host-a's ping of the unused $UNUSED_IP fails"

    t=$(now_ms)
    on host-a virsh migrate --live "$VM" qemu+tcp://host-b/system >/dev/null ||
        stop "live migration to host-b failed"
    timing[migrate]=$(( $(now_ms) - t ))
    [[ $(on host-b virsh domstate "$VM") == running ]] ||
        stop "$VM is not running on host-b after migration"
    running_on host-a | grep -qx "$VM" && stop "$VM still runs on host-a"
    pass "migrated live to host-b in ${timing[migrate]} ms, gone from host-a"
    on host-b ping -q -c 3 -W 2 "$GUEST_IP" >/dev/null ||
        stop "host-b cannot ping the migrated guest"
    pass "host-b pings the migrated guest"

    note "timings: up ${timing[up]} ms, boot ${timing[boot]} ms, migration ${timing[migrate]} ms, total $(( $(now_ms) - t0 )) ms"
}

main "$@"
