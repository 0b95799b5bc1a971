#!/bin/bash
# Integration test: the policy replaced while libvirtd runs (no restart).
# bank-dc v1 -> v2 (label public-web removed): in force at once (the
# directory is watched), a start v1 permitted is refused, the running
# public-web VM keeps running and is reported (status "violation" with its
# rule, tvdc status exit 1, audit "policy-reload" would-deny, libvirtd log).
# v3 (public-web back, MA and WEB now conflict): the reservation table is
# rebuilt from the running VMs, both sides of the new conflict are
# reported, a start is refused by the rebuilt table, a stop clears the
# violation.  Replacements that fail to load or verify leave the policy in
# force and say so (status "error" beside it, audit, log): garbage, a
# truncated compiled policy, a JSON policy, a lower version, and, with
# signatures required, a policy signed by an untrusted key; a good
# replacement (or the right signature) then clears the error.  With no
# policy in force at startup, a good file put in place is taken at once.
#
#   bash libvirt-driver/tests/it-reload.sh      (root; one box host)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
WEB="label public-web, types WEB"
SU="label underwriting, types SU"

qemu_pid() {        # qemu_pid VM: the pid libvirt recorded for the guest
    on "$H" cat "/run/libvirt/qemu/$1.pid" 2>/dev/null
}

# wait_status JQ-FILTER EXPECTED: HOST's status reaches EXPECTED within 10 s
# (the driver watches the policy's directory: no decision is needed for a
# replaced policy to be in force).  Prints the last value.
wait_status() {
    local i v
    for (( i = 0; i < 50; i++ )); do
        v=$(status "$H" "$1")
        [[ $v == "$2" ]] && break
        sleep 0.2
    done
    printf '%s\n' "$v"
}

# replace_with FILE: rename FILE over the policy (what an operator's
# deployment does: write beside it, rename)
replace_with() {
    on "$H" install -m 0644 "$1" /etc/tvdc/.policy.new || bail "install $1"
    on "$H" mv -f /etc/tvdc/.policy.new /etc/tvdc/policy.bin || bail "rename $1"
}

policy_is() {
    status "$H" '"\(.policy.name) \(.policy.version)"' | tr -d '"'
}

main() {
    local vm pid_ma pid_web v keys

    it_setup
    box_up --hosts 1 --policy "$BANK"
    IT_LIBVIRTD=$(host_libvirtd_pid "$H")
    for vm in ma-1:market-analysis web-1:public-web web-2:public-web su-1:underwriting; do
        define "$H" "${vm%%:*}" "${vm#*:}" "$(disk_xml "$(disk "${vm%%:*}" "$H" "${vm#*:}")")" \
            >/dev/null || bail "define ${vm%%:*}"
    done
    on "$H" virsh start ma-1 >/dev/null || bail "start ma-1"
    on "$H" virsh start web-1 >/dev/null || bail "start web-1"
    pid_ma=$(qemu_pid ma-1) pid_web=$(qemu_pid web-1)
    expect_ok "v1: a second public-web VM (web-2) starts" on "$H" virsh start web-2
    on "$H" virsh destroy web-2 >/dev/null
    check_eq "v1: bank-dc 1 in force, no violation, no error" 'bank-dc 1|0|null' \
        "$(status "$H" '"\(.policy.name) \(.policy.version)|\([.domains[] | select(.violation)] | length)|\(.error)"' | tr -d '"')"

    # --- v2: label public-web removed ------------------------------------
    install_policy "$H" "$IT_POLICIES/bank-v2.json"
    check_eq "v2: in force without a restart or a decision (directory watched)" \
        '"bank-dc 2"' "$(wait_status '"\(.policy.name) \(.policy.version)"' '"bank-dc 2"')"
    check_eq "v2: the same libvirtd (no restart)" "$IT_LIBVIRTD" "$(host_libvirtd_pid "$H")"
    check_eq "v2: web-1 is reported: violation and rule in the status file" \
        "web-1|label: unknown label 'public-web'|unknown-label" \
        "$(status "$H" '[.domains[] | select(.violation) | "\(.name)|\(.violation)|\(.violation_rule)"] | join(" ")' | tr -d '"')"
    check_eq "v2: web-1 and ma-1 keep running (same QEMU processes)" \
        "ma-1 web-1 $pid_ma $pid_web" "$(running "$H") $(qemu_pid ma-1) $(qemu_pid web-1)"
    run on "$H" tvdc status
    if (( RC == 1 )) && grep -q "^web-1 .* label: unknown label 'public-web'$" <<<"$OUT"; then
        pass "v2: tvdc status prints web-1's violation and exits 1"
    else
        fail "v2: tvdc status prints web-1's violation and exits 1" "exit $RC" "$OUT"
    fi
    expect_deny "v2: the start v1 permitted (web-2) is refused" \
        "VM 'web-2' (label public-web): label: unknown label 'public-web'" \
        on "$H" virsh start web-2
    expect_state "v2: web-2 stays shut off" "$H" web-2 "shut off"
    check_eq "audit: the reload, then web-1's violation (would-deny: it keeps running)" \
        'policy-reload|permit|ok|-|bank-dc 2 policy-reload|would-deny|unknown-label|web-1|bank-dc 2' \
        "$(audit "$H" '[.[] | select(.operation == "policy-reload") | "\(.operation)|\(.decision)|\(.rule)|\(.vm_name // "-")|\(.policy_name) \(.policy_version)"] | join(" ")' | tr -d '"')"
    check "audit: the reload record names both policies" \
        test "$(audit "$H" '[.[] | select(.operation == "policy-reload" and .decision == "permit")][0].detail | test("^policy bank-dc version 2 from /etc/tvdc/policy.bin replaces policy bank-dc version 1; 2 VMs run or start here$")')" = true
    check "libvirtd log: web-1's violation is logged" \
        on "$H" grep -q "tvdc: running VM 'web-1' (label public-web) violates the policy in force and keeps running: label: unknown label 'public-web'" /var/log/libvirt/libvirtd.log

    # --- v3: public-web back, MA and WEB conflict (web-wall) -------------
    install_policy "$H" "$IT_POLICIES/bank-v3-webwall.json"
    wait_status '.policy.version' 3 >/dev/null
    check_eq "v3: both sides of the new conflict are reported" \
        "ma-1|collocation: type MA of label market-analysis conflicts with running type WEB (label public-web) in conflict set web-wall|conflict web-1|collocation: type WEB of label public-web conflicts with running type MA (label market-analysis) in conflict set web-wall|conflict" \
        "$(status "$H" '[.domains[] | select(.violation) | "\(.name)|\(.violation)|\(.violation_rule)"] | sort | join(" ")' | tr -d '"')"
    check_eq "v3: the table is rebuilt from the running VMs (MA and WEB reserved)" \
        '{"reservations":2,"active":{"MA":1,"WEB":1}}' \
        "$(status "$H" '{reservations, active: .active_types}')"
    expect_deny "v3: web-2 is refused by the rebuilt table (conflict with the running ma-1)" \
        "VM 'web-2' ($WEB): collocation: type WEB of label public-web conflicts with running type MA (label market-analysis) in conflict set web-wall" \
        on "$H" virsh start web-2
    expect_state "v3: web-2 stays shut off" "$H" web-2 "shut off"
    check_eq "v3: ma-1 and web-1 still run (same QEMU processes)" \
        "ma-1 web-1 $pid_ma $pid_web" "$(running "$H") $(qemu_pid ma-1) $(qemu_pid web-1)"
    on "$H" virsh destroy web-1 >/dev/null
    check_eq "v3: with web-1 stopped, ma-1 no longer violates the policy" "null" \
        "$(status "$H" '.domains[] | select(.name == "ma-1") | .violation')"
    expect_deny "v3: su-1 is still refused next to ma-1 (chinese-wall)" \
        "VM 'su-1' ($SU): collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET" \
        on "$H" virsh start su-1

    # --- replacements that are refused: v3 stays in force ----------------
    head -c 600 /dev/urandom >"$WORK/garbage.bin"
    replace_with "$WORK/garbage.bin"
    check_eq "garbage: v3 stays in force, the error says why" \
        "\"bank-dc 3|policy /etc/tvdc/policy.bin is not a compiled policy (libvirtd loads only the output of 'tvdc policy compile'); policy bank-dc version 3 stays in force\"" \
        "$(wait_status '"\(.policy.name) \(.policy.version)|\(.error)"' "\"bank-dc 3|policy /etc/tvdc/policy.bin is not a compiled policy (libvirtd loads only the output of 'tvdc policy compile'); policy bank-dc version 3 stays in force\"")"
    expect_deny "garbage: decisions still use v3 (web-2 refused by web-wall)" \
        "VM 'web-2' ($WEB): collocation: type WEB of label public-web conflicts with running type MA (label market-analysis) in conflict set web-wall" \
        on "$H" virsh start web-2
    expect_ok "garbage: and permit what v3 permits (another market-analysis VM)" \
        on "$H" sh -c "virsh destroy ma-1 >/dev/null && virsh start ma-1 >/dev/null"
    check_eq "audit: the refused replacement is recorded with the policy in force" \
        '"policy-reload|deny|policy-rejected|bank-dc 3"' \
        "$(audit "$H" '[.[] | select(.operation == "policy-reload")] | last | "\(.operation)|\(.decision)|\(.rule)|\(.policy_name) \(.policy_version)"')"
    check "libvirtd log: the refusal is logged" \
        on "$H" grep -q "tvdc: the new policy file was refused: policy /etc/tvdc/policy.bin is not a compiled policy" /var/log/libvirt/libvirtd.log

    tvdc policy compile "$IT_POLICIES/bank-v3-webwall.json" --output "$WORK/v3.bin" >/dev/null ||
        bail "compile v3"
    head -c 500 "$WORK/v3.bin" >"$WORK/truncated.bin"
    replace_with "$WORK/truncated.bin"
    v=$(wait_status '.error | test("corrupt compiled policy")' true)
    check_eq "truncated compiled policy: refused, v3 stays in force" \
        'true bank-dc 3' "$v $(policy_is)"
    replace_with "$IT_POLICIES/bank-v3-webwall.json"
    v=$(wait_status '.error | test("is not a compiled policy")' true)
    check_eq "a JSON policy: refused (libvirtd loads only compiled ones), v3 stays in force" \
        'true bank-dc 3' "$v $(policy_is)"
    install_policy "$H" "$BANK"
    check_eq "a lower version (bank-dc 1): rollback refused, v3 stays in force" \
        '"policy /etc/tvdc/policy.bin: rollback refused (state /var/lib/tvdc/policy-state): policy bank-dc version 1 is lower than version 3 accepted before (rollback refused); policy bank-dc version 3 stays in force"' \
        "$(wait_status '.error' '"policy /etc/tvdc/policy.bin: rollback refused (state /var/lib/tvdc/policy-state): policy bank-dc version 1 is lower than version 3 accepted before (rollback refused); policy bank-dc version 3 stays in force"')"
    check_eq "refusals: 4 policy-reload denials in the audit, each naming v3 in force" \
        '4 4' "$(audit "$H" '[.[] | select(.operation == "policy-reload" and .decision == "deny")] | "\(length) \([.[] | select(.detail | endswith("policy bank-dc version 3 stays in force"))] | length)"' | tr -d '"')"

    # --- a good replacement clears the error -----------------------------
    jq '.version = 4' "$IT_POLICIES/bank-v3-webwall.json" >"$WORK/v4.json"
    install_policy "$H" "$WORK/v4.json"
    check_eq "v4: in force, the error is gone" '"bank-dc 4|null"' \
        "$(wait_status '"\(.policy.name) \(.policy.version)|\(.error)"' '"bank-dc 4|null"')"

    # --- no policy at startup, then a good file: in force without restart --
    replace_with "$WORK/garbage.bin"
    wait_status '.error | test("not a compiled policy")' true >/dev/null
    restart_libvirtd "$H"
    check_eq "no policy: after a restart with garbage, none is in force; ma-1 keeps running, reported" \
        "null|running|no-policy" \
        "$(status "$H" '.policy')|$(domstate "$H" ma-1)|$(status "$H" '.domains[] | select(.name == "ma-1") | .violation_rule' | tr -d '"')"
    expect_deny "no policy: every start is refused with the reason" \
        "VM 'web-2' (label public-web): no policy: policy /etc/tvdc/policy.bin is not a compiled policy (libvirtd loads only the output of 'tvdc policy compile')" \
        on "$H" virsh start web-2
    install_policy "$H" "$WORK/v4.json"
    check_eq "no policy: a good file is in force without a restart, ma-1 no longer reported" \
        '"bank-dc 4|null|null"' \
        "$(wait_status '"\(.policy.name) \(.policy.version)|\(.error)|\(.domains[] | select(.name == "ma-1") | .violation)"' '"bank-dc 4|null|null"')"

    # --- signatures required: an untrusted signature is refused ----------
    keys=$WORK/keys
    mkdir -p "$keys"
    tvdc policy keygen --type ed25519 --out "$keys/signer.pem" >/dev/null || bail "keygen"
    tvdc policy keygen --type ed25519 --out "$keys/intruder.pem" >/dev/null || bail "keygen"
    on "$H" install -d -m 0755 /etc/tvdc/trusted-keys || bail "trust dir"
    on "$H" install -m 0644 "$keys/signer.pub.pem" /etc/tvdc/trusted-keys/ || bail "trust key"
    on "$H" tvdc policy sign --key "$keys/signer.pem" /etc/tvdc/policy.bin >/dev/null || bail "sign v4"
    echo 'require_signature = 1' | write_tvdc_conf "$H"
    pid_ma=$(qemu_pid ma-1)
    restart_libvirtd "$H"
    check_eq "signatures: v4 signed by the trusted key is in force after the restart" \
        '"bank-dc 4|null"' "$(status "$H" '"\(.policy.name) \(.policy.version)|\(.error)"')"
    IT_LIBVIRTD=$(host_libvirtd_pid "$H")
    jq '.version = 5' "$IT_POLICIES/bank-v3-webwall.json" >"$WORK/v5.json"
    tvdc policy compile "$WORK/v5.json" --output "$WORK/v5.bin" >/dev/null || bail "compile v5"
    tvdc policy sign --key "$keys/intruder.pem" --output "$WORK/v5.bin.sig" "$WORK/v5.bin" \
        >/dev/null || bail "sign v5"
    # the signature first, then the policy: two renames, each noticed
    on "$H" install -m 0644 "$WORK/v5.bin.sig" /etc/tvdc/.sig.new || bail "install sig"
    on "$H" mv -f /etc/tvdc/.sig.new /etc/tvdc/policy.bin.sig || bail "rename sig"
    replace_with "$WORK/v5.bin"
    v=$(wait_status '.error | test("^policy /etc/tvdc/policy.bin: signature does not verify against the keys in /etc/tvdc/trusted-keys: .*; policy bank-dc version 4 stays in force$")' true)
    check_eq "signatures: v5 signed by an untrusted key is refused, v4 stays in force" \
        'true bank-dc 4' "$v $(policy_is)"
    tvdc policy sign --key "$keys/signer.pem" --output "$WORK/v5.bin.sig" "$WORK/v5.bin" \
        >/dev/null || bail "sign v5"
    on "$H" install -m 0644 "$WORK/v5.bin.sig" /etc/tvdc/.sig.new || bail "install sig"
    on "$H" mv -f /etc/tvdc/.sig.new /etc/tvdc/policy.bin.sig || bail "rename sig"
    check_eq "signatures: with the trusted signature in place, v5 is in force" \
        '"bank-dc 5|null"' \
        "$(wait_status '"\(.policy.name) \(.policy.version)|\(.error)"' '"bank-dc 5|null"')"
    check_eq "ma-1 ran through the signature changes (same QEMU process, same libvirtd)" \
        "running $pid_ma $IT_LIBVIRTD" \
        "$(domstate "$H" ma-1) $(qemu_pid ma-1) $(host_libvirtd_pid "$H")"
}

main "$@"
