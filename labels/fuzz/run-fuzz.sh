#!/bin/bash
# run-fuzz.sh FUZZER SECONDS SEED_DIR...: run a libFuzzer target for a bounded
# time on a scratch corpus seeded from SEED_DIRs (the tree is never written).
# Crashes are kept in $TVDC_FUZZ_ARTIFACTS (default: the build dir) to
# reproduce.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"
fuzzer=$1 seconds=$2
shift 2
artifacts=${TVDC_FUZZ_ARTIFACTS:-$(dirname "$fuzzer")/artifacts}
mkdir -p "$artifacts" "$TAP_TMP/corpus" || bail "mkdir $artifacts"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$TAP_TMP/corpus" "$@" >"$TAP_TMP/fuzz.log" 2>&1
rc=$?
note "$(tail -n 25 "$TAP_TMP/fuzz.log")"
check_eq "$(basename "$fuzzer") ran ${seconds}s without a finding (exit 0)" 0 "$rc"
