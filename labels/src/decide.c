/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sharing, host authorization and anti-collocation (DESIGN.md section 2,
 * rules 1 to 3), and explanations.  Pure functions of a compiled policy and
 * the sets they are given: no I/O, no state, no locks (tvdc_host calls
 * tvdc_decide_collocation under its own).
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

static uint32_t
sets_intersect(const tvdc_policy *p, uint32_t a, uint32_t b)
{
    return tv_sets_intersect_except(p, a, b, TVDC_NONE);
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
    t = tv_sets_missing(p, tv_set_label(p, vm_label), tv_set_label(p, p->host_label[host]));
    if (t != TVDC_NONE) {
        v->rule = TVDC_RULE_HOST_LACKS_TYPE;
        v->type = t;
        return TVDC_DENY;
    }
    return TVDC_PERMIT;
}

static bool
active_valid(const tvdc_policy *p, const tvdc_active_set *a)
{
    if (a->n_type_words != tv_type_words(p->h->n_types) || (a->n_type_words && !a->types) ||
        (a->n_labels && !a->labels))
        return false;
    for (size_t k = 0; k < a->n_labels; k++)
        if (a->labels[k] >= p->h->n_labels)
            return false;
    return true;
}

/* A type of the label that conflicts with another of its types, or with a
 * different type in bits (bits NULL: only the label's own types). */
static int
find_conflict(const tvdc_policy *p, uint32_t set, const uint64_t *bits, tvdc_verdict *v)
{
    uint32_t t, u;

    for (tv_set_iter it = tv_set_iter_init(p, set); tv_set_iter_next(&it, &t);) {
        uint32_t m = p->type_mask[t];
        if (m == TVDC_NONE)
            continue;
        u = bits ? tv_set_intersect_bits_except(p, tv_set_mask(p, m), bits, t)
                 : tv_sets_intersect_except(p, tv_set_mask(p, m), set, t);
        if (u != TVDC_NONE) {
            v->rule = bits ? TVDC_RULE_CONFLICT : TVDC_RULE_SELF_CONFLICT;
            v->type = t;
            v->other_type = u;
            v->conflict = tv_conflict_holding(p, t, u);
            return TVDC_DENY;
        }
    }
    return TVDC_PERMIT;
}

int
tvdc_decide_collocation(const tvdc_policy *p, const tvdc_active_set *active,
                        uint32_t vm_label, tvdc_verdict *v)
{
    uint32_t set;

    if (!p || !v || vm_label >= p->h->n_labels || (active && !active_valid(p, active)))
        return -EINVAL;
    set = tv_set_label(p, vm_label);
    tv_verdict_init(v, TVDC_CHECK_COLLOCATION, vm_label);

    /* The VM's own types first: such a label can never run. */
    if (find_conflict(p, set, NULL, v) == TVDC_DENY)
        return TVDC_DENY;
    if (!active || find_conflict(p, set, active->types, v) == TVDC_PERMIT)
        return TVDC_PERMIT;

    /* Name one running VM's label that holds the running type, to explain. */
    for (size_t k = 0; k < active->n_labels; k++)
        if (tv_set_has(p, tv_set_label(p, active->labels[k]), v->other_type)) {
            v->other_label = active->labels[k];
            break;
        }
    return TVDC_DENY;
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
