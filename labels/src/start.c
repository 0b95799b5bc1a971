/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The full start decision (DESIGN.md section 2): the pure checks of
 * decide.c, then anti-collocation against a host's reservation table
 * (host.c), reserving when everything permits.  It sits above both:
 * bitset.c <- decide.c <- host.c <- start.c, and no call goes back up.
 */
#include "internal.h"

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
    else if (h)
        r = tvdc_host_check(h, l, &checks[n]);
    else
        r = tvdc_decide_collocation(p, NULL, l, &checks[n]);   /* no VM runs */
    if (r < 0)
        return r;
    ok = ok && r == TVDC_PERMIT;
    n++;

    *n_checks = n + n_resources;
    return ok ? TVDC_PERMIT : TVDC_DENY;
}
