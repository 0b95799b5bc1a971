#!/bin/bash
# Every shell script of the tree, shellcheck-clean at warning level (run
# from the top of the tree, so that `# shellcheck source=...` paths
# resolve).  Scripts are found by their first line or shell directive.
set -euo pipefail
cd "${TVDC_ROOT:-$(dirname "$0")/../..}"
command -v shellcheck >/dev/null || { echo "shellcheck is missing (ci/deps build)"; exit 1; }

mapfile -t scripts < <(
    find . -path ./.git -prune -o -path './build*' -prune -o -type f -print |
    while IFS= read -r f; do
        head -c 200 "$f" 2>/dev/null | head -2 |
            grep -qE '^#!(/bin/bash|/usr/bin/env bash)|^# shellcheck shell=bash' && printf '%s\n' "$f"
    done | sort)
(( ${#scripts[@]} > 20 )) || { echo "found only ${#scripts[@]} scripts: the search is broken"; exit 1; }
echo "shellcheck -S warning: ${#scripts[@]} scripts"
shellcheck -S warning -x "${scripts[@]}"
