/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The internal basics every C part of tvdc shares (libtvdc, libtvdc-net,
 * libtvdc-vtpm, the tvdc command, tvdc-vtpm-certtool, the tests): cleanup
 * helpers, messages with a position, whole-file reads and atomic writes,
 * JSON to a line of text, and the default paths (tvdc-paths.h, generated
 * by meson).  Never installed; reached through the tvdc_basic_dep
 * dependency of labels/meson.build.  Internal symbols use the tv_ prefix
 * (libtvdc's version script exports tvdc_* only).
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tvdc/tvdc.h"
#include "tvdc-paths.h"

/* ------------------------------------------------------------------------ */
/* Cleanup (systemd's macro.h)                                              */

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Hand a pointer over to the caller and make the cleanup a no-op. */
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })

/* static void namep(type **p) calling func(*p); func accepts NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                   \
    static inline void func##p(type **p) { func(*p); }

static inline void freep(void *p) { free(*(void **) p); }
#define _cleanup_free_ _cleanup_(freep)
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_close_ _cleanup_(closep)

/* Big-endian integers: the TPM's wire order. */
static inline void tv_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t) (v >> 8); p[1] = (uint8_t) v; }
static inline void tv_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}
static inline uint16_t tv_get_be16(const uint8_t *p) { return (uint16_t) (p[0] << 8 | p[1]); }
static inline uint32_t tv_get_be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

DEFINE_TRIVIAL_CLEANUP_FUNC(tvdc_policy, tvdc_policy_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(tvdc_host, tvdc_host_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(tvdc_store, tvdc_store_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(tvdc_config, tvdc_config_free)

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

/* Fill *err (when non-NULL) and return r.  Always returns r (negative). */
int tv_error(tvdc_error *err, int r, unsigned line, unsigned col,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Line and column (1-based) of byte offset off in buf. */
void tv_offset_to_position(const char *buf, size_t len, size_t off,
                           unsigned *line, unsigned *col);

/* A printable, bounded copy of untrusted text for messages (out, which
 * must hold at least 8 bytes). */
const char *tv_escape(const char *s, size_t len, char *out, size_t outlen);
#define TV_ESC_MAX 96

/* Value of a hex digit, or -1. */
int tv_unhexchar(char c);

/* n bytes as 2n lower-case hex digits and a NUL (out: 2n + 1 bytes);
 * returns out. */
char *tv_hex(const uint8_t *b, size_t n, char *out);

/* Names. */
bool tv_name_valid(const char *s, size_t len);      /* type/label/policy */
bool tv_hostname_valid(const char *s, size_t len);  /* RFC 1123 */
bool tv_account_valid(const char *s, size_t len);   /* user or group of a role */

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

/* Read a whole regular file, at most max bytes (-EFBIG beyond, -EISDIR for
 * a directory).  The buffer gets a terminating NUL that *len does not
 * count. */
int tv_read_file(const char *path, size_t max, char **ret, size_t *len);

/* Replace path atomically: temporary file in the same directory, fsync,
 * rename, fsync of the directory; a reader sees the old content or the
 * new, never part of it.  mode is the new file's mode. */
int tv_write_file_atomic(const char *path, const void *buf, size_t len,
                         unsigned mode);

/* mkdir -p: dir and the directories above it, those it makes with mode; 0
 * or -errno. */
int tv_mkdir_parents(const char *dir, unsigned mode);

/* May a file or directory with this stat hold what root trusts (records,
 * state)?  Owned by root or by us, writable by nobody else. */
struct stat;
bool tv_owner_trusted(const struct stat *st);

/* Is dir a directory that tv_owner_trusted accepts?  0, -ENOTDIR, -EPERM,
 * -errno (-ENOENT: none). */
int tv_dir_trusted(const char *dir);

/* ------------------------------------------------------------------------ */
/* JSON (basic-json.c: link json-c)                                         */

struct json_object;

/* The text of o (json_object_to_json_string_ext flags) followed by a
 * newline, malloc'ed and NUL-terminated; *ret_len (may be NULL) without the
 * NUL.  JSON_C_TO_STRING_PLAIN gives exactly one line. */
int tv_json_to_line(struct json_object *o, int flags, char **ret, size_t *ret_len);

/* A string member of o: absent or null gives 0 and *ret NULL, a string 1
 * and *ret its copy; another type is -EBADMSG. */
int tv_json_get_string(struct json_object *o, const char *key, char **ret);

/* A JSON object from a file root may trust (tv_owner_trusted; not a
 * symbolic link, a regular file of at most max bytes): -EPERM untrusted,
 * -EBADMSG not a regular file, too big or not one JSON object, -errno. */
int tv_read_trusted_json(const char *file, size_t max, struct json_object **ret);
