/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The resource-label store: canonical names, the file format, updates. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "internal.h"

/* A fresh directory per test, and its realpath ("@" in the tables). */
static char dir[PATH_MAX];
static char store[PATH_MAX + 32];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove(path);
}

static int
setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    char t[PATH_MAX];

    (void) state;
    snprintf(t, sizeof(t), "%s/test-store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(t) || !realpath(t, dir))
        return -1;
    snprintf(store, sizeof(store), "%s/resources.json", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* s with every "@" replaced by dir. */
static char *
expand(const char *s)
{
    size_t n = 0;
    char *r, *o;

    for (const char *p = s; *p; p++)
        n += *p == '@' ? strlen(dir) : 1;
    r = o = malloc(n + 1);
    assert_non_null(r);
    for (const char *p = s; *p; p++) {
        if (*p == '@') {
            strcpy(o, dir);
            o += strlen(dir);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return r;
}

static void
touch(const char *rel)
{
    char *p = expand(rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    close(fd);
    free(p);
}

static void
mkdir_at(const char *rel)
{
    char *p = expand(rel);

    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
}

static char *
read_all(const char *path)
{
    char *buf = NULL;
    size_t len;

    assert_int_equal(tv_read_file(path, 1 << 26, &buf, &len), 0);
    return buf;
}

static void
write_all(const char *path, const char *buf, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Files in dir other than the store and its lock file. */
static int
stray_files(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "resources.json") == 0 ||
            strcmp(de->d_name, "resources.json.lock") == 0)
            continue;
        if (strncmp(de->d_name, "resources.json", 14) == 0) {
            fprintf(stderr, "stray file: %s\n", de->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------------ */
/* Canonical names                                                          */

typedef struct canon_case {
    const char *in;       /* "@" is the test directory */
    const char *out;      /* NULL: fails with -err */
    int err;
} canon_case;

static const canon_case canon_cases[] = {
    /* paths: realpath; files, block devices, directories */
    { "@/disk.img",                 "@/disk.img", 0 },
    { "@/link.img",                 "@/disk.img", 0 },
    { "@//share/../disk.img",       "@/disk.img", 0 },
    { "@/./disk.img",               "@/disk.img", 0 },
    { "@/share",                    "@/share", 0 },
    { "@/share/",                   "@/share", 0 },
    { "@/dirlink",                  "@/share", 0 },
    { "@/with space.img",           "@/with space.img", 0 },
    { "@/caf\xc3\xa9.img",          "@/caf\xc3\xa9.img", 0 },
    { "/",                          "/", 0 },
    { "@/missing.img",              NULL, ENOENT },
    { "@/dangling",                 NULL, ENOENT },
    { "@/disk.img/x",               NULL, ENOTDIR },
    { "@/sock",                     NULL, EINVAL },   /* use socket: */
    { "@/fifo",                     NULL, EINVAL },
    { "/dev/null",                  NULL, EINVAL },   /* character device */
    { "@/new\nline.img",            NULL, EINVAL },   /* control character */
    { "@/latin1-\xe9.img",          NULL, EINVAL },   /* not UTF-8 */
    { "disk.img",                   NULL, EINVAL },
    { "./disk.img",                 NULL, EINVAL },
    { "~/disk.img",                 NULL, EINVAL },
    { "",                           NULL, EINVAL },
    /* PCI: domain optional, any case, zero-padded, ranges */
    { "pci:0000:03:00.0",           "pci:0000:03:00.0", 0 },
    { "pci:03:00.0",                "pci:0000:03:00.0", 0 },
    { "pci:0:3:0.1",                "pci:0000:03:00.1", 0 },
    { "pci:FFFF:FF:1F.7",           "pci:ffff:ff:1f.7", 0 },
    { "pci:000A:0b:1c.3",           "pci:000a:0b:1c.3", 0 },
    { "pci:",                       NULL, EINVAL },
    { "pci:0000:03:00",             NULL, EINVAL },
    { "pci:0000:03:00.8",           NULL, EINVAL },
    { "pci:0000:03:20.0",           NULL, EINVAL },
    { "pci:10000:03:00.0",          NULL, EINVAL },
    { "pci:0000:100:00.0",          NULL, EINVAL },
    { "pci:0000:03:00.00",          NULL, EINVAL },
    { "pci:0000:03:00.0 ",          NULL, EINVAL },
    { "pci: 03:00.0",               NULL, EINVAL },
    { "pci:0x3:00.0",               NULL, EINVAL },
    { "pci:+3:00.0",                NULL, EINVAL },
    { "pci:-0:03:00.0",             NULL, EINVAL },
    { "pci:0:0:03:00.0",            NULL, EINVAL },
    { "pci:0000:03:00:0",           NULL, EINVAL },
    { "pci:0000::00.0",             NULL, EINVAL },
    { "pci:g000:03:00.0",           NULL, EINVAL },
    { "PCI:0000:03:00.0",           NULL, EINVAL },
    /* USB vendor:product */
    { "usb:046D:C52B",              "usb:046d:c52b", 0 },
    { "usb:1:2",                    "usb:0001:0002", 0 },
    { "usb:046d",                   NULL, EINVAL },
    { "usb:046d:c52b:1",            NULL, EINVAL },
    { "usb:12345:0001",             NULL, EINVAL },
    { "usb:g46d:c52b",              NULL, EINVAL },
    { "usb::",                      NULL, EINVAL },
    /* mediated devices */
    { "mdev:4B20D080-1B54-4048-85B3-A6A62D165C01",
      "mdev:4b20d080-1b54-4048-85b3-a6a62d165c01", 0 },
    { "mdev:4b20d0801b54404885b3a6a62d165c01", NULL, EINVAL },
    { "mdev:4b20d080-1b54-4048-85b3-a6a62d165c0g", NULL, EINVAL },
    { "mdev:4b20d080-1b54-4048-85b3-a6a62d165c011", NULL, EINVAL },
    { "mdev:",                      NULL, EINVAL },
    /* shared memory */
    { "shmem:my_shmem0",            "shmem:my_shmem0", 0 },
    { "shmem:a",                    "shmem:a", 0 },
    { "shmem:",                     NULL, EINVAL },
    { "shmem:a/b",                  NULL, EINVAL },
    { "shmem:.",                    NULL, EINVAL },
    { "shmem:..",                   NULL, EINVAL },
    { "shmem:a b",                  NULL, EINVAL },
    { "shmem:a\tb",                 NULL, EINVAL },
    { "shmem:\xc3\xa9",             NULL, EINVAL },
    /* sockets: realpath of the directory, the socket need not exist */
    { "socket:@/vhost.sock",        "socket:@/vhost.sock", 0 },
    { "socket:@/sock",              "socket:@/sock", 0 },
    { "socket:@/dirlink/../x.sock", "socket:@/x.sock", 0 },
    { "socket:@/dirlink/x.sock",    "socket:@/share/x.sock", 0 },
    { "socket:@//share//x.sock",    "socket:@/share/x.sock", 0 },
    { "socket:/x.sock",             "socket:/x.sock", 0 },
    { "socket:",                    NULL, EINVAL },
    { "socket:x.sock",              NULL, EINVAL },
    { "socket:@/",                  NULL, EINVAL },
    { "socket:@/share/",            NULL, EINVAL },
    { "socket:@/.",                 NULL, EINVAL },
    { "socket:@/..",                NULL, EINVAL },
    { "socket:@/missing/x.sock",    NULL, ENOENT },
    { "socket:@/disk.img/x.sock",   NULL, ENOTDIR },
    /* anything else */
    { "file:/etc/passwd",           NULL, EINVAL },
    { "net:default",                NULL, EINVAL },
};

static void
make_tree(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char *p;
    int fd;

    touch("@/disk.img");
    touch("@/with space.img");
    touch("@/caf\xc3\xa9.img");
    touch("@/new\nline.img");
    touch("@/latin1-\xe9.img");
    mkdir_at("@/share");
    p = expand("@/link.img");
    assert_int_equal(symlink("disk.img", p), 0);
    free(p);
    p = expand("@/dirlink");
    assert_int_equal(symlink("share", p), 0);
    free(p);
    p = expand("@/dangling");
    assert_int_equal(symlink("nowhere", p), 0);
    free(p);
    p = expand("@/fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    free(p);
    p = expand("@/sock");
    assert_true(strlen(p) < sizeof(sa.sun_path));
    strcpy(sa.sun_path, p);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    close(fd);
    free(p);
}

static void
test_canonicalize(void **state)
{
    (void) state;
    make_tree();

    for (size_t i = 0; i < ELEMENTSOF(canon_cases); i++) {
        const canon_case *c = &canon_cases[i];
        char *in = expand(c->in), *out = (char *) 0x1, *again = NULL;
        int r = tvdc_resource_canonicalize(in, &out);

        if (c->out) {
            char *want = expand(c->out);
            if (r != 0 || strcmp(out, want) != 0)
                fail_msg("'%s': got %d '%s', want '%s'", in, r, r == 0 ? out : "", want);
            /* Canonical names are fixed points and valid store keys. */
            assert_int_equal(tvdc_resource_canonicalize(out, &again), 0);
            assert_string_equal(again, out);
            assert_int_equal(tvdc_store_update(store, out, "x", NULL, NULL), 0);
            free(again);
            free(want);
            free(out);
        } else {
            if (r != -c->err)
                fail_msg("'%s': got %d, want %d", in, r, -c->err);
            assert_ptr_equal(out, (char *) 0x1);   /* untouched on failure */
        }
        free(in);
    }
}

static void
test_canonicalize_limits(void **state)
{
    char *out = NULL, name[300], *huge;
    struct stat st;

    (void) state;
    assert_int_equal(tvdc_resource_canonicalize(NULL, &out), -EINVAL);
    assert_int_equal(tvdc_resource_canonicalize("shmem:a", NULL), -EINVAL);

    /* shmem names: 255 characters at most */
    memset(name, 'n', sizeof(name));
    memcpy(name, "shmem:", 6);
    name[6 + 255] = '\0';
    assert_int_equal(tvdc_resource_canonicalize(name, &out), 0);
    free(out);
    name[6 + 255] = 'n';
    name[6 + 256] = '\0';
    assert_int_equal(tvdc_resource_canonicalize(name, &out), -EINVAL);

    /* Over any path length: refused before touching the file system. */
    huge = malloc(3 * PATH_MAX);
    assert_non_null(huge);
    memset(huge, 'a', 3 * PATH_MAX - 1);
    huge[0] = '/';
    huge[3 * PATH_MAX - 1] = '\0';
    assert_int_equal(tvdc_resource_canonicalize(huge, &out), -ENAMETOOLONG);
    memcpy(huge, "pci:", 4);
    assert_int_equal(tvdc_resource_canonicalize(huge, &out), -ENAMETOOLONG);
    free(huge);

    /* A block device, when the machine has one we can name. */
    if (stat("/dev/loop0", &st) == 0 && S_ISBLK(st.st_mode)) {
        assert_int_equal(tvdc_resource_canonicalize("/dev/loop0", &out), 0);
        assert_string_equal(out, "/dev/loop0");
        free(out);
    }
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */

static void
expect_label(const char *key, const char *label)
{
    tvdc_store *s = NULL;
    const char *l = "untouched";
    tvdc_error e = { 0 };

    assert_int_equal(tvdc_store_load(store, &s, &e), 0);
    if (label) {
        assert_int_equal(tvdc_store_get(s, key, &l), 0);
        assert_string_equal(l, label);
    } else {
        assert_int_equal(tvdc_store_get(s, key, &l), -ENOENT);
        assert_string_equal(l, "untouched");
    }
    tvdc_store_free(s);
}

static void
test_round_trip(void **state)
{
    tvdc_store *s = (tvdc_store *) 0x1;
    tvdc_error e = { 0 };
    const char *k, *l;
    char *text;
    struct stat st;

    (void) state;
    /* A missing file is an empty store. */
    assert_int_equal(tvdc_store_load(store, &s, &e), 0);
    assert_int_equal(tvdc_store_size(s), 0);
    assert_int_equal(tvdc_store_get(s, "/a", &l), -ENOENT);
    assert_int_equal(tvdc_store_entry(s, 0, &k, &l), -ERANGE);
    tvdc_store_free(s);

    /* Keys need not exist: the store names what the policy governs. */
    assert_int_equal(tvdc_store_update(store, "/var/lib/images/b.qcow2", "underwriting", NULL, &e), 0);
    assert_int_equal(tvdc_store_update(store, "pci:0000:03:00.0", "market-analysis", NULL, &e), 0);
    assert_int_equal(tvdc_store_update(store, "/var/lib/images/a.qcow2", "market-analysis", NULL, &e), 0);
    assert_int_equal(tvdc_store_update(store, "socket:/run/vhost/net0", "public-web", NULL, &e), 0);
    assert_int_equal(tvdc_store_update(store, "shmem:ivshmem0", "underwriting", NULL, &e), 0);
    expect_label("/var/lib/images/a.qcow2", "market-analysis");
    expect_label("pci:0000:03:00.0", "market-analysis");
    expect_label("/var/lib/images/c.qcow2", NULL);

    /* Sorted in memory and in the file. */
    assert_int_equal(tvdc_store_load(store, &s, &e), 0);
    assert_int_equal(tvdc_store_size(s), 5);
    {
        static const char *const order[] = {
            "/var/lib/images/a.qcow2", "/var/lib/images/b.qcow2",
            "pci:0000:03:00.0", "shmem:ivshmem0", "socket:/run/vhost/net0",
        };
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
            assert_int_equal(tvdc_store_entry(s, i, &k, &l), 0);
            assert_string_equal(k, order[i]);
        }
    }
    assert_int_equal(tvdc_store_entry(s, 5, &k, &l), -ERANGE);
    assert_int_equal(tvdc_store_entry(NULL, 0, &k, &l), -EINVAL);
    assert_int_equal(tvdc_store_get(NULL, "/a", &l), -EINVAL);
    assert_int_equal(tvdc_store_size(NULL), 0);
    tvdc_store_free(s);
    tvdc_store_free(NULL);

    text = read_all(store);
    assert_string_equal(text,
        "{\n"
        "  \"version\": 1,\n"
        "  \"resources\": {\n"
        "    \"/var/lib/images/a.qcow2\": \"market-analysis\",\n"
        "    \"/var/lib/images/b.qcow2\": \"underwriting\",\n"
        "    \"pci:0000:03:00.0\": \"market-analysis\",\n"
        "    \"shmem:ivshmem0\": \"underwriting\",\n"
        "    \"socket:/run/vhost/net0\": \"public-web\"\n"
        "  }\n"
        "}\n");
    free(text);

    /* Setting the label a key has writes nothing. */
    {
        struct stat st1, st2;
        assert_int_equal(stat(store, &st1), 0);
        assert_int_equal(tvdc_store_update(store, "shmem:ivshmem0", "underwriting", NULL, &e), 0);
        assert_int_equal(stat(store, &st2), 0);
        assert_int_equal(st1.st_ino, st2.st_ino);
    }

    /* Relabel, remove, remove again. */
    assert_int_equal(tvdc_store_update(store, "/var/lib/images/a.qcow2", "underwriting", NULL, &e), 0);
    expect_label("/var/lib/images/a.qcow2", "underwriting");
    assert_int_equal(tvdc_store_update(store, "/var/lib/images/a.qcow2", NULL, NULL, &e), 0);
    expect_label("/var/lib/images/a.qcow2", NULL);
    assert_int_equal(stat(store, &st), 0);
    memset(&e, 0, sizeof(e));
    assert_int_equal(tvdc_store_update(store, "/var/lib/images/a.qcow2", NULL, NULL, &e), -ENOENT);
    assert_string_equal(e.message, "/var/lib/images/a.qcow2: not labeled");
    {
        struct stat st2;
        assert_int_equal(stat(store, &st2), 0);
        assert_int_equal(st.st_ino, st2.st_ino);     /* nothing written */
    }

    /* Everything removed: an empty, still valid store. */
    assert_int_equal(tvdc_store_update(store, "/var/lib/images/b.qcow2", NULL, NULL, &e), 0);
    assert_int_equal(tvdc_store_update(store, "pci:0000:03:00.0", NULL, NULL, &e), 0);
    assert_int_equal(tvdc_store_update(store, "shmem:ivshmem0", NULL, NULL, &e), 0);
    assert_int_equal(tvdc_store_update(store, "socket:/run/vhost/net0", NULL, NULL, &e), 0);
    assert_int_equal(tvdc_store_load(store, &s, &e), 0);
    assert_int_equal(tvdc_store_size(s), 0);
    tvdc_store_free(s);
    assert_int_equal(stray_files(), 0);
}

typedef struct bad_update {
    const char *key;
    const char *label;
    const char *message;
} bad_update;

static const bad_update bad_updates[] = {
    { "relative/path",      "x",      "'relative/path' is not a canonical resource name" },
    { "/a/../b",            "x",      "'/a/../b' is not a canonical resource name" },
    { "/a/./b",             "x",      "'/a/./b' is not a canonical resource name" },
    { "/a//b",              "x",      "'/a//b' is not a canonical resource name" },
    { "/a/",                "x",      "'/a/' is not a canonical resource name" },
    { "pci:03:00.0",        "x",      "'pci:03:00.0' is not a canonical resource name" },
    { "pci:0000:03:00.0 ",  "x",      "'pci:0000:03:00.0 ' is not a canonical resource name" },
    { "pci:0000:0A:00.0",   "x",      "'pci:0000:0A:00.0' is not a canonical resource name" },
    { "pci:0000:03:1f.8",   "x",      "'pci:0000:03:1f.8' is not a canonical resource name" },
    { "usb:46d:c52b",       "x",      "'usb:46d:c52b' is not a canonical resource name" },
    { "mdev:4B20D080-1B54-4048-85B3-A6A62D165C01", "x",
      "'mdev:4B20D080-1B54-4048-85B3-A6A62D165C01' is not a canonical resource name" },
    { "socket:/",           "x",      "'socket:/' is not a canonical resource name" },
    { "/a\nb",              "x",      "'/a\\x0ab' is not a canonical resource name" },
    { "",                   "x",      "'' is not a canonical resource name" },
    { "/a",                 "",       "invalid label name ''" },
    { "/a",                 "two words", "invalid label name 'two words'" },
    { "/a",                 "-dash",  "invalid label name '-dash'" },
    { "/a",  "a2345678901234567890123456789012345678901234567890123456789012345",
      "invalid label name 'a2345678901234567890123456789012345678901234567890123456789012345'" },
};

static void
test_bad_updates(void **state)
{
    tvdc_error e;

    (void) state;
    for (size_t i = 0; i < ELEMENTSOF(bad_updates); i++) {
        memset(&e, 0, sizeof(e));
        if (tvdc_store_update(store, bad_updates[i].key, bad_updates[i].label,
                              NULL, &e) != -EINVAL ||
            strcmp(e.message, bad_updates[i].message) != 0)
            fail_msg("case %zu: '%s'", i, e.message);
        assert_int_equal(e.line, 0);
    }
    assert_int_equal(tvdc_store_update(NULL, "/a", "x", NULL, NULL), -EINVAL);
    assert_int_equal(tvdc_store_update(store, NULL, "x", NULL, NULL), -EINVAL);
    /* Nothing was created, not even the lock. */
    assert_int_equal(access(store, F_OK), -1);
    assert_int_equal(stray_files(), 0);

    /* A store in a missing directory. */
    {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/nodir/resources.json", dir);
        memset(&e, 0, sizeof(e));
        assert_int_equal(tvdc_store_update(path, "/a", "x", NULL, &e), -ENOENT);
        assert_non_null(strstr(e.message, "cannot open lock file"));
    }
}

static void
test_mode(void **state)
{
    mode_t old = umask(0);
    char lock[PATH_MAX + 64];
    struct stat st;

    (void) state;
    assert_int_equal(tvdc_store_update(store, "/a", "x", NULL, NULL), 0);
    assert_int_equal(stat(store, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    snprintf(lock, sizeof(lock), "%s.lock", store);
    assert_int_equal(stat(lock, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* A store someone made world-readable is tightened on the next write. */
    assert_int_equal(chmod(store, 0644), 0);
    umask(022);
    assert_int_equal(tvdc_store_update(store, "/b", "x", NULL, NULL), 0);
    assert_int_equal(stat(store, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    umask(old);
    assert_int_equal(stray_files(), 0);
}

/* ------------------------------------------------------------------------ */
/* Malformed files: refused with a position, never read as empty           */

typedef struct bad_file {
    const char *text;
    unsigned line, column;
    const char *message;
} bad_file;

#define V "{\"version\": 1, "

static const bad_file bad_files[] = {
    { "",                                   1, 1,  "syntax error: unexpected end of data" },
    { "  \n",                               2, 1,  "syntax error: unexpected end of data" },
    { "{",                                  1, 2,  "syntax error: unexpected end of data" },
    { V "\"resources\": {}",                1, 31, "syntax error: unexpected end of data" },
    { V "\"resources\": {}} x",             1, 33, "syntax error: unexpected character" },
    { V "\"resources\": {},}",              1, 32, "syntax error: unexpected character" },
    { V "\"resources\": {\"/a\": 'x'}}",    1, 36, "syntax error: unexpected character" },
    { V "\"resources\": {\"/\xff\": \"x\"}}", 1, 32, "syntax error: invalid utf-8 string" },
    { "null",                               1, 5,  "syntax error: expected an object, not null" },
    { "[]",                                 1, 1,  "expected an object" },
    { "\n  \"x\"",                          2, 3,  "expected an object" },
    { "{}",                                 1, 1,  "missing field 'version'" },
    { "{\"version\": 1}",                   1, 1,  "missing field 'resources'" },
    { "{\"resources\": {}}",                1, 1,  "missing field 'version'" },
    { "{\"version\": 2, \"resources\": {}}", 1, 13,
      "version: unsupported store version 2 (this release reads version 1)" },
    { "{\"version\": 0, \"resources\": {}}", 1, 13,
      "version: unsupported store version 0 (this release reads version 1)" },
    { "{\"version\": \"1\", \"resources\": {}}", 1, 13, "version: expected an integer" },
    { "{\"version\": 1.0, \"resources\": {}}", 1, 13, "version: expected an integer" },
    { V "\"resources\": {}, \"comment\": \"\"}", 1, 33, "unknown field 'comment'" },
    { V "\"resources\": [] }",              1, 29, "resources: expected an object" },
    { V "\"resources\": {}, \"version\": 1}", 1, 33, "duplicate key 'version'" },
    { V "\"resources\": {}, \"resources\": {\"/a\": \"x\"}}", 1, 33,
      "duplicate key 'resources'" },
    { "{\n  \"version\": 1,\n  \"resources\": {\n    \"/a\": \"x\",\n"
      "    \"/b\": \"y\",\n    \"/a\": \"y\"\n  }\n}\n", 6, 5, "resources: duplicate key '/a'" },
    /* "\/" is "/": the same key spelled differently */
    { V "\"resources\": {\"/a\": \"x\", \"\\/a\": \"x\"}}", 1, 41,
      "resources: duplicate key '/a'" },
    { V "\"resources\": {\n\"a.img\": \"x\"}}", 2, 1,
      "resources: 'a.img' is not a canonical resource name" },
    { V "\"resources\": {\"/a/../b\": \"x\"}}", 1, 30,
      "resources: '/a/../b' is not a canonical resource name" },
    { V "\"resources\": {\"pci:03:00.0\": \"x\"}}", 1, 30,
      "resources: 'pci:03:00.0' is not a canonical resource name" },
    { V "\"resources\": {\"/a\\nb\": \"x\"}}", 1, 30,
      "resources: '/a\\x0ab' is not a canonical resource name" },
    { V "\"resources\": {\"/a\\u0000b\": \"x\"}}", 1, 33, "NUL character in a string" },
    { V "\"resources\": {\"/a\": 5}}",      1, 36, "resources['/a']: expected a label name (a string)" },
    { V "\"resources\": {\"/a\": null}}",   1, 36, "resources['/a']: expected a label name (a string)" },
    { V "\"resources\": {\"/a\": [\"x\"]}}", 1, 36, "resources['/a']: expected a label name (a string)" },
    { V "\"resources\": {\"/a\": \"two words\"}}", 1, 36,
      "resources['/a']: invalid label name 'two words'" },
    { V "\"resources\": {\"/a\": \"\"}}",   1, 36, "resources['/a']: invalid label name ''" },
};

static void
test_malformed(void **state)
{
    (void) state;
    for (size_t i = 0; i < ELEMENTSOF(bad_files); i++) {
        const bad_file *c = &bad_files[i];
        tvdc_store *s = (tvdc_store *) 0x1;
        tvdc_error e = { 0 };
        char *before;
        int r;

        write_all(store, c->text, strlen(c->text));
        r = tvdc_store_load(store, &s, &e);
        if (r != -EINVAL || e.line != c->line || e.column != c->column ||
            strcmp(e.message, c->message) != 0)
            fail_msg("case %zu: got %d %u:%u '%s', want %u:%u '%s'", i, r,
                     e.line, e.column, e.message, c->line, c->column, c->message);
        assert_ptr_equal(s, (tvdc_store *) 0x1);
        assert_int_equal(tvdc_store_load(store, &s, NULL), -EINVAL);

        /* An update refuses to replace what it cannot read. */
        memset(&e, 0, sizeof(e));
        assert_int_equal(tvdc_store_update(store, "/z", "x", NULL, &e), -EINVAL);
        assert_string_equal(e.message, c->message);
        before = read_all(store);
        assert_string_equal(before, c->text);
        free(before);
    }

    /* A NUL byte. */
    {
        static const char text[] = V "\"resources\": {}}\0";
        tvdc_store *s = NULL;
        tvdc_error e = { 0 };
        write_all(store, text, sizeof(text) - 1);
        assert_int_equal(tvdc_store_load(store, &s, &e), -EINVAL);
        assert_string_equal(e.message, "NUL byte in the file");
        assert_int_equal(e.column, 32);
    }

    /* Not a file. */
    {
        tvdc_store *s = NULL;
        tvdc_error e = { 0 };
        assert_int_equal(unlink(store), 0);
        assert_int_equal(mkdir(store, 0700), 0);
        assert_int_equal(tvdc_store_load(store, &s, &e), -EISDIR);
        assert_non_null(strstr(e.message, "cannot read"));
        assert_int_equal(rmdir(store), 0);
    }
}

static void
test_good_files(void **state)
{
    static const char text[] =
        "\n{ \"resources\" : { \"socket:\\/run\\/x\" : \"b\", \"/caf\\u00e9\": \"a\","
        " \"/z\": \"a\", \"/a\": \"c\" } ,\"version\":1 }\n\n";
    tvdc_store *s = NULL;
    tvdc_error e = { 0 };
    const char *k, *l;

    (void) state;
    write_all(store, text, sizeof(text) - 1);
    assert_int_equal(tvdc_store_load(store, &s, &e), 0);
    assert_int_equal(tvdc_store_size(s), 4);
    assert_int_equal(tvdc_store_entry(s, 0, &k, &l), 0);
    assert_string_equal(k, "/a");
    assert_string_equal(l, "c");
    assert_int_equal(tvdc_store_entry(s, 1, &k, NULL), 0);
    assert_string_equal(k, "/caf\xc3\xa9");
    assert_int_equal(tvdc_store_entry(s, 2, NULL, &l), 0);
    assert_string_equal(l, "a");
    assert_int_equal(tvdc_store_get(s, "socket:/run/x", &l), 0);
    assert_string_equal(l, "b");
    tvdc_store_free(s);
}

/* A larger store: binary search against a linear scan. */
static void
test_lookup(void **state)
{
    tvdc_store *s = NULL;
    tvdc_error e = { 0 };
    json_object *root = json_object_new_object(), *res = json_object_new_object();
    const char *l;
    char key[64];

    (void) state;
    json_object_object_add(root, "version", json_object_new_int(1));
    json_object_object_add(root, "resources", res);
    for (int i = 0; i < 2000; i += 2) {
        /* inserted in a scrambled order */
        snprintf(key, sizeof(key), "/img/%d", (i * 7919) % 2000);
        json_object_object_add(res, key, json_object_new_string(i % 3 ? "a" : "b"));
    }
    assert_int_equal(json_object_to_file(store, root), 0);
    json_object_put(root);

    assert_int_equal(tvdc_store_load(store, &s, &e), 0);
    assert_int_equal(tvdc_store_size(s), 1000);
    for (size_t i = 1; i < tvdc_store_size(s); i++) {
        const char *a, *b;
        assert_int_equal(tvdc_store_entry(s, i - 1, &a, NULL), 0);
        assert_int_equal(tvdc_store_entry(s, i, &b, NULL), 0);
        assert_true(strcmp(a, b) < 0);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "/img/%d", i);
        assert_int_equal(tvdc_store_get(s, key, &l), i % 2 ? -ENOENT : 0);
    }
    assert_int_equal(tvdc_store_get(s, "/img/", &l), -ENOENT);
    assert_int_equal(tvdc_store_get(s, "/img/99999", &l), -ENOENT);
    assert_int_equal(tvdc_store_get(s, "", &l), -ENOENT);
    tvdc_store_free(s);
}

/* ------------------------------------------------------------------------ */
/* Labels the policy does not define                                       */

static tvdc_policy *
load_bank(void)
{
    const char *ex = getenv("TVDC_EXAMPLES");
    char path[PATH_MAX];
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };

    snprintf(path, sizeof(path), "%s/bank.json", ex && *ex ? ex : "../examples");
    if (tvdc_policy_load_file(path, &p, &e) < 0)
        fail_msg("%s:%u:%u: %s", path, e.line, e.column, e.message);
    return p;
}

static void
test_policy(void **state)
{
    _cleanup_(tvdc_policy_freep) tvdc_policy *p = load_bank();
    tvdc_error e = { 0 };
    char *before;

    (void) state;
    assert_int_equal(tvdc_store_update(store, "/img/a", "market-analysis", p, &e), 0);
    assert_int_equal(tvdc_store_update(store, "/img/b", "dual-host", p, &e), 0);
    expect_label("/img/a", "market-analysis");
    before = read_all(store);

    /* Refused before anything is locked or written. */
    assert_int_equal(tvdc_store_update(store, "/img/c", "trading", p, &e), -ENOENT);
    assert_string_equal(e.message, "label 'trading' is not defined in policy 'bank-dc'");
    assert_int_equal(tvdc_store_update(store, "/img/a", "MA", p, &e), -ENOENT);
    assert_string_equal(e.message, "label 'MA' is not defined in policy 'bank-dc'");
    expect_label("/img/c", NULL);
    expect_label("/img/a", "market-analysis");
    {
        char *after = read_all(store);
        assert_string_equal(after, before);
        free(after);
    }
    free(before);

    /* Removing needs no policy check: a label the policy dropped must
     * still be removable. */
    assert_int_equal(tvdc_store_update(store, "/img/z", "retired", NULL, &e), 0);
    assert_int_equal(tvdc_store_update(store, "/img/z", NULL, p, &e), 0);
    expect_label("/img/z", NULL);
    assert_int_equal(stray_files(), 0);
}

/* ------------------------------------------------------------------------ */
/* Concurrent writers                                                       */

#define N_PROCS 8
#define N_THREADS 4
#define N_KEYS 50

static void
writer_key(char *buf, size_t size, int who, int k)
{
    /* Spread over the kinds of keys, so inserts land all over the order. */
    switch (k % 3) {
    case 0:
        snprintf(buf, size, "/var/lib/images/w%d-k%d.qcow2", who, k);
        break;
    case 1:
        snprintf(buf, size, "shmem:w%d-k%d", who, k);
        break;
    default:
        snprintf(buf, size, "socket:/run/w%d/k%d", who, k);
    }
}

static const char *
writer_label(int who, int k)
{
    static const char *const labels[] = { "market-analysis", "underwriting", "public-web" };
    return labels[(who + k) % 3];
}

/* Set N_KEYS keys, and set and remove one more, so removals race too. */
static int
writer(int who)
{
    char key[128], tmp[128];
    tvdc_error e;

    snprintf(tmp, sizeof(tmp), "shmem:w%d-tmp", who);
    for (int k = 0; k < N_KEYS; k++) {
        writer_key(key, sizeof(key), who, k);
        memset(&e, 0, sizeof(e));
        if (tvdc_store_update(store, key, writer_label(who, k), NULL, &e) < 0) {
            fprintf(stderr, "writer %d: %s: %s\n", who, key, e.message);
            return -1;
        }
        if (k == N_KEYS / 2 && tvdc_store_update(store, tmp, "public-web", NULL, &e) < 0)
            return -1;
    }
    if (tvdc_store_update(store, tmp, NULL, NULL, &e) < 0) {
        fprintf(stderr, "writer %d: %s: %s\n", who, tmp, e.message);
        return -1;
    }
    return 0;
}

static void *
writer_thread(void *arg)
{
    return (void *) (intptr_t) writer((int) (intptr_t) arg);
}

static void
test_concurrent(void **state)
{
    pid_t pids[N_PROCS];
    pthread_t threads[N_THREADS];
    tvdc_store *s = NULL;
    tvdc_error e = { 0 };
    json_object *o;
    char key[128];
    const char *l;

    (void) state;
    /* Someone else's entry, which must survive too. */
    assert_int_equal(tvdc_store_update(store, "pci:0000:00:02.0", "dual-host", NULL, &e), 0);

    for (int p = 0; p < N_PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0)
            _exit(writer(p) < 0 ? 1 : 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, writer_thread,
                                        (void *) (intptr_t) (N_PROCS + t)), 0);
    for (int t = 0; t < N_THREADS; t++) {
        void *ret;
        assert_int_equal(pthread_join(threads[t], &ret), 0);
        assert_null(ret);
    }
    for (int p = 0; p < N_PROCS; p++) {
        int status;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    assert_int_equal(tvdc_store_load(store, &s, &e), 0);
    assert_int_equal(tvdc_store_size(s), (N_PROCS + N_THREADS) * N_KEYS + 1);
    for (int w = 0; w < N_PROCS + N_THREADS; w++) {
        for (int k = 0; k < N_KEYS; k++) {
            writer_key(key, sizeof(key), w, k);
            if (tvdc_store_get(s, key, &l) < 0)
                fail_msg("lost %s", key);
            assert_string_equal(l, writer_label(w, k));
        }
        snprintf(key, sizeof(key), "shmem:w%d-tmp", w);
        assert_int_equal(tvdc_store_get(s, key, &l), -ENOENT);
    }
    assert_int_equal(tvdc_store_get(s, "pci:0000:00:02.0", &l), 0);
    tvdc_store_free(s);

    /* Valid JSON for any JSON reader, not just ours. */
    o = json_object_from_file(store);
    assert_non_null(o);
    assert_int_equal(json_object_object_length(json_object_object_get(o, "resources")),
                     (N_PROCS + N_THREADS) * N_KEYS + 1);
    json_object_put(o);
    assert_int_equal(stray_files(), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_canonicalize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canonicalize_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
