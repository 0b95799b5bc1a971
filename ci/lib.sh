# shellcheck shell=bash
# Shared helpers for the ci/ scripts.  Source it; it does nothing by itself.
#
#   log MSG...          progress message on stderr (stdout is for results)
#   die MSG...          message on stderr, exit 1
#   cache_key PATH...   sha256 over the given files/directories (and strings
#                       via cache_key_add), stable across runs and machines
#   apt_have PKG        true if PKG is installed (dpkg-query)
#   apt_missing PKG...  prints the packages of the list that are not installed
#   apt_install PKG...  installs only the missing ones (one apt-get call)
#   apt_update_if_needed  apt-get update when the lists are absent or stale
#   prune_cache KEEP PREFIX [SKIP...]  keep the KEEP newest $TVDC_CACHE/PREFIX-*
#
# TVDC_CACHE (default /var/cache/tvdc) holds everything that is expensive to
# make: libvirt source and builds, the guest image.  It is outside the work
# tree so that several clones share it and `git clean` does not wipe it.

TVDC_CACHE=${TVDC_CACHE:-/var/cache/tvdc}
TVDC_ROOT=${TVDC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export TVDC_CACHE TVDC_ROOT
# The ci/ scripts parse what virsh, ip and apt print, and the daemons they
# start (ci/dcbox) answer in their locale: the C locale, everywhere.
export LC_ALL=C

# Name of the calling script, for log prefixes.
TVDC_PROG=${TVDC_PROG:-$(basename "$0")}

log() {
    printf '%s: %s\n' "$TVDC_PROG" "$*" >&2
}

die() {
    printf '%s: error: %s\n' "$TVDC_PROG" "$*" >&2
    exit 1
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root"
}

# Seconds since the epoch, with milliseconds, for timings in logs.
now_ms() {
    date +%s%3N
}

# cache_key PATH|=STRING...: one sha256 over the content of every path
# (files, and directories recursively, in sorted order, names included) and
# over literal strings given as "=STRING".  Absent paths contribute their
# absence, so creating a file changes the key.
cache_key() {
    local arg f
    {
        for arg in "$@"; do
            if [[ $arg == =* ]]; then
                printf 'string %s\n' "${arg#=}"
            elif [[ -d $arg ]]; then
                printf 'dir %s\n' "$(basename "$arg")"
                while IFS= read -r -d '' f; do
                    printf 'file %s %s\n' "${f#"$arg"/}" \
                        "$(sha256sum <"$f" | cut -d' ' -f1)"
                done < <(find "$arg" -type f -print0 | LC_ALL=C sort -z)
            elif [[ -f $arg ]]; then
                printf 'file %s %s\n' "$(basename "$arg")" \
                    "$(sha256sum <"$arg" | cut -d' ' -f1)"
            else
                printf 'absent %s\n' "$(basename "$arg")"
            fi
        done
    } | sha256sum | cut -c1-16
}

apt_have() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

apt_missing() {
    local p
    for p in "$@"; do
        apt_have "$p" || printf '%s\n' "$p"
    done
}

# apt sets the lists' mtimes to the server's dates, so they cannot tell when
# we last updated: keep our own stamp.  Update when there is none, when it
# is older than a day, or when a sources file is newer (deb-src just added).
apt_update_if_needed() {
    local stamp=$TVDC_CACHE/apt-update.stamp
    if [[ ! -e $stamp ]] || [[ -n $(find "$stamp" -mmin +1440) ]] ||
        [[ -n $(find /etc/apt/sources.list.d -type f -newer "$stamp") ]]; then
        log "apt-get update"
        apt-get update -qq >&2
        mkdir -p "$TVDC_CACHE"
        touch "$stamp"
    fi
}

apt_install() {
    local missing
    mapfile -t missing < <(apt_missing "$@")
    (( ${#missing[@]} )) || return 0
    apt_update_if_needed
    log "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >&2
}

# prune_cache KEEP PREFIX [SKIP...]: remove all but the KEEP newest
# directories $TVDC_CACHE/PREFIX-KEY (and their .lock files), except the
# SKIP paths and any whose lock another process holds (being built or used).
prune_cache() {
    local keep=$1 prefix=$2 dir
    shift 2
    while IFS= read -r dir; do
        dir=${dir%/}
        printf '%s\n' "$@" | grep -qxF "$dir" && continue
        (
            flock -n 9 || exit 0
            log "pruning old $dir"
            rm -rf "$dir" "$dir.lock"
        ) 9>"$dir.lock"
    done < <(find "$TVDC_CACHE" -maxdepth 1 -type d -name "$prefix-*" \
                 -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2- |
             tail -n +$(( keep + 1 )))
}
