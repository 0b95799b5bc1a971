#!/bin/bash
# Integration test: the VM's identity measured into its vTPM before firmware
# runs (H-CRTM, qemu-patches/), policy tests/policies/measure.json (label
# ma-measured has "measure": "required").  host-a and host-b run QEMU with
# tvdc's patches (ci/build-qemu, bind-mounted over /usr/bin/qemu-system-
# x86_64 by ci/dcbox up --qemu), host-c Debian's stock QEMU.  The guests'
# probe prints PCR 0 and PCR 17 of every allocated bank at boot and every
# two seconds after (tvdc.tpm=pcr:0,pcr:17 tvdc.tpmwatch=2).
#
#   * PCR 0 in the guest is what `tvdc vtpm expect VM` says for its label
#     (every allocated bank), and differs from what another label gives for
#     the same VM, and from another VM's;
#   * unchanged after virsh reset (measured again, the same), after destroy
#     and start, and after a live migration to host-b, where QEMU does not
#     measure again (PCR 17, which a second hash sequence after TPM2_Startup
#     would reset, is unchanged too);
#   * the stock host runs the VM unmeasured: PCR 0 is the unmeasured value,
#     tvdc status says the measurement is unavailable (host and VM) and so
#     does the permit record;
#   * a label with "measure": "required" is refused on the stock host (start
#     and incoming migration, the VM keeps running at the source), with the
#     message that says why, and runs measured on host-a; without a vTPM it
#     is refused at define.
#
#   bash libvirt-driver/tests/it-measure.sh      (root; three box hosts)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

TPM_XML="<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"
POLICY=$IT_POLICIES/measure.json

# define_pcr HOST VM LABEL: a guest with a vTPM whose probe prints PCR 0 and
# 17 at boot and every two seconds
define_pcr() {
    domain_xml "$2" "$3" "$TPM_XML" |
        sed -e "s|<cmdline>console=ttyS0 quiet</cmdline>|<cmdline>console=ttyS0 quiet tvdc.tpm=pcr:0,pcr:17 tvdc.tpmwatch=2</cmdline>|" \
        >"$WORK/xml/$2.xml"
    on "$1" virsh define "$WORK/xml/$2.xml" >/dev/null
}

# forged_xml VM LABEL FILE: a guest with a vTPM that asks QEMU itself to
# measure FILE (<qemu:commandline> -set tpmdev...hcrtm-file=FILE): an
# attempt to make PCR 0 claim another identity
forged_xml() {
    domain_xml "$1" "$2" "$TPM_XML" |
        sed -e "s|<domain type='qemu'>|<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>|" \
            -e "s|</domain>|<qemu:commandline><qemu:arg value='-set'/><qemu:arg value='tpmdev.tpm-tpm0.hcrtm-file=$3'/></qemu:commandline></domain>|"
}

# pcrs HOST VM N: "BANK=HEX ..." of the last reading of PCR N (sorted by
# bank), as the guest printed it ("TPM-PCR N BANK HEX", one line a bank)
pcrs() {
    console "$1" "$2" | awk -v n="$3" '
        $1 == "TPM-PCR" && $2 == n { if (seen[$3]) { delete seen; out = "" } seen[$3] = 1; v[$3] = $4 }
        END { for (b in v) print b "=" v[b] }' | sort | tr '\n' ' ' | sed 's/ $//'
}

# expected HOST VM [KEY]: "BANK=HEX ..." that tvdc vtpm expect gives for the
# running VM on HOST (KEY: boot, the value after SeaBIOS; unmeasured_boot)
expected() {
    on "$1" tvdc vtpm expect "$2" --json 2>/dev/null |
        jq -r --arg k "${3:-boot}" '.banks | to_entries[] | "\(.key)=\(.value[$k])"' | sort
}

# only BANKS-LIST EXPECTED: the expected values of the banks the guest has
only() {
    local b out=""
    for b in $1; do
        out+="$(grep "^${b%%=*}=" <<<"$2") "
    done
    echo "${out% }"
}

uuid_of() {
    on "$1" virsh domuuid "$2" | sed '/^$/d'
}

st() {              # st HOST JQ-FILTER: HOST's tvdc status --json, raw
    { on "$1" tvdc status --json 2>/dev/null || true; } | jq -r "$2"
}

migrate() {         # migrate SRC VM DST (deny_host: DST audits a refusal)
    on "$1" virsh migrate --live --unsafe "$2" "qemu+tcp://$3/system"
}

main() {
    local qemu p0 p17 exp uuid other

    it_setup
    qemu=$("$TVDC_ROOT/ci/build-qemu" 2>"$WORK/build-qemu.log" | tail -1)
    [[ -x $qemu ]] || bail "ci/build-qemu gave no QEMU: $(tail -3 "$WORK/build-qemu.log")"
    box_up --hosts 3 --policy "$POLICY" --qemu "host-a=$qemu" --qemu "host-b=$qemu"

    check_eq "status: before any vTPM VM, host-a does not know yet" \
        unknown "$(st host-a .vtpm_measurement)"

    # --- measured: PCR 0 is what tvdc vtpm expect says ---------------------
    define_pcr host-a ma-1 market-analysis || bail "define ma-1"
    expect_ok "ma-1 (market-analysis, vTPM) starts on host-a (patched QEMU)" on host-a virsh start ma-1
    wait_boots host-a ma-1 1 || bail "ma-1 did not boot: $(console host-a ma-1 | tail -3)"
    wait_lines host-a ma-1 '^TPM-PCR 0 ' 1 ||
        bail "ma-1's probe printed no PCR 0: $(console host-a ma-1 | grep -a TPM | tail -3)"
    p0=$(pcrs host-a ma-1 0)
    exp=$(expected host-a ma-1)
    [[ -n $exp ]] || bail "tvdc vtpm expect ma-1 gave nothing: $(on host-a tvdc vtpm expect ma-1 2>&1 | tail -2)"
    check "ma-1: the guest read PCR 0 of at least one bank ($p0)" test -n "$p0"
    check_eq "ma-1: PCR 0 in the guest is tvdc vtpm expect's value for its label" \
        "$(only "$p0" "$exp")" "$p0"
    check "ma-1: ... and not the unmeasured value" \
        test "$(only "$p0" "$(expected host-a ma-1 unmeasured_boot)")" != "$p0"
    uuid=$(uuid_of host-a ma-1)
    other=$(on host-a tvdc vtpm expect --label public-web --uuid "$uuid" --name ma-1 --json |
            jq -r '.banks | to_entries[] | "\(.key)=\(.value.boot)"' | sort)
    check "ma-1: the same VM under label public-web would show another PCR 0" \
        test "$(only "$p0" "$other")" != "$p0"
    check_eq "status: host-a measures" available "$(st host-a .vtpm_measurement)"
    check_eq "status: ma-1 is measured" measured \
        "$(st host-a '.domains[] | select(.name == "ma-1") | .vtpm_measurement')"
    check "virsh metadata ma-1 --live --uri urn:tvdc:libvirt:state:1: reservation held, measured" \
        eval "on host-a virsh metadata ma-1 --live --uri urn:tvdc:libvirt:state:1 | grep -q 'reservation=\"held\" vtpm-measurement=\"measured\"'"
    check "audit: ma-1's permit record says it was measured" \
        eval "audit host-a '[.[] | select(.vm_name == \"ma-1\" and .decision == \"permit\")][-1].detail' | grep -q 'vTPM: identity measured'"

    define_pcr host-a web-1 public-web || bail "define web-1"
    on host-a virsh start web-1 >/dev/null || bail "start web-1"
    wait_lines host-a web-1 '^TPM-PCR 0 ' 1 || bail "web-1 printed no PCR 0"
    check_eq "web-1 (public-web): PCR 0 is tvdc vtpm expect's value" \
        "$(only "$(pcrs host-a web-1 0)" "$(expected host-a web-1)")" "$(pcrs host-a web-1 0)"
    check "web-1: PCR 0 differs from ma-1's" test "$(pcrs host-a web-1 0)" != "$p0"
    on host-a virsh destroy web-1 >/dev/null

    # --- reset, restart: the same measurement again ----------------------
    p17=$(pcrs host-a ma-1 17)
    check "ma-1: the guest read PCR 17 ($p17)" test -n "$p17"
    expect_ok "ma-1: virsh reset" on host-a virsh reset ma-1
    wait_boots host-a ma-1 2 || bail "ma-1 did not boot after the reset"
    wait_lines host-a ma-1 '^TPM-PCR 0 ' "$(( $(console host-a ma-1 | grep -ac '^TPM-PCR 0 ') + 1 ))"
    check_eq "ma-1: PCR 0 unchanged after virsh reset (measured again before firmware)" \
        "$p0" "$(pcrs host-a ma-1 0)"
    on host-a virsh destroy ma-1 >/dev/null || bail "destroy ma-1"
    expect_ok "ma-1: starts again" on host-a virsh start ma-1
    wait_boots host-a ma-1 1 || bail "ma-1 did not boot again"
    wait_lines host-a ma-1 '^TPM-PCR 0 ' 1
    check_eq "ma-1: PCR 0 unchanged after destroy and start" "$p0" "$(pcrs host-a ma-1 0)"

    # --- live migration: the PCRs travel, no second measurement -----------
    p17=$(pcrs host-a ma-1 17)
    expect_ok "ma-1: migrates live to host-b" \
        on host-a virsh migrate --live --unsafe ma-1 qemu+tcp://host-b/system
    check_eq "ma-1: runs on host-b" running "$(domstate host-b ma-1)"
    wait_lines host-b ma-1 '^TPM-PCR 17 ' 2 ||
        bail "ma-1 printed no PCRs on host-b: $(console host-b ma-1 | tail -3)"
    check_eq "ma-1: on host-b, PCR 0 unchanged after the migration" "$p0" "$(pcrs host-b ma-1 0)"
    check_eq "ma-1: on host-b, PCR 17 unchanged (no second hash sequence)" "$p17" "$(pcrs host-b ma-1 17)"
    check_eq "ma-1: on host-b, tvdc vtpm expect agrees" \
        "$(only "$p0" "$(expected host-b ma-1)")" "$(pcrs host-b ma-1 0)"
    expect_ok "ma-1: virsh reset on host-b" on host-b virsh reset ma-1
    wait_boots host-b ma-1 1 || bail "ma-1 did not boot on host-b after the reset"
    wait_lines host-b ma-1 '^TPM-PCR 0 ' 3
    check_eq "ma-1: on host-b after a reset, measured again: the same PCR 0" "$p0" "$(pcrs host-b ma-1 0)"
    on host-b virsh destroy ma-1 >/dev/null

    # --- the stock host: unmeasured, and says so ----------------------------
    define_pcr host-c ma-3 market-analysis || bail "define ma-3"
    expect_ok "ma-3 (market-analysis, vTPM) starts on host-c (stock QEMU)" on host-c virsh start ma-3
    wait_lines host-c ma-3 '^TPM-PCR 0 ' 1 || bail "ma-3 printed no PCR 0 on host-c"
    check_eq "ma-3: PCR 0 on the stock host is the unmeasured value" \
        "$(only "$(pcrs host-c ma-3 0)" "$(expected host-c ma-3 unmeasured_boot)")" "$(pcrs host-c ma-3 0)"
    check "ma-3: ... not its label's" \
        test "$(only "$(pcrs host-c ma-3 0)" "$(expected host-c ma-3)")" != "$(pcrs host-c ma-3 0)"
    check_eq "status: host-c cannot measure" unavailable "$(st host-c .vtpm_measurement)"
    check_eq "status: ma-3 runs unmeasured" unavailable \
        "$(st host-c '.domains[] | select(.name == "ma-3") | .vtpm_measurement')"
    check "tvdc status on host-c says the measurement is unavailable" \
        eval "on host-c tvdc status | grep -q 'measurement UNAVAILABLE'"
    check "live XML: ma-3's tvdc-state:state says the measurement is unavailable" \
        eval "on host-c virsh dumpxml ma-3 | grep -q '<tvdc-state:state .*vtpm-measurement=\"unavailable\"'"
    check "audit: ma-3's permit record says the measurement is unavailable" \
        eval "audit host-c '[.[] | select(.vm_name == \"ma-3\" and .decision == \"permit\")][-1].detail' | grep -q 'measurement unavailable'"
    on host-c virsh destroy ma-3 >/dev/null

    # --- attacker: a measurement of the client's choosing -----------------
    # the blob of ma-1 (market-analysis) with mm-1's identity would make a
    # verifier believe a forged VM is that VM
    on host-a tvdc vtpm expect --label market-analysis --uuid "$uuid" --name ma-1 --json |
        jq -j .blob >"$WORK/forged.blob"
    forged_xml x-forge market-analysis "$WORK/forged.blob" >"$WORK/xml/x-forge.xml"
    expect_refusal "attacker: a labeled VM passing its own hcrtm-file is refused" "" re \
        "VM 'x-forge' (label market-analysis): .*not allowed for labeled domains" \
        on host-a virsh define "$WORK/xml/x-forge.xml"
    expect_state "attacker: ... x-forge is not defined" host-a x-forge undefined
    forged_xml x-forge-u "" "$WORK/forged.blob" >"$WORK/xml/x-forge-u.xml"
    expect_fail "attacker: an unlabeled VM passing its own hcrtm-file is refused" \
        on host-a virsh create "$WORK/xml/x-forge-u.xml"
    check "attacker: ... by tvdc, for the <qemu:commandline>" \
        grep -q "tvdc: domain 'x-forge-u' (unlabeled) may not use <qemu:commandline>" "$TAP_TMP/err"
    expect_state "attacker: ... x-forge-u does not run" host-a x-forge-u undefined

    # --- "measure": "required" ---------------------------------------------
    expect_deny "define: ma-measured without a vTPM is refused" \
        "VM 'mm-0' (label ma-measured): label: label ma-measured requires a vTPM (<tpm><backend type='emulator' version='2.0'/></tpm>)" \
        define host-a mm-0 ma-measured
    define_pcr host-c mm-1 ma-measured || bail "define mm-1 on host-c"
    expect_deny "mm-1 (ma-measured) is refused on the stock host" \
        "VM 'mm-1' (label ma-measured): measure: label ma-measured requires its VMs' identity measured into their vTPM, and this host's QEMU /usr/bin/qemu-system-x86_64 cannot measure (no tpm-emulator hcrtm-file)" \
        on host-c virsh start mm-1
    check "mm-1: ... the message names the host" \
        grep -q "may not run on host 'host-c': its label requires a measured vTPM, and this host does not measure vTPMs" "$TAP_TMP/err"
    expect_state "mm-1: not running on host-c" host-c mm-1 "shut off"
    check "mm-1: refused before its swtpm started (no swtpm pid file on host-c)" \
        eval "! on host-c sh -c 'ls /run/libvirt/qemu/swtpm/ 2>/dev/null | grep -q mm-1'"
    # that mm-1 (another UUID) goes, with the console log libvirt made for
    # it: a file of another VM, which the arriving mm-1 may not use
    on host-c virsh undefine mm-1 >/dev/null || bail "undefine mm-1 on host-c"
    on host-c rm -f /var/log/libvirt/qemu/mm-1-console.log
    define_pcr host-a mm-1 ma-measured || bail "define mm-1 on host-a"
    expect_ok "mm-1 starts on host-a (patched QEMU)" on host-a virsh start mm-1
    wait_lines host-a mm-1 '^TPM-PCR 0 ' 1 || bail "mm-1 printed no PCR 0"
    check_eq "mm-1: PCR 0 is its label's" \
        "$(only "$(pcrs host-a mm-1 0)" "$(expected host-a mm-1)")" "$(pcrs host-a mm-1 0)"
    expect_deny "mm-1: live migration to the stock host is refused" \
        "VM 'mm-1' (label ma-measured): measure: label ma-measured requires its VMs' identity measured into their vTPM, and this host's QEMU /usr/bin/qemu-system-x86_64 cannot measure (no tpm-emulator hcrtm-file)" \
        migrate host-a mm-1 host-c
    expect_state "mm-1: still running on host-a" host-a mm-1 running
    expect_state "mm-1: not on host-c" host-c mm-1 undefined
    destroy_all host-a
}

main "$@"
