#!/bin/bash
# Integration test: the TVD networks end to end, with real guests on two box
# hosts in vxlan mode (this kernel has no 8021q; 802.1Q is the VLAN lab's).
# `ci/dcbox up --policy` makes every host's bridges tvdcb101..103 (MA, SU,
# WEB) with their VXLAN ports over the fabric and the libvirt networks
# tvdc-MA, tvdc-SU, tvdc-WEB.  All guests share one IP subnet, so only the
# bridges keep them apart:
#
#   host-a: ma-a  10.9.0.1 (MA)    web-a 10.9.0.3 (WEB)
#   host-b: ma-b  10.9.0.2 (MA)    web-b 10.9.0.4 (WEB)
#
# Each guest pings at boot and prints PING ADDR ok|fail: MA reaches MA on
# the other host and neither WEB guest (one on its own host, one across);
# WEB reaches WEB across and not MA.  Then: interfaces on another type's
# network, on a foreign bridge or of a kind that bypasses the bridges are
# refused at define (exact messages, nothing defined), and at start when the
# policy changed since define; a NIC hotplugged onto
# another type's network is refused (the VM runs unchanged), onto its own
# type's is attached; a libvirt network tvdc-MA redefined to point at WEB's
# bridge does not fool the driver (the tap's real bridge is checked); a
# missing bridge is made again at start and on the destination of a live
# migration; and wrong network settings refuse the start, saying why.
#
#   bash libvirt-driver/tests/it-net.sh      (root; two box hosts)
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

MA="label market-analysis, types MA"
BOOT=240

# nic NETWORK MAC: an interface on a libvirt network
nic() {
    printf "<interface type='network'><mac address='%s'/><source network='%s'/><model type='virtio'/></interface>" "$2" "$1"
}

# guest HOST NAME LABEL IP PINGS DEVICES: define and start a pinging guest
guest() {
    local host=$1 name=$2 label=$3 ip=$4 pings=$5
    GUEST_ARGS="tvdc.ip=$ip/24${pings:+ tvdc.ping=$pings}" \
        define "$host" "$name" "$label" "$6" >/dev/null || bail "define $name on $host"
    on "$host" virsh start "$name" >/dev/null 2>"$WORK/run/start-err" ||
        bail "start $name on $host: $(<"$WORK/run/start-err")"
}

# pings HOST VM: the guest's PING lines, space-separated
pings() {
    on "$1" grep -h '^PING ' "/var/log/libvirt/qemu/$2-console.log" 2>/dev/null |
        tr -d '\r' | xargs
}

# bridges HOST: HOST's tvdc bridges and their ports, "tvdcb101:tvdcx101 ..."
bridges() {
    local b
    for b in $(on "$1" ip -o link show type bridge | awk -F': ' '{print $2}' | grep '^tvdcb' | sort); do
        printf '%s:%s ' "$b" "$(on "$1" ip -o link show master "$b" | awk -F': ' '{print $2}' |
                                 sed 's/@.*//' | grep '^tvdcx' | xargs | tr ' ' ,)"
    done | sed 's/ $//'
}

# refused_define DESC DETAIL DEVICES: defining ma-bad (market-analysis) with
# DEVICES is refused with DETAIL, and nothing is defined
refused_define() {
    expect_deny "$1" "VM 'ma-bad' ($MA): $2" define host-a ma-bad market-analysis "$3"
    if defined host-a ma-bad; then
        fail "$1: nothing defined" "ma-bad is defined"
    else
        pass "$1: nothing defined"
    fi
}

live_sum() {
    on "$1" virsh dumpxml "$2" 2>/dev/null | sha256sum | cut -c1-16
}

main() {
    local before tap vm

    it_setup
    box_up --hosts 2 --policy "$BANK"

    # --- what ci/dcbox up made ------------------------------------------------
    check_eq "host-a has the bridges of MA, SU, WEB, each with its VXLAN port" \
        "tvdcb101:tvdcx101 tvdcb102:tvdcx102 tvdcb103:tvdcx103" "$(bridges host-a)"
    check_eq "host-b too" "tvdcb101:tvdcx101 tvdcb102:tvdcx102 tvdcb103:tvdcx103" "$(bridges host-b)"
    check_eq "host-a has the libvirt networks tvdc-MA, tvdc-SU, tvdc-WEB, active" \
        "tvdc-MA tvdc-SU tvdc-WEB" "$(on host-a virsh net-list --name | sed '/^$/d' | sort | xargs)"

    # --- define: interfaces that share no type, or bypass the bridges ----------
    refused_define "define: a market-analysis VM on tvdc-WEB is refused" \
        "network: interface 52:54:00:7d:00:01 is on the TVD network of type WEB, which label market-analysis (MA) does not have" \
        "$(nic tvdc-WEB 52:54:00:7d:00:01)"
    refused_define "define: on bridge tvdcb102 (SU) too" \
        "network: interface 52:54:00:7d:00:02 is on the TVD network of type SU, which label market-analysis (MA) does not have" \
        "<interface type='bridge'><mac address='52:54:00:7d:00:02'/><source bridge='tvdcb102'/></interface>"
    refused_define "define: on a bridge that is not tvdc's (br0)" \
        "network: interface 52:54:00:7d:00:03 is on bridge 'br0', which is not a TVD bridge of policy bank-dc (tvdcb<network id>)" \
        "<interface type='bridge'><mac address='52:54:00:7d:00:03'/><source bridge='br0'/></interface>"
    refused_define "define: on a libvirt network that is not a TVD network (default)" \
        "network: interface 52:54:00:7d:00:04 is on network 'default', which is not a TVD network of policy bank-dc (tvdc-<type>)" \
        "$(nic default 52:54:00:7d:00:04)"
    refused_define "define: user-mode networking bypasses the bridges" \
        "network: interface 52:54:00:7d:00:05 of type 'user' bypasses the TVD bridges; a labeled VM may use only TVD networks (tvdc-<type>) and bridges (tvdcb<id>)" \
        "<interface type='user'><mac address='52:54:00:7d:00:05'/></interface>"
    refused_define "define: an ethernet (tap without bridge) interface bypasses them" \
        "network: interface 52:54:00:7d:00:06 of type 'ethernet' bypasses the TVD bridges; a labeled VM may use only TVD networks (tvdc-<type>) and bridges (tvdcb<id>)" \
        "<interface type='ethernet'><mac address='52:54:00:7d:00:06'/><target dev='tap-rogue' managed='no'/></interface>"
    refused_define "define: a UDP socket interface bypasses them" \
        "network: interface 52:54:00:7d:00:07 of type 'udp' bypasses the TVD bridges; a labeled VM may use only TVD networks (tvdc-<type>) and bridges (tvdcb<id>)" \
        "<interface type='udp'><mac address='52:54:00:7d:00:07'/><source address='127.0.0.1' port='11111'><local address='127.0.0.1' port='11112'/></source></interface>"
    refused_define "define: a direct (macvtap) interface on eth0 bypasses them" \
        "network: interface 52:54:00:7d:00:08 is a direct (macvtap) interface on 'eth0', which is not a TVD bridge: it would bypass the TVD bridges" \
        "<interface type='direct'><mac address='52:54:00:7d:00:08'/><source dev='eth0' mode='bridge'/></interface>"
    check_eq "define: the refusals are audited as network-share and network-bypass" \
        '"network-bypass,network-share"' \
        "$(audit host-a '[.[] | select(.vm_name == "ma-bad") | .rule] | unique | join(",")')"
    expect_ok "define: a market-analysis VM on bridge tvdcb101 (MA) is accepted" \
        define host-a ma-ok market-analysis \
        "<interface type='bridge'><mac address='52:54:00:7d:00:09'/><source bridge='tvdcb101'/><model type='virtio'/></interface>"

    # --- guests: same type reaches across hosts, other types nowhere -----------
    guest host-b ma-b market-analysis 10.9.0.2 "" "$(nic tvdc-MA 52:54:00:7d:01:02)"
    guest host-b web-b public-web 10.9.0.4 "" "$(nic tvdc-WEB 52:54:00:7d:03:04)"
    guest host-a web-a public-web 10.9.0.3 "10.9.0.4,10.9.0.2" "$(nic tvdc-WEB 52:54:00:7d:03:03)"
    for vm in ma-b web-b; do
        wait_console host-b "$vm" "TVDC-GUEST READY" "$BOOT" || bail "$vm did not boot"
    done
    wait_console host-a web-a "TVDC-GUEST READY" "$BOOT" || bail "web-a did not boot"
    guest host-a ma-a market-analysis 10.9.0.1 "10.9.0.2,10.9.0.3,10.9.0.4" \
        "$(nic tvdc-MA 52:54:00:7d:01:01)"
    wait_console host-a ma-a "TVDC-GUEST READY" "$BOOT" || bail "ma-a did not boot"
    check_eq "ma-a (MA, host-a) reaches ma-b (MA, host-b), not web-a (WEB, same host) nor web-b (WEB, host-b)" \
        "PING 10.9.0.2 ok PING 10.9.0.3 fail PING 10.9.0.4 fail" "$(pings host-a ma-a)"
    check_eq "web-a (WEB, host-a) reaches web-b (WEB, host-b), not ma-b (MA, host-b)" \
        "PING 10.9.0.4 ok PING 10.9.0.2 fail" "$(pings host-a web-a)"
    tap=$(on host-a virsh domiflist ma-a | awk '$5 == "52:54:00:7d:01:01" {print $1}')
    check_eq "ma-a's tap is a port of tvdcb101 (tvdc net which)" "MA" \
        "$(on host-a tvdc net which "$tap" --json | jq -r .type)"

    # --- hotplug ---------------------------------------------------------------
    before=$(live_sum host-a ma-a)
    nic tvdc-WEB 52:54:00:7d:01:11 >"$WORK/xml/nic-web.xml"
    expect_deny "hotplug: a NIC on tvdc-WEB into ma-a is refused" \
        "VM 'ma-a' ($MA): network: interface 52:54:00:7d:01:11 is on the TVD network of type WEB, which label market-analysis (MA) does not have" \
        on host-a virsh attach-device ma-a "$WORK/xml/nic-web.xml"
    check_eq "hotplug: ma-a runs, unchanged (live XML)" "running $before" \
        "$(domstate host-a ma-a) $(live_sum host-a ma-a)"
    printf "<interface type='user'><mac address='52:54:00:7d:01:12'/></interface>" >"$WORK/xml/nic-user.xml"
    expect_deny "hotplug: a user-mode NIC is refused" \
        "VM 'ma-a' ($MA): network: interface 52:54:00:7d:01:12 of type 'user' bypasses the TVD bridges; a labeled VM may use only TVD networks (tvdc-<type>) and bridges (tvdcb<id>)" \
        on host-a virsh attach-device ma-a "$WORK/xml/nic-user.xml"
    nic tvdc-MA 52:54:00:7d:01:13 >"$WORK/xml/nic-ma.xml"
    expect_ok "hotplug: a NIC on tvdc-MA is attached" \
        on host-a virsh attach-device ma-a "$WORK/xml/nic-ma.xml"
    check_eq "hotplug: ma-a has both NICs, on tvdc-MA" "52:54:00:7d:01:01 tvdc-MA 52:54:00:7d:01:13 tvdc-MA" \
        "$(on host-a virsh domiflist ma-a | awk 'NR > 2 && NF {print $5, $3}' | xargs)"

    # --- the tap's real bridge: a network definition cannot fake it ------------
    on host-b virsh net-destroy tvdc-MA >/dev/null
    on host-b virsh net-undefine tvdc-MA >/dev/null
    printf "<network><name>tvdc-MA</name><forward mode='bridge'/><bridge name='tvdcb103'/></network>\n" \
        >"$WORK/xml/net-fake.xml"
    on host-b virsh net-define "$WORK/xml/net-fake.xml" >/dev/null && on host-b virsh net-start tvdc-MA >/dev/null ||
        bail "cannot redefine tvdc-MA on host-b"
    GUEST_ARGS="tvdc.ip=10.9.0.9/24" define host-b ma-x market-analysis \
        "$(nic tvdc-MA 52:54:00:7d:01:09)" >/dev/null || bail "define ma-x"
    expect_refusal "tap: tvdc-MA pointed at WEB's bridge: the start of a market-analysis VM is refused at tap labeling" \
        "" re "VM 'ma-x' ($MA): network: tap vnet[0-9]+ is a port of tvdcb103, the TVD bridge of type WEB, which label market-analysis \(MA\) does not have" \
        on host-b virsh start ma-x
    expect_state "tap: ma-x is shut off" host-b ma-x "shut off"
    check_eq "tap: only ma-b and web-b run on host-b" \
        "ma-b web-b" "$(running host-b)"
    on host-b env TVDC_VIRSH="$TVDC_DCBOX_STATE/bin/virsh" tvdc net apply --connect qemu:///system \
        >/dev/null 2>&1 || bail "tvdc net apply on host-b"
    check_eq "tap: tvdc net apply puts tvdc-MA back on tvdcb101" "tvdcb101" \
        "$(on host-b virsh net-dumpxml tvdc-MA | sed -n "s/.*<bridge name='\([^']*\)'.*/\1/p")"
    expect_ok "tap: then ma-x starts" on host-b virsh start ma-x
    on host-b virsh destroy ma-x >/dev/null 2>&1

    # --- incoming migration: the destination makes the bridge first -----------
    on host-b virsh destroy ma-b >/dev/null 2>&1
    on host-b ip link del tvdcx101 && on host-b ip link del tvdcb101 || bail "cannot delete tvdcb101 on host-b"
    check_eq "migrate: host-b has lost tvdcb101" "tvdcb102:tvdcx102 tvdcb103:tvdcx103" "$(bridges host-b)"
    expect_ok "migrate: ma-a (two NICs on tvdc-MA) migrates live to host-b" \
        on host-a virsh migrate --live --unsafe ma-a qemu+tcp://host-b/system
    check_eq "migrate: host-b made tvdcb101 and its VXLAN port for it" \
        "tvdcb101:tvdcx101 tvdcb102:tvdcx102 tvdcb103:tvdcx103" "$(bridges host-b)"
    check_eq "migrate: ma-a's taps on host-b are ports of tvdcb101" "MA MA" \
        "$(for tap in $(on host-b virsh domiflist ma-a | awk 'NR > 2 && NF {print $1}'); do
               on host-b tvdc net which "$tap" --json | jq -r .type; done | xargs)"
    on host-b virsh destroy ma-a >/dev/null 2>&1

    # --- bridges are made before the taps ---------------------------------------
    destroy_all host-a
    on host-a ip link del tvdcx101 && on host-a ip link del tvdcb101 || bail "cannot delete tvdcb101"
    check_eq "ensure: host-a has lost tvdcb101" "tvdcb102:tvdcx102 tvdcb103:tvdcx103" "$(bridges host-a)"
    expect_ok "ensure: ma-a starts all the same" on host-a virsh start ma-a
    check_eq "ensure: the driver made tvdcb101 and its VXLAN port again" \
        "tvdcb101:tvdcx101 tvdcb102:tvdcx102 tvdcb103:tvdcx103" "$(bridges host-a)"
    check_eq "ensure: with tvdc's alias" "tvdc:bank-dc:MA" \
        "$(on host-a ip -o link show dev tvdcb101 | sed -n 's/.* alias \([^ ]*\).*/\1/p')"
    on host-a virsh destroy ma-a >/dev/null 2>&1

    # --- start: decided again under the policy in force --------------------------
    jq '.version = 2 | .networks |= map(if .type == "MA" then .vlan = 111 else . end)' "$BANK" \
        >"$WORK/bank-ma111.json"
    install_policy host-a "$WORK/bank-ma111.json"
    expect_deny "start: MA's network is 111 now, so ma-ok (defined on tvdcb101) is refused at start" \
        "VM 'ma-ok' ($MA): network: interface 52:54:00:7d:00:09 is on bridge 'tvdcb101', which is not a TVD bridge of policy bank-dc (tvdcb<network id>)" \
        on host-a virsh start ma-ok
    expect_state "start: ma-ok is shut off" host-a ma-ok "shut off"
    # back to MA = 101 (a higher version: a lower one would be a rollback)
    jq '.version = 3' "$BANK" >"$WORK/bank-v3.json"
    install_policy host-a "$WORK/bank-v3.json"

    # --- wrong network settings: fail closed -------------------------------------
    stop_libvirtd host-a
    write_tvdc_conf host-a <<'EOF'
net_mode = "vxlan"
net_underlay = "nosuch0"
vxlan_peers = [ "192.0.2.11", "192.0.2.12" ]
EOF
    start_libvirtd host-a
    on host-a ip link del tvdcx101 && on host-a ip link del tvdcb101 || bail "cannot delete tvdcb101"
    expect_refusal "settings: an underlay that does not exist refuses the start, naming it" \
        "operation failed" re "VM 'ma-a' ($MA): network: cannot set up the TVD bridges on host host-a: .*nosuch0.*" \
        on host-a virsh start ma-a
    expect_state "settings: ma-a is shut off" host-a ma-a "shut off"
    check_eq "settings: nothing half-made (no tvdcb101)" "tvdcb102:tvdcx102 tvdcb103:tvdcx103" \
        "$(bridges host-a)"
    check_eq "settings: the refusal is audited as network-setup" 1 \
        "$(audit host-a '[.[] | select(.vm_name == "ma-a" and .rule == "network-setup")] | length')"

}

main "$@"
