/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What `tvdc attest` reads from a domain's live XML, as libvirt formats it
 * (attest-xml.c). */
#pragma once

#include <stddef.h>

#define ATTEST_PORT "org.tvdc.attest.0"

/* The tvdc label of the domain's own <seclabel model='tvdc'> ("" when it
 * has none), malloc'ed: 0, -EBADMSG (not XML this reader can follow: never
 * taken for "unlabeled"), -ENOMEM. */
int attest_xml_label(const char *xml, char **ret);

/* The unix socket of the <channel type='unix'> whose target is the virtio
 * port ATTEST_PORT (NULL: none): 0, -EBADMSG. */
int attest_xml_channel(const char *xml, char **ret);

/* One <interface> of the domain's <devices>. */
typedef struct attest_iface {
    char *mac;                /* <mac address='...'/>, NULL when it has none */
    int link_up;              /* no <link state='down'/> */
    char *xml;                /* the element, as libvirt formatted it */
} attest_iface;

/* The domain's interfaces: 0, -EBADMSG, -ENOMEM; *ret NULL when it has
 * none. */
int attest_xml_interfaces(const char *xml, attest_iface **ret, size_t *n);
void attest_ifaces_free(attest_iface *v, size_t n);

/* The interface element iface_xml with its link state set: malloc'ed. */
char *attest_xml_set_link(const char *iface_xml, int up);
