#!/bin/bash
# The driver's data-driven unit test (securitytvdctest.c): builds it against
# the patched libvirt's build tree (ci/build-libvirt, cached), makes the
# files its domain XMLs name in a private directory, labels them in a
# private store, and runs it over libvirt-driver/tests/securitytvdcdata/.
# No daemon; root only for ci/build-libvirt.
#
#   TVDC_REGENERATE=1  rewrite the golden .out files (then review the diff)
TVDC_ROOT=${TVDC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
export TVDC_ROOT
# shellcheck source=ci/tests/tap.sh
. "$TVDC_ROOT/ci/tests/tap.sh"
DATA=$TVDC_ROOT/libvirt-driver/tests/securitytvdcdata
POLICY=$TVDC_ROOT/labels/examples/bank.json

[[ $(id -u) -eq 0 ]] || skip_all "securitytvdctest needs ci/build-libvirt, which needs root"
command -v tvdc >/dev/null || bail "no tvdc on PATH"

T=$TAP_TMP
build=$("$TVDC_ROOT/ci/build-libvirt" 2>"$T/build.log" | tail -1) ||
    { note "$(tail -20 "$T/build.log")"; bail "ci/build-libvirt failed"; }

# The compiler command libvirt's build used for the driver, on the test.
python3 - "$build/compile_commands.json" "$TVDC_ROOT/libvirt-driver/tests/securitytvdctest.c" \
    "$T/test.o" >"$T/cc.sh" <<'PY' || bail "security_tvdc.c is not in libvirt's compile_commands.json"
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
bash "$T/cc.sh" >"$T/cc.log" 2>&1 || { note "$(<"$T/cc.log")"; bail "cannot compile securitytvdctest.c"; }
# shellcheck disable=SC2046  # pkg-config prints words
cc -o "$T/securitytvdctest" "$T/test.o" "$build/src/libvirt.so.0" -Wl,-rpath,"$build/src" \
    $(pkg-config --libs tvdc glib-2.0 gobject-2.0 gio-2.0 libxml-2.0) \
    $(pkg-config --static --libs tvdc-net tvdc-vtpm) >"$T/ld.log" 2>&1 ||
    { note "$(<"$T/ld.log")"; bail "cannot link securitytvdctest"; }

# The files the XMLs name (@DIR@ = $T/w), and their labels.
W=$T/w
mkdir -p "$W"/{boot,fw,rom,img,sock,logs-ma,logs-su,fs-ma}
label() {
    tvdc label set "$1" "$2" --store "$T/store.json" --policy "$POLICY" >/dev/null ||
        bail "tvdc label set $1 $2 failed"
}
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

tvdc policy compile "$POLICY" --output "$T/policy.bin" >/dev/null || bail "cannot compile $POLICY"
cat >"$T/tvdc.conf" <<CONF
policy = "$T/policy.bin"
host_name = "host-a"
resource_store = "$T/store.json"
audit_log = "$T/audit.log"
CONF

tap_delegate "$T/securitytvdctest" "$T/tvdc.conf" "$DATA" "$W"
