#!/bin/bash
# Integration test of the test guest's TPM probe (tvdc.tpm= in ci/guest/init)
# without libvirt: QEMU (TCG, pc as libvirt's test guests) with a tpm-crb device on a real swtpm
# whose state swtpm_setup provisioned with EK and platform certificates from
# a private swtpm_localca CA.  Root; about a minute.  Run from anywhere:
#   bash ci/tests/guest-tpm.sh
#
# Boots:
#   1. provisioned state, tvdc.tpm=ek,nv-read,nv-write:HEX: the PEM parses,
#      verifies against the local CA and is the certificate the CA issued;
#      nothing stored yet; the write succeeds.  Then a reset (QEMU's
#      system_reset, what `virsh reset` does): nv-read sees HEX.
#   2. the same state, a new swtpm and QEMU: nv-read still sees HEX; a write
#      of another size replaces it.
#   3. an empty (unprovisioned) state: no EK certificate, nothing stored.
#   4. no TPM device at all: ek fails saying so; bad hex is refused.
# Everything lives in one mktemp -d; /etc and /var/lib/swtpm-localca are
# never touched.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/tap.sh"
# shellcheck source=ci/tests/guest-qemu.sh
. "$(dirname "$0")/guest-qemu.sh"

GUEST_MONITOR=hmp
RESULT_LINES='^TPM(-EK|-NV)? '    # the TPM-* result lines
HEX1=cafe01
HEX2=00112233445566778899aabbccddeeff

# A private swtpm_localca CA, and a swtpm_setup configuration that uses it
# through a wrapper which also keeps a copy of each EK certificate issued.
setup_ca() {
    local ca=$TMP/ca
    mkdir -p "$ca"
    cat >"$ca/certtool" <<EOF
#!/bin/bash
# swtpm_localca, keeping a copy of the RSA EK certificate it wrote to --dir
# (an ECC one has an --ek of x=...,y=...; it goes to another NV index).
set -e
dir= type= ek=
args=("\$@")
for ((i = 0; i < \${#args[@]}; i++)); do
    case \${args[i]} in
        --dir) dir=\${args[i + 1]} ;;
        --type) type=\${args[i + 1]} ;;
        --ek) ek=\${args[i + 1]} ;;
    esac
done
$(command -v swtpm_localca) "\$@"
if [[ \$type == ek && \$ek != x=* && -e \$dir/ek.cert ]]; then
    cp "\$dir/ek.cert" "$ca/issued-ek.der"
fi
EOF
    chmod 0755 "$ca/certtool"
    local_ca "$ca/certtool"
}

# boot NAME STATEDIR|none TPM_ACTIONS: start QEMU (and a swtpm on STATEDIR)
# in the background; the console goes to $TMP/NAME.console, the HMP monitor
# listens on the UNIX socket $TMP/NAME.mon (see hmp).  Sets CONSOLE, MON,
# QEMU_PID.
boot() {
    local name=$1 state=$2 actions=$3 args=()
    if [[ $state != none ]]; then
        start_swtpm "$name" "$state"
        mapfile -t args < <(tpm_args)
    fi
    start_qemu "$name" "$actions" "${args[@]}"
}

# reset_guest: system_reset (what `virsh reset` does), and the guest really
# starts again: a second "Linux version" within 60 s, else the failure says
# what QEMU's status is.
reset_guest() {
    local i boots
    boots=$(console | grep -c 'Linux version')
    hmp system_reset >/dev/null
    for ((i = 0; i < 300; i++)); do
        (( $(console | grep -c 'Linux version') > boots )) && return 0
        sleep 0.2
    done
    stop "no reboot 60 s after system_reset (QEMU: $(hmp 'info status' | tr -d '\r' | xargs))"
}

test_provisioned() {
    local ca=$TMP/ca/state
    provision "$TMP/tpm-a"
    [[ -s $TMP/ca/issued-ek.der ]] || stop "the local CA issued no RSA EK certificate"

    boot first "$TMP/tpm-a" "ek,nv-read,nv-write:$HEX1"
    wait_ready 1
    expect_results "first boot" "TPM-EK ok" "TPM-NV none" "TPM-NV ok"
    pass "first boot: TPM-EK ok, TPM-NV none on a fresh state, TPM-NV ok"

    console | sed -n '/^-----BEGIN CERTIFICATE-----$/,/^-----END CERTIFICATE-----$/p' \
        >"$TMP/guest-ek.pem"
    console | grep -B1 -x 'TPM-EK ok' | head -1 | grep -qx -- '-----END CERTIFICATE-----' ||
        stop "'TPM-EK ok' does not follow the PEM"
    # Base64 lines: 64 characters each, the last one 1 to 64.
    awk '!/^-----/ { if (last != "" && length(last) != 64) bad = 1; last = $0 }
         END { exit bad || length(last) < 1 || length(last) > 64 }' \
        "$TMP/guest-ek.pem" || stop "PEM base64 lines are not 64 characters"
    openssl x509 -in "$TMP/guest-ek.pem" -noout 2>/dev/null ||
        stop "the guest's PEM does not parse as a certificate"
    pass "the guest's EK certificate parses"
    note "$(openssl x509 -in "$TMP/guest-ek.pem" -noout -issuer)"
    openssl verify -CAfile "$ca/swtpm-localca-rootca-cert.pem" \
        -untrusted "$ca/issuercert.pem" "$TMP/guest-ek.pem" >/dev/null ||
        stop "the guest's EK certificate does not verify against the local CA"
    if openssl verify -CAfile "$ca/issuercert.pem" "$TMP/guest-ek.pem" >/dev/null 2>&1; then
        stop "the EK certificate verifies without its root (the check cannot fail?)"
    fi
    pass "it verifies against the local CA (root + issuer), not without the root"
    cmp -s <(openssl x509 -in "$TMP/guest-ek.pem" -outform DER) "$TMP/ca/issued-ek.der" ||
        stop "the guest's EK certificate is not the one the CA issued"
    pass "it is byte for byte the certificate swtpm_localca issued"

    reset_guest
    wait_ready 2
    expect_results "after reset" "TPM-EK ok" "TPM-NV none" "TPM-NV ok" \
        "TPM-EK ok" "TPM-NV $HEX1" "TPM-NV ok"
    pass "after a reset: TPM-NV $HEX1"
    halt

    boot second "$TMP/tpm-a" "nv-read,nv-write:$HEX2,nv-read"
    wait_ready 1
    expect_results "second QEMU" "TPM-NV $HEX1" "TPM-NV ok" "TPM-NV $HEX2"
    pass "new swtpm + QEMU on the same state: TPM-NV $HEX1, then a 16-byte write reads back"
    halt
}

test_unprovisioned() {
    boot empty "$TMP/tpm-empty" "ek,nv-read"
    wait_ready 1
    expect_results "unprovisioned TPM" \
        "TPM-EK fail: NV index 0x01c00002 (EK certificate) not defined" "TPM-NV none"
    pass "unprovisioned TPM: TPM-EK fail (index not defined), TPM-NV none"
    halt
}

test_no_tpm() {
    boot none none "ek,nv-write:abc,nv-read"
    wait_ready 1
    expect_results "no TPM" "TPM-EK fail: no /dev/tpm0 (nor /dev/tpmrm0)" \
        "TPM-NV fail: 'abc' is not 1 to 64 bytes of hex" \
        "TPM-NV fail: no /dev/tpm0 (nor /dev/tpmrm0)"
    pass "no TPM: TPM-EK fail / TPM-NV fail saying so; odd-length hex refused"
    halt
}

main() {
    local t0
    [[ $(id -u) -eq 0 ]] || skip_all "guest-tpm needs root"
    for p in qemu-system-x86_64 swtpm swtpm_setup swtpm_localca openssl; do
        command -v "$p" >/dev/null || bail "$p not installed (ci/deps guest)"
    done
    t0=$(date +%s)
    guest_image

    setup_ca
    test_provisioned
    test_unprovisioned
    test_no_tpm
    note "$(( $(date +%s) - t0 )) s"
}

main "$@"
