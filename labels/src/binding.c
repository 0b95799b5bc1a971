/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bindings: is what a domain finds (a memory image, its NVRAM, its vTPM
 * state, the label it migrates with) bound to the domain, its label and
 * what the label means here?  Pure decisions over (policy, request); the
 * detail is the one-line English the audit record carries.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"
#include "tvdc/tvdc.h"

#define RULE_OK "ok"
#define RULE_NO_IMAGE_RECORD "no-image-record"
#define RULE_LABEL_MISMATCH "label-mismatch"
#define RULE_POLICY_MISMATCH "policy-mismatch"
#define RULE_NO_ORIGIN "no-origin"
#define RULE_IMAGE_CONTENT "image-content"
#define RULE_NVRAM_STATE "nvram-state"
#define RULE_VTPM_STATE "vtpm-state"

static const char *const binding_names[_TVDC_BINDING_MAX] = {
    [TVDC_BINDING_OK] = "ok",
    [TVDC_BINDING_NO_FILE] = "no-file",
    [TVDC_BINDING_NO_RECORD] = "no-record",
    [TVDC_BINDING_BAD_RECORD] = "bad-record",
    [TVDC_BINDING_REPLACED] = "replaced",
    [TVDC_BINDING_OTHER_VM] = "other-vm",
    [TVDC_BINDING_OTHER_LABEL] = "other-label",
    [TVDC_BINDING_OTHER_MEANING] = "other-meaning",
    [TVDC_BINDING_INCOMPLETE] = "incomplete",
    [TVDC_BINDING_CONTENT] = "content",
    [TVDC_BINDING_UNBOUND] = "unbound",
    [TVDC_BINDING_FOREIGN] = "foreign",
};

const char *
tvdc_binding_to_string(tvdc_binding b)
{
    return (unsigned) b < _TVDC_BINDING_MAX ? binding_names[b] : NULL;
}

void
tvdc_binding_result_done(tvdc_binding_result *res)
{
    if (!res)
        return;
    free(res->detail);
    res->detail = NULL;
}

/* As libvirt prints a missing string. */
static const char *
nullstr(const char *s)
{
    return s ? s : "<null>";
}

static bool
streq_nullable(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int
permit(tvdc_binding_result *res)
{
    *res = (tvdc_binding_result) { .outcome = TVDC_BINDING_OK, .rule = RULE_OK };
    return TVDC_PERMIT;
}

static int deny(tvdc_binding_result *res, tvdc_binding outcome, const char *rule,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
deny(tvdc_binding_result *res, tvdc_binding outcome, const char *rule, const char *fmt, ...)
{
    char *detail;
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vasprintf(&detail, fmt, ap);
    va_end(ap);
    if (k < 0)
        return -ENOMEM;
    *res = (tvdc_binding_result) { .outcome = outcome, .rule = rule, .detail = detail };
    return TVDC_DENY;
}

/* What label means under p, or NULL (unknown label, no policy); -ENOMEM. */
static int
meaning(const tvdc_policy *p, const char *label, char **ret)
{
    int k;

    *ret = NULL;
    if (!p || !label)
        return 0;
    k = tvdc_label_meaning(p, label, ret);
    return k == -ENOENT ? 0 : k;
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

int
tvdc_label_meaning(const tvdc_policy *p, const char *label, char **ret)
{
    _cleanup_free_ uint32_t *types = NULL;
    _cleanup_free_ const char **names = NULL;
    size_t len = 0;
    int64_t idx, n;
    char *s;

    if (!p || !label || !ret)
        return -EINVAL;
    if ((idx = tvdc_find_label(p, label)) < 0)
        return -ENOENT;
    n = tvdc_label_types(p, (uint32_t) idx, NULL, 0);
    if (n <= 0)
        return n < 0 ? (int) n : -ENOENT;
    types = calloc((size_t) n, sizeof(*types));
    names = calloc((size_t) n, sizeof(*names));
    if (!types || !names)
        return -ENOMEM;
    if (tvdc_label_types(p, (uint32_t) idx, types, (size_t) n) != n)
        return -EINVAL;
    for (int64_t i = 0; i < n; i++) {
        names[i] = tvdc_type_name(p, types[i]);
        len += strlen(names[i]) + 1;
    }
    qsort(names, (size_t) n, sizeof(*names), compare_names);
    s = malloc(len);
    if (!s)
        return -ENOMEM;
    s[0] = '\0';
    for (int64_t i = 0; i < n; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, names[i]);
    }
    *ret = s;
    return 0;
}

/* "label market-analysis (types MA, policy bank-dc)", "no label (unlabeled)" */
static char *
describe(const char *label, const char *types, const char *policy)
{
    char *s;

    if (!label)
        return strdup("no label (unlabeled)");
    if (asprintf(&s, "label %s (types %s, policy %s)", label, types ? types : "unknown",
                 policy ? policy : "none") < 0)
        return NULL;
    return s;
}

/* The record is there and about this file: does it bind it to the label? */
static int
saved_image_label(const tvdc_policy *p, const tvdc_saved_image_request *req,
                  tvdc_binding_result *res)
{
    const tvdc_record *rec = req->record;
    const char *policy = p ? tvdc_policy_name(p) : NULL;
    _cleanup_free_ char *types = NULL, *saved = NULL, *wanted = NULL;
    int k = meaning(p, req->label, &types);

    if (k < 0)
        return k;
    if (streq_nullable(rec->label, req->label) &&
        (!req->label ||
         (streq_nullable(rec->types, types) && streq_nullable(rec->policy, policy))))
        return permit(res);

    saved = describe(rec->label, rec->types, rec->policy);
    wanted = describe(req->label, types, policy);
    if (!saved || !wanted)
        return -ENOMEM;
    return deny(res, streq_nullable(rec->label, req->label) ? TVDC_BINDING_OTHER_MEANING
                                                            : TVDC_BINDING_OTHER_LABEL,
                RULE_LABEL_MISMATCH,
                "restore: memory image %s was saved by VM '%s' under %s; "
                "it cannot be restored under %s",
                req->path, nullstr(rec->vm_name), saved, wanted);
}

int
tvdc_bind_saved_image(const tvdc_policy *p, const tvdc_saved_image_request *req,
                      tvdc_binding_result *res)
{
    if (!req || !req->path || !res)
        return -EINVAL;
    if (req->file_error < 0)
        return deny(res, TVDC_BINDING_NO_FILE, RULE_NO_IMAGE_RECORD,
                    "restore: memory image %s: %s", req->path, strerror(-req->file_error));
    if (!req->record && req->record_error == -ENOENT)
        return deny(res, TVDC_BINDING_NO_RECORD, RULE_NO_IMAGE_RECORD,
                    "restore: memory image %s has no record on host %s of the label it was "
                    "saved under (saved on another host or before tvdc, or copied); it is "
                    "not restored under any label", req->path, nullstr(req->host));
    if (!req->record)
        return deny(res, TVDC_BINDING_BAD_RECORD, RULE_NO_IMAGE_RECORD,
                    "restore: memory image %s: its record %s is unreadable: %s",
                    req->path, nullstr(req->record_path),
                    strerror(req->record_error < 0 ? -req->record_error : EBADMSG));
    if (!tvdc_record_is_file(req->record, req->path, req->device, req->inode))
        return deny(res, TVDC_BINDING_REPLACED, RULE_NO_IMAGE_RECORD,
                    "restore: memory image %s is not the file that was saved there "
                    "(replaced since; record %s); it is not restored under any label",
                    req->path, nullstr(req->record_path));
    return saved_image_label(p, req, res);
}

int
tvdc_bind_image_content(const tvdc_record *record, const char *path, const char *sha256,
                        int hash_error, tvdc_binding_result *res)
{
    if (!record || !path || !res)
        return -EINVAL;
    if (!record->complete || !record->sha256)
        return deny(res, TVDC_BINDING_INCOMPLETE, RULE_IMAGE_CONTENT,
                    "restore: memory image %s was never completed by a save on this host "
                    "(a dump, or a save that did not finish); it is not restored under any "
                    "label", path);
    if (!sha256)
        return deny(res, TVDC_BINDING_NO_FILE, RULE_IMAGE_CONTENT,
                    "restore: memory image %s: %s", path,
                    strerror(hash_error < 0 ? -hash_error : EIO));
    if (strcmp(sha256, record->sha256) != 0)
        return deny(res, TVDC_BINDING_CONTENT, RULE_IMAGE_CONTENT,
                    "restore: memory image %s was rewritten since it was saved (its content "
                    "is not what was saved, SHA-256 %s); it is not restored under any label",
                    path, record->sha256);
    return permit(res);
}

int
tvdc_bind_nvram(const tvdc_policy *p, const tvdc_nvram_request *req,
                tvdc_binding_result *res)
{
    const tvdc_record *rec;
    _cleanup_free_ char *types = NULL;
    tvdc_binding outcome;
    int k;

    if (!req || !req->path || !req->uuid || !req->name || !req->label || !res)
        return -EINVAL;
    rec = req->record;
    if (!rec || !streq_nullable(rec->path, req->path))
        return deny(res, TVDC_BINDING_NO_RECORD, RULE_NVRAM_STATE,
                    "nvram: NVRAM %s has no tvdc record of the domain and label it was made "
                    "for (made before tvdc, or by another host); remove it to start with a "
                    "fresh one", req->path);
    if ((k = meaning(p, req->label, &types)) < 0)
        return k;
    if (!streq_nullable(rec->vm_uuid, req->uuid))
        outcome = TVDC_BINDING_OTHER_VM;
    else if (!streq_nullable(rec->label, req->label))
        outcome = TVDC_BINDING_OTHER_LABEL;
    else if (!streq_nullable(rec->types, types))
        outcome = TVDC_BINDING_OTHER_MEANING;
    else
        return permit(res);
    return deny(res, outcome, RULE_NVRAM_STATE,
                "nvram: NVRAM %s was made by VM '%s' (%s) under label %s (types %s); it is "
                "not used by VM '%s' under label %s (types %s): remove it to start with a "
                "fresh one", req->path, nullstr(rec->vm_name), nullstr(rec->vm_uuid),
                nullstr(rec->label), nullstr(rec->types), req->name, req->label,
                nullstr(types));
}

static bool
vtpm_required(const tvdc_policy *p, const char *label)
{
    int64_t idx;

    return p && label && (idx = tvdc_find_label(p, label)) >= 0 &&
           (tvdc_label_flags(p, (uint32_t) idx) & TVDC_LABEL_VTPM_REQUIRED);
}

int
tvdc_bind_vtpm_state(const tvdc_policy *p, const tvdc_vtpm_state_request *req,
                     tvdc_binding_result *res)
{
    const char *label, *name;

    if (!req || !req->uuid || !req->name || !res)
        return -EINVAL;
    if (req->has_identity && (!req->cert_uuid || !req->cert_label))
        return -EINVAL;
    name = req->name;
    label = req->label ? req->label : "(none)";
    if (!req->has_ek_cert)
        return !vtpm_required(p, req->label) ? permit(res) :
            deny(res, TVDC_BINDING_UNBOUND, RULE_VTPM_STATE,
                 "vTPM state of VM %s has no EK certificate, label %s requires one issued "
                 "under it: wipe it with 'tvdc vtpm wipe %s'", name, label, name);
    if (!req->has_identity)
        return !vtpm_required(p, req->label) ? permit(res) :
            deny(res, TVDC_BINDING_FOREIGN, RULE_VTPM_STATE,
                 "vTPM state of VM %s was not made by tvdc (its EK certificate has no tvdc "
                 "extension), the VM now has label %s: wipe it with 'tvdc vtpm wipe %s'",
                 name, label, name);
    if (strcmp(req->cert_uuid, req->uuid) != 0)
        return deny(res, TVDC_BINDING_OTHER_VM, RULE_VTPM_STATE,
                    "vTPM state of VM %s was made for VM %s (%s), this VM is %s: wipe it "
                    "with 'tvdc vtpm wipe %s'", name, nullstr(req->cert_name),
                    req->cert_uuid, req->uuid, name);
    if (strcmp(req->cert_label, req->label ? req->label : "") != 0)
        return deny(res, TVDC_BINDING_OTHER_LABEL, RULE_VTPM_STATE,
                    "vTPM state of VM %s was made under label %s, the VM now has label %s: "
                    "wipe it with 'tvdc vtpm wipe %s'", name,
                    req->cert_label[0] ? req->cert_label : "(none)", label, name);
    return permit(res);
}

int
tvdc_bind_migration(const tvdc_policy *p, const tvdc_migration_request *req,
                    tvdc_binding_result *res)
{
    const tvdc_origin *o;
    _cleanup_free_ char *types = NULL;
    int k;

    if (!p || !req || !req->label || !res)
        return -EINVAL;
    o = req->origin;
    if (!o)
        return deny(res, TVDC_BINDING_NO_RECORD, RULE_NO_ORIGIN,
                    "migration: the source host did not say what label %s means there (no "
                    "<tvdc:label> in the domain's metadata: a source without this tvdc "
                    "driver, or a migration XML that dropped it)", req->label);
    if ((k = meaning(p, req->label, &types)) < 0)
        return k;
    if (!streq_nullable(o->label, req->label))
        return deny(res, TVDC_BINDING_OTHER_LABEL, RULE_LABEL_MISMATCH,
                    "migration: source host %s runs the VM as label %s (types %s), the "
                    "migration XML asks for label %s", nullstr(o->host), nullstr(o->label),
                    nullstr(o->types), req->label);
    if (!streq_nullable(o->policy, tvdc_policy_name(p)) || !streq_nullable(o->types, types))
        return deny(res, TVDC_BINDING_OTHER_MEANING, RULE_POLICY_MISMATCH,
                    "migration: the hosts' policies disagree on label %s: source host %s: "
                    "policy %s version %s, types %s; this host %s: policy %s version %u, "
                    "types %s", req->label, nullstr(o->host), nullstr(o->policy),
                    nullstr(o->version), nullstr(o->types), nullstr(req->host),
                    tvdc_policy_name(p), tvdc_policy_version(p),
                    types ? types : "none (unknown label)");
    return permit(res);
}
