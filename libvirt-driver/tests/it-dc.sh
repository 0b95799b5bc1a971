#!/bin/bash
# Integration test: tvdc dc over a three-host box with the bank policy
# (host-a and host-b dual-host; host-c is not in the policy), run inside
# host-a against every host's libvirtd over qemu+tcp.  Placement for every
# label on every host agrees with what virsh start then does there; status
# lists every host with one identity and the domains with labels and
# states; a host given another policy version is flagged as drift; a host
# whose libvirtd is stopped, and an address nobody answers, are reported
# unreachable within the timeout.  A refusal's reason is the one the
# host's driver records in its audit log (tvdc_verdict_format's line).
#
#   bash libvirt-driver/tests/it-dc.sh      (root; three box hosts)
#   TVDC=build/labels/tool/tvdc: the tvdc under test (default: on PATH)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

dc_box_vars

# dc ARGS...: tvdc dc inside host-a, with the bank policy; RC, OUT, ERR
dc() {
    run on host-a "$TVDC" dc "$@" --policy "$BANK" "${CONNECT[@]}" --json
}

main() {
    local label labels h i permit started reason vm key t0 elapsed

    it_setup
    TVDC=$(command -v "$TVDC") || bail "no tvdc at ${TVDC_BIN:-${TVDC:-tvdc}}"
    box_up --hosts 3 --policy "$BANK"
    mapfile -t labels < <(jq -r '.labels[].name' "$BANK")

    # What runs: market-analysis on host-a, underwriting on host-b; a
    # public-web domain defined, not running, on host-c.
    disk ma-1 host-a market-analysis >/dev/null
    disk su-1 host-b underwriting >/dev/null
    define host-a ma-1 market-analysis "$(disk_xml "$WORK/img/ma-1.img")" >/dev/null || bail "define ma-1"
    define host-b su-1 underwriting "$(disk_xml "$WORK/img/su-1.img")" >/dev/null || bail "define su-1"
    define host-c web-c public-web >/dev/null || bail "define web-c"
    on host-a virsh start ma-1 >/dev/null || bail "start ma-1"
    on host-b virsh start su-1 >/dev/null || bail "start su-1"

    # --- status ---------------------------------------------------------
    dc status
    check_eq "status: exit 0 (one identity, no violation, every host reached)" 0 "$RC"
    check_jq "status: three hosts, all reachable" \
        '[.hosts[] | select(.reachable)] | length' 3
    key=$(jq -r '.reference' "$TAP_TMP/out")
    check "status: the identity is bank-dc version 1 with a hash" \
        grep -qxE 'bank-dc:1:[0-9a-f]{16}' <<<"$key"
    check_jq "status: every host publishes that identity, enforcing, under its own name" \
        '[.hosts[] | "\(.identity.policy):\(.identity.version):\(.identity.hash):\(.identity.mode):\(.identity.host)"] | join(" ")' \
        "$key:enforcing:host-a $key:enforcing:host-b $key:enforcing:host-c"
    check_jq "status: no drift" '[.hosts[] | select(.drift != null)] | length' 0
    check_jq "status: host labels (host-c is not in the policy)" \
        '[.hosts[] | .host_label // "none"] | join(" ")' "dual-host dual-host none"
    check_jq "status: every domain with its state and label" \
        '[.hosts[] | .domains[] | "\(.name)/\(.state)/\(.label)"] | join(" ")' \
        "ma-1/running/market-analysis su-1/running/underwriting web-c/shut off/public-web"

    # --- place, for every label on every host, against virsh start -----
    for label in "${labels[@]}"; do
        dc place --label "$label"
        cp "$TAP_TMP/out" "$WORK/run/place-$label.json"
        for i in 0 1 2; do
            h=${HOSTS[i]}
            permit=$(jq -r ".hosts[$i].permit" "$WORK/run/place-$label.json")
            reason=$(jq -r ".hosts[$i].reason // empty" "$WORK/run/place-$label.json")
            vm=p-$label-$h
            define "$h" "$vm" "$label" >/dev/null 2>&1 || bail "define $vm on $h"
            if on "$h" virsh start "$vm" >"$WORK/run/start.out" 2>"$WORK/run/start.err"; then
                started=true
                on "$h" virsh destroy "$vm" >/dev/null 2>&1
            else
                started=false
            fi
            on "$h" virsh undefine "$vm" >/dev/null 2>&1
            if [[ $permit == "$started" ]]; then
                pass "place $label on $h: $permit, as virsh start does${reason:+ ($reason)}"
            else
                fail "place $label on $h: dc place says $permit, virsh start ${started}" \
                    "place: $reason" "virsh: $(cat "$WORK/run/start.err")"
            fi
            if [[ $permit == false ]]; then
                # the driver's audit record of the refusal has the same reason
                check_eq "place $label on $h: the host's audit record gives dc place's reason" \
                    "$reason" "$(audit "$h" '[.[] | select(.vm_name == $vm and .decision == "deny")
                                             | .detail] | last // ""' -r --arg vm "$vm")"
            fi
        done
    done
    dc place --migrate ma-1
    check_jq "place --migrate ma-1: host-a (leaving it empty) and not host-b (underwriting runs)" \
        '[.hosts[] | .permit] | join(" ")' "true false false"

    # --- drift: host-b gets another policy version -------------------------
    jq '.version = 7' "$BANK" >"$WORK/bank-v7.json"
    install_policy host-b "$WORK/bank-v7.json"
    restart_libvirtd host-b
    dc status
    check_eq "drift: exit 1" 1 "$RC"
    check_jq "drift: host-b is flagged, the others are not" \
        '[.hosts[] | .drift // "-"] | join("|")' "-|another policy identity than most hosts|-"
    check_jq "drift: host-b publishes version 7" '.hosts[1].identity.version' 7

    # --- unreachable hosts, in bounded time ---------------------------------
    stop_libvirtd host-c
    t0=$(date +%s%3N)
    run on host-a "$TVDC" dc status --policy "$BANK" "${CONNECT[@]}" \
        --connect qemu+tcp://192.0.2.99/system --timeout 3 --json
    elapsed=$(( $(date +%s%3N) - t0 ))
    check_eq "unreachable: exit 1" 1 "$RC"
    check_jq "unreachable: four hosts reported, host-c and 192.0.2.99 unreachable" \
        '[.hosts[] | "\(.name | sub("qemu\\+tcp://|/system"; ""; "g"))=\(.reachable)"] | join(" ")' \
        "192.0.2.11=true 192.0.2.12=true 192.0.2.13=false 192.0.2.99=false"
    check_jq "unreachable: each with a reason" \
        '[.hosts[] | select(.reachable | not) | select((.error // "") != "")] | length' 2
    check "unreachable: within the timeout (3 s; took ${elapsed} ms)" test "$elapsed" -lt 8000
    check_jq "unreachable: host-a's domains are still listed" \
        '[.hosts[0].domains[].name] | join(" ")' "ma-1"
    start_libvirtd host-c
}

main
