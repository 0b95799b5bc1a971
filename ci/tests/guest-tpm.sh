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

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BOOT_TIMEOUT=90
HEX1=cafe01
HEX2=00112233445566778899aabbccddeeff

pids=()

stop() {            # stop DESC [DETAIL...]: a failed check the next ones need
    fail "$@"
    exit 1
}

# Kill what this script started and is still running (its pids that are
# still jobs of this shell: a reaped pid may belong to someone else by now).
cleanup() {
    local pid running
    running=" $(jobs -p | tr '\n' ' ') "
    for pid in "${pids[@]}"; do
        [[ $running == *" $pid "* ]] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if (( TAP_RC != 0 )) && [[ -n ${CONSOLE:-} && -e $CONSOLE ]]; then
        note "console of the last boot ($CONSOLE, last lines):" "$(tail -15 "$CONSOLE" | tr -d '\r')"
        for f in "${CONSOLE%.console}".{qemu,swtpm}.log; do
            [[ -s $f ]] || continue
            note "$(basename "$f"), last lines:" "$(tail -10 "$f")"
        done
    fi
}

# A private swtpm_localca CA, and a swtpm_setup configuration that uses it
# through a wrapper which also keeps a copy of each EK certificate issued.
setup_ca() {
    local ca=$TMP/ca
    mkdir -p "$ca/state" "$TMP/xdg"
    cat >"$ca/swtpm-localca.conf" <<EOF
statedir = $ca/state
signingkey = $ca/state/signkey.pem
issuercert = $ca/state/issuercert.pem
certserial = $ca/state/certserial
EOF
    printf -- '--platform-manufacturer tvdc\n--platform-version 1\n--platform-model QEMU\n' \
        >"$ca/swtpm-localca.options"
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
    cat >"$TMP/xdg/swtpm_setup.conf" <<EOF
create_certs_tool = $ca/certtool
create_certs_tool_config = $ca/swtpm-localca.conf
create_certs_tool_options = $ca/swtpm-localca.options
active_pcr_banks = sha256
EOF
}

# provision STATEDIR: a TPM 2.0 with an EK and EK + platform certificates.
provision() {
    mkdir -p "$1"
    XDG_CONFIG_HOME=$TMP/xdg swtpm_setup --tpm2 --tpmstate "$1" \
        --config "$TMP/xdg/swtpm_setup.conf" --vmid guest-tpm \
        --create-ek-cert --create-platform-cert --logfile "$1.setup.log" \
        >/dev/null 2>&1 || { cat "$1.setup.log" >&2; stop "swtpm_setup failed"; }
}

# boot NAME STATEDIR|none TPM_ACTIONS: start QEMU (and a swtpm on STATEDIR)
# in the background; the console goes to $TMP/NAME.console, the HMP monitor
# listens on the UNIX socket $TMP/NAME.mon (see hmp).  Sets CONSOLE, MON,
# QEMU_PID.
boot() {
    local name=$1 state=$2 actions=$3 ctrl=$TMP/$1.ctrl i tpm_args=()
    CONSOLE=$TMP/$name.console
    MON=$TMP/$name.mon
    if [[ $state != none ]]; then
        mkdir -p "$state"
        swtpm socket --tpm2 --tpmstate dir="$state" --ctrl type=unixio,path="$ctrl" \
            --terminate --log file="$TMP/$name.swtpm.log" &
        pids+=($!)
        for ((i = 0; i < 100; i++)); do
            [[ -S $ctrl ]] && break
            sleep 0.1
        done
        [[ -S $ctrl ]] || stop "$name: swtpm did not create $ctrl"
        tpm_args=(-chardev "socket,id=chrtpm,path=$ctrl"
                  -tpmdev "emulator,id=tpm0,chardev=chrtpm"
                  -device "tpm-crb,tpmdev=tpm0")
    fi
    # QEMU runs without MALLOC_PERTURB_, as under libvirt (which gives QEMU
    # a cleared environment): Debian's QEMU
    # 7.2 never completes a system_reset with a tpm-emulator backend when
    # MALLOC_PERTURB_ (which meson sets for every test) fills its heap
    # (tpm-emulator: "Could not cleanly shutdown the TPM: Input/output
    # error"; reproducible with MALLOC_PERTURB_=218, swtpm unaffected).
    env -u MALLOC_PERTURB_ qemu-system-x86_64 -accel tcg -machine pc -m 128 -nodefaults -display none \
        -kernel "$KERNEL" -initrd "$INITRD" \
        -append "console=ttyS0 tvdc.tpm=$actions" \
        -serial "file:$CONSOLE" -monitor "unix:$MON,server=on,wait=off" \
        "${tpm_args[@]}" >"$TMP/$name.qemu.log" 2>&1 &
    QEMU_PID=$!
    pids+=("$QEMU_PID")
}

# hmp COMMAND: send one command to the HMP monitor of the last boot.  A
# socket, not a pipe: a command written into a monitor FIFO was lost when
# the test ran with stdin on /dev/null (as under meson).
hmp() {
    python3 - "$MON" "$1" <<'EOF' || stop "HMP command '$1' could not be sent"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
for _ in range(100):
    try:
        s.connect(sys.argv[1])
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(1)
s.settimeout(10)
buf = b""
while b"(qemu)" not in buf:          # the prompt: the monitor is ready
    buf += s.recv(4096)
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
try:
    while out.count(b"(qemu)") < 1:  # the answer ends at the next prompt
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
except OSError:
    pass
s.close()
lines = out.decode(errors="replace").replace("(qemu)", "").splitlines()
print("\n".join(l for l in lines[1:] if l.strip()))   # [0] echoes the command
EOF
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

# The console without carriage returns.
console() {
    [[ -e $CONSOLE ]] || return 0    # QEMU has not created it yet
    tr -d '\r' <"$CONSOLE"
}

# wait_ready COUNT: until the console shows COUNT "TVDC-GUEST READY" lines.
wait_ready() {
    local count=$1 deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
    while (( $(date +%s) < deadline )); do
        (( $(console | grep -c '^TVDC-GUEST READY') >= count )) && return 0
        kill -0 "$QEMU_PID" 2>/dev/null || stop "QEMU exited: $(cat "$TMP"/*.qemu.log)"
        sleep 0.2
    done
    stop "no 'TVDC-GUEST READY' number $count within $BOOT_TIMEOUT s"
}

# Stop the current QEMU; its swtpm (--terminate) exits with it.
halt() {
    hmp quit >/dev/null
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$QEMU_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
}

# The TPM-* result lines of the console, in order.
results() {
    console | grep -E '^TPM(-EK|-NV)? ' || true
}

expect_results() {  # expect_results WHAT LINE...: exactly these result lines
    local what=$1 got want
    shift
    got=$(results)
    want=$(printf '%s\n' "$@")
    [[ $got == "$want" ]] || stop "$what: the guest's result lines" "expected:" "$want" "got:" "$got"
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
    local image t0
    [[ $(id -u) -eq 0 ]] || skip_all "guest-tpm needs root"
    for p in qemu-system-x86_64 swtpm swtpm_setup swtpm_localca openssl; do
        command -v "$p" >/dev/null || bail "$p not installed (ci/deps guest)"
    done
    TMP=$TAP_TMP
    at_exit cleanup
    t0=$(date +%s)
    image=$("$ROOT/ci/build-image") || bail "ci/build-image failed"
    KERNEL=${image#kernel=}
    KERNEL=${KERNEL%% initrd=*}
    INITRD=${image##* initrd=}
    [[ -r $KERNEL && -r $INITRD ]] || bail "image paths not readable: $image"

    setup_ca
    test_provisioned
    test_unprovisioned
    test_no_tpm
    note "$(( $(date +%s) - t0 )) s"
}

main "$@"
