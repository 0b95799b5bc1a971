/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The status file of libvirtd's tvdc driver (TVDC_STATUS_PATH), read by
 * `tvdc status` (labels/tool/status.c).  Format 1, one object:
 *
 *   format, updated (UTC, ISO 8601), pid, host, host_label, host_types,
 *   mode, config, policy ({path, name, version, source_sha256,
 *   allow_unlabeled} or null), error, audit_log, vtpm_measurement
 *   ("available", "unavailable" or "unknown"), active_types ({type:
 *   number of reserved VMs with it}), reservations, domains ([{uuid, name,
 *   label, types, reserved, state ("running" or "starting"), violation,
 *   violation_rule, vtpm_measurement ("measured", "unavailable" or
 *   null)}]).
 */
#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

#include "internal.h"

static void
json_putp(json_object **o)
{
    json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

static int
add(json_object *obj, const char *key, json_object *val)
{
    /* json_object_object_add takes val even when it fails */
    if (!val || json_object_object_add(obj, key, val) < 0)
        return -ENOMEM;
    return 0;
}

/* A string, or null for NULL (json_object_object_add accepts NULL). */
static int
add_string(json_object *obj, const char *key, const char *s)
{
    if (!s)
        return json_object_object_add(obj, key, NULL) < 0 ? -ENOMEM : 0;
    return add(obj, key, json_object_new_string(s));
}

/* The types of a label, in policy order; [] for none or an unknown label. */
static json_object *
label_types(const tvdc_policy *p, const char *label)
{
    _cleanup_json_ json_object *arr = json_object_new_array();
    _cleanup_free_ uint32_t *types = NULL;
    int64_t idx, n;

    if (!arr)
        return NULL;
    if (!p || !label || (idx = tvdc_find_label(p, label)) < 0 ||
        (n = tvdc_label_types(p, (uint32_t) idx, NULL, 0)) <= 0)
        return TAKE_PTR(arr);
    if (!(types = calloc((size_t) n, sizeof(*types))) ||
        tvdc_label_types(p, (uint32_t) idx, types, (size_t) n) != n)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        if (json_object_array_add(arr, json_object_new_string(tvdc_type_name(p, types[i]))) < 0)
            return NULL;
    return TAKE_PTR(arr);
}

static json_object *
status_policy(const tvdc_status *st)
{
    _cleanup_json_ json_object *o = json_object_new_object();
    const uint8_t *hash = tvdc_policy_source_hash(st->policy);
    char hex[65];

    if (!o)
        return NULL;
    tv_hex(hash, 32, hex);
    if (add_string(o, "path", tvdc_config_policy(st->config)) < 0 ||
        add_string(o, "name", tvdc_policy_name(st->policy)) < 0 ||
        add(o, "version", json_object_new_int64(tvdc_policy_version(st->policy))) < 0 ||
        add_string(o, "source_sha256", hex) < 0 ||
        add(o, "allow_unlabeled", json_object_new_boolean(
                !!(tvdc_policy_flags(st->policy) & TVDC_POLICY_ALLOW_UNLABELED))) < 0)
        return NULL;
    return TAKE_PTR(o);
}

static json_object *
status_domain(const tvdc_status *st, const tvdc_status_domain *d)
{
    _cleanup_json_ json_object *o = json_object_new_object();

    if (!o || !d->uuid || !d->name)
        return NULL;
    if (add_string(o, "uuid", d->uuid) < 0 ||
        add_string(o, "name", d->name) < 0 ||
        add_string(o, "label", d->label) < 0 ||
        add(o, "types", label_types(st->policy, d->label)) < 0 ||
        add(o, "reserved", json_object_new_boolean(!!d->reserved)) < 0 ||
        add_string(o, "state", d->running ? "running" : "starting") < 0 ||
        add_string(o, "violation", d->violation) < 0 ||
        add_string(o, "violation_rule", d->violation ? d->violation_rule : NULL) < 0 ||
        add_string(o, "vtpm_measurement", d->vtpm_measurement) < 0)
        return NULL;
    return TAKE_PTR(o);
}

/* Count the types of label in count[]. */
static int
count_types(const tvdc_policy *p, const char *label, uint64_t *count)
{
    _cleanup_free_ uint32_t *types = NULL;
    int64_t idx, n;

    if (!label || (idx = tvdc_find_label(p, label)) < 0 ||
        (n = tvdc_label_types(p, (uint32_t) idx, NULL, 0)) <= 0)
        return 0;
    if (!(types = calloc((size_t) n, sizeof(*types))))
        return -ENOMEM;
    if (tvdc_label_types(p, (uint32_t) idx, types, (size_t) n) != n)
        return -EINVAL;
    for (int64_t k = 0; k < n; k++)
        count[types[k]]++;
    return 0;
}

/* For every type, how many reserved domains have it: the types in policy
 * order, only those in use. */
static json_object *
active_types(const tvdc_status *st)
{
    _cleanup_json_ json_object *o = json_object_new_object();
    _cleanup_free_ uint64_t *count = NULL;
    uint32_t n_types = st->policy ? tvdc_policy_n_types(st->policy) : 0;

    if (!o)
        return NULL;
    if (n_types == 0)
        return TAKE_PTR(o);
    if (!(count = calloc(n_types, sizeof(*count))))
        return NULL;
    for (size_t i = 0; i < st->n_domains; i++)
        if (st->domains[i].reserved &&
            count_types(st->policy, st->domains[i].label, count) < 0)
            return NULL;
    for (uint32_t u = 0; u < n_types; u++)
        if (count[u] && add(o, tvdc_type_name(st->policy, u), json_object_new_int64(count[u])) < 0)
            return NULL;
    return TAKE_PTR(o);
}

/* The host's label, if the policy names the host. */
static const char *
host_label(const tvdc_status *st)
{
    int64_t idx;

    if (!st->policy || !st->host_name || (idx = tvdc_find_host(st->policy, st->host_name)) < 0)
        return NULL;
    return tvdc_label_name(st->policy, tvdc_host_label(st->policy, (uint32_t) idx));
}

static int
add_header(json_object *o, const tvdc_status *st)
{
    int64_t usec = st->time_usec;
    char updated[32];
    struct tm tm;
    time_t secs;

    if (usec == 0) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        usec = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    secs = (time_t) (usec / 1000000);
    if (!gmtime_r(&secs, &tm) || strftime(updated, sizeof(updated), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return -EINVAL;
    if (add(o, "format", json_object_new_int(1)) < 0 ||
        add_string(o, "updated", updated) < 0 ||
        add(o, "pid", json_object_new_int64(getpid())) < 0 ||
        add_string(o, "host", st->host_name) < 0 ||
        add_string(o, "host_label", host_label(st)) < 0 ||
        add(o, "host_types", label_types(st->policy, host_label(st))) < 0 ||
        add_string(o, "mode", st->mode == TVDC_MODE_PERMISSIVE ? "permissive" : "enforcing") < 0 ||
        add_string(o, "config", st->config_path) < 0)
        return -ENOMEM;
    return 0;
}

static int
status_build(const tvdc_status *st, json_object *o)
{
    int64_t reservations = st->host ? (int64_t) tvdc_host_n_reservations(st->host) : 0;
    json_object *domains;
    int r;

    if ((r = add_header(o, st)) < 0)
        return r;
    if (st->policy ? add(o, "policy", status_policy(st)) < 0
                   : json_object_object_add(o, "policy", NULL) < 0)
        return -ENOMEM;
    if (add_string(o, "error", st->error) < 0 ||
        add_string(o, "audit_log", st->audit_log) < 0 ||
        add_string(o, "vtpm_measurement",
                   st->vtpm_measurement ?: TVDC_MEASUREMENT_UNKNOWN) < 0 ||
        add(o, "active_types", active_types(st)) < 0 ||
        add(o, "reservations", json_object_new_int64(reservations)) < 0 ||
        add(o, "domains", domains = json_object_new_array()) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < st->n_domains; i++) {
        json_object *d = status_domain(st, &st->domains[i]);

        if (!d)
            return -EINVAL;
        if (json_object_array_add(domains, d) < 0) {
            json_object_put(d);
            return -ENOMEM;
        }
    }
    return 0;
}

int
tvdc_status_write(const char *path, const tvdc_status *st)
{
    _cleanup_json_ json_object *o = NULL;
    _cleanup_free_ char *text = NULL;
    const char *s;
    int r;

    if (!path || !st || (st->n_domains > 0 && !st->domains))
        return -EINVAL;
    if (!(o = json_object_new_object()))
        return -ENOMEM;
    if ((r = status_build(st, o)) < 0)
        return r;
    s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!s)
        return -ENOMEM;
    if (asprintf(&text, "%s\n", s) < 0)
        return -ENOMEM;
    return tv_write_file_atomic(path, text, strlen(text), 0600);
}
