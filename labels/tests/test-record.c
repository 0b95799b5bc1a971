/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Records of files: the on-disk format the driver has always written
 * (read back from literal files), atomic write, corrupted records
 * refused, pruning, and completing a memory image with its content. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "internal.h"

#define UUID_A "4a1b7c3e-0000-4000-8000-00000000000a"
#define UUID_B "4a1b7c3e-0000-4000-8000-00000000000b"
/* sha256("hello") */
#define HELLO_SHA "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static char tmpdir[64];

static int
setup(void **state)
{
    (void) state;
    strcpy(tmpdir, "/tmp/test-record-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *
at(const char *name)
{
    char *s;

    assert_true(asprintf(&s, "%s/%s", tmpdir, name) > 0);
    return s;
}

static void
put(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t) len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void
test_path(void **state)
{
    char *p = NULL;
    (void) state;

    /* sha256("/var/log/libvirt/qemu/ma-1-console.log"), as the driver named it */
    assert_int_equal(tvdc_record_path("/d", "/var/log/libvirt/qemu/ma-1-console.log", &p), 0);
    assert_string_equal(p, "/d/258500b20df195782fc0df791392a68af84b2d43a72789b5ee16cab2b56de6c3.json");
    free(p);
}

/* A record in the driver's format (virJSON, pretty), read back. */
static void
test_read_driver_format(void **state)
{
    static const char saved[] =
        "{\n  \"format\": 1,\n  \"path\": \"/srv/ma.save\",\n  \"vm_uuid\": \"" UUID_A "\",\n"
        "  \"vm_name\": \"ma-1\",\n  \"device\": 2049,\n  \"inode\": 18446744073709551000,\n"
        "  \"label\": \"market-analysis\",\n  \"types\": \"MA\",\n  \"policy\": \"bank-dc\",\n"
        "  \"policy_version\": 3,\n  \"host\": \"host-a\",\n"
        "  \"saved\": \"2026-12-04T14:56:47Z\",\n  \"complete\": true,\n"
        "  \"sha256\": \"" HELLO_SHA "\",\n  \"size\": 5\n}\n";
    static const char nvram[] =
        "{\"format\":1,\"path\":\"/nv/a.fd\",\"vm_uuid\":\"" UUID_A "\",\"vm_name\":\"ma-1\","
        "\"label\":null,\"types\":null,\"policy\":\"bank-dc\"}";
    _cleanup_free_ char *dir = at("driver"), *file = NULL;
    tvdc_record *r = NULL;
    (void) state;

    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(tvdc_record_path(dir, "/srv/ma.save", &file), 0);
    put(file, saved, strlen(saved), 0600);
    assert_int_equal(tvdc_record_read(dir, "/srv/ma.save", &r), 0);
    assert_int_equal(r->kind, TVDC_RECORD_SAVED_IMAGE);
    assert_string_equal(r->vm_uuid, UUID_A);
    assert_string_equal(r->label, "market-analysis");
    assert_string_equal(r->policy, "bank-dc");
    assert_int_equal(r->policy_version, 3);
    assert_true(r->device == 2049 && r->inode == 18446744073709551000u);
    assert_true(r->complete);
    assert_string_equal(r->sha256, HELLO_SHA);
    assert_int_equal(r->size, 5);
    assert_true(tvdc_record_is_file(r, "/srv/ma.save", 2049, 18446744073709551000u));
    assert_false(tvdc_record_is_file(r, "/srv/ma.save", 2049, 1));
    assert_false(tvdc_record_is_file(r, "/srv/other.save", 2049, 18446744073709551000u));
    tvdc_record_free(r);

    free(file);
    assert_int_equal(tvdc_record_path(dir, "/nv/a.fd", &file), 0);
    put(file, nvram, strlen(nvram), 0600);
    assert_int_equal(tvdc_record_read(dir, "/nv/a.fd", &r), 0);
    assert_int_equal(r->kind, TVDC_RECORD_NVRAM);
    assert_null(r->label);
    assert_null(r->types);
    assert_false(tvdc_record_is_file(r, "/nv/a.fd", 0, 0));
    tvdc_record_free(r);
}

/* Written, the file has exactly the driver's fields for its kind. */
static void
test_write_fields(void **state)
{
    static const struct {
        tvdc_record_kind kind;
        const char *label;
        const char *fields;
    } rows[] = {
        { TVDC_RECORD_LOG, NULL, "format path vm_uuid vm_name" },
        { TVDC_RECORD_NVRAM, "ma", "format path vm_uuid vm_name label types policy" },
        { TVDC_RECORD_SAVED_IMAGE, NULL, "format path vm_uuid vm_name device inode label types "
          "policy policy_version host saved complete" },
    };
    _cleanup_free_ char *dir = at("written/sub");
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        _cleanup_free_ char *file = NULL, *text = NULL;
        char keys[256] = "";
        tvdc_record *r = NULL, *back = NULL;
        json_object *o;
        size_t len;
        struct stat st;

        assert_int_equal(tvdc_record_new(rows[i].kind, NULL, "/f/x", UUID_A, "ma-1",
                                         rows[i].label, "host-a", &r), 0);
        assert_int_equal(tvdc_record_write(dir, r), 0);
        assert_int_equal(tvdc_record_path(dir, "/f/x", &file), 0);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        assert_int_equal(tv_read_file(file, 1 << 20, &text, &len), 0);
        o = json_tokener_parse(text);
        json_object_object_foreach(o, key, val) {
            (void) val;
            if (keys[0])
                strcat(keys, " ");
            strcat(keys, key);
        }
        json_object_put(o);
        assert_string_equal(keys, rows[i].fields);
        assert_int_equal(tvdc_record_read(dir, "/f/x", &back), 0);
        assert_int_equal(back->kind, rows[i].kind);
        tvdc_record_free(back);
        tvdc_record_free(r);
    }
    assert_int_equal(tvdc_record_remove(dir, "/f/x"), 0);
    assert_int_equal(tvdc_record_remove(dir, "/f/x"), -ENOENT);
}

/* Corrupted or foreign records are refused: the callers fail closed. */
static void
test_read_refused(void **state)
{
    static const struct {
        const char *text;
        mode_t mode;
        int want;
    } rows[] = {
        { "{\"format\":1,\"path\":\"/f/y\",\"vm_uuid\":\"" UUID_A "\"}", 0600, 0 },
        { "{\"format\":1,\"path\":\"/f/y\"", 0600, -EBADMSG },           /* truncated */
        { "[\"/f/y\"]", 0600, -EBADMSG },                                /* not an object */
        { "{\"format\":1,\"vm_uuid\":\"" UUID_A "\"}", 0600, -EBADMSG },   /* no path */
        { "{\"path\":\"/f/y\",\"label\":7}", 0600, -EBADMSG },
        { "{\"path\":\"/f/y\",\"device\":\"2049\",\"inode\":1}", 0600, -EBADMSG },
        { "{\"path\":\"/f/y\",\"device\":-1,\"inode\":1}", 0600, -EBADMSG },
        { "{\"path\":\"/f/y\",\"complete\":\"yes\"}", 0600, -EBADMSG },
        { "", 0600, -EBADMSG },
        /* anyone may write it */
        { "{\"format\":1,\"path\":\"/f/y\"}", 0666, -EPERM },
        { "{\"format\":1,\"path\":\"/f/y\"}", 0620, -EPERM },
    };
    _cleanup_free_ char *dir = at("refused"), *file = NULL;
    (void) state;

    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(tvdc_record_path(dir, "/f/y", &file), 0);
    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        tvdc_record *r = NULL;
        int k;

        put(file, rows[i].text, strlen(rows[i].text), rows[i].mode);
        k = tvdc_record_read(dir, "/f/y", &r);
        if (k != rows[i].want)
            fail_msg("row %zu: %d, want %d", i, k, rows[i].want);
        assert_true(rows[i].want < 0 ? r == NULL : r != NULL);
        tvdc_record_free(r);
    }
    assert_int_equal(unlink(file), 0);
    assert_int_equal(tvdc_record_read(dir, "/f/y", &(tvdc_record *) { NULL }), -ENOENT);
    assert_int_equal(chmod(dir, 0770), 0);
    put(file, "{\"path\":\"/f/y\"}", 15, 0600);
    assert_int_equal(tvdc_record_read(dir, "/f/y", &(tvdc_record *) { NULL }), -EPERM);
}

/* A file whose record says its device and inode. */
static void
record_file(const char *dir, const char *path, const char *uuid, const char *label)
{
    tvdc_record *r = NULL;
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(tvdc_record_new(TVDC_RECORD_SAVED_IMAGE, NULL, path, uuid, "vm", label,
                                     "host-a", &r), 0);
    r->device = st.st_dev;
    r->inode = st.st_ino;
    assert_int_equal(tvdc_record_write(dir, r), 0);
    tvdc_record_free(r);
}

static bool
has_record(const char *dir, const char *path)
{
    tvdc_record *r = NULL;
    int k = tvdc_record_read(dir, path, &r);

    tvdc_record_free(r);
    assert_true(k == 0 || k == -ENOENT);
    return k == 0;
}

static void
test_prune(void **state)
{
    _cleanup_free_ char *dir = at("prune"), *kept = at("kept.save"), *gone = at("gone.save"),
                       *replaced = at("replaced.save"), *tmp = at("replaced.tmp");
    (void) state;

    assert_int_equal(tvdc_record_prune(dir), 0);          /* no directory yet */
    put(kept, "k", 1, 0600);
    put(gone, "g", 1, 0600);
    put(replaced, "r", 1, 0600);
    record_file(dir, kept, UUID_A, "ma");
    record_file(dir, gone, UUID_A, "ma");
    record_file(dir, replaced, UUID_A, "ma");
    assert_int_equal(unlink(gone), 0);
    put(tmp, "other", 5, 0600);
    assert_int_equal(rename(tmp, replaced), 0);            /* another inode */

    assert_int_equal(tvdc_record_prune(dir), 2);
    assert_true(has_record(dir, kept));
    assert_false(has_record(dir, gone));
    assert_false(has_record(dir, replaced));
    assert_int_equal(tvdc_record_prune(dir), 0);
}

/* A save image: header, domain XML (rewritten in place by
 * save-image-define), then the memory. */
static void
put_save_image(const char *path, const char *magic, const char *xml, const char *memory)
{
    uint8_t buf[256] = { 0 };
    uint32_t len = (uint32_t) strlen(xml);
    size_t n = 16 + 19 * 4;

    memcpy(buf, magic, 16);
    memcpy(buf + 20, &len, sizeof(len));
    memcpy(buf + n, xml, len);
    memcpy(buf + n + len, memory, strlen(memory));
    put(path, (const char *) buf, n + len + strlen(memory), 0600);
}

static void
test_image_sha256(void **state)
{
    static const struct {
        const char *magic, *xml, *memory;
        const char *sha;
        uint64_t size;
    } rows[] = {
        { "LibvirtQemudSave", "<domain/>", "hello", HELLO_SHA, 5 },
        { "LibvirtQemudSave", "<domain><name>x</name></domain>", "hello", HELLO_SHA, 5 },
        { "LibvirtQemudPart", "<domain/>", "hello", HELLO_SHA, 5 },
        /* no libvirt header: the whole file */
        { "NotLibvirtHeader", "<domain/>", "hello", NULL, 16 + 19 * 4 + 9 + 5 },
    };
    _cleanup_free_ char *img = at("image.save");
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
        char hex[65];
        uint64_t size = 0;

        put_save_image(img, rows[i].magic, rows[i].xml, rows[i].memory);
        assert_int_equal(tvdc_saved_image_sha256(img, hex, &size), 0);
        if (rows[i].sha)
            assert_string_equal(hex, rows[i].sha);
        else
            assert_string_not_equal(hex, HELLO_SHA);
        assert_int_equal(size, rows[i].size);
    }
    put(img, "hello", 5, 0600);
    {
        char hex[65];
        uint64_t size;

        assert_int_equal(tvdc_saved_image_sha256(img, hex, &size), 0);
        assert_string_equal(hex, HELLO_SHA);
    }
    assert_int_equal(tvdc_saved_image_sha256("/nonexistent/x", (char[65]) { 0 },
                                             &(uint64_t) { 0 }), -ENOENT);
}

static void
test_complete(void **state)
{
    _cleanup_free_ char *dir = at("complete"), *mine = at("mine.save"),
                       *theirs = at("theirs.save"), *failed = NULL;
    tvdc_record *r = NULL;
    (void) state;

    put_save_image(mine, "LibvirtQemudSave", "<domain/>", "hello");
    put(theirs, "x", 1, 0600);
    record_file(dir, mine, UUID_A, "ma");
    record_file(dir, theirs, UUID_B, "su");

    assert_int_equal(tvdc_saved_images_complete(dir, UUID_A, &failed), 1);
    assert_null(failed);
    assert_int_equal(tvdc_record_read(dir, mine, &r), 0);
    assert_true(r->complete);
    assert_string_equal(r->sha256, HELLO_SHA);
    assert_int_equal(r->size, 5);
    assert_string_equal(r->label, "ma");
    tvdc_record_free(r);
    assert_int_equal(tvdc_record_read(dir, theirs, &r), 0);
    assert_false(r->complete);                            /* another VM's image */
    tvdc_record_free(r);
    /* completed once: a later stop does not rebind it to new content */
    put_save_image(mine, "LibvirtQemudSave", "<domain/>", "other");
    assert_int_equal(tvdc_saved_images_complete(dir, UUID_A, NULL), 0);
    assert_int_equal(tvdc_record_read(dir, mine, &r), 0);
    assert_string_equal(r->sha256, HELLO_SHA);
    tvdc_record_free(r);
}

static void
put_text(const char *path, const char *text, mode_t mode)
{
    put(path, text, strlen(text), mode);
}

/* Quarantine records: written and read back with every field, keyed by
 * the UUID in any case, listed; what cannot be trusted is an error, never
 * "none" (the driver treats it as quarantined). */
static void
test_quarantine(void **state)
{
    _cleanup_free_ char *dir = at("quarantine"), *file = NULL, *other = NULL;
    tvdc_quarantine_link links[] = { { (char *) "52:54:00:00:00:0a", 1 },
                                     { (char *) "52:54:00:00:00:0b", 0 } };
    tvdc_quarantine q = {
        .uuid = (char *) UUID_A, .name = (char *) "ma-1", .label = (char *) "market-analysis",
        .reason = (char *) "attest-pcr0: PCR 0 is not the measured identity",
        .by = (char *) "root", .host = (char *) "host-a", .time = 1796000000,
        .links = links, .n_links = 2,
    };
    tvdc_quarantine *r = NULL;
    char **uuids = NULL;
    size_t n = 99;
    (void) state;

    assert_int_equal(tvdc_quarantine_read(dir, UUID_A, &r), -ENOENT);
    assert_int_equal(tvdc_quarantine_list(dir, &uuids, &n), 0);
    assert_int_equal(n, 0);
    assert_null(uuids[0]);
    free(uuids);

    assert_int_equal(tvdc_quarantine_write(dir, &q), 0);
    assert_int_equal(tvdc_quarantine_read(dir, "4A1B7C3E-0000-4000-8000-00000000000A", &r), 0);
    assert_string_equal(r->uuid, UUID_A);
    assert_string_equal(r->name, "ma-1");
    assert_string_equal(r->label, "market-analysis");
    assert_string_equal(r->reason, q.reason);
    assert_string_equal(r->by, "root");
    assert_string_equal(r->host, "host-a");
    assert_int_equal(r->time, 1796000000);
    assert_int_equal(r->n_links, 2);
    assert_string_equal(r->links[0].mac, "52:54:00:00:00:0a");
    assert_int_equal(r->links[0].was_up, 1);
    assert_int_equal(r->links[1].was_up, 0);
    tvdc_quarantine_free(r);
    r = NULL;
    assert_int_equal(tvdc_quarantine_read(dir, UUID_B, &r), -ENOENT);

    /* not UUIDs: never a path */
    assert_int_equal(tvdc_quarantine_read(dir, "../quarantine/" UUID_A, &r), -EINVAL);
    assert_int_equal(tvdc_quarantine_remove(dir, "*"), -EINVAL);
    q.uuid = (char *) "4a1b7c3e-0000-4000-8000-00000000000g";
    assert_int_equal(tvdc_quarantine_write(dir, &q), -EINVAL);
    q.uuid = (char *) UUID_A;
    q.reason = NULL;
    assert_int_equal(tvdc_quarantine_write(dir, &q), -EINVAL);
    q.reason = (char *) "manual";

    /* another VM's record copied under this VM's name is not this VM's */
    file = at("quarantine/" UUID_A ".json");
    other = at("quarantine/" UUID_B ".json");
    assert_int_equal(link(file, other), 0);
    assert_int_equal(tvdc_quarantine_read(dir, UUID_B, &r), -EBADMSG);
    assert_int_equal(tvdc_quarantine_list(dir, &uuids, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(uuids[0], UUID_A);
    assert_string_equal(uuids[1], UUID_B);
    assert_null(uuids[2]);
    for (size_t i = 0; i < n; i++)
        free(uuids[i]);
    free(uuids);
    assert_int_equal(tvdc_quarantine_remove(dir, UUID_B), 0);
    assert_int_equal(tvdc_quarantine_remove(dir, UUID_B), -ENOENT);

    /* truncated, wrong types, writable by others: errors */
    put_text(other, "{\"format\": 1, \"uuid\": \"" UUID_B "\"", 0600);
    assert_int_equal(tvdc_quarantine_read(dir, UUID_B, &r), -EBADMSG);
    put_text(other, "{\"format\": 1, \"uuid\": \"" UUID_B "\", \"name\": \"x\", \"reason\": \"y\", "
        "\"links\": [{\"mac\": \"m\", \"was_up\": \"yes\"}]}", 0600);
    assert_int_equal(tvdc_quarantine_read(dir, UUID_B, &r), -EBADMSG);
    put_text(other, "{\"format\": 2, \"uuid\": \"" UUID_B "\", \"name\": \"x\", \"reason\": \"y\"}", 0600);
    assert_int_equal(tvdc_quarantine_read(dir, UUID_B, &r), -EBADMSG);
    put_text(other, "{\"format\": 1, \"uuid\": \"" UUID_B "\", \"name\": \"x\", \"reason\": \"y\"}", 0606);
    assert_int_equal(tvdc_quarantine_read(dir, UUID_B, &r), -EPERM);
    assert_int_equal(chmod(other, 0600), 0);
    assert_int_equal(tvdc_quarantine_read(dir, UUID_B, &r), 0);
    assert_null(r->label);
    assert_int_equal(r->n_links, 0);
    tvdc_quarantine_free(r);
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(tvdc_quarantine_read(dir, UUID_B, &r), -EPERM);
    assert_int_equal(chmod(dir, 0700), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_read_driver_format),
        cmocka_unit_test(test_write_fields),
        cmocka_unit_test(test_read_refused),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_image_sha256),
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_quarantine),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
