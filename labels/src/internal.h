/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtvdc internals.  Never installed.  Internal symbols use the tv_ prefix
 * (the version script exports tvdc_* only); the helpers every part of tvdc
 * shares are in tvdc-basic.h.
 */
#pragma once

#include "tvdc-basic.h"

/* The image hash covers the header and body; exposed for tests that forge
 * structurally bad images with a valid hash. */
int tv_image_rehash(uint8_t *img, size_t len);

/* SHA-256 (OpenSSL EVP). */
int tv_sha256(const void *buf, size_t len, uint8_t out[32]);

/* ------------------------------------------------------------------------ */
/* JSON positions (json-locate.c).  json-c keeps no positions, so on the
 * error path the source is scanned again to find the element a message
 * names.  Both functions expect text json-c already accepted.            */

typedef struct tv_json_step {
    const char *key;   /* object member, or NULL for an array index */
    size_t index;
} tv_json_step;

/* Byte offset of the value at path (n steps from the root value); when a
 * step does not exist, the offset of the deepest container reached.
 * Returns 0 or -EINVAL (not JSON). */
int tv_json_locate(const char *buf, size_t len, const tv_json_step *path,
                   size_t n, size_t *offset);

/* First object member whose key repeats an earlier key of the same object:
 * 1 and its offset, key (malloc'ed) and the path of the object that holds it
 * as text like "labels[3]" (malloc'ed, "" for the root); 0 if none;
 * -EINVAL if not JSON; -ENOMEM. */
int tv_json_find_duplicate_key(const char *buf, size_t len, size_t *offset,
                               char **key, char **where);

/* ------------------------------------------------------------------------ */
/* The compiled policy image.  Loaded policies point straight into it: the
 * same representation whether the policy came from JSON or from a binary.
 *
 * Type sets (labels, conflict sets, per-type conflict masks) are sparse
 * bitsets: runs of (word index, 64-bit word) pairs, word indexes strictly
 * ascending, words non-zero.  Set k is [set_start[k], set_start[k+1]) of
 * word_idx/word_bits; sets are numbered labels, then conflict sets, then
 * conflict masks.  A type's conflict mask is the union of the conflict sets
 * that contain it (including itself); types with the same conflict sets
 * share one mask; TVDC_NONE when the type is in none. */

#define TV_MAGIC "TVDCPOL\0"
#define TV_FORMAT 1
/* Format 2 is format 1 with administrator roles: a tv_roles_ext right after
 * the header (at ALIGN8(sizeof(tv_header))), the format 1 sections after
 * it.  A policy without roles is still written as format 1, byte for byte
 * what it was, so its hash and signature do not change and older libtvdc
 * loads it; format 1 images load as "no roles". */
#define TV_FORMAT_ROLES 2
/* Format 3 is format 2 that may have labels requiring a measured identity
 * (TVDC_LABEL_MEASURE_REQUIRED in their flags): the roles extension is
 * always there (n_roles 0: no roles).  A requirement a reader does not know
 * must not be dropped silently, so only such policies are written as
 * format 3, and a libtvdc that knows formats 1 and 2 refuses them by their
 * format; every other policy keeps format 1 or 2, byte for byte. */
#define TV_FORMAT_MEASURE 3
/* Format 4 is format 3 that may have labels with an "attest_fail" action
 * other than "report" (TVDC_LABEL_ATTEST_FAIL_MASK in their flags), for
 * the same reason: an older reader refuses it rather than dropping the
 * action. */
#define TV_FORMAT_ATTEST 4
#define TV_ENDIAN 0x01020304u

enum {
    TV_SEC_STRINGS,        /* char[]: NUL-terminated names */
    TV_SEC_TYPE_NAME,      /* u32[n_types]: string offsets */
    TV_SEC_TYPE_MASK,      /* u32[n_types]: mask index or TVDC_NONE */
    TV_SEC_TYPE_VLAN,      /* u32[n_types]: 0 or VLAN id */
    TV_SEC_LABEL_NAME,     /* u32[n_labels] */
    TV_SEC_LABEL_FLAGS,    /* u32[n_labels] */
    TV_SEC_SET_START,      /* u32[n_labels + n_conflicts + n_masks + 1] */
    TV_SEC_WORD_IDX,       /* u32[n_words] */
    TV_SEC_WORD_BITS,      /* u64[n_words] */
    TV_SEC_CONFLICT_NAME,  /* u32[n_conflicts] */
    TV_SEC_HOST_NAME,      /* u32[n_hosts] */
    TV_SEC_HOST_LABEL,     /* u32[n_hosts] */
    TV_SEC_NET_TYPE,       /* u32[n_networks] */
    TV_SEC_NET_VLAN,       /* u32[n_networks] */
    TV_SEC_TYPE_HASH,      /* u32[1 << type_hash_bits]: index + 1, 0 = empty */
    TV_SEC_LABEL_HASH,
    TV_SEC_CONFLICT_HASH,
    TV_SEC_HOST_HASH,
    _TV_SEC_MAX,
};

typedef struct tv_header {
    char magic[8];
    uint32_t format;
    uint32_t endian;
    uint64_t size;                 /* whole image */
    uint8_t source_sha256[32];     /* the JSON it was compiled from */
    uint8_t image_sha256[32];      /* the whole image, this field as zeros */
    uint32_t version;
    uint32_t name;                 /* string offset */
    uint32_t n_types, n_labels, n_conflicts, n_hosts, n_networks, n_masks;
    uint32_t n_words;
    uint32_t hash_bits[4];         /* type, label, conflict, host */
    uint32_t reserved;
    uint64_t sec_off[_TV_SEC_MAX];
    uint64_t sec_len[_TV_SEC_MAX]; /* bytes */
} tv_header;

/* Roles (formats 2 and 3).  role_at[r] is the index in role_data of role r's
 * record: name (string offset), n_users, n_groups, n_labels, then the
 * users and groups (string offsets) and the labels (label indexes). */
typedef struct tv_roles_ext {
    uint32_t n_roles;
    uint32_t n_data;               /* u32 words of role_data */
    uint64_t at_off, data_off;     /* from the start of the image */
} tv_roles_ext;

struct tvdc_policy {
    uint8_t *image;                /* owned, 8-byte aligned */
    size_t image_len;
    const tv_header *h;
    const char *strings;
    size_t strings_len;
    const uint32_t *type_name, *type_mask, *type_vlan;
    const uint32_t *label_name, *label_flags;
    const uint32_t *set_start, *word_idx;
    const uint64_t *word_bits;
    const uint32_t *conflict_name, *host_name, *host_label;
    const uint32_t *net_type, *net_vlan;
    const uint32_t *hash[4];
    uint32_t n_roles;              /* 0: no roles (format 1) */
    const uint32_t *role_at, *role_data;
};

/* Set numbers. */
static inline uint32_t tv_set_label(const tvdc_policy *p, uint32_t l) { (void) p; return l; }
static inline uint32_t tv_set_conflict(const tvdc_policy *p, uint32_t c) { return p->h->n_labels + c; }
static inline uint32_t tv_set_mask(const tvdc_policy *p, uint32_t m) { return p->h->n_labels + p->h->n_conflicts + m; }

/* Hash used by the name tables (FNV-1a, 64 bit). */
uint64_t tv_hash(const char *s);

/* Point p's fields into p->image after checking every section (image.c).
 * The caller has set p->image and p->image_len. */
int tv_image_map(tvdc_policy *p, tvdc_error *err);

/* Build an image (image.c). */
typedef struct tv_builder tv_builder;

/* Growable arrays for the builder. */
typedef struct tv_vec {
    void *data;
    size_t n, cap, elem;
} tv_vec;
int tv_vec_reserve(tv_vec *v, size_t n);
int tv_vec_push(tv_vec *v, const void *elem);
static inline int tv_vec_push_u32(tv_vec *v, uint32_t x) { return tv_vec_push(v, &x); }
static inline uint32_t *tv_vec_u32(const tv_vec *v) { return v->data; }

struct tv_builder {
    tv_vec sec[_TV_SEC_MAX];                   /* per section, see above */
    uint32_t version, name, flags;
    uint32_t n_masks;
    uint8_t source_sha256[32];
    uint32_t hash_bits[4];
    tv_vec role_at, role_data;                 /* see tv_roles_ext */
};

int tv_builder_new(tv_builder **ret);
static inline const char *tv_builder_strings(const tv_builder *b) { return b->sec[TV_SEC_STRINGS].data; }
void tv_builder_free(tv_builder *b);
static inline void tv_builder_freep(tv_builder **b) { tv_builder_free(*b); }
/* Append a NUL-terminated copy; the offset in *off. */
int tv_builder_string(tv_builder *b, const char *s, size_t len, uint32_t *off);
/* Append a type set from ascending, distinct type indexes (set_start grows
 * by one). */
int tv_builder_set(tv_builder *b, const uint32_t *types, size_t n);
/* Size the name table `which` (0 type, 1 label, 2 conflict, 3 host) for n
 * names; then tv_builder_hash_insert each index in order.  Returns 1 if
 * the name was new, 0 if it was already there (*dup = the earlier index). */
enum { TV_HASH_TYPE, TV_HASH_LABEL, TV_HASH_CONFLICT, TV_HASH_HOST };
int tv_builder_hash_init(tv_builder *b, int which, size_t n);
int tv_builder_hash_insert(tv_builder *b, int which, const tv_vec *names,
                           uint32_t index, uint32_t *dup);
int64_t tv_builder_hash_find(const tv_builder *b, int which, const tv_vec *names,
                             const char *name);
/* Lay out the image, hash it and map it into a policy. */
int tv_builder_finish(tv_builder *b, tvdc_policy **ret, tvdc_error *err);

/* Name-table lookup shared by the builder and loaded policies. */
int64_t tv_hash_lookup(const uint32_t *table, uint32_t bits, const char *strings,
                       const uint32_t *names, uint32_t n, const char *name);

/* The policy header flag bits live in tv_header.reserved. */
#define tv_policy_flags_of(p) ((p)->h->reserved)

static inline uint32_t tv_type_words(uint32_t n_types) { return (n_types + 63) / 64; }

/* config.c: tvdc_config_load on a buffer (tests). */
int tv_config_parse(const char *buf, size_t len, tvdc_config **ret, tvdc_error *err);

/* bitset.c: sparse sets of the policy (by set number) and dense bitsets of
 * types (tv_type_words(n_types) words, bit t % 64 of word t / 64). */
bool tv_set_has(const tvdc_policy *p, uint32_t set, uint32_t type);
/* First type other than `except` (TVDC_NONE: no exception) in both sets,
 * or TVDC_NONE. */
uint32_t tv_sets_intersect_except(const tvdc_policy *p, uint32_t a, uint32_t b,
                                  uint32_t except);
/* First type of set a that is not in set b, or TVDC_NONE (a within b). */
uint32_t tv_sets_missing(const tvdc_policy *p, uint32_t a, uint32_t b);
/* First type other than `except` in set and in the dense bitset bits, or
 * TVDC_NONE. */
uint32_t tv_set_intersect_bits_except(const tvdc_policy *p, uint32_t set,
                                      const uint64_t *bits, uint32_t except);
/* A conflict set holding both types, or TVDC_NONE. */
uint32_t tv_conflict_holding(const tvdc_policy *p, uint32_t t, uint32_t u);

/* The types of a sparse set in ascending order:
 *     for (tv_set_iter it = tv_set_iter_init(p, set); tv_set_iter_next(&it, &t);) */
typedef struct tv_set_iter {
    const tvdc_policy *p;
    uint32_t i, end;     /* the word pair at hand, and the set's end */
    uint64_t rest;       /* bits of word i not yet returned */
} tv_set_iter;

static inline tv_set_iter
tv_set_iter_init(const tvdc_policy *p, uint32_t set)
{
    uint32_t i = p->set_start[set], end = p->set_start[set + 1];
    return (tv_set_iter) { p, i, end, i < end ? p->word_bits[i] : 0 };
}

static inline bool
tv_set_iter_next(tv_set_iter *it, uint32_t *type)
{
    while (it->rest == 0) {
        if (++it->i >= it->end)
            return false;
        it->rest = it->p->word_bits[it->i];
    }
    *type = it->p->word_idx[it->i] * 64 + __builtin_ctzll(it->rest);
    it->rest &= it->rest - 1;
    return true;
}

static inline void tv_bits_set(uint64_t *bits, uint32_t t) { bits[t / 64] |= UINT64_C(1) << (t % 64); }
static inline void tv_bits_clear(uint64_t *bits, uint32_t t) { bits[t / 64] &= ~(UINT64_C(1) << (t % 64)); }

/* decide.c */
void tv_verdict_init(tvdc_verdict *v, tvdc_check check, uint32_t vm_label);

/* host.c */
const tvdc_policy *tv_host_policy(const tvdc_host *h);
