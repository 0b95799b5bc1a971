/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading policies and reading them. */
#include "internal.h"

int
tvdc_is_binary_policy(const void *buf, size_t len)
{
    return buf && len >= 8 && memcmp(buf, TV_MAGIC, 8) == 0;
}

int
tvdc_policy_load_binary(const void *buf, size_t len, tvdc_policy **ret, tvdc_error *err)
{
    tvdc_policy *p;
    int r;

    if (!buf || !ret)
        return -EINVAL;
    if (len > TVDC_MAX_POLICY_BYTES)
        return tv_error(err, -E2BIG, 0, 0, "compiled policy larger than %zu bytes",
                        TVDC_MAX_POLICY_BYTES);
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    /* A private, aligned copy: the caller's buffer may be anything. */
    p->image = malloc(len ? len : 1);
    if (!p->image) {
        free(p);
        return -ENOMEM;
    }
    memcpy(p->image, buf, len);
    p->image_len = len;
    r = tv_image_map(p, err);
    if (r < 0) {
        tvdc_policy_free(p);
        return r;
    }
    *ret = p;
    return 0;
}

int
tvdc_policy_load(const void *buf, size_t len, tvdc_policy **ret, tvdc_error *err)
{
    if (tvdc_is_binary_policy(buf, len))
        return tvdc_policy_load_binary(buf, len, ret, err);
    return tvdc_policy_parse_json(buf, len, ret, err);
}

int
tvdc_policy_load_file(const char *path, tvdc_policy **ret, tvdc_error *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r;

    if (!path || !ret)
        return -EINVAL;
    r = tv_read_file(path, TVDC_MAX_POLICY_BYTES, &buf, &len);
    if (r == -EFBIG)
        return tv_error(err, -E2BIG, 0, 0, "larger than %zu bytes", TVDC_MAX_POLICY_BYTES);
    if (r < 0)
        return tv_error(err, r, 0, 0, "cannot read: %s", strerror(-r));
    return tvdc_policy_load(buf, len, ret, err);
}

int
tvdc_policy_to_binary(const tvdc_policy *p, void **ret, size_t *ret_len)
{
    void *copy;

    if (!p || !ret || !ret_len)
        return -EINVAL;
    copy = malloc(p->image_len);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, p->image, p->image_len);
    *ret = copy;
    *ret_len = p->image_len;
    return 0;
}

int
tvdc_policy_write_binary(const tvdc_policy *p, const char *path)
{
    if (!p || !path)
        return -EINVAL;
    return tv_write_file_atomic(path, p->image, p->image_len, 0644);
}

void
tvdc_policy_free(tvdc_policy *p)
{
    if (!p)
        return;
    free(p->image);
    free(p);
}

const char *
tvdc_policy_name(const tvdc_policy *p)
{
    return p ? p->strings + p->h->name : NULL;
}

uint32_t
tvdc_policy_version(const tvdc_policy *p)
{
    return p ? p->h->version : 0;
}

const uint8_t *
tvdc_policy_source_hash(const tvdc_policy *p)
{
    return p ? p->h->source_sha256 : NULL;
}

uint32_t
tvdc_policy_flags(const tvdc_policy *p)
{
    return p ? tv_policy_flags_of(p) : 0;
}

uint32_t tvdc_policy_n_types(const tvdc_policy *p) { return p ? p->h->n_types : 0; }
uint32_t tvdc_policy_n_labels(const tvdc_policy *p) { return p ? p->h->n_labels : 0; }
uint32_t tvdc_policy_n_conflicts(const tvdc_policy *p) { return p ? p->h->n_conflicts : 0; }
uint32_t tvdc_policy_n_hosts(const tvdc_policy *p) { return p ? p->h->n_hosts : 0; }
uint32_t tvdc_policy_n_networks(const tvdc_policy *p) { return p ? p->h->n_networks : 0; }

const char *
tvdc_type_name(const tvdc_policy *p, uint32_t i)
{
    return p && i < p->h->n_types ? p->strings + p->type_name[i] : NULL;
}

const char *
tvdc_label_name(const tvdc_policy *p, uint32_t i)
{
    return p && i < p->h->n_labels ? p->strings + p->label_name[i] : NULL;
}

const char *
tvdc_conflict_name(const tvdc_policy *p, uint32_t i)
{
    return p && i < p->h->n_conflicts ? p->strings + p->conflict_name[i] : NULL;
}

const char *
tvdc_host_name(const tvdc_policy *p, uint32_t i)
{
    return p && i < p->h->n_hosts ? p->strings + p->host_name[i] : NULL;
}

static int64_t
find(const tvdc_policy *p, int which, const uint32_t *names, uint32_t n, const char *name)
{
    if (!p || !name)
        return -EINVAL;
    return tv_hash_lookup(p->hash[which], p->h->hash_bits[which], p->strings, names, n, name);
}

int64_t
tvdc_find_type(const tvdc_policy *p, const char *name)
{
    return p ? find(p, TV_HASH_TYPE, p->type_name, p->h->n_types, name) : -EINVAL;
}

int64_t
tvdc_find_label(const tvdc_policy *p, const char *name)
{
    return p ? find(p, TV_HASH_LABEL, p->label_name, p->h->n_labels, name) : -EINVAL;
}

int64_t
tvdc_find_conflict(const tvdc_policy *p, const char *name)
{
    return p ? find(p, TV_HASH_CONFLICT, p->conflict_name, p->h->n_conflicts, name) : -EINVAL;
}

int64_t
tvdc_find_host(const tvdc_policy *p, const char *name)
{
    return p ? find(p, TV_HASH_HOST, p->host_name, p->h->n_hosts, name) : -EINVAL;
}

static int64_t
set_types(const tvdc_policy *p, uint32_t set, uint32_t *types, size_t n)
{
    size_t k = 0;

    for (uint32_t i = p->set_start[set]; i < p->set_start[set + 1]; i++) {
        uint64_t w = p->word_bits[i];
        while (w) {
            if (k < n)
                types[k] = p->word_idx[i] * 64 + __builtin_ctzll(w);
            k++;
            w &= w - 1;
        }
    }
    return k;
}

int64_t
tvdc_label_types(const tvdc_policy *p, uint32_t label, uint32_t *types, size_t n)
{
    if (!p || label >= p->h->n_labels || (n && !types))
        return -EINVAL;
    return set_types(p, tv_set_label(p, label), types, n);
}

int64_t
tvdc_conflict_types(const tvdc_policy *p, uint32_t c, uint32_t *types, size_t n)
{
    if (!p || c >= p->h->n_conflicts || (n && !types))
        return -EINVAL;
    return set_types(p, tv_set_conflict(p, c), types, n);
}

uint32_t
tvdc_host_label(const tvdc_policy *p, uint32_t host)
{
    return p && host < p->h->n_hosts ? p->host_label[host] : TVDC_NONE;
}

uint32_t
tvdc_label_flags(const tvdc_policy *p, uint32_t label)
{
    return p && label < p->h->n_labels ? p->label_flags[label] : 0;
}

int
tvdc_label_measure_required(const tvdc_policy *p, uint32_t label)
{
    return !!(tvdc_label_flags(p, label) & TVDC_LABEL_MEASURE_REQUIRED);
}

tvdc_attest_action
tvdc_label_attest_fail(const tvdc_policy *p, uint32_t label)
{
    return (tvdc_attest_action) ((tvdc_label_flags(p, label) & TVDC_LABEL_ATTEST_FAIL_MASK) >>
                                 TVDC_LABEL_ATTEST_FAIL_SHIFT);
}

int
tvdc_network(const tvdc_policy *p, uint32_t i, uint32_t *type, uint32_t *vlan)
{
    if (!p || i >= p->h->n_networks)
        return -EINVAL;
    if (type)
        *type = p->net_type[i];
    if (vlan)
        *vlan = p->net_vlan[i];
    return 0;
}

uint32_t
tvdc_type_vlan(const tvdc_policy *p, uint32_t type)
{
    return p && type < p->h->n_types ? p->type_vlan[type] : 0;
}
