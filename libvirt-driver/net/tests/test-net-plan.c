/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pure part of libtvdc-net, without a kernel: names (long type names,
 * IFNAMSIZ, ids), the configuration, VLAN ranges, trunk diffs, and a table
 * of plans: a snapshot of links in, the expected actions and states out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net-internal.h"
#include "net-test.h"
#include "test-data.h"

#define LONG_TYPE "T23456789012345678901234567890123456789012345678901234567890123X"

static char *policy_json;   /* policies/net-plan.json (a type of LONG_TYPE) */

NET_TEST_POLICY_FIXTURE(policy_json)

static uint32_t
type(const char *name)
{
    int64_t t = tvdc_find_type(pol, name);

    assert_true(t >= 0);
    return (uint32_t) t;
}

static uint32_t
host(const char *name)
{
    int64_t h;

    if (!name)
        return TVDC_NONE;
    h = tvdc_find_host(pol, name);
    assert_true(h >= 0);
    return (uint32_t) h;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */

static void
test_names(void **state)
{
    char n[TVDC_NET_IFNAMSIZ], buf[128];
    uint32_t t;

    assert_int_equal(tvdc_net_bridge_name(pol, type("MA"), n), 0);
    assert_string_equal(n, "tvdcb101");
    assert_int_equal(tvdc_net_port_name(pol, type("MA"), TVDC_NET_MODE_VLAN, n), 0);
    assert_string_equal(n, "tvdcv101");
    assert_int_equal(tvdc_net_port_name(pol, type("MA"), TVDC_NET_MODE_VXLAN, n), 0);
    assert_string_equal(n, "tvdcx101");

    /* a 64-byte type name still gets a short name */
    assert_int_equal(tvdc_net_bridge_name(pol, type(LONG_TYPE), n), 0);
    assert_string_equal(n, "tvdcb4094");
    assert_int_equal(tvdc_net_port_name(pol, type(LONG_TYPE), TVDC_NET_MODE_VXLAN, n), 0);
    assert_string_equal(n, "tvdcx4094");
    assert_int_equal(tvdc_net_network_name(pol, type(LONG_TYPE), buf, sizeof(buf)),
                     (int) strlen("tvdc-" LONG_TYPE));
    assert_string_equal(buf, "tvdc-" LONG_TYPE);
    assert_int_equal(tvdc_net_alias(pol, type(LONG_TYPE), buf, sizeof(buf)),
                     (int) strlen("tvdc:bank-dc:" LONG_TYPE));
    assert_string_equal(buf, "tvdc:bank-dc:" LONG_TYPE);
    assert_true(strlen(buf) < 160);   /* fits tvdc_net_entry.alias */

    /* no network id, bad index, bad mode */
    assert_int_equal(tvdc_net_bridge_name(pol, type("NONET"), n), -ENOENT);
    assert_int_equal(tvdc_net_port_name(pol, type("NONET"), TVDC_NET_MODE_VLAN, n), -ENOENT);
    assert_int_equal(tvdc_net_bridge_name(pol, 999, n), -EINVAL);
    assert_int_equal(tvdc_net_port_name(pol, type("MA"), (tvdc_net_mode) 7, n), -EINVAL);
    assert_int_equal(tvdc_net_bridge_name(NULL, 0, n), -EINVAL);

    /* the largest VNI fits IFNAMSIZ; 0 and 2^24 are no ids */
    assert_int_equal(tn_link_name(TN_BRIDGE_PREFIX, TVDC_NET_VNI_MAX, n), 0);
    assert_string_equal(n, "tvdcb16777215");
    assert_true(strlen(n) < TVDC_NET_IFNAMSIZ);
    assert_int_equal(tn_link_name(TN_BRIDGE_PREFIX, 0, n), -EINVAL);
    assert_int_equal(tn_link_name(TN_BRIDGE_PREFIX, TVDC_NET_VNI_MAX + 1, n), -EINVAL);

    /* names back to ids: canonical decimal only */
    assert_int_equal(tn_name_id("tvdcb", "tvdcb101"), 101);
    assert_int_equal(tn_name_id("tvdcb", "tvdcb16777215"), 16777215);
    assert_int_equal(tn_name_id("tvdcb", "tvdcb16777216"), 0);
    assert_int_equal(tn_name_id("tvdcb", "tvdcb99999999999999"), 0);
    assert_int_equal(tn_name_id("tvdcb", "tvdcb0101"), 0);
    assert_int_equal(tn_name_id("tvdcb", "tvdcb0"), 0);
    assert_int_equal(tn_name_id("tvdcb", "tvdcb"), 0);
    assert_int_equal(tn_name_id("tvdcb", "tvdcb10a"), 0);
    assert_int_equal(tn_name_id("tvdcb", "tvdcb-1"), 0);
    assert_int_equal(tn_name_id("tvdcb", "tvdcx101"), 0);
    assert_int_equal(tn_name_id("tvdcb", NULL), 0);

    assert_int_equal(tvdc_net_type_of_bridge_name(pol, "tvdcb103", &t), 0);
    assert_int_equal(t, type("WEB"));
    assert_int_equal(tvdc_net_type_of_bridge_name(pol, "tvdcb4094", &t), 0);
    assert_int_equal(t, type(LONG_TYPE));
    t = 77;
    assert_int_equal(tvdc_net_type_of_bridge_name(pol, "tvdcb104", &t), -ENOENT);
    assert_int_equal(tvdc_net_type_of_bridge_name(pol, "tvdcx101", &t), -ENOENT);
    assert_int_equal(tvdc_net_type_of_bridge_name(pol, "virbr0", &t), -ENOENT);
    assert_int_equal(t, 77);   /* untouched on failure */

    assert_int_equal(tvdc_net_type_of_network(pol, "tvdc-SU", &t), 0);
    assert_int_equal(t, type("SU"));
    assert_int_equal(tvdc_net_type_of_network(pol, "tvdc-" LONG_TYPE, &t), 0);
    assert_int_equal(t, type(LONG_TYPE));
    assert_int_equal(tvdc_net_type_of_network(pol, "tvdc-NONET", &t), -ENOENT);
    assert_int_equal(tvdc_net_type_of_network(pol, "tvdc-XX", &t), -ENOENT);
    assert_int_equal(tvdc_net_type_of_network(pol, "default", &t), -ENOENT);
    assert_int_equal(tvdc_net_type_of_network(pol, "tvdc-ma", &t), -ENOENT);
}

static void
test_alias(void **state)
{
    const char *p, *t;
    size_t pl, tl;

    assert_true(tn_owned("tvdc:bank-dc:MA"));
    assert_true(tn_owned("tvdc:"));
    assert_false(tn_owned("TVDC:bank-dc:MA"));
    assert_false(tn_owned("my tvdc:bridge"));
    assert_false(tn_owned(""));
    assert_false(tn_owned(NULL));

    assert_true(tn_alias_parse("tvdc:bank-dc:MA", &p, &pl, &t, &tl));
    assert_int_equal(pl, 7);
    assert_memory_equal(p, "bank-dc", 7);
    assert_string_equal(t, "MA");
    assert_false(tn_alias_parse("tvdc:bank-dc", &p, &pl, &t, &tl));
    assert_false(tn_alias_parse("tvdc::MA", &p, &pl, &t, &tl));
    assert_false(tn_alias_parse("tvdc:a:", &p, &pl, &t, &tl));
    assert_false(tn_alias_parse("tvdc:a:b:c", &p, &pl, &t, &tl));
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

static void
test_config(void **state)
{
    static const char *const peers4[] = { "10.0.0.1", "10.0.0.2" };
    static const char *const peers_mixed[] = { "10.0.0.1", "fd00::2" };
    static const char *const peers6[] = { "fd00::1", "fd00::2" };
    static const char *const peers_bad[] = { "10.0.0.1", "host-b" };
    static const struct {
        tvdc_net_config conf;
        const char *error;    /* NULL: fine */
    } cases[] = {
        { { .mode = TVDC_NET_MODE_VLAN, .uplink = "eno1" }, NULL },
        { { .mode = TVDC_NET_MODE_VLAN },
          "net_mode is \"vlan\" but net_uplink (the 802.1Q uplink) is not set" },
        { { .mode = TVDC_NET_MODE_VXLAN, .underlay = "ul0", .vxlan_peers = peers4,
            .n_vxlan_peers = 2, .vxlan_port = 4789 }, NULL },
        { { .mode = TVDC_NET_MODE_VXLAN, .underlay = "ul0",
            .vxlan_group = "239.1.1.1", .vxlan_local = "10.0.0.1" }, NULL },
        { { .mode = TVDC_NET_MODE_VXLAN, .vxlan_group = "239.1.1.1" },
          "net_mode is \"vxlan\" but net_underlay (the underlay device) is not set" },
        { { .mode = TVDC_NET_MODE_VXLAN, .underlay = "ul0" },
          "net_mode is \"vxlan\" but neither vxlan_peers nor vxlan_group is set" },
        { { .mode = TVDC_NET_MODE_VXLAN, .underlay = "ul0", .vxlan_peers = peers4,
            .n_vxlan_peers = 2, .vxlan_group = "239.1.1.1" },
          "vxlan_peers and vxlan_group are both set: choose one" },
        { { .mode = TVDC_NET_MODE_VXLAN, .underlay = "ul0", .vxlan_peers = peers_mixed,
            .n_vxlan_peers = 2 },
          "vxlan_peers, vxlan_group and vxlan_local mix IPv4 and IPv6" },
        { { .mode = TVDC_NET_MODE_VXLAN, .underlay = "ul0", .vxlan_peers = peers4,
            .n_vxlan_peers = 2, .vxlan_local = "fd00::9" },
          "vxlan_peers, vxlan_group and vxlan_local mix IPv4 and IPv6" },
        { { .mode = TVDC_NET_MODE_VXLAN, .underlay = "ul0", .vxlan_peers = peers6,
            .n_vxlan_peers = 2 }, "an IPv6 underlay needs vxlan_local" },
        { { .mode = TVDC_NET_MODE_VXLAN, .underlay = "ul0", .vxlan_peers = peers6,
            .n_vxlan_peers = 2, .vxlan_local = "fd00::1" }, NULL },
        { { .mode = TVDC_NET_MODE_VXLAN, .underlay = "ul0", .vxlan_peers = peers_bad,
            .n_vxlan_peers = 2 }, "not an IPv4 or IPv6 address: \"host-b\"" },
    };

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        tvdc_error e = { 0 };
        int r;

        r = tvdc_net_config_check(&cases[i].conf, &e);
        print_message("config[%zu]: %d %s\n", i, r, e.message);
        if (!cases[i].error) {
            assert_int_equal(r, 0);
        } else {
            assert_int_equal(r, -EINVAL);
            assert_string_equal(e.message, cases[i].error);
        }
    }
}

/* tvdc_net_config_from: a tvdc.conf's settings, checked; nothing written
 * on failure. */
static void
test_config_from(void **state)
{
    static const char good[] =
        "net_mode = \"vxlan\"\nnet_underlay = \"ul0\"\n"
        "vxlan_peers = [ \"10.0.0.1\", \"10.0.0.2\" ]\nvxlan_port = 4790\n";
    static const char bad[] = "net_mode = \"vlan\"\n";
    char path[] = "/tmp/test-net-plan.XXXXXX";
    tvdc_config *conf = NULL;
    tvdc_net_config c;
    tvdc_error e = { 0 };
    int fd;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, good, sizeof(good) - 1), (ssize_t) sizeof(good) - 1);
    assert_int_equal(tvdc_config_load(path, &conf, &e), 0);
    assert_int_equal(tvdc_net_config_from(conf, &c, &e), 0);
    assert_int_equal(c.mode, TVDC_NET_MODE_VXLAN);
    assert_string_equal(c.underlay, "ul0");
    assert_null(c.uplink);
    assert_int_equal(c.n_vxlan_peers, 2);
    assert_string_equal(c.vxlan_peers[1], "10.0.0.2");
    assert_int_equal(c.vxlan_port, 4790);
    tvdc_config_free(conf);

    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, bad, sizeof(bad) - 1, 0), (ssize_t) sizeof(bad) - 1);
    close(fd);
    assert_int_equal(tvdc_config_load(path, &conf, &e), 0);
    memset(&c, 0xa5, sizeof(c));
    assert_int_equal(tvdc_net_config_from(conf, &c, &e), -EINVAL);
    assert_string_equal(e.message,
                        "net_mode is \"vlan\" but net_uplink (the 802.1Q uplink) is not set");
    assert_int_equal(((unsigned char *) &c)[0], 0xa5);   /* untouched */
    tvdc_config_free(conf);
    unlink(path);
}

/* ------------------------------------------------------------------------ */
/* VLAN ranges and trunks                                                   */

static void
bitmap_of(uint64_t b[64], const unsigned *ids, size_t n)
{
    memset(b, 0, 64 * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        tn_vlan_set(b, ids[i]);
}

static void
test_vlan_ranges(void **state)
{
    uint64_t b[64];
    tn_vlan_range r[2048];
    char buf[64];

    bitmap_of(b, (unsigned[]) { 1, 2, 3, 5, 4093, 4094 }, 6);
    assert_int_equal(tn_vlan_ranges(b, r, 2048), 3);
    assert_int_equal(r[0].first, 1);
    assert_int_equal(r[0].last, 3);
    assert_int_equal(r[1].first, 5);
    assert_int_equal(r[1].last, 5);
    assert_int_equal(r[2].first, 4093);
    assert_int_equal(r[2].last, 4094);
    assert_int_equal(tvdc_net_vlans_format(b, buf, sizeof(buf)), 15);
    assert_string_equal(buf, "1-3,5,4093-4094");
    /* truncation: the length still counts everything */
    assert_int_equal(tvdc_net_vlans_format(b, buf, 6), 15);
    assert_string_equal(buf, "1-3,5");

    bitmap_of(b, NULL, 0);
    assert_int_equal(tn_vlan_ranges(b, r, 2048), 0);
    assert_int_equal(tvdc_net_vlans_format(b, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");

    /* 0 and 4095 are never VLANs, even if set */
    tn_vlan_set(b, 0);
    tn_vlan_set(b, 4095);
    assert_int_equal(tn_vlan_ranges(b, r, 2048), 0);

    /* everything: one range */
    for (unsigned v = 1; v <= 4094; v++)
        tn_vlan_set(b, v);
    assert_int_equal(tn_vlan_ranges(b, r, 2048), 1);
    assert_int_equal(r[0].first, 1);
    assert_int_equal(r[0].last, 4094);

    /* every other id: the most ranges there can be; max limits what is
     * written, not what is counted */
    memset(b, 0, sizeof(b));
    for (unsigned v = 1; v <= 4094; v += 2)
        tn_vlan_set(b, v);
    assert_int_equal(tn_vlan_ranges(b, r, 2048), 2047);
    assert_int_equal(r[2046].first, 4093);
    assert_int_equal(tn_vlan_ranges(b, r, 3), 2047);
}

static void
test_trunk(void **state)
{
    uint64_t want[64], have[64], untagged[64], add[64], del[64], expect[64];

    /* the default port: VLAN 1 PVID untagged; wants 101 and 103 */
    bitmap_of(want, (unsigned[]) { 101, 103 }, 2);
    bitmap_of(have, (unsigned[]) { 1, 101, 102 }, 3);
    bitmap_of(untagged, (unsigned[]) { 1 }, 1);
    assert_int_equal(tn_trunk_diff(want, have, untagged, 1, add, del), 0);
    bitmap_of(expect, (unsigned[]) { 103 }, 1);
    assert_memory_equal(add, expect, sizeof(expect));
    bitmap_of(expect, (unsigned[]) { 1, 102 }, 2);
    assert_memory_equal(del, expect, sizeof(expect));

    /* a wanted VLAN that is untagged or the PVID is re-added tagged */
    bitmap_of(have, (unsigned[]) { 101, 103 }, 2);
    bitmap_of(untagged, (unsigned[]) { 101 }, 1);
    assert_int_equal(tn_trunk_diff(want, have, untagged, 103, add, del), 0);
    bitmap_of(expect, (unsigned[]) { 101, 103 }, 2);
    assert_memory_equal(add, expect, sizeof(expect));
    bitmap_of(expect, NULL, 0);
    assert_memory_equal(del, expect, sizeof(expect));

    /* already right: nothing */
    bitmap_of(untagged, NULL, 0);
    assert_int_equal(tn_trunk_diff(want, have, untagged, 0, add, del), 0);
    assert_memory_equal(add, expect, sizeof(expect));
    assert_memory_equal(del, expect, sizeof(expect));

    /* reserved ids are refused */
    tn_vlan_set(want, 4095);
    assert_int_equal(tn_trunk_diff(want, have, untagged, 0, add, del), -ERANGE);
    bitmap_of(want, (unsigned[]) { 0 }, 1);
    assert_int_equal(tn_trunk_diff(want, have, untagged, 0, add, del), -ERANGE);
}

static void
test_host_vlans(void **state)
{
    uint64_t b[64];
    char buf[64];

    assert_int_equal(tvdc_net_host_vlans(pol, host("host-a"), b), 0);
    tvdc_net_vlans_format(b, buf, sizeof(buf));
    assert_string_equal(buf, "101-103,4094");
    assert_int_equal(tvdc_net_host_vlans(pol, host("host-b"), b), 0);
    tvdc_net_vlans_format(b, buf, sizeof(buf));
    assert_string_equal(buf, "101,103");
    assert_int_equal(tvdc_net_host_vlans(pol, 99, b), -EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Plans                                                                    */

/* A snapshot written as text, one link per line:
 *   IFINDEX NAME KIND [alias=A] [master=N] [lower=N] [id=N] [port=N]
 *         [group=ADDR] [local=ADDR] [proto=N] [down]
 * KIND is bridge, vlan, vxlan or other; "fdb IFINDEX ADDR" lines are FDB
 * entries, "addr ADDR" lines this host's addresses. */
static tn_state *
parse_state(const char *text)
{
    tn_state *s = calloc(1, sizeof(*s));
    char *copy = strdup(text ? text : ""), *save = NULL;

    assert_non_null(s);
    s->links = calloc(64, sizeof(*s->links));
    s->fdb = calloc(64, sizeof(*s->fdb));
    s->addrs = calloc(16, sizeof(*s->addrs));
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *w, *save2 = NULL;
        tn_link *l;

        w = strtok_r(line, " ", &save2);
        if (strcmp(w, "fdb") == 0) {
            tn_fdb *f = &s->fdb[s->n_fdb++];

            f->ifindex = atoi(strtok_r(NULL, " ", &save2));
            assert_int_equal(tn_addr_parse(strtok_r(NULL, " ", &save2), &f->dst), 0);
            continue;
        }
        if (strcmp(w, "addr") == 0) {
            assert_int_equal(tn_addr_parse(strtok_r(NULL, " ", &save2),
                                           &s->addrs[s->n_addrs++]), 0);
            continue;
        }
        l = &s->links[s->n_links++];
        l->ifindex = atoi(w);
        snprintf(l->name, sizeof(l->name), "%s", strtok_r(NULL, " ", &save2));
        w = strtok_r(NULL, " ", &save2);
        l->kind = strcmp(w, "bridge") == 0 ? TN_KIND_BRIDGE : strcmp(w, "vlan") == 0 ?
                  TN_KIND_VLAN : strcmp(w, "vxlan") == 0 ? TN_KIND_VXLAN : TN_KIND_OTHER;
        l->up = true;
        l->port = l->kind == TN_KIND_VXLAN ? 4789 : 0;
        l->vlan_proto = l->kind == TN_KIND_VLAN ? 0x8100 : 0;
        while ((w = strtok_r(NULL, " ", &save2))) {
            char *v = strchr(w, '=');

            if (strcmp(w, "down") == 0) {
                l->up = false;
                continue;
            }
            assert_non_null(v);
            *v++ = '\0';
            if (strcmp(w, "alias") == 0)
                snprintf(l->alias, sizeof(l->alias), "%s", v);
            else if (strcmp(w, "master") == 0)
                l->master = atoi(v);
            else if (strcmp(w, "lower") == 0)
                l->lower = atoi(v);
            else if (strcmp(w, "id") == 0)
                l->id = (uint32_t) atoi(v);
            else if (strcmp(w, "port") == 0)
                l->port = (uint16_t) atoi(v);
            else if (strcmp(w, "proto") == 0)
                l->vlan_proto = (uint16_t) strtol(v, NULL, 0);
            else if (strcmp(w, "group") == 0)
                assert_int_equal(tn_addr_parse(v, &l->group), 0);
            else if (strcmp(w, "local") == 0)
                assert_int_equal(tn_addr_parse(v, &l->local), 0);
            else
                fail_msg("bad snapshot word %s", w);
        }
    }
    free(copy);
    return s;
}

typedef struct plan_case {
    const char *name;
    const char *host;            /* NULL: a host not in the policy */
    tvdc_net_mode mode;
    unsigned flags;
    const char *only;            /* TN_PLAN_ONLY: space-separated types */
    const char *group;           /* vxlan_group instead of the peers */
    const char *state;
    int ret;                     /* of tn_plan_build */
    int error;                   /* plan->error */
    const char *actions;         /* tn_action_format lines */
    const char *items;           /* "TYPE:state" (or "-NAME:state" for stale), space-separated */
    const char *message;         /* plan->message or err.message, substring */
} plan_case;

#define UL "1 lo other\n2 ul0 other\naddr 10.0.0.1\n"
#define MA_OK "10 tvdcb101 bridge alias=tvdc:bank-dc:MA\n" \
              "11 tvdcx101 vxlan alias=tvdc:bank-dc:MA master=10 lower=2 id=101\n" \
              "fdb 11 10.0.0.2\nfdb 11 10.0.0.3\n"
#define WEB_OK "12 tvdcb103 bridge alias=tvdc:bank-dc:WEB\n" \
               "13 tvdcx103 vxlan alias=tvdc:bank-dc:WEB master=12 lower=2 id=103\n" \
               "fdb 13 10.0.0.2\nfdb 13 10.0.0.3\n"
#define ADD(id) \
    "add bridge tvdcb" #id "\n" \
    "add vxlan tvdcx" #id " vni " #id " link 2 port 4789 group none local none master tvdcb" #id "\n" \
    "add fdb tvdcx" #id " 10.0.0.2\n" \
    "add fdb tvdcx" #id " 10.0.0.3\n"

static const plan_case plan_cases[] = {
    { "vxlan, nothing yet: every networked type of the label, peers but not self",
      "host-a", TVDC_NET_MODE_VXLAN, 0, NULL, NULL, UL, 0, 0,
      ADD(101) ADD(102) ADD(103) ADD(4094),
      "MA:missing SU:missing WEB:missing NONET:no-network " LONG_TYPE ":missing", NULL },
    { "vxlan, all in place: nothing to do",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL, UL MA_OK WEB_OK, 0, 0,
      "", "MA:ok WEB:ok", NULL },
    { "vxlan, repairs: down, unenslaved, wrong FDB, renamed policy",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL,
      UL "10 tvdcb101 bridge alias=tvdc:bank-dc:MA down\n"
         "11 tvdcx101 vxlan alias=tvdc:bank-dc:MA lower=2 id=101 down\n"
         "fdb 11 10.0.0.2\nfdb 11 10.0.0.9\n"
         "12 tvdcb103 bridge alias=tvdc:old-dc:WEB\n"
         "13 tvdcx103 vxlan alias=tvdc:old-dc:WEB master=12 lower=2 id=103\n"
         "fdb 13 10.0.0.2\nfdb 13 10.0.0.3\n", 0, 0,
      "up tvdcb101\n"
      "master tvdcx101 tvdcb101\n"
      "up tvdcx101\n"
      "add fdb tvdcx101 10.0.0.3\n"
      "del fdb tvdcx101 10.0.0.9\n"
      "alias tvdcb103\n"
      "alias tvdcx103\n",
      "MA:differs WEB:differs", "FDB of tvdcx101: 1 peer missing, 1 extra" },
    { "vxlan, wrong VNI, underlay, port: the port is made again",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL,
      UL "3 eth1 other\n"
         "10 tvdcb101 bridge alias=tvdc:bank-dc:MA\n"
         "11 tvdcx101 vxlan alias=tvdc:bank-dc:MA master=10 lower=2 id=5\n"
         "12 tvdcb103 bridge alias=tvdc:bank-dc:WEB\n"
         "13 tvdcx103 vxlan alias=tvdc:bank-dc:WEB master=12 lower=3 id=103 port=8472\n", 0, 0,
      "delete tvdcx101\n"
      "delete tvdcx103\n"
      "add vxlan tvdcx101 vni 101 link 2 port 4789 group none local none master tvdcb101\n"
      "add fdb tvdcx101 10.0.0.2\nadd fdb tvdcx101 10.0.0.3\n"
      "add vxlan tvdcx103 vni 103 link 2 port 4789 group none local none master tvdcb103\n"
      "add fdb tvdcx103 10.0.0.2\nadd fdb tvdcx103 10.0.0.3\n",
      "MA:differs WEB:differs", "tvdcx101 has VNI 5, not 101" },
    { "a bridge of another type under our name: made again, with its port",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL,
      UL "10 tvdcb101 bridge alias=tvdc:bank-dc:SU\n"
         "11 tvdcx101 vxlan alias=tvdc:bank-dc:SU master=10 lower=2 id=101\n"
         "fdb 11 10.0.0.2\nfdb 11 10.0.0.3\n" WEB_OK, 0, 0,
      "delete tvdcb101\n"
      "delete tvdcx101\n"
      ADD(101),
      "MA:differs WEB:ok", "tvdcb101 belongs to another type (tvdc:bank-dc:SU)" },
    { "a tvdc interface of the right name but not a bridge",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL,
      UL "10 tvdcb101 other alias=tvdc:bank-dc:MA\n" WEB_OK, 0, 0,
      "delete tvdcb101\n" ADD(101), "MA:differs WEB:ok", "tvdcb101 is not a bridge" },
    { "stale: unauthorized types, other policies, the other mode; foreign kept",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL,
      UL MA_OK WEB_OK
         "20 tvdcb102 bridge alias=tvdc:bank-dc:SU\n"
         "21 tvdcx102 vxlan alias=tvdc:bank-dc:SU master=20 lower=2 id=102\n"
         "22 tvdcv103 vlan alias=tvdc:bank-dc:WEB lower=2 id=103\n"
         "23 tvdcb7 bridge alias=tvdc:old:XY\n"
         "24 br0 bridge\n"
         "25 virbr0 bridge alias=libvirt\n"
         "26 vnet0 other master=20\n", 0, 0,
      "delete tvdcb102\ndelete tvdcx102\ndelete tvdcv103\ndelete tvdcb7\n",
      "MA:ok WEB:ok -tvdcb102:stale -tvdcx102:stale -tvdcv103:stale -tvdcb7:stale", NULL },
    { "a foreign interface with our name: refused, nothing planned for it",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL,
      UL "10 tvdcb101 bridge\n" WEB_OK, 0, -EEXIST, "",
      "MA:foreign WEB:ok",
      "type MA: tvdcb101 exists and is not tvdc's (no \"tvdc:\" alias)" },
    { "a foreign port name",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL,
      UL "11 tvdcx101 vxlan id=101 lower=2 alias=mine\n" WEB_OK, 0, -EEXIST,
      "", "MA:foreign WEB:ok", "tvdcx101 exists and is not tvdc's" },
    { "no underlay",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL, "1 lo other\n", 0, -ENODEV, "",
      "MA:missing WEB:missing", "the underlay (net_underlay) ul0 does not exist" },
    { "no uplink in vlan mode",
      "host-b", TVDC_NET_MODE_VLAN, 0, NULL, NULL, UL, 0, -ENODEV, "",
      "MA:missing WEB:missing", "the uplink (net_uplink) eno1 does not exist" },
    { "the underlay is one of tvdc's",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, NULL,
      "2 ul0 bridge alias=tvdc:x:y\n", 0, -EINVAL, "delete ul0\n",
      "MA:missing WEB:missing -ul0:stale", "ul0 is one of tvdc's own interfaces" },
    { "vlan mode: 802.1Q sub-interfaces of the uplink; the vxlan ones go",
      "host-b", TVDC_NET_MODE_VLAN, 0, NULL, NULL,
      "1 lo other\n5 eno1 other\n" MA_OK, 0, 0,
      "delete tvdcx101\n"
      "add vlan tvdcv101 id 101 link 5 master tvdcb101\n"
      "add bridge tvdcb103\n"
      "add vlan tvdcv103 id 103 link 5 master tvdcb103\n",
      "MA:missing WEB:missing -tvdcx101:stale", NULL },
    { "vlan mode: wrong parent, wrong protocol",
      "host-b", TVDC_NET_MODE_VLAN, 0, NULL, NULL,
      "1 lo other\n5 eno1 other\n6 eno2 other\n"
      "10 tvdcb101 bridge alias=tvdc:bank-dc:MA\n"
      "11 tvdcv101 vlan alias=tvdc:bank-dc:MA master=10 lower=6 id=101\n"
      "12 tvdcb103 bridge alias=tvdc:bank-dc:WEB\n"
      "13 tvdcv103 vlan alias=tvdc:bank-dc:WEB master=12 lower=5 id=103 proto=0x88a8\n", 0, 0,
      "delete tvdcv101\ndelete tvdcv103\n"
      "add vlan tvdcv101 id 101 link 5 master tvdcb101\n"
      "add vlan tvdcv103 id 103 link 5 master tvdcb103\n",
      "MA:differs WEB:differs", "tvdcv101 is on eno2, not eno1" },
    { "vlan mode, all in place",
      "host-b", TVDC_NET_MODE_VLAN, 0, NULL, NULL,
      "5 eno1 other\n"
      "10 tvdcb101 bridge alias=tvdc:bank-dc:MA\n"
      "11 tvdcv101 vlan alias=tvdc:bank-dc:MA master=10 lower=5 id=101\n"
      "12 tvdcb103 bridge alias=tvdc:bank-dc:WEB\n"
      "13 tvdcv103 vlan alias=tvdc:bank-dc:WEB master=12 lower=5 id=103\n", 0, 0,
      "", "MA:ok WEB:ok", NULL },
    { "VLAN id 1 is a VLAN like any other",
      "host-c", TVDC_NET_MODE_VLAN, 0, NULL, NULL, "5 eno1 other\n", 0, 0,
      "add bridge tvdcb1\nadd vlan tvdcv1 id 1 link 5 master tvdcb1\n", "BIG:missing", NULL },
    { "multicast group instead of peers: no FDB entries",
      "host-b", TVDC_NET_MODE_VXLAN, 0, NULL, "239.1.1.1", UL
      "12 tvdcb103 bridge alias=tvdc:bank-dc:WEB\n"
      "13 tvdcx103 vxlan alias=tvdc:bank-dc:WEB master=12 lower=2 id=103\n", 0, 0,
      "delete tvdcx103\n"
      "add bridge tvdcb101\n"
      "add vxlan tvdcx101 vni 101 link 2 port 4789 group 239.1.1.1 local none master tvdcb101\n"
      "add vxlan tvdcx103 vni 103 link 2 port 4789 group 239.1.1.1 local none master tvdcb103\n",
      "MA:missing WEB:differs", "tvdcx103 has group none, not 239.1.1.1" },
    { "only the VM's types (the driver at start): nothing else is touched",
      "host-a", TVDC_NET_MODE_VXLAN, TN_PLAN_ONLY, "WEB NONET", NULL,
      UL MA_OK "23 tvdcb7 bridge alias=tvdc:old:XY\n", 0, 0,
      ADD(103), "WEB:missing NONET:no-network", NULL },
    { "only a type the host may not have",
      "host-b", TVDC_NET_MODE_VXLAN, TN_PLAN_ONLY, "SU", NULL, UL, -EPERM, 0, "", "",
      "type SU is not in the label of host host-b" },
    { "clean: every tvdc interface, nothing else",
      "host-b", TVDC_NET_MODE_VXLAN, TN_PLAN_CLEAN, NULL, NULL,
      UL MA_OK "23 tvdcb7 bridge alias=tvdc:old:XY\n24 br0 bridge\n25 x vlan alias=tvdcfoo\n",
      0, 0, "delete tvdcb101\ndelete tvdcx101\ndelete tvdcb7\n",
      "-tvdcb101:stale -tvdcx101:stale -tvdcb7:stale", NULL },
    { "a host the policy does not list wants no bridges",
      NULL, TVDC_NET_MODE_VXLAN, 0, NULL, NULL, UL MA_OK, 0, 0,
      "delete tvdcb101\ndelete tvdcx101\n", "-tvdcb101:stale -tvdcx101:stale", NULL },
};

static void
test_plans(void **state)
{
    static const char *const peers[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.2" };

    for (size_t i = 0; i < ELEMENTSOF(plan_cases); i++) {
        const plan_case *pc = &plan_cases[i];
        tvdc_net_config c = {
            .mode = pc->mode, .uplink = "eno1", .underlay = "ul0",
            .vxlan_peers = pc->group ? NULL : peers, .n_vxlan_peers = pc->group ? 0 : 4,
            .vxlan_group = pc->group,
        };
        tn_state *s = parse_state(pc->state);
        uint32_t only[8];
        size_t n_only = 0;
        tn_plan *plan = NULL;
        tvdc_error e = { 0 };
        char got[8192] = "", items[4096] = "", buf[256];
        size_t k = 0;
        int r;

        print_message("plan[%zu]: %s\n", i, pc->name);
        if (pc->only) {
            char *copy = strdup(pc->only), *save = NULL;

            for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
                only[n_only++] = type(w);
            free(copy);
        }
        r = tn_plan_build(pol, host(pc->host), &c, s, only, n_only, pc->flags, &plan, &e);
        assert_int_equal(r, pc->ret);
        if (r < 0) {
            assert_null(plan);
            assert_non_null(strstr(e.message, pc->message));
            tn_state_free(s);
            continue;
        }
        assert_int_equal(plan->error, pc->error);
        if (pc->message && !strstr(plan->message, pc->message)) {
            bool found = false;

            for (size_t j = 0; j < plan->n_items && !found; j++)
                found = strstr(plan->items[j].detail, pc->message) != NULL;
            if (!found)
                fail_msg("message '%s' not in '%s' nor in any item", pc->message,
                         plan->message);
        }
        for (size_t j = 0; j < plan->n_actions; j++)
            k += (size_t) snprintf(got + k, sizeof(got) - k, "%s\n",
                                   tn_action_format(&plan->actions[j], buf, sizeof(buf)));
        if (strcmp(got, pc->actions) != 0) {
            fail_msg("actions:\n%s\nexpected:\n%s", got, pc->actions);
        }

        k = 0;
        for (size_t j = 0; j < plan->n_items; j++) {
            const tvdc_net_entry *it = &plan->items[j];

            if (it->type == TVDC_NONE)
                k += (size_t) snprintf(items + k, sizeof(items) - k, "%s-%s:%s", k ? " " : "",
                                       it->bridge[0] ? it->bridge : it->port,
                                       tvdc_net_state_to_string(it->state));
            else
                k += (size_t) snprintf(items + k, sizeof(items) - k, "%s%s:%s", k ? " " : "",
                                       tvdc_type_name(pol, it->type),
                                       tvdc_net_state_to_string(it->state));
        }
        if (strcmp(items, pc->items) != 0)
            fail_msg("items: %s\nexpected: %s", items, pc->items);
        tn_plan_free(plan);
        tn_state_free(s);
    }
}

/* Applying a plan's actions to its snapshot gives a snapshot whose plan is
 * empty: the plans converge. */
static void
simulate(tn_state *s, const tn_plan *plan)
{
    int next = 100;

    for (size_t i = 0; i < plan->n_actions; i++) {
        const tn_action *a = &plan->actions[i];
        const tvdc_net_entry *it = &plan->items[a->item];
        tn_link *l = NULL;

        for (size_t j = 0; j < s->n_links; j++)
            if (strcmp(s->links[j].name, a->name) == 0)
                l = &s->links[j];
        switch (a->op) {
        case TN_OP_DELETE:
            assert_non_null(l);
            *l = s->links[--s->n_links];
            break;
        case TN_OP_ADD_BRIDGE:
        case TN_OP_ADD_VLAN:
        case TN_OP_ADD_VXLAN:
            assert_null(l);
            l = &s->links[s->n_links++];
            memset(l, 0, sizeof(*l));
            l->ifindex = next++;
            snprintf(l->name, sizeof(l->name), "%s", a->name);
            snprintf(l->alias, sizeof(l->alias), "%s", it->alias);
            l->up = true;
            l->kind = a->op == TN_OP_ADD_BRIDGE ? TN_KIND_BRIDGE :
                      a->op == TN_OP_ADD_VLAN ? TN_KIND_VLAN : TN_KIND_VXLAN;
            l->vlan_proto = a->op == TN_OP_ADD_VLAN ? 0x8100 : 0;
            l->id = a->id;
            l->lower = a->lower;
            l->port = a->port;
            l->group = a->group;
            l->local = a->local;
            if (a->master[0]) {
                const tn_link *m = tn_state_find(s, a->master);

                assert_non_null(m);
                l->master = m->ifindex;
            }
            break;
        case TN_OP_SET_ALIAS:
            snprintf(l->alias, sizeof(l->alias), "%s", it->alias);
            break;
        case TN_OP_SET_MASTER:
            l->master = tn_state_find(s, a->master)->ifindex;
            break;
        case TN_OP_SET_UP:
            l->up = true;
            break;
        case TN_OP_ADD_FDB:
            s->fdb[s->n_fdb++] = (tn_fdb) { tn_state_find(s, a->name)->ifindex, a->addr };
            break;
        case TN_OP_DEL_FDB:
            for (size_t j = 0; j < s->n_fdb; j++)
                if (s->fdb[j].ifindex == l->ifindex && tn_addr_equal(&s->fdb[j].dst, &a->addr))
                    s->fdb[j--] = s->fdb[--s->n_fdb];
            break;
        }
    }
}

static void
test_converge(void **state)
{
    static const char *const peers[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3" };

    for (size_t i = 0; i < ELEMENTSOF(plan_cases); i++) {
        const plan_case *pc = &plan_cases[i];
        tvdc_net_config c = {
            .mode = pc->mode, .uplink = "eno1", .underlay = "ul0",
            .vxlan_peers = pc->group ? NULL : peers, .n_vxlan_peers = pc->group ? 0 : 3,
            .vxlan_group = pc->group,
        };
        tn_state *s;
        tn_plan *plan = NULL;

        if (pc->ret < 0 || pc->error < 0 || pc->flags)
            continue;
        print_message("converge[%zu]: %s\n", i, pc->name);
        s = parse_state(pc->state);
        assert_int_equal(tn_plan_build(pol, host(pc->host), &c, s, NULL, 0, 0, &plan, NULL), 0);
        simulate(s, plan);
        tn_plan_free(plan);
        assert_int_equal(tn_plan_build(pol, host(pc->host), &c, s, NULL, 0, 0, &plan, NULL), 0);
        assert_int_equal(plan->n_actions, 0);
        for (size_t j = 0; j < plan->n_items; j++)
            assert_true(plan->items[j].state == TVDC_NET_OK ||
                        plan->items[j].state == TVDC_NET_NO_NETWORK);
        tn_plan_free(plan);
        tn_state_free(s);
    }
}

static void
test_bad_args(void **state)
{
    tn_state s = { 0 };
    tn_plan *plan = NULL;
    tvdc_net_config c = { .mode = TVDC_NET_MODE_VLAN, .uplink = "eno1" };
    tvdc_net_config bad = { .mode = (tvdc_net_mode) 9 };
    tvdc_error e = { 0 };

    assert_int_equal(tn_plan_build(NULL, 0, &c, &s, NULL, 0, 0, &plan, NULL), -EINVAL);
    assert_int_equal(tn_plan_build(pol, 0, NULL, &s, NULL, 0, 0, &plan, NULL), -EINVAL);
    assert_int_equal(tn_plan_build(pol, 0, &c, NULL, NULL, 0, 0, &plan, NULL), -EINVAL);
    assert_int_equal(tn_plan_build(pol, 17, &c, &s, NULL, 0, 0, &plan, &e), -EINVAL);
    assert_string_equal(e.message, "host index 17 out of range");
    assert_int_equal(tn_plan_build(pol, 0, &bad, &s, NULL, 0, 0, &plan, &e), -EINVAL);
    assert_string_equal(e.message, "unknown network mode 9");
    assert_null(plan);
    /* clean needs neither policy nor configuration */
    assert_int_equal(tn_plan_build(NULL, 0, NULL, &s, NULL, 0, TN_PLAN_CLEAN, &plan, NULL), 0);
    assert_int_equal(plan->n_actions, 0);
    tn_plan_free(plan);
    tn_plan_free(NULL);
    tn_state_free(NULL);
    tvdc_net_report_free(NULL);
    assert_string_equal(tvdc_net_state_to_string(TVDC_NET_FOREIGN), "foreign");
    assert_string_equal(tvdc_net_state_to_string((tvdc_net_state) 42), "?");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_alias),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_from),
        cmocka_unit_test(test_vlan_ranges),
        cmocka_unit_test(test_trunk),
        cmocka_unit_test(test_host_vlans),
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_converge),
        cmocka_unit_test(test_bad_args),
    };

    int r;

    policy_json = test_data("policies/net-plan.json", NULL);
    r = cmocka_run_group_tests(tests, setup, teardown);
    free(policy_json);
    return r;
}
