#!/bin/bash
# Integration test: virt-install (Debian's virtinst) on a box host with the
# tvdc driver and the bank policy.  `--seclabel type=static,model=tvdc,...`
# writes the seclabel tvdc wants (--print-xml); virt-install creates a
# labeled domain that tvdc permits, which runs, boots, is audited and is
# listed by tvdc status; an unknown label, a conflicting label and a TVD
# network of another type are refused with tvdc's message, audited, and
# leave no domain behind.
#
# virt-install starts the domain with createXML, where tvdc decides, and
# defines it only then, so a refusal leaves nothing defined.  Its options,
# and why (virtinst 4.1):
#   --osinfo detect=off,name=generic  without an OS virtinst 4.1 stops
#       ("--os-variant/--osinfo OS name is required"); generic adds no
#       OS-specific devices
#   --boot kernel=,initrd=,kernel_args=  the box's guest image, labeled with
#       the policy's label of all types (label_boot), as domain_xml boots it
#   --graphics none  a headless guest.  tvdc permits virt-install's default
#       devices too (spice graphics, qxl video, USB tablet, sound, the spice
#       agent channel, USB redirection: checked below), but the box has no
#       display to show them
#   --disk path=,format=raw,bus=virtio  lib.sh's labeled image
#   --serial file,path=  the console log wait_console reads
#   --network none | network=tvdc-<TYPE>  virt-install's default, network
#       'default', does not exist on a box host
#
#   bash libvirt-driver/tests/it-virt-install.sh      (root; one box host)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
MA="label market-analysis, types MA"
SU="label underwriting, types SU"
COLLOCATION_SU="collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET"
SECLABEL_MA="type=static model=tvdc relabel=no <label>market-analysis"

# vinst NAME LABEL DISK [OPTION...]: virt-install on $H of a 96 MiB TCG
# guest NAME with tvdc label LABEL booting the box image from DISK, its
# console in the file wait_console reads, no graphics (VINST_GRAPHICS=
# default: virt-install's default devices); OPTIONs are added (--network
# ..., --dry-run ...).  virt-install's log goes to $WORK/cache.
vinst() {
    local name=$1 label=$2 disk=$3 graphics=(--graphics none)
    shift 3
    [[ ${VINST_GRAPHICS:-none} == none ]] || graphics=()
    on "$H" env XDG_CACHE_HOME="$WORK/cache" virt-install \
        --connect qemu:///system --virt-type qemu \
        --name "$name" --memory 96 --vcpus 1 \
        --osinfo detect=off,name=generic \
        --seclabel "type=static,model=tvdc,label=$label,relabel=no" \
        --boot "kernel=$KERNEL,initrd=$INITRD,kernel_args=console=ttyS0 quiet" \
        --disk "path=$disk,format=raw,bus=virtio" \
        "${graphics[@]}" \
        --serial "file,path=/var/log/libvirt/qemu/$name-console.log" \
        --import --noautoconsole "$@"
}

# seclabels [MODEL]: the <seclabel> elements (of MODEL, default: all) of
# the domain XML on stdin, one line each: its attributes in document order,
# then each child as <TAG>TEXT; so a check sees exactly what is there
seclabels() {
    python3 -c '
import sys, xml.etree.ElementTree as ET
model = sys.argv[1] if len(sys.argv) > 1 else None
for s in ET.parse(sys.stdin).getroot().findall("seclabel"):
    if model is None or s.get("model") == model:
        print(" ".join(["%s=%s" % kv for kv in s.attrib.items()] +
                       ["<%s>%s" % (c.tag, (c.text or "").strip()) for c in s]))
' "$@"
}

# no_domain NAME: virsh dominfo NAME on $H fails because there is no such
# domain
no_domain() {
    local err
    err=$(on "$H" virsh dominfo "$1" 2>&1 >/dev/null) && return 1
    grep -qF "failed to get domain '$1'" <<<"$err"
}

# expect_vinst_deny DESC "VM 'NAME' (SUBJECT): DETAIL" RULE vinst ARGS...:
# virt-install fails, its one ERROR line is tvdc's message for NAME (as
# expect_deny checks virsh's "error:" line), and $H audited a new refusal
# of NAME with SUBJECT's label, DETAIL and RULE
expect_vinst_deny() {
    local desc=$1 rule=$3 before msg why="" got
    deny_parse "$2" || bail "expect_vinst_deny: not \"VM 'NAME' (SUBJECT): DETAIL\": $2"
    shift 3
    before=$(deny_count "$H" "$DENY_VM")
    msg=$(deny_msg "$DENY_VM" "$DENY_LABEL")
    run "$@"
    if (( RC == 0 )); then
        fail "$desc" "succeeded: $*" "$OUT"
        return
    elif [[ $(grep -c '^ERROR .*tvdc: ' <<<"$ERR") != 1 ]] ||
        ! awk -v m="$msg" '/^ERROR / { sub(/^ERROR +/, ""); if (index($0, m) == 1) found = 1 }
                          END { exit !found }' <<<"$ERR"; then
        why="expected one line: ERROR    $msg..."
    elif (( $(deny_count "$H" "$DENY_VM") <= before )); then
        why="no new refusal of $DENY_VM audited on $H"
    elif ! why=$(deny_audited "$H" "$DENY_VM" "$DENY_LABEL" "$DENY_DETAIL"); then
        why="expected detail: $DENY_DETAIL"$'\n'"$why"
    elif got=$(audit "$H" '[.[] | select(.vm_name == $vm and .decision == "deny")] | last | .rule' \
                --arg vm "$DENY_VM" | tr -d '"'); [[ $got != "$rule" ]]; then
        why="expected rule $rule, audited: ${got:-none}"
    else
        pass "$desc"
        return
    fi
    fail "$desc" "$why" "got (exit $RC):" "$ERR"
}

main() {
    local ma ma2 ma3 su bad uuid

    it_setup
    command -v virt-install >/dev/null || bail "virt-install is missing (ci/deps guest)"
    box_up --hosts 1 --policy "$BANK"
    mkdir -p "$WORK/cache"

    ma=$(disk vi-ma "$H" market-analysis)
    ma2=$(disk vi-ma2 "$H" market-analysis)
    su=$(disk vi-su "$H" underwriting)
    bad=$(disk vi-bad "$H" market-analysis)
    ma3=$(disk vi-dev "$H" market-analysis)

    # --- what virt-install writes ---------------------------------------
    run vinst vi-dry market-analysis "$ma" --network none --dry-run --print-xml
    check_eq "--print-xml: virt-install exits 0" 0 "$RC"
    check_eq "--print-xml: one seclabel, exactly tvdc's static label" "$SECLABEL_MA" \
        "$(seclabels <<<"$OUT")"
    check_eq "--print-xml: the domain boots the box's kernel and initrd" "$KERNEL $INITRD" \
        "$(python3 -c 'import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.stdin).getroot()
print(r.findtext("os/kernel"), r.findtext("os/initrd"))' <<<"$OUT")"
    check "--print-xml --dry-run defines nothing (virsh dominfo vi-dry fails)" no_domain vi-dry

    # --- a labeled domain that tvdc permits -----------------------------
    expect_ok "virt-install creates vi-ma (market-analysis, on tvdc-MA)" \
        vinst vi-ma market-analysis "$ma" --network network=tvdc-MA
    expect_state "vi-ma is running" "$H" vi-ma running
    check "vi-ma's guest boots (TVDC-GUEST READY on its console)" \
        wait_console "$H" vi-ma "TVDC-GUEST READY" 120
    check_eq "virsh dumpxml vi-ma: tvdc's seclabel with label market-analysis" "$SECLABEL_MA" \
        "$(on "$H" virsh dumpxml vi-ma | seclabels tvdc)"
    check_eq "virsh dumpxml --inactive vi-ma: the persistent domain has it too" "$SECLABEL_MA" \
        "$(on "$H" virsh dumpxml --inactive vi-ma | seclabels tvdc)"
    check_eq "vi-ma's interface is on tvdc-MA" "network tvdc-MA" \
        "$(on "$H" virsh domiflist --inactive vi-ma | awk 'NR > 2 && NF {print $2, $3}' | xargs)"
    uuid=$(on "$H" virsh domuuid vi-ma | sed '/^$/d')
    check_eq "audit: one record of vi-ma, its permitted start with its UUID and label" \
        "start|$uuid|market-analysis|permit|ok" \
        "$(audit "$H" '[.[] | select(.vm_name == "vi-ma") | [.operation, .vm_uuid, .label, .decision, .rule] | join("|")] | join(",")' | tr -d '"')"
    check_eq "tvdc status lists vi-ma running with its label, reserved" \
        "market-analysis MA true running" \
        "$(status "$H" '[.domains[] | select(.name == "vi-ma") | "\(.label) \(.types | join(",")) \(.reserved) \(.state)"] | join(",")' | tr -d '"')"

    # --- virt-install's default devices -------------------------------
    # Without --graphics none virt-install adds a display and what goes
    # with it (libvirt adds the PS/2 keyboard and mouse); tvdc has no rule
    # against any of them.
    VINST_GRAPHICS=default expect_ok "virt-install with its default devices creates vi-dev (market-analysis)" \
        vinst vi-dev market-analysis "$ma3" --network network=tvdc-MA
    expect_state "vi-dev is running" "$H" vi-dev running
    check_eq "vi-dev has virt-install's default devices" \
        "channel:spicevmc graphics:spice input:keyboard input:mouse input:tablet redirdev:spicevmc redirdev:spicevmc sound:ich6 video:qxl" \
        "$(on "$H" virsh dumpxml --inactive vi-dev | python3 -c 'import sys, xml.etree.ElementTree as ET
kinds = ("channel", "graphics", "input", "redirdev", "sound", "video")
print(" ".join(sorted("%s:%s" % (e.tag, e.get("type") or e.get("model") or e.find("model").get("type"))
                      for e in ET.parse(sys.stdin).getroot().find("devices") if e.tag in kinds)))')"
    check_eq "audit: vi-dev's start is permitted" "start|market-analysis|permit|ok" \
        "$(audit "$H" '[.[] | select(.vm_name == "vi-dev") | [.operation, .label, .decision, .rule] | join("|")] | join(",")' | tr -d '"')"
    expect_ok "virsh destroy vi-dev" on "$H" virsh destroy vi-dev
    expect_ok "virsh undefine vi-dev" on "$H" virsh undefine vi-dev

    # --- refusals -------------------------------------------------------
    expect_vinst_deny "virt-install with an unknown label is refused by tvdc" \
        "VM 'vi-bad' (label no-such-label): label: unknown label 'no-such-label'" unknown-label \
        vinst vi-bad no-such-label "$bad" --network none
    check "vi-bad is not defined (virsh dominfo fails)" no_domain vi-bad

    expect_vinst_deny "virt-install of underwriting next to market-analysis is refused by collocation" \
        "VM 'vi-su' ($SU): $COLLOCATION_SU" conflict \
        vinst vi-su underwriting "$su" --network none
    check "vi-su is not defined (virsh dominfo fails)" no_domain vi-su

    expect_vinst_deny "virt-install of market-analysis on the TVD network of SU is refused" \
        "VM 'vi-ma2' ($MA): network: interface 52:54:00:00:00:5b is on the TVD network of type SU, which label market-analysis (MA) does not have" \
        network-share vinst vi-ma2 market-analysis "$ma2" --network network=tvdc-SU,mac=52:54:00:00:00:5b
    check "vi-ma2 is not defined (virsh dominfo fails)" no_domain vi-ma2

    check_eq "only vi-ma runs" "vi-ma" "$(running "$H")"
    check_eq "only vi-ma is defined" "vi-ma" \
        "$(on "$H" virsh list --all --name | sed '/^$/d' | sort | xargs)"
    check_eq "tvdc status: one reservation, MA" '{"reservations":1,"active":{"MA":1}}' \
        "$(status "$H" '{reservations, active: .active_types}')"
    check_eq "audit: --dry-run asked tvdc nothing (no record of vi-dry)" 0 \
        "$(audit "$H" '[.[] | select(.vm_name == "vi-dry")] | length')"
}

main "$@"
