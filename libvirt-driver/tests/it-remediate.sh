#!/bin/bash
# Integration test: the action plan of tvdc attest (attest/README.md,
# "Remediation") and the driver's quarantine, with real guests on the box,
# policy tests/policies/remediate.json: market-analysis "quarantine",
# underwriting "pause", public-web "shutdown", ma-peer (MA) none.  host-a
# runs ci/build-qemu's QEMU (it measures each VM's identity into PCR0).
# A VM is made untrusted by attesting it under policy v2, in which its
# label means another set of types: PCR0 is then not the measured identity
# (the remediate.json of the verifier is what the actions come from).
#
#   * quarantine (q-1, MA, 10.9.0.2, agent): p-1 (ma-peer, MA, 10.9.0.3)
#     pings it every second: ok before; tvdc attest q-1 fails on pcr0, its
#     action quarantine is done: the record (root's, 0600, the reason, the
#     link that was up), the link down in the live XML, both audited;
#     p-1's pings fail from then on; virsh as an attacker: domif-setlink
#     up, attach-interface, update-device to another network, resume (after
#     a suspend), PM wakeup, migration live and offline are each refused
#     with rule quarantine and leave the VM as it was (link down, one
#     interface, paused, still on host-a); attested again it stays
#     quarantined (one record); tvdc attest clear: the record goes, the
#     link comes up, resume is allowed and p-1's pings are ok again;
#     quarantined again, stopped: start is refused, also after the VM is
#     redefined without its label, also with a corrupt record (it cannot be
#     read: refused saying so); clear by UUID, and it starts;
#   * pause (u-1, SU, agent): untrusted, paused, audited; resume allowed;
#   * shutdown (w-1, WEB, channel but no agent): the challenge times out
#     (--timeout 3), the guest ignores the power button and is powered off
#     after --shutdown-timeout 2;
#   * a VM whose label has an action cannot escape it without the port
#     (u-2, SU, no channel): --all --json lists every running VM with its
#     verdict, u-2 unreachable ("no attestation port") and paused;
#   * a vTPM state of another VM (e-2's, same label, copied over e-1's):
#     attest fails on the EK certificate (it names e-2) and the EK key;
#     started with it, the driver refuses (vtpm-state).
#
#   bash libvirt-driver/tests/it-remediate.sh      (root; two box hosts)
#   TVDC=build/labels/tool/tvdc: the tvdc under test (default: on PATH)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

TVDC=${TVDC:-${TVDC_BIN:-tvdc}}
POLICY=$IT_POLICIES/remediate.json
TPM_XML="<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"
CHANNEL_XML="<channel type='unix'><source mode='bind'/><target type='virtio' name='org.tvdc.attest.0'/></channel>"
QDIR=/var/lib/tvdc/quarantine
MA="label market-analysis"

nic() {             # nic NETWORK MAC
    printf "<interface type='network'><mac address='%s'/><source network='%s'/><model type='virtio'/></interface>" "$2" "$1"
}

# vm HOST NAME LABEL GUEST_ARGS DEVICES: define and start
vm() {
    GUEST_ARGS=$4 domain_xml "$2" "$3" "$5" >"$WORK/xml/$2.xml"
    on "$1" virsh define "$WORK/xml/$2.xml" >/dev/null || bail "define $2"
    on "$1" virsh start "$2" >/dev/null 2>"$WORK/run/start-err" ||
        bail "start $2: $(<"$WORK/run/start-err")"
}

# attest ARGS...: tvdc attest ARGS on host-a, against policy v2; RC, OUT, ERR
attest() {
    run on host-a "$TVDC" attest --policy "$WORK/remediate-v2.json" --timeout 120 "$@"
}

# watch_lines VM ADDR: how many PING-WATCH lines of ADDR VM's console has
watch_lines() {
    console host-a "$1" | grep -ac "^PING-WATCH $2 "
}

# watch_after VM ADDR N K: K new PING-WATCH lines of ADDR after the first
# N (within 60 s), their results space-separated
watch_after() {
    local i
    for (( i = 0; i < 120; i++ )); do
        (( $(watch_lines "$1" "$2") >= $3 + $4 )) && break
        sleep 0.5
    done
    console host-a "$1" | grep -a "^PING-WATCH $2 " | tail -n +$(($3 + 1)) | head -"$4" |
        awk '{print $3}' | xargs
}

link() {            # link VM MAC: its live link state
    on host-a virsh domif-getlink "$1" "$2" 2>/dev/null | awk '{print $NF}'
}

record() {          # record UUID JQ: over host-a's quarantine record
    on host-a cat "$QDIR/$1.json" 2>/dev/null | jq -r "$2"
}

last_rule() {       # last_rule VM OPERATION: "decision rule" of its newest record
    audit host-a '[.[] | select(.vm_name == $vm and .operation == $op)] | last | "\(.decision) \(.rule)"' \
        -r --arg vm "$1" --arg op "$2"
}

# refused DESC CMD...: refused by tvdc on host-a with rule quarantine, its
# message naming the reason and the way out
refused() {
    local desc=$1 before
    shift
    before=$(deny_count host-a q-1)
    run "$@"
    if (( RC == 0 )); then
        fail "$desc" "succeeded: $*" "$OUT"
    elif ! grep -q "^error: operation forbidden: tvdc: domain 'q-1' ($MA) is quarantined (since .* on host-a: attest-pcr0: pcr0: .*): it may not start, resume, migrate or change devices until an administrator runs 'tvdc attest clear q-1'\$" <<<"$ERR"; then
        fail "$desc" "not tvdc's quarantine refusal:" "$ERR"
    elif (( $(deny_count host-a q-1) <= before )) ||
         [[ $(audit host-a '[.[] | select(.vm_name == "q-1" and .decision == "deny")] | last | .rule' -r) != quarantine ]]; then
        fail "$desc" "no refusal with rule quarantine audited"
    else
        pass "$desc"
    fi
}

test_quarantine() {
    local uuid mac=52:54:00:7e:00:02 n pings

    vm host-a p-1 ma-peer "tvdc.ip=10.9.0.3/24 tvdc.ping=10.9.0.2 tvdc.pingwatch=1" \
        "$(nic tvdc-MA 52:54:00:7e:00:03)"
    vm host-a q-1 market-analysis "tvdc.attest=1 tvdc.ip=10.9.0.2/24" \
        "$TPM_XML $CHANNEL_XML $(nic tvdc-MA $mac)"
    wait_lines host-a q-1 '^tvdc-attest: answering on /dev/vport' 1 ||
        bail "q-1's agent did not start: $(console host-a q-1 | tail -3)"
    wait_boots host-a p-1 1 || bail "p-1 did not boot"
    uuid=$(on host-a virsh domuuid q-1 | sed '/^$/d')
    n=$(watch_lines p-1 10.9.0.2)
    check_eq "before: p-1 (MA) reaches q-1 (MA) on tvdc-MA, every second" "ok ok ok" \
        "$(watch_after p-1 10.9.0.2 "$n" 3)"

    run on host-a "$TVDC" attest q-1 --timeout 120 --json
    check_eq "under its own policy q-1 is trusted: exit 0, no action" "0 trusted null false" \
        "$RC $(jq -r '"\(.verdict) \(.action) \(.quarantined)"' <<<"$OUT")"

    attest q-1 --json
    note "tvdc attest q-1 under policy v2:" "$(jq -c '{verdict, action, quarantined}' <<<"$OUT")"
    check_eq "under policy v2: exit 1, untrusted on pcr0" "1 untrusted pcr0" \
        "$RC $(jq -r '"\(.verdict) \([.checks[] | select(.ok | not) | .name] | join(","))"' <<<"$OUT")"
    check_jq "... its label's action quarantine, done, one link down" \
        '"\(.action.name) \(.action.done) \(.quarantined) \(.action.detail)"' \
        "quarantine yes true quarantine: recorded in $QDIR/$uuid.json, 1 link down"
    check_eq "the record: root's, 0600" "0 600" "$(on host-a stat -c '%u %a' "$QDIR/$uuid.json")"
    check_eq "... names the VM, its label, host, who, the link that was up" \
        "q-1 market-analysis host-a root $mac true" \
        "$(record "$uuid" '"\(.name) \(.label) \(.host) \(.by) \(.links[0].mac) \(.links[0].was_up)"')"
    check_eq "... and why: the failed check" true \
        "$(record "$uuid" '.reason | startswith("attest-pcr0: pcr0: ") and
            test("is not the measured identity of label market-analysis under policy bank-dc-remediate v2")')"
    check_eq "audit: the attestation (deny attest-pcr0), then the action (attest-quarantine)" \
        "deny attest-pcr0|deny attest-quarantine" \
        "$(last_rule q-1 attest)|$(last_rule q-1 attest-action)"
    check_eq "q-1's link is down in its live XML" down "$(link q-1 $mac)"
    run on host-a "$TVDC" status --json
    check_jq "tvdc status --json lists it as quarantined, with the reason" \
        ".quarantined[\"$uuid\"] | \"\(.name) \(.label) \(.reason | startswith(\"attest-pcr0: \"))\"" \
        "q-1 market-analysis true"
    run on host-a "$TVDC" status
    check "tvdc status: a quarantined line for q-1" \
        grep -qE "^  q-1 +$uuid since .* on host-a: attest-pcr0: " "$TAP_TMP/out"
    n=$(watch_lines p-1 10.9.0.2)
    check_eq "p-1's pings of q-1 fail from then on" "fail fail fail" \
        "$(watch_after p-1 10.9.0.2 "$n" 3)"

    # --- virsh, as an attacker -------------------------------------------------
    refused "domif-setlink q-1 up: refused" on host-a virsh domif-setlink q-1 $mac up
    check_eq "... the link is still down" down "$(link q-1 $mac)"
    refused "attach-interface to tvdc-MA: refused" \
        on host-a virsh attach-interface q-1 network tvdc-MA --live
    check_eq "... q-1 still has one interface" 1 \
        "$(on host-a virsh domiflist q-1 | grep -c '52:54:')"
    on host-a virsh dumpxml q-1 | sed -n '/<interface/,/<\/interface>/p' |
        sed "s|<link state='down'/>||; s|network='tvdc-MA'|network='tvdc-WEB'|" >"$WORK/xml/q-1-if.xml"
    run on host-a virsh update-device q-1 "$WORK/xml/q-1-if.xml" --live
    check "update-device to another network, link up: refused" \
        eval "(( RC != 0 )) && grep -q 'tvdc: domain .q-1.' <<<\"\$ERR\""
    check_eq "... q-1 still on tvdc-MA's bridge, link down" "tvdcb101 down" \
        "$(on host-a virsh domiflist q-1 | awk '$5 == "'$mac'" {print $3}') $(link q-1 $mac)"
    for how in "--live" "--offline --persistent"; do
        # shellcheck disable=SC2086 # the options, split
        refused "migrate $how to host-b: refused at the source" \
            on host-a virsh migrate $how --unsafe q-1 qemu+tcp://host-b/system
    done
    check_eq "... q-1 still runs on host-a, host-b has no q-1" "running undefined" \
        "$(domstate host-a q-1) $(domstate host-b q-1)"
    expect_ok "suspend q-1 (allowed)" on host-a virsh suspend q-1
    refused "resume q-1: refused" on host-a virsh resume q-1
    refused "dompmwakeup q-1: refused" on host-a virsh dompmwakeup q-1
    expect_state "... q-1 stays paused" host-a q-1 paused
    run on host-a virsh qemu-monitor-command q-1 --hmp "set_link net0 on"
    check "qemu-monitor-command set_link on: refused (not read-only)" \
        eval "(( RC != 0 )) && grep -q 'tvdc: domain .q-1.' <<<\"\$ERR\""

    attest q-1 --json
    check_jq "attested again: still quarantined, nothing more to do" \
        '"\(.action.done) \(.quarantined)"' "nothing to do true"
    check_eq "... the record still says the link was up" true "$(record "$uuid" '.links[0].was_up')"

    # --- clear ----------------------------------------------------------------------
    run on host-a "$TVDC" attest clear q-1
    check_eq "tvdc attest clear q-1: exit 0, the link up again" \
        "0 VM q-1 ($uuid): quarantine lifted, 1 link up again" "$RC $OUT"
    check_not "... the record is gone" on host-a test -e "$QDIR/$uuid.json"
    check_eq "... audited: permit attest-clear" "permit attest-clear" "$(last_rule q-1 attest-clear)"
    check_eq "... q-1's link is up" up "$(link q-1 $mac)"
    expect_ok "resume q-1: allowed now" on host-a virsh resume q-1
    n=$(watch_lines p-1 10.9.0.2)
    pings=$(watch_after p-1 10.9.0.2 "$n" 3)
    # the first may have been sent while the link was still down
    check_eq "p-1 reaches q-1 again" "ok ok" "${pings#* }"
    run on host-a "$TVDC" attest clear q-1
    check_eq "clear again: nothing to clear, exit 0" \
        "0 VM q-1 ($uuid) is not quarantined: nothing to clear" "$RC $OUT"

    # --- stopped while quarantined ----------------------------------------------------
    attest q-1 --json
    check_jq "quarantined again" '"\(.action.done) \(.quarantined)"' "yes true"
    on host-a virsh destroy q-1 >/dev/null || bail "destroy q-1"
    refused "start q-1: refused" on host-a virsh start q-1
    expect_state "... q-1 stays shut off" host-a q-1 "shut off"
    on host-a virsh dumpxml --inactive q-1 >"$WORK/xml/q-1-orig.xml" || bail "dumpxml q-1"
    GUEST_ARGS="" domain_xml q-1 "" "" | sed "s|<name>q-1</name>|&<uuid>$uuid</uuid>|" \
        >"$WORK/xml/q-1-unlabeled.xml"
    expect_ok "q-1 redefined without its label, vTPM and network (allowed)" \
        on host-a virsh define "$WORK/xml/q-1-unlabeled.xml"
    run on host-a virsh start q-1
    check "... its start is refused all the same: quarantined" \
        eval "(( RC != 0 )) && grep -q \"tvdc: domain 'q-1' (unlabeled) is quarantined (since \" <<<\"\$ERR\""
    on host-a virsh define "$WORK/xml/q-1-orig.xml" >/dev/null || bail "define q-1 back"
    on host-a sh -c "printf '{\"format\": 1, \"uuid\": ' >$QDIR/$uuid.json" || bail "corrupt"
    run on host-a virsh start q-1
    check "a corrupt record: start refused, saying it cannot be read" \
        eval "(( RC != 0 )) && grep -q \"is quarantined (its quarantine record in $QDIR cannot be read: Bad message)\" <<<\"\$ERR\""
    run on host-a "$TVDC" attest clear "$uuid"
    check_eq "clear by UUID (the corrupt record): exit 0" 0 "$RC"
    expect_ok "q-1 starts again" on host-a virsh start q-1
    on host-a virsh destroy q-1 >/dev/null
    on host-a virsh destroy p-1 >/dev/null
}

test_pause_shutdown() {
    local before

    vm host-a u-1 underwriting "tvdc.attest=1" "$TPM_XML $CHANNEL_XML"
    vm host-a w-1 public-web "" "$TPM_XML $CHANNEL_XML"
    wait_lines host-a u-1 '^tvdc-attest: answering on /dev/vport' 1 || bail "u-1's agent"
    wait_boots host-a w-1 1 || bail "w-1 did not boot"

    attest u-1 --json
    check_eq "u-1 (underwriting) under v2: exit 1, untrusted, action pause done" \
        "1 untrusted pause yes" "$RC $(jq -r '"\(.verdict) \(.action.name) \(.action.done)"' <<<"$OUT")"
    expect_state "... u-1 is paused" host-a u-1 paused
    check_eq "... audited: attest-pause" "deny attest-pause" "$(last_rule u-1 attest-action)"
    expect_ok "... not quarantined: resume allowed" on host-a virsh resume u-1

    before=$(date +%s)
    attest w-1 --json --timeout 3 --shutdown-timeout 2
    check_eq "w-1 (public-web, no agent): exit 1, unreachable, action shutdown done" \
        "1 unreachable shutdown yes" \
        "$RC $(jq -r '"\(.verdict) \(.action.name) \(.action.done)"' <<<"$OUT")"
    check_jq "... the guest ignored the power button: powered off after 2 s" .action.detail \
        "shutdown: powered off (the guest did not shut down within 2.0 s)"
    expect_state "... w-1 is shut off" host-a w-1 "shut off"
    check "... within the timeouts (3 + 2 s, and some)" eval "(( \$(date +%s) - before < 30 ))"
    check_eq "... audited: attest-timeout, attest-shutdown" "deny attest-timeout|deny attest-shutdown" \
        "$(last_rule w-1 attest)|$(last_rule w-1 attest-action)"

    # no port: still attested, and its plan runs
    vm host-a u-2 underwriting "" ""
    wait_boots host-a u-2 1 || bail "u-2 did not boot"
    attest --all --json --timeout 3
    note "tvdc attest --all --json:" "$(jq -c '[.[] | {vm, verdict, action: .action.name}]' <<<"$OUT")"
    check_eq "--all --json: every running VM with its verdict" "u-1:untrusted u-2:unreachable" \
        "$(jq -r '[.[] | "\(.vm):\(.verdict)"] | sort | join(" ")' <<<"$OUT")"
    check_jq "... u-2 has no port: unreachable, and paused by its plan" \
        '.[] | select(.vm == "u-2") | "\(.unreachable) \(.action.detail)"' \
        "it has no attestation port org.tvdc.attest.0 pause: paused"
    expect_state "... u-2 is paused" host-a u-2 paused
    destroy_all host-a
}

# The vTPM state of another VM of the same label.
test_other_state() {
    local u1 u2 state

    vm host-a e-1 market-analysis "tvdc.attest=1" "$TPM_XML $CHANNEL_XML"
    vm host-a e-2 market-analysis "tvdc.attest=1" "$TPM_XML $CHANNEL_XML"
    wait_lines host-a e-1 '^tvdc-attest: answering on /dev/vport' 1 || bail "e-1's agent"
    wait_lines host-a e-2 '^tvdc-attest: answering on /dev/vport' 1 || bail "e-2's agent"
    u1=$(on host-a virsh domuuid e-1 | sed '/^$/d')
    u2=$(on host-a virsh domuuid e-2 | sed '/^$/d')
    state=/var/lib/libvirt/swtpm
    on host-a cp "$state/$u2/tpm2/tpm2-00.permall" "$state/$u1/tpm2/tpm2-00.permall" ||
        bail "copy e-2's state"
    run on host-a "$TVDC" attest e-1 --json --timeout 120
    check_eq "e-1 with e-2's vTPM state on disk: exit 1, untrusted" "1 untrusted" \
        "$RC $(jq -r .verdict <<<"$OUT")"
    check_jq "... on the EK: its certificate (it names e-2), the key, the activation" \
        '"\([.checks[] | select(.ok | not) | .name] | join(",")) \(.checks[0].reason | test("'"$u2"'"))"' \
        "ek-certificate,ek-key,ak-activation true"
    check_jq "... and e-1 (market-analysis) is quarantined" .quarantined true
    on host-a virsh destroy e-1 >/dev/null
    run on host-a "$TVDC" attest clear e-1
    check_eq "clear e-1" 0 "$RC"
    on host-a cp "$state/$u2/tpm2/tpm2-00.permall" "$state/$u1/tpm2/tpm2-00.permall"
    run on host-a virsh start e-1
    check "started with e-2's state: refused (vtpm-state)" \
        eval "(( RC != 0 )) && grep -q \"tvdc: domain 'e-1' ($MA) may not use \" <<<\"\$ERR\" &&
              [[ \$(audit host-a '[.[] | select(.vm_name == \"e-1\" and .decision == \"deny\")] | last | .rule' -r) == vtpm-state ]]"
    destroy_all host-a
}

main() {
    local qemu

    it_setup
    TVDC=$(command -v "$TVDC") || bail "no tvdc at ${TVDC_BIN:-${TVDC:-tvdc}}"
    qemu=$("$TVDC_ROOT/ci/build-qemu" 2>"$WORK/build-qemu.log" | tail -1)
    [[ -x $qemu ]] || bail "ci/build-qemu gave no QEMU: $(tail -3 "$WORK/build-qemu.log")"
    # v2: every label means more types, so no PCR0 measured under v1 is
    # what v2 expects; the actions are the same
    jq '.version = 2 | .labels |= map(if .name == "dual-host" then . else .types += ["WEB", "SU", "MA"] | .types |= unique end)' \
        "$POLICY" >"$WORK/remediate-v2.json"
    box_up --hosts 2 --policy "$POLICY" --qemu "host-a=$qemu"

    test_quarantine
    test_pause_shutdown
    test_other_state
}

main "$@"
