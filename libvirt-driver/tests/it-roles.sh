#!/bin/bash
# Integration test: administrator roles.  A box host whose policy is
# bank.json plus roles (ma-admins: user tvdc-it-ma, market-analysis;
# su-admins: group tvdc-it-su-ops, underwriting) lets unprivileged users
# reach its libvirtd (a socket group, no polkit).  As tvdc-it-ma, a
# market-analysis domain is defined and an underwriting one is refused
# with the role message and an audited refusal naming the user; changing
# the market-analysis domain's label to underwriting by redefining it is
# refused and leaves it as it was; tvdc-it-su defines underwriting through
# its group; a user no role names gets nothing; root defines both; a restarted libvirtd (no client) keeps
# every domain.  The test's users and groups are removed at exit.
#
#   bash libvirt-driver/tests/it-roles.sh      (root; one box host)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
SOCK_GROUP=tvdc-it-libvirt
MA_USER=tvdc-it-ma
SU_USER=tvdc-it-su
SU_GROUP=tvdc-it-su-ops
NO_USER=tvdc-it-norole

accounts_remove() {
    local u g
    for u in "$MA_USER" "$SU_USER" "$NO_USER"; do
        ! id "$u" >/dev/null 2>&1 || userdel "$u" >/dev/null 2>&1 || note "warning: userdel $u failed"
    done
    for g in "$SOCK_GROUP" "$SU_GROUP"; do
        ! getent group "$g" >/dev/null || groupdel "$g" >/dev/null 2>&1 || note "warning: groupdel $g failed"
    done
}

accounts_add() {
    if ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
        skip_all "needs useradd and setpriv"
    fi
    if id "$MA_USER" >/dev/null 2>&1 || id "$SU_USER" >/dev/null 2>&1 ||
       id "$NO_USER" >/dev/null 2>&1; then
        bail "users $MA_USER/$SU_USER/$NO_USER exist already (a previous run?): remove them first"
    fi
    at_exit accounts_remove
    if ! { groupadd -r "$SOCK_GROUP" && groupadd -r "$SU_GROUP" &&
           useradd -r -M -d / -s /usr/sbin/nologin -G "$SOCK_GROUP" "$MA_USER" &&
           useradd -r -M -d / -s /usr/sbin/nologin -G "$SOCK_GROUP,$SU_GROUP" "$SU_USER" &&
           useradd -r -M -d / -s /usr/sbin/nologin -G "$SOCK_GROUP" "$NO_USER"; }; then
        bail "cannot create the test's users and groups"
    fi
}

# as_user USER CMD...: CMD inside the host as USER (its groups), e.g. virsh
as_user() {
    local user=$1
    shift
    on "$H" setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
        env HOME=/ "$@"
}

# xml NAME LABEL: a domain's XML, readable by every user; prints the path.
# A domain NAME that is defined keeps its UUID (a redefinition).
xml() {
    local uuid
    uuid=$(on "$H" virsh domuuid "$1" 2>/dev/null | sed '/^$/d')
    domain_xml "$1" "$2" | sed "s|^  <name>$1</name>\$|&${uuid:+<uuid>$uuid</uuid>}|" \
        >"$WORK/xml/$1-$2.xml"
    chmod 0644 "$WORK/xml/$1-$2.xml"
    printf '%s\n' "$WORK/xml/$1-$2.xml"
}

# inactive_label VM: the label of VM's persistent definition
inactive_label() {
    on "$H" virsh dumpxml --inactive "$1" 2>/dev/null |
        sed -n "/model='tvdc'/,/<\/seclabel>/s|.*<label>\(.*\)</label>.*|\1|p"
}

# role_refused DESC VM LABEL USER ROLES CMD...: CMD is refused by rule role,
# virsh's message names the user and ROLES, the audit record the roles
# considered; VM is not (re)defined with LABEL
role_refused() {
    local desc=$1 vm=$2 label=$3 user=$4 roles=$5
    shift 5
    expect_refusal "$desc" "operation forbidden" re \
        "VM '$vm' (label $label): role: user $user \\(uid [0-9]+, groups [^)]*\\): roles considered: $roles; none of them lists label $label" \
        "$@"
    check_line "$desc: the message names the user and its roles" "$TAP_TMP/err" \
        "error: operation forbidden: tvdc: domain '$vm' (label $label) is refused: user '$user' (roles: $roles) may not assign its label"
    # (expect_refusal finds the host of "on HOST ..." only)
    check "$desc: audited" deny_audited "$H" "$vm" "$label" \
        "role: user $user \\(uid [0-9]+, groups [^)]*\\): roles considered: $roles; none of them lists label $label" re
}

main() {
    local policy

    it_setup
    accounts_add
    policy=$WORK/roles.json
    jq --arg ma "$MA_USER" --arg su "$SU_GROUP" '. + {roles: [
          {name: "ma-admins", users: [$ma], labels: ["market-analysis"]},
          {name: "su-admins", groups: [$su], labels: ["underwriting"]}]}' \
        "$BANK" >"$policy" || bail "cannot write $policy"

    # The host's libvirtd lets the socket group in, without polkit (read
    # when libvirtd starts: ci/dcbox appends it to libvirtd.conf).
    box_up --hosts 1 --policy "$policy"
    cat >"$TVDC_DCBOX_STATE/$H/libvirtd.conf.extra" <<EOF
unix_sock_group = "$SOCK_GROUP"
unix_sock_rw_perms = "0770"
auth_unix_rw = "none"
EOF
    restart_libvirtd "$H"
    expect_ok "the test user reaches libvirtd" as_user "$MA_USER" virsh -c qemu:///system uri
    check_eq "  and is not root" "$MA_USER" "$(as_user "$MA_USER" id -un)"

    # --- a TVD administrator: its own label, not another's --------------
    expect_ok "$MA_USER defines a market-analysis domain" \
        as_user "$MA_USER" virsh define "$(xml ma1 market-analysis)"
    check_eq "  ma1 is defined with market-analysis" market-analysis "$(inactive_label ma1)"
    role_refused "$MA_USER: an underwriting domain is refused" su1 underwriting \
        "$MA_USER" ma-admins as_user "$MA_USER" virsh define "$(xml su1 underwriting)"
    if defined "$H" su1; then
        fail "  su1 is not defined" "su1 is in virsh list --all"
    else
        pass "  su1 is not defined"
    fi
    # shellcheck disable=SC2016 # $u is jq's
    check_eq "  the audit record names the user" "1" \
        "$(audit "$H" '[.[] | select(.vm_name == "su1" and .rule == "role" and (.detail | contains($u)))] | length' --arg u "user $MA_USER ")"

    # --- changing a domain's label to another TVD's ----------------------
    role_refused "$MA_USER: relabeling ma1 underwriting is refused" ma1 underwriting \
        "$MA_USER" ma-admins as_user "$MA_USER" virsh define "$(xml ma1 underwriting)"
    check_eq "  ma1 keeps market-analysis" market-analysis "$(inactive_label ma1)"

    # --- a role by group --------------------------------------------------
    expect_ok "$SU_USER (group $SU_GROUP) defines an underwriting domain" \
        as_user "$SU_USER" virsh define "$(xml su2 underwriting)"
    role_refused "$SU_USER: a market-analysis domain is refused" ma2 market-analysis \
        "$SU_USER" su-admins as_user "$SU_USER" virsh define "$(xml ma2 market-analysis)"

    # --- a user no role names gets nothing ------------------------------
    role_refused "$NO_USER (no role): a public-web domain is refused" web1 public-web \
        "$NO_USER" none as_user "$NO_USER" virsh define "$(xml web1 public-web)"

    # --- root, the datacenter administrator ------------------------------
    expect_ok "root defines an underwriting domain" on "$H" virsh define "$(xml su1 underwriting)"
    expect_ok "root defines a market-analysis domain" on "$H" virsh define "$(xml ma2 market-analysis)"
    expect_ok "root relabels ma2 underwriting" on "$H" virsh define "$(xml ma2 underwriting)"
    check_eq "  ma2 is underwriting" underwriting "$(inactive_label ma2)"

    # --- a restart reads the definitions with no client: nothing refused -
    restart_libvirtd "$H"
    check_eq "after a restart every domain is still defined" "ma1 ma2 su1 su2" \
        "$(on "$H" virsh list --all --name | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')"
}

main
