#!/bin/bash
# The verifier's cryptography against a real swtpm and tpm2-tools (5.4):
# the Names of an EK and an AK are what tpm2_readpublic prints; a
# credential made by `tvdc vtpm make-credential` is activated by
# tpm2_activatecredential and gives back the secret, but not through
# another key's name; a quote by tpm2_quote is accepted by
# `tvdc vtpm quote-verify` and rejected with a wrong nonce, a modified PCR
# value and a flipped signature byte, and tpm2_checkquote agrees on each.
#
# tpm2-tools' files: -u TPM2B_PUBLIC; -n the Name; tpm2_makecredential's
# -o file is 0xbadcc0de, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET;
# tpm2_quote -m is the TPMS_ATTEST without the TPM2B_ATTEST's size, -s a
# TPMT_SIGNATURE (the default format "tss"), -o the PCR values: with -F
# values concatenated, by default tpm2-tools' own serialization (host
# structures, what tpm2_checkquote -f reads).
#
# Environment (set by meson): TVDC.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"

TVDC=${TVDC:?}
work=$TAP_TMP

missing=
for t in swtpm tpm2_createek tpm2_createak tpm2_readpublic tpm2_flushcontext tpm2_pcrextend \
         tpm2_startauthsession tpm2_policysecret tpm2_activatecredential tpm2_quote \
         tpm2_checkquote tpm2_print xxd jq; do
    command -v "$t" >/dev/null || missing+=" $t"
done
[[ -z $missing ]] ||
    skip_all "not installed:$missing (ci/deps build: swtpm swtpm-tools tpm2-tools xxd jq)"

# One swtpm on unix sockets in the scratch directory, a fresh state,
# started (TPM2_Startup) by swtpm itself; stopped by its pid at exit.
mkdir -p "$work/state"
sock=$work/sock
swtpm socket --tpm2 --tpmstate dir="$work/state" \
    --server type=unixio,path="$sock" --ctrl type=unixio,path="$sock.ctrl" \
    --flags not-need-init,startup-clear \
    --pid file="$work/pid" --log file="$work/swtpm.log" --daemon ||
    bail "swtpm did not start: $(cat "$work/swtpm.log" 2>/dev/null)"
swtpm_pid=$(<"$work/pid")
stop_swtpm() {
    kill "$swtpm_pid" 2>/dev/null
}
at_exit stop_swtpm
export TPM2TOOLS_TCTI="swtpm:path=$sock"

cd "$work" || bail "cd $work"
# Without a resource manager the TPM's few object slots fill up: every
# command that loads a context is followed by a flush of the transient ones.
tpm() {
    "$@" && tpm2_flushcontext -t
}
tpm tpm2_createek -c ek.ctx -G rsa -u ek.pub >/dev/null || bail "tpm2_createek failed"
tpm tpm2_createak -C ek.ctx -c ak.ctx -G rsa -s rsassa -g sha256 -u ak.pub -n ak.name \
    >/dev/null || bail "tpm2_createak failed"

# --- keys and Names ----------------------------------------------------------
readpublic_name() {  # CTX
    tpm tpm2_readpublic -c "$1" | awk '$1 == "name:" { print $2 }'
}
ek_name=$(readpublic_name ek.ctx)
ak_name=$(readpublic_name ak.ctx)
check "tpm2_readpublic printed both names" test ${#ek_name} = 68 -a ${#ak_name} = 68

run "$TVDC" vtpm key ak.pub --ak --json
check_eq "key --ak: exit 0" 0 "$RC"
check_jq "key --ak: the AK's Name is tpm2_readpublic's" .name "$ak_name"
check_jq "key --ak: ... and tpm2_createak -n's" .name "$(xxd -p -c 256 ak.name)"
check_jq "key --ak: a valid AK" .valid true
run "$TVDC" vtpm key ek.pub --ek --json
check_eq "key --ek: exit 0" 0 "$RC"
check_jq "key --ek: the EK's Name is tpm2_readpublic's" .name "$ek_name"
check_jq "key --ek: the default EK template" .valid true
expect_exit "key --ak of the EK: exit 1" 1 "$TVDC" vtpm key ek.pub --ak
check_eq "key --ak of the EK: the reason" \
    "tvdc: vtpm key: AK: attribute decrypt is set (objectAttributes 0x000300b2)" "$ERR"
head -c 100 ak.pub >short.pub
expect_exit "key: a truncated TPM2B_PUBLIC: exit 2" 2 "$TVDC" vtpm key short.pub
check_eq "key: a truncated TPM2B_PUBLIC's message" \
    "tvdc: vtpm key: short.pub: TPM2B_PUBLIC: the size field says 280 bytes, 98 follow" "$ERR"

# --- MakeCredential -> TPM2_ActivateCredential --------------------------------
# The EK's policy: PolicySecret(TPM_RH_ENDORSEMENT) in a policy session.
activate() {  # CREDFILE OUTFILE
    local rc
    tpm2_startauthsession --policy-session -S session.ctx >/dev/null || return 1
    tpm2_policysecret -S session.ctx -c e >/dev/null &&
        tpm2_activatecredential -c ak.ctx -C ek.ctx -i "$1" -o "$2" \
            -P session:session.ctx >/dev/null 2>"$2.err"
    rc=$?
    tpm2_flushcontext session.ctx
    tpm2_flushcontext -t
    return $rc
}

secret=$(head -c 32 /dev/urandom | xxd -p -c 64)
expect_ok "make-credential --out" \
    "$TVDC" vtpm make-credential --ek ek.pub --ak ak.pub --secret "$secret" --out cred
check "tpm2_activatecredential activates our credential" activate cred act
check_eq "... and gives back the secret" "$secret" "$(xxd -p -c 64 act)"

run "$TVDC" vtpm make-credential --ek ek.pub --ak-name "$ak_name" --secret 00ff --json
check_eq "make-credential --ak-name --json: exit 0" 0 "$RC"
{ printf '\xba\xdc\xc0\xde\x00\x00\x00\x01'; jq -r '.id_object + .encrypted_secret' \
    "$TAP_TMP/out" | xxd -r -p; } >cred2
check "the JSON's TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET activate" activate cred2 act2
check_eq "... to the secret" 00ff "$(xxd -p act2)"

# Made for another key's name (the EK's): the TPM refuses the integrity
"$TVDC" vtpm make-credential --ek ek.pub --ak-name "$ek_name" --secret "$secret" --out cred3
check_not "a credential for another name is not activated by the AK" activate cred3 act3
check "... the TPM said integrity" grep -qi integrity act3.err
# ... and one whose HMAC was changed
cp cred cred4
printf '\x55' | dd of=cred4 bs=1 seek=20 conv=notrunc status=none
check_not "a credential with a changed byte is not activated" activate cred4 act4

# --- quotes ---------------------------------------------------------------------
tpm2_pcrextend 0:sha256="$(printf a | sha256sum | cut -c1-64)" \
    3:sha256="$(printf x | sha256sum | cut -c1-64)" \
    9:sha256="$(printf b | sha256sum | cut -c1-64)" || bail "tpm2_pcrextend failed"
nonce=$(head -c 20 /dev/urandom | xxd -p -c 64)
list=sha256:0,1,2,3,4,5,6,7,8,9
tpm tpm2_quote -c ak.ctx -l "$list" -q "$nonce" -m quote.msg -s quote.sig -o pcrs.ser \
    -g sha256 >quote.yaml || bail "tpm2_quote failed"
# the values as tpm2_quote printed them: "    N : 0xHEX" under pcrs: sha256:
awk '/^pcrs:/ { p = 1 } p && /^    [0-9]+ : 0x/ { print tolower(substr($3, 3)) }' \
    quote.yaml >pcrs.txt
check_eq "tpm2_quote printed ten PCR values" 10 "$(wc -l <pcrs.txt)"
xxd -r -p pcrs.txt >pcrs.bin
pcr_values=$(paste -sd, pcrs.txt)
pcr3=$(sed -n 4p pcrs.txt)
check_eq "PCR 3 is the extend of SHA-256(x)" \
    "$( { head -c 32 /dev/zero; printf x | openssl dgst -sha256 -binary; } |
        openssl dgst -sha256 -binary | xxd -p -c 64)" "$pcr3"

verify() {  # [OPTIONS...]: quote-verify with the defaults, overridden
    run "$TVDC" vtpm quote-verify --ak ak.pub --attest quote.msg --sig quote.sig \
        --nonce "$nonce" --pcr-list "$list" "$@"
}
verify --pcrs pcrs.bin --json
check_eq "quote-verify accepts tpm2_quote's quote: exit 0" 0 "$RC"
check_jq "... verified" .verified true
check_jq "... PCR 3's value" '.sha256["3"]' "$pcr3"
tpm2_print -t TPMS_ATTEST quote.msg >attest.yaml 2>&1
check_jq "... the signer is tpm2_print's qualifiedSigner" .qualified_signer \
    "$(awk '$1 == "qualifiedSigner:" { print $2 }' attest.yaml)"
check_jq "... the clock is tpm2_print's" .clock "$(awk '$1 == "clock:" { print $2 }' attest.yaml)"
check_jq "... the reset count is tpm2_print's" .reset_count \
    "$(awk '$1 == "resetCount:" { print $2 }' attest.yaml)"
verify --pcr-values "$pcr_values"
check_eq "quote-verify --pcr-values (the protocol's form): exit 0" 0 "$RC"
{ printf '%04x' "$(stat -c %s quote.msg)" | xxd -r -p; cat quote.msg; } >quote.attest
run "$TVDC" vtpm quote-verify --ak ak.pub --attest quote.attest --sig quote.sig \
    --nonce "$nonce" --pcrs pcrs.bin
check_eq "quote-verify of the TPM2B_ATTEST form: exit 0" 0 "$RC"
expect_ok "tpm2_checkquote accepts it" \
    tpm2_checkquote -u ak.pub -m quote.msg -s quote.sig -f pcrs.ser -g sha256 -q "$nonce"

# a wrong nonce
other=$(head -c 20 /dev/urandom | xxd -p -c 64)
run "$TVDC" vtpm quote-verify --ak ak.pub --attest quote.msg --sig quote.sig \
    --nonce "$other" --pcrs pcrs.bin
check_eq "a wrong nonce: exit 1" 1 "$RC"
check_eq "a wrong nonce: the reason" \
    "tvdc: vtpm quote-verify: wrong nonce: the quote's extraData is $nonce, the nonce $other" \
    "$ERR"
expect_fail "tpm2_checkquote rejects the wrong nonce" \
    tpm2_checkquote -u ak.pub -m quote.msg -s quote.sig -f pcrs.ser -g sha256 -q "$other"
check "... for the nonce" grep -q 'Error validating nonce' "$TAP_TMP/err"

# a modified PCR value (PCR 3's last byte), in both forms of the values
bad3=${pcr3:0:62}$(printf '%02x' $(( 0x${pcr3:62:2} ^ 1 )))
sed "4s/.*/$bad3/" pcrs.txt | xxd -r -p >pcrs-bad.bin
verify --pcrs pcrs-bad.bin
check_eq "a modified PCR value: exit 1" 1 "$RC"
check "a modified PCR value: a digest mismatch" \
    grep -q '^tvdc: vtpm quote-verify: PCR digest mismatch: the values given hash to ' \
    "$TAP_TMP/err"
ser=$(xxd -p -c 100000 pcrs.ser)
before=${ser%%"$pcr3"*}
if [[ $before != "$ser" && $(( ${#before} % 2 )) == 0 ]]; then
    xxd -r -p <<<"${before}${bad3}${ser:${#before}+64}" >pcrs-bad.ser
    expect_fail "tpm2_checkquote rejects the modified PCR value" \
        tpm2_checkquote -u ak.pub -m quote.msg -s quote.sig -f pcrs-bad.ser -g sha256 \
        -q "$nonce"
    check "... for the digest" grep -q "PCR values failed to match quote's digest" \
        "$TAP_TMP/err"
else
    fail "PCR 3's value is in tpm2_quote's serialized PCR file"
fi

# a flipped signature byte (in the RSA signature, after the 6-byte header)
cp quote.sig quote-bad.sig
b=$(xxd -s 100 -l 1 -p quote.sig)
printf '%02x' $(( 0x$b ^ 0x80 )) | xxd -r -p | dd of=quote-bad.sig bs=1 seek=100 \
    conv=notrunc status=none
run "$TVDC" vtpm quote-verify --ak ak.pub --attest quote.msg --sig quote-bad.sig \
    --nonce "$nonce" --pcrs pcrs.bin
check_eq "a flipped signature byte: exit 1" 1 "$RC"
check_eq "a flipped signature byte: the reason" \
    "tvdc: vtpm quote-verify: bad signature: the quote is not signed by this AK" "$ERR"
expect_fail "tpm2_checkquote rejects the flipped signature byte" \
    tpm2_checkquote -u ak.pub -m quote.msg -s quote-bad.sig -f pcrs.ser -g sha256 -q "$nonce"
check "... for the signature" grep -q 'Error validating signed message' "$TAP_TMP/err"

# other PCRs asked for than quoted
verify --pcr-list sha256:0,1,2,3,4,5,6,7,8 --pcr-values "${pcr_values%,*}"
check_eq "another selection: exit 1" 1 "$RC"
want="tvdc: vtpm quote-verify: selection mismatch: the quote is of $list, asked"
check_eq "another selection: the reason" "$want sha256:0,1,2,3,4,5,6,7,8" "$ERR"

# tpm2_quote -F values: the file quote-verify reads as it is
tpm tpm2_quote -c ak.ctx -l "$list" -q "$nonce" -m quote2.msg -s quote2.sig -o pcrs2.bin \
    -F values -g sha256 >/dev/null || bail "tpm2_quote -F values failed"
run "$TVDC" vtpm quote-verify --ak ak.pub --attest quote2.msg --sig quote2.sig \
    --nonce "$nonce" --pcrs pcrs2.bin --json
check_eq "quote-verify of tpm2_quote -F values: exit 0" 0 "$RC"
check_jq "... the same PCR 3" '.sha256["3"]' "$pcr3"
check "... a later clock" test "$(jq -r .clock "$TAP_TMP/out")" -ge \
    "$("$TVDC" vtpm quote-verify --ak ak.pub --attest quote.msg --sig quote.sig \
        --nonce "$nonce" --pcrs pcrs.bin --json | jq -r .clock)"
