#!/bin/bash
# tvdc installed as a product (README.md, "Installing on a KVM host"): the
# packages of ci/build-libvirt --deb (tvdc's and the patched libvirt's),
# installed with README's own apt command into a clean Debian 12 root, and
# that root's installed libvirtd run as a host of the box (ci/dcbox up
# --root: chrooted to the root in the host's namespaces; nothing from
# /usr/local or a build tree).  The driver is loaded and decides (a
# labeled domain permitted, a conflicting one refused with tvdc's
# message), `tvdc status` answers; removing the packages leaves only
# configuration, purging leaves the root as it was.
#
# The clean root: debootstrap --variant=minbase through apt's configured
# Debian mirror, plus what the packages depend on and recommend (so that
# the install itself downloads nothing), cached in
# $TVDC_CACHE/install-root-KEY (KEY: suite, mirror and that package list);
# each run works on an overlay of it.  Skipped only when the mirror cannot
# be reached.
. "$(dirname "$0")/lib.sh"

SUITE=bookworm
SU="label underwriting, types SU"
COLLOCATION_SU="collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET"
# What purge may leave that is not tvdc's: the package manager's own
# state and logs, and this test's scratch and bind mount points.
UNTRACKED='^/(var/lib/(dpkg|apt|ucf|systemd/deb-systemd[^/]*)|var/cache|var/log/(apt|dpkg\.log|alternatives\.log)|tmp|root/debs|run|proc|sys|dev)(/|$)'
# ci/dcbox's mount points in the root (its HOST_TMPFS) that no package
# makes, so none removes: the box's, not the packages'.
BOX_MOUNTPOINTS='^/var/log/swtpm$'
# What Debian's own libvirt 9.0.0 leaves after purge (its postinst makes
# the local AppArmor abstractions and its postrm keeps them).
LIBVIRT_LEFTOVERS='^/etc/apparmor\.d(/local(/abstractions(/libvirt-(lxc|qemu))?)?)?$'

# The first Debian archive of apt's sources that serves the suite.
apt_mirror() {
    local uri
    uri=$(apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT)' \
              'Identifier: Packages' 2>/dev/null |
          awk -v s="$SUITE" '$2 == s && $3 == "main" { print $1; exit }')
    printf '%s\n' "${uri%/}"
}

mirror_reachable() {
    python3 - "$1/dists/$SUITE/InRelease" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=20)
except Exception as e:
    print(e, file=sys.stderr)
    sys.exit(1)
PY
}

# README's apt command, without sudo: "apt-get install ./PATTERN..."
readme_install_cmd() {
    sed -n 's/^    sudo \(apt-get install \.\/.*\)$/\1/p' "$TVDC_ROOT/README.md" | head -1
}

# The .deb files README's command names in the install set $1.
install_debs() {
    (cd "$1" && bash -O nullglob -c "printf '%s\n' ${2#apt-get install }")
}

# The packages the install set's debs depend on or recommend that the set
# does not provide itself (first alternatives), sorted.
dependency_list() {
    local set=$1 deb own field
    shift
    own=$(for deb in "$set"/*.deb; do dpkg-deb -f "$deb" Package; done | sort -u)
    for deb in "$@"; do
        for field in Pre-Depends Depends Recommends; do
            dpkg-deb -f "$set/$deb" "$field"
        done
    done | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' |
        grep -v '^$' | sort -u | grep -vxF -f <(printf '%s\n' "$own")
}

# in_root ROOT CMD...: CMD chrooted to ROOT in a mount namespace of its own
# with /proc and /dev (package scripts want them)
in_root() {
    local root=$1
    shift
    unshare -m --propagation private -- sh -c '
        root=$1; shift
        mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
            exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"' sh "$root" "$@"
}

# The cached clean root with the dependencies installed; prints its path.
make_base_root() {
    local mirror=$1 key dir tmp
    shift
    key=$(cache_key "=$SUITE" "=$mirror" "=$*" "=minbase policy-rc.d v1")
    dir=$TVDC_CACHE/install-root-$key
    exec 7>"$dir.lock"
    flock 7
    if [[ ! -e $dir/.done ]]; then
        log "making the clean $SUITE root $dir (debootstrap from $mirror, $# packages)"
        rm -rf "$dir"
        tmp=$dir/root
        mkdir -p "$dir"
        debootstrap --variant=minbase "$SUITE" "$tmp" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
            { exec 7>&-; return 1; }
        # No service starts inside the root: a package's postinst would
        # start its daemon in this machine's network.
        printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
        chmod 0755 "$tmp/usr/sbin/policy-rc.d"
        cp /etc/resolv.conf "$tmp/etc/resolv.conf"
        { in_root "$tmp" apt-get update -q &&
          in_root "$tmp" apt-get install -y -q "$@" &&
          in_root "$tmp" apt-get clean; } >>"$WORK/debootstrap.log" 2>&1 ||
            { exec 7>&-; return 1; }
        touch "$dir/.done"
        prune_cache 2 install-root "$dir"
    fi
    exec 7>&-
    printf '%s\n' "$dir/root"
}

# untracked PATH: PATH is the package manager's, scratch, a mount point of
# the box, or one of this test's bind mount points (the work directory,
# the cache) or their parents
untracked() {
    local b
    [[ $1 =~ $UNTRACKED || $1 =~ $BOX_MOUNTPOINTS ]] && return 0
    for b in "$WORK" "$TVDC_CACHE"; do
        [[ $1 == "$b" || $1 == "$b"/* || $b == "$1"/* ]] && return 0
    done
    return 1
}

# The paths of stdin that contain "tvdc" and are tracked.
tvdc_paths() {
    local p
    grep tvdc | while IFS= read -r p; do untracked "$p" || printf '%s\n' "$p"; done
}

# Every path in ROOT, one a line, as seen inside it (sorted).
file_list() {
    (cd "$1" && find . -xdev -mindepth 1 | sed 's/^\.//' | LC_ALL=C sort)
}

unmount_root() {
    [[ -n ${ROOT:-} ]] || return 0
    mountpoint -q "$ROOT" && umount "$ROOT"
    ROOT=""
}

IT_NO_TVDC=1 it_setup
at_exit unmount_root
# shellcheck source=ci/lib.sh
. "$TVDC_ROOT/ci/lib.sh"
TVDC_PROG=$IT_NAME

mirror=$(apt_mirror)
[[ -n $mirror ]] || skip_all "no Debian $SUITE mirror in apt's sources"
command -v debootstrap >/dev/null || "$TVDC_ROOT/ci/deps" pkg >/dev/null 2>&1 ||
    bail "ci/deps pkg failed"
mirror_reachable "$mirror" 2>"$WORK/mirror.err" ||
    skip_all "debootstrap cannot reach $mirror: $(tail -1 "$WORK/mirror.err")"

t0=$(now_ms)
SET=$("$TVDC_ROOT/ci/build-libvirt" --deb 2>"$WORK/build-debs.log" | tail -1)
[[ -d $SET ]] || bail "ci/build-libvirt --deb failed: $(tail -5 "$WORK/build-debs.log")"
note "packages in $SET ($(( ($(now_ms) - t0) / 1000 )) s)"
VERSION=$(sed -n "/^project(/,/)/s/^ *version *: *'\([^']*\)'.*/\1/p" "$TVDC_ROOT/meson.build" | head -1)

# --- the packages -----------------------------------------------------
CMD=$(readme_install_cmd)
[[ -n $CMD ]] || bail "README.md has no '    sudo apt-get install ./...' line"
mapfile -t DEBS < <(install_debs "$SET" "$CMD")
check "README's install command names packages that exist: $CMD" \
    test "${#DEBS[@]}" -ge 3
check_eq "libvirt0 depends on libtvdc0 (>= $VERSION)" "libtvdc0 (>= $VERSION)" \
    "$(dpkg-deb -f "$SET"/libvirt0_*.deb Depends | tr ',' '\n' | sed -n 's/^ *\(libtvdc0 .*\)/\1/p')"
check "lintian: no errors in tvdc's packages" \
    lintian --fail-on error "$SET"/libtvdc0_*.deb "$SET"/libtvdc-dev_*.deb "$SET"/tvdc_*.deb

# --- the clean root ---------------------------------------------------
mapfile -t DEPS < <(dependency_list "$SET" "${DEBS[@]}")
t0=$(now_ms)
BASE=$(make_base_root "$mirror" "${DEPS[@]}") ||
    bail "debootstrap or apt in the clean root failed: $(tail -5 "$WORK/debootstrap.log")"
note "clean root $BASE ($(( ($(now_ms) - t0) / 1000 )) s)"
mkdir -p "$WORK/ovl/upper" "$WORK/ovl/work" "$WORK/root"
mount -t overlay "tvdc-$IT_NAME" \
    -o "lowerdir=$BASE,upperdir=$WORK/ovl/upper,workdir=$WORK/ovl/work" "$WORK/root" ||
    bail "cannot mount an overlay of $BASE"
ROOT=$WORK/root
file_list "$ROOT" >"$WORK/files.before"

# --- install: README's command inside the root -------------------------
mkdir -p "$ROOT/root/debs"
cp "${DEBS[@]/#/$SET/}" "$ROOT/root/debs/"
t0=$(now_ms)
run in_root "$ROOT" bash -c "cd /root/debs && $CMD -y"
if (( RC == 0 )); then
    pass "install: '$CMD' in a clean $SUITE root ($(( ($(now_ms) - t0) / 1000 )) s)"
else
    fail "install: '$CMD' in a clean $SUITE root" "$(tail -15 <<<"$OUT$ERR")"
    bail "the packages do not install"
fi
check_eq "install: nothing was downloaded (the clean root has the dependencies)" "" \
    "$(grep -E '^Get:[0-9]+ [a-z]+://' "$TAP_TMP/out" | head -3)"
check_eq "install: tvdc, libtvdc0 and the patched libvirt are installed" \
    "libtvdc0 $VERSION|libvirt-daemon-driver-qemu +tvdc|libvirt0 +tvdc|tvdc $VERSION" \
    "$(in_root "$ROOT" dpkg-query -W -f '${Package} ${Version}\n' libtvdc0 tvdc libvirt0 \
        libvirt-daemon-driver-qemu | sed 's/ [^ ]*\(+tvdc\)[0-9]*$/ \1/' | sort | paste -sd'|')"
check_eq "install: nothing new in /usr/local" "" \
    "$(file_list "$ROOT" | grep '^/usr/local/' | grep -vxF -f "$WORK/files.before" | head -3)"
in_root "$ROOT" dpkg -L libtvdc0 tvdc | sort -u >"$WORK/pkg-paths"
check_eq "install: the guest's agent and its unit, for guests, in /usr/share/tvdc/guest" \
    "/usr/share/tvdc/guest/tvdc-attest-agent /usr/share/tvdc/guest/tvdc-attest-agent.service" \
    "$(grep '^/usr/share/tvdc/guest/.' "$WORK/pkg-paths" | paste -sd' ')"
check "install: the agent is executable" test -x "$ROOT/usr/share/tvdc/guest/tvdc-attest-agent"
lib=$(in_root "$ROOT" ldd /usr/lib/x86_64-linux-gnu/libvirt.so.0 |
      awk '$1 == "libtvdc.so.0" { print $3 }')
lib=$(in_root "$ROOT" readlink -f "${lib:-/none}")
check_eq "install: the installed libvirt.so.0 loads libtvdc0's libtvdc.so.0" \
    "$(in_root "$ROOT" dpkg -L libtvdc0 | grep '/libtvdc\.so\.0\.')" "$lib"
in_root "$ROOT" dpkg-query -W -f '${Conffiles}\n' tvdc libtvdc0 |
    awk 'NF { print $1 }' | sort -u >"$WORK/conffiles"
check_eq "install: tvdc's conffiles: the example tvdc.conf and the vTPM configuration" \
    "/etc/libvirt/tvdc.conf /etc/tvdc/swtpm/swtpm_setup.conf /etc/tvdc/vtpm.conf /etc/tvdc/vtpm.options" \
    "$(paste -sd' ' "$WORK/conffiles")"

# --- the root's libvirtd as a box host ---------------------------------
box_up --hosts 1 --policy "$BANK" --root "$ROOT" \
    --bind "$WORK/xml" --bind "$WORK/img" --bind "$WORK/boot" --bind "$(dirname "$KERNEL")"
pid=$(host_libvirtd_pid host-a)
check_eq "host-a runs the root's installed libvirtd" "$ROOT/usr/sbin/libvirtd" \
    "$(readlink "/proc/$pid/exe")"
check "host-a's libvirtd has the root's libtvdc.so.0 mapped" \
    grep -q " $ROOT/usr/lib/x86_64-linux-gnu/libtvdc.so.0" "/proc/$pid/maps"
run on host-a virsh capabilities
check "virsh capabilities: the secmodel is tvdc" grep -q '<model>tvdc</model>' "$TAP_TMP/out"

define host-a ma-1 market-analysis >/dev/null || bail "define ma-1"
define host-a su-1 underwriting >/dev/null || bail "define su-1"
expect_ok "start ma-1 (market-analysis) is permitted" on host-a virsh start ma-1
expect_state "ma-1 is running" host-a ma-1 running
check "ma-1's guest boots (TVDC-GUEST READY on its console)" \
    wait_console host-a ma-1 "TVDC-GUEST READY" 120
expect_deny "start su-1 next to ma-1 is refused by anti-collocation" \
    "VM 'su-1' ($SU): $COLLOCATION_SU" on host-a virsh start su-1
expect_state "su-1 stays shut off" host-a su-1 "shut off"
expect_ok "tvdc status (the root's tvdc) answers" on host-a tvdc status
check_eq "tvdc status: one reservation, type MA" '{"reservations":1,"active":{"MA":1}}' \
    "$(status host-a '{reservations, active: .active_types}')"
on host-a virsh destroy ma-1 >/dev/null 2>&1
"$DCBOX" down >>"$WORK/dcbox.log" 2>&1 || bail "ci/dcbox down failed"
kill_leftovers

# --- remove: only configuration stays ----------------------------------
PKGS=$(in_root "$ROOT" dpkg-query -W -f '${Package}\n' libtvdc0 tvdc 'libvirt*' 2>/dev/null |
       paste -sd' ')
run in_root "$ROOT" apt-get remove -y -q libtvdc0 tvdc
check_eq "remove: apt-get remove libtvdc0 tvdc succeeds" 0 "$RC"
# A packaged path still there that is not a conffile (directories that
# hold conffiles aside)
leftover() {
    local p
    while IFS= read -r p; do
        [[ -e $ROOT$p || -L $ROOT$p ]] || continue
        [[ -d $ROOT$p ]] && continue    # (/lib: usr-merge's symlink)
        grep -qxF -- "$p" "$WORK/conffiles" || printf '%s\n' "$p"
    done <"$WORK/pkg-paths"
}
check_eq "remove: no file of libtvdc0 or tvdc is left but its conffiles" "" "$(leftover | head -5)"
check_eq "remove: every conffile is left" "" \
    "$(while read -r p; do [[ -e $ROOT$p ]] || echo "$p"; done <"$WORK/conffiles")"
check_eq "remove: no file with tvdc in its name but configuration" "" \
    "$(file_list "$ROOT" | tvdc_paths | grep -vxF -f "$WORK/conffiles" |
       while read -r p; do [[ -d $ROOT$p ]] || echo "$p"; done | head -5)"

# --- purge: the root as it was -----------------------------------------
# shellcheck disable=SC2086  # a list of package names
run in_root "$ROOT" apt-get purge -y -q $PKGS
check_eq "purge: apt-get purge of the installed packages succeeds" 0 "$RC"
check_eq "purge: no path with tvdc in its name is left" "" \
    "$(file_list "$ROOT" | tvdc_paths | head -5)"
file_list "$ROOT" >"$WORK/files.after"
# "+ PATH" / "- PATH": made / removed since before the install (tracked
# paths but what Debian's libvirt leaves)
changed_paths() {
    diff "$WORK/files.before" "$WORK/files.after" | sed -n 's/^> /+ /p; s/^< /- /p' |
        while read -r sign p; do
            untracked "$p" || [[ $p =~ $LIBVIRT_LEFTOVERS ]] ||
                printf '%s %s\n' "$sign" "$p"
        done
}
check_eq "purge: the root's files are those before the install" "" "$(changed_paths | head -8)"
