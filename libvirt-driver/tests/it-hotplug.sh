#!/bin/bash
# Integration test: hotplug into a running guest under the tvdc driver, by
# resource kind: disk, interface (vhost-user socket), host device (PCI and
# USB), character device (a UNIX socket channel) and shared memory.  Each
# is refused when its label shares no type with the VM's (and when it is
# unlabeled), with the message naming both labels, and the running VM is
# unchanged (its live XML is compared); each is permitted within the VM's
# type.  Permitted disks, channels and shmem are attached.  The box has no
# PCI or USB device to give away and no vhost-user backend: for those, a
# permitted device gets past tvdc to libvirt's or QEMU's own refusal (and
# the VM is unchanged), while a refused one never gets that far: tvdc
# decides before libvirt touches the device (patch 0006).  A persistent
# attach (--config) is checked too.
#
#   bash libvirt-driver/tests/it-hotplug.sh      (root; one box host)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
MA="label market-analysis, types MA"
NOSHARE="label market-analysis (types MA) shares no type with resource label underwriting (types SU)"

live_sum() {
    on "$H" virsh dumpxml ma-1 2>/dev/null | sha256sum | cut -c1-16
}

inactive_sum() {
    on "$H" virsh dumpxml --inactive ma-1 2>/dev/null | sha256sum | cut -c1-16
}

# device NAME XML: write the device XML to $WORK/xml/NAME.xml, print its path
device() {
    printf '%s\n' "$2" >"$WORK/xml/$1.xml"
    printf '%s\n' "$WORK/xml/$1.xml"
}

# refused DESC DETAIL XMLFILE: the hotplug is refused by tvdc with DETAIL
# and leaves ma-1's live XML as it was
refused() {
    local desc=$1 detail=$2 xml=$3 before
    before=$(live_sum)
    expect_deny "$desc" "VM 'ma-1' ($MA): $detail" on "$H" virsh attach-device ma-1 "$xml"
    check_eq "$desc: ma-1 runs, unchanged (live XML)" "running $before" \
        "$(domstate "$H" ma-1) $(live_sum)"
}

# past_tvdc DESC REGEX XMLFILE: tvdc permits the hotplug, which then fails
# in libvirt or QEMU with a message matching REGEX (the box has no such
# device; the message is libvirt's or QEMU's, never tvdc's), and ma-1 is
# unchanged
past_tvdc() {
    local desc=$1 re=$2 xml=$3 before
    before=$(live_sum)
    run on "$H" virsh attach-device ma-1 "$xml"
    if (( RC != 0 )) && grep -qE -- "^error: ($re)\$" <<<"$ERR" && ! has_deny "$ERR"; then
        pass "$desc"
    else
        fail "$desc" "expected (exit != 0): error: $re" "got (exit $RC):" "$ERR"
    fi
    check_eq "$desc: ma-1 runs, unchanged (live XML)" "running $before" \
        "$(domstate "$H" ma-1) $(live_sum)"
}

main() {
    local s d before xml n shm

    it_setup
    box_up --hosts 1 --policy "$BANK"
    s=$WORK/sock
    mkdir -p "$s"
    define "$H" ma-1 market-analysis \
        "$(disk_xml "$(disk ma-1 "$H" market-analysis)") <controller type='virtio-serial' index='0'/>" \
        >/dev/null || bail "define ma-1"
    on "$H" virsh start ma-1 >/dev/null || bail "start ma-1"
    wait_console "$H" ma-1 "TVDC-GUEST READY" 120 || bail "ma-1 did not boot"

    # --- disk --------------------------------------------------------------
    d=$(disk hp-su "$H" underwriting)
    refused "disk: an underwriting disk is refused" "resource: disk image ($d): $NOSHARE" \
        "$(device disk-su "$(disk_xml "$d" vdb)")"
    d=$(disk hp-unl "$H" "")
    refused "disk: an unlabeled disk is refused" "resource: disk image ($d) is not labeled" \
        "$(device disk-unl "$(disk_xml "$d" vdb)")"
    d=$(disk hp-ma "$H" market-analysis)
    expect_ok "disk: a market-analysis disk is attached" \
        on "$H" virsh attach-device ma-1 "$(device disk-ma "$(disk_xml "$d" vdb)")"
    check_eq "disk: ma-1 has both of its disks" "vda $WORK/img/ma-1.img vdb $d" \
        "$(on "$H" virsh domblklist ma-1 | awk 'NR > 2 && NF {print $1, $2}' | xargs)"

    # --- interface (vhost-user) ----------------------------------------------
    label "$H" "socket:$s/vu-su.sock" underwriting
    label "$H" "socket:$s/vu-ma.sock" market-analysis
    for n in su ma unl; do
        device "vu-$n" "<interface type='vhostuser'><source type='unix' path='$s/vu-$n.sock' mode='client'/><model type='virtio'/></interface>" >/dev/null
    done
    refused "interface: a vhost-user NIC on an underwriting socket is refused" \
        "resource: interface vhost-user socket (socket:$s/vu-su.sock): $NOSHARE" "$WORK/xml/vu-su.xml"
    refused "interface: a vhost-user NIC on an unlabeled socket is refused" \
        "resource: interface vhost-user socket (socket:$s/vu-unl.sock) is not labeled" \
        "$WORK/xml/vu-unl.xml"
    past_tvdc "interface: on a market-analysis socket, tvdc lets it through (QEMU finds no backend)" \
        "internal error: unable to execute QEMU command 'chardev-add': Failed to add chardev 'charnet0': Failed to connect to '$s/vu-ma\.sock': No such file or directory" \
        "$WORK/xml/vu-ma.xml"

    # --- host devices ---------------------------------------------------------
    # PCI domain fffe exists on no machine, and managed='no': even on a host
    # with VFIO, libvirt would never unbind a host driver for this test.
    label "$H" pci:fffe:ff:1f.6 underwriting
    label "$H" pci:fffe:ff:1f.7 market-analysis
    xml=$(device pci-su "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0xfffe' bus='0xff' slot='0x1f' function='0x6'/></source></hostdev>")
    refused "hostdev: an underwriting PCI device is refused before libvirt prepares it" \
        "resource: hostdev pci:fffe:ff:1f.6 (pci:fffe:ff:1f.6): $NOSHARE" "$xml"
    xml=$(device pci-unl "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0xfffe' bus='0xff' slot='0x1f' function='0x5'/></source></hostdev>")
    refused "hostdev: an unlabeled PCI device is refused" \
        "resource: hostdev pci:fffe:ff:1f.5 (pci:fffe:ff:1f.5) is not labeled" "$xml"
    xml=$(device pci-ma "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0xfffe' bus='0xff' slot='0x1f' function='0x7'/></source></hostdev>")
    past_tvdc "hostdev: a market-analysis PCI device gets past tvdc (libvirt: no passthrough here)" \
        "unsupported configuration: host doesn't support passthrough of host PCI devices" "$xml"
    label "$H" usb:1234:0e01 underwriting
    label "$H" usb:1234:0e02 market-analysis
    xml=$(device usb-su "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x0e01'/></source></hostdev>")
    refused "hostdev: an underwriting USB device is refused" \
        "resource: hostdev usb:1234:0e01 (usb:1234:0e01): $NOSHARE" "$xml"
    xml=$(device usb-ma "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x0e02'/></source></hostdev>")
    past_tvdc "hostdev: a market-analysis USB device gets past tvdc (libvirt: no such device here)" \
        "internal error: Did not find USB device 1234:e02|cannot open directory '/sys/bus/usb/devices': No such file or directory" \
        "$xml"

    # --- character device (UNIX socket channel) ------------------------------
    label "$H" "socket:$s/ch-su.sock" underwriting
    label "$H" "socket:$s/ch-ma.sock" market-analysis
    for n in su ma unl; do
        device "ch-$n" "<channel type='unix'><source mode='bind' path='$s/ch-$n.sock'/><target type='virtio' name='org.tvdc.$n'/></channel>" >/dev/null
    done
    refused "chardev: a channel on an underwriting socket is refused" \
        "resource: channel 'org.tvdc.su' socket (socket:$s/ch-su.sock): $NOSHARE" "$WORK/xml/ch-su.xml"
    refused "chardev: a channel on an unlabeled socket is refused" \
        "resource: channel 'org.tvdc.unl' socket (socket:$s/ch-unl.sock) is not labeled" \
        "$WORK/xml/ch-unl.xml"
    expect_ok "chardev: a channel on a market-analysis socket is attached" \
        on "$H" virsh attach-device ma-1 "$WORK/xml/ch-ma.xml"
    check "chardev: ma-1 has the channel, QEMU listens on its socket" \
        sh -c "'$DCBOX' exec $H virsh dumpxml ma-1 | grep -q \"<target type='virtio' name='org.tvdc.ma'\" && test -S '$s/ch-ma.sock' && test ! -e '$s/ch-su.sock'"

    # --- shared memory -------------------------------------------------------
    # (/dev/shm is the machine's: names of this run only)
    shm=it${WORK##*.}
    label "$H" "shmem:$shm-su" underwriting
    label "$H" "shmem:$shm-ma" market-analysis
    for n in su ma unl; do
        device "shm-$n" "<shmem name='$shm-$n'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>" >/dev/null
    done
    refused "shmem: an underwriting region is refused" \
        "resource: shmem '$shm-su' (shmem:$shm-su): $NOSHARE" "$WORK/xml/shm-su.xml"
    refused "shmem: an unlabeled region is refused" \
        "resource: shmem '$shm-unl' (shmem:$shm-unl) is not labeled" "$WORK/xml/shm-unl.xml"
    check "shmem: no refused region was created" \
        on "$H" test ! -e "/dev/shm/$shm-su" -a ! -e "/dev/shm/$shm-unl"
    expect_ok "shmem: a market-analysis region is attached" \
        on "$H" virsh attach-device ma-1 "$WORK/xml/shm-ma.xml"
    check "shmem: ma-1 has it" \
        sh -c "'$DCBOX' exec $H virsh dumpxml ma-1 | grep -q \"<shmem name='$shm-ma'>\""

    # --- persistent attach ----------------------------------------------------
    before=$(inactive_sum)
    expect_deny "--config: an underwriting region is refused for the persistent definition" \
        "VM 'ma-1' ($MA): resource: shmem '$shm-su' (shmem:$shm-su): $NOSHARE" \
        on "$H" virsh attach-device ma-1 "$WORK/xml/shm-su.xml" --config
    check_eq "--config: the persistent definition is unchanged" "$before" "$(inactive_sum)"

    # --- audit ----------------------------------------------------------------
    check_eq "audit: one hotplug denial per refused device, none for the permitted ones" \
        "$(printf '%s\n' "$WORK/img/hp-su.img" "$WORK/img/hp-unl.img" "socket:$s/vu-su.sock" "socket:$s/vu-unl.sock" \
                 pci:fffe:ff:1f.6 pci:fffe:ff:1f.5 usb:1234:0e01 "socket:$s/ch-su.sock" "socket:$s/ch-unl.sock" \
                 "shmem:$shm-su" "shmem:$shm-unl" | xargs)" \
        "$(audit "$H" '[.[] | select(.operation == "hotplug" and .decision == "deny") | .detail | capture("\\((?<k>[^()]*)\\)(: | is not labeled)").k] | join(" ")' | tr -d '"')"
    check_eq "ma-1 ran through it all" "running" "$(domstate "$H" ma-1)"
    on "$H" virsh destroy ma-1 >/dev/null
    rm -f "/dev/shm/$shm-ma"
}

main "$@"
