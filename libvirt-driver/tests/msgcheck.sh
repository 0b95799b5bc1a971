#!/bin/bash
# The driver's messages as libvirt writes them: the rules of upstream
# libvirt's `make syntax-check` (build-aux/syntax-check.mk) that are about
# diagnostics, applied to the driver's sources (libvirt-driver/*.c) the way
# they would be applied in libvirt's tree.  One check per rule:
#
#   unmarked-diagnostics       a message given to VIR_ERROR/virReportError/
#                              virReportSystemError is marked _("...")
#   newline-at-end             no message ends in \n
#   message-on-one-line        a translated message is one source line
#   diagnostic-without-format  virReport*Error's message has a % argument
#   permutable-format          every conversion in _() or N_() is positional
#                              (%1$s), so translators may reorder them
#   useless-translation        no _("") or _("%s")
#   gettext-markup             VIR_WARN/VIR_INFO/VIR_DEBUG text is not
#                              translated (it is for developers)
#
# Each finding is printed with its file and line.
# shellcheck source=ci/tests/tap.sh
. "$(dirname "$0")/../../ci/tests/tap.sh"
cd "${TVDC_ROOT:-$(dirname "$0")/../..}" || bail "no TVDC_ROOT"

mapfile -t sources < <(ls libvirt-driver/security_tvdc*.c 2>/dev/null)
(( ${#sources[@]} >= 1 )) || bail "no driver sources in libvirt-driver/"
note "driver sources: ${sources[*]}"
fns='(VIR_ERROR|virReportError|virReportSystemError)'

# rule DESC: the findings on stdin (grep -n output) fail the check
rule() {
    local found
    found=$(cat)
    if [[ -z $found ]]; then
        pass "$1"
    else
        fail "$1" "$found"
    fi
}

# Each call of a message function joined onto one line (up to its ';'),
# prefixed FILE:LINE:, so that a rule can see the whole argument list.
calls() {
    awk -v fns="$fns" '
        FNR == 1 { inside = 0 }
        !inside && $0 ~ ("(^|[^A-Za-z_])" fns " *\\(") { inside = 1; start = FNR; text = "" }
        inside { text = text $0; if ($0 ~ /;[[:space:]]*$/) { print FILENAME ":" start ":" text; inside = 0 } }
    ' "${sources[@]}"
}

rule "unmarked-diagnostics: every message is marked for translation" < <(
    grep -HnE "\\<$fns *\\([^\"]*\"[^\"]*[a-z]{3}" "${sources[@]}" | grep -v '_(')

rule "newline-at-end: no message ends in a newline" < <(
    grep -HnE -A2 "\\<$fns *\\(" "${sources[@]}" | grep -F '\n"')

rule "message-on-one-line: every translated message is one line" < <(
    grep -HnE '[^N]_\(".*"$' "${sources[@]}" | grep -v '\\n"$')

# the format (the first string of the call: "%s" or the _() text) of each
# virReport*Error has a conversion
rule "diagnostic-without-format: virReport*Error messages have arguments" < <(
    calls | grep -E 'vir(Report|ReportSystem)Error *\(' |
        perl -ne 'my $l = $_; s/"\s*"//g; print $l unless /"((?:[^"\\]|\\.)*)"/ && $1 =~ /%/')

rule "permutable-format: conversions in translated messages are positional" < <(
    grep -HnE '\<N?_ *\("[^"]*%[^%$ ]*[a-zA-Z][^"]*"' "${sources[@]}")

rule "useless-translation: no _(\"\") or _(\"%s\")" < <(
    grep -HnE '_\("(%s)?"\)' "${sources[@]}")

rule "gettext-markup: developers' log messages are not translated" < <(
    grep -HnE '\<VIR_(WARN|INFO|DEBUG) *\(_\(' "${sources[@]}")
