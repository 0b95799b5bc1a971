#!/bin/bash
# The real swtpm_setup with tvdc-vtpm-certtool as its create_certs_tool:
# certificates chain to the datacenter vTPM CA and carry the VM's label;
# VMs without a (matching) record get nothing; parallel provisioning gives
# distinct certificates.  In the style of swtpm's own tests.
#
# Environment (set by meson): TVDC, CERTTOOL, TVDC_EXAMPLES, VTPM_OPTIONS.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"

if ! command -v swtpm_setup >/dev/null || ! command -v swtpm >/dev/null; then
    skip_all "swtpm_setup/swtpm not installed (apt-get install swtpm swtpm-tools)"
fi

TVDC=${TVDC:?} CERTTOOL=${CERTTOOL:?}
POLICY=${TVDC_EXAMPLES:?}/bank.json
EXT_OID=2.25.31833408961204607724570525691133548364.1

workdir=$TAP_TMP

CA=$workdir/ca
REC=$workdir/records
CONF=$workdir/vtpm.conf
SETUP_CONF=$workdir/swtpm_setup.conf
printf 'ca_dir = %s\nrecord_dir = %s\n' "$CA" "$REC" >"$CONF"
cat >"$SETUP_CONF" <<EOF
create_certs_tool = $CERTTOOL
create_certs_tool_config = $CONF
create_certs_tool_options = ${VTPM_OPTIONS:?}
active_pcr_banks = sha256
EOF
export TVDC_VTPM_CONF=$CONF

"$TVDC" vtpm ca init --dir "$CA" >/dev/null || bail "tvdc vtpm ca init failed"
"$TVDC" vtpm ca cert --dir "$CA" >"$workdir/chain.pem"
"$TVDC" vtpm ca init --dir "$workdir/ca-other" >/dev/null
"$TVDC" vtpm ca cert --dir "$workdir/ca-other" >"$workdir/chain-other.pem"

check "CA directory is 0700" test "$(stat -c %a "$CA")" = 700
check "CA key is 0600" test "$(stat -c %a "$CA/ca-key.pem")" = 600
check "ca cert prints the CA" \
    bash -c "openssl x509 -in '$workdir/chain.pem' -noout -ext basicConstraints | grep -q 'CA:TRUE'"
check "ca init refuses to replace a CA" bash -c "! '$TVDC' vtpm ca init --dir '$CA' 2>/dev/null"

record() {  # record UUID NAME LABEL
    "$TVDC" vtpm record write --dir "$REC" --uuid "$1" --name "$2" --label "$3" \
        --policy "$POLICY"
}

provision() {  # provision VMID STATE CERTDIR: swtpm_setup as libvirt runs it
    mkdir -p "$2" "$3"
    swtpm_setup --tpm2 --config "$SETUP_CONF" --tpm-state "$2" --vmid "$1" \
        --createek --create-ek-cert --create-platform-cert --lock-nvram --not-overwrite \
        --write-ek-cert-files "$3" --logfile "$2.log" >/dev/null 2>&1
}

# --- 1. a labeled VM ---------------------------------------------------------
U1=3f1c8a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b
record "$U1" vm1 market-analysis
if provision "vm1:$U1" "$workdir/st1" "$workdir/certs1"; then
    pass "swtpm_setup provisions vm1 with the tvdc tool"
else
    fail "swtpm_setup provisions vm1 with the tvdc tool" "$(cat "$workdir/st1.log")"
fi

# The EK certificates swtpm_setup itself wrote out (--write-ek-cert-files),
# independent of tvdc's own NV reader.
for crt in "$workdir"/certs1/ek-rsa2048.crt "$workdir"/certs1/ek-secp384r1.crt; do
    n=$(basename "$crt" .crt)
    openssl x509 -inform der -in "$crt" -out "$workdir/$n.pem" 2>/dev/null
    openssl x509 -in "$workdir/$n.pem" -noout -text >"$workdir/$n.txt" 2>/dev/null
    check "$n: openssl verify against the datacenter CA" \
        bash -c "openssl verify -CAfile '$workdir/chain.pem' '$workdir/$n.pem' | grep -q ': OK'"
    check "$n: verify against another CA fails" \
        bash -c "! openssl verify -CAfile '$workdir/chain-other.pem' '$workdir/$n.pem' >/dev/null 2>&1"
    # TCG EK credential profile fields, as `openssl x509 -text` shows them.
    for want in "Subject Alternative Name: critical" \
                "DirName:/2.23.133.2.1=id:00001014/2.23.133.2.2=swtpm/2.23.133.2.3=id:" \
                "Subject Directory Attributes" \
                "Basic Constraints: critical" "CA:FALSE" \
                "Extended Key Usage" "2.23.133.8.1" \
                "Certificate Policies" "TCG Trusted Platform Endorsement" "2.23.133.11.1.1" \
                "Authority Key Identifier" "$EXT_OID" \
                "Not After : Dec 31 23:59:59 9999 GMT"; do
        check "$n: x509 -text has '$want'" grep -qF -- "$want" "$workdir/$n.txt"
    done
    # The tvdc extension: DER SEQUENCE { version, uuid, name, label, types, policy }.
    off=$(openssl asn1parse -in "$workdir/$n.pem" | grep -A1 ":$EXT_OID" | tail -1 | cut -d: -f1 | tr -d ' ')
    openssl asn1parse -in "$workdir/$n.pem" -strparse "$off" >"$workdir/$n.ext" 2>/dev/null
    for want in "UTF8STRING        :$U1" "UTF8STRING        :vm1" \
                "UTF8STRING        :market-analysis" "UTF8STRING        :MA" \
                "UTF8STRING        :bank-dc"; do
        check "$n: tvdc extension has '${want##*:}'" grep -qF -- "$want" "$workdir/$n.ext"
    done
done
check "RSA EK: key usage Key Encipherment" \
    bash -c "grep -A1 'Key Usage: critical' '$workdir/ek-rsa2048.txt' | grep -q 'Key Encipherment'"
check "ECC EK: key usage Key Agreement" \
    bash -c "grep -A1 'Key Usage: critical' '$workdir/ek-secp384r1.txt' | grep -q 'Key Agreement'"

# tvdc vtpm show reads them back from the vTPM's NV through swtpm.
"$TVDC" vtpm show vm1 --state-dir "$workdir/st1" --policy "$POLICY" --json \
    >"$workdir/show1.json" 2>"$workdir/show1.err"
rc=$?
check "show vm1: exit 0" test "$rc" = 0
check "show vm1: EK, ECC EK and platform certificates from NV" \
    test "$(jq -r '[.certificates[].kind] | join(",")' "$workdir/show1.json")" = \
         "ek-rsa2048,ek-ecc-p384,platform"
check "show vm1: every chain ok, label ok" \
    test "$(jq -r '[.certificates[] | .chain == "ok" and .label_ok] | all' "$workdir/show1.json")" = true
check "show vm1: label and types from the certificate" \
    test "$(jq -r '.certificates[0].tvdc | "\(.label) \(.types|join(",")) \(.policy_name) \(.policy_version)"' "$workdir/show1.json")" = \
         "market-analysis MA bank-dc 1"
jq -r '.certificates[] | select(.kind == "platform") | .pem' "$workdir/show1.json" >"$workdir/platform.pem"
check "platform certificate: verifies, EKU 2.23.133.8.2, platform SAN" \
    bash -c "openssl verify -CAfile '$workdir/chain.pem' '$workdir/platform.pem' | grep -q ': OK' &&
             openssl x509 -in '$workdir/platform.pem' -noout -text | grep -q '2.23.133.8.2' &&
             openssl x509 -in '$workdir/platform.pem' -noout -text | grep -q 'DirName:/2.23.133.5.1.1=tvdc'"
check "show: the EK from NV is the one swtpm_setup wrote out" \
    test "$(jq -r '.certificates[0].pem' "$workdir/show1.json" | openssl x509 -noout -fingerprint -sha256)" = \
         "$(openssl x509 -in "$workdir/ek-rsa2048.pem" -noout -fingerprint -sha256)"

# show refuses: another VM, a policy where the label changed, another CA.
check "show under another VM's name: exit 1" \
    bash -c "'$TVDC' vtpm show vm9 --state-dir '$workdir/st1' --policy '$POLICY' >/dev/null 2>&1; test \$? = 1"
sed 's/"name": "market-analysis", *"types": \["MA"\]/"name": "market-analysis", "types": ["MA", "WEB"]/' \
    "$POLICY" >"$workdir/relabeled.json"
check "relabeled policy differs" bash -c "! cmp -s '$POLICY' '$workdir/relabeled.json'"
check "show with the label's types changed: exit 1, says so" \
    bash -c "out=\$('$TVDC' vtpm show vm1 --state-dir '$workdir/st1' --policy '$workdir/relabeled.json'); test \$? = 1 && grep -q 'other types' <<<\"\$out\""
check "show against another CA: exit 1" \
    bash -c "'$TVDC' vtpm show vm1 --state-dir '$workdir/st1' --ca '$workdir/ca-other' --policy '$POLICY' >/dev/null 2>&1; test \$? = 1"

# --- 2. refusals: table of (case, setup, vmid, expected message) -------------
U2=9e8d7c6b-5a49-4838-a726-150493827160
U3=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
U4=11111111-2222-4333-8444-555555555555
U5=22222222-3333-4444-8555-666666666666
setup_none()      { :; }
setup_other()     { record "$U3" vm3 underwriting && cp "$REC/$U3.json" "$REC/$U2.json"; }
setup_writable()  { record "$U4" vm4 public-web && chmod 666 "$REC/$U4.json"; }
setup_name()      { record "$U5" vm5 public-web; }
refusals=(
    "no record|setup_none|vm2:$U2|no record for VM $U2"
    "record of another VM|setup_other|vm2:$U2|not the VM's $U2"
    "record others may write|setup_writable|vm4:$U4|writable by no one else"
    "record under another name|setup_name|impostor:$U5|the record names 'vm5'"
    "vmid without a UUID|setup_none|just-a-name|does not end in the VM's UUID"
)
for row in "${refusals[@]}"; do
    IFS='|' read -r what fn vmid msg <<<"$row"
    st=$workdir/st-refuse-${vmid##*:}
    "$fn"
    if provision "$vmid" "$st" "$workdir/certs-refuse"; then
        fail "$what: swtpm_setup must fail"
    elif grep -qF -- "$msg" "$st.log"; then
        pass "$what: refused ('$msg')"
    else
        fail "$what: refused ('$msg')" "$(cat "$st.log")"
    fi
    check "$what: no EK certificate left in the state" \
        bash -c "! '$TVDC' vtpm show - --state-dir '$st' --policy '$POLICY' >/dev/null 2>&1"
done

# --- 3. eight provisionings in parallel -------------------------------------
pids=()
for i in 1 2 3 4 5 6 7 8; do
    u=$(printf 'aaaaaaaa-0000-4000-8000-%012d' "$i")
    record "$u" "par$i" public-web
    provision "par$i:$u" "$workdir/par$i" "$workdir/parcerts$i" &
    pids+=($!)
done
pfail=0
for p in "${pids[@]}"; do wait "$p" || pfail=$((pfail + 1)); done
check "8 parallel provisionings succeed" test "$pfail" = 0
: >"$workdir/serials"
pver=0
for i in 1 2 3 4 5 6 7 8; do
    crt=$workdir/parcerts$i/ek-rsa2048.crt
    openssl x509 -inform der -in "$crt" -out "$workdir/par$i.pem" 2>/dev/null
    openssl verify -CAfile "$workdir/chain.pem" "$workdir/par$i.pem" 2>/dev/null | grep -q ': OK' ||
        pver=$((pver + 1))
    openssl x509 -in "$workdir/par$i.pem" -noout -serial >>"$workdir/serials"
    openssl asn1parse -in "$workdir/par$i.pem" | grep -q ":$EXT_OID" || pver=$((pver + 1))
done
check "8 parallel certificates all verify and carry the extension" test "$pver" = 0
check "8 parallel certificates have distinct serials" \
    test "$(sort -u "$workdir/serials" | wc -l)" = 8

# --- 4. a running vTPM: show reads a copy, wipe refuses ----------------------
swtpm socket --tpm2 --tpmstate "dir=$workdir/st1" --ctrl "type=unixio,path=$workdir/ctrl" \
    --server "type=unixio,path=$workdir/srv" --pid "file=$workdir/swtpm.pid" \
    --flags startup-clear --daemon 2>/dev/null
for _ in $(seq 50); do [[ -s $workdir/swtpm.pid ]] && break; sleep 0.1; done
check "show while the VM's swtpm runs: exit 0" \
    bash -c "'$TVDC' vtpm show vm1 --state-dir '$workdir/st1' --policy '$POLICY' >/dev/null"
check "wipe while the VM's swtpm runs: refused, state kept" \
    bash -c "! '$TVDC' vtpm wipe vm1 --state-dir '$workdir/st1' 2>'$workdir/wipe.err' &&
             grep -q 'a swtpm is using this state' '$workdir/wipe.err' &&
             test -s '$workdir/st1/tpm2-00.permall'"
if [[ -s $workdir/swtpm.pid ]]; then
    spid=$(cat "$workdir/swtpm.pid")
    kill "$spid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
fi

# --- 5. wipe ----------------------------------------------------------------
check "wipe destroys the state" \
    bash -c "'$TVDC' vtpm wipe vm1 --state-dir '$workdir/st1' >/dev/null && test ! -e '$workdir/st1'"
check "show after wipe: error" \
    bash -c "'$TVDC' vtpm show vm1 --state-dir '$workdir/st1' --policy '$POLICY' >/dev/null 2>&1; test \$? = 2"
check "a wiped VM is provisioned anew" provision "vm1:$U1" "$workdir/st1" "$workdir/certs1b"
check "the new EK differs from the wiped one" \
    bash -c "! cmp -s '$workdir/certs1/ek-rsa2048.crt' '$workdir/certs1b/ek-rsa2048.crt'"
