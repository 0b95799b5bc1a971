/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtvdc internals.  Never installed.  Internal symbols use the tv_ prefix
 * (the version script exports tvdc_* only).
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tvdc/tvdc.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p) { free(*(void **) p); }
#define _cleanup_free_ _cleanup_(freep)
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_close_ _cleanup_(closep)
static inline void tvdc_policy_freep(tvdc_policy **p) { tvdc_policy_free(*p); }
static inline void tvdc_host_freep(tvdc_host **h) { tvdc_host_free(*h); }
static inline void tvdc_store_freep(tvdc_store **s) { tvdc_store_free(*s); }

/* Hand a pointer over to the caller and make the cleanup a no-op. */
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })

/* Fill *err (when non-NULL) and return r.  Always returns r (negative). */
int tv_error(tvdc_error *err, int r, unsigned line, unsigned col,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Line and column (1-based) of byte offset off in buf. */
void tv_offset_to_position(const char *buf, size_t len, size_t off,
                           unsigned *line, unsigned *col);

/* Names. */
bool tv_name_valid(const char *s, size_t len);      /* type/label/policy */
bool tv_hostname_valid(const char *s, size_t len);  /* RFC 1123 */

/* SHA-256 (OpenSSL EVP). */
int tv_sha256(const void *buf, size_t len, uint8_t out[32]);

/* Read a whole regular file, at most max bytes (-EFBIG beyond).  The buffer
 * gets a terminating NUL that *len does not count. */
int tv_read_file(const char *path, size_t max, char **ret, size_t *len);

/* Write a file atomically: temp file in the same directory, fsync, rename,
 * fsync of the directory.  mode is the new file's mode. */
int tv_write_file_atomic(const char *path, const void *buf, size_t len,
                         unsigned mode);

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
    uint8_t body_sha256[32];       /* bytes [sizeof(tv_header), size) */
    uint32_t version;
    uint32_t name;                 /* string offset */
    uint32_t n_types, n_labels, n_conflicts, n_hosts, n_networks, n_masks;
    uint32_t n_words;
    uint32_t hash_bits[4];         /* type, label, conflict, host */
    uint32_t reserved;
    uint64_t sec_off[_TV_SEC_MAX];
    uint64_t sec_len[_TV_SEC_MAX]; /* bytes */
} tv_header;

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
