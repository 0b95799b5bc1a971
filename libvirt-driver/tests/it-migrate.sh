#!/bin/bash
# Integration test: live migration between box hosts under the tvdc driver,
# decided by the destination.  Policy tests/policies/migrate.json
# (bank-dc-mig): host-a and host-b may run MA, SU and WEB, host-c only MA
# and WEB.  A permitted migration moves the reservation (a VM of the freed
# conflicting type then starts on the source) and is audited on the
# destination as migrate-in; a migration to a host whose label lacks the
# VM's type, or where a conflicting VM runs, is refused; so is one to a
# host whose policy means something else by the label (other types, or
# another policy), with both meanings in the message, and one whose XML
# does not say what the label means at the source.  After every refusal the
# VM runs on the source, unchanged (same QEMU process, same live XML, its
# reservation), and the destination holds nothing.
#
#   bash libvirt-driver/tests/it-migrate.sh      (root; three box hosts)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

POLICY=$IT_POLICIES/migrate.json
MA="label market-analysis, types MA"
SU="label underwriting, types SU"

qemu_pid() {        # qemu_pid HOST VM
    on "$1" cat "/run/libvirt/qemu/$2.pid" 2>/dev/null
}

live_xml_sum() {    # live_xml_sum HOST VM
    on "$1" virsh dumpxml "$2" 2>/dev/null | sha256sum | cut -c1-16
}

# migrate FROM VM TO [virsh migrate options...]: the disks are on storage
# every host shares ($WORK), but libvirt calls a disk cache mode other than
# none unsafe to migrate, and O_DIRECT (cache='none') does not work on every
# /tmp: --unsafe.
migrate() {
    local from=$1 vm=$2 to=$3
    shift 3
    on "$from" virsh migrate --live --unsafe "$@" "$vm" "qemu+tcp://$to/system"
}

# snapshot HOST VM: what must not change when a migration of VM away from
# HOST is refused: state, QEMU process, live XML, its reservation
snapshot() {
    printf '%s|%s|%s|%s\n' "$(domstate "$1" "$2")" "$(qemu_pid "$1" "$2")" \
        "$(live_xml_sum "$1" "$2")" \
        "$(status "$1" ".domains[] | select(.name == \"$2\") | .reserved")"
}

# unchanged DESC FROM TO VM BEFORE: after a refused migration, VM runs on
# FROM exactly as BEFORE, and TO neither has it nor holds a reservation for it
unchanged() {
    local desc=$1 from=$2 to=$3 vm=$4 before=$5
    check_eq "$desc: $vm runs on $from, unchanged (state, QEMU pid, live XML, reserved)" \
        "$before" "$(snapshot "$from" "$vm")"
    check_eq "$desc: $to has no $vm and no reservation for it" "undefined|0" \
        "$(domstate "$to" "$vm")|$(status "$to" "[.domains[] | select(.name == \"$vm\")] | length")"
}

# wait_policy HOST VERSION NAME: HOST's driver has NAME VERSION in force
# (a policy replaced at run time is picked up without a restart)
wait_policy() {
    local i
    for (( i = 0; i < 50; i++ )); do
        [[ $(status "$1" '"\(.policy.name) \(.policy.version)"') == "\"$3 $2\"" ]] && return 0
        sleep 0.2
    done
    bail "$1: policy $3 version $2 not in force"
}

main() {
    local h before disagree

    it_setup
    box_up --hosts 3 --policy "$POLICY"
    # Shared storage: every host sees $WORK; each labels the disks in its
    # own store.
    for h in host-a host-b host-c; do
        disk ma-1 "$h" market-analysis >/dev/null
        disk su-1 "$h" underwriting >/dev/null
    done
    define host-a ma-1 market-analysis "$(disk_xml "$WORK/img/ma-1.img")" >/dev/null ||
        bail "define ma-1"
    define host-a su-1 underwriting "$(disk_xml "$WORK/img/su-1.img")" >/dev/null ||
        bail "define su-1"

    # --- permitted: host-a -> host-b, the reservation moves --------------
    on host-a virsh start ma-1 >/dev/null || bail "start ma-1"
    wait_console host-a ma-1 "TVDC-GUEST READY" 120 || bail "ma-1 did not boot"
    expect_deny "before: su-1 cannot start on host-a next to ma-1" \
        "VM 'su-1' ($SU): collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET" \
        on host-a virsh start su-1
    expect_ok "host-a -> host-b: ma-1 migrates live" migrate host-a ma-1 host-b
    check_eq "host-a -> host-b: ma-1 runs on host-b, not on host-a" "running|shut off" \
        "$(domstate host-b ma-1)|$(domstate host-a ma-1)"
    check_eq "host-a -> host-b: the reservation moved (host-a none, host-b MA)" \
        '0|{"MA":1}' "$(status host-a '.reservations')|$(status host-b '.active_types')"
    check_eq "host-a -> host-b: audited on host-b as a permitted migrate-in" \
        '"migrate-in|permit|ok|bank-dc-mig 1"' \
        "$(audit host-b '[.[] | select(.vm_name == "ma-1")] | last | "\(.operation)|\(.decision)|\(.rule)|\(.policy_name) \(.policy_version)"')"
    check "host-a -> host-b: host-b's live XML says what the label means there" \
        sh -c "'$DCBOX' exec host-b virsh dumpxml ma-1 | grep -q '<tvdc:label xmlns:tvdc=\"urn:tvdc:libvirt:1\" name=\"market-analysis\" types=\"MA\" policy=\"bank-dc-mig\" version=\"1\" host=\"host-b\"/>'"
    expect_ok "host-a: su-1 (the freed conflicting type) now starts" on host-a virsh start su-1
    wait_console host-a su-1 "TVDC-GUEST READY" 120 || bail "su-1 did not boot"

    # --- refused: host-c's label lacks SU --------------------------------
    before=$(snapshot host-a su-1)
    expect_deny "su-1 -> host-c (label ma-web-host, no SU) is refused" \
        "VM 'su-1' ($SU): host: type SU of label underwriting is not in label ma-web-host of host host-c" \
        migrate host-a su-1 host-c
    unchanged "no SU on host-c" host-a host-c su-1 "$before"

    # --- refused: a conflicting VM runs at the destination ---------------
    expect_deny "su-1 -> host-b, where ma-1 runs, is refused (anti-collocation)" \
        "VM 'su-1' ($SU): collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET" \
        migrate host-a su-1 host-b
    unchanged "conflict on host-b" host-a host-b su-1 "$before"
    check_eq "conflict on host-b: host-b still runs ma-1 alone, reserved once" "ma-1|1" \
        "$(running host-b)|$(status host-b '.reservations')"

    # --- refused: the hosts' policies disagree on the label --------------
    jq '.version = 2 | .labels |= map(if .name == "market-analysis" then .types = ["MA", "WEB"] else . end)' \
        "$POLICY" >"$WORK/mig-v2.json"
    install_policy host-c "$WORK/mig-v2.json"
    wait_policy host-c 2 bank-dc-mig
    before=$(snapshot host-b ma-1)
    disagree="migration: the hosts' policies disagree on label market-analysis: source host host-b: policy bank-dc-mig version 1, types MA; this host host-c"
    expect_deny "ma-1 -> host-c, where market-analysis means MA and WEB, is refused" \
        "VM 'ma-1' (label market-analysis, types MA,WEB): $disagree: policy bank-dc-mig version 2, types MA,WEB" \
        migrate host-b ma-1 host-c
    unchanged "other types" host-b host-c ma-1 "$before"
    check_eq "audit: host-c records the refusal as policy-mismatch" \
        '"migrate-in deny policy-mismatch"' \
        "$(audit host-c '[.[] | select(.vm_name == "ma-1")] | last | "\(.operation) \(.decision) \(.rule)"')"

    jq '.name = "bank-dc-other"' "$POLICY" >"$WORK/other.json"
    install_policy host-c "$WORK/other.json"
    wait_policy host-c 1 bank-dc-other
    expect_deny "ma-1 -> host-c, under another policy (same types), is refused" \
        "VM 'ma-1' ($MA): $disagree: policy bank-dc-other version 1, types MA" \
        migrate host-b ma-1 host-c
    unchanged "other policy" host-b host-c ma-1 "$before"

    jq '.version = 3' "$POLICY" >"$WORK/mig-v3.json"
    install_policy host-c "$WORK/mig-v3.json"
    wait_policy host-c 3 bank-dc-mig
    expect_ok "ma-1 -> host-c, whose policy (version 3) means the same, is permitted" \
        migrate host-b ma-1 host-c
    check_eq "host-b -> host-c: ma-1 runs on host-c, host-b holds nothing" "running|undefined|0" \
        "$(domstate host-c ma-1)|$(domstate host-b ma-1)|$(status host-b '.reservations')"

    # --- refused: a migration XML that drops what the label means --------
    on host-c virsh dumpxml --migratable ma-1 | sed '/<metadata>/,/<\/metadata>/d' \
        >"$WORK/xml/ma-1-bare.xml"
    before=$(snapshot host-c ma-1)
    expect_deny "ma-1 -> host-b with a migration XML without tvdc metadata is refused" \
        "VM 'ma-1' ($MA): migration: the source host did not say what label market-analysis means there (no <tvdc:label> in the domain's metadata: a source without this tvdc driver, or a migration XML that dropped it)" \
        migrate host-c ma-1 host-b --xml "$WORK/xml/ma-1-bare.xml"
    unchanged "no metadata" host-c host-b ma-1 "$before"
    expect_ok "ma-1 -> host-b with its own XML is permitted" migrate host-c ma-1 host-b
    check_eq "ma-1 came back to host-b; each host reserves exactly what it runs" \
        "host-a su-1 1; host-b ma-1 1; host-c 0" \
        "$(for h in host-a host-b host-c; do echo "$h $(running "$h") $(status "$h" '.reservations');"; done | xargs | sed 's/;$//')"
}

main "$@"
