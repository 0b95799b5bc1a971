/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A host's reservation table: the anti-collocation rule (DESIGN.md
 * section 2, rule 3).  Check and reserve happen under one lock, so of two
 * conflicting VMs started at the same instant exactly one runs.
 *
 * Per type: how many reserved VMs have it, and a dense "active" bitset, so
 * a check costs one AND per word of the VM's conflict masks.
 */
#include <pthread.h>

#include "internal.h"

typedef struct resv {
    char *id;
    uint32_t label;
} resv;

struct tvdc_host {
    const tvdc_policy *p;
    pthread_mutex_t lock;
    uint64_t *active;          /* tv_type_words(n_types) */
    uint32_t *count;           /* n_types */
    resv *resv;                /* dense array */
    size_t n, cap;
    uint32_t *index;           /* id hash -> resv index + 1; 0 empty */
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
        free(h->resv[i].id);
    free(h->resv);
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
        if (strcmp(h->resv[e - 1].id, id) == 0) {
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
        h->index[index_slot(h, h->resv[k].id, &found)] = k + 1;
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
        home = tv_hash(h->resv[h->index[j] - 1].id) & mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            h->index[i] = h->index[j];
            h->index[j] = 0;
            i = j;
        }
    }
}

/* Under h->lock (or h NULL). */
static int
collocation_locked(const tvdc_policy *p, tvdc_host *h, uint32_t label, tvdc_verdict *v)
{
    uint32_t set = tv_set_label(p, label);

    tv_verdict_init(v, TVDC_CHECK_COLLOCATION, label);

    /* The VM's own types first: such a label can never run. */
    for (uint32_t i = p->set_start[set]; i < p->set_start[set + 1]; i++)
        for (uint64_t x = p->word_bits[i]; x; x &= x - 1) {
            uint32_t t = p->word_idx[i] * 64 + __builtin_ctzll(x), m = p->type_mask[t], u;
            if (m == TVDC_NONE)
                continue;
            u = tv_sets_intersect_except(p, tv_set_mask(p, m), set, t);
            if (u != TVDC_NONE) {
                v->rule = TVDC_RULE_SELF_CONFLICT;
                v->type = t;
                v->other_type = u;
                v->conflict = tv_conflict_holding(p, t, u);
                return TVDC_DENY;
            }
        }

    if (!h)
        return TVDC_PERMIT;

    for (uint32_t i = p->set_start[set]; i < p->set_start[set + 1]; i++)
        for (uint64_t x = p->word_bits[i]; x; x &= x - 1) {
            uint32_t t = p->word_idx[i] * 64 + __builtin_ctzll(x), m = p->type_mask[t], ms;
            if (m == TVDC_NONE)
                continue;
            ms = tv_set_mask(p, m);
            for (uint32_t w = p->set_start[ms]; w < p->set_start[ms + 1]; w++) {
                uint64_t hit = p->word_bits[w] & h->active[p->word_idx[w]];
                uint32_t u;

                if (p->word_idx[w] == t / 64)
                    hit &= ~(UINT64_C(1) << (t % 64));   /* same type twice is fine */
                if (!hit)
                    continue;
                u = p->word_idx[w] * 64 + __builtin_ctzll(hit);
                v->rule = TVDC_RULE_CONFLICT;
                v->type = t;
                v->other_type = u;
                v->conflict = tv_conflict_holding(p, t, u);
                /* Name one running VM's label that holds u, to explain. */
                for (size_t k = 0; k < h->n; k++)
                    if (tv_set_has(p, tv_set_label(p, h->resv[k].label), u)) {
                        v->other_label = h->resv[k].label;
                        break;
                    }
                return TVDC_DENY;
            }
        }
    return TVDC_PERMIT;
}

int
tv_collocation(const tvdc_policy *p, tvdc_host *h, uint32_t label, tvdc_verdict *v)
{
    int r;

    if (!h)
        return collocation_locked(p, NULL, label, v);
    pthread_mutex_lock(&h->lock);
    r = collocation_locked(p, h, label, v);
    pthread_mutex_unlock(&h->lock);
    return r;
}

int
tvdc_host_check(tvdc_host *h, uint32_t vm_label, tvdc_verdict *v)
{
    if (!h || !v || vm_label >= h->p->h->n_labels)
        return -EINVAL;
    return tv_collocation(h->p, h, vm_label, v);
}

static void
account(tvdc_host *h, uint32_t label, bool add)
{
    const tvdc_policy *p = h->p;
    uint32_t set = tv_set_label(p, label);

    for (uint32_t i = p->set_start[set]; i < p->set_start[set + 1]; i++)
        for (uint64_t x = p->word_bits[i]; x; x &= x - 1) {
            uint32_t t = p->word_idx[i] * 64 + __builtin_ctzll(x);
            if (add) {
                if (h->count[t]++ == 0)
                    h->active[t / 64] |= UINT64_C(1) << (t % 64);
            } else if (--h->count[t] == 0) {
                h->active[t / 64] &= ~(UINT64_C(1) << (t % 64));
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
    verdict = collocation_locked(h->p, h, vm_label, v);
    if (verdict == TVDC_DENY && !(flags & TVDC_RESERVE_FORCE)) {
        r = TVDC_DENY;
        goto out;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        resv *nr = realloc(h->resv, cap * sizeof(*nr));
        if (!nr) {
            r = -ENOMEM;
            goto out;
        }
        h->resv = nr;
        h->cap = cap;
    }
    if (2 * (h->n + 1) >= h->index_size && (r = index_grow(h)) < 0)
        goto out;
    slot = index_slot(h, id, &found);
    h->resv[h->n] = (resv) { .id = TAKE_PTR(copy), .label = vm_label };
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
    account(h, h->resv[k].label, false);
    index_delete(h, slot);
    free(h->resv[k].id);
    last = h->n - 1;
    if (k != last) {
        /* Keep the array dense: move the last reservation into the hole. */
        h->resv[k] = h->resv[last];
        h->index[index_slot(h, h->resv[k].id, &found)] = k + 1;
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
            *id = h->resv[i].id;
        if (label)
            *label = h->resv[i].label;
        r = 0;
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}
