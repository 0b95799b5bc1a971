#!/bin/bash
# tvdc policy sign / verify (/ keygen) through the command: exit codes and
# messages for good signatures of both algorithms, a flipped byte in the
# policy or the signature, an untrusted key, an empty trust directory,
# malformed signatures, refused key types, rollbacks; and interoperability:
# openssl verifies tvdc's signatures and tvdc verifies openssl's.
#
# $TVDC is the built command, $TVDC_EXAMPLES the examples directory.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"
: "${TVDC:?set TVDC to the tvdc binary}"
: "${TVDC_EXAMPLES:?set TVDC_EXAMPLES to labels/examples}"
cd "$TAP_TMP" || bail "cd $TAP_TMP"

# expect_output DESC RC PATTERN CMD...: CMD exits RC and its output (stdout
# or stderr) contains the fixed string PATTERN ('' for any).
expect_output() {
    local desc=$1 want=$2 pattern=$3
    shift 3
    run "$@"
    if (( RC != want )); then
        fail "$desc" "exit $RC, want $want" "$OUT" "$ERR"
    elif [[ -n $pattern ]] && ! grep -qF -- "$pattern" <<<"$OUT"$'\n'"$ERR"; then
        fail "$desc" "output lacks '$pattern'" "$OUT" "$ERR"
    else
        pass "$desc"
    fi
}

# The base64 body of a signature, decoded.
sig_raw() { sed -n '/^$/,/^-----END/{/^$/d;/^-----END/d;p}' "$1" | base64 -d; }
# Armour raw signature bytes (file $2) like tvdc does, algorithm $1, key $3.
armour() {
    printf -- '-----BEGIN TVDC SIGNATURE-----\nAlgorithm: %s\nKey-Id: %s\n\n' "$1" "$(key_id "$3")"
    base64 -w 64 "$2"
    printf -- '-----END TVDC SIGNATURE-----\n'
}
key_id() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
# bank.json with another version (and, with a 3rd argument, another type).
bank_v() {
    sed "s/\"version\": 1,/\"version\": $1,/" "$TVDC_EXAMPLES/bank.json" |
        if [ $# -gt 1 ]; then sed 's/"WEB"\]/"WEB", "TEST"]/'; else cat; fi
}

# ---------------------------------------------------------------------------
# Keys, made by openssl
openssl genpkey -algorithm ed25519 -out ed.key 2>/dev/null &&
openssl genpkey -algorithm ed25519 -out ed2.key 2>/dev/null &&
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key 2>/dev/null &&
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key 2>/dev/null &&
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null ||
    bail "openssl genpkey failed"
mkdir trust other empty unusable
openssl pkey -in ed.key -pubout -out trust/ed.pem
openssl pkey -in ec.key -pubout -out trust/ec.pem
openssl pkey -in ed2.key -pubout -out other/ed2.pem
openssl pkey -in rsa.key -pubout -out unusable/rsa.pem
openssl pkey -in p384.key -pubout -out unusable/p384.pem
echo "not a key" > trust/README          # not *.pem: skipped
cp "$TVDC_EXAMPLES/bank.json" bank.json

# ---------------------------------------------------------------------------
# Sign and verify, both algorithms
expect_output "sign ed25519" 0 "signed: bank.json (bank-dc v1) -> bank.json.sig (ed25519, key id $(key_id trust/ed.pem))" \
    "$TVDC" policy sign --key ed.key bank.json
check "signature armour" grep -qx -- '-----BEGIN TVDC SIGNATURE-----' bank.json.sig
check "signature Key-Id header" grep -qx -- "Key-Id: $(key_id trust/ed.pem)" bank.json.sig
expect_output "verify ed25519" 0 "verified: bank.json signed by trust/ed.pem (ed25519)" \
    "$TVDC" policy verify --trust trust bank.json

# openssl verifies tvdc's Ed25519 signature (pure Ed25519 over the bytes).
sig_raw bank.json.sig > ed.raw
expect_output "openssl pkeyutl verifies the ed25519 signature" 0 "Signature Verified Successfully" \
    openssl pkeyutl -verify -pubin -inkey trust/ed.pem -rawin -in bank.json -sigfile ed.raw
check "ed25519 signature is 64 bytes" test "$(stat -c %s ed.raw)" -eq 64

expect_output "sign ecdsa" 0 "(ecdsa-p256-sha256, key id $(key_id trust/ec.pem))" \
    "$TVDC" policy sign --key ec.key --output bank.json.ec.sig bank.json
expect_output "verify ecdsa" 0 "verified: bank.json signed by trust/ec.pem (ecdsa-p256-sha256)" \
    "$TVDC" policy verify --trust trust --signature bank.json.ec.sig bank.json
sig_raw bank.json.ec.sig > ec.der
expect_output "openssl dgst verifies the ecdsa signature" 0 "Verified OK" \
    openssl dgst -sha256 -verify trust/ec.pem -signature ec.der bank.json

# tvdc verifies signatures that openssl made and we armoured by hand.
openssl pkeyutl -sign -inkey ed.key -rawin -in bank.json -out ossl-ed.raw
armour ed25519 ossl-ed.raw trust/ed.pem > ossl-ed.sig
expect_output "tvdc verifies an openssl ed25519 signature" 0 "signed by trust/ed.pem (ed25519)" \
    "$TVDC" policy verify --trust trust --signature ossl-ed.sig bank.json
openssl dgst -sha256 -sign ec.key -out ossl-ec.der bank.json
armour ecdsa-p256-sha256 ossl-ec.der trust/ec.pem > ossl-ec.sig
expect_output "tvdc verifies an openssl ecdsa signature" 0 "signed by trust/ec.pem (ecdsa-p256-sha256)" \
    "$TVDC" policy verify --trust trust --signature ossl-ec.sig bank.json

expect_output "sign to stdout" 0 "-----END TVDC SIGNATURE-----" \
    "$TVDC" policy sign --key ed.key --output - bank.json
expect_output "sign refuses to overwrite the policy" 2 "refusing to overwrite the policy" \
    "$TVDC" policy sign --key ed.key --output bank.json bank.json

# The compiled form is signable too.
if "$TVDC" policy compile bank.json --output bank.bin >/dev/null 2>&1; then
    expect_output "sign compiled" 0 "signed: bank.bin (bank-dc v1)" "$TVDC" policy sign --key ec.key bank.bin
    expect_output "verify compiled" 0 "verified: bank.bin signed by trust/ec.pem" \
        "$TVDC" policy verify --trust trust bank.bin
else
    fail "tvdc policy compile bank.json"
fi

# ---------------------------------------------------------------------------
# Rejections: exit 1
cp bank.json flipped.json
cp bank.json.sig flipped.json.sig
printf 'X' | dd of=flipped.json bs=1 seek=40 conv=notrunc status=none
expect_output "one flipped byte in the policy" 1 "rejected: flipped.json.sig: no trusted key in trust verifies the signature" \
    "$TVDC" policy verify --trust trust flipped.json

cp bank.json rawflip.json
sig_raw bank.json.sig > rawflip.raw
byte=$(od -An -tu1 -j 10 -N 1 rawflip.raw)
printf "\\x$(printf %02x $((byte ^ 1)))" | dd of=rawflip.raw bs=1 seek=10 conv=notrunc status=none
check "the raw signature really differs" test "$(cmp -l rawflip.raw ed.raw | wc -l)" -eq 1
armour ed25519 rawflip.raw trust/ed.pem > rawflip.json.sig
expect_output "one flipped byte in the signature" 1 "rejected: rawflip.json.sig: no trusted key" \
    "$TVDC" policy verify --trust trust rawflip.json

expect_output "untrusted key" 1 "rejected: bank.json.sig: no trusted key in other verifies the signature (1 ed25519 key tried" \
    "$TVDC" policy verify --trust other bank.json
expect_output "no key of the signature's algorithm" 1 "no trusted ecdsa-p256-sha256 key in other" \
    "$TVDC" policy verify --trust other --signature bank.json.ec.sig bank.json

# ---------------------------------------------------------------------------
# Errors: exit 2
expect_output "empty trust directory" 2 "empty: no usable key" \
    "$TVDC" policy verify --trust empty bank.json
expect_output "only RSA and P-384 keys" 2 "ignored: p384.pem (EC secp384r1), rsa.pem (RSA)" \
    "$TVDC" policy verify --trust unusable bank.json
expect_output "missing trust directory" 2 "nonexistent: No such file or directory" \
    "$TVDC" policy verify --trust nonexistent bank.json
mkdir withpriv && cp trust/ed.pem withpriv/ && cp ec.key withpriv/z.pem
expect_output "private key in the trust directory" 2 "withpriv/z.pem: holds a private key" \
    "$TVDC" policy verify --trust withpriv bank.json
cp bank.json unsigned.json
expect_output "unsigned policy" 2 "unsigned.json.sig: No such file or directory" \
    "$TVDC" policy verify --trust trust unsigned.json

cp bank.json mal.json
echo "hello" > mal.json.sig
expect_output "garbage signature" 2 "mal.json.sig:1:1: expected '-----BEGIN TVDC SIGNATURE-----'" \
    "$TVDC" policy verify --trust trust mal.json
sed 's/^Algorithm: .*/Algorithm: rsa-sha256/' bank.json.sig > mal.json.sig
expect_output "unknown algorithm" 2 "mal.json.sig:2:12: unknown algorithm 'rsa-sha256'" \
    "$TVDC" policy verify --trust trust mal.json
sed 's/$/\r/' bank.json.sig > mal.json.sig
expect_output "CRLF signature" 2 "mal.json.sig:1:31: unexpected byte 0x0d" \
    "$TVDC" policy verify --trust trust mal.json
sed '/^-----END/d' bank.json.sig > mal.json.sig
expect_output "no END line" 2 "missing '-----END TVDC SIGNATURE-----'" \
    "$TVDC" policy verify --trust trust mal.json
sed '5s/^./*/' bank.json.sig > mal.json.sig
expect_output "bad base64" 2 "mal.json.sig:5:1: bad base64 character '*'" \
    "$TVDC" policy verify --trust trust mal.json

expect_output "sign with an RSA key" 2 "rsa.key: RSA keys are not supported (use ECDSA P-256 or Ed25519)" \
    "$TVDC" policy sign --key rsa.key --output rsa.sig bank.json
check "no signature written for RSA" test ! -e rsa.sig
expect_output "sign with a P-384 key" 2 "EC secp384r1 keys are not supported" \
    "$TVDC" policy sign --key p384.key --output p384.sig bank.json
expect_output "sign with a public key" 2 "trust/ed.pem: not a PEM private key" \
    "$TVDC" policy sign --key trust/ed.pem --output pub.sig bank.json
openssl pkey -in ed.key -aes256 -passout pass:secret -out enc.key 2>/dev/null
expect_output "sign with an encrypted key" 2 "encrypted private keys are not supported" \
    "$TVDC" policy sign --key enc.key --output enc.sig bank.json </dev/null
printf '{"name": "x",\n "version": 0}\n' > invalid.json
expect_output "sign an invalid policy" 2 "invalid.json:" \
    "$TVDC" policy sign --key ed.key invalid.json
check "no signature for an invalid policy" test ! -e invalid.json.sig
expect_output "sign a missing policy" 2 "missing.json: No such file or directory" \
    "$TVDC" policy sign --key ed.key missing.json

expect_output "sign without --key" 2 "expected --key KEY.pem" "$TVDC" policy sign bank.json
expect_output "verify without --trust" 2 "expected --trust DIR" "$TVDC" policy verify bank.json
expect_output "verify two files" 2 "" "$TVDC" policy verify --trust trust bank.json bank.bin
expect_output "unknown option" 2 "" "$TVDC" policy verify --trust trust --bogus bank.json

for verb in sign verify; do
    out=$("$TVDC" policy $verb --help)
    rc=$?
    for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES; do
        if [ "$rc" -ne 0 ] || ! grep -qx "$section" <<<"$out"; then
            fail "policy $verb --help: exit 0 and a $section section" "exit $rc"
        else
            pass "policy $verb --help: exit 0 and a $section section"
        fi
    done
done

# ---------------------------------------------------------------------------
# Anti-rollback (--state)
st=state.json
for v in 1 2 3; do bank_v "$v" > "v$v.json"; done
bank_v 2 extra > v2b.json
for f in v1 v2 v3 v2b; do "$TVDC" policy sign --key ed.key "$f.json" >/dev/null; done

expect_output "v1 accepted" 0 "accepted: bank-dc v1 (anti-rollback state $st)" \
    "$TVDC" policy verify --trust trust --state "$st" v1.json
check "state mode 0600" test "$(stat -c %a "$st")" = 600
expect_output "v2 accepted" 0 "accepted: bank-dc v2" "$TVDC" policy verify --trust trust --state "$st" v2.json
check "state records v2" grep -q '"version": 2' "$st"
cp "$st" state.before
expect_output "v1 after v2: rollback" 1 "rejected: policy bank-dc version 1 is lower than version 2 accepted before (rollback refused)" \
    "$TVDC" policy verify --trust trust --state "$st" v1.json
expect_output "v2 with other content" 1 "rejected: policy bank-dc: version 2 reused with different content" \
    "$TVDC" policy verify --trust trust --state "$st" v2b.json
check "state unchanged by rejections" cmp -s "$st" state.before
expect_output "--check-only: v3 would be accepted" 0 \
    "would accept: bank-dc v3 (anti-rollback state $st, not updated)" \
    "$TVDC" policy verify --trust trust --state "$st" --check-only v3.json
expect_output "--check-only: v1 is a rollback" 1 "(rollback refused)" \
    "$TVDC" policy verify --trust trust --state "$st" --check-only v1.json
check "--check-only: the state is not updated" cmp -s "$st" state.before
expect_output "--check-only: no state file yet, accepted" 0 "would accept: bank-dc v1" \
    "$TVDC" policy verify --trust trust --state none.json --check-only v1.json
check_not "--check-only: no state file created, no lock file" test -e none.json -o -e none.json.lock
expect_output "--check-only needs --state" 2 "--check-only needs --state FILE" \
    "$TVDC" policy verify --trust trust --check-only v1.json
expect_output "v2 again" 0 "accepted: bank-dc v2" "$TVDC" policy verify --trust trust --state "$st" v2.json
expect_output "untrusted v3 does not advance the state" 1 "no trusted key" \
    "$TVDC" policy verify --trust other --state "$st" v3.json
check "state unchanged by an untrusted signature" cmp -s "$st" state.before
if "$TVDC" policy compile v2.json --output v2.bin >/dev/null 2>&1 &&
   "$TVDC" policy sign --key ec.key v2.bin >/dev/null 2>&1; then
    expect_output "compiled v2 is the same policy as its source" 0 "accepted: bank-dc v2" \
        "$TVDC" policy verify --trust trust --state "$st" v2.bin
else
    fail "compile and sign v2"
fi
expect_output "v3 accepted" 0 "accepted: bank-dc v3" "$TVDC" policy verify --trust trust --state "$st" v3.json

echo '{"policies": {"bank-dc": {"version": "3"}}}' > corrupt.json
cp corrupt.json corrupt.before
expect_output "corrupt state" 2 "corrupt.json: policies.bank-dc: expected" \
    "$TVDC" policy verify --trust trust --state corrupt.json v3.json
check "corrupt state not reset" cmp -s corrupt.json corrupt.before
echo 'not json' > corrupt2.json
expect_output "state not JSON" 2 "corrupt2.json: malformed state file (not JSON)" \
    "$TVDC" policy verify --trust trust --state corrupt2.json v3.json

# ---------------------------------------------------------------------------
# keygen, when the dispatcher offers it
if "$TVDC" policy keygen --help >/dev/null 2>&1; then
    mkdir kg kg/trust
    expect_output "keygen ed25519" 0 "wrote: kg/signer.pem (ed25519 private key" \
        "$TVDC" policy keygen --type ed25519 --out kg/signer.pem
    check "private key mode 0600" test "$(stat -c %a kg/signer.pem)" = 600
    expect_output "keygen ecdsa" 0 "ecdsa-p256-sha256 private key" \
        "$TVDC" policy keygen --type ecdsa --out kg/ec
    check "ecdsa public key name" test -f kg/ec.pub.pem
    expect_output "keygen refuses to overwrite" 2 "kg/signer.pem: File exists" \
        "$TVDC" policy keygen --type ed25519 --out kg/signer.pem
    expect_output "keygen unknown type" 2 "unknown key type 'rsa'" \
        "$TVDC" policy keygen --type rsa --out kg/rsa.pem
    cp kg/signer.pub.pem kg/trust/
    expect_output "sign with a generated key" 0 "ed25519, key id $(key_id kg/signer.pub.pem)" \
        "$TVDC" policy sign --key kg/signer.pem --output kg/bank.sig bank.json
    expect_output "verify with a generated key" 0 "signed by kg/trust/signer.pub.pem (ed25519)" \
        "$TVDC" policy verify --trust kg/trust --signature kg/bank.sig bank.json
    check "openssl reads the generated key" openssl pkey -in kg/ec -noout
else
    skip "keygen" "'tvdc policy keygen' not offered"
fi
