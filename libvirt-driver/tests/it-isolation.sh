#!/bin/bash
# Integration test: the driver's allow-list on the XML paths a labeled VM
# could use to reach outside the policy, with real guests.  Each element is
# tried at define (virsh define: refused, nothing defined) and at start
# (virsh create of the same XML: refused, nothing runs, no QEMU process),
# and where a file of another type is named, that file is checked after the
# refusal: its content unchanged (known content written first) and no
# process holding it open.  Paths:
#   <qemu:commandline> -drive of an underwriting image;
#   <kernel> of another type, unlabeled, and relabeled after define;
#   OVMF <loader>/<nvram>: the NVRAM libvirt makes is bound to the VM and
#     label that made it: another VM naming it, or the same VM relabeled,
#     is refused at start, the NVRAM untouched; the VM itself starts again;
#     a <loader> of another type is refused;
#   <sysinfo type='fwcfg'> file, <interface><rom file> of another type;
#   <serial type='file'> onto another type's file, into an unlabeled
#     directory (both refused), into a market-analysis log directory
#     (permitted: the guest's console appears in it); a chardev <log file>
#     onto another type's file; the "own log" rule cannot reach the log
#     libvirt keeps for another VM whose name extends this VM's (fin-1.log
#     is not VM fin's);
#   <audio type='file'>; <rng> random backend file of another type, at
#     define and hotplugged into a running VM (refused, the live XML has no
#     rng; /dev/urandom is attached);
#   <input type='evdev'>, <tpm> passthrough, <smartcard mode='host'>,
#     an <emulator> that is not the host's QEMU (never run as the VM);
#   and a VM that uses several permitted elements at once (its own labeled
#     kernel, a labeled fw_cfg file, a labeled NIC ROM, the private
#     console) boots, with QEMU given those files.
#
#   bash libvirt-driver/tests/it-isolation.sh      (root; one box host)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
MA="label market-analysis, types MA"
NOSHARE="label market-analysis (types MA) shares no type with resource label underwriting (types SU)"
OVMF_CODE=/usr/share/OVMF/OVMF_CODE.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS.fd
NVRAM_DIR=/var/lib/libvirt/qemu/nvram
ROM_SRC=/usr/lib/ipxe/qemu/efi-virtio.rom

# vm_xml NAME LABEL DEVICES [KERNEL]: domain_xml into $WORK/xml/NAME.xml,
# with $OS_EXTRA added to <os>, $DOM_EXTRA to <domain>, $DOM_NS as
# attributes of <domain> and <emulator> set to $EMULATOR; prints the path
vm_xml() {
    local f=$WORK/xml/$1.xml
    domain_xml "$@" | awk -v os="${OS_EXTRA:-}" -v dom="${DOM_EXTRA:-}" -v ns="${DOM_NS:-}" \
                          -v emu="${EMULATOR:-}" '
        /^<domain / && ns != "" { sub(/>$/, " " ns ">") }
        /^<\/domain>/ && dom != "" { print dom }
        /<emulator>/ && emu != "" { sub(/<emulator>[^<]*</, "<emulator>" emu "<") }
        { print }
        /<type arch=/ && os != "" { print os }' >"$f"
    printf '%s\n' "$f"
}

# guarded FILE...: "PATH SUM" for each, to compare after a refusal
guarded() {
    local f
    for f in "$@"; do printf '%s=%s ' "$f" "$(sum "$f")"; done
}

# after_guard DESC BEFORE FILE...: each FILE unchanged since BEFORE and held
# by no process
after_guard() {
    local desc=$1 before=$2 f held=""
    shift 2
    check_eq "$desc: the other type's file is unchanged" "$before" "$(guarded "$@")"
    for f in "$@"; do held+=$(holders "$f"); done
    check_eq "$desc: no process holds it open" "" "$held"
}

# refused_xml DESC VM DETAIL XMLFILE [FILE...]: define and create (a
# transient start) of XMLFILE are both refused with DETAIL; nothing is
# defined, nothing runs, no QEMU of VM; each FILE is unchanged, not open
refused_xml() {
    local desc=$1 vm=$2 detail=$3 xml=$4 before
    shift 4
    before=$(guarded "$@")
    expect_deny "$desc: define refused" "VM '$vm' ($MA): $detail" on "$H" virsh define "$xml"
    if defined "$H" "$vm"; then
        fail "$desc: $vm is not defined" "$vm is in virsh list --all"
    else
        pass "$desc: $vm is not defined"
    fi
    expect_deny "$desc: create (start) refused" "VM '$vm' ($MA): $detail" on "$H" virsh create "$xml"
    check_eq "$desc: $vm does not run, no QEMU process of it" "undefined|" \
        "$(domstate "$H" "$vm")|$(qemu_pid "$H" "$vm")"
    (( $# == 0 )) || after_guard "$desc" "$before" "$@"
}

# content FILE TEXT: write TEXT into FILE (known content to compare later)
content() {
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" >"$1"
}

# --- <qemu:commandline>, <kernel> ----------------------------------------------
passthrough_and_kernel() {
    local su xml k
    su=$(disk su-data "$H" underwriting)
    content "$su" "underwriting data: not for market-analysis"
    xml=$(DOM_NS="xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'" \
          DOM_EXTRA="  <qemu:commandline><qemu:arg value='-drive'/><qemu:arg value='file=$su,format=raw,if=virtio'/></qemu:commandline>" \
          vm_xml x-qemucmd market-analysis "")
    refused_xml "<qemu:commandline> -drive of an underwriting image" x-qemucmd \
        "element <qemu:commandline> is not allowed for labeled domains" "$xml" "$su"

    mkdir -p "$WORK/kernel-su" "$WORK/kernel-unl" "$WORK/kernel-ma"
    cp "$KERNEL" "$WORK/kernel-su/vmlinuz" && cp "$KERNEL" "$WORK/kernel-unl/vmlinuz" &&
        cp "$KERNEL" "$WORK/kernel-ma/vmlinuz" || bail "cannot copy the kernel"
    label "$H" "$WORK/kernel-su/vmlinuz" underwriting
    label "$H" "$WORK/kernel-ma/vmlinuz" market-analysis
    k=$WORK/kernel-su/vmlinuz
    refused_xml "<kernel> labeled underwriting" x-kernel-su \
        "resource: kernel ($k): $NOSHARE" "$(vm_xml x-kernel-su market-analysis "" "$k")" "$k"
    k=$WORK/kernel-unl/vmlinuz
    refused_xml "<kernel> unlabeled" x-kernel-unl \
        "resource: kernel ($k) is not labeled" "$(vm_xml x-kernel-unl market-analysis "" "$k")" "$k"

    # a kernel relabeled after define: the start decides again
    k=$WORK/kernel-ma/vmlinuz
    expect_ok "<kernel> labeled market-analysis: ma-kern is defined" \
        on "$H" virsh define "$(vm_xml ma-kern market-analysis "" "$k")"
    label "$H" "$k" underwriting
    expect_deny "<kernel> relabeled underwriting after define: the start is refused" \
        "VM 'ma-kern' ($MA): resource: kernel ($k): $NOSHARE" on "$H" virsh start ma-kern
    check_eq "<kernel> relabeled: ma-kern is shut off, no QEMU process, nothing holds the kernel" \
        "shut off||" "$(domstate "$H" ma-kern)|$(qemu_pid "$H" ma-kern)|$(holders "$k")"
    label "$H" "$k" market-analysis
}

# --- OVMF: <loader>, <nvram> ----------------------------------------------------
nvram() {
    local os uuid nv nv_sum made rec
    label "$H" "$OVMF_CODE" dual-host
    label "$H" "$OVMF_VARS" dual-host
    os="    <loader readonly='yes' type='pflash'>$OVMF_CODE</loader>
    <nvram template='$OVMF_VARS'/>"
    expect_ok "nvram: ma-efi (OVMF, NVRAM from a dual-host template) is defined" \
        on "$H" virsh define "$(OS_EXTRA=$os vm_xml ma-efi market-analysis "")"
    nv=$NVRAM_DIR/ma-efi_VARS.fd
    check_eq "nvram: libvirt names its NVRAM $nv" "$nv" \
        "$(on "$H" virsh dumpxml --inactive ma-efi | sed -n "s|.*<nvram[^>]*>\(.*\)</nvram>.*|\1|p")"
    expect_ok "nvram: ma-efi starts (its NVRAM made afresh from the template)" on "$H" virsh start ma-efi
    uuid=$(on "$H" virsh domuuid ma-efi | sed '/^$/d')
    made=$(on "$H" sh -c "test -s $nv && echo made")
    rec=$(on "$H" sh -c 'cat /var/lib/tvdc/nvram/*.json 2>/dev/null' |
          jq -sc --arg p "$nv" 'map(select(.path == $p))[0] | "\(.vm_name) \(.vm_uuid) \(.label) \(.types)"')
    check_eq "nvram: the NVRAM exists, recorded as ma-efi's under market-analysis" \
        "made|\"ma-efi $uuid market-analysis MA\"" "$made|$rec"
    on "$H" virsh destroy ma-efi >/dev/null 2>&1
    nv_sum=$(on "$H" sha256sum "$nv" | cut -c1-16)

    # another VM naming ma-efi's NVRAM
    os="    <loader readonly='yes' type='pflash'>$OVMF_CODE</loader>
    <nvram template='$OVMF_VARS'>$nv</nvram>"
    expect_ok "nvram: ma-efi2 naming ma-efi's NVRAM is defined (decided at start)" \
        on "$H" virsh define "$(OS_EXTRA=$os vm_xml ma-efi2 market-analysis "")"
    expect_deny "nvram: ma-efi2 on ma-efi's NVRAM is refused at start" \
        "VM 'ma-efi2' ($MA): nvram: NVRAM $nv was made by VM 'ma-efi' ($uuid) under label market-analysis (types MA); it is not used by VM 'ma-efi2' under label market-analysis (types MA): remove it to start with a fresh one" \
        on "$H" virsh start ma-efi2
    check_eq "nvram: ma-efi2 is shut off, no QEMU; the NVRAM unchanged, held by nothing" \
        "shut off||$nv_sum|" \
        "$(domstate "$H" ma-efi2)|$(qemu_pid "$H" ma-efi2)|$(on "$H" sha256sum "$nv" | cut -c1-16)|$(holders "$nv")"

    # ma-efi itself relabeled public-web (same UUID, same NVRAM)
    on "$H" virsh dumpxml --inactive ma-efi | sed "s|<label>market-analysis</label>|<label>public-web</label>|" \
        >"$WORK/xml/ma-efi-web.xml"
    on "$H" virsh dumpxml --inactive ma-efi >"$WORK/xml/ma-efi-ma.xml"
    expect_ok "nvram: ma-efi redefined as public-web" on "$H" virsh define "$WORK/xml/ma-efi-web.xml"
    expect_deny "nvram: ma-efi relabeled public-web is refused at start" \
        "VM 'ma-efi' (label public-web, types WEB): nvram: NVRAM $nv was made by VM 'ma-efi' ($uuid) under label market-analysis (types MA); it is not used by VM 'ma-efi' under label public-web (types WEB): remove it to start with a fresh one" \
        on "$H" virsh start ma-efi
    check_eq "nvram: ma-efi (public-web) is shut off, no QEMU; the NVRAM unchanged" \
        "shut off||$nv_sum" \
        "$(domstate "$H" ma-efi)|$(qemu_pid "$H" ma-efi)|$(on "$H" sha256sum "$nv" | cut -c1-16)"
    on "$H" virsh define "$WORK/xml/ma-efi-ma.xml" >/dev/null || bail "redefine ma-efi"

    # firmware of another type
    local code=$WORK/fw/su-code.fd
    mkdir -p "$WORK/fw"
    cp "$OVMF_CODE" "$code" || bail "cannot copy $OVMF_CODE"
    label "$H" "$code" underwriting
    refused_xml "<loader> labeled underwriting" x-loader-su \
        "resource: loader ($code): $NOSHARE" \
        "$(OS_EXTRA="    <loader readonly='yes' type='pflash'>$code</loader>
    <nvram template='$OVMF_VARS'/>" vm_xml x-loader-su market-analysis "")" "$code"

    expect_ok "nvram: ma-efi as market-analysis again starts on its NVRAM" on "$H" virsh start ma-efi
    on "$H" virsh destroy ma-efi >/dev/null 2>&1
}

# fin_refused DESC DESC2 LOG SUM: VM fin (market-analysis) with its console
# in another VM's libvirt log LOG is refused (DESC), does not run and LOG
# keeps its checksum SUM (DESC2)
fin_refused() {
    expect_deny "$1" \
        "VM 'fin' ($MA): resource: serial 0 ($3) is not labeled, nor is its directory /var/log/libvirt/qemu" \
        on "$H" virsh create "$(vm_xml fin market-analysis "<serial type='file'><source path='$3'/></serial>")"
    check_eq "$2" "undefined|$4" "$(domstate "$H" fin)|$(on "$H" sha256sum "$3" | cut -c1-16)"
    on "$H" virsh destroy fin >/dev/null 2>&1
}

# --- fw_cfg, ROM, output files ---------------------------------------------------
files() {
    local f xml d
    f=$WORK/fw/su.bin
    content "$f" "underwriting firmware config"
    label "$H" "$f" underwriting
    xml=$(DOM_EXTRA="  <sysinfo type='fwcfg'><entry name='opt/org.tvdc/su' file='$f'/></sysinfo>" \
          vm_xml x-fwcfg market-analysis "")
    refused_xml "<sysinfo type='fwcfg'> file labeled underwriting" x-fwcfg \
        "resource: sysinfo fw_cfg entry 'opt/org.tvdc/su' ($f): $NOSHARE" "$xml" "$f"

    f=$WORK/rom/su.rom
    mkdir -p "$WORK/rom"
    cp "$ROM_SRC" "$f" || bail "cannot copy $ROM_SRC"
    label "$H" "$f" underwriting
    refused_xml "<interface><rom file> labeled underwriting" x-rom \
        "resource: interface 52:54:00:7e:00:01 ROM ($f): $NOSHARE" \
        "$(vm_xml x-rom market-analysis "<interface type='network'><mac address='52:54:00:7e:00:01'/><source network='tvdc-MA'/><model type='virtio'/><rom file='$f'/></interface>")" \
        "$f"

    f=$WORK/out/su-serial.log
    content "$f" "underwriting's log: market-analysis must not write here"
    label "$H" "$f" underwriting
    refused_xml "<serial type='file'> onto an underwriting file" x-serial-su \
        "resource: serial 0 ($f): $NOSHARE" \
        "$(vm_xml x-serial-su market-analysis "<serial type='file'><source path='$f'/></serial>")" "$f"

    d=$WORK/out-unl
    mkdir -p "$d"
    refused_xml "<serial type='file'> into an unlabeled directory" x-serial-unl \
        "resource: serial 0 ($d/x.log) is not labeled, nor is its directory $d" \
        "$(vm_xml x-serial-unl market-analysis "<serial type='file'><source path='$d/x.log'/></serial>")"
    check "<serial type='file'> into an unlabeled directory: the file was not made" test ! -e "$d/x.log"

    f=$WORK/out/su-audio.wav
    content "$f" "underwriting's recording"
    label "$H" "$f" underwriting
    refused_xml "<audio type='file'> onto an underwriting file" x-audio \
        "resource: audio 1 ($f): $NOSHARE" \
        "$(vm_xml x-audio market-analysis "<sound model='ich6'><audio id='1'/></sound><audio id='1' type='file' path='$f'/>")" \
        "$f"

    f=$WORK/out/su-rng
    content "$f" "underwriting's entropy"
    label "$H" "$f" underwriting
    refused_xml "<rng> random backend on an underwriting file" x-rng \
        "resource: rng 0 ($f): $NOSHARE" \
        "$(vm_xml x-rng market-analysis "<rng model='virtio'><backend model='random'>$f</backend></rng>")" "$f"

    # permitted: a serial file in a market-analysis log directory
    d=$WORK/logs-ma
    mkdir -p "$d"
    label "$H" "$d" market-analysis
    expect_ok "<serial type='file'> in a market-analysis log directory: ma-serial starts" \
        on "$H" virsh create "$(vm_xml ma-serial market-analysis "<serial type='file'><source path='$d/ma-serial.log'/></serial>")"
    local i
    for (( i = 0; i < 600; i++ )); do
        grep -qF "TVDC-GUEST READY" "$d/ma-serial.log" 2>/dev/null && break
        sleep 0.2
    done
    check_eq "<serial type='file'> permitted: ma-serial runs, its console (ttyS0) is in $d/ma-serial.log" \
        "running|yes" \
        "$(domstate "$H" ma-serial)|$(grep -qF "TVDC-GUEST READY" "$d/ma-serial.log" 2>/dev/null && echo yes)"
    on "$H" virsh destroy ma-serial >/dev/null 2>&1

    # a chardev's <log file> onto another type's file
    f=$WORK/out/su-chardev.log
    content "$f" "underwriting's chardev log"
    label "$H" "$f" underwriting
    refused_xml "<serial><log file> onto an underwriting file" x-chrlog \
        "resource: serial 0 log ($f): $NOSHARE" \
        "$(vm_xml x-chrlog market-analysis "<serial type='pty'><log file='$f' append='on'/></serial>")" "$f"

    # "the domain's own log" is /var/log/libvirt/qemu/NAME-WORD.log: a VM
    # named fin must not get fin-1.log, the log libvirt keeps for VM fin-1
    # (underwriting)
    local victim=/var/log/libvirt/qemu/fin-1.log before
    on "$H" virsh define "$(vm_xml fin-1 underwriting "")" >/dev/null || bail "define fin-1"
    on "$H" virsh start fin-1 >/dev/null || bail "start fin-1"
    on "$H" virsh destroy fin-1 >/dev/null 2>&1
    before=$(on "$H" sha256sum "$victim" | cut -c1-16)
    [[ -n $before ]] || bail "libvirt kept no log $victim for fin-1"
    fin_refused "private log: VM fin (market-analysis) may not write $victim, VM fin-1's (underwriting) log" \
        "private log: fin does not run; fin-1's log is unchanged" "$victim" "$before"
    # the other order: gin (market-analysis) writes gin-1.log while no gin-1
    # exists; then a VM gin-1 (public-web) is defined and started, whose
    # libvirt log that is: gin's output must not become gin-1's log
    local glog=/var/log/libvirt/qemu/gin-1.log i
    expect_ok "private log: gin (market-analysis) runs with its console in $glog (no gin-1 exists)" \
        on "$H" virsh create "$(vm_xml gin market-analysis "<serial type='file'><source path='$glog'/></serial>")"
    for (( i = 0; i < 600; i++ )); do
        on "$H" grep -qF "TVDC-GUEST READY" "$glog" 2>/dev/null && break
        sleep 0.2
    done
    # (while gin runs, virtlogd holds the file and gin-1's start fails)
    on "$H" virsh destroy gin >/dev/null 2>&1
    run on "$H" virsh define "$(vm_xml gin-1 public-web "")"
    (( RC != 0 )) || run on "$H" virsh start gin-1
    check_eq "private log: gin-1 (public-web) does not run with gin's (market-analysis) console as its libvirt log" \
        "no" \
        "$([[ $(domstate "$H" gin-1) == running ]] && on "$H" grep -qF "TVDC-GUEST READY" "$glog" && echo yes || echo no)"
    note "  gin-1: $(domstate "$H" gin-1)${ERR:+; $ERR}"
    on "$H" virsh destroy gin-1 >/dev/null 2>&1
    on "$H" virsh destroy gin >/dev/null 2>&1

    # fin-1 undefined: libvirt keeps its log, which is still not fin's
    on "$H" virsh undefine fin-1 >/dev/null || bail "undefine fin-1"
    fin_refused "private log: after fin-1 is undefined, its log (kept by libvirt) is still not fin's" \
        "private log: fin does not run; the former fin-1's log is unchanged" "$victim" "$before"
}

# --- host devices and programs -------------------------------------------------------
host_elements() {
    refused_xml "<input type='evdev'>" x-evdev \
        "input: element <input type='evdev'> is not allowed for labeled domains (host input device '/dev/input/event0')" \
        "$(vm_xml x-evdev market-analysis "<input type='evdev'><source dev='/dev/input/event0'/></input>")"
    refused_xml "<tpm> passthrough" x-tpm \
        "tpm: element <tpm><backend type='passthrough'> is not allowed for labeled domains (the host's TPM)" \
        "$(vm_xml x-tpm market-analysis "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>")"
    refused_xml "<smartcard mode='host'>" x-smartcard \
        "smartcard: element <smartcard mode='host'> is not allowed for labeled domains (the host's smartcard readers and certificates)" \
        "$(vm_xml x-smartcard market-analysis "<smartcard mode='host'/>")"

    # an emulator that is not the host's QEMU: a wrapper that would run it
    # and says so
    mkdir -p "$WORK/bin"
    cat >"$WORK/bin/qemu-system-x86_64" <<EOF
#!/bin/sh
echo "uid=\$(id -u): \$*" >>$WORK/emulator-runs
exec /usr/bin/qemu-system-x86_64 "\$@"
EOF
    chmod 0755 "$WORK/bin/qemu-system-x86_64"
    local xml n_define
    xml=$(EMULATOR=$WORK/bin/qemu-system-x86_64 vm_xml x-emu market-analysis "")
    run on "$H" virsh define "$xml"     # refused as below; who ran the program?
    n_define=$(cat "$WORK/emulator-runs" 2>/dev/null | wc -l)
    refused_xml "<emulator> not the host's QEMU" x-emu \
        "emulator: program '$WORK/bin/qemu-system-x86_64' is not one tvdc allows (/usr/bin/qemu-system-*, /usr/bin/kvm, /usr/libexec/qemu-kvm)" \
        "$xml"
    check_eq "<emulator>: the program never ran as the VM's QEMU" "0" \
        "$(cat "$WORK/emulator-runs" 2>/dev/null | grep -c 'guest=x-emu')"
    check_eq "<emulator>: the program never ran at all (not even to probe it)" "0" \
        "$(cat "$WORK/emulator-runs" 2>/dev/null | wc -l)"
    [[ ! -s $WORK/emulator-runs ]] ||
        { note "the first refused define ran it $n_define time(s), then define and create $(( $(wc -l <"$WORK/emulator-runs") - n_define )) more:"
          sed 's/^/#   /' "$WORK/emulator-runs"; }
}

# --- a permitted VM with several allowed elements, and rng hotplug ---------------------
permitted() {
    local k=$WORK/kernel-ma/vmlinuz fw=$WORK/fw/ma.bin rom=$WORK/rom/ma.rom pid cmd f xml got
    content "$fw" "market-analysis firmware config"
    label "$H" "$fw" market-analysis
    cp "$ROM_SRC" "$rom" || bail "cannot copy $ROM_SRC"
    label "$H" "$rom" market-analysis
    xml=$(DOM_EXTRA="  <sysinfo type='fwcfg'><entry name='opt/org.tvdc/ma' file='$fw'/></sysinfo>" \
          vm_xml ma-ok market-analysis \
          "<interface type='network'><mac address='52:54:00:7e:00:09'/><source network='tvdc-MA'/><model type='virtio'/><rom file='$rom'/></interface>" \
          "$k")
    expect_ok "permitted: ma-ok (own market-analysis kernel, fw_cfg file, NIC ROM, private console) is defined" \
        on "$H" virsh define "$xml"
    expect_ok "permitted: ma-ok starts" on "$H" virsh start ma-ok
    if wait_console "$H" ma-ok "TVDC-GUEST READY" 180; then
        pass "permitted: ma-ok boots (TVDC-GUEST READY on its console)"
    else
        fail "permitted: ma-ok boots (TVDC-GUEST READY on its console)" \
            "$(on "$H" tail -5 /var/log/libvirt/qemu/ma-ok-console.log 2>&1)"
    fi
    pid=$(qemu_pid "$H" ma-ok)
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
    got=""
    [[ $cmd == *"-kernel $k "* ]] && got+="kernel "
    [[ $cmd == *"file=$fw"* ]] && got+="fw_cfg "
    [[ $cmd == *romfile*"$rom"* ]] && got+="rom"
    check_eq "permitted: QEMU was given the kernel, the fw_cfg file and the ROM" "kernel fw_cfg rom" "$got"

    # rng hotplug into the running VM
    f=$WORK/out/su-rng
    printf "<rng model='virtio'><backend model='random'>%s</backend></rng>\n" "$f" >"$WORK/xml/rng-su.xml"
    printf "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n" >"$WORK/xml/rng-urandom.xml"
    local before
    before=$(guarded "$f")
    expect_deny "hotplug: an rng on an underwriting file is refused" \
        "VM 'ma-ok' ($MA): resource: rng 0 ($f): $NOSHARE" \
        on "$H" virsh attach-device ma-ok "$WORK/xml/rng-su.xml" --live
    check_eq "hotplug: ma-ok runs (same QEMU), its live XML has no rng" "running|$pid|0" \
        "$(domstate "$H" ma-ok)|$(qemu_pid "$H" ma-ok)|$(on "$H" virsh dumpxml ma-ok | grep -c '<rng ')"
    after_guard "hotplug: rng" "$before" "$f"
    expect_ok "hotplug: an rng on /dev/urandom is attached" \
        on "$H" virsh attach-device ma-ok "$WORK/xml/rng-urandom.xml" --live
    check_eq "hotplug: ma-ok's live XML has the /dev/urandom rng" "1" \
        "$(on "$H" virsh dumpxml ma-ok | grep -c '<backend model=.random.>/dev/urandom</backend>')"
    on "$H" virsh destroy ma-ok >/dev/null 2>&1
}

main() {
    it_setup
    [[ -r $OVMF_CODE && -r $OVMF_VARS ]] || bail "OVMF is missing ($OVMF_CODE, $OVMF_VARS)"
    [[ -r $ROM_SRC ]] || bail "$ROM_SRC is missing (ipxe-qemu)"
    box_up --hosts 1 --policy "$BANK"

    passthrough_and_kernel
    files
    host_elements
    nvram
    permitted
    check_eq "audit: each refused VM's denials are recorded with their rule, none of them permitted" \
        "x-audio no-shared-type,x-chrlog no-shared-type,x-emu element-not-allowed,x-evdev element-not-allowed,x-fwcfg no-shared-type,x-kernel-su no-shared-type,x-kernel-unl unlabeled-resource,x-loader-su no-shared-type,x-qemucmd element-not-allowed,x-rng no-shared-type,x-rom no-shared-type,x-serial-su no-shared-type,x-serial-unl unlabeled-resource,x-smartcard element-not-allowed,x-tpm element-not-allowed|0" \
        "$(audit "$H" '[.[] | select(.vm_name | startswith("x-")) | select(.decision == "deny") | "\(.vm_name) \(.rule)"] | unique | join(",")' | tr -d '"')|$(audit "$H" '[.[] | select(.vm_name | startswith("x-")) | select(.decision != "deny")] | length')"
    check_eq "no guest is left running" "" "$(running "$H")"
}

main "$@"
