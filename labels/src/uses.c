/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a VM uses: the sharing rule over the list the libvirt driver's
 * collector makes of a definition (tvdc.h, "What a VM uses").
 */

#include <errno.h>
#include <string.h>

#include "internal.h"

/* The collector's refusals an unlabeled VM gets too. */
static const char *const unlabeled_refusals[] = {
    "element-not-allowed", "private-log",
};

static const char *const use_rule_names[_TVDC_USE_RULE_MAX] = {
    [TVDC_USE_UNLABELED] = "unlabeled-resource",
    [TVDC_USE_LABELED] = "labeled-resource",
};

const char *
tvdc_use_rule_to_string(tvdc_use_rule r)
{
    return (unsigned) r < _TVDC_USE_RULE_MAX ? use_rule_names[r] : NULL;
}

/* The resource's own label, else its directory's; NULL: none. */
static const char *
use_label(const tvdc_store *s, const tvdc_use *u)
{
    const char *label = NULL;

    if (u->key && tvdc_store_get(s, u->key, &label) == 0)
        return label;
    if (u->parent_key && tvdc_store_get(s, u->parent_key, &label) == 0)
        return label;
    return NULL;
}

static int
use_deny(tvdc_use_verdict *v, tvdc_use_rule rule)
{
    v->rule = rule;
    return TVDC_DENY;
}

static int
decide_unlabeled_vm(const tvdc_store *s, const tvdc_use *u, tvdc_use_verdict *v)
{
    size_t i;

    if (u->refused) {
        for (i = 0; i < sizeof(unlabeled_refusals) / sizeof(unlabeled_refusals[0]); i++)
            if (strcmp(u->refused, unlabeled_refusals[i]) == 0)
                return use_deny(v, TVDC_USE_REFUSED);
        return TVDC_PERMIT;
    }
    if (u->is_private || !(v->label = use_label(s, u)))
        return TVDC_PERMIT;
    return use_deny(v, TVDC_USE_LABELED);
}

int
tvdc_decide_use(const tvdc_policy *p, const tvdc_store *s, const char *vm_label,
                const tvdc_use *u, tvdc_use_verdict *v)
{
    int64_t vm, res;

    if (!p || !s || !u || !v)
        return -EINVAL;
    *v = (tvdc_use_verdict) {
        .rule = TVDC_USE_OK,
        .verdict = { .vm_label = TVDC_NONE, .type = TVDC_NONE, .other_label = TVDC_NONE,
                     .other_type = TVDC_NONE, .conflict = TVDC_NONE, .host = TVDC_NONE },
    };

    if (!vm_label)
        return decide_unlabeled_vm(s, u, v);
    if (u->is_private)
        return TVDC_PERMIT;
    if (u->refused)
        return use_deny(v, TVDC_USE_REFUSED);
    if (!(v->label = use_label(s, u)))
        return use_deny(v, TVDC_USE_UNLABELED);
    if ((vm = tvdc_find_label(p, vm_label)) < 0)
        return -ENOENT;

    if ((res = tvdc_find_label(p, v->label)) < 0) {
        v->verdict.check = TVDC_CHECK_RESOURCE;
        v->verdict.rule = TVDC_RULE_UNKNOWN_RESOURCE;
        v->verdict.vm_label = (uint32_t) vm;
        return use_deny(v, TVDC_USE_SHARE);
    }
    switch (tvdc_decide_share(p, (uint32_t) vm, (uint32_t) res, &v->verdict)) {
    case TVDC_PERMIT:
        return TVDC_PERMIT;
    case TVDC_DENY:
        return use_deny(v, TVDC_USE_SHARE);
    default:
        return -EINVAL;
    }
}
