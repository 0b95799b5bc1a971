/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The measured identity of a VM (swtpm-mgr/README.md, "Measured identity
 * (H-CRTM)"): the blob QEMU measures into the vTPM as an H-CRTM event
 * before the firmware runs, and the PCR0 values a verifier expects from it.
 */
#include <inttypes.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"

#define VM_NAME_MAX 1024        /* as in the vTPM record */

/* A growing text buffer; on allocation failure it stays failed. */
typedef struct text {
    char *s;
    size_t len, cap;
    bool failed;
} text;

static void
text_add(text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 512;
        char *q;

        while (t->len + n + 1 > cap)
            cap *= 2;
        q = realloc(t->s, cap);
        if (!q) {
            t->failed = true;
            return;
        }
        t->s = q;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

/* A value: bytes 0x20..0x7e as they are except backslash (\\), every other
 * byte (control characters, DEL, anything not ASCII) as \xHH, lower-case
 * hex.  One form per byte, so the escaped text is canonical and a line
 * never holds a newline. */
static void
text_escaped(text *t, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
        if (*c == '\\') {
            text_add(t, "\\\\", 2);
        } else if (*c >= 0x20 && *c < 0x7f) {
            text_add(t, (const char *) c, 1);
        } else {
            char e[4] = { '\\', 'x', hex[*c >> 4], hex[*c & 15] };
            text_add(t, e, 4);
        }
    }
}

static void
text_line(text *t, const char *key, const char *value)
{
    text_add(t, key, strlen(key));
    text_add(t, " ", 1);
    text_escaped(t, value);
    text_add(t, "\n", 1);
}

int
tvdc_vtpm_measure_blob(const tvdc_policy *p, const char *uuid, const char *name,
                       const char *label, char **ret, size_t *ret_len)
{
    _cleanup_free_ char *types = NULL;
    char lower[TVDC_UUID_STRING_LEN + 1], hash[65], version[16];
    const uint8_t *sum;
    size_t name_len;
    text t = { 0 };
    int r;

    if (!p || !ret || !ret_len || !tvdc_uuid_valid(uuid) || !name)
        return -EINVAL;
    name_len = strlen(name);
    if (name_len == 0 || name_len > VM_NAME_MAX)
        return -EINVAL;
    if (label && *label) {
        r = tvdc_label_meaning(p, label, &types);
        if (r < 0)
            return r;
    } else {
        label = NULL;
    }
    for (size_t i = 0; i <= TVDC_UUID_STRING_LEN; i++)
        lower[i] = (uuid[i] >= 'A' && uuid[i] <= 'F') ? (char) (uuid[i] - 'A' + 'a') : uuid[i];
    sum = tvdc_policy_source_hash(p);
    tv_hex(sum, 32, hash);
    snprintf(version, sizeof(version), "%" PRIu32, tvdc_policy_version(p));

    text_line(&t, "tvdc-hcrtm", "1");
    text_line(&t, "policy", tvdc_policy_name(p));
    text_line(&t, "policy-version", version);
    text_line(&t, "policy-sha256", hash);
    text_line(&t, "vm-uuid", lower);
    text_line(&t, "vm-name", name);
    text_line(&t, "label", label ? label : "-");
    text_line(&t, "types", types ? types : "-");
    if (t.failed) {
        free(t.s);
        return -ENOMEM;
    }
    *ret = t.s;
    *ret_len = t.len;
    return 0;
}

/* A PCR extend in bank md: pcr = H(pcr || H(data)); 1 on success. */
static int
pcr_extend(EVP_MD_CTX *ctx, const EVP_MD *md, uint8_t *pcr, size_t size,
           const void *data, size_t len)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned m, n = 0;

    return EVP_Digest(data, len, digest, &m, md, NULL) == 1 &&
           EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
           EVP_DigestUpdate(ctx, pcr, size) == 1 &&
           EVP_DigestUpdate(ctx, digest, m) == 1 &&
           EVP_DigestFinal_ex(ctx, pcr, &n) == 1 && n == size;
}

/* PCR0 before the firmware: libtpms's TPM2_HashSequence for H-CRTM
 * (TPM_IO_Hash_End) sets PCR0 to the locality, 4, in its last byte and
 * extends the digest of the data into it, in every allocated bank. */
int
tvdc_vtpm_expect_pcr0(const char *bank, const void *blob, size_t len, unsigned flags,
                      uint8_t *out, size_t *out_len)
{
    static const uint8_t separator[4] = { 0xff, 0xff, 0xff, 0xff };
    static const char *const banks[] = { "sha1", "sha256", "sha384", "sha512" };
    uint8_t pcr[EVP_MAX_MD_SIZE] = { 0 };
    const EVP_MD *md = NULL;
    EVP_MD_CTX *ctx = NULL;
    size_t size;
    int ok = 1;

    if (!bank || (!blob && len) || !out || !out_len || (flags & ~TVDC_PCR0_BOOT_SEABIOS))
        return -EINVAL;
    for (size_t i = 0; i < ELEMENTSOF(banks) && !md; i++)
        if (strcmp(bank, banks[i]) == 0)
            md = EVP_get_digestbyname(bank);
    if (!md)
        return -EINVAL;
    size = (size_t) EVP_MD_get_size(md);
    if (*out_len < size)
        return -ENOBUFS;
    ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;

    /* PCR = H(PCR || data): once with H(blob) after PCR0 = 0..04, once
     * with H(ff ff ff ff) for the firmware's EV_SEPARATOR */
    if (blob) {
        pcr[size - 1] = 4;
        ok = pcr_extend(ctx, md, pcr, size, blob, len);
    }
    if (ok && (flags & TVDC_PCR0_BOOT_SEABIOS))
        ok = pcr_extend(ctx, md, pcr, size, separator, sizeof(separator));
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -EIO;
    memcpy(out, pcr, size);
    *out_len = size;
    return 0;
}
