/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The attestation reference store (attest/attest-ref.c): an empty store
 * from a missing file, a round trip, the VM's reference before its
 * label's, removal by label, UUID or name; fail closed on a corrupt file
 * (the error says where) and on an untrusted one (group/other-writable,
 * another owner); the update is atomic (no temporary file left, mode
 * 0644, a reader opened before it keeps the old content). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "attest-ref.h"

#define UUID_A "3f2a6c1e-0000-4000-8000-00000000000a"

static char dir[] = "/tmp/test-attest-ref.XXXXXX";
static char path[256];

static void
pcrs_fill(uint8_t pcrs[][32], uint8_t v)
{
    memset(pcrs, 0, 10 * 32);
    for (int i = 1; i <= 9; i++)
        memset(pcrs[i], v + i, 32);
}

static void
write_text(const char *text, mode_t mode)
{
    FILE *f;

    unlink(path);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
    (void) state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/etc/tvdc/attest-ref.json", dir);
    return 0;
}

static int
teardown(void **state)
{
    char cmd[300];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
test_round_trip(void **state)
{
    attest_refs *refs = NULL, *back = NULL;
    uint8_t pl[10][32], pv[10][32];
    attest_ref ref;
    char why[512] = "";

    (void) state;
    unlink(path);
    assert_int_equal(attest_refs_load(path, &refs, why, sizeof(why)), 0);
    assert_false(attest_refs_find(refs, UUID_A, "market-analysis", &ref));
    pcrs_fill(pl, 0x10);
    pcrs_fill(pv, 0x40);
    assert_int_equal(attest_refs_set(refs, false, "market-analysis", "at-1", "2024-01-01T00:00:00Z",
                                     (const uint8_t (*)[32]) pl), 0);
    assert_int_equal(attest_refs_set(refs, false, "bad label!", "at-1", "x",
                                     (const uint8_t (*)[32]) pl), -EINVAL);
    assert_int_equal(attest_refs_set(refs, true, "not-a-uuid", "at-1", "x",
                                     (const uint8_t (*)[32]) pl), -EINVAL);
    /* the directories above are made */
    assert_int_equal(attest_refs_save(refs, path), 0);
    assert_int_equal(attest_refs_load(path, &back, why, sizeof(why)), 0);
    assert_true(attest_refs_find(back, UUID_A, "market-analysis", &ref));
    assert_false(ref.per_vm);
    assert_string_equal(ref.key, "market-analysis");
    assert_string_equal(ref.vm, "at-1");
    assert_memory_equal(ref.pcr[1], pl[1], 32);
    assert_memory_equal(ref.pcr[9], pl[9], 32);
    assert_false(attest_refs_find(back, UUID_A, "public-web", &ref));
    assert_false(attest_refs_find(back, UUID_A, NULL, &ref));

    /* the VM's own before its label's */
    assert_int_equal(attest_refs_set(back, true, UUID_A, "at-1", "2024-01-02T00:00:00Z",
                                     (const uint8_t (*)[32]) pv), 0);
    assert_true(attest_refs_find(back, UUID_A, "market-analysis", &ref));
    assert_true(ref.per_vm);
    assert_memory_equal(ref.pcr[5], pv[5], 32);
    assert_true(attest_refs_find(back, "3f2a6c1e-0000-4000-8000-00000000000b",
                                 "market-analysis", &ref));
    assert_false(ref.per_vm);

    /* removal: by VM name (its own), by label, nothing */
    assert_int_equal(attest_refs_remove(back, "at-1"), 1);
    assert_true(attest_refs_find(back, UUID_A, "market-analysis", &ref));
    assert_false(ref.per_vm);
    assert_int_equal(attest_refs_set(back, true, UUID_A, "at-1", "x",
                                     (const uint8_t (*)[32]) pv), 0);
    assert_int_equal(attest_refs_remove(back, UUID_A), 1);
    assert_int_equal(attest_refs_remove(back, "market-analysis"), 1);
    assert_int_equal(attest_refs_remove(back, "market-analysis"), 0);
    assert_false(attest_refs_find(back, UUID_A, "market-analysis", &ref));
    attest_refs_free(refs);
    attest_refs_free(back);
}

static void
test_corrupt(void **state)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        { "{\"version\": 1, \"labels\": {", "not valid JSON" },
        { "{\"version\": 1} trailing", "1:16: not valid JSON" },
        { "[]", "not a JSON object" },
        { "{\"version\": 2}", "\"version\" is not 1" },
        { "{\"version\": 1, \"other\": {}}", "unknown member 'other'" },
        { "{\"version\": 1, \"labels\": []}", "\"labels\" is not an object" },
        { "{\"version\": 1, \"labels\": {\"a b\": {}}}", "label \"a b\": not a label name" },
        { "{\"version\": 1, \"vms\": {\"at-1\": {}}}", "VM \"at-1\": not a UUID" },
        { "{\"version\": 1, \"labels\": {\"web\": {\"vm\": \"x\"}}}",
          "label \"web\": no \"pcrs\" object" },
        { "{\"version\": 1, \"labels\": {\"web\": {\"pcrs\": {\"1\": \"00\"}}}}",
          "label \"web\": PCR 1 is not a SHA-256 digest in hex" },
        { "{\"version\": 1, \"labels\": {\"web\": {\"pcrs\": {}, \"x\": \"y\"}}}",
          "label \"web\": unknown or not a string: 'x'" },
    };
    attest_refs *refs = NULL;
    char why[512];

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_text(cases[i].text, 0644);
        why[0] = '\0';
        refs = NULL;
        assert_int_equal(attest_refs_load(path, &refs, why, sizeof(why)), -EINVAL);
        assert_null(refs);
        if (!strstr(why, cases[i].why))
            fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].why);
    }
    /* a stored PCR edited to something else than a digest */
    {
        uint8_t p[10][32];
        char *buf, *at;
        long len;
        FILE *f;

        unlink(path);
        assert_int_equal(attest_refs_load(path, &refs, why, sizeof(why)), 0);
        pcrs_fill(p, 0);
        assert_int_equal(attest_refs_set(refs, false, "web", "w-1", "x",
                                         (const uint8_t (*)[32]) p), 0);
        assert_int_equal(attest_refs_save(refs, path), 0);
        attest_refs_free(refs);
        f = fopen(path, "r");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        rewind(f);
        buf = calloc(1, (size_t) len + 1);
        assert_int_equal(fread(buf, 1, (size_t) len, f), (size_t) len);
        fclose(f);
        at = strstr(buf, "0505");           /* PCR 5 */
        assert_non_null(at);
        at[0] = 'g';
        write_text(buf, 0644);
        free(buf);
        refs = NULL;
        assert_int_equal(attest_refs_load(path, &refs, why, sizeof(why)), -EINVAL);
        assert_non_null(strstr(why, "PCR 5 is not a SHA-256 digest"));
    }
}

static void
test_untrusted(void **state)
{
    attest_refs *refs = NULL;
    char why[512];

    (void) state;
    write_text("{\"version\": 1}", 0664);
    assert_int_equal(attest_refs_load(path, &refs, why, sizeof(why)), -EPERM);
    assert_non_null(strstr(why, "not trusted"));
    assert_non_null(strstr(why, "mode 0664"));
    write_text("{\"version\": 1}", 0646);
    assert_int_equal(attest_refs_load(path, &refs, why, sizeof(why)), -EPERM);
    write_text("{\"version\": 1}", 0644);
    assert_int_equal(attest_refs_load(path, &refs, why, sizeof(why)), 0);
    attest_refs_free(refs);
    refs = NULL;
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 65534, 65534), 0);
        assert_int_equal(attest_refs_load(path, &refs, why, sizeof(why)), -EPERM);
        assert_non_null(strstr(why, "owned by uid 65534"));
    }
    /* a symbolic link is not followed, a directory is not a store */
    {
        char link[300];
        snprintf(link, sizeof(link), "%s/link.json", dir);
        unlink(link);
        assert_int_equal(symlink(path, link), 0);
        assert_true(attest_refs_load(link, &refs, why, sizeof(why)) < 0);
        assert_true(attest_refs_load(dir, &refs, why, sizeof(why)) < 0);
        assert_null(refs);
    }
    unlink(path);
}

static void
test_atomic(void **state)
{
    attest_refs *refs = NULL, *back = NULL;
    uint8_t p1[10][32], p2[10][32];
    char why[512], parent[300], old[64];
    struct stat st;
    struct dirent *de;
    attest_ref ref;
    DIR *d;
    int fd, n = 0;

    (void) state;
    unlink(path);
    pcrs_fill(p1, 0x01);
    pcrs_fill(p2, 0x61);
    assert_int_equal(attest_refs_load(path, &refs, why, sizeof(why)), 0);
    assert_int_equal(attest_refs_set(refs, false, "web", "w-1", "t1",
                                     (const uint8_t (*)[32]) p1), 0);
    assert_int_equal(attest_refs_save(refs, path), 0);
    fd = open(path, O_RDONLY);             /* a reader of the old content */
    assert_true(fd >= 0);
    assert_int_equal(attest_refs_set(refs, false, "web", "w-2", "t2",
                                     (const uint8_t (*)[32]) p2), 0);
    assert_int_equal(attest_refs_save(refs, path), 0);
    assert_int_equal(read(fd, old, sizeof(old) - 1) > 0, 1);
    old[sizeof(old) - 1] = '\0';
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_nlink, 0);     /* replaced, not rewritten in place */
    close(fd);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(attest_refs_load(path, &back, why, sizeof(why)), 0);
    assert_true(attest_refs_find(back, NULL, "web", &ref));
    assert_string_equal(ref.vm, "w-2");
    assert_memory_equal(ref.pcr[3], p2[3], 32);
    /* nothing but the store in its directory */
    snprintf(parent, sizeof(parent), "%s/etc/tvdc", dir);
    d = opendir(parent);
    assert_non_null(d);
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            assert_string_equal(de->d_name, "attest-ref.json");
            n++;
        }
    closedir(d);
    assert_int_equal(n, 1);
    attest_refs_free(refs);
    attest_refs_free(back);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_untrusted),
        cmocka_unit_test(test_atomic),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
