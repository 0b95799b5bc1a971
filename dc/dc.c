/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The datacenter view's pure part: DOI, inventory, drift, violations,
 * placement (dc.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc.h"

int
dc_doi_parse(const char *doi, dc_identity *id)
{
    /* NAME may hold ':', the four fields after it do not: split from the right */
    const char *f[4];
    const char *end;
    char *e;
    unsigned long v;
    size_t i;

    if (!doi)
        return -EINVAL;
    if (strcmp(doi, "none") == 0)
        return -ENOENT;
    end = doi + strlen(doi);
    for (i = 0; i < 4; i++) {
        const char *c = end;

        while (c > doi && c[-1] != ':')
            c--;
        if (c == doi)
            return -EINVAL;
        f[3 - i] = c;
        end = c - 1;
    }
    if (end == doi)
        return -EINVAL;
    /* f[0] VERSION, f[1] HASH, f[2] MODE, f[3] HOST */
    errno = 0;
    v = strtoul(f[0], &e, 10);
    if (errno || e == f[0] || *e != ':' || !isdigit((unsigned char)f[0][0]) || v > UINT32_MAX)
        return -EINVAL;
    if (f[2] - f[1] != 17)
        return -EINVAL;
    for (i = 0; i < 16; i++)
        if (!isxdigit((unsigned char)f[1][i]))
            return -EINVAL;
    if (strncmp(f[2], "enforcing:", 10) != 0 && strncmp(f[2], "permissive:", 11) != 0)
        return -EINVAL;
    if (!*f[3])
        return -EINVAL;

    dc_identity n = { .version = (uint32_t)v };
    n.name = strndup(doi, (size_t)(end - doi));
    n.mode = strndup(f[2], (size_t)(f[3] - 1 - f[2]));
    n.host = strdup(f[3]);
    memcpy(n.hash, f[1], 16);
    n.hash[16] = 0;
    if (!n.name || !n.mode || !n.host) {
        dc_identity_clear(&n);
        return -ENOMEM;
    }
    *id = n;
    return 0;
}

void
dc_identity_clear(dc_identity *id)
{
    if (!id)
        return;
    free(id->name);
    free(id->mode);
    free(id->host);
    memset(id, 0, sizeof(*id));
}

char *
dc_identity_key(const dc_identity *id)
{
    char *s;

    if (asprintf(&s, "%s:%u:%s", id->name, id->version, id->hash) < 0)
        return NULL;
    return s;
}

void
dc_host_clear(dc_host *h)
{
    for (size_t j = 0; j < h->n_domains; j++) {
        free(h->domains[j].name);
        free(h->domains[j].state);
        free(h->domains[j].label);
    }
    free(h->domains);
    free(h->name);
    free(h->uri);
    free(h->error);
    free(h->doi);
    memset(h, 0, sizeof(*h));
}

void
dc_inventory_free(dc_inventory *inv)
{
    if (!inv)
        return;
    for (size_t i = 0; i < inv->n_hosts; i++)
        dc_host_clear(&inv->hosts[i]);
    free(inv->hosts);
    free(inv);
}

static json_object *
jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

json_object *
dc_inventory_to_json(const dc_inventory *inv)
{
    json_object *o = json_object_new_object(), *hosts = json_object_new_array();

    for (size_t i = 0; i < inv->n_hosts; i++) {
        const dc_host *h = &inv->hosts[i];
        json_object *jh = json_object_new_object(), *doms = json_object_new_array();

        json_object_object_add(jh, "name", jstr(h->name));
        json_object_object_add(jh, "uri", jstr(h->uri));
        json_object_object_add(jh, "error", jstr(h->error));
        json_object_object_add(jh, "doi", jstr(h->doi));
        for (size_t j = 0; j < h->n_domains; j++) {
            json_object *d = json_object_new_object();

            json_object_object_add(d, "name", jstr(h->domains[j].name));
            json_object_object_add(d, "state", jstr(h->domains[j].state));
            json_object_object_add(d, "active", json_object_new_boolean(h->domains[j].active));
            json_object_object_add(d, "label", jstr(h->domains[j].label));
            json_object_array_add(doms, d);
        }
        json_object_object_add(jh, "domains", doms);
        json_object_array_add(hosts, jh);
    }
    json_object_object_add(o, "hosts", hosts);
    return o;
}

static int
get_str(json_object *o, const char *key, bool required, char **ret)
{
    json_object *v;

    *ret = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
        return required ? -EINVAL : 0;
    if (!json_object_is_type(v, json_type_string))
        return -EINVAL;
    *ret = strdup(json_object_get_string(v));
    return *ret ? 0 : -ENOMEM;
}

int
dc_inventory_from_json(json_object *o, dc_inventory **ret)
{
    json_object *hosts;
    dc_inventory *inv;
    size_t n;
    int r = -EINVAL;

    if (!json_object_object_get_ex(o, "hosts", &hosts) ||
        !json_object_is_type(hosts, json_type_array))
        return -EINVAL;
    n = json_object_array_length(hosts);
    inv = calloc(1, sizeof(*inv));
    if (!inv || !(inv->hosts = calloc(n ? n : 1, sizeof(*inv->hosts)))) {
        free(inv);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *jh = json_object_array_get_idx(hosts, i), *doms;
        dc_host *h = &inv->hosts[i];
        size_t nd;

        inv->n_hosts++;
        if ((r = get_str(jh, "name", true, &h->name)) < 0 ||
            (r = get_str(jh, "uri", false, &h->uri)) < 0 ||
            (r = get_str(jh, "error", false, &h->error)) < 0 ||
            (r = get_str(jh, "doi", false, &h->doi)) < 0)
            goto fail;
        if (!json_object_object_get_ex(jh, "domains", &doms))
            continue;
        r = -EINVAL;
        if (!json_object_is_type(doms, json_type_array))
            goto fail;
        nd = json_object_array_length(doms);
        r = -ENOMEM;
        if (!(h->domains = calloc(nd ? nd : 1, sizeof(*h->domains))))
            goto fail;
        for (size_t j = 0; j < nd; j++) {
            json_object *jd = json_object_array_get_idx(doms, j), *a;
            dc_domain *d = &h->domains[j];

            h->n_domains++;
            if ((r = get_str(jd, "name", true, &d->name)) < 0 ||
                (r = get_str(jd, "state", true, &d->state)) < 0 ||
                (r = get_str(jd, "label", false, &d->label)) < 0)
                goto fail;
            if (json_object_object_get_ex(jd, "active", &a))
                d->active = json_object_get_boolean(a);
            else
                d->active = strcmp(d->state, "running") == 0 || strcmp(d->state, "paused") == 0;
        }
    }
    *ret = inv;
    return 0;

fail:
    dc_inventory_free(inv);
    return r;
}

int
dc_conf_read(const char *path, char ***names, char ***uris, size_t *n, unsigned *line)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t cap = 0;
    unsigned ln = 0;
    int r = 0;

    if (!f)
        return -errno;
    while (getline(&buf, &cap, f) >= 0) {
        char *s = buf, *eq, *name, *uri, *e;
        char **nn, **nu;

        ln++;
        if ((e = strchr(s, '#')))
            *e = 0;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            continue;
        if (!(eq = strchr(s, '='))) {
            r = -EINVAL;
            break;
        }
        name = s;
        e = eq;
        while (e > name && isspace((unsigned char)e[-1]))
            e--;
        *e = 0;
        uri = eq + 1;
        while (isspace((unsigned char)*uri))
            uri++;
        e = uri + strlen(uri);
        while (e > uri && isspace((unsigned char)e[-1]))
            e--;
        *e = 0;
        if (!*name || !*uri) {
            r = -EINVAL;
            break;
        }
        nn = realloc(*names, (*n + 1) * sizeof(char *));
        if (nn)
            *names = nn;
        nu = realloc(*uris, (*n + 1) * sizeof(char *));
        if (nu)
            *uris = nu;
        if (!nn || !nu) {
            r = -ENOMEM;
            break;
        }
        (*names)[*n] = strdup(name);
        (*uris)[*n] = strdup(uri);
        (*n)++;
    }
    if (r == -EINVAL)
        *line = ln;
    free(buf);
    fclose(f);
    return r;
}

typedef struct host_key {
    char *key;
    size_t host;          /* index in the inventory */
} host_key;

static int
host_key_cmp(const void *a, const void *b)
{
    const host_key *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    if (c)
        return c;
    return x->host < y->host ? -1 : x->host > y->host;
}

/* The identity key most hosts publish (of the most frequent, the one the
 * first host publishes), or NULL when no host publishes one.  Malloc'ed.
 * Each DOI parsed once, the keys sorted: n log n for a datacenter. */
static char *
reference_key(const dc_inventory *inv)
{
    host_key *k = calloc(inv->n_hosts ? inv->n_hosts : 1, sizeof(*k));
    size_t n = 0, best = 0, best_n = 0;
    char *ret = NULL;

    if (!k)
        return NULL;
    for (size_t i = 0; i < inv->n_hosts; i++) {
        dc_identity id;

        if (inv->hosts[i].error || dc_doi_parse(inv->hosts[i].doi, &id) < 0)
            continue;
        k[n].key = dc_identity_key(&id);
        dc_identity_clear(&id);
        if (k[n].key)
            k[n++].host = i;
    }
    qsort(k, n, sizeof(*k), host_key_cmp);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a + 1; b < n && strcmp(k[b].key, k[a].key) == 0; b++)
            ;
        if (b - a > best_n || (b - a == best_n && k[a].host < k[best].host)) {
            best = a;
            best_n = b - a;
        }
    }
    if (best_n)
        ret = strdup(k[best].key);
    for (size_t i = 0; i < n; i++)
        free(k[i].key);
    free(k);
    return ret;
}

char *
dc_policy_key(const tvdc_policy *p)
{
    const uint8_t *h = tvdc_policy_source_hash(p);
    char *s;

    if (asprintf(&s, "%s:%u:%02x%02x%02x%02x%02x%02x%02x%02x", tvdc_policy_name(p),
                 tvdc_policy_version(p), h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]) < 0)
        return NULL;
    return s;
}

/* The policy's index of each active labeled domain's label but skip's;
 * unknown labels are left out (they cannot hold types). */
static uint32_t *
active_labels(const tvdc_policy *p, const dc_host *h, const dc_domain *skip, size_t *n)
{
    uint32_t *l = calloc(h->n_domains ? h->n_domains : 1, sizeof(*l));

    *n = 0;
    if (!l)
        return NULL;
    for (size_t j = 0; j < h->n_domains; j++) {
        const dc_domain *d = &h->domains[j];
        int64_t idx;

        if (d == skip || !d->active || !d->label || (idx = tvdc_find_label(p, d->label)) < 0)
            continue;
        l[(*n)++] = (uint32_t)idx;
    }
    return l;
}

json_object *
dc_status_report(const tvdc_policy *p, const dc_inventory *inv, size_t *problems)
{
    json_object *o = json_object_new_object(), *hosts = json_object_new_array();
    char *ref = reference_key(inv);
    char *pk = p ? dc_policy_key(p) : NULL;
    size_t nprob = 0, nunreach = 0, ndrift = 0, nviol = 0;

    json_object_object_add(o, "reference", jstr(ref));
    json_object_object_add(o, "client_policy", jstr(pk));
    json_object_object_add(o, "client_policy_differs",
                           json_object_new_boolean(p && ref && pk && strcmp(ref, pk) != 0));
    for (size_t i = 0; i < inv->n_hosts; i++) {
        const dc_host *h = &inv->hosts[i];
        json_object *jh = json_object_new_object(), *doms = json_object_new_array();
        dc_identity id = { 0 };
        bool have_id = false;
        const char *drift = NULL;
        int r;

        json_object_object_add(jh, "name", jstr(h->name));
        json_object_object_add(jh, "uri", jstr(h->uri));
        json_object_object_add(jh, "reachable", json_object_new_boolean(!h->error));
        json_object_object_add(jh, "error", jstr(h->error));
        if (h->error) {
            nunreach++;
            json_object_object_add(jh, "domains", doms);
            json_object_array_add(hosts, jh);
            continue;
        }
        json_object_object_add(jh, "doi", jstr(h->doi));
        r = h->doi ? dc_doi_parse(h->doi, &id) : -ENODATA;
        if (r == 0) {
            json_object *ji = json_object_new_object();
            char *k = dc_identity_key(&id);

            have_id = true;
            json_object_object_add(ji, "policy", jstr(id.name));
            json_object_object_add(ji, "version", json_object_new_int64(id.version));
            json_object_object_add(ji, "hash", jstr(id.hash));
            json_object_object_add(ji, "mode", jstr(id.mode));
            json_object_object_add(ji, "host", jstr(id.host));
            json_object_object_add(jh, "identity", ji);
            if (ref && k && strcmp(k, ref) != 0)
                drift = "another policy identity than most hosts";
            free(k);
        } else if (r == -ENOENT)
            drift = "no tvdc policy in force";
        else if (r == -ENODATA)
            drift = "no tvdc security driver";
        else
            drift = "unrecognized tvdc DOI";
        json_object_object_add(jh, "drift", jstr(drift));
        if (drift)
            ndrift++;

        if (have_id && p) {
            int64_t hi = tvdc_find_host(p, id.host);

            json_object_object_add(jh, "host_label",
                                   hi >= 0 ? jstr(tvdc_label_name(p, tvdc_host_label(p, (uint32_t)hi)))
                                           : NULL);
        }
        for (size_t j = 0; j < h->n_domains; j++) {
            const dc_domain *d = &h->domains[j];
            json_object *jd = json_object_new_object();

            json_object_object_add(jd, "name", jstr(d->name));
            json_object_object_add(jd, "state", jstr(d->state));
            json_object_object_add(jd, "label", jstr(d->label));
            if (have_id && p && d->active) {
                size_t n;
                uint32_t *others = active_labels(p, h, d, &n);
                const char *rule = NULL;
                char *detail = NULL;

                if (others && tvdc_decide_running(p, id.host, d->label, others, n,
                                                  &rule, &detail) == 1) {
                    json_object_object_add(jd, "violation", jstr(detail));
                    json_object_object_add(jd, "rule", jstr(rule));
                    nviol++;
                }
                free(detail);
                free(others);
            }
            json_object_array_add(doms, jd);
        }
        json_object_object_add(jh, "domains", doms);
        json_object_array_add(hosts, jh);
        dc_identity_clear(&id);
    }
    json_object_object_add(o, "hosts", hosts);
    json_object_object_add(o, "unreachable", json_object_new_int64((int64_t)nunreach));
    json_object_object_add(o, "drift", json_object_new_int64((int64_t)ndrift));
    json_object_object_add(o, "violations", json_object_new_int64((int64_t)nviol));
    nprob = nunreach + ndrift + nviol;
    *problems = nprob;
    free(ref);
    free(pk);
    return o;
}

/* The start decision for label on host h (the driver's tvdc_decide_start
 * over a reservation table rebuilt from the active domains). */
static json_object *
place_one(const tvdc_policy *p, const dc_host *h, const char *label, const char *exclude,
          bool *permit)
{
    json_object *jh = json_object_new_object();
    dc_identity id = { 0 };
    tvdc_host *table = NULL;
    tvdc_verdict checks[3];
    size_t n_checks = 0;
    char buf[1024];
    const char *hostname;
    int r;

    *permit = false;
    json_object_object_add(jh, "name", jstr(h->name));
    if (h->error) {
        json_object_object_add(jh, "permit", json_object_new_boolean(false));
        json_object_object_add(jh, "check", jstr("unreachable"));
        json_object_object_add(jh, "reason", jstr(h->error));
        return jh;
    }
    if (!h->doi || dc_doi_parse(h->doi, &id) < 0) {
        json_object_object_add(jh, "permit", json_object_new_boolean(false));
        json_object_object_add(jh, "check", jstr("policy"));
        json_object_object_add(jh, "reason", jstr(h->doi ? "no policy in force: every labeled "
                                                           "domain is denied"
                                                         : "no tvdc security driver"));
        return jh;
    }
    hostname = id.host;
    if ((r = tvdc_host_new(p, &table)) < 0)
        goto err;
    for (size_t j = 0; j < h->n_domains; j++) {
        const dc_domain *d = &h->domains[j];
        tvdc_verdict v;
        int64_t idx;

        if (!d->active || !d->label || (exclude && strcmp(d->name, exclude) == 0) ||
            (idx = tvdc_find_label(p, d->label)) < 0)
            continue;
        if ((r = tvdc_host_reserve(table, d->name, (uint32_t)idx, TVDC_RESERVE_FORCE, &v)) < 0 &&
            r != -EEXIST)
            goto err;
    }
    r = tvdc_decide_start(p, table, hostname, label, NULL, 0, NULL, checks, &n_checks);
    if (r < 0)
        goto err;
    *permit = r == TVDC_PERMIT;
    json_object_object_add(jh, "permit", json_object_new_boolean(*permit));
    for (size_t i = 0; i < n_checks && !*permit; i++) {
        if (checks[i].rule == TVDC_RULE_OK)
            continue;
        if (tvdc_verdict_format(p, &checks[i],
                                checks[i].check == TVDC_CHECK_HOST ? hostname : label,
                                buf, sizeof(buf)) < 0)
            snprintf(buf, sizeof(buf), "%s: %s", tvdc_check_to_string(checks[i].check),
                     tvdc_rule_to_string(checks[i].rule));
        json_object_object_add(jh, "check", jstr(tvdc_check_to_string(checks[i].check)));
        json_object_object_add(jh, "rule", jstr(tvdc_rule_to_string(checks[i].rule)));
        json_object_object_add(jh, "reason", jstr(buf));
        break;
    }
    tvdc_host_free(table);
    dc_identity_clear(&id);
    return jh;

err:
    tvdc_host_free(table);
    dc_identity_clear(&id);
    json_object_object_add(jh, "permit", json_object_new_boolean(false));
    json_object_object_add(jh, "check", jstr("error"));
    json_object_object_add(jh, "reason", jstr(strerror(-r)));
    return jh;
}

json_object *
dc_place_report(const tvdc_policy *p, const dc_inventory *inv,
                const char *label, const char *exclude, size_t *n_permit)
{
    json_object *o = json_object_new_object(), *hosts = json_object_new_array();
    size_t np = 0;

    json_object_object_add(o, "label", jstr(label));
    for (size_t i = 0; i < inv->n_hosts; i++) {
        bool permit;

        json_object_array_add(hosts, place_one(p, &inv->hosts[i], label, exclude, &permit));
        np += permit;
    }
    json_object_object_add(o, "hosts", hosts);
    json_object_object_add(o, "domain", jstr(exclude));
    json_object_object_add(o, "resources_checked", json_object_new_boolean(false));
    *n_permit = np;
    return o;
}

/* The types of label or conflict set i as a JSON array of names. */
static json_object *
type_names(const tvdc_policy *p, uint32_t i, bool conflict)
{
    json_object *a = json_object_new_array();
    int64_t n = conflict ? tvdc_conflict_types(p, i, NULL, 0) : tvdc_label_types(p, i, NULL, 0);
    uint32_t *t = calloc(n > 0 ? (size_t)n : 1, sizeof(*t));

    if (t && n > 0 &&
        (conflict ? tvdc_conflict_types(p, i, t, n) : tvdc_label_types(p, i, t, n)) == n)
        for (int64_t k = 0; k < n; k++)
            json_object_array_add(a, jstr(tvdc_type_name(p, t[k])));
    free(t);
    return a;
}

json_object *
dc_policy_summary(const tvdc_policy *p)
{
    json_object *o = json_object_new_object(), *a;

    json_object_object_add(o, "name", jstr(tvdc_policy_name(p)));
    json_object_object_add(o, "version", json_object_new_int64(tvdc_policy_version(p)));
    a = json_object_new_array();
    for (uint32_t i = 0; i < tvdc_policy_n_types(p); i++)
        json_object_array_add(a, jstr(tvdc_type_name(p, i)));
    json_object_object_add(o, "types", a);
    a = json_object_new_array();
    for (uint32_t i = 0; i < tvdc_policy_n_labels(p); i++) {
        json_object *l = json_object_new_object();

        json_object_object_add(l, "name", jstr(tvdc_label_name(p, i)));
        json_object_object_add(l, "types", type_names(p, i, false));
        json_object_array_add(a, l);
    }
    json_object_object_add(o, "labels", a);
    a = json_object_new_array();
    for (uint32_t i = 0; i < tvdc_policy_n_conflicts(p); i++) {
        json_object *c = json_object_new_object();

        json_object_object_add(c, "name", jstr(tvdc_conflict_name(p, i)));
        json_object_object_add(c, "types", type_names(p, i, true));
        json_object_array_add(a, c);
    }
    json_object_object_add(o, "conflicts", a);
    return o;
}

/* d, if it is one ssh argument that ssh cannot take for an option (it
 * comes from a URI: "qemu+ssh://-oProxyCommand=.../system" must not run
 * anything); else NULL (EINVAL) and d freed. */
static char *
ssh_dest_checked(char *d)
{
    if (!d)
        return NULL;
    for (const char *c = d; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || (c == d && *c == '-')) {
            free(d);
            errno = EINVAL;
            return NULL;
        }
    return d;
}

char *
dc_uri_ssh_host(const char *uri)
{
    const char *s = uri ? strstr(uri, "://") : NULL, *e, *at, *h;
    char *ret;

    if (!s || s == uri) {
        errno = EINVAL;
        return NULL;
    }
    s += 3;
    e = s + strcspn(s, "/?#");
    if (e == s)
        return strdup("localhost");
    /* [user@]host[:port], host may be [v6] */
    at = memchr(s, '@', (size_t)(e - s));
    h = at ? at + 1 : s;
    if (*h == '[') {
        const char *c = memchr(h, ']', (size_t)(e - h));

        if (!c) {
            errno = EINVAL;
            return NULL;
        }
        if (asprintf(&ret, "%.*s%.*s", at ? (int)(at + 1 - s) : 0, s,
                     (int)(c - h - 1), h + 1) < 0)
            return NULL;
        return ssh_dest_checked(ret);
    }
    {
        const char *c = memchr(h, ':', (size_t)(e - h));

        if (c)
            e = c;
    }
    if (e == h) {
        errno = EINVAL;
        return NULL;
    }
    return ssh_dest_checked(strndup(s, (size_t)(e - s)));
}

char *
dc_shell_quote(const char *text)
{
    size_t n = 2;
    char *q, *o;

    for (const char *p = text; *p; p++)
        n += *p == '\'' ? 4 : 1;
    if (!(q = malloc(n + 1)))
        return NULL;
    o = q;
    *o++ = '\'';
    for (const char *p = text; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else
            *o++ = *p;
    }
    *o++ = '\'';
    *o = 0;
    return q;
}

typedef struct audit_item {
    const char *time;
    size_t host, idx;
    json_object *rec;
} audit_item;

static int
audit_item_cmp(const void *a, const void *b)
{
    const audit_item *x = a, *y = b;
    int c = strcmp(x->time, y->time);

    if (c)
        return c;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

json_object *
dc_audit_merge(char *const *names, json_object *const *records,
               char *const *errors, size_t n, size_t *n_unreachable)
{
    json_object *o = json_object_new_object(), *hosts = json_object_new_array(),
                *all = json_object_new_array();
    audit_item *items = NULL;
    size_t total = 0, k = 0, nun = 0;

    for (size_t i = 0; i < n; i++)
        if (records[i] && json_object_is_type(records[i], json_type_array))
            total += json_object_array_length(records[i]);
    items = calloc(total ? total : 1, sizeof(*items));
    if (!items) {
        json_object_put(o);
        json_object_put(hosts);
        json_object_put(all);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *jh = json_object_new_object();
        bool ok = records[i] && json_object_is_type(records[i], json_type_array);
        size_t cnt = 0;

        json_object_object_add(jh, "name", jstr(names[i]));
        json_object_object_add(jh, "reachable", json_object_new_boolean(ok));
        json_object_object_add(jh, "error",
                               ok ? NULL : jstr(errors[i] ? errors[i]
                                                          : "no audit records (not a JSON array)"));
        if (!ok)
            nun++;
        for (size_t j = 0; ok && j < json_object_array_length(records[i]); j++) {
            json_object *r = json_object_array_get_idx(records[i], j), *t;

            if (!json_object_is_type(r, json_type_object) ||
                !json_object_object_get_ex(r, "time", &t) ||
                !json_object_is_type(t, json_type_string))
                continue;
            items[k++] = (audit_item){ json_object_get_string(t), i, j, r };
            cnt++;
        }
        json_object_object_add(jh, "records", json_object_new_int64((int64_t)cnt));
        json_object_array_add(hosts, jh);
    }
    qsort(items, k, sizeof(*items), audit_item_cmp);
    for (size_t j = 0; j < k; j++) {
        json_object *r = json_object_get(items[j].rec);

        json_object_object_add(r, "dc_host", jstr(names[items[j].host]));
        json_object_array_add(all, r);
    }
    free(items);
    json_object_object_add(o, "hosts", hosts);
    json_object_object_add(o, "records", all);
    json_object_object_add(o, "unreachable", json_object_new_int64((int64_t)nun));
    *n_unreachable = nun;
    return o;
}

static const char *
jstring(json_object *o, const char *key)
{
    json_object *v;

    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

json_object *
dc_push_verdict(const char *key, char *const *names, size_t n, json_object *const *staged,
                char *const *stage_errors, json_object *status,
                bool allow_violations, size_t *n_blocking, size_t *n_violations)
{
    json_object *o = json_object_new_object(), *hosts = json_object_new_array(), *sh = NULL;
    size_t nb = 0, nv = 0;

    json_object_object_get_ex(status, "hosts", &sh);
    for (size_t i = 0; i < n; i++) {
        json_object *jh = json_object_new_object(), *viol = json_object_new_array();
        json_object *st = staged[i], *h = NULL, *doms = NULL, *v;
        char *skey = NULL, *reason = NULL;
        bool verified = false;

        if (sh && i < json_object_array_length(sh))
            h = json_object_array_get_idx(sh, i);
        if (st && json_object_object_get_ex(st, "verified", &v))
            verified = json_object_get_boolean(v);
        if (verified && json_object_object_get_ex(st, "version", &v) &&
            asprintf(&skey, "%s:%d:%s", jstring(st, "name") ? jstring(st, "name") : "?",
                     json_object_get_int(v), jstring(st, "hash") ? jstring(st, "hash") : "?") < 0)
            skey = NULL;
        json_object_object_add(jh, "name", jstr(names[i]));
        json_object_object_add(jh, "staged", json_object_new_boolean(verified));
        if (stage_errors[i])
            reason = strdup(stage_errors[i]);
        else if (!verified)
            reason = strdup(jstring(st, "error") ? jstring(st, "error")
                                                 : "the host did not verify the policy");
        else if (!skey || strcmp(skey, key) != 0) {
            if (asprintf(&reason, "the host staged %s, not %s", skey ? skey : "?", key) < 0)
                reason = NULL;
        } else if (!h || jstring(h, "error")) {
            if (asprintf(&reason, "libvirt not reached (the running domains cannot be "
                         "checked): %s", h && jstring(h, "error") ? jstring(h, "error")
                                                                  : "no answer") < 0)
                reason = NULL;
        }
        if (h && json_object_object_get_ex(h, "domains", &doms))
            for (size_t j = 0; j < json_object_array_length(doms); j++) {
                json_object *d = json_object_array_get_idx(doms, j), *jv;

                if (!jstring(d, "violation"))
                    continue;
                jv = json_object_new_object();
                json_object_object_add(jv, "domain", jstr(jstring(d, "name")));
                json_object_object_add(jv, "label", jstr(jstring(d, "label")));
                json_object_object_add(jv, "violation", jstr(jstring(d, "violation")));
                json_object_array_add(viol, jv);
                nv++;
            }
        if (!reason && !allow_violations && json_object_array_length(viol) > 0 &&
            asprintf(&reason, "%zu running domains would violate the new policy (first: %s: %s)",
                     json_object_array_length(viol),
                     jstring(json_object_array_get_idx(viol, 0), "domain"),
                     jstring(json_object_array_get_idx(viol, 0), "violation")) < 0)
            reason = NULL;
        json_object_object_add(jh, "reason", jstr(reason));
        json_object_object_add(jh, "violations", viol);
        json_object_array_add(hosts, jh);
        if (reason)
            nb++;
        free(reason);
        free(skey);
    }
    json_object_object_add(o, "policy", jstr(key));
    json_object_object_add(o, "hosts", hosts);
    *n_blocking = nb;
    *n_violations = nv;
    return o;
}
