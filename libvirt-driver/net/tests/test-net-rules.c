/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which bridge a VM's interface may be on (net-rules.c): a table of
 * interfaces (kind, source, resolved bridge) and labels in, the verdict
 * (rule, type) and its message out.  No kernel.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tvdc-net.h"
#include "net-test.h"
#include "test-data.h"

static char *policy_json;   /* policies/net-rules.json */

NET_TEST_POLICY_FIXTURE(policy_json)

#define IF "interface 52:54:00:00:00:01"

typedef struct iface_case {
    const char *label;              /* NULL: unlabeled */
    tvdc_net_iface_kind kind;
    const char *source, *bridge, *kind_name;
    tvdc_net_rule rule;
    const char *type;               /* NULL: TVDC_NONE */
    const char *message;            /* NULL: permitted */
} iface_case;

static const iface_case iface_cases[] = {
    /* on the TVD network or bridge of one of its types */
    { "market-analysis", TVDC_NET_IFACE_NETWORK, "tvdc-MA", NULL, NULL,
      TVDC_NET_RULE_OK, "MA", NULL },
    { "market-analysis", TVDC_NET_IFACE_NETWORK, "tvdc-MA", "tvdcb101", NULL,
      TVDC_NET_RULE_OK, "MA", NULL },
    { "both", TVDC_NET_IFACE_BRIDGE, "tvdcb102", NULL, NULL, TVDC_NET_RULE_OK, "SU", NULL },
    { "both", TVDC_NET_IFACE_DIRECT, "tvdcb101", NULL, NULL, TVDC_NET_RULE_OK, "MA", NULL },
    /* an unknown label is the label check's: the bridge is still made */
    { "nosuch", TVDC_NET_IFACE_BRIDGE, "tvdcb102", NULL, NULL, TVDC_NET_RULE_OK, "SU", NULL },
    /* nothing to check here, labeled or not */
    { "market-analysis", TVDC_NET_IFACE_UNCHECKED, NULL, NULL, "vhostuser",
      TVDC_NET_RULE_OK, NULL, NULL },
    { NULL, TVDC_NET_IFACE_UNCHECKED, NULL, NULL, "null", TVDC_NET_RULE_OK, NULL, NULL },

    /* the TVD network of another type */
    { "market-analysis", TVDC_NET_IFACE_NETWORK, "tvdc-SU", NULL, NULL,
      TVDC_NET_RULE_SHARE, "SU",
      "network: " IF " is on the TVD network of type SU, which label market-analysis (MA) "
      "does not have" },
    { "market-analysis", TVDC_NET_IFACE_BRIDGE, "tvdcb102", NULL, NULL,
      TVDC_NET_RULE_SHARE, "SU",
      "network: " IF " is on the TVD network of type SU, which label market-analysis (MA) "
      "does not have" },
    /* not TVD networks: tvdc-NONET has no network id, tvdcb999 no type */
    { "quiet", TVDC_NET_IFACE_NETWORK, "tvdc-NONET", NULL, NULL, TVDC_NET_RULE_SHARE, NULL,
      "network: " IF " is on network 'tvdc-NONET', which is not a TVD network of policy "
      "bank-dc (tvdc-<type>)" },
    { "both", TVDC_NET_IFACE_NETWORK, "default", NULL, NULL, TVDC_NET_RULE_SHARE, NULL,
      "network: " IF " is on network 'default', which is not a TVD network of policy "
      "bank-dc (tvdc-<type>)" },
    { "both", TVDC_NET_IFACE_NETWORK, NULL, NULL, NULL, TVDC_NET_RULE_SHARE, NULL,
      "network: " IF " is on network '(null)', which is not a TVD network of policy "
      "bank-dc (tvdc-<type>)" },
    { "both", TVDC_NET_IFACE_BRIDGE, "tvdcb999", NULL, NULL, TVDC_NET_RULE_SHARE, NULL,
      "network: " IF " is on bridge 'tvdcb999', which is not a TVD bridge of policy "
      "bank-dc (tvdcb<network id>)" },
    /* a TVD network libvirt resolved to another bridge */
    { "market-analysis", TVDC_NET_IFACE_NETWORK, "tvdc-MA", "virbr0", NULL,
      TVDC_NET_RULE_PORT, "MA",
      "network: " IF " is on network 'tvdc-MA' of type MA, whose bridge is 'virbr0', "
      "not the TVD bridge of type MA" },
    { "both", TVDC_NET_IFACE_NETWORK, "tvdc-MA", "tvdcb102", NULL, TVDC_NET_RULE_PORT, "MA",
      "network: " IF " is on network 'tvdc-MA' of type MA, whose bridge is 'tvdcb102', "
      "not the TVD bridge of type MA" },
    /* around the bridges */
    { "both", TVDC_NET_IFACE_DIRECT, "eth0", NULL, NULL, TVDC_NET_RULE_BYPASS, NULL,
      "network: " IF " is a direct (macvtap) interface on 'eth0', which is not a TVD "
      "bridge: it would bypass the TVD bridges" },
    { "both", TVDC_NET_IFACE_OTHER, NULL, NULL, "user", TVDC_NET_RULE_BYPASS, NULL,
      "network: " IF " of type 'user' bypasses the TVD bridges; a labeled VM may use only "
      "TVD networks (tvdc-<type>) and bridges (tvdcb<id>)" },
    { "nosuch", TVDC_NET_IFACE_OTHER, NULL, NULL, "ethernet", TVDC_NET_RULE_BYPASS, NULL,
      "network: " IF " of type 'ethernet' bypasses the TVD bridges; a labeled VM may use "
      "only TVD networks (tvdc-<type>) and bridges (tvdcb<id>)" },

    /* unlabeled: anything but a TVD bridge */
    { NULL, TVDC_NET_IFACE_NETWORK, "default", NULL, NULL, TVDC_NET_RULE_OK, NULL, NULL },
    { NULL, TVDC_NET_IFACE_NETWORK, "tvdc-MA", "virbr0", NULL, TVDC_NET_RULE_OK, NULL, NULL },
    { NULL, TVDC_NET_IFACE_BRIDGE, "virbr0", NULL, NULL, TVDC_NET_RULE_OK, NULL, NULL },
    { NULL, TVDC_NET_IFACE_DIRECT, "eth0", NULL, NULL, TVDC_NET_RULE_OK, NULL, NULL },
    { NULL, TVDC_NET_IFACE_OTHER, NULL, NULL, "user", TVDC_NET_RULE_OK, NULL, NULL },
    { NULL, TVDC_NET_IFACE_NETWORK, "tvdc-SU", NULL, NULL, TVDC_NET_RULE_LABELED_RESOURCE, "SU",
      "network: " IF " is on the TVD network of type SU; an unlabeled VM may use only "
      "unlabeled resources" },
    { NULL, TVDC_NET_IFACE_DIRECT, "tvdcb101", NULL, NULL, TVDC_NET_RULE_LABELED_RESOURCE, "MA",
      "network: " IF " is on the TVD network of type MA; an unlabeled VM may use only "
      "unlabeled resources" },
};

static void
check_verdict(const char *label, const tvdc_net_iface *iface, int r, const tvdc_net_verdict *v,
              tvdc_net_rule rule, const char *type, const char *message)
{
    char buf[512];

    assert_int_equal(r, rule == TVDC_NET_RULE_OK ? TVDC_PERMIT : TVDC_DENY);
    assert_int_equal(v->rule, rule);
    if (type)
        assert_int_equal(v->type, (uint32_t) tvdc_find_type(pol, type));
    else
        assert_int_equal(v->type, TVDC_NONE);
    if (!message)
        return;
    assert_int_equal(tvdc_net_verdict_format(pol, label, iface, v, buf, sizeof(buf)),
                     (int) strlen(message));
    assert_string_equal(buf, message);
}

static void
test_iface(void **state)
{
    for (size_t i = 0; i < sizeof(iface_cases) / sizeof(iface_cases[0]); i++) {
        const iface_case *c = &iface_cases[i];
        tvdc_net_iface iface = {
            .kind = c->kind, .source = c->source, .bridge = c->bridge,
            .kind_name = c->kind_name, .what = IF,
        };
        tvdc_net_verdict v;
        int r = tvdc_net_decide_iface(pol, c->label, &iface, &v);

        fprintf(stderr, "case %zu: %s %s\n", i, c->label ? c->label : "(unlabeled)",
                c->source ? c->source : c->kind_name);
        check_verdict(c->label, &iface, r, &v, c->rule, c->type, c->message);
    }
}

typedef struct port_case {
    const char *label;
    const char *type;
    tvdc_net_rule rule;
    const char *message;
} port_case;

static const port_case port_cases[] = {
    { "market-analysis", "MA", TVDC_NET_RULE_OK, NULL },
    { "both", "SU", TVDC_NET_RULE_OK, NULL },
    { "market-analysis", "SU", TVDC_NET_RULE_PORT,
      "network: tap vnet0 is a port of tvdcb102, the TVD bridge of type SU, which label "
      "market-analysis (MA) does not have" },
    /* the kernel's word: a label the policy does not know has no bridge */
    { "nosuch", "MA", TVDC_NET_RULE_PORT,
      "network: tap vnet0 is a port of tvdcb102, the TVD bridge of type MA, which label "
      "nosuch ((null)) does not have" },
    { NULL, "MA", TVDC_NET_RULE_LABELED_RESOURCE,
      "network: tap vnet0 is a port of tvdcb102, the TVD bridge of type MA; an unlabeled VM "
      "may use only unlabeled resources" },
};

static void
test_port(void **state)
{
    tvdc_net_iface tap = { .kind = TVDC_NET_IFACE_TAP, .source = "vnet0", .bridge = "tvdcb102" };

    for (size_t i = 0; i < sizeof(port_cases) / sizeof(port_cases[0]); i++) {
        const port_case *c = &port_cases[i];
        tvdc_net_verdict v;
        int r = tvdc_net_decide_port(pol, c->label, (uint32_t) tvdc_find_type(pol, c->type), &v);

        fprintf(stderr, "case %zu: %s on %s\n", i, c->label ? c->label : "(unlabeled)", c->type);
        check_verdict(c->label, &tap, r, &v, c->rule, c->type, c->message);
    }
}

static void
test_misc(void **state)
{
    tvdc_net_iface iface = { .kind = TVDC_NET_IFACE_TAP };
    tvdc_net_verdict v;
    tvdc_error e = { 0 };
    char buf[8];
    uint32_t t;

    assert_int_equal(tvdc_net_label_has_type(pol, "both", 1), 1);
    assert_int_equal(tvdc_net_label_has_type(pol, "market-analysis", 1), 0);
    assert_int_equal(tvdc_net_label_has_type(pol, "nosuch", 0), 0);
    assert_int_equal(tvdc_net_label_has_type(pol, NULL, 0), 0);

    assert_string_equal(tvdc_net_rule_to_string(TVDC_NET_RULE_SHARE), "network-share");
    assert_string_equal(tvdc_net_rule_to_string(TVDC_NET_RULE_BYPASS), "network-bypass");
    assert_string_equal(tvdc_net_rule_to_string(TVDC_NET_RULE_PORT), "network-port");
    assert_string_equal(tvdc_net_rule_to_string(TVDC_NET_RULE_LABELED_RESOURCE),
                        "labeled-resource");
    assert_null(tvdc_net_rule_to_string(_TVDC_NET_RULE_MAX));

    /* a tap definition is no definition; bad arguments */
    assert_int_equal(tvdc_net_decide_iface(pol, "both", &iface, &v), -EINVAL);
    assert_int_equal(tvdc_net_decide_iface(NULL, "both", &iface, &v), -EINVAL);
    assert_int_equal(tvdc_net_decide_port(pol, "both", 99, &v), -EINVAL);
    assert_int_equal(tvdc_net_verdict_format(pol, NULL, &iface, NULL, buf, sizeof(buf)), -EINVAL);

    /* a descriptor that is no tap */
    assert_int_equal(tvdc_net_type_of_tap_fd(pol, 0, &t, NULL, NULL, &e) < 0, 1);
    assert_non_null(strstr(e.message, "cannot tell which interface tap descriptor 0 is"));
    assert_int_equal(tvdc_net_type_of_tap_fd(pol, -1, &t, NULL, NULL, &e), -EINVAL);
}

static void
test_managed(void **state)
{
    tvdc_config *c = NULL;
    tvdc_net_config net;
    tvdc_error e = { 0 };

    assert_int_equal(tvdc_config_new(&c, &e), 0);
    assert_int_equal(tvdc_net_config_managed(c, &net, &e), 0);
    assert_int_equal(tvdc_config_set_string(c, "net_mode", "vxlan", &e), 0);
    assert_int_equal(tvdc_net_config_managed(c, &net, &e), 0);
    assert_int_equal(tvdc_config_set_string(c, "vxlan_group", "239.1.1.1", &e), 0);
    assert_int_equal(tvdc_net_config_managed(c, &net, &e), -EINVAL);
    assert_string_equal(e.message,
                        "net_mode is \"vxlan\" but net_underlay (the underlay device) is not set");
    assert_int_equal(tvdc_config_set_string(c, "net_underlay", "eth1", &e), 0);
    assert_int_equal(tvdc_net_config_managed(c, &net, &e), 1);
    assert_string_equal(net.underlay, "eth1");
    assert_int_equal(tvdc_net_config_managed(NULL, &net, &e), -EINVAL);
    tvdc_config_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iface),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_managed),
    };

    int r;

    policy_json = test_data("policies/net-rules.json", NULL);
    r = cmocka_run_group_tests(tests, setup, teardown);
    free(policy_json);
    return r;
}
