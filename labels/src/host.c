/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A host's reservation table for the anti-collocation rule (DESIGN.md
 * section 2, rule 3; the rule itself is tvdc_decide_collocation).  Check
 * and reserve happen under one lock, so of two conflicting VMs started at
 * the same instant exactly one runs.  Every reader takes the lock too.
 *
 * Per type: how many reserved VMs have it, and a dense "active" bitset, so
 * a check costs one AND per word of the VM's conflict masks.  The ids and
 * labels are parallel dense arrays: the labels are the active set's.
 */
#include <pthread.h>

#include "internal.h"

struct tvdc_host {
    const tvdc_policy *p;
    pthread_mutex_t lock;
    uint64_t *active;          /* tv_type_words(n_types) */
    uint32_t *count;           /* n_types */
    char **ids;                /* dense arrays of n (room for cap) */
    uint32_t *labels;
    size_t n, cap;
    uint32_t *index;           /* id hash -> reservation index + 1; 0 empty */
    size_t index_size;         /* power of two, > 2 n */
};

const tvdc_policy *
tv_host_policy(const tvdc_host *h)
{
    return h->p;
}

int
tvdc_host_new(const tvdc_policy *p, tvdc_host **ret)
{
    tvdc_host *h;

    if (!p || !ret)
        return -EINVAL;
    h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->p = p;
    h->active = calloc(tv_type_words(p->h->n_types), sizeof(uint64_t));
    h->count = calloc(p->h->n_types, sizeof(uint32_t));
    h->index_size = 16;
    h->index = calloc(h->index_size, sizeof(uint32_t));
    if (!h->active || !h->count || !h->index) {
        tvdc_host_free(h);
        return -ENOMEM;
    }
    pthread_mutex_init(&h->lock, NULL);
    *ret = h;
    return 0;
}

void
tvdc_host_free(tvdc_host *h)
{
    if (!h)
        return;
    if (h->index)   /* fully constructed: the mutex exists */
        pthread_mutex_destroy(&h->lock);
    for (size_t i = 0; i < h->n; i++)
        free(h->ids[i]);
    free(h->ids);
    free(h->labels);
    free(h->index);
    free(h->active);
    free(h->count);
    free(h);
}

/* Slot of id in the index: where it is, or the empty slot where it goes. */
static size_t
index_slot(const tvdc_host *h, const char *id, bool *found)
{
    size_t mask = h->index_size - 1, i = tv_hash(id) & mask;

    for (;; i = (i + 1) & mask) {
        uint32_t e = h->index[i];
        if (e == 0) {
            *found = false;
            return i;
        }
        if (strcmp(h->ids[e - 1], id) == 0) {
            *found = true;
            return i;
        }
    }
}

static int
index_grow(tvdc_host *h)
{
    size_t size = h->index_size * 2;
    uint32_t *idx = calloc(size, sizeof(uint32_t));

    if (!idx)
        return -ENOMEM;
    free(h->index);
    h->index = idx;
    h->index_size = size;
    for (size_t k = 0; k < h->n; k++) {
        bool found;
        h->index[index_slot(h, h->ids[k], &found)] = k + 1;
    }
    return 0;
}

/* Remove slot i of the index, shifting later members of its probe run back
 * (linear probing without tombstones). */
static void
index_delete(tvdc_host *h, size_t i)
{
    size_t mask = h->index_size - 1, j = i;

    h->index[i] = 0;
    for (;;) {
        size_t home;
        j = (j + 1) & mask;
        if (h->index[j] == 0)
            return;
        home = tv_hash(h->ids[h->index[j] - 1]) & mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            h->index[i] = h->index[j];
            h->index[j] = 0;
            i = j;
        }
    }
}

/* Under h->lock. */
static int
check_locked(tvdc_host *h, uint32_t label, tvdc_verdict *v)
{
    const tvdc_active_set active = {
        .types = h->active,
        .n_type_words = tv_type_words(h->p->h->n_types),
        .labels = h->labels,
        .n_labels = h->n,
    };

    return tvdc_decide_collocation(h->p, &active, label, v);
}

int
tvdc_host_check(tvdc_host *h, uint32_t vm_label, tvdc_verdict *v)
{
    int r;

    if (!h || !v || vm_label >= h->p->h->n_labels)
        return -EINVAL;
    pthread_mutex_lock(&h->lock);
    r = check_locked(h, vm_label, v);
    pthread_mutex_unlock(&h->lock);
    return r;
}

/* Room for twice as many reservations. */
static int
grow(tvdc_host *h)
{
    size_t cap = h->cap ? h->cap * 2 : 16;
    char **ids = realloc(h->ids, cap * sizeof(*ids));
    uint32_t *labels;

    if (!ids)
        return -ENOMEM;
    h->ids = ids;
    labels = realloc(h->labels, cap * sizeof(*labels));
    if (!labels)
        return -ENOMEM;   /* ids merely has room to spare */
    h->labels = labels;
    h->cap = cap;
    return 0;
}

static void
account(tvdc_host *h, uint32_t label, bool add)
{
    uint32_t t;

    for (tv_set_iter it = tv_set_iter_init(h->p, tv_set_label(h->p, label));
         tv_set_iter_next(&it, &t);) {
        if (add) {
            if (h->count[t]++ == 0)
                tv_bits_set(h->active, t);
        } else if (--h->count[t] == 0) {
            tv_bits_clear(h->active, t);
        }
    }
}

int
tvdc_host_reserve(tvdc_host *h, const char *id, uint32_t vm_label, unsigned flags,
                  tvdc_verdict *v)
{
    _cleanup_free_ char *copy = NULL;
    bool found;
    size_t slot;
    int r, verdict;

    if (!h || !id || !*id || !v || vm_label >= h->p->h->n_labels ||
        (flags & ~TVDC_RESERVE_FORCE))
        return -EINVAL;
    copy = strdup(id);
    if (!copy)
        return -ENOMEM;

    pthread_mutex_lock(&h->lock);
    index_slot(h, id, &found);
    if (found) {
        r = -EEXIST;
        goto out;
    }
    verdict = check_locked(h, vm_label, v);
    if (verdict < 0 || (verdict == TVDC_DENY && !(flags & TVDC_RESERVE_FORCE))) {
        r = verdict;
        goto out;
    }
    if (h->n == h->cap && (r = grow(h)) < 0)
        goto out;
    if (2 * (h->n + 1) >= h->index_size && (r = index_grow(h)) < 0)
        goto out;
    slot = index_slot(h, id, &found);
    h->ids[h->n] = TAKE_PTR(copy);
    h->labels[h->n] = vm_label;
    h->index[slot] = ++h->n;
    account(h, vm_label, true);
    r = verdict;
 out:
    pthread_mutex_unlock(&h->lock);
    return r;
}

int
tvdc_host_release(tvdc_host *h, const char *id)
{
    bool found;
    size_t slot, k, last;

    if (!h || !id)
        return -EINVAL;
    pthread_mutex_lock(&h->lock);
    slot = index_slot(h, id, &found);
    if (!found) {
        pthread_mutex_unlock(&h->lock);
        return -ENOENT;
    }
    k = h->index[slot] - 1;
    account(h, h->labels[k], false);
    index_delete(h, slot);
    free(h->ids[k]);
    last = h->n - 1;
    if (k != last) {
        /* Keep the arrays dense: move the last reservation into the hole. */
        h->ids[k] = h->ids[last];
        h->labels[k] = h->labels[last];
        h->index[index_slot(h, h->ids[k], &found)] = k + 1;
    }
    h->n--;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

int64_t
tvdc_host_type_count(tvdc_host *h, uint32_t type)
{
    int64_t n;

    if (!h || type >= h->p->h->n_types)
        return -EINVAL;
    pthread_mutex_lock(&h->lock);
    n = h->count[type];
    pthread_mutex_unlock(&h->lock);
    return n;
}

size_t
tvdc_host_n_reservations(tvdc_host *h)
{
    size_t n;

    if (!h)
        return 0;
    pthread_mutex_lock(&h->lock);
    n = h->n;
    pthread_mutex_unlock(&h->lock);
    return n;
}

int
tvdc_host_reservation(tvdc_host *h, size_t i, const char **id, uint32_t *label)
{
    int r = -ENOENT;

    if (!h)
        return -EINVAL;
    pthread_mutex_lock(&h->lock);
    if (i < h->n) {
        if (id)
            *id = h->ids[i];
        if (label)
            *label = h->labels[i];
        r = 0;
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}
