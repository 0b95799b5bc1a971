#!/bin/bash
# Integration test of the test guest's remote attestation agent
# (tvdc.attest=1 in ci/guest/init, the attest action of ci/guest/tpm-probe.c)
# without libvirt: QEMU (TCG, pc) with a tpm-crb device on a real swtpm that
# swtpm_setup provisioned with EK and platform certificates from a private
# swtpm_localca CA, and a virtio-serial port org.tvdc.attest.0 on a UNIX
# socket.  The test is the verifier: it speaks the protocol of
# swtpm-mgr/README.md ("Attestation protocol") with python3 and checks every
# answer with tpm2-tools on the host, without a TPM (--tcti none).  Root;
# about two minutes.  Run from anywhere:
#   bash ci/tests/guest-attest-agent.sh      (TVDC=path/to/tvdc)
#
# Checks:
#   1. HELLO 1: KEYS; the EK is the TCG default RSA 2048 EK (attributes,
#      policy A) with the modulus of the EK certificate the guest reads from
#      NV 0x01c00002 (which verifies against the local CA); the AK has the
#      documented template;
#   2. ACTIVATE of tpm2_makecredential's credential for the AK's name with
#      the EK: ACTIVATED gives the secret back; a credential for another
#      name, a damaged one: ERROR;
#   3. QUOTE: tpm2_checkquote verifies the signature, the nonce and the PCR
#      values (sha256 0-9) with the AK (TSS and PEM); a wrong nonce, a
#      changed PCR value and another AK fail; PCR 0 is what the guest's
#      pcr:0 read at boot; a second quote of the same PCRs has the same
#      values and another nonce;
#   4. EVENTLOG: the firmware's log, or none; a log replays (tpm2_eventlog)
#      to the quoted PCRs 0-7, and with tvdc's parser (tvdc vtpm
#      eventlog-replay, $TVDC) to the quoted PCRs 0-9 with as many events;
#   5. refusals: HELLO 2, unknown requests, short nonces, an unallocated
#      bank, bad PCR lists, bad hex: one ERROR line each, and the agent goes
#      on answering;
#   6. an answer to a verifier that has gone is dropped, not given to the
#      next one; a request cut off by a disconnect is forgotten;
#   7. the same vTPM without the persistent EK 0x81010001: the agent creates
#      the EK from its template, the same key, and ACTIVATE works with it.
# Everything lives in one mktemp -d; /etc and /var/lib/swtpm-localca are
# never touched.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/tap.sh"
# shellcheck source=ci/tests/guest-qemu.sh
. "$(dirname "$0")/guest-qemu.sh"
# shellcheck source=ci/tests/attest-lib.sh
. "$(dirname "$0")/attest-lib.sh"

GUEST_MONITOR=qmp
GUEST_CMDLINE=tvdc.attest=1
RESULT_LINES='^TPM(-EK|-PCR)? '
PCRS=sha256:0,1,2,3,4,5,6,7,8,9
ANSWER_TIMEOUT=120          # seconds for one answer (TCG guest, RSA keys)
TVDC=${TVDC:-$ROOT/build/labels/tool/tvdc}

# verifier [--drop] REQUEST...: one connection to the agent's port; sends
# each request and prints its answer line.  --drop: send the requests and
# close at once, without reading.
verifier() {
    python3 - "$SOCK" "$ANSWER_TIMEOUT" "$@" <<'EOF'
import socket, sys, time, unixsock
path, timeout, reqs = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
drop = reqs[:1] == ["--drop"]
reqs = reqs[1:] if drop else reqs
s = unixsock.connect(path)
if drop:
    s.sendall("".join(r + "\n" for r in reqs).encode())
    s.close()
    sys.exit(0)
s.settimeout(timeout)
f = s.makefile("rb")
for r in reqs:
    s.sendall(r.encode() + b"\n")
    line = f.readline()
    if not line.endswith(b"\n"):
        sys.exit("no answer to " + r.split(" ")[0])
    sys.stdout.write(line.decode("ascii"))
EOF
}

# wait_console PATTERN: until the console has a line matching PATTERN (grep
# -E), at most ANSWER_TIMEOUT s.
wait_console() {
    local deadline=$(( $(date +%s) + ANSWER_TIMEOUT ))
    while (( $(date +%s) < deadline )); do
        console | grep -qE "$1" && return 0
        kill -0 "$QEMU_PID" 2>/dev/null || stop "QEMU exited"
        sleep 0.2
    done
    return 1
}

# boot_guest NAME STATEDIR: the guest on a swtpm on STATEDIR, the agent's
# port on $TMP/NAME.sock (SOCK).
boot_guest() {
    local name=$1 state=$2 args
    SOCK=$TMP/$name.sock
    start_swtpm "$name" "$state"
    mapfile -t args < <(tpm_args)
    start_qemu "$name" "ek,pcr:0" "${args[@]}" \
        -device virtio-serial \
        -chardev "socket,id=att,path=$SOCK,server=on,wait=off" \
        -device virtserialport,chardev=att,name=org.tvdc.attest.0
    wait_ready 1
    wait_console '^tvdc-attest: answering on /dev/vport[0-9]+p[0-9]+$' ||
        stop "the agent does not say it answers on a vport" "$(console | grep tvdc-attest)"
    pass "the agent answers on $(console | sed -n 's/^tvdc-attest: answering on //p' | head -1)"
}

test_keys() {
    local keys ek_mod cert_mod ek="" ak="" f
    console | sed -n '/^-----BEGIN CERTIFICATE-----$/,/^-----END CERTIFICATE-----$/p' \
        >"$TMP/ek-cert.pem"
    openssl verify -CAfile "$TMP/ca/state/swtpm-localca-rootca-cert.pem" \
        -untrusted "$TMP/ca/state/issuercert.pem" "$TMP/ek-cert.pem" >/dev/null ||
        stop "the guest's EK certificate does not verify against the local CA"

    keys=$(verifier "HELLO 1") || stop "HELLO 1: no answer"
    [[ $keys =~ ^KEYS\ [0-9a-f]+\ [0-9a-f]+$ ]] ||
        stop "HELLO 1: not 'KEYS <hex> <hex>'" "${keys:0:300}"
    pass "HELLO 1: KEYS <hex> <hex>"
    hex2file "$(field 2 <<<"$keys")" "$TMP/ek.pub"
    hex2file "$(field 3 <<<"$keys")" "$TMP/ak.pub"

    check_eq "EK: the TCG default RSA 2048 EK's attributes" \
        "fixedtpm|fixedparent|sensitivedataorigin|adminwithpolicy|restricted|decrypt" \
        "$(public_field "$TMP/ek.pub" attributes)"
    check_eq "EK: policy A, PolicySecret(TPM_RH_ENDORSEMENT)" \
        837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa \
        "$(public_field "$TMP/ek.pub" authorization\ policy)"
    ek_mod=$(public_field "$TMP/ek.pub" rsa)
    cert_mod=$(openssl x509 -in "$TMP/ek-cert.pem" -noout -modulus | sed 's/^Modulus=//')
    check_eq "EK: the modulus of the EK certificate in NV 0x01c00002 (RSA 2048)" \
        "${cert_mod,,}" "$ek_mod"
    for f in type bits name-alg sym-alg sym-mode sym-keybits scheme; do
        ek+=" $(public_field "$TMP/ek.pub" "$f")"
    done
    check_eq "EK: RSA 2048, nameAlg SHA-256, AES-128-CFB, no scheme" \
        " rsa 2048 sha256 aes cfb 128 null" "$ek"

    check_eq "AK: fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, restricted, sign" \
        "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign" \
        "$(public_field "$TMP/ak.pub" attributes)"
    for f in type bits scheme scheme-halg name-alg sym-alg; do
        ak+=" $(public_field "$TMP/ak.pub" "$f")"
    done
    check_eq "AK: RSA 2048, RSASSA with SHA-256, nameAlg SHA-256, no symmetric" \
        " rsa 2048 rsassa sha256 sha256 null" "$ak"
    tpm2_print -t TPM2B_PUBLIC -f pem "$TMP/ak.pub" >"$TMP/ak.pem" 2>/dev/null
    check "AK: tpm2_print makes a PEM public key of it" \
        openssl pkey -pubin -in "$TMP/ak.pem" -noout
    check_eq "a second HELLO 1: the same keys (primary keys from the same seed)" \
        "$keys" "$(verifier "HELLO 1")"
}

# credential NAME SECRET-FILE OUT: tpm2_makecredential for the object NAME
# with the EK, as an ACTIVATE request in OUT.
credential() {
    make_credential "$TMP/ek.pub" "$1" "$2" "$3" || stop "tpm2_makecredential failed"
}

test_activate() {
    local name answer req
    name=$(object_name "$TMP/ak.pub")
    head -c 32 /dev/urandom >"$TMP/secret"
    credential "$name" "$TMP/secret" "$TMP/activate.req"
    answer=$(verifier "$(cat "$TMP/activate.req")")
    check_eq "ACTIVATE: the secret tpm2_makecredential sealed for the AK's name comes back" \
        "ACTIVATED 0020$(hexof "$TMP/secret")" "$answer"

    credential "$(object_name "$TMP/ek.pub")" "$TMP/secret" "$TMP/other.req"
    answer=$(verifier "$(cat "$TMP/other.req")")
    check "ACTIVATE of a credential for another name: ERROR" \
        grep -q '^ERROR TPM2_ActivateCredential returned TPM response code 0x' <<<"$answer"
    note "$answer"
    # one bit of the encrypted seed flipped
    req=$(python3 -c 'import sys
f = sys.argv[1].split(" "); s = bytearray.fromhex(f[2]); s[10] ^= 1
print(f[0], f[1], s.hex())' "$(cat "$TMP/activate.req")")
    answer=$(verifier "$req")
    check "ACTIVATE with a damaged secret: ERROR" \
        grep -q '^ERROR TPM2_ActivateCredential returned TPM response code 0x' <<<"$answer"
}

# quote NONCE PREFIX: QUOTE; the message, signature and PCR file in
# $TMP/PREFIX.{msg,sig,pcrs}; the values in $TMP/PREFIX.values.
quote() {
    local answer
    answer=$(verifier "QUOTE $1 $PCRS")
    if ! [[ $answer =~ ^QUOTED\ [0-9a-f]+\ [0-9a-f]+\ [0-9a-f]{64}(,[0-9a-f]{64}){9}$ ]] ||
        ! quote_files "$answer" "$TMP/$2" "$PCRS"; then
        stop "QUOTE: not 'QUOTED <hex> <hex> <10 sha256 values>'" "${answer:0:400}"
    fi
}

test_quote() {
    local nonce nonce2 bad pcr0 values
    nonce=$(od -An -v -tx1 -N 32 /dev/urandom | tr -d ' \n')
    quote "$nonce" q1
    pass "QUOTE $PCRS: QUOTED <TPM2B_ATTEST> <TPMT_SIGNATURE> <10 digests>"
    check "tpm2_checkquote -u ak.pub (TSS) -m -s -f -q: signature, nonce and PCRs verify" \
        tpm2_checkquote -u "$TMP/ak.pub" -m "$TMP/q1.msg" -s "$TMP/q1.sig" \
            -f "$TMP/q1.pcrs" -q "$nonce" -g sha256
    check "the same with the AK as PEM" \
        tpm2_checkquote -u "$TMP/ak.pem" -m "$TMP/q1.msg" -s "$TMP/q1.sig" \
            -f "$TMP/q1.pcrs" -q "$nonce" -g sha256
    check_eq "the quote's extraData is the nonce" "$nonce" \
        "$(tpm2_print -t TPMS_ATTEST "$TMP/q1.msg" | awk '$1 == "extraData:" { print $2 }')"
    check_eq "the quote selects sha256 PCRs 0-9" "(sha256) ff0300" \
        "$(tpm2_print -t TPMS_ATTEST "$TMP/q1.msg" |
           awk '$1 == "hash:" { h = $3 } $1 == "pcrSelect:" && NF > 1 { print h, $2 }')"

    bad=${nonce:0:62}$(printf '%02x' $(( (0x${nonce:62:2} + 1) % 256 )))
    check_not "a wrong nonce fails tpm2_checkquote" \
        tpm2_checkquote -u "$TMP/ak.pub" -m "$TMP/q1.msg" -s "$TMP/q1.sig" \
            -f "$TMP/q1.pcrs" -q "$bad" -g sha256
    values=$(cat "$TMP/q1.values")
    pcr_file "$PCRS" "${values:0:130}0${values:131}" >"$TMP/bad.pcrs"
    [[ ${values:130:1} != 0 ]] || pcr_file "$PCRS" "${values:0:130}1${values:131}" >"$TMP/bad.pcrs"
    check_not "a changed PCR 2 value fails tpm2_checkquote" \
        tpm2_checkquote -u "$TMP/ak.pub" -m "$TMP/q1.msg" -s "$TMP/q1.sig" \
            -f "$TMP/bad.pcrs" -q "$nonce" -g sha256
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
        openssl pkey -pubout >"$TMP/other.pem" 2>/dev/null
    check_not "another key fails tpm2_checkquote" \
        tpm2_checkquote -u "$TMP/other.pem" -m "$TMP/q1.msg" -s "$TMP/q1.sig" \
            -f "$TMP/q1.pcrs" -q "$nonce" -g sha256

    pcr0=$(console | awk '$1 == "TPM-PCR" && $2 == 0 && $3 == "sha256" { print $4; exit }')
    [[ -n $pcr0 ]] || stop "the guest's pcr:0 printed no sha256 line" "$(results)"
    check_eq "PCR 0 in QUOTED is what the probe's pcr:0 read at boot" "$pcr0" "${values:0:64}"

    nonce2=$(od -An -v -tx1 -N 16 /dev/urandom | tr -d ' \n')
    quote "$nonce2" q2
    check "a second quote, a 16-byte nonce: verifies" \
        tpm2_checkquote -u "$TMP/ak.pub" -m "$TMP/q2.msg" -s "$TMP/q2.sig" \
            -f "$TMP/q2.pcrs" -q "$nonce2" -g sha256
    check_eq "... with the same PCR values" "$values" "$(cat "$TMP/q2.values")"
    check_not "... and not with the first nonce" \
        tpm2_checkquote -u "$TMP/ak.pub" -m "$TMP/q2.msg" -s "$TMP/q2.sig" \
            -f "$TMP/q2.pcrs" -q "$nonce" -g sha256
    nonce2=$(od -An -v -tx1 -N 64 /dev/urandom | tr -d ' \n')
    quote "$nonce2" q3
    check "a 64-byte nonce (the longest): verifies" \
        tpm2_checkquote -u "$TMP/ak.pub" -m "$TMP/q3.msg" -s "$TMP/q3.sig" \
            -f "$TMP/q3.pcrs" -q "$nonce2" -g sha256
}

test_eventlog() {
    local answer replay quoted
    answer=$(verifier EVENTLOG)
    if [[ $answer == "EVENTLOG none" ]]; then
        pass "EVENTLOG: none (the guest kernel shows no firmware event log)"
        return
    fi
    [[ $answer =~ ^EVENTLOG\ [0-9a-f]+$ ]] || stop "EVENTLOG: not 'EVENTLOG <hex>|none'" \
        "${answer:0:300}"
    pass "EVENTLOG: $(( (${#answer} - 9) / 2 )) bytes"
    hex2file "${answer#EVENTLOG }" "$TMP/eventlog.bin"
    tpm2_eventlog "$TMP/eventlog.bin" >"$TMP/eventlog.yaml" 2>"$TMP/eventlog.err" ||
        stop "tpm2_eventlog cannot read the log" "$(cat "$TMP/eventlog.err")"
    # "pcrs:" / "  sha256:" / "    0 : 0x..." at the end: the replay
    replay=$(awk '/^pcrs:/ { p = 1 } p && $1 == "sha256:" { s = 1; next }
                  p && s && $2 == ":" && $1 <= 7 { print tolower(substr($3, 3)) }
                  p && s && $1 ~ /:$/ && $1 != "sha256:" { s = 0 }' "$TMP/eventlog.yaml" |
             paste -sd,)
    quoted=$(cut -d, -f1-8 "$TMP/q1.values")
    check_eq "the event log replays to the quoted sha256 PCRs 0-7" "$quoted" "$replay"

    # tvdc's own parser: stock QEMU measures no H-CRTM, PCR0 starts at zeros
    if [[ ! -x $TVDC ]]; then
        skip "tvdc vtpm eventlog-replay replays the log" "no tvdc at $TVDC"
        return
    fi
    "$TVDC" vtpm eventlog-replay --json "$TMP/eventlog.bin" >"$TMP/replay.json" 2>"$TMP/replay.err" ||
        stop "tvdc vtpm eventlog-replay cannot read the log" "$(cat "$TMP/replay.err")"
    check_jq "tvdc vtpm eventlog-replay: the quoted sha256 PCRs 0-9" \
        '[range(10) as $i | .pcrs["\($i)"]] | join(",")' "$(cat "$TMP/q1.values")" \
        "$TMP/replay.json"
    check_jq "... with as many events as tpm2_eventlog (but the Spec ID header)" \
        '.events | length' "$(( $(grep -c '^- EventNum:' "$TMP/eventlog.yaml") - 1 ))" \
        "$TMP/replay.json"
}

test_refusals() {
    local answers n
    answers=$(verifier "HELLO 2" "GOODBYE" "" "hello 1" "EVENTLOG x" \
        "QUOTE 0011 $PCRS" "QUOTE $(printf '%0130d' 0) $PCRS" \
        "QUOTE 00112233445566778899aabbccddeeffzz $PCRS" \
        "QUOTE 00112233445566778899aabbccddeeff sha1:0" \
        "QUOTE 00112233445566778899aabbccddeeff sha256:1,0" \
        "QUOTE 00112233445566778899aabbccddeeff sha256:24" \
        "QUOTE 00112233445566778899aabbccddeeff md5:0" \
        "QUOTE 00112233445566778899aabbccddeeff" \
        "ACTIVATE 0001 00" "ACTIVATE 00 0000" "HELLO 1 2 3 4" \
        "QUOTE  $PCRS" "HELLO 1")
    n=$(grep -c '^ERROR [^ ]' <<<"$answers")
    check_eq "17 bad requests: 17 ERROR lines, then HELLO 1 is answered" "17 KEYS" \
        "$n $(tail -1 <<<"$answers" | field 1)"
    note "$(head -17 <<<"$answers")"
    check_line "an unallocated bank says so" <(printf '%s\n' "$answers") \
        "ERROR TPM2_PCR_Read read none of the PCRs: the bank is not allocated"
}

test_disconnect() {
    local before answer
    before=$(console | grep -c '^tvdc-attest: answer dropped')
    verifier --drop "HELLO 1"
    wait_console '^tvdc-attest: answer dropped' ||
        stop "no 'answer dropped' on the console after a verifier left"
    (( $(console | grep -c '^tvdc-attest: answer dropped') == before + 1 )) ||
        stop "not one answer dropped"
    answer=$(verifier EVENTLOG)
    check "the answer to a verifier that left is dropped: the next gets its own" \
        grep -q '^EVENTLOG ' <<<"$answer"
    verifier --drop "QUOTE 0011223344"
    sleep 2
    answer=$(verifier "HELLO 1")
    check "a request cut off by a disconnect is forgotten" grep -q '^KEYS ' <<<"$answer"
}

# evict_ek STATEDIR: remove the persistent EK 0x81010001 from the state
# (TPM2_EvictControl on a swtpm of its own), so that the agent must create
# the EK from its template.
evict_ek() {
    local pid
    swtpm socket --tpm2 --tpmstate dir="$1" --server type=unixio,path="$TMP/evict.sock" \
        --ctrl type=unixio,path="$TMP/evict.ctrl" --flags not-need-init,startup-clear \
        --log file="$TMP/evict.swtpm.log" &
    pid=$!
    pids+=("$pid")
    tpm_evict_ek "$TMP/evict.sock" || stop "TPM2_EvictControl of 0x81010001 failed"
    swtpm_ioctl --unix "$TMP/evict.ctrl" -s >/dev/null || kill "$pid"
    wait "$pid" 2>/dev/null
}

# The same vTPM without the persistent EK: the agent creates it from the
# template, with the same public key, and activation works with it.
test_created_ek() {
    local keys answer ek ak
    keys=$(verifier "HELLO 1")
    ek=$(hexof "$TMP/ek.pub")
    ak=$(hexof "$TMP/ak.pub")
    check_eq "no persistent EK: KEYS has the same EK and AK" "KEYS $ek $ak" "$keys"
    check "... the agent created the EK from the template" \
        grep -qx 'tvdc-attest: no default EK at 0x81010001, created from the template' \
            <(console)
    head -c 32 /dev/urandom >"$TMP/secret2"
    credential "$(object_name "$TMP/ak.pub")" "$TMP/secret2" "$TMP/activate2.req"
    answer=$(verifier "$(cat "$TMP/activate2.req")")
    check_eq "no persistent EK: ACTIVATE with the created EK gives the secret" \
        "ACTIVATED 0020$(hexof "$TMP/secret2")" "$answer"
}

main() {
    local t0 p
    [[ $(id -u) -eq 0 ]] || skip_all "guest-attest-agent needs root"
    for p in qemu-system-x86_64 swtpm swtpm_setup swtpm_localca openssl python3 \
             tpm2_makecredential tpm2_checkquote tpm2_print tpm2_eventlog; do
        command -v "$p" >/dev/null || bail "$p not installed (ci/deps guest, tpm2-tools)"
    done
    t0=$(date +%s)
    guest_image
    local_ca
    provision "$TMP/tpm"
    cp -a "$TMP/tpm" "$TMP/tpm-noek"
    boot_guest attest "$TMP/tpm"
    test_keys
    test_activate
    test_quote
    test_eventlog
    test_refusals
    test_disconnect
    check_not "the agent used the persistent EK 0x81010001" \
        grep -q '^tvdc-attest: no default EK' <(console)
    note "$(console | grep -c '^tvdc-attest: ') agent log lines"
    halt

    evict_ek "$TMP/tpm-noek"
    boot_guest noek "$TMP/tpm-noek"
    test_created_ek
    halt
    note "$(( $(date +%s) - t0 )) s"
}

main "$@"
