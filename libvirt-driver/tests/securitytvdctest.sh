#!/bin/bash
# The driver's data-driven unit test (securitytvdctest.c): builds it against
# the patched libvirt's build tree (ci/build-libvirt, cached), makes the
# files its domain XMLs name in a private directory, labels them in a
# private store, and runs it over libvirt-driver/tests/securitytvdcdata/.
# No daemon; root only for ci/build-libvirt.
#
#   TVDC_REGENERATE=1  rewrite the golden .out files (then review the diff)
set -euo pipefail
TVDC_ROOT=${TVDC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
export TVDC_ROOT
DATA=$TVDC_ROOT/libvirt-driver/tests/securitytvdcdata
POLICY=$TVDC_ROOT/labels/examples/bank.json

if [[ $(id -u) -ne 0 ]]; then
    echo "1..0 # SKIP securitytvdctest needs ci/build-libvirt, which needs root"
    exit 77
fi
command -v tvdc >/dev/null || { echo "Bail out! no tvdc on PATH"; exit 1; }

build=$("$TVDC_ROOT/ci/build-libvirt" 2>"${TMPDIR:-/tmp}/securitytvdctest-build.log" | tail -1) ||
    { echo "Bail out! ci/build-libvirt failed"; cat "${TMPDIR:-/tmp}/securitytvdctest-build.log"; exit 1; }

T=$(mktemp -d /tmp/tvdc-securitytvdctest.XXXXXX)
trap 'rm -rf "$T"' EXIT

# The compiler command libvirt's build used for the driver, on the test.
python3 - "$build/compile_commands.json" "$TVDC_ROOT/libvirt-driver/tests/securitytvdctest.c" \
    "$T/test.o" >"$T/cc.sh" <<'PY'
import json, shlex, sys
db, src, obj = sys.argv[1:]
for c in json.load(open(db)):
    if c["file"].endswith("security/security_tvdc.c"):
        args = shlex.split(c["command"])
        out, skip = [], False
        for a in args:
            if skip:
                skip = False
                continue
            if a in ("-o", "-c", "-MQ", "-MF"):
                skip = True
                continue
            if a == "-MD":
                continue
            out.append(a)
        out += ["-c", src, "-o", obj]
        print("cd %s && %s" % (shlex.quote(c["directory"]), shlex.join(out)))
        break
else:
    sys.exit("security_tvdc.c is not in " + db)
PY
bash "$T/cc.sh" >"$T/cc.log" 2>&1 || { echo "Bail out! cannot compile securitytvdctest.c"; sed 's/^/# /' "$T/cc.log"; exit 1; }
# shellcheck disable=SC2046  # pkg-config prints words
cc -o "$T/securitytvdctest" "$T/test.o" "$build/src/libvirt.so.0" -Wl,-rpath,"$build/src" \
    $(pkg-config --libs tvdc glib-2.0 gobject-2.0 gio-2.0 libxml-2.0) \
    $(pkg-config --static --libs tvdc-net tvdc-vtpm) >"$T/ld.log" 2>&1 ||
    { echo "Bail out! cannot link securitytvdctest"; sed 's/^/# /' "$T/ld.log"; exit 1; }

# The files the XMLs name (@DIR@ = $T/w), and their labels.
W=$T/w
mkdir -p "$W"/{boot,fw,rom,img,sock,logs-ma,logs-su,fs-ma}
label() { tvdc label set "$1" "$2" --store "$T/store.json" --policy "$POLICY" >/dev/null; }
for f in boot/vmlinuz boot/initrd boot/dtb fw/code.fd fw/su-code.fd fw/vars.fd fw/su-vars.fd \
         rom/ma.rom rom/su.rom img/ma.img img/su.img img/unl.img img/acpi-ma.bin img/acpi-su.bin \
         img/fwcfg-ma.bin img/fwcfg-su.bin img/rng-su img/nvdimm-ma img/nvdimm-su logs-ma/su.log; do
    : >"$W/$f"
done
label "$W/boot/vmlinuz" dual-host
label "$W/boot/initrd" dual-host
label "$W/fw/code.fd" dual-host
label "$W/fw/vars.fd" dual-host
label "$W/fw/su-code.fd" underwriting
label "$W/fw/su-vars.fd" underwriting
label "$W/rom/ma.rom" market-analysis
label "$W/rom/su.rom" underwriting
label "$W/img/ma.img" market-analysis
label "$W/img/su.img" underwriting
label "$W/img/acpi-ma.bin" market-analysis
label "$W/img/acpi-su.bin" underwriting
label "$W/img/fwcfg-ma.bin" market-analysis
label "$W/img/fwcfg-su.bin" underwriting
label "$W/img/rng-su" underwriting
label "$W/img/nvdimm-ma" market-analysis
label "$W/img/nvdimm-su" underwriting
label "$W/logs-ma" market-analysis
label "$W/logs-su" underwriting
label "$W/logs-ma/su.log" underwriting
label "$W/fs-ma" market-analysis
label "socket:$W/sock/ma.sock" market-analysis
label "socket:$W/sock/su.sock" underwriting
label "pci:0000:03:00.0" market-analysis

tvdc policy compile "$POLICY" --output "$T/policy.bin" >/dev/null
cat >"$T/tvdc.conf" <<CONF
policy = "$T/policy.bin"
host_name = "host-a"
resource_store = "$T/store.json"
audit_log = "$T/audit.log"
CONF

rc=0
"$T/securitytvdctest" "$T/tvdc.conf" "$DATA" "$W" || rc=$?
exit "$rc"
