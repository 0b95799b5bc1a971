/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The datacenter view's I/O: every host's libvirtd queried in its own
 * thread over libvirt's remote protocol (dc.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "dc.h"

/* One host's query.  The thread and the caller share it under lock; the
 * one that lets go last frees it, so the caller can abandon a thread that
 * hangs in virConnectOpen. */
typedef struct dc_job {
    pthread_mutex_t *lock;
    pthread_cond_t *cond;
    int refs;
    bool done;
    dc_host h;            /* uri in, the rest out */
} dc_job;

static void
job_unref(dc_job *j)
{
    bool last;

    pthread_mutex_lock(j->lock);
    last = --j->refs == 0;
    pthread_mutex_unlock(j->lock);
    if (last) {
        dc_host_clear(&j->h);
        free(j);
    }
}

static char *
last_error(const char *what)
{
    virErrorPtr e = virGetLastError();
    char *s;

    if (asprintf(&s, "%s: %s", what, e && e->message ? e->message : "unknown error") < 0)
        return NULL;
    return s;
}

/* The text between open and "<" after the first needle in xml, or NULL. */
static char *
xml_after(const char *xml, const char *needle, const char *open)
{
    const char *s = strstr(xml, needle), *e;

    if (!s || !(s = strstr(s, open)))
        return NULL;
    s += strlen(open);
    if (!(e = strchr(s, '<')))
        return NULL;
    return strndup(s, (size_t)(e - s));
}

static const char *
state_name(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutting down";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "unknown";
    }
}

static void
query(dc_host *h)
{
    virConnectPtr conn = virConnectOpen(h->uri);
    virDomainPtr *doms = NULL;
    char *caps;
    int n = 0;

    if (!conn) {
        h->error = last_error("cannot connect");
        return;
    }
    if (!(caps = virConnectGetCapabilities(conn))) {
        h->error = last_error("capabilities");
        goto out;
    }
    /* <secmodel><model>tvdc</model><doi>...</doi> */
    h->doi = xml_after(caps, "<model>tvdc</model>", "<doi>");
    free(caps);
    if ((n = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        h->error = last_error("list domains");
        goto out;
    }
    h->domains = calloc((size_t)n + 1, sizeof(*h->domains));
    for (int i = 0; i < n; i++) {
        dc_domain *d = &h->domains[h->n_domains];
        int st = VIR_DOMAIN_NOSTATE, reason;
        char *xml;

        if (!h->domains)
            break;
        if (virDomainGetState(doms[i], &st, &reason, 0) < 0)
            continue;
        d->name = strdup(virDomainGetName(doms[i]));
        d->state = strdup(state_name(st));
        d->active = virDomainIsActive(doms[i]) == 1;
        /* the live XML's label (the definition's when shut off) */
        if ((xml = virDomainGetXMLDesc(doms[i], 0))) {
            d->label = xml_after(xml, "model='tvdc'", "<label>");
            free(xml);
        }
        h->n_domains++;
    }
out:
    for (int i = 0; doms && i < n; i++)
        virDomainFree(doms[i]);
    free(doms);
    virConnectClose(conn);
}

static void *
job_run(void *arg)
{
    dc_job *j = arg;

    query(&j->h);
    pthread_mutex_lock(j->lock);
    j->done = true;
    pthread_cond_broadcast(j->cond);
    pthread_mutex_unlock(j->lock);
    job_unref(j);
    return NULL;
}

static void
silent(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

int
dc_inventory_query(char *const *names, char *const *uris, size_t n,
                   unsigned timeout_ms, dc_inventory **ret, char **why)
{
    /* static: an abandoned thread may still take them after we return */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static pthread_cond_t cond;
    static bool cond_ready;
    dc_inventory *inv;
    dc_job **jobs;
    struct timespec deadline;
    int r = 0;

    if (virInitialize() < 0) {
        if (why)
            *why = last_error("cannot initialize libvirt");
        return -EIO;
    }
    virSetErrorFunc(NULL, silent);
    if (!cond_ready) {
        pthread_condattr_t a;

        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&cond, &a);
        pthread_condattr_destroy(&a);
        cond_ready = true;
    }
    inv = calloc(1, sizeof(*inv));
    jobs = calloc(n ? n : 1, sizeof(*jobs));
    if (!inv || !(inv->hosts = calloc(n ? n : 1, sizeof(*inv->hosts))) || !jobs) {
        free(jobs);
        dc_inventory_free(inv);
        return -ENOMEM;
    }
    inv->n_hosts = n;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    for (size_t i = 0; i < n; i++) {
        pthread_t t;
        pthread_attr_t attr;
        dc_job *j = calloc(1, sizeof(*j));

        inv->hosts[i].name = strdup(names[i]);
        inv->hosts[i].uri = strdup(uris[i]);
        if (!j || !(j->h.uri = strdup(uris[i]))) {
            free(j);
            inv->hosts[i].error = strdup("out of memory");
            continue;
        }
        j->lock = &lock;
        j->cond = &cond;
        j->refs = 2;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, job_run, j) != 0) {
            dc_host_clear(&j->h);
            free(j);
            inv->hosts[i].error = strdup("cannot start a thread");
        } else
            jobs[i] = j;
        pthread_attr_destroy(&attr);
    }

    /* Wait for this query's own jobs: a thread abandoned by an earlier query
     * (tvdc dc serve queries again and again) may still signal the cond. */
    pthread_mutex_lock(&lock);
    for (;;) {
        size_t pending = 0;

        for (size_t i = 0; i < n; i++)
            pending += jobs[i] && !jobs[i]->done;
        if (!pending || pthread_cond_timedwait(&cond, &lock, &deadline) == ETIMEDOUT)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        dc_job *j = jobs[i];
        dc_host *h = &inv->hosts[i];

        if (!j)
            continue;
        if (!j->done) {
            if (asprintf(&h->error, "no answer within %u ms", timeout_ms) < 0)
                h->error = NULL;
            continue;
        }
        /* the thread is done with it: take its results */
        h->error = j->h.error;
        h->doi = j->h.doi;
        h->domains = j->h.domains;
        h->n_domains = j->h.n_domains;
        j->h.error = j->h.doi = NULL;
        j->h.domains = NULL;
        j->h.n_domains = 0;
    }
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++)
        if (jobs[i])
            job_unref(jobs[i]);
    free(jobs);
    *ret = inv;
    return r;
}
