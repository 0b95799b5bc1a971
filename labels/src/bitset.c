/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Type sets: the policy's sparse sets (labels, conflict sets, conflict
 * masks; see "The compiled policy image" in internal.h) and dense bitsets
 * of types.  Pure functions: they read the sets they are given and nothing
 * else.
 */
#include "internal.h"

bool
tv_set_has(const tvdc_policy *p, uint32_t set, uint32_t type)
{
    uint32_t lo = p->set_start[set], hi = p->set_start[set + 1], w = type / 64;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->word_idx[mid] < w)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->set_start[set + 1] && p->word_idx[lo] == w &&
           (p->word_bits[lo] >> (type % 64) & 1);
}

/* Both sets ascend by word, so this is a merge. */
uint32_t
tv_sets_intersect_except(const tvdc_policy *p, uint32_t a, uint32_t b, uint32_t except)
{
    uint32_t i = p->set_start[a], ie = p->set_start[a + 1];
    uint32_t j = p->set_start[b], je = p->set_start[b + 1];

    while (i < ie && j < je) {
        if (p->word_idx[i] < p->word_idx[j]) {
            i++;
        } else if (p->word_idx[i] > p->word_idx[j]) {
            j++;
        } else {
            uint64_t x = p->word_bits[i] & p->word_bits[j];
            if (p->word_idx[i] == except / 64 && except != TVDC_NONE)
                x &= ~(UINT64_C(1) << (except % 64));
            if (x)
                return p->word_idx[i] * 64 + __builtin_ctzll(x);
            i++;
            j++;
        }
    }
    return TVDC_NONE;
}

uint32_t
tv_sets_missing(const tvdc_policy *p, uint32_t a, uint32_t b)
{
    uint32_t j = p->set_start[b], je = p->set_start[b + 1];

    for (uint32_t i = p->set_start[a]; i < p->set_start[a + 1]; i++) {
        uint64_t have = 0;

        while (j < je && p->word_idx[j] < p->word_idx[i])
            j++;
        if (j < je && p->word_idx[j] == p->word_idx[i])
            have = p->word_bits[j];
        if (p->word_bits[i] & ~have)
            return p->word_idx[i] * 64 + __builtin_ctzll(p->word_bits[i] & ~have);
    }
    return TVDC_NONE;
}

uint32_t
tv_set_intersect_bits_except(const tvdc_policy *p, uint32_t set, const uint64_t *bits,
                             uint32_t except)
{
    for (uint32_t i = p->set_start[set]; i < p->set_start[set + 1]; i++) {
        uint64_t x = p->word_bits[i] & bits[p->word_idx[i]];

        if (p->word_idx[i] == except / 64 && except != TVDC_NONE)
            x &= ~(UINT64_C(1) << (except % 64));
        if (x)
            return p->word_idx[i] * 64 + __builtin_ctzll(x);
    }
    return TVDC_NONE;
}

uint32_t
tv_conflict_holding(const tvdc_policy *p, uint32_t t, uint32_t u)
{
    for (uint32_t c = 0; c < p->h->n_conflicts; c++)
        if (tv_set_has(p, tv_set_conflict(p, c), t) && tv_set_has(p, tv_set_conflict(p, c), u))
            return c;
    return TVDC_NONE;
}
