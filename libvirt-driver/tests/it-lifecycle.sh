#!/bin/bash
# Integration test: the lifecycle paths a running labeled VM could use to
# reach outside the policy, with real guests on two box hosts (TVD networks
# in vxlan mode).  Every refusal is checked by its outcome: the VM runs on
# (same QEMU process), its live XML or disks are what they were, and the
# other type's file is unchanged (known content, checksum) and not held by
# any process.
#   update-device of a NIC onto tvdc-WEB, bridge tvdcb103 or br0 (the tap
#     stays on tvdcb101); its link set down on tvdc-MA works;
#   change-media of a cdrom to an underwriting image;
#   blockcopy, an external disk-only snapshot and a push backup onto a new,
#     unlabeled file (nothing left behind), blockcopy onto an existing
#     unlabeled file, a backup into an underwriting file, a memory snapshot
#     onto an underwriting file;
#   qemu-monitor-command: HMP drive_add, QMP blockdev-add and
#     human-monitor-command of an underwriting image refused; query-* and
#     info commands answered (an info with a second line adds nothing);
#   save, dump and managedsave (through a link planted at the managed save
#     path) onto an underwriting file, dump onto an unlabeled file: refused;
#     save onto a new file and onto the VM's own earlier image: permitted,
#     and those images restore; another VM's save onto that image: refused;
#   restore of an image rewritten in place since its save: refused;
#   migrate --xml that relabels the VM: refused on the source (the
#     destination never hears of it), the VM runs on; with its own XML it
#     migrates;
#   migrate --migrateuri unix:// and a pull-mode backup served on an
#     underwriting socket: refused (no migration, no job); domcapabilities
#     --emulatorbin of a program that is not the host's QEMU: refused
#     before libvirt runs it;
#   snapshot-revert (also --running) to a snapshot whose definition has
#     another label: refused, the definition unchanged; to its own: works;
#   every refusal of ma-1 audited with its operation and rule.
#
#   bash libvirt-driver/tests/it-lifecycle.sh      (root; two box hosts)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
MA="label market-analysis, types MA"
NOSHARE="label market-analysis (types MA) shares no type with resource label underwriting (types SU)"
SAVED_DIR=/var/lib/tvdc/saved-images
MAC=52:54:00:7e:01:01

live_sum() {        # live_sum HOST VM: its live XML's checksum
    on "$1" virsh dumpxml "$2" 2>/dev/null | sha256sum | cut -c1-16
}

content() {         # content FILE TEXT
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" >"$1"
}

blklist() {         # blklist VM: "TARGET SOURCE ..." of ma-1 on $H
    on "$H" virsh domblklist "$1" | awk 'NR > 2 && NF {print $1, $2}' | xargs
}

# runs_on DESC VM PID: VM runs on $H in the QEMU process PID
runs_on() {
    check_eq "$1: $2 runs on, same QEMU process" "running|$3" \
        "$(domstate "$H" "$2")|$(qemu_pid "$H" "$2")"
}

# untouched DESC FILE BEFORE: FILE's checksum is BEFORE, no process holds it
untouched() {
    check_eq "$1: $2 unchanged, held by no process" "$3|" "$(sum "$2")|$(holders "$2")"
}

# tvdc_label HOST VM [--inactive]: the VM's tvdc label (live or inactive XML)
tvdc_label() {
    on "$1" virsh dumpxml "$2" ${3:+"$3"} 2>/dev/null |
        xmllint --xpath "string(//seclabel[@model='tvdc']/label)" - 2>/dev/null
}

record() {          # record PATH: tvdc's record of the memory image at PATH
    on "$H" sh -c "cat $SAVED_DIR/*.json 2>/dev/null" | jq -sc --arg p "$1" 'map(select(.path == $p)) | .[0]'
}

migrate() {         # migrate FROM VM TO [options]: as it-migrate.sh
    local from=$1 vm=$2 to=$3
    shift 3
    on "$from" virsh migrate --live --unsafe "$@" "$vm" "qemu+tcp://$to/system"
}

# --- update-device: a NIC moved to another type's network ----------------------
update_device() {
    local pid tap before
    pid=$(qemu_pid "$H" ma-1)
    tap=$(on "$H" virsh domiflist ma-1 | awk -v m="$MAC" '$5 == m {print $1}')
    check_eq "update-device: ma-1's tap $tap is a port of tvdcb101 (MA)" "tvdcb101" \
        "$(on "$H" ip -o link show "$tap" | sed -n 's/.* master \([^ ]*\).*/\1/p')"
    # the live <interface>, its source moved to tvdc-WEB
    on "$H" virsh dumpxml ma-1 | xmllint --xpath "//devices/interface[mac/@address='$MAC']" - |
        sed -e "s|<interface type=[^>]*>|<interface type='network'>|" \
            -e "s|<source [^>]*/>|<source network='tvdc-WEB'/>|" >"$WORK/xml/nic-web.xml"
    check "update-device: the new interface XML names tvdc-WEB" grep -q "network='tvdc-WEB'" "$WORK/xml/nic-web.xml"
    before=$(live_sum "$H" ma-1)
    expect_deny "update-device: ma-1's NIC onto tvdc-WEB is refused" \
        "VM 'ma-1' ($MA): network: interface $MAC is on the TVD network of type WEB, which label market-analysis (MA) does not have" \
        on "$H" virsh update-device ma-1 "$WORK/xml/nic-web.xml" --live
    runs_on "update-device" ma-1 "$pid"
    check_eq "update-device: the tap is still a port of tvdcb101, the live XML unchanged" \
        "tvdcb101|$before" \
        "$(on "$H" ip -o link show "$tap" | sed -n 's/.* master \([^ ]*\).*/\1/p')|$(live_sum "$H" ma-1)"
    check_eq "update-device: tvdcb103 (WEB) has no port of ma-1" "" \
        "$(on "$H" ip -o link show master tvdcb103 | awk -F': ' '{print $2}' | grep -x "$tap")"
    # the same, naming WEB's bridge, or a bridge that is not tvdc's
    sed -e "s|<interface type=[^>]*>|<interface type='bridge'>|" \
        -e "s|<source [^>]*/>|<source bridge='tvdcb103'/>|" "$WORK/xml/nic-web.xml" >"$WORK/xml/nic-br103.xml"
    expect_deny "update-device: ma-1's NIC onto bridge tvdcb103 (WEB) is refused" \
        "VM 'ma-1' ($MA): network: interface $MAC is on the TVD network of type WEB, which label market-analysis (MA) does not have" \
        on "$H" virsh update-device ma-1 "$WORK/xml/nic-br103.xml" --live
    sed -e "s|tvdcb103|br0|" "$WORK/xml/nic-br103.xml" >"$WORK/xml/nic-br0.xml"
    expect_deny "update-device: ma-1's NIC onto br0 (not a TVD bridge) is refused" \
        "VM 'ma-1' ($MA): network: interface $MAC is on bridge 'br0', which is not a TVD bridge of policy bank-dc (tvdcb<network id>)" \
        on "$H" virsh update-device ma-1 "$WORK/xml/nic-br0.xml" --live
    check_eq "update-device: after both, the tap is still a port of tvdcb101, the live XML unchanged" \
        "tvdcb101|$before" \
        "$(on "$H" ip -o link show "$tap" | sed -n 's/.* master \([^ ]*\).*/\1/p')|$(live_sum "$H" ma-1)"
    # the same interface on its own network, link down: update-device works
    sed -e "s|network='tvdc-WEB'|network='tvdc-MA'|" -e "s|<link state=[^>]*/>||" \
        -e "s|</interface>|<link state='down'/></interface>|" "$WORK/xml/nic-web.xml" >"$WORK/xml/nic-down.xml"
    expect_ok "update-device: the NIC on tvdc-MA with its link down is updated" \
        on "$H" virsh update-device ma-1 "$WORK/xml/nic-down.xml" --live
    check_eq "update-device: the link is down, the tap still on tvdcb101" "down|tvdcb101" \
        "$(on "$H" virsh domif-getlink ma-1 "$MAC" | awk '{print $NF}')|$(on "$H" ip -o link show "$tap" | sed -n 's/.* master \([^ ]*\).*/\1/p')"
}

# --- disks: media change, block copy, external snapshot ----------------------------
disks() {
    local pid su_cd before disks copy ovl
    pid=$(qemu_pid "$H" ma-1)
    disks=$(blklist ma-1)
    su_cd=$(disk su-cd "$H" underwriting)
    content "$su_cd" "underwriting's cdrom"
    before=$(sum "$su_cd")
    expect_deny "change-media: ma-1's cdrom to an underwriting image is refused" \
        "VM 'ma-1' ($MA): resource: disk image ($su_cd): $NOSHARE" \
        on "$H" virsh change-media ma-1 hdc "$su_cd" --update --live
    runs_on "change-media" ma-1 "$pid"
    check_eq "change-media: ma-1's disks are as they were (cdrom: its market-analysis image)" \
        "$disks" "$(blklist ma-1)"
    untouched "change-media" "$su_cd" "$before"

    copy=$WORK/img/ma-1-copy.img
    expect_deny "blockcopy: ma-1's disk onto a new (unlabeled) file is refused" \
        "VM 'ma-1' ($MA): resource: disk image ($copy) is not labeled" \
        on "$H" virsh blockcopy ma-1 vda "$copy" --transient-job --format raw
    runs_on "blockcopy" ma-1 "$pid"
    check_eq "blockcopy: no block job, ma-1's disks unchanged, no copy made" \
        "none|$disks|missing" \
        "$(on "$H" virsh blockjob ma-1 vda --info 2>&1 | grep -q 'No current block job' && echo none)|$(blklist ma-1)|$(sum "$copy")"

    # an existing unlabeled file, reused as it is
    copy=$WORK/img/ma-1-copy-unl.img
    content "$copy" "somebody's unlabeled file"
    before=$(sum "$copy")
    expect_deny "blockcopy --reuse-external: onto an existing unlabeled file is refused" \
        "VM 'ma-1' ($MA): resource: disk image ($copy) is not labeled" \
        on "$H" virsh blockcopy ma-1 vda "$copy" --transient-job --reuse-external --format raw
    runs_on "blockcopy --reuse-external" ma-1 "$pid"
    check_eq "blockcopy --reuse-external: no block job, ma-1's disks unchanged" "none|$disks" \
        "$(on "$H" virsh blockjob ma-1 vda --info 2>&1 | grep -q 'No current block job' && echo none)|$(blklist ma-1)"
    untouched "blockcopy --reuse-external" "$copy" "$before"

    ovl=$WORK/img/ma-1-overlay.qcow2
    expect_deny "external snapshot: ma-1's disk onto a new (unlabeled) overlay is refused" \
        "VM 'ma-1' ($MA): resource: disk image ($ovl) is not labeled" \
        on "$H" virsh snapshot-create-as ma-1 ext1 --disk-only --atomic \
        --diskspec "vda,snapshot=external,file=$ovl" --diskspec hdc,snapshot=no
    runs_on "external snapshot" ma-1 "$pid"
    check_eq "external snapshot: no snapshot, ma-1's disks unchanged, no overlay left" \
        "|$disks|missing" \
        "$(on "$H" virsh snapshot-list ma-1 --name | sed '/^$/d' | xargs)|$(blklist ma-1)|$(sum "$ovl")"

    # the memory of an external snapshot onto another type's file
    local target=$WORK/img/su-memsnap.img before
    content "$target" "underwriting's file, which a memory snapshot must not overwrite"
    label "$H" "$target" underwriting
    before=$(sum "$target")
    expect_deny "memory snapshot: ma-1's memory onto an underwriting file is refused" \
        "VM 'ma-1' ($MA): save: target $target has label underwriting, which shares no type with label market-analysis; libvirt would overwrite it" \
        on "$H" virsh snapshot-create-as ma-1 mem1 --memspec "file=$target,snapshot=external" \
        --diskspec vda,snapshot=no --diskspec hdc,snapshot=no
    runs_on "memory snapshot" ma-1 "$pid"
    check_eq "memory snapshot: no snapshot, ma-1 not paused" "|VM status: running" \
        "$(on "$H" virsh snapshot-list ma-1 --name | sed '/^$/d' | xargs)|$(on "$H" virsh qemu-monitor-command ma-1 --hmp 'info status' 2>/dev/null | tr -d '\r' | sed '/^$/d')"
    untouched "memory snapshot" "$target" "$before"

    # a push backup of ma-1's disk into an underwriting file
    printf "<domainbackup><disks><disk name='vda' type='file'><target file='%s'/><driver type='raw'/></disk><disk name='hdc' backup='no'/></disks></domainbackup>\n" \
        "$target" >"$WORK/xml/backup-su.xml"
    expect_deny "backup-begin --reuse-external: ma-1's disk into an underwriting file is refused" \
        "VM 'ma-1' ($MA): resource: disk image ($target): $NOSHARE" \
        on "$H" virsh backup-begin ma-1 "$WORK/xml/backup-su.xml" --reuse-external
    runs_on "backup" ma-1 "$pid"
    check_eq "backup: no job runs" "None" "$(on "$H" virsh domjobinfo ma-1 | awk '/^Job type:/ {print $3}')"
    untouched "backup" "$target" "$before"
    local new=$WORK/img/ma-1-backup.img
    sed "s|$target|$new|" "$WORK/xml/backup-su.xml" >"$WORK/xml/backup-new.xml"
    expect_deny "backup-begin: ma-1's disk into a new (unlabeled) file is refused" \
        "VM 'ma-1' ($MA): resource: disk image ($new) is not labeled" \
        on "$H" virsh backup-begin ma-1 "$WORK/xml/backup-new.xml"
    check_eq "backup: ma-1 runs on, no job, no backup file left" "running|None|missing" \
        "$(domstate "$H" ma-1)|$(on "$H" virsh domjobinfo ma-1 | awk '/^Job type:/ {print $3}')|$(sum "$new")"
}

# --- qemu-monitor-command ----------------------------------------------------------
monitor() {
    local pid su cmd before
    pid=$(qemu_pid "$H" ma-1)
    su=$(disk su-mon "$H" underwriting)
    content "$su" "underwriting's data behind the monitor"
    before=$(sum "$su")
    check_eq "monitor: HMP 'info status' is answered" "VM status: running" \
        "$(on "$H" virsh qemu-monitor-command ma-1 --hmp 'info status' 2>&1 | tr -d '\r' | sed '/^$/d')"
    cmd="drive_add 0 file=$su,if=none,format=raw,id=su0"
    expect_deny "monitor: HMP drive_add of an underwriting image is refused" \
        "VM 'ma-1' ($MA): monitor: command '${cmd:0:60}' is not allowed: raw monitor commands bypass tvdc (only query-* and info commands are)" \
        on "$H" virsh qemu-monitor-command ma-1 --hmp "$cmd"
    cmd="{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"file\",\"node-name\":\"su1\",\"filename\":\"$su\"}}"
    expect_deny "monitor: QMP blockdev-add of an underwriting image is refused" \
        "VM 'ma-1' ($MA): monitor: command '${cmd:0:60}' is not allowed: raw monitor commands bypass tvdc (only query-* and info commands are)" \
        on "$H" virsh qemu-monitor-command ma-1 "$cmd"
    cmd="{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"drive_add 0 file=$su,if=none,id=su2\"}}"
    expect_deny "monitor: QMP human-monitor-command drive_add is refused" \
        "VM 'ma-1' ($MA): monitor: command '${cmd:0:60}' is not allowed: raw monitor commands bypass tvdc (only query-* and info commands are)" \
        on "$H" virsh qemu-monitor-command ma-1 "$cmd"
    # an info command (allowed) with a second line: QEMU runs neither
    run on "$H" virsh qemu-monitor-command ma-1 --hmp "info status
drive_add 0 file=$su,if=none,format=raw,id=su3"
    check_eq "monitor: 'info status' with a drive_add on a second line: QEMU refuses the line, adds nothing" \
        "status: extraneous characters at the end of line" "$(tr -d '\r' <<<"$OUT" | head -1)"
    runs_on "monitor" ma-1 "$pid"
    run on "$H" virsh qemu-monitor-command ma-1 '{"execute":"query-named-block-nodes"}'
    check_eq "monitor: QMP query-named-block-nodes is answered; QEMU has no node of the underwriting image" \
        "0|ma-1.img|no" \
        "$RC|$(grep -o 'ma-1\.img' <<<"$OUT" | head -1)|$(grep -qF "$su" <<<"$OUT" && echo yes || echo no)"
    untouched "monitor" "$su" "$before"
}

# --- memory images: save, dump, managed save, restore --------------------------------
images() {
    local pid target other img managed before sha size off byte
    pid=$(qemu_pid "$H" ma-1)
    target=$WORK/img/su-target.img
    content "$target" "underwriting's file, which ma-1's memory must not overwrite"
    label "$H" "$target" underwriting
    before=$(sum "$target")
    expect_deny "save: onto an underwriting file is refused" \
        "VM 'ma-1' ($MA): save: target $target has label underwriting, which shares no type with label market-analysis; libvirt would overwrite it" \
        on "$H" virsh save ma-1 "$target"
    runs_on "save" ma-1 "$pid"
    untouched "save" "$target" "$before"
    expect_deny "dump: onto an underwriting file is refused" \
        "VM 'ma-1' ($MA): save: target $target has label underwriting, which shares no type with label market-analysis; libvirt would overwrite it" \
        on "$H" virsh dump ma-1 "$target"
    runs_on "dump" ma-1 "$pid"
    untouched "dump" "$target" "$before"

    other=$WORK/img/unlabeled-target.bin
    content "$other" "somebody's unlabeled file"
    local before_other
    before_other=$(sum "$other")
    expect_deny "dump: onto an existing unlabeled file is refused" \
        "VM 'ma-1' ($MA): save: target $other exists and is neither a memory image of this VM nor labeled for its types; libvirt would overwrite it (write to a new file)" \
        on "$H" virsh dump ma-1 "$other" --memory-only
    runs_on "dump (unlabeled)" ma-1 "$pid"
    untouched "dump (unlabeled)" "$other" "$before_other"

    # managed save: its path is libvirt's; a link planted there points at
    # the underwriting file
    managed=/var/lib/libvirt/qemu/save/ma-1.save
    on "$H" sh -c "mkdir -p ${managed%/*} && ln -sfn '$target' $managed" || bail "cannot plant $managed"
    expect_deny "managedsave: through a link at the managed save path onto an underwriting file is refused" \
        "VM 'ma-1' ($MA): save: target $target has label underwriting, which shares no type with label market-analysis; libvirt would overwrite it" \
        on "$H" virsh managedsave ma-1
    runs_on "managedsave" ma-1 "$pid"
    untouched "managedsave" "$target" "$before"
    on "$H" rm -f "$managed"

    # permitted: a new file, then the VM's own earlier image
    img=$WORK/img/ma-1.save
    expect_ok "save: onto a new file is permitted" on "$H" virsh save ma-1 "$img"
    check_eq "save: ma-1 is shut off, its image recorded under market-analysis" \
        "shut off|market-analysis" "$(domstate "$H" ma-1)|$(record "$img" | jq -r .label)"
    expect_ok "restore: the image restores" on "$H" virsh restore "$img"
    expect_state "restore: ma-1 runs" "$H" ma-1 running
    expect_ok "save: onto ma-1's own earlier image is permitted" on "$H" virsh save ma-1 "$img"
    expect_ok "restore: the new image restores" on "$H" virsh restore "$img"
    check_eq "restore: ma-1 runs, QEMU resumed it" "running|VM status: running" \
        "$(domstate "$H" ma-1)|$(on "$H" virsh qemu-monitor-command ma-1 --hmp 'info status' 2>/dev/null | tr -d '\r' | sed '/^$/d')"

    # another VM of the same type onto ma-1's image: not its own
    local img_sum mpid
    img_sum=$(sum "$img")
    mpid=$(qemu_pid "$H" ma-m)
    expect_deny "save: ma-m onto ma-1's memory image (not its own, unlabeled) is refused" \
        "VM 'ma-m' ($MA): save: target $img exists and is neither a memory image of this VM nor labeled for its types; libvirt would overwrite it (write to a new file)" \
        on "$H" virsh save ma-m "$img"
    runs_on "save (ma-m)" ma-m "$mpid"
    untouched "save (ma-m)" "$img" "$img_sum"

    # an image rewritten in place (same file, same inode) since its save
    on "$H" virsh save ma-1 "$img" >/dev/null || bail "save ma-1"
    sha=$(record "$img" | jq -r .sha256)
    size=$(stat -c %s "$img")
    off=$((size / 2))
    byte=$(od -An -tu1 -j "$off" -N1 "$img" | tr -d ' ')
    printf "\\$(printf '%03o' $(( (byte + 1) % 256 )))" | dd of="$img" bs=1 seek="$off" conv=notrunc status=none
    check "restore: the image now differs from what was saved (a byte rewritten in place)" \
        test "$(sha256sum "$img" | cut -d' ' -f1)" != "$sha"
    expect_deny "restore: the rewritten image is refused" \
        "VM 'ma-1' ($MA): restore: memory image $img was rewritten since it was saved (its content is not what was saved, SHA-256 $sha); it is not restored under any label" \
        on "$H" virsh restore "$img"
    check_eq "restore: ma-1 is shut off, no QEMU process" "shut off|" \
        "$(domstate "$H" ma-1)|$(qemu_pid "$H" ma-1)"
}

# --- UNIX sockets a domain's memory or disks would be sent to, and an -----
# --- emulator given to an API ----------------------------------------------
sockets() {
    local pid sock detail before marker
    # (after migration: its records on host-b there are about --xml only)
    on "$H" virsh start ma-m >/dev/null || bail "start ma-m again on $H"
    pid=$(qemu_pid "$H" ma-m)
    sock=$WORK/sock/su-data.sock
    mkdir -p "$WORK/sock"
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock" ||
        bail "cannot make $sock"
    label "$H" "socket:$sock" underwriting
    label host-b "socket:$sock" underwriting

    detail="save: target $sock has label underwriting, which shares no type with label market-analysis; libvirt would send the VM's data there"
    # refused by the destination (its listening socket) or by the source
    before="$(deny_count "$H" ma-m)/$(deny_count host-b ma-m)"
    run migrate "$H" ma-m host-b --migrateuri "unix://$sock"
    if (( RC != 0 )) && deny_line "error: $(deny_msg ma-m market-analysis)" "$ERR" &&
        [[ "$(deny_count "$H" ma-m)/$(deny_count host-b ma-m)" != "$before" ]] &&
        { deny_audited host-b ma-m market-analysis "$detail" ||
          deny_audited "$H" ma-m market-analysis "$detail"; } >/dev/null; then
        pass "migrate --migrateuri unix:// onto an underwriting socket is refused"
    else
        fail "migrate --migrateuri unix:// onto an underwriting socket is refused" "got (exit $RC):" "$ERR"
    fi
    runs_on "migrate unix://" ma-m "$pid"
    check_eq "migrate unix://: host-b has no ma-m" "undefined" "$(domstate host-b ma-m)"

    printf "<domainbackup mode='pull'><server transport='unix' socket='%s'/></domainbackup>\n" \
        "$sock" >"$WORK/xml/pull.xml"
    expect_deny "backup-begin: a pull-mode backup served on an underwriting socket is refused" \
        "VM 'ma-m' ($MA): save: target $sock has label underwriting, which shares no type with label market-analysis; libvirt would send the VM's data there" \
        on "$H" virsh backup-begin ma-m "$WORK/xml/pull.xml"
    runs_on "backup-begin" ma-m "$pid"
    check "backup-begin: ma-m has no backup job" \
        sh -c "! '$DCBOX' exec $H virsh domjobinfo ma-m 2>/dev/null | grep -q Backup"

    # a client's emulator for domcapabilities: refused before libvirt runs it
    marker=$WORK/emulator-ran
    printf '#!/bin/sh\ntouch %s\nexec /usr/bin/qemu-system-x86_64 "$@"\n' "$marker" >"$WORK/fake-qemu"
    chmod +x "$WORK/fake-qemu"
    run on "$H" virsh domcapabilities --emulatorbin "$WORK/fake-qemu" --virttype qemu
    if (( RC != 0 )) &&
        deny_line "error: unsupported configuration: tvdc: emulator $WORK/fake-qemu " "$ERR" &&
        [[ $(audit "$H" '[.[] | select(.vm_name == null and .decision == "deny")] | last |
                         .detail | startswith($d)' \
                   --arg d "emulator: program '$WORK/fake-qemu' is not one tvdc allows") == true ]]; then
        pass "domcapabilities --emulatorbin of another program is refused"
    else
        fail "domcapabilities --emulatorbin of another program is refused" "got (exit $RC):" "$ERR"
    fi
    check "domcapabilities: the program never ran" test ! -e "$marker"
}

# --- migrate --xml that relabels the VM ---------------------------------------------
migration() {
    local pid err
    pid=$(qemu_pid "$H" ma-m)
    on "$H" virsh dumpxml --migratable ma-m >"$WORK/xml/ma-m-own.xml"
    sed -e "s|<label>market-analysis</label>|<label>public-web</label>|" \
        -e 's|name="market-analysis" types="MA"|name="public-web" types="WEB"|' \
        "$WORK/xml/ma-m-own.xml" >"$WORK/xml/ma-m-web.xml"
    check "migrate: the migration XML is relabeled public-web (seclabel and tvdc metadata)" \
        sh -c "grep -q '<label>public-web</label>' '$WORK/xml/ma-m-web.xml' && grep -q 'name=\"public-web\" types=\"WEB\"' '$WORK/xml/ma-m-web.xml'"
    run migrate "$H" ma-m host-b --xml "$WORK/xml/ma-m-web.xml"
    err=$(grep '^error:' <<<"$ERR" | head -1)
    if (( RC != 0 )) && grep -qF market-analysis <<<"$err" && grep -qF public-web <<<"$err" &&
        ! has_deny "$err"; then
        pass "migrate --xml relabeled public-web: refused by libvirt on the source, naming both labels"
        note "  $err"
    else
        fail "migrate --xml relabeled public-web: refused by libvirt on the source, naming both labels" \
            "got (exit $RC):" "$ERR"
    fi
    runs_on "migrate --xml" ma-m "$pid"
    check_eq "migrate --xml: host-b has no ma-m, no reservation, and never decided on it (no audit record)" \
        "undefined|0|0" \
        "$(domstate host-b ma-m)|$(status host-b '.reservations')|$(n=$(audit host-b '[.[] | select(.vm_name == "ma-m")] | length'); echo "${n:-0}")"
    check_eq "migrate --xml: ma-m's live XML still says market-analysis" "market-analysis" \
        "$(tvdc_label "$H" ma-m)"
    expect_ok "migrate --xml with its own migratable XML is permitted" \
        migrate "$H" ma-m host-b --xml "$WORK/xml/ma-m-own.xml"
    check_eq "migrate: ma-m runs on host-b as market-analysis, not on host-a" "running|market-analysis|shut off" \
        "$(domstate host-b ma-m)|$(tvdc_label host-b ma-m)|$(domstate "$H" ma-m)"
    on host-b virsh destroy ma-m >/dev/null 2>&1
}

# --- snapshot-revert to a relabeled snapshot ----------------------------------------
snapshots() {
    local q before
    q=$WORK/img/ma-s.qcow2
    qemu-img create -q -f qcow2 "$q" 16M || bail "qemu-img create"
    label "$H" "$q" dual-host
    define "$H" ma-s market-analysis \
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$q'/><target dev='vda' bus='virtio'/></disk>" \
        >/dev/null || bail "define ma-s"
    expect_ok "snapshot: an internal snapshot of ma-s (shut off) is made" \
        on "$H" virsh snapshot-create-as ma-s s1
    on "$H" virsh snapshot-dumpxml ma-s s1 | sed "s|<label>market-analysis</label>|<label>public-web</label>|" \
        >"$WORK/xml/ma-s-s1-web.xml"
    on "$H" virsh snapshot-delete ma-s s1 --metadata >/dev/null || bail "snapshot-delete --metadata"
    expect_ok "snapshot: s1 redefined with its domain relabeled public-web" \
        on "$H" virsh snapshot-create ma-s "$WORK/xml/ma-s-s1-web.xml" --redefine
    before=$(on "$H" virsh dumpxml --inactive ma-s | sha256sum | cut -c1-16)
    expect_error "snapshot-revert: to s1 (public-web) is refused, naming both labels" \
        "unsupported configuration: new domain definition changes the static security label of model 'tvdc' from 'market-analysis' to 'public-web'" \
        on "$H" virsh snapshot-revert ma-s s1
    check_eq "snapshot-revert: ma-s is shut off, its definition unchanged (market-analysis)" \
        "shut off|$before|market-analysis" \
        "$(domstate "$H" ma-s)|$(on "$H" virsh dumpxml --inactive ma-s | sha256sum | cut -c1-16)|$(tvdc_label "$H" ma-s --inactive)"
    expect_error "snapshot-revert --running: to s1 (public-web) is refused" \
        "unsupported configuration: new domain definition changes the static security label of model 'tvdc' from 'market-analysis' to 'public-web'" \
        on "$H" virsh snapshot-revert ma-s s1 --running
    check_eq "snapshot-revert --running: ma-s is not running, still market-analysis" \
        "shut off||market-analysis" \
        "$(domstate "$H" ma-s)|$(qemu_pid "$H" ma-s)|$(tvdc_label "$H" ma-s --inactive)"
    expect_ok "snapshot: a snapshot s2 under ma-s's own label is made" on "$H" virsh snapshot-create-as ma-s s2
    expect_ok "snapshot-revert: to s2 (market-analysis) is permitted" on "$H" virsh snapshot-revert ma-s s2
}

main() {
    local shared
    it_setup
    box_up --hosts 2 --policy "$BANK"
    # ma-1: its own disk, a market-analysis cdrom, a NIC on tvdc-MA
    define "$H" ma-1 market-analysis \
        "$(disk_xml "$(disk ma-1 "$H" market-analysis)")
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='$(disk ma-cd "$H" market-analysis)'/><target dev='hdc' bus='ide'/><readonly/></disk>
    <interface type='network'><mac address='$MAC'/><source network='tvdc-MA'/><model type='virtio'/></interface>" \
        >/dev/null || bail "define ma-1"
    # ma-m: on storage both hosts see, labeled dual-host on both
    shared=$(disk ma-m host-a dual-host)
    disk ma-m host-b dual-host >/dev/null
    define "$H" ma-m market-analysis "$(disk_xml "$shared")" >/dev/null || bail "define ma-m"
    on "$H" virsh start ma-1 >/dev/null || bail "start ma-1"
    on "$H" virsh start ma-m >/dev/null || bail "start ma-m"
    wait_console "$H" ma-1 "TVDC-GUEST READY" 180 || bail "ma-1 did not boot"
    wait_console "$H" ma-m "TVDC-GUEST READY" 180 || bail "ma-m did not boot"

    update_device
    disks
    monitor
    images
    migration
    sockets
    snapshots
    check_eq "audit: ma-1's refusals are recorded by operation and rule" \
        "hotplug network-share x3,hotplug no-shared-type x2,hotplug unlabeled-resource x4,monitor passthrough x3,restore image-content x1,save image-target x1,save no-shared-type x4" \
        "$(audit "$H" '[.[] | select(.vm_name == "ma-1" and .decision == "deny") | "\(.operation) \(.rule)"] | group_by(.) | map("\(.[0]) x\(length)") | join(",")' | tr -d '"')"
}

main "$@"
