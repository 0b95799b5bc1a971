#!/bin/bash
# Integration test: anti-collocation under concurrency.  50 rounds, each
# starting a market-analysis and an underwriting VM (conflicting types) on
# the same host at the same instant (two virsh processes released by one
# lock): in every round exactly one runs, the other is refused with the
# collocation message, and each decision is one audit record.  Then a few
# rounds of two VMs of the same type at once: both run.
#
#   bash libvirt-driver/tests/it-race.sh      (root; one box host)
#   TVDC_RACE_ROUNDS=N changes the number of rounds (default 50).
# shellcheck source=libvirt-driver/tests/lib.sh
. "$(dirname "$0")/lib.sh"

H="host-a"
ROUNDS=${TVDC_RACE_ROUNDS:-50}
SAME_ROUNDS=5
COLLOCATION_SU="VM 'su-r' (label underwriting, types SU): collocation: type SU of label underwriting conflicts with running type MA (label market-analysis) in conflict set $CONFLICT_SET"
COLLOCATION_MA="VM 'ma-r' (label market-analysis, types MA): collocation: type MA of label market-analysis conflicts with running type SU (label underwriting) in conflict set $CONFLICT_SET"

# Runs inside the host: ROUNDS rounds of "start VM1 and VM2 at once, list,
# destroy both".  Results in DIR/N/: VM.rc, VM.err, VM.t0, VM.t1 (ns),
# running.  The two virsh processes wait on a shared lock that this shell
# holds exclusively, so both are released at the same instant (a late one
# takes the lock at once: no hang).
# shellcheck disable=SC2016
ROUND_SCRIPT='
dir=$1 rounds=$2 first=$3 second=$4
lock=$dir/barrier
exec 8>"$lock"
starter() {
    flock -s "$lock" sh -c "date +%s%N >$2.t0; virsh start $1 >/dev/null 2>$2.err; echo \$? >$2.rc; date +%s%N >$2.t1" 8>&-
}
for (( r = 1; r <= rounds; r++ )); do
    d=$dir/$r
    mkdir -p "$d"
    if (( r % 2 )); then a=$first b=$second; else a=$second b=$first; fi
    flock -x 8
    starter "$a" "$d/$a" &
    starter "$b" "$d/$b" &
    sleep 0.1
    flock -u 8
    wait
    virsh list --name | sed "/^\$/d" | sort | xargs >"$d/running"
    virsh destroy "$first" >/dev/null 2>&1
    virsh destroy "$second" >/dev/null 2>&1
done
exit 0
'

# race VM1 VM2 ROUNDS DIR: run the rounds inside the host
race() {
    mkdir -p "$4"
    on "$H" bash -c "$ROUND_SCRIPT" race "$4" "$3" "$1" "$2"
}

main() {
    local dir r both=0 none=0 badmsg=0 overlap=0 ma_wins=0 su_wins=0 detail=() run rc_ma rc_su
    local t0a t1a t0b t1b n su_detail="" ma_detail=""

    it_setup
    box_up --hosts 1 --policy "$BANK"

    for vm in ma-r:market-analysis su-r:underwriting ma-s:market-analysis ma-t:market-analysis; do
        define "$H" "${vm%%:*}" "${vm#*:}" "$(disk_xml "$(disk "${vm%%:*}" "$H" "${vm#*:}")")" \
            >/dev/null || bail "define ${vm%%:*}"
    done

    dir=$WORK/race
    note "$ROUNDS rounds of ma-r and su-r started at the same instant"
    race ma-r su-r "$ROUNDS" "$dir" || bail "the rounds did not run"
    for (( r = 1; r <= ROUNDS; r++ )); do
        run=$(<"$dir/$r/running")
        rc_ma=$(<"$dir/$r/ma-r.rc") rc_su=$(<"$dir/$r/su-r.rc")
        case $run in
            "ma-r su-r") both=$((both + 1)); detail+=("round $r: both run") ;;
            "") none=$((none + 1)); detail+=("round $r: none runs: $(cat "$dir/$r"/*.err)") ;;
            ma-r)
                ma_wins=$((ma_wins + 1))
                if [[ $rc_ma != 0 || $rc_su == 0 ]] ||
                    ! deny_line "error: $(deny_msg su-r underwriting)" "$(<"$dir/$r/su-r.err")"; then
                    badmsg=$((badmsg + 1))
                    detail+=("round $r: ma-r runs (rc $rc_ma), su-r rc $rc_su: $(<"$dir/$r/su-r.err")")
                fi ;;
            su-r)
                su_wins=$((su_wins + 1))
                if [[ $rc_su != 0 || $rc_ma == 0 ]] ||
                    ! deny_line "error: $(deny_msg ma-r market-analysis)" "$(<"$dir/$r/ma-r.err")"; then
                    badmsg=$((badmsg + 1))
                    detail+=("round $r: su-r runs (rc $rc_su), ma-r rc $rc_ma: $(<"$dir/$r/ma-r.err")")
                fi ;;
            *) badmsg=$((badmsg + 1)); detail+=("round $r: running: $run") ;;
        esac
        t0a=$(<"$dir/$r/ma-r.t0") t1a=$(<"$dir/$r/ma-r.t1")
        t0b=$(<"$dir/$r/su-r.t0") t1b=$(<"$dir/$r/su-r.t1")
        (( t0a < t1b && t0b < t1a )) && overlap=$((overlap + 1))
    done
    note "market-analysis won $ma_wins rounds, underwriting $su_wins"
    check_eq "race: the two virsh start processes overlapped in time in every round" \
        "$ROUNDS" "$overlap"
    if (( both == 0 )); then
        pass "race: never both conflicting VMs running ($ROUNDS rounds)"
    else
        fail "race: never both conflicting VMs running ($ROUNDS rounds)" "${detail[@]}"
    fi
    if (( none == 0 && both == 0 )); then
        pass "race: exactly one of the two running in each of $ROUNDS rounds"
    else
        fail "race: exactly one of the two running in each of $ROUNDS rounds" "${detail[@]}"
    fi
    if (( badmsg == 0 && none == 0 && both == 0 )); then
        pass "race: the loser of every round was refused with the collocation message"
    else
        fail "race: the loser of every round was refused with the collocation message" "${detail[@]}"
    fi
    check_eq "audit: one permit and one conflict denial per round" \
        "{\"permit\":$ROUNDS,\"deny\":$ROUNDS}" \
        "$(audit "$H" '[.[] | select(.operation == "start")] | {permit: map(select(.decision == "permit")) | length, deny: map(select(.decision == "deny" and .rule == "conflict")) | length}')"
    deny_parse "$COLLOCATION_SU" && su_detail=$DENY_DETAIL
    deny_parse "$COLLOCATION_MA" && ma_detail=$DENY_DETAIL
    check_eq "audit: every refusal of the loser names the conflict (ma-r won $ma_wins, su-r $su_wins)" \
        "$ma_wins $su_wins" \
        "$(audit "$H" '[.[] | select(.operation == "start" and .decision == "deny")] |
            "\(map(select(.vm_name == "su-r" and .label == "underwriting" and .detail == $su)) | length) \(map(select(.vm_name == "ma-r" and .label == "market-analysis" and .detail == $ma)) | length)"' \
            --arg su "$su_detail" --arg ma "$ma_detail" | tr -d '"')"
    check_eq "status: no reservation left after the rounds" \
        '{"reservations":0,"active":{}}' "$(status "$H" '{reservations, active: .active_types}')"

    # Same type at the same instant: no false conflict, both reserved.
    dir=$WORK/same
    race ma-s ma-t "$SAME_ROUNDS" "$dir" || bail "the same-type rounds did not run"
    n=0
    for (( r = 1; r <= SAME_ROUNDS; r++ )); do
        [[ $(<"$dir/$r/running") == "ma-s ma-t" ]] && n=$((n + 1))
    done
    check_eq "race: two market-analysis VMs started at the same instant both run ($SAME_ROUNDS rounds)" \
        "$SAME_ROUNDS" "$n"
    check_eq "status: no reservation left after the same-type rounds" \
        '{"reservations":0,"active":{}}' "$(status "$H" '{reservations, active: .active_types}')"
}

main "$@"
