/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sharing and host authorization (DESIGN.md section 2, rules 1 and 2), and
 * explanations.  Pure functions of a compiled policy: no I/O, no state.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static const char *const check_names[_TVDC_CHECK_MAX] = {
    [TVDC_CHECK_LABEL] = "label",
    [TVDC_CHECK_HOST] = "host",
    [TVDC_CHECK_COLLOCATION] = "collocation",
    [TVDC_CHECK_RESOURCE] = "resource",
};

static const char *const rule_names[_TVDC_RULE_MAX] = {
    [TVDC_RULE_OK] = "ok",
    [TVDC_RULE_UNKNOWN_LABEL] = "unknown-label",
    [TVDC_RULE_UNKNOWN_HOST] = "unknown-host",
    [TVDC_RULE_HOST_LACKS_TYPE] = "host-lacks-type",
    [TVDC_RULE_SELF_CONFLICT] = "self-conflict",
    [TVDC_RULE_CONFLICT] = "conflict",
    [TVDC_RULE_UNKNOWN_RESOURCE] = "unknown-resource-label",
    [TVDC_RULE_NO_SHARED_TYPE] = "no-shared-type",
};

const char *
tvdc_check_to_string(tvdc_check c)
{
    return (unsigned) c < _TVDC_CHECK_MAX ? check_names[c] : NULL;
}

const char *
tvdc_rule_to_string(tvdc_rule r)
{
    return (unsigned) r < _TVDC_RULE_MAX ? rule_names[r] : NULL;
}

void
tv_verdict_init(tvdc_verdict *v, tvdc_check check, uint32_t vm_label)
{
    *v = (tvdc_verdict) {
        .check = check,
        .rule = TVDC_RULE_OK,
        .vm_label = vm_label,
        .type = TVDC_NONE,
        .other_label = TVDC_NONE,
        .other_type = TVDC_NONE,
        .conflict = TVDC_NONE,
        .host = TVDC_NONE,
    };
}

/* First type other than `except` in both sets, or TVDC_NONE.  Both sets
 * ascend by word, so this is a merge. */
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

static uint32_t
sets_intersect(const tvdc_policy *p, uint32_t a, uint32_t b)
{
    return tv_sets_intersect_except(p, a, b, TVDC_NONE);
}

/* First type of set a that is not in set b, or TVDC_NONE (a within b). */
static uint32_t
sets_missing(const tvdc_policy *p, uint32_t a, uint32_t b)
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

uint32_t
tv_conflict_holding(const tvdc_policy *p, uint32_t t, uint32_t u)
{
    for (uint32_t c = 0; c < p->h->n_conflicts; c++)
        if (tv_set_has(p, tv_set_conflict(p, c), t) && tv_set_has(p, tv_set_conflict(p, c), u))
            return c;
    return TVDC_NONE;
}

int
tvdc_labels_share(const tvdc_policy *p, uint32_t a, uint32_t b, uint32_t *type)
{
    uint32_t t;

    if (!p || a >= p->h->n_labels || b >= p->h->n_labels)
        return -EINVAL;
    t = sets_intersect(p, tv_set_label(p, a), tv_set_label(p, b));
    if (t == TVDC_NONE)
        return 0;
    if (type)
        *type = t;
    return 1;
}

int
tvdc_decide_share(const tvdc_policy *p, uint32_t vm_label, uint32_t res_label,
                  tvdc_verdict *v)
{
    uint32_t t;

    if (!p || !v || vm_label >= p->h->n_labels || res_label >= p->h->n_labels)
        return -EINVAL;
    tv_verdict_init(v, TVDC_CHECK_RESOURCE, vm_label);
    v->other_label = res_label;
    t = sets_intersect(p, tv_set_label(p, vm_label), tv_set_label(p, res_label));
    if (t == TVDC_NONE) {
        v->rule = TVDC_RULE_NO_SHARED_TYPE;
        return TVDC_DENY;
    }
    v->type = t;
    return TVDC_PERMIT;
}

int
tvdc_decide_host(const tvdc_policy *p, uint32_t host, uint32_t vm_label, tvdc_verdict *v)
{
    uint32_t t;

    if (!p || !v || host >= p->h->n_hosts || vm_label >= p->h->n_labels)
        return -EINVAL;
    tv_verdict_init(v, TVDC_CHECK_HOST, vm_label);
    v->host = host;
    v->other_label = p->host_label[host];
    t = sets_missing(p, tv_set_label(p, vm_label), tv_set_label(p, p->host_label[host]));
    if (t != TVDC_NONE) {
        v->rule = TVDC_RULE_HOST_LACKS_TYPE;
        v->type = t;
        return TVDC_DENY;
    }
    return TVDC_PERMIT;
}

/* ------------------------------------------------------------------------ */

typedef struct sbuf {
    char *buf;
    size_t len, pos;   /* pos may pass len: the length snprintf would need */
} sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
sb_printf(sbuf *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(s->pos < s->len ? s->buf + s->pos : NULL,
                  s->pos < s->len ? s->len - s->pos : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        s->pos += n;
}

/* "MA,SU" (at most 8 names, then ",..."). */
static void
sb_types(sbuf *s, const tvdc_policy *p, uint32_t label)
{
    uint32_t types[9];
    int64_t n = tvdc_label_types(p, label, types, 9);

    for (int64_t i = 0; i < n && i < 8; i++)
        sb_printf(s, "%s%s", i ? "," : "", tvdc_type_name(p, types[i]));
    if (n > 8)
        sb_printf(s, ",... (%lld types)", (long long) n);
}

static const char *
lname(const tvdc_policy *p, uint32_t l)
{
    const char *s = tvdc_label_name(p, l);
    return s ? s : "?";
}

static const char *
tname(const tvdc_policy *p, uint32_t t)
{
    const char *s = tvdc_type_name(p, t);
    return s ? s : "?";
}

int
tvdc_verdict_format(const tvdc_policy *p, const tvdc_verdict *v, const char *subject,
                    char *buf, size_t len)
{
    sbuf s = { .buf = buf, .len = len };

    if (!p || !v || (!buf && len) || (unsigned) v->check >= _TVDC_CHECK_MAX)
        return -EINVAL;
    if (len)
        buf[0] = '\0';
    if (!subject)
        subject = "?";
    sb_printf(&s, "%s: ", check_names[v->check]);

    switch (v->rule) {
    case TVDC_RULE_OK:
        switch (v->check) {
        case TVDC_CHECK_LABEL:
            sb_printf(&s, "%s has types ", lname(p, v->vm_label));
            sb_types(&s, p, v->vm_label);
            break;
        case TVDC_CHECK_HOST:
            sb_printf(&s, "host %s (label %s) may run label %s",
                      tvdc_host_name(p, v->host) ?: "?", lname(p, v->other_label),
                      lname(p, v->vm_label));
            break;
        case TVDC_CHECK_COLLOCATION:
            sb_printf(&s, "no running type conflicts with label %s", lname(p, v->vm_label));
            break;
        case TVDC_CHECK_RESOURCE:
            sb_printf(&s, "label %s shares type %s with resource label %s",
                      lname(p, v->vm_label), tname(p, v->type), lname(p, v->other_label));
            break;
        default:
            break;
        }
        break;
    case TVDC_RULE_UNKNOWN_LABEL:
        sb_printf(&s, "unknown label '%s'", subject);
        break;
    case TVDC_RULE_UNKNOWN_HOST:
        sb_printf(&s, "host '%s' is not in the policy and runs no labeled VM", subject);
        break;
    case TVDC_RULE_HOST_LACKS_TYPE:
        sb_printf(&s, "type %s of label %s is not in label %s of host %s",
                  tname(p, v->type), lname(p, v->vm_label), lname(p, v->other_label),
                  tvdc_host_name(p, v->host) ?: "?");
        break;
    case TVDC_RULE_SELF_CONFLICT:
        sb_printf(&s, "label %s has conflicting types %s and %s (conflict set %s), "
                  "so a VM with it never runs",
                  lname(p, v->vm_label), tname(p, v->type), tname(p, v->other_type),
                  tvdc_conflict_name(p, v->conflict) ?: "?");
        break;
    case TVDC_RULE_CONFLICT:
        sb_printf(&s, "type %s of label %s conflicts with running type %s (label %s) "
                  "in conflict set %s",
                  tname(p, v->type), lname(p, v->vm_label), tname(p, v->other_type),
                  lname(p, v->other_label), tvdc_conflict_name(p, v->conflict) ?: "?");
        break;
    case TVDC_RULE_UNKNOWN_RESOURCE:
        sb_printf(&s, "unknown resource label '%s'", subject);
        break;
    case TVDC_RULE_NO_SHARED_TYPE:
        sb_printf(&s, "label %s (types ", lname(p, v->vm_label));
        sb_types(&s, p, v->vm_label);
        sb_printf(&s, ") shares no type with resource label %s (types ",
                  lname(p, v->other_label));
        sb_types(&s, p, v->other_label);
        sb_printf(&s, ")");
        break;
    default:
        return -EINVAL;
    }
    return s.pos > INT32_MAX ? INT32_MAX : (int) s.pos;
}

int
tvdc_decide_start(const tvdc_policy *p, tvdc_host *h, const char *host_name,
                  const char *vm_label, const char *const *resource_labels,
                  size_t n_resources, const char *reserve_id,
                  tvdc_verdict *checks, size_t *n_checks)
{
    int64_t l, host;
    size_t n = 0;
    bool ok = true;
    int r;

    if (!p || !host_name || !vm_label || (n_resources && !resource_labels) || !checks ||
        !n_checks || (h && tv_host_policy(h) != p))
        return -EINVAL;

    l = tvdc_find_label(p, vm_label);
    tv_verdict_init(&checks[n], TVDC_CHECK_LABEL, TVDC_NONE);
    if (l < 0) {
        checks[n].rule = TVDC_RULE_UNKNOWN_LABEL;
        *n_checks = 1;
        return TVDC_DENY;
    }
    checks[n++].vm_label = l;

    host = tvdc_find_host(p, host_name);
    if (host < 0) {
        tv_verdict_init(&checks[n], TVDC_CHECK_HOST, l);
        checks[n++].rule = TVDC_RULE_UNKNOWN_HOST;
        ok = false;
    } else {
        r = tvdc_decide_host(p, host, l, &checks[n++]);
        if (r < 0)
            return r;
        ok = ok && r == TVDC_PERMIT;
    }

    /* Resources before collocation, so a reservation is made only when
     * everything else permits; reported in the documented order. */
    for (size_t i = 0; i < n_resources; i++) {
        tvdc_verdict *v = &checks[3 + i];
        int64_t rl = resource_labels[i] ? tvdc_find_label(p, resource_labels[i]) : -ENOENT;

        if (rl < 0) {
            tv_verdict_init(v, TVDC_CHECK_RESOURCE, l);
            v->rule = TVDC_RULE_UNKNOWN_RESOURCE;
            ok = false;
            continue;
        }
        r = tvdc_decide_share(p, l, rl, v);
        if (r < 0)
            return r;
        ok = ok && r == TVDC_PERMIT;
    }

    if (h && ok && reserve_id)
        r = tvdc_host_reserve(h, reserve_id, l, 0, &checks[n]);
    else
        r = tv_collocation(p, h, l, &checks[n]);
    if (r < 0)
        return r;
    ok = ok && r == TVDC_PERMIT;
    n++;

    *n_checks = n + n_resources;
    return ok ? TVDC_PERMIT : TVDC_DENY;
}
