#!/bin/bash
# Integration test: vTPMs of guests on box hosts with the tvdc driver, policy
# tests/policies/vtpm.json (label ma-sealed requires a vTPM).  The box has
# one datacenter vTPM CA (ci/dcbox up); every guest has
# <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>.
#
#   * the EK certificate the guest reads from its own TPM (NV 0x01c00002,
#     printed on its console by the test image's TPM probe) verifies with
#     openssl verify -CAfile against `tvdc vtpm ca cert`, and its tvdc
#     extension names the VM and its label; so do the certificates in the
#     state on the host (tvdc vtpm show VM);
#   * the driver's record exists while the VM runs and goes when it stops;
#   * a value written to the TPM's NV survives a guest reboot (virsh reset),
#     a VM restart, a libvirtd restart and a live migration to the other
#     host (read after a reset on the destination);
#   * relabeling the VM makes its start refuse with the wipe message
#     (audited), `tvdc vtpm wipe VM` is refused while it runs and works when
#     it is shut off, and the next start makes a vTPM under the new label;
#   * eight VMs started in parallel all get valid certificates with
#     distinct serials and keys;
#   * a label that requires a vTPM is refused at define without one (also
#     in it-define.sh).
#
# The guest-side checks need the test image's TPM probe (kernel command
# line tvdc.tpm=...); an image without it skips them, with a note.
#
#   bash libvirt-driver/tests/it-vtpm.sh      (root; two box hosts)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

TPM_XML="<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"
NV=c0ffee01
GUEST_TPM=1         # 0: the image has no TPM probe

# define_tpm HOST VM LABEL TPM-ACTIONS [UUID]: a guest with a vTPM whose
# probe runs TPM-ACTIONS (tvdc.tpm=...) at every boot; UUID redefines VM
define_tpm() {
    local host=$1 vm=$2 label=$3 actions=$4 uuid=${5:-}
    domain_xml "$vm" "$label" "$TPM_XML" |
        sed -e "s|<cmdline>console=ttyS0 quiet</cmdline>|<cmdline>console=ttyS0 quiet tvdc.tpm=$actions</cmdline>|" \
            -e "${uuid:+s|</name>|</name><uuid>$uuid</uuid>|}" >"$WORK/xml/$vm.xml"
    on "$host" virsh define "$WORK/xml/$vm.xml" >/dev/null
}

# last_nv HOST VM: the last TPM-NV line of the console that is what
# nv-read found (not nv-write's "TPM-NV ok")
last_nv() {
    console "$1" "$2" | grep -a '^TPM-NV ' | grep -vx 'TPM-NV ok' | tail -1
}

# ek_from_console HOST VM FILE: the last EK certificate the guest printed
ek_from_console() {
    console "$1" "$2" | awk '/-----BEGIN CERTIFICATE-----/ { buf = "" ; on = 1 }
        on { buf = buf $0 "\n" } /-----END CERTIFICATE-----/ { on = 0; last = buf }
        END { printf "%s", last }' >"$3"
    [[ -s $3 ]]
}

# guest_check DESC CMD...: a check that needs the guest's TPM probe
guest_check() {
    if (( GUEST_TPM )); then
        check "$@"
    else
        skip "$1" "the guest image has no TPM probe"
    fi
}

guest_eq() {        # guest_eq DESC EXPECTED ACTUAL
    if (( GUEST_TPM )); then
        check_eq "$@"
    else
        guest_check "$1" true
    fi
}

# verify_ek PEM: the certificate verifies against the box's CA
verify_ek() {
    openssl verify -CAfile "$WORK/ca.pem" "$1" >/dev/null 2>&1
}

# cert_label HOST VM PEM: "uuid label" of the certificate's tvdc extension
cert_label() {
    on "$1" tvdc vtpm show "$2" --cert "$3" --json 2>/dev/null |
        jq -r '.certificates[0].tvdc | "\(.uuid) \(.label)"'
}

# state_labels HOST VM: "ok label,label,..." of the certificates in the VM's
# state on HOST (tvdc vtpm show VM, through libvirt)
state_labels() {
    on "$1" tvdc vtpm show "$2" --json 2>/dev/null |
        jq -r '"\(.ok) \([.certificates[].tvdc.label] | join(","))"'
}

uuid_of() {
    on "$1" virsh domuuid "$2" | sed '/^$/d'
}

has_record() {      # has_record HOST UUID
    on "$1" test -e "/run/libvirt/tvdc/vtpm/$2.json"
}

main() {
    local uuid uuid2 pids=() pid serials keys n ok off

    it_setup
    box_up --hosts 2 --policy "$IT_POLICIES/vtpm.json"
    tvdc vtpm ca cert --dir "$TVDC_DCBOX_STATE/vtpm-ca" >"$WORK/ca.pem" ||
        bail "the box has no vTPM CA"

    # --- a vTPM-required label without a vTPM ----------------------------
    expect_deny "define: ma-sealed without a vTPM is refused" \
        "VM 'x-novtpm' (label ma-sealed, types MA): label: label ma-sealed requires a vTPM (<tpm><backend type='emulator' version='2.0'/></tpm>)" \
        define host-a x-novtpm ma-sealed
    check "define: x-novtpm is not defined" eval "! defined host-a x-novtpm"

    # --- provisioning: the guest's EK certificate -------------------------
    define_tpm host-a v1 ma-sealed "ek,nv-read,nv-write:$NV" || bail "define v1"
    uuid=$(uuid_of host-a v1)
    expect_ok "v1 (ma-sealed, vTPM) starts" on host-a virsh start v1
    check "v1: its record is there while it runs" has_record host-a "$uuid"
    wait_boots host-a v1 1 || bail "v1 did not boot: $(console host-a v1 | tail -3)"
    if ! console host-a v1 | grep -q '^TPM-'; then
        GUEST_TPM=0
        note "the guest image has no TPM probe (no TPM- lines): guest-side checks skipped"
    fi
    guest_check "v1: the guest read its EK certificate (TPM-EK ok)" \
        eval "console host-a v1 | grep -qx 'TPM-EK ok'"
    guest_check "v1: the guest's EK certificate verifies against tvdc vtpm ca cert" \
        eval "ek_from_console host-a v1 '$WORK/v1-ek.pem' && verify_ek '$WORK/v1-ek.pem'"
    guest_eq "v1: the guest's EK certificate's tvdc extension names v1 and ma-sealed" \
        "$uuid ma-sealed" "$(cert_label host-a v1 "$WORK/v1-ek.pem")"
    if (( GUEST_TPM )); then
        off=$(openssl asn1parse -in "$WORK/v1-ek.pem" |
              grep -A1 ':2.25.31833408961204607724570525691133548364.1' | tail -1 | cut -d: -f1)
        check "v1: openssl asn1parse finds the label in the extension" \
            eval "openssl asn1parse -in '$WORK/v1-ek.pem' -strparse '$off' | grep -q ':ma-sealed\$'"
    fi
    check_eq "v1: the certificates in its state verify and say ma-sealed (tvdc vtpm show v1)" \
        "true ma-sealed,ma-sealed,ma-sealed" "$(state_labels host-a v1)"
    guest_eq "v1: first boot, nothing in NV" "TPM-NV none" "$(last_nv host-a v1)"

    # --- NV survives reboot, VM restart, libvirtd restart -----------------
    expect_ok "v1: virsh reset" on host-a virsh reset v1
    wait_boots host-a v1 2 || bail "v1 did not boot after the reset"
    guest_eq "v1: NV survives a guest reboot" "TPM-NV $NV" "$(last_nv host-a v1)"

    on host-a virsh destroy v1 >/dev/null || bail "destroy v1"
    check "v1: its record goes when it stops" eval "! has_record host-a $uuid"
    on host-a rm -f /var/log/libvirt/qemu/v1-console.log
    expect_ok "v1: starts again" on host-a virsh start v1
    wait_boots host-a v1 1 || bail "v1 did not boot again"
    guest_eq "v1: NV survives a VM restart (swtpm from the state on disk)" \
        "TPM-NV $NV" "$(last_nv host-a v1)"

    restart_libvirtd host-a
    expect_state "v1: still running after libvirtd restarts" host-a v1 running
    expect_ok "v1: virsh reset after the libvirtd restart" on host-a virsh reset v1
    wait_boots host-a v1 2 || bail "v1 did not boot after the reset"
    guest_eq "v1: NV survives a libvirtd restart" "TPM-NV $NV" "$(last_nv host-a v1)"

    # --- live migration: the state travels in the stream ------------------
    expect_ok "v1: migrates live to host-b" \
        on host-a virsh migrate --live --unsafe v1 qemu+tcp://host-b/system
    check_eq "v1: runs on host-b" "running" "$(domstate host-b v1)"
    check "v1: its record is on host-b, and no longer on host-a" \
        eval "has_record host-b $uuid && ! has_record host-a $uuid"
    check_eq "v1: on host-b, its state's certificates say ma-sealed" \
        "true ma-sealed,ma-sealed,ma-sealed" "$(state_labels host-b v1)"
    expect_ok "v1: virsh reset on host-b" on host-b virsh reset v1
    wait_boots host-b v1 1 || bail "v1 did not boot on host-b after the reset"
    guest_eq "v1: NV survives the migration" "TPM-NV $NV" "$(last_nv host-b v1)"
    guest_check "v1: on host-b the guest's EK certificate still verifies" \
        eval "ek_from_console host-b v1 '$WORK/v1-ek-b.pem' && verify_ek '$WORK/v1-ek-b.pem' && cmp -s '$WORK/v1-ek.pem' '$WORK/v1-ek-b.pem'"
    on host-b virsh destroy v1 >/dev/null

    # --- relabeling: the state stays bound to its label -------------------
    define_tpm host-a v2 ma-sealed "ek" || bail "define v2"
    uuid2=$(uuid_of host-a v2)
    on host-a virsh start v2 >/dev/null || bail "start v2"
    expect_fail "v2: tvdc vtpm wipe is refused while v2 runs" on host-a tvdc vtpm wipe v2
    check "v2: ... saying it must be shut off, and the state is still there" \
        eval "grep -q 'shut it off first' '$TAP_TMP/err' && on host-a test -e /var/lib/libvirt/swtpm/$uuid2/tpm2/tpm2-00.permall"
    on host-a virsh destroy v2 >/dev/null
    define_tpm host-a v2 market-analysis "ek" "$uuid2" || bail "relabel v2"
    expect_deny "v2: relabeled market-analysis, its start is refused" \
        "VM 'v2' (label market-analysis, types MA): vTPM state of VM v2 was made under label ma-sealed, the VM now has label market-analysis: wipe it with 'tvdc vtpm wipe v2'" \
        on host-a virsh start v2
    expect_state "v2: shut off after the refusal" host-a v2 "shut off"
    check "v2: no record left after the refusal" eval "! has_record host-a $uuid2"
    check_eq "v2: the refusal is audited" '"start|deny|vtpm-state"' \
        "$(audit host-a '[.[] | select(.vm_name == "v2")] | last | "\(.operation)|\(.decision)|\(.rule)"')"
    expect_ok "v2: tvdc vtpm wipe v2 (shut off)" on host-a tvdc vtpm wipe v2
    check "v2: the state is gone" eval "! on host-a test -e /var/lib/libvirt/swtpm/$uuid2/tpm2"
    check_eq "v2: the wipe is audited" '"vtpm-wipe|permit|ma-sealed"' \
        "$(audit host-a '[.[] | select(.vm_name == "v2")] | last | "\(.operation)|\(.decision)|\(.label)"')"
    on host-a rm -f /var/log/libvirt/qemu/v2-console.log
    expect_ok "v2: starts after the wipe" on host-a virsh start v2
    check_eq "v2: its new state's certificates say market-analysis" \
        "true market-analysis,market-analysis,market-analysis" "$(state_labels host-a v2)"
    wait_boots host-a v2 1 || bail "v2 did not boot"
    guest_eq "v2: the guest's new EK certificate carries market-analysis" \
        "$uuid2 market-analysis" \
        "$(ek_from_console host-a v2 "$WORK/v2-ek.pem" && cert_label host-a v2 "$WORK/v2-ek.pem")"
    guest_check "v2: ... and verifies against the CA" verify_ek "$WORK/v2-ek.pem"
    on host-a virsh destroy v2 >/dev/null

    # --- eight in parallel -------------------------------------------------
    for (( n = 1; n <= 8; n++ )); do
        define_tpm host-a "p$n" market-analysis "ek" || bail "define p$n"
    done
    for (( n = 1; n <= 8; n++ )); do
        on host-a virsh start "p$n" >"$WORK/run/p$n.out" 2>&1 &
        pids+=($!)
    done
    ok=0
    for pid in "${pids[@]}"; do
        wait "$pid" && ok=$((ok + 1))
    done
    check_eq "parallel: all 8 VMs started" 8 "$ok"
    serials="" keys=""
    for (( n = 1; n <= 8; n++ )); do
        on host-a tvdc vtpm show "p$n" --json >"$WORK/p$n.json" 2>/dev/null
        jq -r '.certificates[] | select(.kind == "ek-rsa2048") | .pem' "$WORK/p$n.json" \
            >"$WORK/p$n-ek.pem"
        verify_ek "$WORK/p$n-ek.pem" || fail "parallel: p$n's EK certificate verifies" \
            "$(openssl verify -CAfile "$WORK/ca.pem" "$WORK/p$n-ek.pem" 2>&1)"
        serials+="$(openssl x509 -in "$WORK/p$n-ek.pem" -noout -serial 2>/dev/null)"$'\n'
        keys+="$(openssl x509 -in "$WORK/p$n-ek.pem" -noout -pubkey 2>/dev/null | sha256sum)"$'\n'
    done
    check_eq "parallel: 8 valid certificates naming their VMs (tvdc vtpm show)" \
        "8" "$(cat "$WORK"/p?.json | jq -s '[.[] | select(.ok and ([.certificates[].tvdc.name] | unique) == [.vm])] | length')"
    check_eq "parallel: 8 distinct serials" 8 "$(sed '/^$/d; /=$/d' <<<"$serials" | sort -u | wc -l)"
    check_eq "parallel: 8 distinct EKs" 8 "$(sed '/^$/d' <<<"$keys" | sort -u | wc -l)"
    destroy_all host-a
}

main "$@"
