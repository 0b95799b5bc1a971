#!/bin/bash
# Every shell script of the tree, shellcheck-clean at warning level (run
# from the top of the tree, so that `# shellcheck source=...` paths
# resolve).  Scripts are found by their first line or shell directive.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/tap.sh"
cd "${TVDC_ROOT:-$(dirname "$0")/../..}" || bail "no TVDC_ROOT"
command -v shellcheck >/dev/null || bail "shellcheck is missing (ci/deps build)"

mapfile -t scripts < <(
    find . -path ./.git -prune -o -path './build*' -prune -o -type f -print |
    while IFS= read -r f; do
        head -c 200 "$f" 2>/dev/null | head -2 |
            grep -qE '^#!(/bin/bash|/usr/bin/env bash)|^# shellcheck shell=bash' && printf '%s\n' "$f"
    done | sort)
(( ${#scripts[@]} > 20 )) || bail "found only ${#scripts[@]} scripts: the search is broken"
note "shellcheck -S warning: ${#scripts[@]} scripts"
for f in "${scripts[@]}"; do
    if out=$(shellcheck -S warning -x "$f" 2>&1); then
        pass "shellcheck ${f#./}"
    else
        fail "shellcheck ${f#./}" "$out"
    fi
done
