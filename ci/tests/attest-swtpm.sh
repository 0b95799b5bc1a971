#!/bin/bash
# The attestation agent of the test guest's TPM probe (tvdc-tpm-probe
# attest, ci/guest/tpm-probe.c) built for the host and run against a real
# swtpm's socket (--dev), requests on stdin (attest:-): the protocol of
# swtpm-mgr/README.md without QEMU, checked with tpm2-tools, and what the
# guest test cannot see behind /dev/tpmrm0: that every request, answered or
# refused, leaves no transient object and no session in the TPM.  No root;
# a few seconds.
#
# Environment (set by meson): PROBE, the probe for the host.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/tap.sh"
# shellcheck source=ci/tests/attest-lib.sh
. "$(dirname "$0")/attest-lib.sh"

PROBE=${PROBE:?}
TMP=$TAP_TMP
PCRS=sha256:0,1,2,3,4,5,6,7,8,9
# agent REQUEST...: the answers, one a line; the agent's log in $TMP/agent.log.
agent() {
    printf '%s\n' "$@" | "$PROBE" --dev "$TMP/tpm.sock" attest:- 2>"$TMP/agent.log"
}

check_no_handles() {
    local h
    h=$(tpm_handles "$TMP/tpm.sock") || bail "TPM2_GetCapability(TPM_CAP_HANDLES) failed"
    check_eq "$1: no transient object or session left in the TPM" "" "$h"
}

main() {
    local p keys answers nonce secret n pcr0
    for p in swtpm swtpm_setup swtpm_ioctl tpm2_makecredential tpm2_checkquote tpm2_print \
             python3; do
        command -v "$p" >/dev/null || skip_all "$p not installed (ci/deps build)"
    done
    swtpm_start "$TMP"

    keys=$(agent "HELLO 1")
    [[ $keys =~ ^KEYS\ [0-9a-f]+\ [0-9a-f]+$ ]] || bail "HELLO 1: $keys"
    hex2file "$(field 2 <<<"$keys")" "$TMP/ek.pub"
    hex2file "$(field 3 <<<"$keys")" "$TMP/ak.pub"
    check_eq "HELLO 1: the default RSA EK" \
        "fixedtpm|fixedparent|sensitivedataorigin|adminwithpolicy|restricted|decrypt" \
        "$(public_field "$TMP/ek.pub" attributes)"
    check_eq "HELLO 1: the AK" "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign" \
        "$(public_field "$TMP/ak.pub" attributes)"
    check_no_handles "HELLO"

    head -c 32 /dev/urandom >"$TMP/secret"
    secret=$(hexof "$TMP/secret")
    make_credential "$TMP/ek.pub" "$(object_name "$TMP/ak.pub")" "$TMP/secret" "$TMP/act" ||
        bail "tpm2_makecredential failed"
    make_credential "$TMP/ek.pub" "$(object_name "$TMP/ek.pub")" "$TMP/secret" "$TMP/other" ||
        bail "tpm2_makecredential failed"
    nonce=$(od -An -v -tx1 -N 32 /dev/urandom | tr -d ' \n')
    mapfile -t answers < <(agent "$(cat "$TMP/act")" "$(cat "$TMP/other")" \
        "QUOTE $nonce $PCRS" "QUOTE $nonce sha256:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23" \
        "QUOTE $nonce sha1:0" "ACTIVATE 0000 0000" "EVENTLOG" "HELLO 2" \
        "$(printf 'HELLO\001 1')" "$(head -c 9000 /dev/zero | tr '\0' A)" "HELLO 1")
    check_eq "11 requests in one go: 11 answers in order" \
        "ACTIVATED ERROR QUOTED QUOTED ERROR ERROR EVENTLOG ERROR ERROR ERROR KEYS" \
        "$(printf '%s\n' "${answers[@]}" | field 1 | paste -sd' ')"
    check_eq "ACTIVATE: the secret" "ACTIVATED 0020$secret" "${answers[0]}"
    quote_files "${answers[2]}" "$TMP/q" "$PCRS" || bail "QUOTED does not parse"
    check "QUOTE: tpm2_checkquote verifies it" \
        tpm2_checkquote -u "$TMP/ak.pub" -m "$TMP/q.msg" -s "$TMP/q.sig" -f "$TMP/q.pcrs" \
            -q "$nonce" -g sha256
    check_eq "QUOTE of PCRs 0-23 (PCR_Read reads 8 at a time): 24 values, PCRs 0-9 as before" \
        "24 $(cat "$TMP/q.values")" \
        "$(field 4 <<<"${answers[3]}" | tr ',' '\n' | wc -l) $(field 4 <<<"${answers[3]}" | cut -d, -f1-10)"
    quote_files "${answers[3]}" "$TMP/q24" "sha256:$(seq -s, 0 23)" || bail "QUOTED does not parse"
    check "... and tpm2_checkquote verifies that one too" \
        tpm2_checkquote -u "$TMP/ak.pub" -m "$TMP/q24.msg" -s "$TMP/q24.sig" -f "$TMP/q24.pcrs" \
            -q "$nonce" -g sha256
    check_eq "a request with a control byte" "ERROR unknown request" "${answers[8]}"
    check_eq "a request of 9000 bytes" "ERROR request longer than 8192 bytes" "${answers[9]}"
    check_eq "the next request is answered" "$keys" "${answers[10]}"
    check_no_handles "after answers and refusals"

    pcr0=$("$PROBE" --dev "$TMP/tpm.sock" pcr:0)
    check_eq "the probe's pcr:0 through the socket: PCR 0 of the quote" \
        "TPM-PCR 0 sha256 $(cut -d, -f1 "$TMP/q.values")" "$pcr0"

    tpm_evict_ek "$TMP/tpm.sock" || bail "TPM2_EvictControl failed"
    mapfile -t answers < <(agent "HELLO 1" "$(cat "$TMP/act")")
    check_eq "no persistent EK: the same keys (the EK created from the template)" "$keys" \
        "${answers[0]}"
    check_eq "... the secret through the created EK" "ACTIVATED 0020$secret" "${answers[1]}"
    n=$(grep -c '^tvdc-attest: no default EK at 0x81010001, created from the template$' \
        "$TMP/agent.log")
    check_eq "... the agent says it created the EK, once a request" 2 "$n"
    check_no_handles "with a created EK"

    agent "HELLO 1" >/dev/null
    check_eq "end of stdin: the agent exits 0" 0 "$?"
}

main "$@"
