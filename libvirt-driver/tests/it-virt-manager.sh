#!/bin/bash
# Integration test: virt-manager (Debian's 4.1) used for real on a box host
# with the tvdc driver and the bank policy.  ma-1 (market-analysis) runs;
# su-1 (underwriting) is defined.  virt-manager runs in a window under Xvfb,
# with a private D-Bus session and AT-SPI bus, and is driven through its
# accessibility interface by tests/vman-a11y.py (dogtail):
#
#   * its VM list shows ma-1 and su-1 on the connection qemu+tcp://192.0.2.11
#   * Run on su-1 is refused by tvdc (anti-collocation: SU conflicts with the
#     running MA): virt-manager's error dialog shows tvdc's message for
#     su-1, the same as virsh's, naming the host of the audit record; su-1
#     stays shut off.  A screenshot of the dialog is kept in the work
#     directory and copied to docs/virt-manager-tvdc-refusal.png (README)
#     when it differs from that one
#   * the XML editor (Details, XML; enabled with gsettings) shows su-1's
#     tvdc <seclabel> with <label>underwriting</label>; the label edited
#     there to market-analysis is what libvirt keeps, and Run then starts
#     su-1 next to ma-1 (same type, permitted)
#   * Xvfb, D-Bus, AT-SPI and virt-manager are stopped by pid, also on failure
#
# Where virt-manager runs: in host-a's namespaces, connected to
# qemu+tcp://192.0.2.11/system, host-a's TCP listener on the box's fabric
# (the root namespace has no route to the fabric), the way a remote
# operator connects; libvirt's client there is Debian's (python3-libvirt).
#
#   bash libvirt-driver/tests/it-virt-manager.sh   (root; one box host;
#   ci/deps gui)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

URI=qemu+tcp://192.0.2.11/system
A11Y=$TVDC_ROOT/libvirt-driver/tests/vman-a11y.py
SCREENSHOT=$TVDC_ROOT/docs/virt-manager-tvdc-refusal.png
COLLOCATION_SU="collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET"
GUI_PIDS=()

# gui CMD...: CMD in host-a with the GUI session's environment
gui() {
    on host-a env "${GUI_ENV[@]}" "$@"
}

# gui_spawn NAME CMD...: start CMD in host-a in the background (output in
# $GUI/NAME.log); its pid (CMD's own, not the wrapper's) in GUI_PIDS
gui_spawn() {
    local name=$1 i
    shift
    rm -f "$GUI/$name.pid"
    gui sh -c 'echo $$ >"$0"; exec "$@"' "$GUI/$name.pid" "$@" \
        </dev/null >"$GUI/$name.log" 2>&1 &
    for (( i = 0; i < 100; i++ )); do
        [[ -s $GUI/$name.pid ]] && break
        sleep 0.1
    done
    [[ -s $GUI/$name.pid ]] || bail "$name did not start: $(tail -3 "$GUI/$name.log")"
    GUI_PIDS+=("$(<"$GUI/$name.pid")")
}

# descendants PID: PID's children, their children, ...
descendants() {
    local c
    for c in $(ps -o pid= --ppid "$1"); do
        echo "$c"
        descendants "$c"
    done
}

# gui_stop: TERM every process we started (last first) and what it started
# (the AT-SPI bus and registry), KILL what is left after 5 s
gui_stop() {
    local i pid all=()
    for (( i = ${#GUI_PIDS[@]} - 1; i >= 0; i-- )); do
        pid=${GUI_PIDS[i]}
        kill -0 "$pid" 2>/dev/null || continue
        mapfile -t -O "${#all[@]}" all < <(echo "$pid"; descendants "$pid")
    done
    GUI_STOPPED=("${all[@]}")
    GUI_PIDS=()
    (( ${#all[@]} )) || return 0
    kill -TERM "${all[@]}" 2>/dev/null
    for pid in "${all[@]}"; do
        reap_wait "$pid" 50 || kill -KILL "$pid" 2>/dev/null
    done
}

# alive PID...: those of the PIDs that still run (zombies do not)
alive() {
    local pid
    for pid in "$@"; do
        [[ -e /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] &&
            echo "$pid"
    done
    return 0
}

# a11y ACTION ARGS...: tests/vman-a11y.py in the GUI session.  Output
# redirected in a subshell: a signal's trap (the TAP plan, the cleanup) must
# not run with this function's redirections in place.
a11y() {
    (gui /usr/bin/python3 "$A11Y" "$@") >>"$GUI/a11y.log" 2>"$GUI/a11y.err"
}

# gui_xvfb: Xvfb on the first display number from 99 on that is free on
# this machine (no lock file, no socket in /tmp, which every box shares;
# Xvfb's lock file settles a race with another test): GUI_DISPLAY.  Not
# Xvfb -displayfd: it takes no lock file, so a display it picks in one
# network namespace looks free from another.
gui_xvfb() {
    local n i pid
    for (( n = 99; n < 200; n++ )); do
        [[ -e /tmp/.X$n-lock || -e /tmp/.X11-unix/X$n ]] && continue
        gui_spawn xvfb Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp
        pid=${GUI_PIDS[-1]}
        for (( i = 0; i < 100; i++ )); do
            if (gui env DISPLAY=":$n" xdpyinfo) >/dev/null 2>&1; then
                GUI_DISPLAY=$n
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break     # another took :$n
            sleep 0.1
        done
        note "Xvfb :$n did not start: $(tail -2 "$GUI/xvfb.log")"
        kill "$pid" 2>/dev/null
        unset 'GUI_PIDS[-1]'
    done
    bail "no free X display in :99 to :199"
}

# same_picture A B: the PNGs differ in fewer than 200 pixels
same_picture() {
    local n
    [[ -f $2 ]] || return 1
    n=$(compare -metric AE "$1" "$2" null: 2>&1) || [[ $n =~ ^[0-9]+$ ]] || return 1
    (( n < 200 ))
}

gui_up() {
    local i
    GUI=$WORK/gui
    mkdir -p "$GUI/home" "$GUI/config" "$GUI/cache" "$GUI/run"
    chmod 0700 "$GUI/run"
    GUI_ENV=(HOME="$GUI/home" XDG_CONFIG_HOME="$GUI/config" XDG_CACHE_HOME="$GUI/cache"
             XDG_RUNTIME_DIR="$GUI/run" GSETTINGS_BACKEND=keyfile
             DBUS_SESSION_BUS_ADDRESS="unix:path=$GUI/bus")
    gui_xvfb
    GUI_ENV+=(DISPLAY=":$GUI_DISPLAY")
    note "virt-manager's display :$GUI_DISPLAY"
    gui_spawn dbus dbus-daemon --session --nofork --address="unix:path=$GUI/bus"
    for (( i = 0; i < 100; i++ )); do
        [[ -S $GUI/bus ]] && break
        sleep 0.1
    done
    [[ -S $GUI/bus ]] || bail "dbus-daemon did not start: $(tail -3 "$GUI/dbus.log")"
    gui_spawn at-spi /usr/libexec/at-spi-bus-launcher --launch-immediately
    # Settings in $GUI/config (keyfile backend): the XML editor, which is off
    # by default, and accessibility for dogtail.
    gui gsettings set org.virt-manager.virt-manager xmleditor-enabled true &&
        gui gsettings set org.gnome.desktop.interface toolkit-accessibility true ||
        bail "gsettings set failed"
    gui_spawn virt-manager virt-manager --no-fork --debug --connect "$URI"
}

main() {
    local tool before dialog msg host rec shot size w h want

    for tool in virt-manager Xvfb dbus-daemon /usr/libexec/at-spi-bus-launcher gsettings \
                import identify xdpyinfo; do
        command -v "$tool" >/dev/null || bail "$tool is missing (ci/deps gui)"
    done
    /usr/bin/python3 -c 'import dogtail' 2>/dev/null || bail "python3-dogtail is missing (ci/deps gui)"

    it_setup
    at_exit gui_stop
    box_up --hosts 1 --policy "$BANK"
    (define host-a ma-1 market-analysis) >/dev/null || bail "define ma-1"
    (define host-a su-1 underwriting) >/dev/null || bail "define su-1"
    (on host-a virsh start ma-1) >/dev/null || bail "start ma-1"

    gui_up

    # --- the VM list --------------------------------------------------------
    if a11y list "$GUI/list" ma-1 su-1; then
        check_eq "virt-manager lists the connection and ma-1, su-1 (accessibility tree)" \
            "QEMU/KVM: 192.0.2.11 ma-1 su-1" "$(xargs <"$GUI/list")"
    else
        fail "virt-manager lists the connection and ma-1, su-1 (accessibility tree)" \
            "$(cat "$GUI/a11y.err")" "virt-manager's log:" "$(tail -20 "$GUI/virt-manager.log")"
    fi

    # --- Run su-1: tvdc's refusal in the error dialog ---------------------
    before=$(deny_count host-a su-1)
    if a11y start su-1 "$GUI/dialog"; then
        dialog=$(<"$GUI/dialog")
        pass "Run on su-1 opens virt-manager's error dialog"
    else
        dialog=""
        fail "Run on su-1 opens virt-manager's error dialog" "$(cat "$GUI/a11y.err")" \
            "su-1 is $(domstate host-a su-1)"
    fi
    note "dialog: $dialog"
    check_eq "one new refusal of su-1 audited on host-a" $((before + 1)) "$(deny_count host-a su-1)"
    check "the audit record: start of su-1 (underwriting) refused by collocation" \
        deny_audited host-a su-1 underwriting "$COLLOCATION_SU"
    rec=$(audit host-a '[.[] | select(.vm_name == "su-1" and .decision == "deny")] | last')
    host=$(jq -r '.host // empty' <<<"$rec")
    check_eq "the audit record: operation start, rule conflict" "start conflict" \
        "$(jq -r '"\(.operation) \(.rule)"' <<<"$rec")"
    msg=$(deny_text su-1 underwriting)
    if [[ $dialog == "Error starting domain: unsupported configuration: $msg"* ]]; then
        pass "the dialog shows tvdc's message: $msg..."
    else
        fail "the dialog shows tvdc's message: $msg..." "got: $dialog"
    fi
    if [[ -n $host && $dialog == *"running domains of label 'market-analysis'"* ]]; then
        pass "the dialog names the running label su-1 conflicts with (market-analysis)"
    else
        fail "the dialog names the running label su-1 conflicts with (market-analysis)" "got: $dialog"
    fi
    # virsh's message for the same refusal is the dialog's, word for word.
    run on host-a virsh start su-1
    want=$(grep '^error: .*tvdc: ' <<<"$ERR" | sed 's/^error: //')
    if [[ -n $want && ${dialog#Error starting domain: } == "$want" ]]; then
        pass "the dialog's message is virsh's"
    else
        fail "the dialog's message is virsh's" "virsh: $ERR" "dialog: $dialog"
    fi
    expect_state "su-1 stays shut off" host-a su-1 "shut off"

    # --- the screenshot of the dialog -------------------------------------
    shot=$WORK/virt-manager-tvdc-refusal.png
    sleep 1     # the dialog drawn
    size=$(gui xdpyinfo | awk '/dimensions:/ {print $2}')
    w=${size%x*} h=${size#*x}
    (gui import -window root "$shot") 2>"$GUI/import.err"
    if [[ $(head -c 8 "$shot" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a &&
          $(identify -format '%m %w %h' "$shot" 2>/dev/null) == "PNG $w $h" && -n $size ]]; then
        pass "screenshot: $shot is a PNG of the screen ($size)"
    else
        fail "screenshot: $shot is a PNG of the screen ($size)" \
            "$(identify "$shot" 2>&1)" "$(cat "$GUI/import.err")"
    fi
    # README's copy follows the dialog of a passing run; the CPU graph of
    # ma-1 changes a few pixels every run, which is no reason to rewrite it.
    if [[ $dialog == *"$msg"* ]] && ! same_picture "$shot" "$SCREENSHOT"; then
        mkdir -p "$(dirname "$SCREENSHOT")" && cp "$shot" "$SCREENSHOT" &&
            note "screenshot copied to $SCREENSHOT"
    fi
    if a11y close-dialog; then
        pass "the error dialog closes"
    else
        fail "the error dialog closes" "$(cat "$GUI/a11y.err")"
    fi

    # --- the XML editor ---------------------------------------------------
    if a11y xml su-1 "$GUI/xml"; then
        check "the XML editor shows su-1's <seclabel ... model=\"tvdc\">" \
            grep -qE '<seclabel type="static" model="tvdc" relabel="no">' "$GUI/xml"
        check "the XML editor shows <label>underwriting</label> in it" \
            grep -qF '<label>underwriting</label>' <(grep -A1 'model="tvdc"' "$GUI/xml")
    else
        fail "the XML editor of su-1 opens" "$(cat "$GUI/a11y.err")"
    fi
    if a11y edit-xml su-1 '<label>underwriting</label>' '<label>market-analysis</label>'; then
        pass "the label is edited to market-analysis in the XML editor and applied"
    else
        fail "the label is edited to market-analysis in the XML editor and applied" \
            "$(cat "$GUI/a11y.err")"
    fi
    check_eq "libvirt keeps the edited label (virsh dumpxml su-1)" market-analysis \
        "$(on host-a virsh dumpxml --inactive su-1 |
            sed -n "/model='tvdc'/,/<\/seclabel>/s:.*<label>\(.*\)</label>.*:\1:p")"
    if a11y run su-1; then
        pass "Run starts su-1 (market-analysis) next to ma-1"
    else
        fail "Run starts su-1 (market-analysis) next to ma-1" "$(cat "$GUI/a11y.err")"
    fi
    expect_state "su-1 is running" host-a su-1 running
    check_eq "the audit record: start of su-1 permitted with label market-analysis" \
        "start permit market-analysis" \
        "$(audit host-a '[.[] | select(.vm_name == "su-1")] | last | "\(.operation) \(.decision) \(.label)"' | tr -d '"')"

    # --- cleanup ------------------------------------------------------------
    gui_stop
    check_eq "Xvfb, D-Bus, AT-SPI and virt-manager (${#GUI_STOPPED[@]} processes) are stopped" \
        "" "$(alive "${GUI_STOPPED[@]}" | xargs)"
}

main "$@"
