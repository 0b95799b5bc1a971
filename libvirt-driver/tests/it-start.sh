#!/bin/bash
# Integration test: virsh start on box hosts with the tvdc driver, policy
# tests/policies/partial-host.json (host-a may run MA, SU, WEB; host-b only
# MA and WEB; host-c is not in the policy).  Host authorization,
# anti-collocation with its full message, the permit paths (same type twice,
# non-conflicting types), release on destroy (once per VM), unlabeled VMs,
# a failed start that leaves no reservation, one audit record per decision
# with every field, reservations in tvdc status, disk hotplug into a running
# guest (refused across types and unlabeled, permitted within its type).  A
# permitted guest boots.
#
#   bash libvirt-driver/tests/it-start.sh      (root; three box hosts)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

POLICY_NAME=bank-dc-partial
MA="label market-analysis, types MA"
SU="label underwriting, types SU"
COLLOCATION_SU="collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET"
COLLOCATION_MA="collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set $CONFLICT_SET"

# record_fields HOST VM DECISION: the VM's records with DECISION, as
# "operation|host|name|uuid|label|decision|rule|detail|policy|version" lines
record_fields() {
    audit "$1" "[.[] | select(.vm_name == \"$2\" and .decision == \"$3\")
        | [.operation, .host, .vm_name, .vm_uuid, .label, .decision, .rule,
           .detail, .policy_name, (.policy_version | tostring)] | join(\"|\")]" |
        jq -r '.[]'
}

main() {
    local h ma_b su_b ma_c uuid rec hp_su hp_unl hp_ma

    it_setup
    box_up --hosts 3 --policy "$IT_POLICIES/partial-host.json"

    # One disk per VM (QEMU locks images for writing).
    for h in ma-1:market-analysis ma-2:market-analysis su-1:underwriting \
             web-1:public-web ma-nokernel:market-analysis; do
        disk "${h%%:*}" host-a "${h#*:}" >/dev/null
    done
    for h in ma-1:market-analysis ma-2:market-analysis su-1:underwriting web-1:public-web; do
        define host-a "${h%%:*}" "${h#*:}" "$(disk_xml "$WORK/img/${h%%:*}.img")" >/dev/null ||
            bail "define ${h%%:*}"
    done
    define host-a plain "" >/dev/null || bail "define plain"
    define host-a ma-nokernel market-analysis "$(disk_xml "$WORK/img/ma-nokernel.img")" \
        "$WORK/img/no-such-vmlinuz" >/dev/null || bail "define ma-nokernel"

    # --- host-a: permit, collocation, permit paths ----------------------
    expect_ok "host-a: start ma-1 (market-analysis) is permitted" on host-a virsh start ma-1
    expect_state "host-a: ma-1 is running" host-a ma-1 running
    check "host-a: ma-1's guest boots (TVDC-GUEST READY on its console)" \
        wait_console host-a ma-1 "TVDC-GUEST READY" 120

    # --- hotplug into the running ma-1 ----------------------------------
    hp_su=$(disk hp-su host-a underwriting)
    hp_unl=$(disk hp-unl host-a "")
    hp_ma=$(disk hp-ma host-a market-analysis)
    expect_deny "hotplug: a disk of another type is refused" \
        "VM 'ma-1' ($MA): resource: disk image ($hp_su): label market-analysis (types MA) shares no type with resource label underwriting (types SU)" \
        on host-a virsh attach-disk ma-1 "$hp_su" vdb --targetbus virtio
    expect_deny "hotplug: an unlabeled disk is refused" \
        "VM 'ma-1' ($MA): resource: disk image ($hp_unl) is not labeled" \
        on host-a virsh attach-disk ma-1 "$hp_unl" vdb --targetbus virtio
    check_eq "hotplug: the refused disks are not attached" "vda $WORK/img/ma-1.img" \
        "$(on host-a virsh domblklist ma-1 | awk 'NR > 2 && NF {print $1, $2}' | xargs)"
    expect_ok "hotplug: a market-analysis disk is attached" \
        on host-a virsh attach-disk ma-1 "$hp_ma" vdb --targetbus virtio
    check_eq "hotplug: ma-1 has both of its disks" "vda $WORK/img/ma-1.img vdb $hp_ma" \
        "$(on host-a virsh domblklist ma-1 | awk 'NR > 2 && NF {print $1, $2}' | xargs)"
    check_eq "audit: the two refusals are hotplug denials of ma-1" \
        "hotplug deny no-shared-type|hotplug deny unlabeled-resource" \
        "$(audit host-a '[.[] | select(.vm_name == "ma-1" and .operation == "hotplug") | "\(.operation) \(.decision) \(.rule)"] | join("|")' | tr -d '"')"

    expect_deny "host-a: start su-1 next to ma-1 is refused by anti-collocation" \
        "VM 'su-1' ($SU): $COLLOCATION_SU" on host-a virsh start su-1
    expect_state "host-a: su-1 stays shut off" host-a su-1 "shut off"
    expect_ok "host-a: a second VM of the same type (ma-2) is permitted" on host-a virsh start ma-2
    expect_ok "host-a: a non-conflicting type (web-1, WEB) is permitted" on host-a virsh start web-1
    check_eq "host-a: ma-1, ma-2 and web-1 run" "ma-1 ma-2 web-1" "$(running host-a)"
    check_eq "host-a: tvdc status: 3 reservations, MA twice and WEB once" \
        '{"reservations":3,"active":{"MA":2,"WEB":1}}' \
        "$(status host-a '{reservations, active: .active_types}')"
    check_eq "host-a: tvdc status lists the running VMs as reserved" \
        "ma-1:market-analysis:true ma-2:market-analysis:true web-1:public-web:true" \
        "$(status host-a '[.domains[] | select(.state == "running") | "\(.name):\(.label):\(.reserved)"] | sort | join(" ")' | tr -d '"')"

    # --- audit: one record per decision, every field -------------------
    uuid=$(on host-a virsh domuuid ma-1 | sed '/^$/d')
    rec=$(record_fields host-a ma-1 permit)
    # three resources: its disk, and the kernel and initrd it boots (boot
    # files are resources since the allow-list, issue #10)
    check_eq "audit: the permitted start of ma-1 is exactly one record with every field" \
        "start|host-a|ma-1|$uuid|market-analysis|permit|ok|host: host host-a (label dual-host) may run label market-analysis; collocation: no running type conflicts with label market-analysis; resources checked: 3|$POLICY_NAME|1" \
        "$rec"
    uuid=$(on host-a virsh domuuid su-1 | sed '/^$/d')
    rec=$(record_fields host-a su-1 deny)
    check_eq "audit: the refused start of su-1 is exactly one record with every field" \
        "start|host-a|su-1|$uuid|underwriting|deny|conflict|$COLLOCATION_SU|$POLICY_NAME|1" "$rec"
    check_eq "audit: su-1 has no other record" 1 "$(audit host-a "[.[] | select(.vm_name == \"su-1\")] | length")"
    check "audit: every record has a time" \
        test "$(audit host-a '[.[] | select(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$") | not)] | length')" = 0
    run on host-a tvdc audit --decision deny
    check "audit: tvdc audit --decision deny prints the refusal of su-1 and no permit" \
        test "$RC" = 0 -a "$(grep -c 'su-1' <<<"$OUT")" = 1 -a "$(grep -c ' permit' <<<"$OUT")" = 0

    # --- release on destroy, exactly once per VM ------------------------
    expect_ok "host-a: destroy ma-1" on host-a virsh destroy ma-1
    expect_deny "host-a: su-1 is still refused while ma-2 (MA) runs" \
        "VM 'su-1' ($SU): $COLLOCATION_SU" on host-a virsh start su-1
    check_eq "host-a: tvdc status: MA once after ma-1 stopped" \
        '{"reservations":2,"active":{"MA":1,"WEB":1}}' \
        "$(status host-a '{reservations, active: .active_types}')"
    expect_ok "host-a: destroy ma-2" on host-a virsh destroy ma-2
    expect_ok "host-a: with no MA left, su-1 starts" on host-a virsh start su-1
    expect_deny "host-a: now ma-1 is refused next to su-1" \
        "VM 'ma-1' ($MA): $COLLOCATION_MA" on host-a virsh start ma-1
    check_eq "host-a: su-1 and web-1 run" "su-1 web-1" "$(running host-a)"

    # --- unlabeled VM ---------------------------------------------------
    expect_deny "host-a: an unlabeled VM is refused (policy does not allow them)" \
        "VM 'plain' (unlabeled): label: VM has no tvdc label, and policy $POLICY_NAME does not allow unlabeled VMs" \
        on host-a virsh start plain
    expect_state "host-a: plain stays shut off" host-a plain "shut off"

    # --- a failed start leaves no reservation ---------------------------
    destroy_all host-a
    check_eq "host-a: tvdc status: no reservation once every VM is destroyed" \
        '{"reservations":0,"active":{}}' "$(status host-a '{reservations, active: .active_types}')"
    run on host-a virsh start ma-nokernel
    if (( RC != 0 )) && grep -qF "no-such-vmlinuz" <<<"$ERR" && ! has_deny "$ERR"; then
        pass "host-a: ma-nokernel (missing kernel file) fails to start, not by tvdc"
    else
        fail "host-a: ma-nokernel (missing kernel file) fails to start, not by tvdc" "exit $RC" "$ERR"
    fi
    expect_state "host-a: ma-nokernel is shut off" host-a ma-nokernel "shut off"
    check_eq "host-a: tvdc status: the failed start left no reservation" \
        '{"reservations":0,"active":{}}' "$(status host-a '{reservations, active: .active_types}')"
    expect_ok "host-a: after the failed MA start, su-1 (SU) starts" on host-a virsh start su-1
    destroy_all host-a

    # --- host-b: its label lacks SU -------------------------------------
    ma_b=$(disk ma-b host-b market-analysis)
    su_b=$(disk su-b host-b underwriting)
    define host-b su-b underwriting "$(disk_xml "$su_b")" >/dev/null || bail "define su-b"
    define host-b ma-b market-analysis "$(disk_xml "$ma_b")" >/dev/null || bail "define ma-b"
    expect_deny "host-b: underwriting is refused: SU is not in host-b's label" \
        "VM 'su-b' ($SU): host: type SU of label underwriting is not in label ma-web-host of host host-b" \
        on host-b virsh start su-b
    expect_state "host-b: su-b stays shut off" host-b su-b "shut off"
    check_eq "audit: host-b records the refusal as start/deny/host-lacks-type on host-b" \
        "start|host-b|su-b|deny|host-lacks-type" \
        "$(audit host-b '[.[] | select(.vm_name == "su-b") | "\(.operation)|\(.host)|\(.vm_name)|\(.decision)|\(.rule)"] | join(",")' | tr -d '"')"
    expect_ok "host-b: market-analysis (MA is in its label) is permitted" on host-b virsh start ma-b
    expect_state "host-b: ma-b is running" host-b ma-b running

    # --- host-c: not in the policy --------------------------------------
    ma_c=$(disk ma-c host-c market-analysis)
    define host-c ma-c market-analysis "$(disk_xml "$ma_c")" >/dev/null || bail "define ma-c"
    expect_deny "host-c: a host the policy does not list runs no labeled VM" \
        "VM 'ma-c' ($MA): host: host 'host-c' is not in the policy and runs no labeled VM" \
        on host-c virsh start ma-c
    expect_state "host-c: ma-c stays shut off" host-c ma-c "shut off"
}

main "$@"
