/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The compiled policy image: building it, and checking one before use.
 *
 * An image is read by libvirtd from a root-owned file, but it is still
 * checked completely (bounds, ordering, hash) so that a truncated or corrupt
 * file is refused rather than trusted: fail closed.
 */
#include <stddef.h>

#include <openssl/evp.h>

#include "internal.h"

#define ALIGN8(x) (((x) + 7) & ~(uint64_t) 7)

/* SHA-256 of the whole image with its own hash field read as zeros, so the
 * header (counts, offsets, source hash) is covered as well as the body. */
static int
image_digest(const uint8_t *img, size_t len, uint8_t out[32])
{
    static const uint8_t zero[32];
    const size_t at = offsetof(tv_header, image_sha256);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned n = 0;
    int ok;

    if (!md)
        return -ENOMEM;
    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(md, img, at) == 1 &&
         EVP_DigestUpdate(md, zero, 32) == 1 &&
         EVP_DigestUpdate(md, img + at + 32, len - at - 32) == 1 &&
         EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -EIO;
}

static const size_t sec_elem[_TV_SEC_MAX] = {
    [TV_SEC_STRINGS] = 1,
    [TV_SEC_WORD_BITS] = 8,
    [TV_SEC_TYPE_NAME ... TV_SEC_WORD_IDX] = 4,
    [TV_SEC_CONFLICT_NAME ... TV_SEC_HOST_HASH] = 4,
};

int
tv_image_rehash(uint8_t *img, size_t len)
{
    if (len < sizeof(tv_header))
        return -EINVAL;
    return image_digest(img, len, ((tv_header *) img)->image_sha256);
}

int
tv_vec_reserve(tv_vec *v, size_t n)
{
    size_t cap;
    void *d;

    if (n <= v->cap)
        return 0;
    cap = v->cap ? v->cap : 16;
    while (cap < n) {
        if (cap > SIZE_MAX / 2 / v->elem)
            return -ENOMEM;
        cap *= 2;
    }
    d = realloc(v->data, cap * v->elem);
    if (!d)
        return -ENOMEM;
    v->data = d;
    v->cap = cap;
    return 0;
}

int
tv_vec_push(tv_vec *v, const void *elem)
{
    int r = tv_vec_reserve(v, v->n + 1);
    if (r < 0)
        return r;
    memcpy((char *) v->data + v->n * v->elem, elem, v->elem);
    v->n++;
    return 0;
}

int
tv_builder_new(tv_builder **ret)
{
    tv_builder *b = calloc(1, sizeof(*b));

    if (!b)
        return -ENOMEM;
    for (int i = 0; i < _TV_SEC_MAX; i++)
        b->sec[i].elem = sec_elem[i];
    b->role_at.elem = b->role_data.elem = sizeof(uint32_t);
    *ret = b;
    return 0;
}

void
tv_builder_free(tv_builder *b)
{
    if (!b)
        return;
    for (int i = 0; i < _TV_SEC_MAX; i++)
        free(b->sec[i].data);
    free(b->role_at.data);
    free(b->role_data.data);
    free(b);
}

int
tv_builder_string(tv_builder *b, const char *s, size_t len, uint32_t *off)
{
    tv_vec *str = &b->sec[TV_SEC_STRINGS];
    int r;

    if (str->n + len + 1 > UINT32_MAX)
        return -E2BIG;
    r = tv_vec_reserve(str, str->n + len + 1);
    if (r < 0)
        return r;
    *off = str->n;
    memcpy((char *) str->data + str->n, s, len);
    ((char *) str->data)[str->n + len] = '\0';
    str->n += len + 1;
    return 0;
}

int
tv_builder_set(tv_builder *b, const uint32_t *types, size_t n)
{
    tv_vec *start = &b->sec[TV_SEC_SET_START];
    tv_vec *idx = &b->sec[TV_SEC_WORD_IDX], *bits = &b->sec[TV_SEC_WORD_BITS];
    int r;

    if (start->n == 0 && (r = tv_vec_push_u32(start, 0)) < 0)
        return r;
    for (size_t i = 0; i < n;) {
        uint32_t w = types[i] / 64;
        uint64_t word = 0;

        for (; i < n && types[i] / 64 == w; i++)
            word |= UINT64_C(1) << (types[i] % 64);
        if (idx->n >= UINT32_MAX)
            return -E2BIG;
        if ((r = tv_vec_push_u32(idx, w)) < 0 || (r = tv_vec_push(bits, &word)) < 0)
            return r;
    }
    return tv_vec_push_u32(start, idx->n);
}

static const int hash_sec[4] = {
    TV_SEC_TYPE_HASH, TV_SEC_LABEL_HASH, TV_SEC_CONFLICT_HASH, TV_SEC_HOST_HASH,
};

int
tv_builder_hash_init(tv_builder *b, int which, size_t n)
{
    tv_vec *t = &b->sec[hash_sec[which]];
    uint32_t bits = 0;
    int r;

    /* At most half full, so probes stay short. */
    while (((size_t) 1 << bits) < 2 * n)
        bits++;
    if (bits > 31)
        return -E2BIG;
    t->n = 0;
    r = tv_vec_reserve(t, (size_t) 1 << bits);
    if (r < 0)
        return r;
    memset(t->data, 0, ((size_t) 1 << bits) * sizeof(uint32_t));
    t->n = (size_t) 1 << bits;
    b->hash_bits[which] = bits;
    return 0;
}

int64_t
tv_hash_lookup(const uint32_t *table, uint32_t bits, const char *strings,
               const uint32_t *names, uint32_t n, const char *name)
{
    size_t mask = ((size_t) 1 << bits) - 1;
    size_t i = tv_hash(name) & mask;

    for (size_t probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
        uint32_t e = table[i];
        if (e == 0)
            return -ENOENT;
        if (e <= n && strcmp(strings + names[e - 1], name) == 0)
            return e - 1;
    }
    return -ENOENT;
}

int64_t
tv_builder_hash_find(const tv_builder *b, int which, const tv_vec *names, const char *name)
{
    return tv_hash_lookup(tv_vec_u32(&b->sec[hash_sec[which]]), b->hash_bits[which],
                          tv_builder_strings(b), tv_vec_u32(names), names->n, name);
}

int
tv_builder_hash_insert(tv_builder *b, int which, const tv_vec *names,
                       uint32_t index, uint32_t *dup)
{
    uint32_t *table = tv_vec_u32(&b->sec[hash_sec[which]]);
    const char *strings = tv_builder_strings(b);
    const char *name = strings + tv_vec_u32(names)[index];
    size_t mask = ((size_t) 1 << b->hash_bits[which]) - 1;
    size_t i = tv_hash(name) & mask;

    for (size_t probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
        uint32_t e = table[i];
        if (e == 0) {
            table[i] = index + 1;
            return 1;
        }
        if (strcmp(strings + tv_vec_u32(names)[e - 1], name) == 0) {
            *dup = e - 1;
            return 0;
        }
    }
    return -E2BIG; /* table sized too small by the caller */
}

int
tv_builder_finish(tv_builder *b, tvdc_policy **ret, tvdc_error *err)
{
    _cleanup_free_ uint8_t *image = NULL;
    tv_header *h;
    bool measure = false, attest = false;
    bool roles = b->role_at.n > 0;
    uint64_t first = ALIGN8(sizeof(tv_header)), off;
    tvdc_policy *p;
    int r;

    for (size_t l = 0; l < b->sec[TV_SEC_LABEL_FLAGS].n; l++) {
        uint32_t flags = tv_vec_u32(&b->sec[TV_SEC_LABEL_FLAGS])[l];

        measure = measure || (flags & TVDC_LABEL_MEASURE_REQUIRED);
        attest = attest || (flags & TVDC_LABEL_ATTEST_FAIL_MASK);
    }
    /* formats 3 and 4 always have the roles extension, with or without
     * roles */
    roles = roles || measure || attest;
    if (roles)
        first = ALIGN8(first + sizeof(tv_roles_ext) + b->role_at.n * 4 + b->role_data.n * 4);
    off = first;
    for (int i = 0; i < _TV_SEC_MAX; i++)
        off = ALIGN8(off + b->sec[i].n * b->sec[i].elem);
    if (off > TVDC_MAX_POLICY_BYTES)
        return tv_error(err, -E2BIG, 0, 0, "compiled policy would exceed %zu bytes",
                        TVDC_MAX_POLICY_BYTES);
    image = calloc(1, off);
    if (!image)
        return -ENOMEM;
    h = (tv_header *) image;
    memcpy(h->magic, TV_MAGIC, 8);
    h->format = attest ? TV_FORMAT_ATTEST : measure ? TV_FORMAT_MEASURE :
                roles ? TV_FORMAT_ROLES : TV_FORMAT;
    h->endian = TV_ENDIAN;
    h->size = off;
    memcpy(h->source_sha256, b->source_sha256, 32);
    h->version = b->version;
    h->name = b->name;
    h->n_types = b->sec[TV_SEC_TYPE_NAME].n;
    h->n_labels = b->sec[TV_SEC_LABEL_NAME].n;
    h->n_conflicts = b->sec[TV_SEC_CONFLICT_NAME].n;
    h->n_hosts = b->sec[TV_SEC_HOST_NAME].n;
    h->n_networks = b->sec[TV_SEC_NET_TYPE].n;
    h->n_masks = b->n_masks;
    h->n_words = b->sec[TV_SEC_WORD_IDX].n;
    memcpy(h->hash_bits, b->hash_bits, sizeof(h->hash_bits));
    h->reserved = b->flags;

    if (roles) {
        tv_roles_ext *x = (tv_roles_ext *) (image + ALIGN8(sizeof(tv_header)));

        x->n_roles = b->role_at.n;
        x->n_data = b->role_data.n;
        x->at_off = ALIGN8(sizeof(tv_header)) + sizeof(tv_roles_ext);
        x->data_off = x->at_off + b->role_at.n * 4;
        /* format 3 may have no roles: no data to copy (and no pointer) */
        if (b->role_at.n)
            memcpy(image + x->at_off, b->role_at.data, b->role_at.n * 4);
        if (b->role_data.n)
            memcpy(image + x->data_off, b->role_data.data, b->role_data.n * 4);
    }

    off = first;
    for (int i = 0; i < _TV_SEC_MAX; i++) {
        size_t bytes = b->sec[i].n * b->sec[i].elem;
        h->sec_off[i] = off;
        h->sec_len[i] = bytes;
        if (bytes)
            memcpy(image + off, b->sec[i].data, bytes);
        off = ALIGN8(off + bytes);
    }

    r = image_digest(image, h->size, h->image_sha256);
    if (r < 0)
        return r;

    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->image = TAKE_PTR(image);
    p->image_len = h->size;
    r = tv_image_map(p, err);
    if (r < 0) {
        tvdc_policy_free(p);
        return r;
    }
    *ret = p;
    return 0;
}

/* ------------------------------------------------------------------------ */

#define BAD(...) tv_error(err, -EBADMSG, 0, 0, "corrupt compiled policy: " __VA_ARGS__)

static int
check_names(const tvdc_policy *p, const uint32_t *names, uint32_t n, bool host,
            const char *what)
{
    (void) what;
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        size_t len;

        if (names[i] >= p->strings_len)
            return -1;
        s = p->strings + names[i];
        len = strnlen(s, p->strings_len - names[i]);
        if (host ? !tv_hostname_valid(s, len) : !tv_name_valid(s, len))
            return -1;
    }
    return 0;
}

static int
check_set(const tvdc_policy *p, uint32_t set, uint32_t min_bits)
{
    uint32_t start = p->set_start[set], end = p->set_start[set + 1];
    uint32_t words = tv_type_words(p->h->n_types), bits = 0;

    for (uint32_t i = start; i < end; i++) {
        uint64_t w = p->word_bits[i];

        if (p->word_idx[i] >= words || w == 0)
            return -1;
        if (i > start && p->word_idx[i] <= p->word_idx[i - 1])
            return -1;
        if (p->word_idx[i] == words - 1 && p->h->n_types % 64 &&
            (w >> (p->h->n_types % 64)) != 0)
            return -1;
        bits += __builtin_popcountll(w);
    }
    return bits >= min_bits ? 0 : -1;
}

/* The roles of a format 2 or 3 image: every record inside role_data, names
 * valid, labels known, at least one role in format 2 (format 3 may have
 * none). */
static int
map_roles(tvdc_policy *p)
{
    const uint64_t base = ALIGN8(sizeof(tv_header));
    const tv_roles_ext *x;
    uint64_t end;

    if (p->h->size < base + sizeof(tv_roles_ext))
        return -1;
    x = (const tv_roles_ext *) (p->image + base);
    if ((x->n_roles == 0 && p->h->format == TV_FORMAT_ROLES) || x->n_roles > TVDC_MAX_ROLES ||
        x->at_off % 4 || x->data_off % 4 ||
        x->at_off < base + sizeof(tv_roles_ext) || x->at_off > p->h->size ||
        (uint64_t) x->n_roles * 4 > p->h->size - x->at_off ||
        x->data_off < base + sizeof(tv_roles_ext) || x->data_off > p->h->size ||
        (uint64_t) x->n_data * 4 > p->h->size - x->data_off)
        return -1;
    p->role_at = (const uint32_t *) (p->image + x->at_off);
    p->role_data = (const uint32_t *) (p->image + x->data_off);
    for (uint32_t r = 0; r < x->n_roles; r++) {
        const uint32_t *d;
        uint64_t n;

        if ((uint64_t) p->role_at[r] + 4 > x->n_data)
            return -1;
        d = p->role_data + p->role_at[r];
        n = (uint64_t) d[1] + d[2] + d[3];
        end = (uint64_t) p->role_at[r] + 4 + n;
        if (end > x->n_data || check_names(p, d, 1, false, "role") < 0)
            return -1;
        for (uint64_t i = 0; i < (uint64_t) d[1] + d[2]; i++) {
            const char *s;

            if (d[4 + i] >= p->strings_len)
                return -1;
            s = p->strings + d[4 + i];
            if (!tv_account_valid(s, strnlen(s, p->strings_len - d[4 + i])))
                return -1;
        }
        for (uint64_t i = (uint64_t) d[1] + d[2]; i < n; i++)
            if (d[4 + i] >= p->h->n_labels)
                return -1;
    }
    p->n_roles = x->n_roles;
    return 0;
}

int
tv_image_map(tvdc_policy *p, tvdc_error *err)
{
    const uint8_t *img = p->image;
    const tv_header *h = (const tv_header *) img;
    uint8_t digest[32];
    uint64_t counts[_TV_SEC_MAX];
    uint32_t n_sets;

    if (p->image_len < sizeof(tv_header) || memcmp(h->magic, TV_MAGIC, 8) != 0)
        return BAD("bad magic or truncated header");
    if (h->format < TV_FORMAT || h->format > TV_FORMAT_ATTEST)
        return tv_error(err, -EBADMSG, 0, 0,
                        "compiled policy format %u is not supported (this is format %u to %u)",
                        h->format, TV_FORMAT, TV_FORMAT_ATTEST);
    if (h->endian != TV_ENDIAN)
        return BAD("made on a host of other byte order");
    if (h->size != p->image_len)
        return BAD("size %llu in header, %zu bytes read", (unsigned long long) h->size,
                   p->image_len);
    if (image_digest(img, h->size, digest) < 0)
        return -EIO;
    if (memcmp(digest, h->image_sha256, 32) != 0)
        return BAD("image hash mismatch");

    if (h->n_types == 0 || h->n_types > TVDC_MAX_TYPES || h->n_labels == 0 ||
        h->n_labels > TVDC_MAX_LABELS || h->n_conflicts > TVDC_MAX_CONFLICTS ||
        h->n_hosts > TVDC_MAX_HOSTS || h->n_networks > h->n_types ||
        h->n_masks > h->n_types || (h->reserved & ~TVDC_POLICY_ALLOW_UNLABELED))
        return BAD("counts out of range");
    for (int i = 0; i < 4; i++)
        if (h->hash_bits[i] > 31)
            return BAD("name table too large");

    n_sets = h->n_labels + h->n_conflicts + h->n_masks;
    counts[TV_SEC_STRINGS] = h->sec_len[TV_SEC_STRINGS];
    counts[TV_SEC_TYPE_NAME] = counts[TV_SEC_TYPE_MASK] = counts[TV_SEC_TYPE_VLAN] = h->n_types;
    counts[TV_SEC_LABEL_NAME] = counts[TV_SEC_LABEL_FLAGS] = h->n_labels;
    counts[TV_SEC_SET_START] = (uint64_t) n_sets + 1;
    counts[TV_SEC_WORD_IDX] = counts[TV_SEC_WORD_BITS] = h->n_words;
    counts[TV_SEC_CONFLICT_NAME] = h->n_conflicts;
    counts[TV_SEC_HOST_NAME] = counts[TV_SEC_HOST_LABEL] = h->n_hosts;
    counts[TV_SEC_NET_TYPE] = counts[TV_SEC_NET_VLAN] = h->n_networks;
    for (int i = 0; i < 4; i++)
        counts[hash_sec[i]] = UINT64_C(1) << h->hash_bits[i];

    for (int i = 0; i < _TV_SEC_MAX; i++) {
        uint64_t off = h->sec_off[i], len = h->sec_len[i];
        if (off % 8 || off < sizeof(tv_header) || off > h->size || len > h->size - off ||
            len != counts[i] * sec_elem[i])
            return BAD("section %d out of bounds", i);
    }

#define SEC(i) ((const void *) (img + h->sec_off[i]))
    p->h = h;
    p->strings = SEC(TV_SEC_STRINGS);
    p->strings_len = h->sec_len[TV_SEC_STRINGS];
    p->type_name = SEC(TV_SEC_TYPE_NAME);
    p->type_mask = SEC(TV_SEC_TYPE_MASK);
    p->type_vlan = SEC(TV_SEC_TYPE_VLAN);
    p->label_name = SEC(TV_SEC_LABEL_NAME);
    p->label_flags = SEC(TV_SEC_LABEL_FLAGS);
    p->set_start = SEC(TV_SEC_SET_START);
    p->word_idx = SEC(TV_SEC_WORD_IDX);
    p->word_bits = SEC(TV_SEC_WORD_BITS);
    p->conflict_name = SEC(TV_SEC_CONFLICT_NAME);
    p->host_name = SEC(TV_SEC_HOST_NAME);
    p->host_label = SEC(TV_SEC_HOST_LABEL);
    p->net_type = SEC(TV_SEC_NET_TYPE);
    p->net_vlan = SEC(TV_SEC_NET_VLAN);
    for (int i = 0; i < 4; i++)
        p->hash[i] = SEC(hash_sec[i]);
#undef SEC

    if (p->strings_len == 0 || p->strings[p->strings_len - 1] != '\0')
        return BAD("string table not terminated");
    if (check_names(p, &h->name, 1, false, "policy") < 0 ||
        check_names(p, p->type_name, h->n_types, false, "type") < 0 ||
        check_names(p, p->label_name, h->n_labels, false, "label") < 0 ||
        check_names(p, p->conflict_name, h->n_conflicts, false, "conflict") < 0 ||
        check_names(p, p->host_name, h->n_hosts, true, "host") < 0)
        return BAD("bad name");

    if (p->set_start[0] != 0 || p->set_start[n_sets] != h->n_words)
        return BAD("type sets do not cover the words");
    for (uint32_t s = 0; s < n_sets; s++)
        if (p->set_start[s] > p->set_start[s + 1])
            return BAD("type sets out of order");
    for (uint32_t s = 0; s < n_sets; s++) {
        uint32_t min = s >= h->n_labels && s < h->n_labels + h->n_conflicts ? 2 : 1;
        if (check_set(p, s, min) < 0)
            return BAD("bad type set %u", s);
    }
    for (uint32_t t = 0; t < h->n_types; t++)
        if ((p->type_mask[t] != TVDC_NONE && p->type_mask[t] >= h->n_masks) ||
            p->type_vlan[t] > 4094)
            return BAD("bad type %u", t);
    {
        /* the measure flag only in formats 3 and 4, format 3 only with
         * it; attest_fail actions only in format 4, and format 4 only with
         * one */
        uint32_t known = TVDC_LABEL_VTPM_REQUIRED, measured = 0, attest = 0;

        if (h->format >= TV_FORMAT_MEASURE)
            known |= TVDC_LABEL_MEASURE_REQUIRED;
        if (h->format == TV_FORMAT_ATTEST)
            known |= TVDC_LABEL_ATTEST_FAIL_MASK;
        for (uint32_t l = 0; l < h->n_labels; l++) {
            if (p->label_flags[l] & ~known)
                return BAD("bad label flags");
            measured |= p->label_flags[l] & TVDC_LABEL_MEASURE_REQUIRED;
            attest |= p->label_flags[l] & TVDC_LABEL_ATTEST_FAIL_MASK;
        }
        if (h->format == TV_FORMAT_MEASURE && !measured)
            return BAD("format 3 without a label that requires measurement");
        if (h->format == TV_FORMAT_ATTEST && !attest)
            return BAD("format 4 without a label with an attest_fail action");
    }
    for (uint32_t i = 0; i < h->n_hosts; i++)
        if (p->host_label[i] >= h->n_labels)
            return BAD("bad host label");
    for (uint32_t i = 0; i < h->n_networks; i++)
        if (p->net_type[i] >= h->n_types || p->net_vlan[i] < 1 || p->net_vlan[i] > 4094 ||
            p->type_vlan[p->net_type[i]] != p->net_vlan[i])
            return BAD("bad network");
    {
        const uint32_t n_of[4] = { h->n_types, h->n_labels, h->n_conflicts, h->n_hosts };
        for (int i = 0; i < 4; i++)
            for (uint64_t j = 0; j < counts[hash_sec[i]]; j++)
                if (p->hash[i][j] > n_of[i])
                    return BAD("bad name table");
    }
    if (h->format != TV_FORMAT && map_roles(p) < 0)
        return BAD("bad roles");
    return 0;
}
