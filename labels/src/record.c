/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Records of the files a domain owns (its own logs, its NVRAM, its memory
 * images): one root-only JSON file per file, DIR/SHA256(PATH).json.  The
 * format is what the libvirt driver has always written
 * (libvirt-driver/README.md): hosts keep their records across upgrades.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "internal.h"
#include "tvdc/tvdc.h"

#define RECORD_FORMAT 1
#define RECORD_MAX_BYTES (1u << 20)
#define RECORD_SUFFIX ".json"

/* A QEMU save image (qemu_saveimage.h, libvirt 9.0.0): magic, version,
 * data_len (the domain XML and cookie that follow), ... */
#define SAVE_HEADER_LEN (16 + 19 * 4)
#define SAVE_DATA_LEN_OFFSET (16 + 4)
#define HASH_CHUNK (1u << 20)

static inline void json_putp(json_object **o) { json_object_put(*o); }
static inline void tvdc_record_freep(tvdc_record **r) { tvdc_record_free(*r); }
static inline void closedirp(DIR **d) { if (*d) closedir(*d); }


void
tvdc_record_free(tvdc_record *r)
{
    if (!r)
        return;
    free(r->path);
    free(r->vm_uuid);
    free(r->vm_name);
    free(r->label);
    free(r->types);
    free(r->policy);
    free(r->host);
    free(r->saved);
    free(r->sha256);
    free(r);
}

/* strdup(s), with NULL for NULL; false when out of memory. */
static bool
dup_nullable(char **dst, const char *s)
{
    *dst = s ? strdup(s) : NULL;
    return !s || *dst;
}

int
tvdc_record_new(tvdc_record_kind kind, const tvdc_policy *p, const char *path,
                const char *uuid, const char *name, const char *label,
                const char *host, tvdc_record **ret)
{
    _cleanup_(tvdc_record_freep) tvdc_record *r = NULL;
    char now[32];
    struct tm tm;
    time_t t = time(NULL);
    int k;

    if (kind >= _TVDC_RECORD_KIND_MAX || !path || !uuid || !name || !ret)
        return -EINVAL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->kind = kind;
    if (!dup_nullable(&r->path, path) || !dup_nullable(&r->vm_uuid, uuid) ||
        !dup_nullable(&r->vm_name, name))
        return -ENOMEM;
    if (kind == TVDC_RECORD_LOG) {
        *ret = TAKE_PTR(r);
        return 0;
    }
    if (!dup_nullable(&r->label, label) ||
        !dup_nullable(&r->policy, p ? tvdc_policy_name(p) : NULL))
        return -ENOMEM;
    if (label && p && (k = tvdc_label_meaning(p, label, &r->types)) < 0 && k != -ENOENT)
        return k;
    r->policy_version = p ? tvdc_policy_version(p) : 0;
    if (kind == TVDC_RECORD_SAVED_IMAGE) {
        if (!gmtime_r(&t, &tm) || !strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm))
            return -EINVAL;
        if (!dup_nullable(&r->host, host) || !dup_nullable(&r->saved, now))
            return -ENOMEM;
    }
    *ret = TAKE_PTR(r);
    return 0;
}

int
tvdc_record_path(const char *dir, const char *path, char **ret)
{
    uint8_t sum[32];
    char hex[65];
    int r;

    if (!dir || !path || !ret)
        return -EINVAL;
    r = tv_sha256(path, strlen(path), sum);
    if (r < 0)
        return r;
    tv_hex(sum, 32, hex);
    return asprintf(ret, "%s/%s" RECORD_SUFFIX, dir, hex) < 0 ? -ENOMEM : 0;
}

static json_object *
string_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* The record as text, fields in the order the driver always wrote them. */
static json_object *
record_to_json(const tvdc_record *r)
{
    json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    json_object_object_add(o, "format", json_object_new_int(RECORD_FORMAT));
    json_object_object_add(o, "path", json_object_new_string(r->path));
    json_object_object_add(o, "vm_uuid", string_or_null(r->vm_uuid));
    json_object_object_add(o, "vm_name", string_or_null(r->vm_name));
    if (r->kind == TVDC_RECORD_LOG)
        return o;
    if (r->kind == TVDC_RECORD_SAVED_IMAGE) {
        json_object_object_add(o, "device", json_object_new_uint64(r->device));
        json_object_object_add(o, "inode", json_object_new_uint64(r->inode));
    }
    json_object_object_add(o, "label", string_or_null(r->label));
    json_object_object_add(o, "types", string_or_null(r->types));
    json_object_object_add(o, "policy", string_or_null(r->policy));
    if (r->kind == TVDC_RECORD_NVRAM)
        return o;
    json_object_object_add(o, "policy_version", json_object_new_int64(r->policy_version));
    json_object_object_add(o, "host", string_or_null(r->host));
    json_object_object_add(o, "saved", string_or_null(r->saved));
    json_object_object_add(o, "complete", json_object_new_boolean(r->complete));
    if (r->complete && r->sha256) {
        json_object_object_add(o, "sha256", json_object_new_string(r->sha256));
        json_object_object_add(o, "size", json_object_new_uint64(r->size));
    }
    return o;
}

int
tvdc_record_write(const char *dir, const tvdc_record *r)
{
    _cleanup_(json_putp) json_object *o = NULL;
    _cleanup_free_ char *file = NULL;
    const char *text;
    int k;

    if (!dir || !r || !r->path || r->kind >= _TVDC_RECORD_KIND_MAX)
        return -EINVAL;
    k = tvdc_record_path(dir, r->path, &file);
    if (k < 0)
        return k;
    k = tv_mkdir_parents(dir, 0700);
    if (k < 0)
        return k;
    o = record_to_json(r);
    if (!o)
        return -ENOMEM;
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!text)
        return -ENOMEM;
    return tv_write_file_atomic(file, text, strlen(text), 0600);
}

int
tvdc_record_remove(const char *dir, const char *path)
{
    _cleanup_free_ char *file = NULL;
    int k = tvdc_record_path(dir, path, &file);

    if (k < 0)
        return k;
    return unlink(file) < 0 ? -errno : 0;
}

/* A non-negative integer field: 1 present, 0 absent, -EBADMSG. */
static int
get_u64(json_object *o, const char *key, uint64_t *ret)
{
    json_object *v;

    *ret = 0;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -EBADMSG;
    errno = 0;
    *ret = json_object_get_uint64(v);
    if (errno != 0 || json_object_get_int64(v) < 0)
        return -EBADMSG;
    return 1;
}

static int
record_from_json(json_object *o, tvdc_record **ret)
{
    _cleanup_(tvdc_record_freep) tvdc_record *r = calloc(1, sizeof(tvdc_record));
    uint64_t version = 0;
    json_object *v;
    int dev = 0, ino = 0, ver = 0, k = 0;

    if (!r)
        return -ENOMEM;
    if ((k = tv_json_get_string(o, "path", &r->path)) <= 0)
        return k < 0 ? k : -EBADMSG;
    if ((k = tv_json_get_string(o, "vm_uuid", &r->vm_uuid)) < 0 ||
        (k = tv_json_get_string(o, "vm_name", &r->vm_name)) < 0 ||
        (k = tv_json_get_string(o, "label", &r->label)) < 0 ||
        (k = tv_json_get_string(o, "types", &r->types)) < 0 ||
        (k = tv_json_get_string(o, "policy", &r->policy)) < 0 ||
        (k = tv_json_get_string(o, "host", &r->host)) < 0 ||
        (k = tv_json_get_string(o, "saved", &r->saved)) < 0 ||
        (k = tv_json_get_string(o, "sha256", &r->sha256)) < 0 ||
        (dev = get_u64(o, "device", &r->device)) < 0 ||
        (ino = get_u64(o, "inode", &r->inode)) < 0 ||
        (ver = get_u64(o, "policy_version", &version)) < 0 ||
        (k = get_u64(o, "size", &r->size)) < 0)
        return k < 0 ? k : dev < 0 ? dev : ino < 0 ? ino : -EBADMSG;
    if (version > UINT32_MAX)
        return -EBADMSG;
    r->policy_version = (uint32_t) version;
    if (json_object_object_get_ex(o, "complete", &v) && v) {
        if (!json_object_is_type(v, json_type_boolean))
            return -EBADMSG;
        r->complete = json_object_get_boolean(v);
    }
    if (dev && ino)
        r->kind = TVDC_RECORD_SAVED_IMAGE;
    else if (json_object_object_get_ex(o, "label", NULL))
        r->kind = TVDC_RECORD_NVRAM;
    else
        r->kind = TVDC_RECORD_LOG;
    *ret = TAKE_PTR(r);
    return 0;
}

/* Read one record file (its directory checked by the caller, root's and
 * writable by no one else, so the file cannot change under the check). */
static int
record_read_file(const char *file, tvdc_record **ret)
{
    _cleanup_(json_putp) json_object *o = NULL;
    int k = tv_read_trusted_json(file, RECORD_MAX_BYTES, &o);

    return k < 0 ? k : record_from_json(o, ret);
}

int
tvdc_record_read(const char *dir, const char *path, tvdc_record **ret)
{
    _cleanup_free_ char *file = NULL;
    int k;

    if (!ret)
        return -EINVAL;
    k = tvdc_record_path(dir, path, &file);
    if (k < 0)
        return k;
    k = tv_dir_trusted(dir);
    if (k < 0)
        return k;
    return record_read_file(file, ret);
}

int
tvdc_record_is_file(const tvdc_record *r, const char *path, uint64_t device, uint64_t inode)
{
    return r && path && r->kind == TVDC_RECORD_SAVED_IMAGE && r->path &&
           strcmp(r->path, path) == 0 && r->device == device && r->inode == inode;
}

/* Call f on every record in dir (unreadable ones are skipped); a negative
 * return of f stops the walk after the first one is kept. */
typedef int (*record_fn)(const char *file, tvdc_record *r, void *userdata);

static int
record_foreach(const char *dir, record_fn f, void *userdata)
{
    _cleanup_(closedirp) DIR *d = NULL;
    struct dirent *de;
    int k, first = 0, n = 0;

    if (!dir)
        return -EINVAL;
    k = tv_dir_trusted(dir);
    if (k == -ENOENT)
        return 0;
    if (k < 0)
        return k;
    d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while ((de = readdir(d))) {
        _cleanup_(tvdc_record_freep) tvdc_record *r = NULL;
        _cleanup_free_ char *file = NULL;
        size_t len = strlen(de->d_name);

        if (len <= strlen(RECORD_SUFFIX) ||
            strcmp(de->d_name + len - strlen(RECORD_SUFFIX), RECORD_SUFFIX) != 0)
            continue;
        if (asprintf(&file, "%s/%s", dir, de->d_name) < 0)
            return -ENOMEM;
        if (record_read_file(file, &r) < 0)
            continue;
        k = f(file, r, userdata);
        if (k < 0 && first == 0)
            first = k;
        else if (k > 0)
            n++;
    }
    return first < 0 ? first : n;
}

static int
prune_one(const char *file, tvdc_record *r, void *userdata)
{
    struct stat st;

    (void) userdata;
    if (stat(r->path, &st) < 0 ? errno != ENOENT
                               : tvdc_record_is_file(r, r->path, st.st_dev, st.st_ino))
        return 0;
    return unlink(file) < 0 ? 0 : 1;
}

int
tvdc_record_prune(const char *dir)
{
    return record_foreach(dir, prune_one, NULL);
}

int
tvdc_saved_image_sha256(const char *path, char hex[65], uint64_t *size)
{
    _cleanup_free_ uint8_t *buf = malloc(HASH_CHUNK);
    _cleanup_close_ int fd = -1;
    EVP_MD_CTX *ctx = NULL;
    uint8_t sum[32];
    uint64_t total = 0;
    uint32_t data_len;
    struct stat st;
    off_t skip = 0;
    ssize_t n;
    int r = 0;

    if (!path || !hex || !size)
        return -EINVAL;
    if (!buf)
        return -ENOMEM;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
        return -errno;
    if (pread(fd, buf, SAVE_HEADER_LEN, 0) == SAVE_HEADER_LEN &&
        (memcmp(buf, "LibvirtQemudSave", 16) == 0 || memcmp(buf, "LibvirtQemudPart", 16) == 0)) {
        memcpy(&data_len, buf + SAVE_DATA_LEN_OFFSET, sizeof(data_len));
        if ((off_t) SAVE_HEADER_LEN + data_len <= st.st_size)
            skip = SAVE_HEADER_LEN + (off_t) data_len;
    }
    if (lseek(fd, skip, SEEK_SET) < 0)
        return -errno;
    if (!(ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -ENOMEM;
    }
    while ((n = read(fd, buf, HASH_CHUNK)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (EVP_DigestUpdate(ctx, buf, (size_t) n) != 1) {
            r = -EIO;
            break;
        }
        total += (uint64_t) n;
    }
    if (r == 0 && EVP_DigestFinal_ex(ctx, sum, NULL) != 1)
        r = -EIO;
    EVP_MD_CTX_free(ctx);
    if (r < 0)
        return r;
    tv_hex(sum, 32, hex);
    *size = total;
    return 0;
}

typedef struct complete_ctx {
    const char *dir, *uuid;
    char **failed;
} complete_ctx;

static int
complete_one(const char *file, tvdc_record *r, void *userdata)
{
    complete_ctx *c = userdata;
    char hex[65];
    struct stat st;
    int k;

    (void) file;
    if (!r->vm_uuid || strcmp(r->vm_uuid, c->uuid) != 0 || r->complete ||
        stat(r->path, &st) < 0 || !tvdc_record_is_file(r, r->path, st.st_dev, st.st_ino))
        return 0;
    k = tvdc_saved_image_sha256(r->path, hex, &r->size);
    if (k == 0) {
        free(r->sha256);
        r->sha256 = strdup(hex);
        r->complete = 1;
        k = r->sha256 ? tvdc_record_write(c->dir, r) : -ENOMEM;
    }
    if (k < 0 && c->failed && !*c->failed)
        *c->failed = strdup(r->path);
    return k < 0 ? k : 1;
}

int
tvdc_saved_images_complete(const char *dir, const char *uuid, char **failed)
{
    complete_ctx c = { .dir = dir, .uuid = uuid, .failed = failed };

    if (!dir || !uuid)
        return -EINVAL;
    if (failed)
        *failed = NULL;
    return record_foreach(dir, complete_one, &c);
}
