#!/bin/bash
# Integration test of qemu-patches/ (the tpm-emulator backend's hcrtm-file
# option) without libvirt: the patched QEMU (ci/build-qemu; TCG, pc, a
# tpm-crb device) on a real swtpm whose state has two PCR banks, sha1 and
# sha256, booting the test guest with tvdc.tpm=pcr:0.  Root; about 30 s
# once ci/build-qemu and ci/build-image are cached.  Run from anywhere:
#   bash ci/tests/qemu-hcrtm.sh
#
# For every bank B (digest length n) the test computes PCR 0 itself with
# openssl dgst and compares it with what the guest reads:
#   H-CRTM:    B(B(0^(n-1) || 04 || B(blob)) || B(ff ff ff ff))
#   none:      B(0^n || B(ff ff ff ff))
# (swtpm's hash sequence starts PCR 0 from 0..04 for locality 4 and extends
# the blob's digest; SeaBIOS then extends PCR 0 once, with the EV_SEPARATOR
# event of digest B(ff ff ff ff)).
#
# Checks:
#   1. stock /usr/bin/qemu-system-x86_64 refuses hcrtm-file (the option is
#      new); the patched one shows it in query-qmp-schema;
#   2. a blob: the computed PCR 0 in both banks; query-tpm names the file;
#      after QMP system_reset the guest reads the same PCR 0 again;
#   3. another blob: another, again computed, PCR 0;
#   4. no hcrtm-file: the unmeasured value;
#   5. a 10000-byte blob (three CMD_HASH_DATA chunks): computed;
#   6. a migrated guest: the destination measures neither at its creation
#      nor at the resume (the trace event of the measurement), but at its
#      next reset (the computed PCR 0 again);
#   7. a 65536-byte blob starts; a missing, an empty and a 65537-byte file
#      make QEMU exit non-zero with an error naming the file.
# Everything lives in one mktemp -d.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/tap.sh"
# shellcheck source=ci/tests/guest-qemu.sh
. "$(dirname "$0")/guest-qemu.sh"

GUEST_MONITOR=qmp
RESULT_LINES='^TPM-PCR '          # the TPM-PCR lines
RESULT_NAME="PCR lines"
STOCK_QEMU=/usr/bin/qemu-system-x86_64
BANKS=(sha1 sha256)

# hex2bin: stdin's hex digits as bytes on stdout.
hex2bin() {
    local hex
    hex=$(tr -d ' \n')
    # shellcheck disable=SC2059  # the format is the data, on purpose
    printf "$(sed 's/\(..\)/\\x\1/g' <<<"$hex")"
}

# digest BANK: the BANK digest of stdin, in hex.
digest() {
    openssl dgst "-$1" -binary | od -An -v -tx1 | tr -d ' \n'
}

# expected_pcr0 BANK BLOB|none: PCR 0 after SeaBIOS's separator, with the
# H-CRTM event of the file BLOB (or none).
expected_pcr0() {
    local bank=$1 blob=$2 n start sep
    n=$(printf '' | digest "$bank" | wc -c)
    n=$(( n / 2 ))
    if [[ $blob == none ]]; then
        start=$(printf '%0*d' $(( 2 * n )) 0)
    else
        start=$( { printf '%0*d04' $(( 2 * n - 2 )) 0; digest "$bank" <"$blob"; } |
                 hex2bin | digest "$bank")
    fi
    sep=$(printf '\xff\xff\xff\xff' | digest "$bank")
    printf '%s%s' "$start" "$sep" | hex2bin | digest "$bank"
}

# The result lines the guest must print for BLOB|none, one per bank.
expected_lines() {
    local bank
    for bank in "${BANKS[@]}"; do
        printf 'TPM-PCR 0 %s %s\n' "$bank" "$(expected_pcr0 "$bank" "$1")"
    done
}

# provision_banks STATEDIR: a TPM 2.0 with the PCR banks sha1 and sha256 (no
# certificates: PCR 0 is all this test reads).
provision_banks() {
    mkdir -p "$1"
    printf 'active_pcr_banks = sha1,sha256\n' >"$TMP/swtpm_setup.conf"
    swtpm_setup --tpm2 --tpmstate "$1" --config "$TMP/swtpm_setup.conf" \
        --pcr-banks sha1,sha256 --logfile "$1.setup.log" >/dev/null 2>&1 ||
        { cat "$1.setup.log" >&2; stop "swtpm_setup failed"; }
}

# hcrtm_args HCRTM|none: the QEMU arguments of the vTPM on $CTRL, with
# the hcrtm-file HCRTM (or none).
hcrtm_args() {
    if [[ $1 == none ]]; then
        tpm_args
    else
        tpm_args "hcrtm-file=$1"
    fi
}

# boot NAME HCRTM|none [STATEDIR [QEMU-ARG...]]: start swtpm (on STATEDIR,
# default the provisioned state) and the patched QEMU with the guest
# (tvdc.tpm=pcr:0) in the background; the console goes to
# $TMP/NAME.console, QMP listens on $TMP/NAME.qmp (see qmp), stderr goes
# to $TMP/NAME.qemu.log.  Sets CONSOLE, QMP_SOCK, QEMU_PID.
boot() {
    local name=$1 hcrtm=$2 state=${3:-$TMP/tpm} args
    shift $(( $# < 3 ? $# : 3 ))
    start_swtpm "$name" "$state"
    mapfile -t args < <(hcrtm_args "$hcrtm")
    start_qemu "$name" pcr:0 "${args[@]}" "$@"
}

# Quit the QEMU of $QMP_SOCK (not waited for: halt waits for the current).
halt_sock() {
    qmp quit >/dev/null 2>&1
}

# measured NAME HCRTM|none: boot, and the guest reads the computed PCR 0.
# Sets LINES.
measured() {
    local name=$1 blob=$2
    mapfile -t LINES < <(expected_lines "$blob")
    boot "$name" "$blob"
    wait_ready 1
    expect_results "$name" "${LINES[@]}"
}

test_option_is_new() {
    local blob=$TMP/blob-a args
    start_swtpm stock "$TMP/tpm"
    mapfile -t args < <(hcrtm_args "$blob")
    run "$STOCK_QEMU" -machine none -nodefaults -display none "${args[@]}"
    kill "${pids[-1]}" 2>/dev/null
    wait "${pids[-1]}" 2>/dev/null
    if (( RC != 0 )) && [[ $ERR == *"Invalid parameter 'hcrtm-file'"* ]]; then
        pass "stock $STOCK_QEMU refuses hcrtm-file"
    else
        fail "stock $STOCK_QEMU refuses hcrtm-file" "exit $RC" "$ERR"
    fi

    run bash -c 'printf "%s\n" "{\"execute\":\"qmp_capabilities\"}" \
                     "{\"execute\":\"query-qmp-schema\"}" "{\"execute\":\"quit\"}" |
                 "$1" -machine none -nodefaults -nographic -qmp stdio' _ "$QEMU"
    sed -n 3p <<<"$OUT" >"$TMP/schema.json"
    # Introspection hides the type's name: TPMEmulatorOptions is the object
    # type with the members chardev and hcrtm-file.
    check_jq "the patched QEMU's query-qmp-schema: TPMEmulatorOptions has an optional str hcrtm-file" \
        '[.return[] | select(.["meta-type"] == "object" and any(.members[]; .name == "chardev")
                        and any(.members[]; .name == "hcrtm-file"))] |
         "\(length) " + (.[0].members[] | select(.name == "hcrtm-file") |
                         "\(has("default")) \(.type)")' \
        "1 true str" "$TMP/schema.json"
}

test_blobs() {
    local a b pcr_a
    printf 'tvdc: label=red types=A,B policy=demo-1\n' >"$TMP/blob-a"
    printf 'tvdc: label=blue types=C policy=demo-1\n' >"$TMP/blob-b"

    measured blob-a "$TMP/blob-a"
    pass "hcrtm-file (a): PCR 0 of sha1 and sha256 is the computed H-CRTM value"
    pcr_a=("${LINES[@]}")
    note "${LINES[@]}"
    check_jq "query-tpm names the hcrtm-file" '.[0].options.data["hcrtm-file"]' \
        "$TMP/blob-a" <(qmp query-tpm)

    qmp system_reset >/dev/null || stop "QMP system_reset failed"
    wait_ready 2
    expect_results "after system_reset" "${LINES[@]}" "${LINES[@]}"
    pass "after QMP system_reset the guest reads the same PCR 0 again"
    halt

    measured blob-b "$TMP/blob-b"
    a=$(printf '%s\n' "${pcr_a[@]}")
    b=$(printf '%s\n' "${LINES[@]}")
    [[ $a != "$b" ]] || stop "another blob gives the same PCR 0"
    pass "another blob (b): another PCR 0, again the computed one"
    halt

    measured none none
    pass "without hcrtm-file: PCR 0 is the unmeasured value (zeros, then the separator)"
    halt

    head -c 10000 /dev/urandom >"$TMP/blob-10000"
    measured blob-10000 "$TMP/blob-10000"
    pass "a 10000-byte blob (three CMD_HASH_DATA chunks): the computed PCR 0"
    halt
}

# The number of H-CRTM measurements QEMU NAME traced.
measurements() {
    grep -c 'tpm_emulator_measure_hcrtm' "$TMP/$1.qemu.log"
}

# An incoming migration resumes the TPM with the PCRs of the source: the
# destination does not measure at its creation nor at the resume (that
# would change PCR 0 under a running guest, or fail: the TPM is started),
# only at its next reset.
test_migration() {
    local src_qmp i status
    boot mig-src "$TMP/blob-a" "$TMP/tpm" -trace tpm_emulator_measure_hcrtm
    wait_ready 1
    mapfile -t LINES < <(expected_lines "$TMP/blob-a")
    expect_results "migration source" "${LINES[@]}"
    src_qmp=$QMP_SOCK
    boot mig-dst "$TMP/blob-a" "$TMP/tpm-dst" -trace tpm_emulator_measure_hcrtm \
        -incoming "unix:$TMP/mig.sock"
    for ((i = 0; i < 100; i++)); do
        [[ -S $TMP/mig.sock ]] && break
        sleep 0.1
    done
    qmp --sock "$src_qmp" migrate "{\"uri\": \"unix:$TMP/mig.sock\"}" >/dev/null ||
        stop "QMP migrate failed"
    for ((i = 0; i < 300; i++)); do
        status=$(qmp --sock "$src_qmp" query-migrate | jq -r .status)
        [[ $status == completed || $status == failed ]] && break
        sleep 0.2
    done
    [[ $status == completed ]] || stop "migration: $status" "$(cat "$TMP/mig-dst.qemu.log")"
    check_jq "migration completed, the destination runs" .status running <(qmp query-status)
    check_eq "the source measured once, the destination not at creation nor resume" \
        "1 0" "$(measurements mig-src) $(measurements mig-dst)"
    QMP_SOCK=$src_qmp halt_sock
    qmp system_reset >/dev/null || stop "QMP system_reset failed"
    wait_ready 1
    expect_results "destination after system_reset" "${LINES[@]}"
    # SeaBIOS answers a reset of a booted machine with a reset of its own
    # (RESET event guest-reset): every reset measures, so count at least one.
    (( $(measurements mig-dst) >= 1 )) ||
        stop "the reset on the destination did not measure"
    pass "a reset on the destination measures again: the computed PCR 0"
    halt
}

# refused DESC FILE WORDS: QEMU (paused, -S) exits non-zero before it runs
# the guest; its error names FILE and contains WORDS.
refused() {
    local desc=$1 file=$2 words=$3 args
    start_swtpm refused "$TMP/tpm"
    mapfile -t args < <(hcrtm_args "$file")
    run timeout 30 "$QEMU" -S -machine pc -nodefaults -display none "${args[@]}"
    kill "${pids[-1]}" 2>/dev/null
    wait "${pids[-1]}" 2>/dev/null
    if (( RC != 0 && RC != 124 )) && [[ $ERR == *"$file"* && $ERR == *"$words"* ]]; then
        pass "$desc: QEMU exits $RC: $(head -1 <<<"$ERR")"
    else
        fail "$desc: QEMU exits non-zero naming the file" "exit $RC" "$ERR"
    fi
}

test_bad_files() {
    local sock=$TMP/max.qmp
    head -c 65536 /dev/urandom >"$TMP/blob-65536"
    head -c 65537 /dev/urandom >"$TMP/blob-65537"
    : >"$TMP/blob-empty"

    start_swtpm max "$TMP/tpm"
    mapfile -t args < <(hcrtm_args "$TMP/blob-65536")
    "$QEMU" -S -machine pc -nodefaults -display none -qmp "unix:$sock,server=on,wait=off" \
        "${args[@]}" >"$TMP/max.qemu.log" 2>&1 &
    QEMU_PID=$!
    pids+=("$QEMU_PID")
    check_jq "a 65536-byte blob: QEMU starts (measured at its first reset)" '.status' \
        prelaunch <(qmp --sock "$sock" query-status)
    QMP_SOCK=$sock halt

    refused "a missing file" "$TMP/no-such-blob" "No such file or directory"
    refused "an empty file" "$TMP/blob-empty" "is empty"
    refused "a 65537-byte file" "$TMP/blob-65537" "is larger than 65536 bytes"
}

main() {
    local t0 p
    [[ $(id -u) -eq 0 ]] || skip_all "qemu-hcrtm needs root"
    for p in "$STOCK_QEMU" swtpm swtpm_setup openssl jq python3; do
        command -v "$p" >/dev/null || bail "$p not installed (ci/deps guest)"
    done
    t0=$(date +%s)
    QEMU=$("$ROOT/ci/build-qemu" | tail -1) || bail "ci/build-qemu failed"
    [[ -x $QEMU ]] || bail "ci/build-qemu printed no binary: $QEMU"
    guest_image

    provision_banks "$TMP/tpm"
    printf 'tvdc: label=red types=A,B policy=demo-1\n' >"$TMP/blob-a"
    test_option_is_new
    test_blobs
    test_migration
    test_bad_files
    note "$(( $(date +%s) - t0 )) s"
}

main "$@"
