/*
 * security_tvdc_role.c: the tvdc driver's administrator roles
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Lesser General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 *
 * This library is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
 * Lesser General Public License for more details.
 *
 * You should have received a copy of the GNU Lesser General Public
 * License along with this library.  If not, see
 * <http://www.gnu.org/licenses/>.
 *
 * Who the client asking for a definition is (its unix user and groups,
 * as libvirt's identity gives them), and whether the policy's roles let it
 * use the domain's label (tvdc_decide_role).
 */

#include <config.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <tvdc/tvdc.h>

#include "internal.h"

#include "security_tvdc_priv.h"
#include "viridentity.h"
#include "virbuffer.h"
#include "virerror.h"
#include "virlog.h"

#define VIR_FROM_THIS VIR_FROM_SECURITY

VIR_LOG_INIT("security.security_tvdc_role");


/* The name of uid and the names of its groups (gid, the one the client
 * connected with, first): false when uid has no account. */
static bool
virTVDCUnixAccount(uid_t uid,
                   gid_t gid,
                   char **user,
                   GPtrArray *groups)
{
    struct passwd pw;
    struct passwd *pwp = NULL;
    g_autofree char *buf = NULL;
    g_autofree gid_t *gids = NULL;
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    int ngids = 64;
    int i;

    if (size <= 0)
        size = 16384;
    buf = g_new0(char, size);
    if (getpwuid_r(uid, &pw, buf, size, &pwp) != 0 || !pwp)
        return false;
    *user = g_strdup(pw.pw_name);

    gids = g_new0(gid_t, ngids);
    if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ngids) < 0) {
        g_free(gids);
        gids = g_new0(gid_t, ngids);
        if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ngids) < 0)
            ngids = 0;
    }
    for (i = -1; i < ngids; i++) {
        struct group gr;
        struct group *grp = NULL;
        g_autofree char *gbuf = g_new0(char, 16384);
        gid_t g = i < 0 ? gid : gids[i];

        if (g == (gid_t) -1 || (i >= 0 && g == gid))
            continue;
        if (getgrgid_r(g, &gr, gbuf, 16384, &grp) == 0 && grp)
            g_ptr_array_add(groups, g_strdup(gr.gr_name));
    }
    return true;
}


/* Report the refusal: the message names the user and the roles
 * considered, the audit detail also the uid and every group. */
static void
virTVDCRoleDeny(virTVDCRequest *req,
                const char *user,
                uid_t uid,
                GPtrArray *groups,
                const uint32_t *considered,
                size_t nconsidered,
                size_t max)
{
    const tvdc_policy *policy = req->priv->policy;
    g_auto(virBuffer) roles = VIR_BUFFER_INITIALIZER;
    g_autofree char *object = NULL;
    g_autofree char *detail = NULL;
    g_autofree char *joined = NULL;
    size_t i;

    for (i = 0; i < nconsidered && i < max; i++)
        virBufferAsprintf(&roles, "%s%s", i ? ", " : "", tvdc_role_name(policy, considered[i]));
    if (nconsidered > max)
        virBufferAddLit(&roles, ", ...");
    if (nconsidered == 0)
        virBufferAddLit(&roles, "none");

    if (user)
        object = g_strdup_printf("user '%s' (roles: %s)", user, virBufferCurrentContent(&roles));
    else if (uid != (uid_t) -1)
        object = g_strdup_printf("uid %u, an unknown user,", (unsigned int) uid);
    else
        object = g_strdup("a client without a unix user");

    g_ptr_array_add(groups, NULL);
    joined = g_strjoinv(",", (char **) groups->pdata);
    detail = g_strdup_printf("role: user %s (uid %lld, groups %s): roles considered: %s; "
                             "none of them lists label %s",
                             NULLSTR(user), uid == (uid_t) -1 ? -1LL : (long long) uid,
                             *joined ? joined : "none",
                             virBufferCurrentContent(&roles), req->label);
    virTVDCDeny(req, VIR_ERR_OPERATION_DENIED, TVDC_RULE_STR_ROLE, object, detail);
}


/* May the client of libvirt that asked for this definition use its label
 * under the policy's roles?  A denial is reported into req.  Decided only
 * for a client's request: a parse with no client identity (the daemon's
 * own: status XML when it restarts, events) is not; the daemon's own
 * identity and root's are the datacenter administrator's (uid 0).  A
 * policy without roles lets everyone use every label. */
void
virTVDCCheckRole(virTVDCRequest *req)
{
    const tvdc_policy *policy = req->priv->policy;
    g_autoptr(virIdentity) ident = NULL;
    g_autoptr(GPtrArray) groups = NULL;
    g_autofree char *user = NULL;
    uint32_t considered[16];
    size_t nconsidered = 0;
    uid_t uid = (uid_t) -1;
    gid_t gid = (gid_t) -1;
    int rc;

    if (!req->label || tvdc_policy_n_roles(policy) == 0)
        return;
    if (!(ident = virIdentityGetCurrent()))
        return;
    if (virIdentityGetUNIXUserID(ident, &uid) <= 0)
        uid = (uid_t) -1;
    if (uid == 0)
        return;
    if (virIdentityGetUNIXGroupID(ident, &gid) <= 0)
        gid = (gid_t) -1;

    groups = g_ptr_array_new_with_free_func(g_free);
    if (uid != (uid_t) -1)
        ignore_value(virTVDCUnixAccount(uid, gid, &user, groups));
    rc = tvdc_decide_role(policy, user, (const char *const *) groups->pdata, groups->len,
                          req->label, considered, G_N_ELEMENTS(considered),
                          &nconsidered, NULL);
    if (rc == TVDC_PERMIT)
        return;

    virTVDCRoleDeny(req, user, uid, groups, considered, nconsidered,
                    G_N_ELEMENTS(considered));
}
