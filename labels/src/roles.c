/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Administrator roles: who may assign which labels (a pure decision). */
#include "internal.h"

/* Role r's record in role_data: name, n_users, n_groups, n_labels, then the
 * users, groups and labels (see tv_roles_ext). */
static const uint32_t *
role(const tvdc_policy *p, uint32_t r)
{
    return p && r < p->n_roles ? p->role_data + p->role_at[r] : NULL;
}

uint32_t
tvdc_policy_n_roles(const tvdc_policy *p)
{
    return p ? p->n_roles : 0;
}

const char *
tvdc_role_name(const tvdc_policy *p, uint32_t r)
{
    const uint32_t *d = role(p, r);
    return d ? p->strings + d[0] : NULL;
}

int64_t
tvdc_find_role(const tvdc_policy *p, const char *name)
{
    if (!p || !name)
        return -EINVAL;
    for (uint32_t r = 0; r < p->n_roles; r++)
        if (strcmp(tvdc_role_name(p, r), name) == 0)
            return r;
    return -ENOENT;
}

uint32_t tvdc_role_n_users(const tvdc_policy *p, uint32_t r) { const uint32_t *d = role(p, r); return d ? d[1] : 0; }
uint32_t tvdc_role_n_groups(const tvdc_policy *p, uint32_t r) { const uint32_t *d = role(p, r); return d ? d[2] : 0; }
uint32_t tvdc_role_n_labels(const tvdc_policy *p, uint32_t r) { const uint32_t *d = role(p, r); return d ? d[3] : 0; }

const char *
tvdc_role_user(const tvdc_policy *p, uint32_t r, uint32_t i)
{
    const uint32_t *d = role(p, r);
    return d && i < d[1] ? p->strings + d[4 + i] : NULL;
}

const char *
tvdc_role_group(const tvdc_policy *p, uint32_t r, uint32_t i)
{
    const uint32_t *d = role(p, r);
    return d && i < d[2] ? p->strings + d[4 + d[1] + i] : NULL;
}

uint32_t
tvdc_role_label(const tvdc_policy *p, uint32_t r, uint32_t i)
{
    const uint32_t *d = role(p, r);
    return d && i < d[3] ? d[4 + d[1] + d[2] + i] : TVDC_NONE;
}

/* Does role d name user or one of groups? */
static bool
role_names(const tvdc_policy *p, const uint32_t *d, const char *user,
           const char *const *groups, size_t n_groups)
{
    for (uint32_t i = 0; user && i < d[1]; i++)
        if (strcmp(p->strings + d[4 + i], user) == 0)
            return true;
    for (uint32_t i = 0; i < d[2]; i++)
        for (size_t g = 0; g < n_groups; g++)
            if (groups[g] && strcmp(p->strings + d[4 + d[1] + i], groups[g]) == 0)
                return true;
    return false;
}

int
tvdc_decide_role(const tvdc_policy *p, const char *user,
                 const char *const *groups, size_t n_groups, const char *label,
                 uint32_t *considered, size_t n, size_t *n_considered,
                 uint32_t *granted_by)
{
    uint32_t granted = TVDC_NONE;
    int64_t l = -1;
    size_t k = 0;

    if (!p || !label || (n_groups && !groups) || (n && !considered))
        return -EINVAL;
    if (p->n_roles > 0)
        l = tvdc_find_label(p, label);
    for (uint32_t r = 0; r < p->n_roles; r++) {
        const uint32_t *d = role(p, r);

        if (!role_names(p, d, user, groups, n_groups))
            continue;
        if (k < n)
            considered[k] = r;
        k++;
        for (uint32_t i = 0; l >= 0 && granted == TVDC_NONE && i < d[3]; i++)
            if (d[4 + d[1] + d[2] + i] == (uint32_t) l)
                granted = r;
    }
    if (n_considered)
        *n_considered = k;
    if (granted_by)
        *granted_by = granted;
    if (p->n_roles == 0 || (user && strcmp(user, "root") == 0))
        return TVDC_PERMIT;
    return granted != TVDC_NONE ? TVDC_PERMIT : TVDC_DENY;
}
