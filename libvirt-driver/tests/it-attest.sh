#!/bin/bash
# Integration test: tvdc attest, remote attestation of running VMs through
# their vTPM and the guest's agent (ci/guest/tpm-probe.c attest, started by
# tvdc.attest=1) on the virtio-serial port org.tvdc.attest.0, policy
# tests/policies/measure.json.  host-a runs QEMU with tvdc's patches
# (ci/build-qemu: it measures each VM's identity into PCR0), host-b
# Debian's stock QEMU (it cannot measure).  tvdc attest runs inside the
# VM's host, as root, against that host's libvirtd.
#
#   * at-1 (market-analysis, vTPM, agent) on host-a is trusted: exit 0,
#     every check ok (the EK certificate from its vTPM state verifies
#     against the box's vTPM CA and names its UUID and label, the agent's
#     EK is the certificate's key, the AK is a restricted signing key and
#     activates our credential, the quote of sha256:0-9 verifies over our
#     nonce, PCR0 is tvdc vtpm expect's boot value, the guest's event log
#     replays to the quoted PCRs 0-9 from PCR0's H-CRTM value), PCRs 1-9
#     reported "not checked: no reference values"; the JSON reports the
#     event log's 13 SeaBIOS events (PCRs 0-7 extended, nothing
#     mismatched); the human output says the same;
#   * reference values of PCRs 1-9 (/etc/tvdc/attest-ref.json of host-a):
#     learned from at-1 for its label (root's, 0644; ref list), at-1 is
#     still trusted with a check pcrs (before eventlog) and PCRs 1-9 "ok"; not
#     learned from an untrusted attestation; PCR 1 of the stored reference
#     edited as root makes it untrusted on pcrs alone (PCR 1 named, rule
#     attest-pcrs); a reference of the VM itself (--per vm) comes before
#     its label's; ref rm by VM and by label; a corrupt or a
#     world-writable store is an error (exit 2, the file named);
#   * --all --every 2: one JSON line per VM per round, at least 2 rounds,
#     exit 0 on SIGTERM;
#   * the same VM against a policy in which its label means something else
#     (version 2, market-analysis of types MA and WEB: the verifier's
#     policy is not the one the VM was measured under) fails on PCR0 alone
#     (the event log replays to PCRs 1-9; PCR0 not compared);
#   * the same VM (its UUID, its label) started on host-b, which does not
#     measure: its vTPM there is certified for it, the quote verifies, and
#     PCR0 is the unmeasured boot value: untrusted, on PCR0 alone, with
#     the reason that says the host may not measure (the event log replays
#     to PCR0 from zeros);
#   * a VM with the channel but without the agent is unreachable within
#     --timeout; a VM without the channel is an error (exit 2, no record);
#     --all attests every running VM with the channel;
#   * a man in the middle on the channel (attest-mitm.py): a replayed
#     quote fails on the nonce, another TPM's AK fails activation and the
#     quote's signature, another TPM's EK is not the certificate's key;
#     EVENTLOG none is trusted with eventlog not checked; one changed
#     digest of the log fails eventlog naming its PCR, a cut log with the
#     parser's reason;
#   * one audit record per attestation (operation attest; permit for
#     trusted, deny with rule attest-pcr0 or attest-timeout otherwise).
#
#   bash libvirt-driver/tests/it-attest.sh      (root; two box hosts)
#   TVDC=build/labels/tool/tvdc: the tvdc under test (default: on PATH)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

TVDC=${TVDC:-${TVDC_BIN:-tvdc}}
POLICY=$IT_POLICIES/measure.json
TPM_XML="<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"
CHANNEL_XML="<channel type='unix'><source mode='bind'/><target type='virtio' name='org.tvdc.attest.0'/></channel>"
CHECKS="ek-certificate ek-key ak-key ak-activation quote pcr0 eventlog"

# define_vm HOST VM LABEL [GUEST_ARGS]: a guest with a vTPM and the
# attestation channel; GUEST_ARGS tvdc.attest=1 starts its agent
define_vm() {
    GUEST_ARGS=${4:-} domain_xml "$2" "$3" "$TPM_XML $CHANNEL_XML" >"$WORK/xml/$2.xml"
    on "$1" virsh define "$WORK/xml/$2.xml" >/dev/null
}

# attest HOST ARGS...: tvdc attest ARGS inside HOST; RC, OUT, ERR
attest() {
    local host=$1
    shift
    run on "$host" "$TVDC" attest "$@"
}

# attests HOST VM: how many attest records of VM HOST's audit log holds
attests() {
    audit "$1" '[.[] | select(.operation == "attest" and .vm_name == $vm)] | length' --arg vm "$2"
}

# last_attest HOST VM JQ: JQ over VM's newest attest record on HOST
last_attest() {
    audit "$1" "[.[] | select(.operation == \"attest\" and .vm_name == \$vm)] | last | $3" \
        -r --arg vm "$2"
}

# failed: the names of the failed checks in $OUT (one attestation), sorted
failed() {
    jq -r '[.checks[] | select(.ok | not) | .name] | sort | join(" ")' <<<"$OUT" 2>/dev/null
}

# Reference values of PCRs 1-9, at-1 trusted and running on host-a.
test_refs() {
    local ref=/etc/tvdc/attest-ref.json ab ok8 n0
    ok8="ek-certificate=true ek-key=true ak-key=true ak-activation=true quote=true pcr0=true pcrs=true eventlog=true"

    run on host-a "$TVDC" attest ref learn at-1 --timeout 120 --policy "$WORK/measure-v2.json"
    check_eq "ref learn at-1 under a policy it was not measured under: exit 1" 1 "$RC"
    check "... refused: untrusted, its PCRs not learned" \
        grep -q "VM at-1 is untrusted: its PCRs are not learned" "$TAP_TMP/err"
    check_not "... no reference store written" on host-a test -e "$ref"

    run on host-a "$TVDC" attest ref learn at-1 --timeout 120
    note "tvdc attest ref learn at-1:" "$OUT" "$ERR"
    check_eq "ref learn at-1: exit 0" 0 "$RC"
    check "... PCRs 1-9 learned for its label market-analysis, in $ref" \
        grep -q "of VM at-1 ($uuid), trusted, as the reference of label market-analysis in $ref\$" \
        "$TAP_TMP/out"
    check_eq "... the store is root's, mode 644" "0 644" "$(on host-a stat -c '%u %a' "$ref")"
    run on host-a "$TVDC" attest ref list --json
    check_jq "ref list --json: label market-analysis, from at-1, PCRs 1-9" \
        '.labels["market-analysis"] | "\(.vm) \(.pcrs | keys | join(","))"' "at-1 1,2,3,4,5,6,7,8,9"
    run on host-a "$TVDC" attest ref list
    check "ref list: the label and 9 PCRs" \
        eval "grep -q '^label market-analysis: learned from VM at-1, ' <<<\"\$OUT\" &&
              [[ \$(grep -c '^  PCR' <<<\"\$OUT\") == 9 ]]"

    attest host-a at-1 --json --timeout 120
    check_eq "at-1 against its label's reference: exit 0, trusted" "0 trusted" \
        "$RC $(jq -r .verdict <<<"$OUT")"
    check_jq "... eight checks, pcrs then eventlog, every one ok" \
        '[.checks[] | "\(.name)=\(.ok)"] | join(" ")' "$ok8"
    check_jq "... the reference named" \
        '.checks[6].reason | test("^PCRs 1-9 equal the reference of label market-analysis \\(learned from VM at-1, ")' true
    check_jq "... PCRs 1-9 ok and equal to the expected values; nothing not checked" \
        '"\([.pcrs[1:][] | .status == "ok" and .sha256 == .expected] | all) \(.summary.passed) \(.summary.not_checked)"' \
        "true 8 0"
    check_eq "audit: permit, rule attest" "permit attest" \
        "$(last_attest host-a at-1 '"\(.decision) \(.rule)"')"

    # PCR 1 of the stored reference edited as root
    ab=$(printf 'ab%.0s' {1..32})
    on host-a sh -c "jq '.labels[\"market-analysis\"].pcrs[\"1\"] = \"$ab\"' $ref >$ref.new && mv $ref.new $ref" ||
        bail "edit $ref"
    attest host-a at-1 --json --timeout 120
    check_eq "at-1, PCR 1 of the label's reference edited: exit 1, untrusted" "1 untrusted" \
        "$RC $(jq -r .verdict <<<"$OUT")"
    check_eq "... on pcrs alone" pcrs "$(failed)"
    check_jq "... naming PCR 1 and the reference" \
        '.checks[6].reason | test("^PCRs 1 differ from the reference of label market-analysis ")' true
    check_jq "... PCR 1 mismatch (expected the edited value), PCRs 2-9 ok" \
        '"\(.pcrs[1].status) \(.pcrs[1].expected) \([.pcrs[2:][] | .status] | unique | join(","))"' \
        "mismatch $ab ok"
    check_eq "audit: deny, rule attest-pcrs" "deny attest-pcrs" \
        "$(last_attest host-a at-1 '"\(.decision) \(.rule)"')"
    attest host-a at-1 --timeout 120
    check "human output: FAIL pcrs, PCR1 MISMATCH" \
        eval "grep -qE '^  FAIL pcrs +PCRs 1 differ' <<<\"\$OUT\" && grep -qE '^  PCR1 +[0-9a-f]{64}  MISMATCH\$' <<<\"\$OUT\""

    # the VM's own reference comes before its label's
    run on host-a "$TVDC" attest ref learn at-1 --per vm --timeout 120
    check_eq "ref learn at-1 --per vm: exit 0" 0 "$RC"
    attest host-a at-1 --json --timeout 120
    check_eq "at-1 against its own reference (before the label's edited one): trusted" \
        "0 trusted" "$RC $(jq -r .verdict <<<"$OUT")"
    check_jq "... the VM's reference named" \
        '.checks[6].reason | test("^PCRs 1-9 equal the reference of VM at-1 ")' true
    run on host-a "$TVDC" attest ref list --json
    check_jq "ref list: the VM's under its UUID" '.vms | keys | join(",")' "$uuid"
    run on host-a "$TVDC" attest ref rm at-1
    check_eq "ref rm at-1 (by name): exit 0" 0 "$RC"
    attest host-a at-1 --json --timeout 120
    check_eq "at-1: its label's (edited) reference again: untrusted on pcrs" "1 pcrs" \
        "$RC $(failed)"
    run on host-a "$TVDC" attest ref rm market-analysis
    check_eq "ref rm market-analysis: exit 0" 0 "$RC"
    run on host-a "$TVDC" attest ref rm market-analysis
    check_eq "ref rm market-analysis again: exit 2 (none)" 2 "$RC"
    run on host-a "$TVDC" attest ref list --json
    check_jq "ref list: empty" '"\(.labels | length) \(.vms | length)"' "0 0"
    attest host-a at-1 --json --timeout 120
    check_jq "at-1 without a reference: trusted, seven checks, PCRs 1-9 not checked (9)" \
        '"\(.verdict) \(.checks | length) \(.summary.not_checked)"' "trusted 7 9"

    # fail closed
    n0=$(attests host-a at-1)
    on host-a sh -c "echo '{\"version\": 1, \"labels\": {' >$ref"
    attest host-a at-1 --json --timeout 120
    check_eq "a corrupt store: exit 2" 2 "$RC"
    check "... the error names the file" \
        grep -q "reference values $ref: 2:1: not valid JSON" "$TAP_TMP/err"
    on host-a sh -c "echo '{\"version\": 1}' >$ref && chmod 0666 $ref"
    attest host-a at-1 --json --timeout 120
    check_eq "a world-writable store: exit 2" 2 "$RC"
    check "... not trusted, the file named" \
        grep -q "reference values $ref: not trusted: owned by uid 0, mode 0666" "$TAP_TMP/err"
    check_eq "audit: no record for those" "$n0" "$(attests host-a at-1)"
    on host-a rm -f "$ref"
}

# tvdc attest --all --every 2 on host-a (at-1 running) until SIGTERM.
test_every() {
    local d=$WORK/every i n n0 rounds
    mkdir -p "$d"
    n0=$(attests host-a at-1)
    on host-a bash -c '"$1" attest --all --every 2 --json --timeout 60 >"$2/out" 2>"$2/err" &
                       echo $! >"$2/pid"; wait $!; echo $? >"$2/rc"' _ "$TVDC" "$d" &
    sleep 5
    for (( i = 0; i < 120; i++ )); do
        n=$(grep -c . "$d/out" 2>/dev/null)
        (( ${n:-0} >= 2 )) && break
        sleep 0.5
    done
    on host-a kill -TERM "$(cat "$d/pid")"
    for (( i = 0; i < 240; i++ )); do [[ -s $d/rc ]] && break; sleep 0.5; done
    rounds=$(grep -c . "$d/out")
    note "tvdc attest --all --every 2 ($rounds lines):" "$(cut -c1-200 "$d/out")" "$(cat "$d/err")"
    check_eq "--every 2: exit 0 on SIGTERM" 0 "$(cat "$d/rc" 2>/dev/null)"
    check "--every 2: at least 2 rounds ($rounds)" test "$rounds" -ge 2
    check_eq "--every 2: one JSON line per round, each at-1 trusted with a time" "" \
        "$(jq -r 'select(.vm != "at-1" or .verdict != "trusted" or (.time | test("^[0-9-]+T[0-9:]+Z$") | not)) | .vm' "$d/out" 2>&1)"
    check_eq "audit: one record per round" "$((n0 + rounds))" "$(attests host-a at-1)"
}

main() {
    local qemu uuid n0 n1 t0 elapsed mitm mitm_pid i

    it_setup
    TVDC=$(command -v "$TVDC") || bail "no tvdc at ${TVDC_BIN:-${TVDC:-tvdc}}"
    qemu=$("$TVDC_ROOT/ci/build-qemu" 2>"$WORK/build-qemu.log" | tail -1)
    [[ -x $qemu ]] || bail "ci/build-qemu gave no QEMU: $(tail -3 "$WORK/build-qemu.log")"
    box_up --hosts 2 --policy "$POLICY" --qemu "host-a=$qemu"

    # --- trusted ---------------------------------------------------------
    define_vm host-a at-1 market-analysis tvdc.attest=1 || bail "define at-1"
    expect_ok "at-1 (market-analysis, vTPM, agent) starts on host-a (measuring QEMU)" \
        on host-a virsh start at-1
    wait_boots host-a at-1 1 || bail "at-1 did not boot: $(console host-a at-1 | tail -3)"
    wait_lines host-a at-1 '^tvdc-attest: answering on /dev/vport' 1 ||
        bail "at-1's agent did not start: $(console host-a at-1 | grep -a attest | tail -3)"
    uuid=$(on host-a virsh domuuid at-1 | sed '/^$/d')

    attest host-a at-1 --json --timeout 120
    check_eq "at-1: tvdc attest exits 0 (trusted)" 0 "$RC"
    [[ $RC == 0 ]] || note "$OUT" "$ERR"
    check_jq "at-1: verdict trusted" .verdict trusted
    check_jq "at-1: the result names the VM, its UUID, label and host" \
        '"\(.vm) \(.uuid) \(.label) \(.host)"' "at-1 $uuid market-analysis host-a"
    check_jq "at-1: the checks, in order" '[.checks[].name] | join(" ")' "$CHECKS"
    check_eq "at-1: every check ok" "" "$(failed)"
    check_jq "at-1: the EK certificate names its UUID and label" \
        '.checks[0].reason | test("names VM '"$uuid"' and label market-analysis")' true
    check_jq "at-1: 10 PCRs reported (sha256:0-9)" '.pcrs | length' 10
    check_jq "at-1: PCR0 ok and equal to the expected value" \
        '.pcrs[0].status == "ok" and .pcrs[0].sha256 == .pcrs[0].expected' true
    check_eq "at-1: PCR0 is tvdc vtpm expect's boot value" \
        "$(on host-a tvdc vtpm expect at-1 --bank sha256 --json | jq -r .banks.sha256.boot)" \
        "$(jq -r '.pcrs[0].sha256' <<<"$OUT")"
    check_jq "at-1: PCRs 1-9: not checked, no reference values (counted)" \
        '.summary.not_checked as $n | [.pcrs[1:][] | .status] | unique | join(",") + " \($n)"' \
        "not checked: no reference values 9"
    check_jq "at-1: the event log replays to the quoted PCRs 0-9 from the H-CRTM value" \
        '.checks[6].reason | test("^13 events replay to the quoted PCRs 0-9 \\(PCR0 from the measured identity.s H-CRTM value\\)$")' \
        true
    check_jq "at-1: the JSON reports the event log: 13 events, PCRs 0-7, PCR0 from hcrtm, no mismatch" \
        '"\(.eventlog.events) \(.eventlog.extends | join(",")) \(.eventlog.pcr0_start) \(.eventlog.mismatch | length)"' \
        "13 0,1,2,3,4,5,6,7 hcrtm 0"
    check_eq "audit: one attest record of at-1" 1 "$(attests host-a at-1)"
    check_eq "audit: ... permit, rule attest, its label and UUID" \
        "permit attest market-analysis $uuid" \
        "$(last_attest host-a at-1 '"\(.decision) \(.rule) \(.label) \(.vm_uuid)"')"

    attest host-a at-1 --timeout 120
    note "tvdc attest at-1 on host-a:" "$OUT"
    check_eq "at-1: human output: exit 0" 0 "$RC"
    check "at-1: human output: 'trusted' and one ok line per check" \
        eval "grep -q '^VM at-1 ($uuid), label market-analysis, host host-a: trusted\$' <<<\"\$OUT\" &&
              [[ \$(grep -cE '^  ok +(ek-certificate|ek-key|ak-key|ak-activation|quote|pcr0|eventlog) ' <<<\"\$OUT\") == 7 ]]"
    check "at-1: human output: PCRs 1-9 say not checked" \
        eval "[[ \$(grep -c 'not checked: no reference values' <<<\"\$OUT\") == 9 ]]"
    check_eq "audit: a second attest record" 2 "$(attests host-a at-1)"

    jq '.version = 2 | (.labels[] | select(.name == "market-analysis") | .types) = ["MA", "WEB"]' \
        "$POLICY" >"$WORK/measure-v2.json"
    test_refs
    test_every

    # --- the verifier's policy is not the one measured ----------------------
    attest host-a at-1 --json --timeout 120 --policy "$WORK/measure-v2.json"
    check_eq "at-1 under policy v2 (market-analysis: MA, WEB): exit 1" 1 "$RC"
    check_jq "... verdict untrusted" .verdict untrusted
    check_eq "... on PCR0 alone" pcr0 "$(failed)"
    check_jq "... the event log still replays to PCRs 1-9, PCR0 not compared" \
        '"\(.checks[6].reason | test("^13 events replay to the quoted PCRs 1-9 \\(PCR0 not compared")) \(.eventlog.pcr0_start)"' \
        "true null"
    check_jq "... because PCR0 is not that label's measured identity under v2" \
        '.checks[5].reason | test("is not the measured identity of label market-analysis under policy bank-dc-measure v2")' \
        true
    check_eq "audit: deny, rule attest-pcr0" "deny attest-pcr0" \
        "$(last_attest host-a at-1 '"\(.decision) \(.rule)"')"

    # --- unreachable, --all ------------------------------------------------
    define_vm host-a na-1 public-web || bail "define na-1"
    on host-a virsh start na-1 >/dev/null || bail "start na-1"
    wait_boots host-a na-1 1 || bail "na-1 did not boot: $(console host-a na-1 | tail -3)"
    n0=$(attests host-a na-1)
    t0=$(date +%s%3N)
    attest host-a na-1 --json --timeout 5
    elapsed=$(( $(date +%s%3N) - t0 ))
    check_eq "na-1 (no agent): exit 1" 1 "$RC"
    check_jq "na-1: verdict unreachable" .verdict unreachable
    check_jq "na-1: ... because the agent did not answer" \
        '.unreachable | test("no answer from the agent within the timeout")' true
    check "na-1: within the timeout (5 s; took $elapsed ms)" test "$elapsed" -lt 9000
    check_eq "audit: deny, rule attest-timeout" "deny attest-timeout" \
        "$(last_attest host-a na-1 '"\(.decision) \(.rule)"')"
    check_eq "audit: one record for that attestation" $((n0 + 1)) "$(attests host-a na-1)"

    # pl-1: no channel (and no vTPM): not attested by --all, an error by name
    define host-a pl-1 public-web >/dev/null || bail "define pl-1"
    on host-a virsh start pl-1 >/dev/null || bail "start pl-1"
    attest host-a pl-1 --timeout 5
    check_eq "pl-1 (no attestation channel): exit 2" 2 "$RC"
    check "pl-1: ... saying it has no channel" \
        grep -q "VM pl-1 has no <channel type='unix'> with <target type='virtio' name='org.tvdc.attest.0'/>" "$TAP_TMP/err"
    check_eq "audit: no attest record of pl-1" 0 "$(attests host-a pl-1)"

    n1=$(attests host-a at-1)
    attest host-a --all --json --timeout 30
    check_eq "--all: exit 1 (one VM unreachable)" 1 "$RC"
    check_jq "--all: every running VM with the channel: at-1 trusted, na-1 unreachable" \
        '[.[] | "\(.vm)=\(.verdict)"] | sort | join(" ")' "at-1=trusted na-1=unreachable"
    check_eq "audit: --all: one more record per VM" "$((n1 + 1)) $((n0 + 2))" \
        "$(attests host-a at-1) $(attests host-a na-1)"
    on host-a virsh destroy na-1 >/dev/null
    on host-a virsh destroy pl-1 >/dev/null

    # --- a man in the middle on the channel ---------------------------------
    # mi-1's channel connects to attest-mitm.py, which passes the requests
    # to the guest's agent and changes answers: a replayed quote, another
    # TPM's AK or EK (swtpm-mgr/tests/tpm/ak.pub, ek.pub: a recorded swtpm's)
    mitm=$WORK/run/mi-1.sock
    echo replay >"$WORK/run/mitm.mode"
    python3 "$TVDC_ROOT/libvirt-driver/tests/attest-mitm.py" "$mitm" "$WORK/run/mitm.mode" \
        "$TVDC_ROOT/swtpm-mgr/tests/tpm" 2>"$WORK/mitm.log" &
    mitm_pid=$!
    at_exit "kill $mitm_pid 2>/dev/null"
    for (( i = 0; i < 50; i++ )); do [[ -e $mitm.ready ]] && break; sleep 0.1; done
    [[ -e $mitm.ready ]] || bail "attest-mitm.py did not start: $(cat "$WORK/mitm.log")"
    label host-a "socket:$mitm" public-web
    GUEST_ARGS=tvdc.attest=1 domain_xml mi-1 public-web "$TPM_XML <channel type='unix'><source mode='connect' path='$mitm'/><target type='virtio' name='org.tvdc.attest.0'/></channel>" \
        >"$WORK/xml/mi-1.xml"
    on host-a virsh define "$WORK/xml/mi-1.xml" >/dev/null || bail "define mi-1"
    on host-a virsh start mi-1 >/dev/null || bail "start mi-1: $(on host-a virsh start mi-1 2>&1)"
    wait_lines host-a mi-1 '^tvdc-attest: answering on /dev/vport' 1 ||
        bail "mi-1's agent did not start: $(console host-a mi-1 | tail -3)"
    n0=$(attests host-a mi-1)
    attest host-a mi-1 --json --timeout 120
    check_eq "mi-1 through the proxy, first quote passed on: trusted" "0 trusted" \
        "$RC $(jq -r .verdict <<<"$OUT")"
    attest host-a mi-1 --json --timeout 120
    check_eq "mi-1, the first quote replayed for a new nonce: exit 1, untrusted" "1 untrusted" \
        "$RC $(jq -r .verdict <<<"$OUT")"
    check_eq "... on the quote (and PCR0 and the event log, which need it)" "eventlog pcr0 quote" \
        "$(failed)"
    check_jq "... because of the nonce" '.checks[4].reason | test("^wrong nonce: ")' true
    check_eq "audit: deny, rule attest-quote" "deny attest-quote" \
        "$(last_attest host-a mi-1 '"\(.decision) \(.rule)"')"
    echo foreign-ak >"$WORK/run/mitm.mode"
    attest host-a mi-1 --json --timeout 120
    check_eq "mi-1, another TPM's AK in KEYS: exit 1, untrusted" "1 untrusted" \
        "$RC $(jq -r .verdict <<<"$OUT")"
    check_eq "... the AK is a valid AK, but does not activate, and its quote fails" \
        "ak-activation eventlog pcr0 quote" "$(failed)"
    check_jq "... the guest's TPM refused the credential" \
        '.checks[3].reason | test("^the credential was not activated: the agent answered .ERROR TPM2_ActivateCredential")' true
    check_jq "... the quote's signature is not that AK's" '.checks[4].reason | test("^bad signature: ")' true
    check_eq "audit: deny, rule attest-ak" "deny attest-ak" \
        "$(last_attest host-a mi-1 '"\(.decision) \(.rule)"')"
    echo foreign-ek >"$WORK/run/mitm.mode"
    attest host-a mi-1 --json --timeout 120
    check_eq "mi-1, another TPM's EK in KEYS: exit 1, untrusted" "1 untrusted" \
        "$RC $(jq -r .verdict <<<"$OUT")"
    check_eq "... on the EK (and the activation, which needs it)" "ak-activation ek-key" \
        "$(failed)"
    check_jq "... it is not the certificate's key" \
        '.checks[1].reason | test("the certificate is of another key")' true
    check_eq "audit: deny, rule attest-ek; one record per attestation" "deny attest-ek $((n0 + 4))" \
        "$(last_attest host-a mi-1 '"\(.decision) \(.rule)"') $(attests host-a mi-1)"
    echo no-eventlog >"$WORK/run/mitm.mode"
    attest host-a mi-1 --json --timeout 120
    check_eq "mi-1, EVENTLOG none: exit 0, trusted" "0 trusted" \
        "$RC $(jq -r .verdict <<<"$OUT")"
    check_jq "... eventlog not checked (ok null), counted, no eventlog object" \
        '"\(.checks[6].name) \(.checks[6].ok) \(.checks[6].reason) \(.summary.not_checked) \(.eventlog)"' \
        "eventlog null not checked: the guest has no event log 10 null"
    echo eventlog-digest >"$WORK/run/mitm.mode"
    attest host-a mi-1 --json --timeout 120
    check_eq "mi-1, a digest of the event log's last event changed: exit 1, on eventlog alone" \
        "1 eventlog" "$RC $(failed)"
    check_jq "... naming PCR 7 alone" \
        '"\(.checks[6].reason | test("^the replay of 13 events differs from the quote in PCR 7 ")) \(.eventlog.mismatch | join(","))"' \
        "true 7"
    check_eq "audit: deny, rule attest-eventlog" "deny attest-eventlog" \
        "$(last_attest host-a mi-1 '"\(.decision) \(.rule)"')"
    echo eventlog-cut >"$WORK/run/mitm.mode"
    attest host-a mi-1 --json --timeout 120
    check_eq "mi-1, the event log cut inside an event: exit 1, on eventlog alone" \
        "1 eventlog" "$RC $(failed)"
    check_jq "... with the parser's reason" \
        '.checks[6].reason | test("^event log: event 1 at offset 65: truncated: ")' true
    attest host-a mi-1 --timeout 120
    check "... human output: FAIL eventlog" grep -qE '^  FAIL eventlog +event log: ' <<<"$OUT"
    on host-a virsh destroy mi-1 >/dev/null
    kill "$mitm_pid" 2>/dev/null

    # --- the same VM on a host that does not measure ------------------------
    on host-a virsh dumpxml --inactive at-1 >"$WORK/xml/at-1-b.xml" || bail "dumpxml at-1"
    on host-a virsh destroy at-1 >/dev/null || bail "destroy at-1"
    on host-b virsh define "$WORK/xml/at-1-b.xml" >/dev/null || bail "define at-1 on host-b"
    expect_ok "at-1 (its UUID) starts on host-b (stock QEMU)" on host-b virsh start at-1
    wait_boots host-b at-1 1 || bail "at-1 did not boot on host-b: $(console host-b at-1 | tail -3)"
    wait_lines host-b at-1 '^tvdc-attest: answering on /dev/vport' 1 ||
        bail "at-1's agent did not start on host-b"
    attest host-b at-1 --json --timeout 120
    note "tvdc attest at-1 on host-b (checks):" \
        "$(jq -r '.checks[] | "  \(if .ok then "ok  " else "FAIL" end) \(.name): \(.reason)"' <<<"$OUT")"
    check_eq "at-1 on host-b: exit 1" 1 "$RC"
    check_jq "at-1 on host-b: same UUID, verdict untrusted" '"\(.uuid) \(.verdict)"' \
        "$uuid untrusted"
    check_eq "at-1 on host-b: on PCR0 alone (its vTPM there is certified for it)" pcr0 "$(failed)"
    check_jq "at-1 on host-b: PCR0 is the unmeasured boot value: the host may not measure" \
        '.checks[5].reason | test("unmeasured boot value, not the measured identity of label market-analysis under policy bank-dc-measure v1 \\(host may not measure: see tvdc status\\)")' \
        true
    check_jq "at-1 on host-b: the event log replays to PCR0 from zeros (no H-CRTM)" \
        '"\(.eventlog.pcr0_start) \(.eventlog.mismatch | length)"' "zeros 0"
    check_eq "audit on host-b: deny, rule attest-pcr0" "deny attest-pcr0" \
        "$(last_attest host-b at-1 '"\(.decision) \(.rule)"')"
    destroy_all host-b
    destroy_all host-a
}

main "$@"
