#!/bin/bash
# Integration test: save, restore and managed save under the tvdc driver.
# A save records, on the host and out of reach of the image's XML, the
# label the memory image was made under; a plain save/restore round trip
# works (and is audited); a restore under another label is refused with
# both labels named, whether the label was changed with `virsh restore
# --xml`, with `virsh save-image-define`, or in a managed save with
# `virsh managedsave-define`; an image without a record (a copy) is
# refused; a restore is decided like a start (anti-collocation); with the
# resource store unreadable even a dump onto the VM's own image is refused
# and the image left as it was.  After
# every refusal the VM is checked: shut off, its definition unchanged, no
# reservation, the image still restorable.
#
#   bash libvirt-driver/tests/it-save.sh      (root; one box host)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
MA="label market-analysis, types MA"
SU="label underwriting, types SU"
SAVED_DIR=/var/lib/tvdc/saved-images
MANAGED=/var/lib/libvirt/qemu/save/ma-1.save

# record PATH: the tvdc record of the memory image at PATH (JSON), or null
record() {
    on "$H" sh -c "cat $SAVED_DIR/*.json 2>/dev/null" | jq -sc --arg p "$1" 'map(select(.path == $p)) | .[0]'
}

# relabel LABEL < XML > XML: the domain XML with its tvdc label replaced
relabel() {
    sed "s|<label>[^<]*</label>|<label>$1</label>|"
}

# after_refusal DESC: ma-1 is shut off, still defined as market-analysis,
# and holds no reservation
after_refusal() {
    check_eq "$1: ma-1 is shut off, defined as market-analysis, no reservation" \
        "shut off|market-analysis|0" \
        "$(domstate "$H" ma-1)|$(on "$H" virsh dumpxml --inactive ma-1 | sed -n 's|.*<label>\(.*\)</label>.*|\1|p')|$(status "$H" '.reservations')"
}

vm_status() {       # QEMU's own view of the guest
    on "$H" virsh qemu-monitor-command ma-1 --hmp 'info status' 2>/dev/null | tr -d '\r' | sed '/^$/d'
}

main() {
    local img copy shared rec saved_msg managed_msg before

    it_setup
    box_up --hosts 1 --policy "$BANK"
    # A disk every type may share (label dual-host: MA, SU, WEB), so that
    # only the image's record stands between ma-1's memory and another label.
    shared=$(disk shared "$H" dual-host)
    define "$H" ma-1 market-analysis "$(disk_xml "$shared")" >/dev/null || bail "define ma-1"
    define "$H" su-1 underwriting "$(disk_xml "$(disk su-1 "$H" underwriting)")" >/dev/null ||
        bail "define su-1"
    on "$H" virsh start ma-1 >/dev/null || bail "start ma-1"
    wait_console "$H" ma-1 "TVDC-GUEST READY" 120 || bail "ma-1 did not boot"
    img=$WORK/img/ma-1.save
    copy=$WORK/img/ma-1-copy.save
    saved_msg="was saved by VM 'ma-1' under label market-analysis (types MA, policy bank-dc); it cannot be restored under label underwriting (types SU, policy bank-dc)"

    # --- a plain round trip ----------------------------------------------
    expect_ok "save: virsh save ma-1" on "$H" virsh save ma-1 "$img"
    expect_state "save: ma-1 is shut off" "$H" ma-1 "shut off"
    rec=$(record "$img")
    check_eq "save: the record names the image (path, inode), its VM, label, types, policy" \
        "$img|$(stat -c %i "$img")|ma-1|market-analysis|MA|bank-dc|host-a" \
        "$(jq -r '"\(.path)|\(.inode)|\(.vm_name)|\(.label)|\(.types)|\(.policy)|\(.host)"' <<<"$rec")"
    check_eq "save: records are root's alone (directory 0700, record 0600)" \
        "root 700 root 600" \
        "$(on "$H" sh -c "stat -c '%U %a' $SAVED_DIR; stat -c '%U %a' $SAVED_DIR/*.json" | xargs)"
    check_eq "audit: the save is recorded with the image and its label" \
        "\"save|permit|ok|save: memory image $img recorded under market-analysis\"" \
        "$(audit "$H" '[.[] | select(.operation == "save")] | last | "\(.operation)|\(.decision)|\(.rule)|\(.detail)"')"
    expect_ok "restore: virsh restore" on "$H" virsh restore "$img"
    check_eq "restore: ma-1 runs again, QEMU resumed it" "running|VM status: running" \
        "$(domstate "$H" ma-1)|$(vm_status)"
    check_eq "restore: audited as a permitted restore" '"restore permit ok"' \
        "$(audit "$H" '[.[] | select(.vm_name == "ma-1")] | last | "\(.operation) \(.decision) \(.rule)"')"
    check_eq "restore: tvdc status: ma-1 reserved" '"ma-1 true"' \
        "$(status "$H" '.domains[] | "\(.name) \(.reserved)"')"

    # --- virsh restore --xml under another label --------------------------
    on "$H" virsh save ma-1 "$img" >/dev/null || bail "save ma-1"
    on "$H" virsh save-image-dumpxml "$img" | relabel underwriting >"$WORK/xml/ma-1-su.xml"
    on "$H" virsh save-image-dumpxml "$img" | relabel market-analysis >"$WORK/xml/ma-1-ma.xml"
    check "restore --xml: the relabeled XML passes define-time checks (shared disk)" \
        grep -q '<label>underwriting</label>' "$WORK/xml/ma-1-su.xml"
    expect_deny "restore --xml: ma-1's image under label underwriting is refused, both labels named" \
        "VM 'ma-1' ($SU): restore: memory image $img $saved_msg" \
        on "$H" virsh restore "$img" --xml "$WORK/xml/ma-1-su.xml"
    after_refusal "restore --xml"
    check_eq "audit: the refusal is a restore denial (label-mismatch)" \
        '"restore deny label-mismatch underwriting"' \
        "$(audit "$H" '[.[] | select(.vm_name == "ma-1")] | last | "\(.operation) \(.decision) \(.rule) \(.label)"')"

    # --- virsh save-image-define ------------------------------------------
    expect_ok "save-image-define: the image's XML relabeled to underwriting" \
        on "$H" virsh save-image-define "$img" "$WORK/xml/ma-1-su.xml"
    check "save-image-define: the image's XML now says underwriting" \
        sh -c "'$DCBOX' exec $H virsh save-image-dumpxml '$img' | grep -q '<label>underwriting</label>'"
    expect_deny "save-image-define: the restore is refused, both labels named" \
        "VM 'ma-1' ($SU): restore: memory image $img $saved_msg" \
        on "$H" virsh restore "$img"
    after_refusal "save-image-define"
    expect_ok "save-image-define: the image's XML set back to market-analysis" \
        on "$H" virsh save-image-define "$img" "$WORK/xml/ma-1-ma.xml"
    expect_ok "save-image-define: then the image restores" on "$H" virsh restore "$img"
    expect_state "save-image-define: ma-1 runs" "$H" ma-1 running

    # --- an image without a record ----------------------------------------
    on "$H" virsh save ma-1 "$img" >/dev/null || bail "save ma-1"
    cp "$img" "$copy"
    expect_deny "a copy of the image (no record of it) is refused" \
        "VM 'ma-1' ($MA): restore: memory image $copy has no record on host host-a of the label it was saved under (saved on another host or before tvdc, or copied); it is not restored under any label" \
        on "$H" virsh restore "$copy"
    after_refusal "copy"

    # --- restore is decided like a start ----------------------------------
    on "$H" virsh start su-1 >/dev/null || bail "start su-1"
    expect_deny "collocation: restoring ma-1 next to su-1 is refused" \
        "VM 'ma-1' ($MA): collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set $CONFLICT_SET" \
        on "$H" virsh restore "$img"
    check_eq "collocation: ma-1 shut off, su-1 alone reserved" "shut off|su-1|1" \
        "$(domstate "$H" ma-1)|$(running "$H")|$(status "$H" '.reservations')"
    on "$H" virsh destroy su-1 >/dev/null
    expect_ok "collocation: with su-1 stopped, the image restores" on "$H" virsh restore "$img"
    expect_state "collocation: ma-1 runs" "$H" ma-1 running

    # --- managed save -------------------------------------------------------
    expect_ok "managed save: virsh managedsave ma-1" on "$H" virsh managedsave ma-1
    check_eq "managed save: recorded under market-analysis" "market-analysis" \
        "$(record "$MANAGED" | jq -r .label)"
    on "$H" virsh managedsave-dumpxml ma-1 | relabel underwriting >"$WORK/xml/ma-1-managed-su.xml"
    expect_ok "managed save: managedsave-define relabels its XML to underwriting" \
        on "$H" virsh managedsave-define ma-1 "$WORK/xml/ma-1-managed-su.xml"
    managed_msg="VM 'ma-1' ($SU): restore: memory image $MANAGED $saved_msg"
    expect_deny "managed save: virsh start (restoring it) is refused, both labels named" \
        "$managed_msg" on "$H" virsh start ma-1
    after_refusal "managed save"
    check "managed save: the image is kept" \
        sh -c "'$DCBOX' exec $H virsh dominfo ma-1 | grep -q '^Managed save: *yes'"
    on "$H" virsh managedsave-dumpxml ma-1 | relabel market-analysis >"$WORK/xml/ma-1-managed-ma.xml"
    on "$H" virsh managedsave-define ma-1 "$WORK/xml/ma-1-managed-ma.xml" >/dev/null ||
        bail "managedsave-define"
    expect_ok "managed save: set back to market-analysis, virsh start restores it" \
        on "$H" virsh start ma-1
    check_eq "managed save: ma-1 runs, resumed from the image (which is gone)" \
        "running|VM status: running|no" \
        "$(domstate "$H" ma-1)|$(vm_status)|$(on "$H" virsh dominfo ma-1 | sed -n 's/^Managed save: *//p')"

    # --- a save target whose labels cannot be read --------------------------
    # Onto its own earlier image a dump is permitted (a save would be refused
    # sooner, when libvirt verifies the image's XML); with the resource store
    # unreadable nothing is (fail closed), and the image stays as it was.
    on "$H" virsh save ma-1 "$img" >/dev/null || bail "save ma-1"
    on "$H" virsh restore "$img" >/dev/null || bail "restore ma-1"
    before=$(sum "$img")
    on "$H" cp /etc/tvdc/resources.json /etc/tvdc/resources.json.keep || bail "keep the store"
    on "$H" sh -c 'echo "{" >/etc/tvdc/resources.json' || bail "break the store"
    expect_fail "unreadable store: a dump of ma-1 onto its own earlier image is refused" \
        on "$H" virsh dump ma-1 "$img"
    check_eq "unreadable store: refused by rule resource-store, the image unchanged, ma-1 runs" \
        "\"save deny resource-store\"|$before|running" \
        "$(audit "$H" '[.[] | select(.vm_name == "ma-1")] | last | "\(.operation) \(.decision) \(.rule)"')|$(sum "$img")|$(domstate "$H" ma-1)"
    on "$H" mv /etc/tvdc/resources.json.keep /etc/tvdc/resources.json || bail "restore the store"
    expect_ok "store back: the dump onto its own image is permitted again" \
        on "$H" virsh dump ma-1 "$img"
    check "store back: the dump replaced the image" test "$(sum "$img")" != "$before"
}

main "$@"
