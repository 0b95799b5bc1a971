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

/* Anti-collocation of label beside others (tvdc_decide_collocation over
 * the active set the others make). */
static int
collocation(const tvdc_policy *p, uint32_t label, const uint32_t *others, size_t n_others,
            tvdc_verdict *v)
{
    size_t n_words = (tvdc_policy_n_types(p) + 63) / 64;
    _cleanup_free_ uint64_t *types = calloc(n_words ? n_words : 1, sizeof(*types));
    tvdc_active_set active = {
        .types = types, .n_type_words = n_words, .labels = others, .n_labels = n_others,
    };

    if (!types)
        return -ENOMEM;
    for (size_t k = 0; k < n_others; k++) {
        tv_set_iter it = tv_set_iter_init(p, tv_set_label(p, others[k]));
        uint32_t t;

        while (tv_set_iter_next(&it, &t))
            tv_bits_set(types, t);
    }
    return tvdc_decide_collocation(p, &active, label, v);
}

int
tvdc_decide_running(const tvdc_policy *p, const char *host_name, const char *label,
                    const uint32_t *others, size_t n_others,
                    const char **rule, char **detail)
{
    tvdc_verdict v;
    int64_t idx, host;
    int r;

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
    if ((r = collocation(p, (uint32_t) idx, others, n_others, &v)) < 0)
        return r;
    if (r == TVDC_DENY)
        return verdict_violation(p, &v, label, rule, detail);
    return 0;
}
