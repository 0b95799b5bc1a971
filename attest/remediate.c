/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The action plan when a VM cannot be shown trustworthy (attest/README.md,
 * "Remediation"): the label's "attest_fail" in the policy.  Pause and
 * shutdown are libvirt's; quarantine takes every interface's link down
 * (the update `virsh domif-setlink` makes) and records the VM in
 * TVDC_QUARANTINE_DIR, where the tvdc driver finds it and refuses to start,
 * resume or migrate the VM, or to change its devices other than taking a
 * link down, until `tvdc attest clear`.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/virterror.h>

#include "attest-xml.h"
#include "remediate.h"
#include "tvdc-basic.h"
#include "tvdc-paths.h"

#define POLL_MS 200

static const char *
virt_error(void)
{
    virErrorPtr e = virGetLastError();

    return e && e->message ? e->message : "unknown error";
}

static int __attribute__((format(printf, 3, 4)))
say(attest_remedy *res, int done, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
    va_end(ap);
    res->done = done;
    return done < 0 ? -1 : 0;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 };

    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* The live interfaces of dom: 0 or -1 (error said in why). */
static int
live_ifaces(virDomainPtr dom, attest_iface **ifs, size_t *n, char *why, size_t len)
{
    char *xml = virDomainGetXMLDesc(dom, 0);
    int r;

    if (!xml) {
        snprintf(why, len, "cannot read its live XML: %s", virt_error());
        return -1;
    }
    r = attest_xml_interfaces(xml, ifs, n);
    free(xml);
    if (r < 0)
        snprintf(why, len, "%s", strerror(-r));
    return r < 0 ? -1 : 0;
}

/* Set the live link of interface `iface` (its XML as libvirt formats it). */
static int
set_link(virDomainPtr dom, const attest_iface *iface, int up, char *why, size_t len)
{
    char *xml = attest_xml_set_link(iface->xml, up);
    int r;

    if (!xml) {
        snprintf(why, len, "interface %s: cannot edit its XML", iface->mac ? iface->mac : "?");
        return -1;
    }
    r = virDomainUpdateDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE);
    free(xml);
    if (r < 0)
        snprintf(why, len, "interface %s: %s", iface->mac ? iface->mac : "?", virt_error());
    return r;
}

static int
quarantine(virDomainPtr dom, tvdc_quarantine *q, attest_remedy *res)
{
    attest_iface *ifs = NULL, *now = NULL;
    size_t n = 0, m = 0, down = 0;
    char why[512] = "", failed[512] = "";
    int r;

    if (live_ifaces(dom, &ifs, &n, why, sizeof(why)) < 0) {
        /* its links unknown: recorded without them, and paused */
        r = tvdc_quarantine_write(TVDC_QUARANTINE_DIR, q);
        if (r < 0)
            return say(res, -1, "quarantine: %s, and it cannot be recorded in %s: %s", why,
                       TVDC_QUARANTINE_DIR, strerror(-r));
        if (virDomainSuspend(dom) < 0)
            return say(res, -1, "quarantine: recorded, but %s, and pausing failed: %s", why,
                       virt_error());
        return say(res, -1, "quarantine: recorded, but %s: the VM is paused instead", why);
    }
    /* the links as they are (borrowed from ifs for the write) */
    q->links = calloc(n ? n : 1, sizeof(*q->links));
    if (!q->links) {
        attest_ifaces_free(ifs, n);
        return say(res, -1, "quarantine: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        q->links[i].mac = ifs[i].mac ? ifs[i].mac : (char *) "";
        q->links[i].was_up = ifs[i].link_up;
    }
    q->n_links = n;
    /* recorded first: from here the driver refuses a link brought up */
    r = tvdc_quarantine_write(TVDC_QUARANTINE_DIR, q);
    free(q->links);
    q->links = NULL;
    q->n_links = 0;
    if (r < 0) {
        attest_ifaces_free(ifs, n);
        return say(res, -1, "quarantine: cannot record it in %s: %s", TVDC_QUARANTINE_DIR,
                   strerror(-r));
    }
    for (size_t i = 0; i < n; i++)
        if (ifs[i].link_up && set_link(dom, &ifs[i], 0, why, sizeof(why)) < 0)
            snprintf(failed, sizeof(failed), "%s", why);
    attest_ifaces_free(ifs, n);

    /* what the live XML says now, not what the calls returned */
    if (live_ifaces(dom, &now, &m, why, sizeof(why)) < 0)
        snprintf(failed, sizeof(failed), "%s", why);
    for (size_t i = 0; i < m; i++) {
        if (!now[i].link_up)
            down++;
        else if (!*failed)
            snprintf(failed, sizeof(failed), "interface %s: its link is still up",
                     now[i].mac ? now[i].mac : "?");
    }
    attest_ifaces_free(now, m);
    if (*failed) {
        /* cut off the network or stop it: paused, it cannot resume */
        if (virDomainSuspend(dom) < 0)
            return say(res, -1, "quarantine: recorded, but %s, and pausing failed: %s",
                       failed, virt_error());
        return say(res, -1, "quarantine: recorded, %zu of %zu links down, %s: the VM is "
                   "paused instead", down, m, failed);
    }
    return say(res, 1, "quarantine: recorded in %s/%s.json, %zu link%s down", TVDC_QUARANTINE_DIR,
               q->uuid, down, down == 1 ? "" : "s");
}

static int
shutdown_vm(virDomainPtr dom, unsigned shutdown_ms, attest_remedy *res)
{
    unsigned waited = 0;

    if (shutdown_ms > 0 && virDomainShutdown(dom) == 0)
        for (; waited < shutdown_ms; waited += POLL_MS) {
            if (virDomainIsActive(dom) == 0)
                return say(res, 1, "shutdown: the guest shut down");
            sleep_ms(POLL_MS);
        }
    if (virDomainDestroy(dom) < 0 && virDomainIsActive(dom) != 0)
        return say(res, -1, "shutdown: cannot power it off: %s", virt_error());
    if (shutdown_ms == 0)
        return say(res, 1, "shutdown: powered off");
    return say(res, 1, "shutdown: powered off (the guest did not shut down within %.1f s)",
               shutdown_ms / 1000.0);
}

int
attest_remediate(virDomainPtr dom, tvdc_attest_action action, tvdc_quarantine *q,
                 unsigned shutdown_ms, attest_remedy *res)
{
    tvdc_quarantine *old = NULL;
    virDomainInfo info;

    res->action = action;
    switch (action) {
    case TVDC_ATTEST_REPORT:
        return say(res, 0, "report: nothing else is done");
    case TVDC_ATTEST_PAUSE:
        if (virDomainGetInfo(dom, &info) == 0 && info.state == VIR_DOMAIN_PAUSED)
            return say(res, 0, "pause: already paused");
        if (virDomainSuspend(dom) < 0)
            return say(res, -1, "pause: %s", virt_error());
        return say(res, 1, "pause: paused");
    case TVDC_ATTEST_SHUTDOWN:
        return shutdown_vm(dom, shutdown_ms, res);
    case TVDC_ATTEST_QUARANTINE:
        /* once: its record keeps the links as they were before */
        if (tvdc_quarantine_read(TVDC_QUARANTINE_DIR, q->uuid, &old) == 0) {
            tvdc_quarantine_free(old);
            return say(res, 0, "quarantine: already quarantined (%s/%s.json)",
                       TVDC_QUARANTINE_DIR, q->uuid);
        }
        return quarantine(dom, q, res);
    default:
        return say(res, -1, "unknown action %d", (int) action);
    }
}

int
attest_clear(virDomainPtr dom, const char *uuid, char *detail, size_t len)
{
    tvdc_quarantine *q = NULL;
    attest_iface *ifs = NULL;
    size_t n = 0, up = 0;
    char why[512] = "";
    int r;

    r = tvdc_quarantine_read(TVDC_QUARANTINE_DIR, uuid, &q);
    if (r == -ENOENT)
        return r;
    if (r < 0 && r != -EBADMSG) {
        snprintf(detail, len, "cannot read %s/%s.json: %s", TVDC_QUARANTINE_DIR, uuid,
                 strerror(-r));
        return r;
    }
    /* the record first: the driver refuses the links up while it is there
     * (a record that cannot be parsed is removed too: nothing to restore) */
    if ((r = tvdc_quarantine_remove(TVDC_QUARANTINE_DIR, uuid)) < 0) {
        snprintf(detail, len, "cannot remove %s/%s.json: %s", TVDC_QUARANTINE_DIR, uuid,
                 strerror(-r));
        tvdc_quarantine_free(q);
        return r;
    }
    if (dom && virDomainIsActive(dom) == 1 && q &&
        live_ifaces(dom, &ifs, &n, why, sizeof(why)) == 0) {
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < q->n_links; k++)
                if (ifs[i].mac && strcmp(ifs[i].mac, q->links[k].mac) == 0 &&
                    q->links[k].was_up && !ifs[i].link_up) {
                    if (set_link(dom, &ifs[i], 1, why, sizeof(why)) == 0)
                        up++;
                    break;
                }
        attest_ifaces_free(ifs, n);
    }
    if (*why)
        snprintf(detail, len, "quarantine lifted; bringing links up: %s", why);
    else
        snprintf(detail, len, "quarantine lifted%s, %zu link%s up again",
                 q ? "" : " (its record could not be parsed)", up, up == 1 ? "" : "s");
    tvdc_quarantine_free(q);
    return 0;
}
