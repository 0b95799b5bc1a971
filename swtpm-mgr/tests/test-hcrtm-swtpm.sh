#!/bin/bash
# The measured identity against a real swtpm: blobs measured as H-CRTM
# events with swtpm_ioctl -h (what the patched QEMU does between CMD_INIT
# and the firmware's TPM2_Startup) leave in PCR0 exactly what
# `tvdc vtpm expect` says, in every allocated bank; another blob gives
# another value.  Also `tvdc vtpm expect` itself: VMs found by name or
# UUID in the vTPM records, its errors, and its values against openssl.
#
# swtpm_ioctl -h DATA (swtpm 0.7.1, tpm_ioctl.c do_hash_start_data_end):
# DATA is hashed as a C string (strlen bytes, no NUL, so no blob with a NUL
# and none that is "-"); "-" reads every byte of stdin up to EOF instead.
# Both send PTM_HASH_START, then PTM_HASH_DATA in chunks of at most the
# request's data size (4 KiB less its length field), then PTM_HASH_END.
# We always use stdin.
#
# Environment (set by meson): TVDC, TVDC_EXAMPLES.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"

TVDC=${TVDC:?}
POLICY=$(dirname "$0")/policies/measure.json
BANKS=(sha1 sha256 sha384 sha512)
U1=3f1c8a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b
U2=9e8d7c6b-5a49-4838-a726-150493827160
U3=0a1b2c3d-4e5f-4061-8283-94a5b6c7d8e9
work=$TAP_TMP
REC=$work/records

# PCR0 in BANK computed with openssl alone: after measuring FILE (- none),
# and with "boot" after the firmware's separator too.
openssl_pcr0() {  # BANK FILE [boot]
    local a=$1 f=$2 n pcr
    n=$(openssl dgst -"$a" -binary </dev/null | wc -c)
    if [[ $f == - ]]; then
        pcr=$(head -c "$n" /dev/zero | xxd -p -c 256)
    else
        pcr=$({ head -c $((n - 1)) /dev/zero; printf '\x04'; openssl dgst -"$a" -binary <"$f"; } |
              openssl dgst -"$a" -binary | xxd -p -c 256)
    fi
    if [[ ${3:-} == boot ]]; then
        pcr=$({ xxd -r -p <<<"$pcr"; printf '\xff\xff\xff\xff' | openssl dgst -"$a" -binary; } |
              openssl dgst -"$a" -binary | xxd -p -c 256)
    fi
    echo "$pcr"
}

# The blob tvdc makes, as a file, from `expect --json`'s exact bytes.
blob_of() {  # OUTFILE EXPECT-ARGS...
    local out=$1
    shift
    "$TVDC" vtpm expect "$@" --json | jq -r .blob_hex | xxd -r -p >"$out"
}

# --- tvdc vtpm expect --------------------------------------------------------
blob_of "$work/b1" --policy "$POLICY" --uuid "$U1" --name vm1 --label market-analysis
check "the blob of vm1 is tvdc's format 1" \
    bash -c "head -1 '$work/b1' | grep -qx 'tvdc-hcrtm 1' &&
             grep -qx 'label market-analysis' '$work/b1'"
check "the blob ends with a newline" test "$(tail -c 1 "$work/b1" | xxd -p)" = 0a

run "$TVDC" vtpm expect --blob "$work/b1" --json
for b in "${BANKS[@]}"; do
    check_jq "expect --blob: $b hcrtm is openssl's" ".banks.$b.hcrtm" \
        "$(openssl_pcr0 "$b" "$work/b1")"
    check_jq "expect --blob: $b boot is openssl's" ".banks.$b.boot" \
        "$(openssl_pcr0 "$b" "$work/b1" boot)"
    check_jq "expect --blob: $b unmeasured boot is openssl's" ".banks.$b.unmeasured_boot" \
        "$(openssl_pcr0 "$b" - boot)"
done
check_jq "expect --blob: blob_hex is the file" .blob_hex "$(xxd -p -c 100000 "$work/b1")"
check_jq "expect --blob: blob_length" .blob_length "$(stat -c %s "$work/b1")"
check_jq "expect --blob: no vm" .vm null
blob_sha=$(jq -r .blob_sha256 "$TAP_TMP/out")
check_eq "expect --blob: blob_sha256" "$(sha256sum <"$work/b1" | cut -d' ' -f1)" "$blob_sha"

# VMs found through their vTPM records, by UUID and by name
"$TVDC" vtpm record write --dir "$REC" --uuid "$U1" --name vm1 --label market-analysis \
    --policy "$POLICY" || bail "record write failed"
"$TVDC" vtpm record write --dir "$REC" --uuid "$U2" --name twin --label wide --policy "$POLICY"
"$TVDC" vtpm record write --dir "$REC" --uuid "$U3" --name twin --policy "$POLICY"
run "$TVDC" vtpm expect vm1 --dir "$REC" --policy "$POLICY" --json
check_jq "expect NAME: the record's VM" '.vm.uuid + " " + .vm.label' "$U1 market-analysis"
check_jq "expect NAME: the blob of --uuid/--name/--label" .blob_hex "$(xxd -p -c 100000 "$work/b1")"
check_jq "expect NAME: the label requires measurement" .vm.measure_required true
run "$TVDC" vtpm expect "${U1^^}" --dir "$REC" --policy "$POLICY" --json
check_jq "expect UUID (upper case): the same blob" .blob_hex "$(xxd -p -c 100000 "$work/b1")"
run "$TVDC" vtpm expect "$U3" --dir "$REC" --policy "$POLICY" --json
check_jq "expect UUID: an unlabeled VM" '.vm.label, .vm.measure_required' $'null\nfalse'
check "expect UUID: an unlabeled VM's blob says so" \
    bash -c "jq -r .blob '$TAP_TMP/out' | grep -qxF 'label -'"
expect_exit "expect NAME: two records with the name: exit 2" 2 \
    "$TVDC" vtpm expect twin --dir "$REC" --policy "$POLICY"
check "expect NAME: ... naming both UUIDs" \
    bash -c "grep -q 'twin' '$TAP_TMP/err' && grep -q '$U2' '$TAP_TMP/err' &&
             grep -q '$U3' '$TAP_TMP/err'"
expect_exit "expect: an unknown VM: exit 2" 2 \
    "$TVDC" vtpm expect nosuchvm --dir "$REC" --policy "$POLICY"
check_eq "expect: an unknown VM's message" \
    "tvdc: vtpm expect: no vTPM record names VM 'nosuchvm' in $REC" "$ERR"
expect_exit "expect: an unknown label: exit 2" 2 \
    "$TVDC" vtpm expect --uuid "$U1" --name vm1 --label nope --policy "$POLICY"
check_eq "expect: an unknown label's message" \
    "tvdc: vtpm expect: label 'nope' is not in policy measure-dc v42" "$ERR"
expect_exit "expect: a bad UUID: exit 2" 2 \
    "$TVDC" vtpm expect --uuid 3f1c8a2e --name vm1 --policy "$POLICY"
expect_exit "expect: an unknown bank: exit 2" 2 \
    "$TVDC" vtpm expect --blob "$work/b1" --bank sha3-256
check_eq "expect: an unknown bank's message" \
    "tvdc: vtpm expect: unknown bank 'sha3-256' (sha1, sha256, sha384, sha512)" "$ERR"
printf '{"name": "x",' >"$work/bad.json"
expect_exit "expect: a bad policy: exit 2" 2 \
    "$TVDC" vtpm expect --uuid "$U1" --name vm1 --policy "$work/bad.json"
run "$TVDC" vtpm expect --blob "$work/b1" --bank sha256 --bank sha1 --json
check_jq "expect --bank: only those banks" '.banks | keys | join(",")' sha1,sha256

# Human output: a name with a newline, an escape and UTF-8 shows escaped
run "$TVDC" vtpm expect --policy "$POLICY" --uuid "$U1" --name $'a\nb\\c\xc3\xa9' --label wide
check "human output: the escaped name line" \
    grep -qxF '  | vm-name a\x0ab\\c\xc3\xa9' "$TAP_TMP/out"
check "human output: the sha512 boot line" grep -qE '^ +boot +[0-9a-f]{128}$' "$TAP_TMP/out"

# --- the real swtpm -----------------------------------------------------------
missing=
for t in swtpm swtpm_ioctl swtpm_setup tpm2_startup tpm2_pcrread tpm2_pcrextend; do
    command -v "$t" >/dev/null || missing+=" $t"
done
if [[ -n $missing ]]; then
    skip "PCR0 of a real swtpm" \
        "not installed:$missing (ci/deps build: swtpm swtpm-tools tpm2-tools)"
    exit 0
fi

# A large tvdc blob (a 1024-byte name of UTF-8, all escaped: over 4096
# bytes, so several PTM_HASH_DATA chunks) and any bytes (NULs included).
bigname=$(for _ in $(seq 512); do printf '\xc3\xa9'; done)
blob_of "$work/b2" --policy "$POLICY" --uuid "$U2" --name "$bigname" --label wide
check "the large blob is over 4096 bytes" test "$(stat -c %s "$work/b2")" -gt 4096
head -c 10000 /dev/urandom >"$work/b3"
: >"$work/b4"

# Each run: a fresh copy of a state made by swtpm_setup, its own sockets
# and pid file in $work; stopped by its pid (and at exit, whatever happens).
pids=()
stop_all() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
}
at_exit stop_all

# measure STATE BLOB|- OUTFILE [EXTEND]: start swtpm on a copy of STATE,
# CMD_INIT, the H-CRTM sequence with BLOB on stdin (- none), TPM2_Startup,
# EXTEND (tpm2_pcrextend's argument) if given, then PCR0 of every bank in
# OUTFILE as "BANK HEX" lines (an unallocated bank: no line).
run_n=0
measure() {
    local state=$1 blob=$2 out=$3 extend=${4:-} dir sock pid p
    run_n=$((run_n + 1))
    dir=$work/run$run_n
    mkdir -p "$dir" && cp -a "$state" "$dir/state" || return 1
    sock=$dir/sock
    swtpm socket --tpm2 --tpmstate dir="$dir/state" \
        --server type=unixio,path="$sock" --ctrl type=unixio,path="$sock.ctrl" \
        --pid file="$dir/pid" --log file="$dir/log" --daemon || return 1
    pid=$(<"$dir/pid")
    pids+=("$pid")
    swtpm_ioctl --unix "$sock.ctrl" -i || return 1
    if [[ $blob != - ]]; then
        swtpm_ioctl --unix "$sock.ctrl" -h - <"$blob" || return 1
    fi
    tpm2_startup -c -T "swtpm:path=$sock" || return 1
    if [[ -n $extend ]]; then
        tpm2_pcrextend -T "swtpm:path=$sock" "$extend" || return 1
    fi
    tpm2_pcrread -T "swtpm:path=$sock" sha1:0+sha256:0+sha384:0+sha512:0 >"$dir/pcrs" || return 1
    awk '/^  [a-z0-9]+:$/ { bank = substr($1, 1, length($1) - 1) }
         /^    0 : 0x/ { print bank, tolower(substr($3, 3)) }' "$dir/pcrs" >"$out"
    swtpm_ioctl --unix "$sock.ctrl" -s
    for p in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    return 0
}

# States: all four banks, and only sha256 (tvdc's swtpm_setup.conf).
: >"$work/empty.conf"
# (No comma in a path: swtpm's option values are comma-separated.)
for banks in sha1,sha256,sha384,sha512 sha256; do
    st=$work/state-${banks//,/-}
    mkdir -p "$st"
    swtpm_setup --tpm2 --tpm-state "$st" --config "$work/empty.conf" \
        --pcr-banks "$banks" --logfile "$st.log" >/dev/null 2>&1 ||
        bail "swtpm_setup --pcr-banks $banks failed: $(cat "$st.log")"
done
ALL=$work/state-sha1-sha256-sha384-sha512

for blob in b1 b2 b3 b4; do
    if ! measure "$ALL" "$work/$blob" "$work/$blob.pcrs"; then
        fail "swtpm measured blob $blob" "$(tail -5 "$work/run$run_n/log" 2>/dev/null)"
        continue
    fi
    run "$TVDC" vtpm expect --blob "$work/$blob" --json
    for b in "${BANKS[@]}"; do
        check_eq "swtpm, blob $blob ($(stat -c %s "$work/$blob") bytes): PCR0 $b is hcrtm" \
            "$(jq -r ".banks.$b.hcrtm" "$TAP_TMP/out")" \
            "$(awk -v b="$b" '$1 == b { print $2 }' "$work/$blob.pcrs")"
    done
done
for b in "${BANKS[@]}"; do
    v1=$(awk -v b="$b" '$1 == b { print $2 }' "$work/b1.pcrs")
    v2=$(awk -v b="$b" '$1 == b { print $2 }' "$work/b2.pcrs")
    check "swtpm: another blob, another PCR0 $b" test -n "$v1" -a -n "$v2" -a "$v1" != "$v2"
done

# Nothing measured: PCR0 starts at zeros.
if measure "$ALL" - "$work/none.pcrs"; then
    check_eq "swtpm, nothing measured: PCR0 sha256 is zeros" "$(printf '0%.0s' $(seq 64))" \
        "$(awk '$1 == "sha256" { print $2 }' "$work/none.pcrs")"
else
    fail "swtpm without a measurement"
fi

# The firmware's separator, extended as SeaBIOS does: expect's boot value.
sep=
for b in "${BANKS[@]}"; do
    sep+="${sep:+,}$b=$(printf '\xff\xff\xff\xff' | openssl dgst -"$b" -binary | xxd -p -c 256)"
done
if measure "$ALL" "$work/b1" "$work/b1-boot.pcrs" "0:$sep"; then
    run "$TVDC" vtpm expect --blob "$work/b1" --json
    for b in "${BANKS[@]}"; do
        check_eq "swtpm, blob b1 and the separator: PCR0 $b is expect's boot" \
            "$(jq -r ".banks.$b.boot" "$TAP_TMP/out")" \
            "$(awk -v b="$b" '$1 == b { print $2 }' "$work/b1-boot.pcrs")"
    done
else
    fail "swtpm with the separator"
fi

# A vTPM as tvdc provisions it (active_pcr_banks = sha256): only that bank,
# with expect's value.
if measure "$work/state-sha256" "$work/b1" "$work/b1-sha256.pcrs"; then
    check_eq "swtpm with only sha256: that bank alone" sha256 \
        "$(cut -d' ' -f1 "$work/b1-sha256.pcrs" | paste -sd,)"
    want=$("$TVDC" vtpm expect --blob "$work/b1" --bank sha256 --json |
           jq -r .banks.sha256.hcrtm)
    check_eq "swtpm with only sha256: PCR0 is expect's hcrtm" "$want" \
        "$(awk '$1 == "sha256" { print $2 }' "$work/b1-sha256.pcrs")"
else
    fail "swtpm with only sha256"
fi
