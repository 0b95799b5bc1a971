#!/bin/bash
# Integration test: libvirtd restarts on a box host with the tvdc driver.
# Reservations are rebuilt from the running guests (a conflicting start is
# still refused, a non-conflicting one permitted, and they are released
# when those guests stop); a guest that dies while libvirtd is down leaves
# no reservation; a policy change (a label removed) or a resource relabeled
# never makes a defined domain disappear: it stays defined and its start is
# refused with the reason, and a running VM that the new policy would refuse
# keeps running and is reported as a violation.
#
#   bash libvirt-driver/tests/it-restart.sh      (root; one box host)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
MA="label market-analysis, types MA"
SU="label underwriting, types SU"
COLLOCATION_SU="collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET"

qemu_pid() {        # qemu_pid VM: the pid libvirt recorded for the guest
    on "$H" cat "/run/libvirt/qemu/$1.pid" 2>/dev/null
}

reservations() {
    status "$H" '{reservations, active: .active_types}'
}

main() {
    local vm pid1 pid2 new_pid ma1_disk

    it_setup
    box_up --hosts 1 --policy "$BANK"
    for vm in ma-1:market-analysis ma-2:market-analysis su-1:underwriting \
              web-1:public-web web-2:public-web; do
        define "$H" "${vm%%:*}" "${vm#*:}" "$(disk_xml "$(disk "${vm%%:*}" "$H" "${vm#*:}")")" \
            >/dev/null || bail "define ${vm%%:*}"
    done
    ma1_disk=$WORK/img/ma-1.img

    # --- restart with running guests ------------------------------------
    on "$H" virsh start ma-1 >/dev/null || bail "start ma-1"
    on "$H" virsh start web-1 >/dev/null || bail "start web-1"
    pid1=$(qemu_pid ma-1) pid2=$(qemu_pid web-1)
    restart_libvirtd "$H"
    pass "restart: libvirtd stopped and started again (pid $IT_STOPPED_PID -> $(host_libvirtd_pid "$H"))"
    check_eq "restart: ma-1 and web-1 still run, same QEMU processes" \
        "ma-1 web-1 $pid1 $pid2" "$(running "$H") $(qemu_pid ma-1) $(qemu_pid web-1)"
    check_eq "restart: tvdc status: reservations rebuilt (MA once, WEB once)" \
        '{"reservations":2,"active":{"MA":1,"WEB":1}}' "$(reservations)"
    check_eq "restart: tvdc status: the reconnected VMs are reserved, no violation" \
        "ma-1:true:null web-1:true:null" \
        "$(status "$H" '[.domains[] | "\(.name):\(.reserved):\(.violation)"] | sort | join(" ")' | tr -d '"')"
    expect_deny "restart: a conflicting start (su-1) is still refused" \
        "VM 'su-1' ($SU): $COLLOCATION_SU" on "$H" virsh start su-1
    expect_ok "restart: a second market-analysis VM (ma-2) is permitted" on "$H" virsh start ma-2
    expect_ok "restart: a second public-web VM (web-2) is permitted" on "$H" virsh start web-2
    on "$H" virsh destroy ma-1 >/dev/null
    expect_deny "restart: su-1 still refused while ma-2 runs" \
        "VM 'su-1' ($SU): $COLLOCATION_SU" on "$H" virsh start su-1
    on "$H" virsh destroy ma-2 >/dev/null
    expect_ok "restart: once ma-1 (reconnected) and ma-2 stopped, su-1 starts" \
        on "$H" virsh start su-1
    destroy_all "$H"
    check_eq "restart: tvdc status: no reservation left" \
        '{"reservations":0,"active":{}}' "$(reservations)"

    # --- a guest that dies while libvirtd is down -----------------------
    on "$H" virsh start ma-1 >/dev/null || bail "start ma-1"
    pid1=$(qemu_pid ma-1)
    stop_libvirtd "$H"
    kill -TERM "$pid1"
    for (( i = 0; i < 100; i++ )); do
        [[ -e /proc/$pid1 && $(awk '{print $3}' "/proc/$pid1/stat" 2>/dev/null) != Z ]] || break
        sleep 0.1
    done
    start_libvirtd "$H"
    expect_state "died while down: ma-1 is shut off after libvirtd starts" "$H" ma-1 "shut off"
    check_eq "died while down: tvdc status: no reservation for it" \
        '{"reservations":0,"active":{}}' "$(reservations)"
    expect_ok "died while down: su-1 starts" on "$H" virsh start su-1
    destroy_all "$H"

    # --- a resource relabeled while libvirtd is down --------------------
    label "$H" "$ma1_disk" underwriting
    restart_libvirtd "$H"
    check "relabel: ma-1 (its disk now underwriting) is still defined after the restart" \
        defined "$H" ma-1
    expect_deny "relabel: its start is refused with the reason" \
        "VM 'ma-1' ($MA): resource: disk 'vda' ($ma1_disk): label market-analysis (types MA) shares no type with resource label underwriting (types SU)" \
        on "$H" virsh start ma-1
    expect_state "relabel: ma-1 is shut off" "$H" ma-1 "shut off"
    label "$H" "$ma1_disk" market-analysis
    expect_ok "relabel: labeled back, ma-1 starts (no restart needed)" on "$H" virsh start ma-1
    on "$H" virsh destroy ma-1 >/dev/null

    # --- a policy change: label public-web removed (bank-dc v2) ---------
    on "$H" virsh start web-1 >/dev/null || bail "start web-1"
    pid2=$(qemu_pid web-1)
    install_policy "$H" "$IT_POLICIES/bank-v2.json"
    restart_libvirtd "$H"
    check_eq "policy v2: tvdc status: bank-dc version 2 in force" "bank-dc 2" \
        "$(status "$H" '"\(.policy.name) \(.policy.version)"' | tr -d '"')"
    check "policy v2: web-2 (label public-web, gone from the policy) is still defined" \
        defined "$H" web-2
    expect_deny "policy v2: web-2's start is refused: unknown label" \
        "VM 'web-2' (label public-web): label: unknown label 'public-web'" \
        on "$H" virsh start web-2
    expect_state "policy v2: web-2 is shut off" "$H" web-2 "shut off"
    new_pid=$(qemu_pid web-1)
    check_eq "policy v2: web-1, running under v1, is never stopped (same QEMU)" \
        "running $pid2" "$(domstate "$H" web-1) $new_pid"
    run on "$H" tvdc status --json
    if (( RC == 1 )) && [[ $(jq -r '.domains[] | select(.name == "web-1") | .violation' <<<"$OUT") == *public-web* ]]; then
        pass "policy v2: tvdc status reports web-1's violation and exits 1"
    else
        fail "policy v2: tvdc status reports web-1's violation and exits 1" "exit $RC" "$OUT"
    fi
    check "policy v2: web-1's live XML says so (tvdc-state:state violation, rule unknown-label)" \
        eval "on '$H' virsh dumpxml web-1 | grep -q '<tvdc-state:state .*violation=\".*public-web.*\" violation-rule=\"unknown-label\"'"
    expect_ok "policy v2: ma-1 (label still in the policy) starts" on "$H" virsh start ma-1
    expect_deny "policy v2: su-1 next to it is refused (conflict set unchanged)" \
        "VM 'su-1' ($SU): $COLLOCATION_SU" on "$H" virsh start su-1
    check_eq "audit: the refusal of web-2 names policy bank-dc version 2" \
        '"bank-dc 2 unknown-label"' \
        "$(audit "$H" '[.[] | select(.vm_name == "web-2" and .decision == "deny")] | last | "\(.policy_name) \(.policy_version) \(.rule)"')"
}

main "$@"
