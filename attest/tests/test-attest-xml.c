/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* attest/attest-xml.c on a live XML as libvirt 9.0 formats it, with a
 * client's <metadata> that plants a tvdc seclabel, an attestation channel
 * and interfaces: only the domain's own are found; the link edit of an
 * interface keeps every other line. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest-xml.h"

static const char live_xml[] =
"<domain type='qemu' id='3'>\n"
"  <name>ma-1</name>\n"
"  <uuid>4a1b7c3e-0000-4000-8000-00000000000a</uuid>\n"
"  <metadata>\n"
"    <evil:x xmlns:evil=\"urn:evil\"><metadata>text\n  </metadata>\n  <devices>\n"
"    <interface type='bridge'>\n"
"      <mac address='52:54:00:77:77:77'/>\n"
"    </interface>\n"
"  </devices>\n"
"  <seclabel type='static' model='tvdc' relabel='no'>\n"
"    <label>lab</label>\n"
"  </seclabel>\n"
"      <evil:devices>\n"
"  <devices>\n"
"    <interface type='bridge'>\n"
"      <mac address='52:54:00:66:66:66'/>\n"
"    </interface>\n"
"  </devices>\n"
"      </evil:devices>\n"
"      <!-- <devices> <interface type='bridge'> -->\n"
"      <channel type='unix'>\n"
"        <source mode='bind' path='/tmp/evil.sock'/>\n"
"        <target type='virtio' name='org.tvdc.attest.0'/>\n"
"      </channel>\n"
"    </evil:x>\n"
"  </metadata>\n"
"  <memory unit='KiB'>131072</memory>\n"
"  <devices>\n"
"    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
"    <interface type='bridge'>\n"
"      <mac address='52:54:00:00:00:0a'/>\n"
"      <source bridge='tvdc-ma'/>\n"
"      <target dev='vnet0'/>\n"
"      <model type='virtio'/>\n"
"      <alias name='net0'/>\n"
"      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n"
"    </interface>\n"
"    <interface type='network'>\n"
"      <mac address='52:54:00:00:00:0b'/>\n"
"      <source network='ma' portid='0d4b' bridge='tvdc-ma'/>\n"
"      <target dev='vnet1'/>\n"
"      <model type='virtio'/>\n"
"      <link state='down'/>\n"
"      <alias name='net1'/>\n"
"    </interface>\n"
"    <channel type='unix'>\n"
"      <source mode='bind' path='/run/libvirt/qemu/channel/3-ma-1/org.qemu.guest_agent.0'/>\n"
"      <target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>\n"
"      <alias name='channel0'/>\n"
"    </channel>\n"
"    <channel type='unix'>\n"
"      <source mode='bind' path='/var/lib/tvdc/attest/ma&amp;1.sock'/>\n"
"      <target type='virtio' name='org.tvdc.attest.0' state='connected'/>\n"
"      <alias name='channel1'/>\n"
"    </channel>\n"
"  </devices>\n"
"  <seclabel type='static' model='tvdc' relabel='no'>\n"
"    <label>market-analysis</label>\n"
"  </seclabel>\n"
"</domain>\n";

static void
test_label_channel(void **state)
{
    char *s = NULL;
    (void) state;

    assert_int_equal(attest_xml_label(live_xml, &s), 0);
    assert_string_equal(s, "market-analysis");
    free(s);
    assert_int_equal(attest_xml_channel(live_xml, &s), 0);
    assert_string_equal(s, "/var/lib/tvdc/attest/ma&1.sock");
    free(s);

    /* without the domain's own: none, whatever the metadata says */
    assert_int_equal(attest_xml_label("<domain>\n  <metadata>\n    <x>\n      <seclabel "
                                      "type='static' model='tvdc'>\n        <label>lab</label>\n"
                                      "      </seclabel>\n    </x>\n  </metadata>\n</domain>\n",
                                      &s), 0);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(attest_xml_channel("<domain>\n  <devices>\n    <channel type='pty'>\n"
                                        "      <target type='virtio' name='org.tvdc.attest.0'/>\n"
                                        "    </channel>\n  </devices>\n</domain>\n", &s), 0);
    assert_null(s);

    /* not XML it can follow: an error, never "unlabeled" or "no port" */
    assert_int_equal(attest_xml_label("<domain>\n  <seclabel model='tvdc'>\n</domain>\n", &s),
                     -EBADMSG);
    assert_int_equal(attest_xml_channel("<domain><devices></domain>", &s), -EBADMSG);
}

/* What a client can put in <metadata> and libxml2 accepts (256 levels,
 * long names) does not make the domain's own elements unreadable. */
static void
test_deep_metadata(void **state)
{
    char name[200], *xml, *s = NULL, *w;
    attest_iface *v = NULL;
    size_t n = 0, cap = 1u << 20;
    (void) state;

    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    xml = w = malloc(cap);
    assert_non_null(xml);
    w += sprintf(w, "<domain>\n  <metadata>\n    <x:m xmlns:x='urn:x'>");
    for (int i = 0; i < 255; i++)
        w += sprintf(w, "<x:%s%d>", name, i);
    for (int i = 254; i >= 0; i--)
        w += sprintf(w, "</x:%s%d>", name, i);
    w += sprintf(w, "</x:m>\n  </metadata>\n  <devices>\n"
                    "    <interface type='bridge'>\n      <mac address='52:54:00:00:00:0c'/>\n"
                    "    </interface>\n  </devices>\n"
                    "  <seclabel type='static' model='tvdc' relabel='no'>\n"
                    "    <label>market-analysis</label>\n  </seclabel>\n</domain>\n");
    assert_true((size_t) (w - xml) < cap);
    assert_int_equal(attest_xml_label(xml, &s), 0);
    assert_string_equal(s, "market-analysis");
    free(s);
    assert_int_equal(attest_xml_interfaces(xml, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].mac, "52:54:00:00:00:0c");
    attest_ifaces_free(v, n);
    free(xml);
}

static void
test_interfaces(void **state)
{
    attest_iface *v = NULL;
    size_t n = 0;
    char *x;
    (void) state;

    assert_int_equal(attest_xml_interfaces(live_xml, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].mac, "52:54:00:00:00:0a");
    assert_int_equal(v[0].link_up, 1);
    assert_string_equal(v[1].mac, "52:54:00:00:00:0b");
    assert_int_equal(v[1].link_up, 0);
    assert_true(strncmp(v[0].xml, "<interface type='bridge'>\n", 26) == 0);

    /* down: one <link> line added before the end, nothing else changed */
    x = attest_xml_set_link(v[0].xml, 0);
    assert_non_null(x);
    assert_non_null(strstr(x, "      <alias name='net0'/>\n"));
    assert_non_null(strstr(x, "function='0x0'/>\n      <link state='down'/>\n    </interface>"));
    assert_int_equal(strlen(x), strlen(v[0].xml) + strlen("\n      <link state='down'/>"));
    free(x);
    /* up: the element's own <link> replaced, not added to */
    x = attest_xml_set_link(v[1].xml, 1);
    assert_non_null(x);
    assert_null(strstr(x, "state='down'"));
    assert_non_null(strstr(x, "<model type='virtio'/>\n      <link state='up'/>\n"
                              "      <alias name='net1'/>\n    </interface>"));
    assert_int_equal(strlen(x), strlen(v[1].xml) - 2);
    free(x);
    assert_null(attest_xml_set_link("<interface type='bridge'>", 0));
    attest_ifaces_free(v, n);

    assert_int_equal(attest_xml_interfaces("<domain>\n</domain>\n", &v, &n), 0);
    assert_int_equal(n, 0);
    assert_null(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_channel),
        cmocka_unit_test(test_deep_metadata),
        cmocka_unit_test(test_interfaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
