/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Would a VM that runs here be permitted by the policy in force now?  After
 * a policy change (and a libvirtd restart) running VMs keep running and
 * keep their reservations whatever the policy says; this says which of
 * them the policy would not start, and why.  Pure: a policy and the labels
 * of the other VMs holding reservations in, a rule and a line out.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

#define DETAIL_MAX 1024

static int __attribute__((format(printf, 4, 5)))
violation(const char **rule, char **detail, const char *r, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -ENOMEM;
    *rule = r;
    *detail = s;
    return 1;
}

static int
verdict_violation(const tvdc_policy *p, const tvdc_verdict *v, const char *subject,
                  const char **rule, char **detail)
{
    char buf[DETAIL_MAX];

    if (tvdc_verdict_format(p, v, subject, buf, sizeof(buf)) < 0)
        return violation(rule, detail, tvdc_rule_to_string(v->rule), "%s: %s",
                         tvdc_check_to_string(v->check), tvdc_rule_to_string(v->rule));
    return violation(rule, detail, tvdc_rule_to_string(v->rule), "%s", buf);
}

/* Anti-collocation of label beside others: its own types first (such a
 * label never runs), then, for each of its types in order, the lowest
 * type of another VM in a conflict set with it, explained with the first
 * of the others that holds that type (as a host table would). */
static int
collocation(const tvdc_policy *p, uint32_t label, const uint32_t *others, size_t n_others,
            tvdc_verdict *v)
{
    uint32_t set = tv_set_label(p, label);

    if (tv_collocation(p, NULL, label, v) == TVDC_DENY)
        return TVDC_DENY;
    for (uint32_t i = p->set_start[set]; i < p->set_start[set + 1]; i++)
        for (uint64_t x = p->word_bits[i]; x; x &= x - 1) {
            uint32_t t = p->word_idx[i] * 64 + __builtin_ctzll(x), m = p->type_mask[t];
            uint32_t u = TVDC_NONE;

            if (m == TVDC_NONE)
                continue;
            for (size_t k = 0; k < n_others; k++) {
                uint32_t w = tv_sets_intersect_except(p, tv_set_mask(p, m),
                                                      tv_set_label(p, others[k]), t);
                if (w < u)
                    u = w;
            }
            if (u == TVDC_NONE)
                continue;
            v->rule = TVDC_RULE_CONFLICT;
            v->type = t;
            v->other_type = u;
            v->conflict = tv_conflict_holding(p, t, u);
            for (size_t k = 0; k < n_others; k++)
                if (tv_set_has(p, tv_set_label(p, others[k]), u)) {
                    v->other_label = others[k];
                    break;
                }
            return TVDC_DENY;
        }
    return TVDC_PERMIT;
}

int
tvdc_decide_running(const tvdc_policy *p, const char *host_name, const char *label,
                    const uint32_t *others, size_t n_others,
                    const char **rule, char **detail)
{
    tvdc_verdict v;
    int64_t idx, host;

    if (!p || !rule || !detail || (n_others > 0 && !others))
        return -EINVAL;
    for (size_t k = 0; k < n_others; k++)
        if (others[k] >= tvdc_policy_n_labels(p))
            return -EINVAL;

    if (!label) {
        if (tvdc_policy_flags(p) & TVDC_POLICY_ALLOW_UNLABELED)
            return 0;
        return violation(rule, detail, "unlabeled-vm", "label: unlabeled VM, and policy %s "
                         "does not allow unlabeled VMs", tvdc_policy_name(p));
    }
    if ((idx = tvdc_find_label(p, label)) < 0)
        return violation(rule, detail, tvdc_rule_to_string(TVDC_RULE_UNKNOWN_LABEL),
                         "label: unknown label '%s'", label);
    if (!host_name || (host = tvdc_find_host(p, host_name)) < 0)
        return violation(rule, detail, tvdc_rule_to_string(TVDC_RULE_UNKNOWN_HOST),
                         "host: host '%s' is not in the policy and runs no labeled VM",
                         host_name ? host_name : "(null)");
    if (tvdc_decide_host(p, (uint32_t) host, (uint32_t) idx, &v) == TVDC_DENY)
        return verdict_violation(p, &v, host_name, rule, detail);
    if (collocation(p, (uint32_t) idx, others, n_others, &v) == TVDC_DENY)
        return verdict_violation(p, &v, label, rule, detail);
    return 0;
}
