# shellcheck shell=bash
# Shared helpers of the tvdc driver's integration tests (it-*.sh), over the
# TAP library ci/tests/tap.sh (sourced here: pass, fail, check, run,
# expect_ok, ... and the options, locale and exit status of every test): a
# private datacenter in a box (ci/dcbox) per script, guests, and the checks
# of libvirt's answers.  Source it, then:
#
#   it_setup                      root, tvdc, jq; private box state
#   box_up [dcbox up ARGS...]     bring up this script's box
#   on HOST CMD...                run CMD inside HOST
#   restart_libvirtd HOST [DRIVER]  stop HOST's libvirtd (by pid), start it
#                                 again with security_driver DRIVER (default:
#                                 as the box was brought up); also in two
#                                 steps: stop_libvirtd HOST, start_libvirtd
#   install_policy HOST JSON      compile JSON into HOST's /etc/tvdc/policy.bin
#                                 (and label_boot HOST JSON)
#   label_boot HOST JSON          label the box's guest kernel and initrd in
#                                 HOST's store with JSON's label of all types
#                                 (box_up --policy does it on every host)
#   disk NAME HOST LABEL          a 1 MiB raw image, labeled LABEL in HOST's
#                                 store ("" = unlabeled); prints its path
#   domain_xml NAME LABEL [DEVICES] [KERNEL] > FILE
#   define HOST NAME LABEL [DEVICES] [KERNEL]
#   expect_error DESC MESSAGE CMD...  virsh fails with "error: MESSAGE"
#   expect_deny DESC "VM 'NAME' (SUBJECT): DETAIL" CMD...
#                                 tvdc refuses NAME: virsh's error is tvdc's
#                                 message for NAME, the audit record DETAIL
#   expect_refusal DESC PREFIX MATCH "VM 'NAME' (SUBJECT): DETAIL" CMD...
#                                 the same, for another error code or a
#                                 DETAIL that is a regular expression
#   deny_line, deny_msg, deny_count, deny_audited
#                                 the two halves of a refusal (for the
#                                 checks that match it some other way)
#   expect_state DESC HOST VM STATE   virsh domstate
#   audit HOST JQ-FILTER [JQ-ARGS...]  the audit records of HOST selected by
#                                 a jq filter over the array (tvdc audit
#                                 --json)
#   status HOST JQ-FILTER         HOST's tvdc status --json through jq
#   sum FILE, holders PATH, qemu_pid HOST VM   a file's checksum, who holds it
#                                 open, a VM's QEMU pid (outcome checks)
#   console HOST VM, wait_lines HOST VM PATTERN N, wait_boots HOST VM N
#                                 a guest's serial console (domain_xml's), and
#                                 waiting for what it prints
#
# Environment: TVDC_ROOT (the repository; default: from this file's place),
# TVDC_IT_KEEP=1 keeps the work directory (box logs, XML) even on success.
# Without root or tvdc the script is skipped (1..0 # SKIP); IT_NO_TVDC=1
# before it_setup: a script that runs tvdc only inside its hosts' root.

# shellcheck disable=SC2034  # used by the it-*.sh scripts
IT_NAME=$(basename "$0" .sh)
TVDC_ROOT=${TVDC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export TVDC_ROOT
# shellcheck source=ci/tests/tap.sh
. "$TVDC_ROOT/ci/tests/tap.sh"
DCBOX=$TVDC_ROOT/ci/dcbox
IT_POLICIES=$TVDC_ROOT/libvirt-driver/tests/policies
BANK=$TVDC_ROOT/labels/examples/bank.json
CONFLICT_SET=chinese-wall

it_started=$(date +%s%3N)
BOX_HOSTS=0
BOX_DRIVER=""
it_ups=0
it_reapers=()

# ---------------------------------------------------------------------------
# The box

it_setup() {
    [[ $(id -u) -eq 0 ]] || skip_all "$IT_NAME needs root"
    # IT_NO_TVDC=1: the script runs tvdc only inside its hosts (it-install.sh)
    [[ -n ${IT_NO_TVDC:-} ]] || command -v tvdc >/dev/null ||
        skip_all "no tvdc on PATH (ninja -C build install)"
    command -v jq >/dev/null || bail "jq is missing (ci/deps build)"
    WORK=$(mktemp -d "/tmp/tvdc-$IT_NAME.XXXXXX") || bail "mktemp"
    chmod 0755 "$WORK"
    mkdir -p "$WORK/img" "$WORK/xml" "$WORK/run"
    export TVDC_DCBOX_STATE=$WORK/box TVDC_DCBOX_LOGS=$WORK/logs
    at_exit it_cleanup
    local image
    image=$("$DCBOX" image 2>"$WORK/image.log") || bail "ci/dcbox image failed: $(tail -3 "$WORK/image.log")"
    KERNEL=${image#kernel=}
    KERNEL=${KERNEL%% initrd=*}
    INITRD=${image##* initrd=}
    [[ -r $KERNEL && -r $INITRD ]] || bail "guest image not readable: $image"
    # Boot files are resources (libvirt-driver/README.md): labeled VMs boot
    # the box image, labeled in each host's store by label_boot; unlabeled
    # VMs boot unlabeled copies of it.
    mkdir -p "$WORK/boot"
    cp "$KERNEL" "$WORK/boot/vmlinuz" && cp "$INITRD" "$WORK/boot/initrd.img" ||
        bail "cannot copy the guest image to $WORK/boot"
    note "$IT_NAME: work directory $WORK"
}

it_cleanup() {
    local host log
    if [[ -d ${TVDC_DCBOX_STATE:-/nonexistent} ]]; then
        "$DCBOX" down >>"$WORK/dcbox.log" 2>&1 || note "warning: ci/dcbox down failed (see $WORK/dcbox.log)"
    fi
    kill_leftovers
    # The kernel tears the box's namespaces down in the background: wait for
    # it here, so that this test pays for it and the next box starts quickly.
    wait_for_namespaces "after ci/dcbox down"
    if (( TAP_RC != 0 || tap_failed != 0 )); then
        for log in "$WORK"/logs/*/libvirtd.log; do
            [[ -f $log ]] || continue
            host=$(basename "$(dirname "$log")")
            note "$host libvirtd.log, last tvdc lines:"
            grep -a 'tvdc' "$log" | tail -8 | sed 's/^/#   /'
        done
    fi
    note "$IT_NAME: $(( ($(date +%s%3N) - it_started) / 1000 )) s"
    if (( TAP_RC != 0 || tap_failed != 0 )) || [[ -n ${TVDC_IT_KEEP:-} ]]; then
        note "kept $WORK (box logs in $WORK/logs)"
    else
        rm -rf "$WORK"
    fi
}

# Our subreapers leave once the box's last process is gone.  What is still
# below one after ci/dcbox down is a leftover of this box (e.g. a namespace
# holder that started after ci/dcbox had given up on it): stop it, by pid.
kill_leftovers() {
    local pid child
    for pid in "${it_reapers[@]}"; do
        reap_wait "$pid" 50 && continue
        for child in $(ps -o pid= --ppid "$pid"); do
            note "killing leftover of the box: $(tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null) (pid $child)"
            kill -KILL "$child" 2>/dev/null
        done
        reap_wait "$pid" 20 || kill "$pid" 2>/dev/null
    done
    it_reapers=()
}

reap_wait() {       # reap_wait PID TENTHS: PID exits within TENTHS/10 s
    local i
    for (( i = 0; i < $2; i++ )); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# Creating a network namespace blocks while the kernel tears down others
# (a box that just went down, another user's): ci/dcbox gives a namespace
# holder 5 s.  Wait here until creating one is quick again.
wait_for_namespaces() {
    local t0=$EPOCHREALTIME t1
    timeout 300 unshare -m -n -u true || { note "cannot create namespaces (unshare)"; return 1; }
    t1=$EPOCHREALTIME
    (( ${t1/./} - ${t0/./} < 1000000 )) ||
        note "creating a network namespace took $(( (${t1/./} - ${t0/./}) / 1000 )) ms${1:+ $1}"
}

# dcbox_up ARGS...: ci/dcbox up ARGS under a subreaper of ours
# (subreaper.py: pid 1 of these machines reaps late, which made every virsh
# destroy take 1.7 s), so that the daemons it starts and their guests are
# reaped at once.  Waits for up, not for the daemons; output to dcbox.log.
# One retry: up is idempotent, and boxes of other users share the QEMU
# capability cache that up rewrites (a concurrent rewrite fails one of them).
dcbox_up() {
    dcbox_up_once "$@" && return 0
    note "ci/dcbox up $* failed once, retrying: $(tail -1 "$WORK/dcbox.log")"
    dcbox_up_once "$@"
}

dcbox_up_once() {
    local st=$WORK/run/up.$((++it_ups)) pid
    rm -f "$st"
    wait_for_namespaces || return 1
    python3 "$TVDC_ROOT/libvirt-driver/tests/subreaper.py" "$st" "$DCBOX" up "$@" \
        </dev/null >>"$WORK/dcbox.log" 2>&1 &
    pid=$!
    it_reapers+=("$pid")
    while [[ ! -s $st ]]; do
        kill -0 "$pid" 2>/dev/null || { [[ -s $st ]] && break; return 1; }
        sleep 0.05
    done
    return "$(<"$st")"
}

# box_up [--hosts N] [--policy FILE] [--security-driver LIST]
box_up() {
    local args=("$@") i h letters=(a b c d e f g h)
    BOX_HOSTS=2 BOX_DRIVER=""
    for (( i = 0; i < ${#args[@]}; i++ )); do
        case ${args[i]} in
            --hosts) BOX_HOSTS=${args[i+1]} ;;
            --security-driver) BOX_DRIVER=${args[i+1]} ;;
        esac
    done
    if ! dcbox_up_once "$@"; then
        # A first up that failed half-way (see wait_for_namespaces) may leave
        # a holder behind that up would take for a complete one: start afresh.
        note "ci/dcbox up $* failed, retrying from scratch: $(tail -1 "$WORK/dcbox.log")"
        "$DCBOX" down >>"$WORK/dcbox.log" 2>&1
        kill_leftovers
        dcbox_up_once "$@" || bail "ci/dcbox up $* failed: $(tail -5 "$WORK/dcbox.log")"
    fi
    for (( i = 0; i < ${#args[@]}; i++ )); do
        [[ ${args[i]} == --policy ]] || continue
        for (( h = 0; h < BOX_HOSTS; h++ )); do
            label_boot "host-${letters[h]}" "${args[i+1]}"
        done
    done
}

# boot_label POLICY.json: the first label of all the policy's types, which
# the box's guest kernel and initrd carry (the normal case for a shared
# distribution kernel: every TVD boots it)
boot_label() {
    jq -r '(.types | sort) as $t | [.labels[] | select((.types | sort) == $t) | .name][0] // empty' "$1"
}

# label_boot HOST POLICY.json: label the box image in HOST's store
label_boot() {
    local l
    l=$(boot_label "$2")
    [[ -n $l ]] || bail "policy $2 has no label of all its types for the guest kernel"
    label "$1" "$KERNEL" "$l"
    label "$1" "$INITRD" "$l"
}

on() {
    "$DCBOX" exec "$@"
}

host_libvirtd_pid() {
    cat "$TVDC_DCBOX_STATE/$1/libvirtd.pid" 2>/dev/null
}

# ci/dcbox has no restart command: stop_libvirtd stops the host's libvirtd
# by the pid in the box's state and waits for it to exit; start_libvirtd
# lets `ci/dcbox up` (idempotent) start what is missing.  up rewrites
# qemu.conf of a host whose libvirtd is down (with --security-driver DRIVER,
# default: as the box was brought up) and keeps tvdc.conf, the policy, the
# resource store and the guests.
stop_libvirtd() {
    local host=$1 pid i
    pid=$(host_libvirtd_pid "$host") || bail "$host: no libvirtd pid file"
    kill -TERM "$pid" 2>/dev/null || bail "$host: cannot signal libvirtd $pid"
    for (( i = 0; i < 300; i++ )); do
        [[ -e /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || break
        sleep 0.1
    done
    (( i < 300 )) || bail "$host: libvirtd $pid did not exit within 30 s"
    IT_STOPPED_PID=$pid
}

start_libvirtd() {
    local host=$1 driver=${2:-$BOX_DRIVER} args=(--hosts "$BOX_HOSTS") new
    [[ -z $driver ]] || args+=(--security-driver "$driver")
    dcbox_up "${args[@]}" ||
        bail "$host: ci/dcbox up did not start libvirtd: $(tail -3 "$WORK/dcbox.log")"
    new=$(host_libvirtd_pid "$host")
    [[ -n $new && $new != "${IT_STOPPED_PID:-}" ]] || bail "$host: libvirtd was not restarted"
}

restart_libvirtd() {
    stop_libvirtd "$1"
    start_libvirtd "$@"
}

install_policy() {
    on "$1" tvdc policy compile "$2" --output /etc/tvdc/policy.bin >/dev/null ||
        bail "$1: cannot compile $2"
    label_boot "$1" "$2"
}

# write_tvdc_conf HOST < CONTENT: HOST's /etc/libvirt/tvdc.conf (read when
# libvirtd starts).
write_tvdc_conf() {
    on "$1" sh -c 'cat >/etc/libvirt/tvdc.conf'
}

# ---------------------------------------------------------------------------
# Guests and resources

# disk NAME HOST LABEL: create $WORK/img/NAME.img, label it (LABEL "" leaves
# it unlabeled), print the path.  /tmp is the machine's own, so every host
# of the box sees the file; the store is per host.
disk() {
    local path=$WORK/img/$1.img
    [[ -e $path ]] || truncate -s 1M "$path"
    if [[ -n $3 ]]; then
        on "$2" tvdc label set "$path" "$3" >/dev/null || bail "$2: cannot label $path $3"
    fi
    printf '%s\n' "$path"
}

# label HOST RESOURCE LABEL
label() {
    on "$1" tvdc label set "$2" "$3" >/dev/null || bail "$1: tvdc label set $2 $3 failed"
}

disk_xml() {        # disk_xml PATH [TARGET] [DEVICE]
    local dev=${3:-disk} bus=virtio ro=""
    if [[ $dev == cdrom ]]; then
        bus=sata ro="<readonly/>"
    fi
    printf "<disk type='file' device='%s'><driver name='qemu' type='raw'/><source file='%s'/><target dev='%s' bus='%s'/>%s</disk>\n" \
        "$dev" "$1" "${2:-vda}" "$bus" "$ro"
}

# domain_xml NAME LABEL [DEVICES] [KERNEL]: a 96 MiB TCG guest booting the
# box image; LABEL "" is an unlabeled VM; ACPI for PCI hotplug.  The serial
# console goes to a file (one per VM) so that a test can see the guest boot.
# $GUEST_ARGS is added to the guest's kernel command line (tvdc.ip=...,
# tvdc.ping=...: see ci/guest/init).
domain_xml() {
    local name=$1 label=$2 devices=${3:-} kernel=${4:-$KERNEL} initrd=$INITRD
    if [[ -z $label ]]; then
        kernel=${4:-$WORK/boot/vmlinuz} initrd=$WORK/boot/initrd.img
    fi
    cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$kernel</kernel>
    <initrd>$initrd</initrd>
    <cmdline>console=ttyS0 quiet${GUEST_ARGS:+ $GUEST_ARGS}</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    $devices
    <serial type='file'><source path='/var/log/libvirt/qemu/$name-console.log'/></serial>
    <memballoon model='none'/>
  </devices>
EOF
    [[ -z $label ]] || cat <<EOF
  <seclabel type='static' model='tvdc' relabel='no'>
    <label>$label</label>
  </seclabel>
EOF
    echo "</domain>"
}

# define HOST NAME LABEL [DEVICES] [KERNEL]: virsh define on HOST (output
# and status as virsh's)
define() {
    local host=$1 name=$2
    domain_xml "$name" "${@:3}" >"$WORK/xml/$name.xml"
    on "$host" virsh define "$WORK/xml/$name.xml"
}

# ---------------------------------------------------------------------------
# Checks

# expect_error DESC MESSAGE CMD...: CMD fails and virsh's stderr has the
# line "error: MESSAGE" exactly.
expect_error() {
    local desc=$1 msg=$2
    shift 2
    run "$@"
    if (( RC == 0 )); then
        fail "$desc" "succeeded: $*" "$OUT"
    elif grep -qxF -- "error: $msg" <<<"$ERR"; then
        pass "$desc"
    else
        fail "$desc" "expected: error: $msg" "got (exit $RC):" "$ERR"
    fi
}

# A refusal by tvdc is checked in two halves.  virsh says it in one line,
# tvdc's message for the rule (translatable: only its start, which names
# the domain and its label, is matched here), after libvirt's prefix for
# the error code:
#   error: unsupported configuration: tvdc: domain 'NAME' (label X) may not use ...
# and the English detail, which names every reason, is in the tvdc audit
# record of the host that refused it.  Expectations are written
# "VM 'NAME' (SUBJECT): DETAIL", SUBJECT as the log line says it ("label X,
# types Y", "label X" or "unlabeled").  Every check of a refusal goes
# through these helpers, so that a new wording is one edit here.

# deny_text NAME LABEL: how tvdc's message of a refusal of domain NAME with
# label LABEL ("": unlabeled) starts
deny_text() {
    if [[ -n $2 ]]; then
        printf "tvdc: domain '%s' (label %s) \n" "$1" "$2"
    else
        printf "tvdc: domain '%s' (unlabeled) \n" "$1"
    fi
}

# deny_msg NAME LABEL [PREFIX]: how virsh's message (after "error: ") of a
# refusal starts: libvirt's PREFIX for the error code (default: "unsupported
# configuration", VIR_ERR_CONFIG_UNSUPPORTED), then tvdc's message
deny_msg() {
    printf '%s: %s\n' "${3:-unsupported configuration}" "$(deny_text "$1" "$2")"
}

# has_deny TEXT: TEXT holds a refusal by tvdc (of any rule)
has_deny() {
    grep -qE -- "tvdc: (domain '|emulator )" <<<"$1"
}

# deny_parse "VM 'NAME' (SUBJECT): DETAIL": DENY_VM, DENY_LABEL (SUBJECT's
# label, "" when unlabeled) and DENY_DETAIL; 1 when it is not of that form
deny_parse() {
    local re="^VM '([^']*)' \\(([^)]*)\\): (.*)\$"
    [[ $1 =~ $re ]] || return 1
    DENY_VM=${BASH_REMATCH[1]}
    DENY_DETAIL=${BASH_REMATCH[3]}
    DENY_LABEL=""
    if [[ ${BASH_REMATCH[2]} != unlabeled ]]; then
        DENY_LABEL=${BASH_REMATCH[2]#label }
        DENY_LABEL=${DENY_LABEL%%,*}
    fi
}

# deny_line START TEXT: TEXT (virsh's stderr) has one error line by tvdc,
# and it starts with START
deny_line() {
    [[ $(grep -c '^error: .*tvdc: ' <<<"$2") == 1 ]] &&
        awk -v m="$1" 'index($0, m) == 1 { found = 1 } END { exit !found }' <<<"$2"
}

# deny_count HOST NAME: how many refusals of domain NAME HOST has audited
deny_count() {
    audit "$1" '[.[] | select(.vm_name == $vm and .decision == "deny")] | length' \
        --arg vm "$2"
}

# deny_audited HOST NAME LABEL DETAIL [re]: HOST's newest audit record of a
# refusal of domain NAME has label LABEL ("": none) and detail DETAIL (with
# "re": an extended regular expression the whole detail matches); else
# prints that record and returns 1
deny_audited() {
    local rec
    rec=$(audit "$1" '[.[] | select(.vm_name == $vm and .decision == "deny")] | last' \
        --arg vm "$2")
    if jq -e --arg l "$3" --arg d "$4" --arg m "${5:-}" \
        '.label == (if $l == "" then null else $l end) and
         (if $m == "re" then (.detail // "" | test("^(" + $d + ")$")) else .detail == $d end)' <<<"$rec" >/dev/null 2>&1; then
        return 0
    fi
    printf 'newest audited refusal of %s on %s: %s\n' "$2" "$1" "${rec:-none}"
    return 1
}

# deny_host CMD...: the host whose audit records a refusal by CMD is in:
# HOST of "on HOST ..." and "define HOST ...", DST of "migrate SRC VM DST
# ..." (it-migrate.sh: the destination decides); nothing for other commands
deny_host() {
    case $1 in
        on|define) printf '%s\n' "$2" ;;
        migrate) printf '%s\n' "$4" ;;
    esac
}

# expect_deny DESC "VM 'NAME' (SUBJECT): DETAIL" CMD...: CMD fails, virsh's
# error is one line "error: unsupported configuration: tvdc: domain 'NAME'
# (label X) ..." (X from SUBJECT), and CMD's host audited a new refusal of
# NAME with SUBJECT's label and DETAIL
expect_deny() {
    local desc=$1
    shift
    expect_refusal "$desc" "" "" "$@"
}

# expect_refusal DESC PREFIX MATCH "VM 'NAME' (SUBJECT): DETAIL" CMD...: as
# expect_deny, for a refusal with libvirt's PREFIX ("": as expect_deny; e.g.
# "operation failed") and DETAIL matched as MATCH says ("": exactly, "re":
# an extended regular expression the whole detail matches)
expect_refusal() {
    local desc=$1 prefix=$2 match=$3 host before=0 msg why=""
    shift 3
    deny_parse "$1" || bail "expect_deny: not \"VM 'NAME' (SUBJECT): DETAIL\": $1"
    shift
    host=$(deny_host "$@")
    [[ -z $host ]] || before=$(deny_count "$host" "$DENY_VM")
    msg="error: $(deny_msg "$DENY_VM" "$DENY_LABEL" "$prefix")"
    run "$@"
    if (( RC == 0 )); then
        fail "$desc" "succeeded: $*" "$OUT"
        return
    elif ! deny_line "$msg" "$ERR"; then
        why="expected one line: $msg..."
    elif [[ -n $host ]] && (( $(deny_count "$host" "$DENY_VM") <= before )); then
        why="no new refusal of $DENY_VM audited on $host"
    elif [[ -n $host ]] &&
        ! why=$(deny_audited "$host" "$DENY_VM" "$DENY_LABEL" "$DENY_DETAIL" "$match"); then
        why="expected detail: $DENY_DETAIL"$'\n'"$why"
    else
        pass "$desc"
        return
    fi
    fail "$desc" "$why" "got (exit $RC):" "$ERR"
}

# expect_state DESC HOST VM STATE: virsh domstate (a VM that is not defined
# is "undefined")
expect_state() {
    local desc=$1 state
    state=$(domstate "$2" "$3")
    if [[ $state == "$4" ]]; then
        pass "$desc"
    else
        fail "$desc" "$3 on $2: expected state '$4', got '$state'"
    fi
}

domstate() {
    local s
    s=$(on "$1" virsh domstate "$2" 2>/dev/null) || { echo undefined; return 0; }
    printf '%s\n' "$s" | sed '/^$/d'
}

# running HOST: the names of the running domains, sorted, space-separated
running() {
    on "$1" virsh list --name 2>/dev/null | sed '/^$/d' | sort | xargs
}

defined() {         # defined HOST VM: VM is in virsh list --all
    on "$1" virsh list --all --name 2>/dev/null | grep -qxF -- "$2"
}

# audit HOST JQ-FILTER [JQ-ARGS...]: the filter applied to HOST's audit
# records (an array), with jq's other arguments (--arg NAME VALUE)
audit() {
    on "$1" tvdc audit --json 2>"$WORK/run/audit-err" | jq -c "${@:3}" "$2"
}

# status HOST JQ-FILTER: HOST's tvdc status --json through the filter (the
# exit status of tvdc status, 1 when degraded, is not the point here)
status() {
    { on "$1" tvdc status --json 2>/dev/null || true; } | jq -c "$2"
}

# sum FILE: its SHA-256 (short), or "missing"
sum() {
    if [[ -e $1 ]]; then sha256sum "$1" | cut -c1-16; else echo missing; fi
}

# holders PATH: the pids of processes that have PATH open, space-separated
holders() {
    find /proc/[0-9]*/fd -lname "$1" 2>/dev/null | cut -d/ -f3 | sort -u | xargs
}

# qemu_pid HOST VM: the pid of VM's QEMU on HOST, or nothing
qemu_pid() {
    on "$1" cat "/run/libvirt/qemu/$2.pid" 2>/dev/null
}

# destroy_all HOST: destroy every running guest of HOST
destroy_all() {
    local vm
    for vm in $(running "$1"); do
        on "$1" virsh destroy "$vm" >/dev/null 2>&1
    done
}

# dc_box_vars: for the tests of tvdc dc over a three-host box: TVDC (the
# tvdc under test: $TVDC, default on PATH), HOSTS, and CONNECT (--connect
# options of the hosts' libvirtd, at ci/dcbox's fabric addresses)
dc_box_vars() {
    TVDC=${TVDC:-${TVDC_BIN:-tvdc}}
    HOSTS=(host-a host-b host-c)
    CONNECT=(--connect qemu+tcp://192.0.2.11/system --connect qemu+tcp://192.0.2.12/system
             --connect qemu+tcp://192.0.2.13/system)
}

# console HOST VM: the guest's serial console log (domain_xml's), without CRs
console() {
    on "$1" cat "/var/log/libvirt/qemu/$2-console.log" 2>/dev/null | tr -d '\r'
}

# wait_lines HOST VM PATTERN N: within $BOOT seconds (default 300: a TCG
# guest on a loaded machine), the console has N lines matching PATTERN
wait_lines() {
    local i
    for (( i = 0; i < ${BOOT:-300} * 2; i++ )); do
        (( $(console "$1" "$2" | grep -ac "$3") >= $4 )) && return 0
        sleep 0.5
    done
    return 1
}

# wait_boots HOST VM N: the console shows the N-th TVDC-GUEST READY
wait_boots() {
    wait_lines "$1" "$2" '^TVDC-GUEST READY' "$3"
}

# wait_console HOST VM TEXT SECONDS: the guest's serial console shows TEXT
wait_console() {
    local i
    for (( i = 0; i < $4 * 5; i++ )); do
        on "$1" grep -qF -- "$3" "/var/log/libvirt/qemu/$2-console.log" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}
