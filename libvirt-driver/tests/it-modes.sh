#!/bin/bash
# Integration test: how a box host's configuration changes what tvdc does.
#   * capabilities: a tvdc host advertises the tvdc secmodel;
#   * a host whose libvirtd runs without the driver (security_driver none)
#     does not start a VM labeled tvdc (libvirt's own refusal);
#   * permissive mode: would-be denials start and are audited as would-deny;
#   * no policy in force (a JSON file instead of a compiled one, a missing
#     file, a bad tvdc.conf, an unsigned policy or one signed by an
#     untrusted key where signatures are required, a rolled-back version):
#     every VM is refused with the reason, and stays defined;
#   * a policy with "unlabeled": "allow": unlabeled VMs start, but only with
#     unlabeled resources.
#
#   bash libvirt-driver/tests/it-modes.sh      (root; two box hosts)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
SU="label underwriting, types SU"
COLLOCATION_SU="collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET"

# no_policy DESC REASON: after a restart of host-a, every VM is refused with
# "no policy: REASON", tvdc status says why, and the domains stay defined
no_policy() {
    local desc=$1 reason=$2 vm subject
    restart_libvirtd "$H"
    check_eq "$desc: tvdc status: no policy, and the reason" \
        "$(jq -cn --arg e "$reason" '{policy: null, error: $e}')" \
        "$(status "$H" '{policy, error}')"
    for vm in ma-1:market-analysis su-1:underwriting plain:; do
        if [[ -n ${vm#*:} ]]; then subject="label ${vm#*:}"; else subject=unlabeled; fi
        expect_deny "$desc: ${vm%%:*} is refused with the reason" \
            "VM '${vm%%:*}' ($subject): no policy: $reason" on "$H" virsh start "${vm%%:*}"
    done
    check_eq "$desc: the domains stay defined and shut off" \
        "shut off|shut off|shut off" \
        "$(domstate "$H" ma-1)|$(domstate "$H" su-1)|$(domstate "$H" plain)"
}

main() {
    local vm caps ma_b out keys key_id rec

    it_setup
    box_up --hosts 2 --policy "$BANK"
    for vm in ma-1:market-analysis ma-2:market-analysis su-1:underwriting; do
        define "$H" "${vm%%:*}" "${vm#*:}" "$(disk_xml "$(disk "${vm%%:*}" "$H" "${vm#*:}")")" \
            >/dev/null || bail "define ${vm%%:*}"
    done
    define "$H" plain "" >/dev/null || bail "define plain"

    # --- capabilities ---------------------------------------------------
    caps=$(on "$H" virsh capabilities)
    check "capabilities: host-a (security_driver tvdc) advertises <secmodel><model>tvdc</model>" \
        grep -qzP '<secmodel>\s*<model>tvdc</model>\s*<doi>bank-dc:1:[0-9a-f]{16}:enforcing:host-a</doi>\s*</secmodel>' <<<"$caps"

    # --- a host whose libvirtd lacks the driver -------------------------
    restart_libvirtd host-b none
    caps=$(on host-b virsh capabilities)
    if ! grep -qF '<model>tvdc</model>' <<<"$caps" && grep -qF '<model>none</model>' <<<"$caps"; then
        pass "no driver: host-b (security_driver none) advertises no tvdc secmodel"
    else
        fail "no driver: host-b (security_driver none) advertises no tvdc secmodel" "$caps"
    fi
    ma_b=$(disk ma-b host-b "")
    expect_ok "no driver: host-b defines a tvdc-labeled VM (nothing checks it)" \
        define host-b ma-b market-analysis "$(disk_xml "$ma_b")"
    expect_error "no driver: host-b does not start it: libvirt has no tvdc model" \
        "unsupported configuration: Security driver model 'tvdc' is not available" \
        on host-b virsh start ma-b
    expect_state "no driver: ma-b stays shut off" host-b ma-b "shut off"
    define host-b plain-b "" >/dev/null || bail "define plain-b"
    expect_ok "no driver: host-b starts an unlabeled VM (the host works)" on host-b virsh start plain-b

    # --- permissive mode ------------------------------------------------
    echo 'mode = "permissive"' | write_tvdc_conf "$H"
    restart_libvirtd "$H"
    check_eq "permissive: tvdc status says permissive, policy bank-dc in force" \
        '"permissive bank-dc"' "$(status "$H" '"\(.mode) \(.policy.name)"')"
    check "permissive: libvirtd logs it loudly (PERMISSIVE mode)" \
        on "$H" grep -q 'tvdc: PERMISSIVE mode' /var/log/libvirt/libvirtd.log
    expect_ok "permissive: ma-1 starts" on "$H" virsh start ma-1
    expect_ok "permissive: su-1 next to ma-1 (a would-be collocation denial) starts" \
        on "$H" virsh start su-1
    expect_ok "permissive: an unlabeled VM (a would-be denial) starts" on "$H" virsh start plain
    check_eq "permissive: ma-1, plain and su-1 run" "ma-1 plain su-1" "$(running "$H")"
    expect_ok "permissive: a define with a disk of another type is accepted" \
        define "$H" ma-bad market-analysis "$(disk_xml "$WORK/img/su-1.img")"
    check_eq "audit: tvdc audit --decision would-deny has su-1 (conflict), plain (unlabeled-vm), ma-bad (verify)" \
        "ma-bad verify no-shared-type|plain start unlabeled-vm|su-1 start conflict" \
        "$(on "$H" tvdc audit --decision would-deny --json | jq -r '[.[] | "\(.vm_name) \(.operation) \(.rule)"] | sort | join("|")')"
    rec=$(audit "$H" '[.[] | select(.vm_name == "su-1")]')
    check_eq "audit: su-1's would-deny is its only record, with the collocation detail" \
        "would-deny|$COLLOCATION_SU" \
        "$(jq -r 'if length == 1 then .[0] | "\(.decision)|\(.detail)" else "\(length) records" end' <<<"$rec")"
    check_eq "audit: no record says deny in permissive mode" 0 \
        "$(audit "$H" '[.[] | select(.decision == "deny")] | length')"
    out=$(on "$H" tvdc audit --decision would-deny 2>&1)
    check "audit: the human listing shows su-1's would-deny" \
        grep -qF "su-1 underwriting would-deny: $COLLOCATION_SU" <<<"$out"
    destroy_all "$H"
    on "$H" virsh undefine ma-bad >/dev/null || bail "undefine ma-bad"

    # --- enforcing again: the same start is refused ---------------------
    : | write_tvdc_conf "$H"
    restart_libvirtd "$H"
    on "$H" virsh start ma-1 >/dev/null || bail "start ma-1"
    expect_deny "enforcing: su-1 next to ma-1 is refused again" \
        "VM 'su-1' ($SU): $COLLOCATION_SU" on "$H" virsh start su-1
    destroy_all "$H"

    # --- no policy in force ---------------------------------------------
    on "$H" cp /etc/tvdc/policy.json /etc/tvdc/policy.bin
    no_policy "JSON policy.bin" \
        "policy /etc/tvdc/policy.bin is not a compiled policy (libvirtd loads only the output of 'tvdc policy compile')"
    rec=$(audit "$H" '[.[] | select(.vm_name == "ma-1" and .rule == "no-policy")] | last')
    check_eq "audit: a no-policy refusal is recorded (rule no-policy, no policy name)" \
        "deny|no-policy|null|host-a|market-analysis" \
        "$(jq -r '"\(.decision)|\(.rule)|\(.policy_name)|\(.host)|\(.label)"' <<<"$rec")"

    on "$H" rm -f /etc/tvdc/policy.bin
    no_policy "missing policy" "policy /etc/tvdc/policy.bin: No such file or directory"

    install_policy "$H" "$BANK"
    echo 'mode = "lax"' | write_tvdc_conf "$H"
    no_policy "bad tvdc.conf" \
        "configuration /etc/libvirt/tvdc.conf: mode: expected \"enforcing\" or \"permissive\", got \"lax\""

    keys=$WORK/keys
    mkdir -p "$keys"
    tvdc policy keygen --type ed25519 --out "$keys/signer.pem" >/dev/null || bail "keygen"
    tvdc policy keygen --type ed25519 --out "$keys/intruder.pem" >/dev/null || bail "keygen"
    on "$H" install -d -m 0755 /etc/tvdc/trusted-keys || bail "trust dir"
    on "$H" install -m 0644 "$keys/signer.pub.pem" /etc/tvdc/trusted-keys/ || bail "trust key"
    echo 'require_signature = 1' | write_tvdc_conf "$H"
    no_policy "require_signature, unsigned policy" \
        "policy /etc/tvdc/policy.bin: /etc/tvdc/policy.bin.sig: No such file or directory"

    on "$H" tvdc policy sign --key "$keys/intruder.pem" /etc/tvdc/policy.bin >/dev/null || bail "sign"
    key_id=$(on "$H" sed -n 's/^Key-Id: //p' /etc/tvdc/policy.bin.sig)
    no_policy "require_signature, signed by an untrusted key" \
        "policy /etc/tvdc/policy.bin: signature does not verify against the keys in /etc/tvdc/trusted-keys: /etc/tvdc/policy.bin.sig: no trusted key in /etc/tvdc/trusted-keys verifies the signature (1 ed25519 key tried; the signature names key ${key_id:0:16}...)"

    on "$H" tvdc policy sign --key "$keys/signer.pem" /etc/tvdc/policy.bin >/dev/null || bail "sign"
    restart_libvirtd "$H"
    check_eq "require_signature, signed by the trusted key: bank-dc in force" \
        '"bank-dc 1 null"' "$(status "$H" '"\(.policy.name) \(.policy.version) \(.error)"')"
    expect_ok "require_signature, signed by the trusted key: ma-1 starts" on "$H" virsh start ma-1
    destroy_all "$H"

    : | write_tvdc_conf "$H"
    install_policy "$H" "$IT_POLICIES/bank-v2.json"
    restart_libvirtd "$H"
    check_eq "rollback: bank-dc version 2 accepted" '"bank-dc 2"' \
        "$(status "$H" '"\(.policy.name) \(.policy.version)"')"
    install_policy "$H" "$BANK"
    no_policy "rollback to bank-dc version 1" \
        "policy /etc/tvdc/policy.bin: rollback refused (state /var/lib/tvdc/policy-state): policy bank-dc version 1 is lower than version 2 accepted before (rollback refused)"

    # --- unlabeled VMs allowed ------------------------------------------
    install_policy "$H" "$IT_POLICIES/unlabeled-allow.json"
    restart_libvirtd "$H"
    define "$H" plain-unl "" "$(disk_xml "$(disk plain-unl "$H" "")")" >/dev/null || bail "define plain-unl"
    define "$H" plain-ma "" "$(disk_xml "$WORK/img/ma-2.img")" >/dev/null || bail "define plain-ma"
    expect_ok "unlabeled allowed: an unlabeled VM without resources starts" on "$H" virsh start plain
    expect_ok "unlabeled allowed: an unlabeled VM with an unlabeled disk starts" \
        on "$H" virsh start plain-unl
    expect_deny "unlabeled allowed: an unlabeled VM with a labeled disk is refused" \
        "VM 'plain-ma' (unlabeled): resource: disk 'vda' ($WORK/img/ma-2.img) has label market-analysis; an unlabeled VM may use only unlabeled resources" \
        on "$H" virsh start plain-ma
    expect_state "unlabeled allowed: plain-ma stays shut off" "$H" plain-ma "shut off"
    expect_ok "unlabeled allowed: labeled VMs still start (ma-1)" on "$H" virsh start ma-1
    expect_deny "unlabeled allowed: and collocation still holds (su-1)" \
        "VM 'su-1' ($SU): $COLLOCATION_SU" on "$H" virsh start su-1
    check_eq "unlabeled allowed: ma-1, plain and plain-unl run" "ma-1 plain plain-unl" "$(running "$H")"
    check_eq "audit: the permitted start of plain is one record without a label" \
        "permit|null|bank-dc-open" \
        "$(audit "$H" '[.[] | select(.vm_name == "plain" and .policy_name == "bank-dc-open")] | if length == 1 then .[0] | "\(.decision)|\(.label)|\(.policy_name)" else "\(length) records" end' | tr -d '"')"
}

main "$@"
