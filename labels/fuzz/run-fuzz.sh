#!/usr/bin/env bash
# run-fuzz.sh FUZZER SECONDS SEED_DIR...: run a libFuzzer target for a bounded
# time on a scratch corpus seeded from SEED_DIRs (the tree is never written).
# Crashes are kept in $TVDC_FUZZ_ARTIFACTS (default: the build dir) to
# reproduce.
set -u
fuzzer=$1 seconds=$2; shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=${TVDC_FUZZ_ARTIFACTS:-$(dirname "$fuzzer")/artifacts}
mkdir -p "$artifacts" "$work/corpus"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$work/corpus" "$@" 2>&1 | tail -n 25
rc=${PIPESTATUS[0]}
echo "fuzzer $(basename "$fuzzer") ran ${seconds}s: exit $rc"
exit "$rc"
