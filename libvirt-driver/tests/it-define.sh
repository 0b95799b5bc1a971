#!/bin/bash
# Integration test: virsh define on a box host with the tvdc driver.  Every
# kind of resource the sharing rule covers (disk, cdrom, filesystem share,
# shmem, UNIX socket chardev, PCI hostdev) is refused at define when it is
# unlabeled or of another type, and the refused domain is not defined; an
# unknown label, an unlabelable resource and a missing vTPM are refused; a
# domain whose resources are all labeled with its type is defined.  Each
# refusal is one "verify" record in the host's audit log.
#
#   bash libvirt-driver/tests/it-define.sh      (root; one box host)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
VM_LABEL=market-analysis
VM_DESC="label market-analysis, types MA"
PCI_XML="<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>"
PCI2_XML="<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></source></hostdev>"

fs_xml() {          # fs_xml DIR
    printf "<filesystem type='mount' accessmode='passthrough'><source dir='%s'/><target dir='share'/></filesystem>\n" "$1"
}

shmem_xml() {       # shmem_xml NAME
    printf "<shmem name='%s'><model type='ivshmem-plain'/><size unit='M'>1</size></shmem>\n" "$1"
}

channel_xml() {     # channel_xml SOCKET
    printf "<channel type='unix'><source mode='bind' path='%s'/><target type='virtio' name='org.tvdc.test'/></channel>\n" "$1"
}

# define_denied DESC VM LABEL DEVICES DETAIL [SUBJECT]: define is refused
# with DETAIL (expect_deny "VM 'VM' (SUBJECT): DETAIL") and VM is not defined
# afterwards.  SUBJECT defaults to the market-analysis label and its types.
define_denied() {
    local desc=$1 vm=$2 label=$3 devices=$4 detail=$5 subject=${6:-$VM_DESC}
    expect_deny "define: $desc: refused" "VM '$vm' ($subject): $detail" \
        define "$H" "$vm" "$label" "$devices"
    if defined "$H" "$vm"; then
        fail "define: $desc: $vm is not defined" "$vm is in virsh list --all"
    else
        pass "define: $desc: $vm is not defined"
    fi
}

main() {
    local ma su un ma_cd su_cd share_ma share_su sock_ma sock_un n rec

    it_setup
    box_up --hosts 1 --policy "$IT_POLICIES/vtpm.json"

    ma=$(disk ma "$H" market-analysis)
    su=$(disk su "$H" underwriting)
    un=$(disk unlabeled "$H" "")
    ma_cd=$(disk ma-cd "$H" market-analysis)
    su_cd=$(disk su-cd "$H" underwriting)
    share_ma=$WORK/share-ma share_su=$WORK/share-su
    mkdir -p "$share_ma" "$share_su" "$WORK/sock"
    label "$H" "$share_ma" market-analysis
    label "$H" "$share_su" underwriting
    sock_ma=$WORK/sock/ma.sock sock_un=$WORK/sock/unlabeled.sock
    label "$H" "socket:$sock_ma" market-analysis
    label "$H" shmem:it-ma market-analysis
    label "$H" shmem:it-su underwriting
    label "$H" pci:0000:03:00.0 market-analysis
    label "$H" pci:0000:04:00.0 underwriting

    # --- refusals -------------------------------------------------------
    define_denied "unknown label" x-unknown nosuch "$(disk_xml "$ma")" \
        "label: unknown label 'nosuch'" "label nosuch"
    define_denied "unlabeled disk" x-disk-unl "$VM_LABEL" "$(disk_xml "$un")" \
        "resource: disk 'vda' ($un) is not labeled"
    define_denied "disk of another type" x-disk-su "$VM_LABEL" "$(disk_xml "$su")" \
        "resource: disk 'vda' ($su): label market-analysis (types MA) shares no type with resource label underwriting (types SU)"
    define_denied "second disk of another type beside a good one" x-disk2-su "$VM_LABEL" \
        "$(disk_xml "$ma") $(disk_xml "$su" vdb)" \
        "resource: disk 'vdb' ($su): label market-analysis (types MA) shares no type with resource label underwriting (types SU)"
    define_denied "cdrom of another type" x-cd-su "$VM_LABEL" "$(disk_xml "$su_cd" sda cdrom)" \
        "resource: disk 'sda' ($su_cd): label market-analysis (types MA) shares no type with resource label underwriting (types SU)"
    define_denied "unlabeled cdrom" x-cd-unl "$VM_LABEL" "$(disk_xml "$un" sda cdrom)" \
        "resource: disk 'sda' ($un) is not labeled"
    define_denied "filesystem share of another type" x-fs-su "$VM_LABEL" "$(fs_xml "$share_su")" \
        "resource: filesystem 'share' ($share_su): label market-analysis (types MA) shares no type with resource label underwriting (types SU)"
    define_denied "unlabeled filesystem share" x-fs-unl "$VM_LABEL" "$(fs_xml "$WORK/img")" \
        "resource: filesystem 'share' ($WORK/img) is not labeled"
    define_denied "shmem of another type" x-shm-su "$VM_LABEL" "$(shmem_xml it-su)" \
        "resource: shmem 'it-su' (shmem:it-su): label market-analysis (types MA) shares no type with resource label underwriting (types SU)"
    define_denied "unlabeled shmem" x-shm-unl "$VM_LABEL" "$(shmem_xml it-unl)" \
        "resource: shmem 'it-unl' (shmem:it-unl) is not labeled"
    define_denied "unlabeled UNIX socket channel" x-sock-unl "$VM_LABEL" "$(channel_xml "$sock_un")" \
        "resource: channel 'org.tvdc.test' socket (socket:$sock_un) is not labeled"
    define_denied "PCI hostdev of another type" x-pci-su "$VM_LABEL" "$PCI2_XML" \
        "resource: hostdev pci:0000:04:00.0 (pci:0000:04:00.0): label market-analysis (types MA) shares no type with resource label underwriting (types SU)"
    define_denied "unlabeled PCI hostdev" x-pci-unl "$VM_LABEL" \
        "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x05' slot='0x01' function='0x2'/></source></hostdev>" \
        "resource: hostdev pci:0000:05:01.2 (pci:0000:05:01.2) is not labeled"
    define_denied "TCP serial (a channel tvdc cannot label)" x-tcp "$VM_LABEL" \
        "<serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/><protocol type='raw'/></serial>" \
        "resource: serial 0: a tcp character device is a channel tvdc cannot label; use a labeled UNIX socket"
    define_denied "label requiring a vTPM without one" x-novtpm ma-sealed "$(disk_xml "$ma")" \
        "label: label ma-sealed requires a vTPM (<tpm><backend type='emulator' version='2.0'/></tpm>)" \
        "label ma-sealed, types MA"

    # Every refusal is recorded once, as a verify denial naming the rule.
    check_eq "audit: one verify/deny record per refused define, with its rule" \
        "x-cd-su no-shared-type,x-cd-unl unlabeled-resource,x-disk-su no-shared-type,x-disk-unl unlabeled-resource,x-disk2-su no-shared-type,x-fs-su no-shared-type,x-fs-unl unlabeled-resource,x-novtpm vtpm-required,x-pci-su no-shared-type,x-pci-unl unlabeled-resource,x-shm-su no-shared-type,x-shm-unl unlabeled-resource,x-sock-unl unlabeled-resource,x-tcp unsupported-resource,x-unknown unknown-label" \
        "$(audit "$H" '[.[] | select(.operation == "verify" and .decision == "deny") | "\(.vm_name) \(.rule)"] | sort | join(",")' | tr -d '"')"
    rec=$(audit "$H" '[.[] | select(.vm_name == "x-disk-su")][0]')
    check_eq "audit: the record of a refused define has host, VM, UUID, label, detail, policy" \
        "host-a|x-disk-su|true|market-analysis|deny|resource: disk 'vda' ($su): label market-analysis (types MA) shares no type with resource label underwriting (types SU)|bank-dc-vtpm|1" \
        "$(jq -r '[.host, .vm_name, (.vm_uuid | test("^[0-9a-f-]{36}$")), .label, .decision, .detail, .policy_name, (.policy_version | tostring)] | join("|")' <<<"$rec")"

    # --- permitted ------------------------------------------------------
    expect_ok "define: every resource labeled market-analysis: disk, cdrom, filesystem, shmem, socket channel, PCI hostdev" \
        define "$H" ma-full "$VM_LABEL" "$(disk_xml "$ma") $(disk_xml "$ma_cd" sda cdrom) $(fs_xml "$share_ma") $(shmem_xml it-ma) $(channel_xml "$sock_ma") $PCI_XML"
    expect_state "define: ma-full is defined and shut off" "$H" ma-full "shut off"
    expect_ok "define: label requiring a vTPM, with one" \
        define "$H" ma-sealed-1 ma-sealed \
        "$(disk_xml "$ma") <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"
    expect_ok "define: an unlabeled VM without resources (decided at start)" define "$H" plain ""
    n=$(audit "$H" '[.[] | select(.vm_name == "ma-full" or .vm_name == "ma-sealed-1" or .vm_name == "plain")] | length')
    check_eq "audit: permitted defines are not denials (no record)" 0 "$n"

    # A resource relabeled after define: the start re-verifies and refuses.
    label "$H" "$ma_cd" underwriting
    expect_deny "start: a cdrom relabeled to another type after define is refused at start" \
        "VM 'ma-full' ($VM_DESC): resource: disk 'sda' ($ma_cd): label market-analysis (types MA) shares no type with resource label underwriting (types SU)" \
        on "$H" virsh start ma-full
    expect_state "start: ma-full stays defined and shut off" "$H" ma-full "shut off"
}

main "$@"
