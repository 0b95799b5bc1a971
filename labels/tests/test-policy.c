/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading policies: examples, the compiled form and its integrity checks. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "internal.h"

static char *
examples_path(const char *name)
{
    const char *dir = getenv("TVDC_EXAMPLES");
    char *p;
    assert_non_null(dir);
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static void
test_examples_valid(void **state)
{
    const char *dir = getenv("TVDC_EXAMPLES");
    DIR *d;
    struct dirent *e;
    int n = 0;
    (void) state;

    assert_non_null(dir);
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        tvdc_policy *p = NULL;
        tvdc_error err = { 0 };
        char *path;

        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        path = examples_path(e->d_name);
        if (tvdc_policy_load_file(path, &p, &err) < 0)
            fail_msg("%s:%u:%u: %s", path, err.line, err.column, err.message);
        tvdc_policy_free(p);
        free(path);
        n++;
    }
    closedir(d);
    assert_true(n >= 2);
}

static void
test_bank_model(void **state)
{
    char *path = examples_path("bank.json");
    tvdc_policy *p = NULL;
    uint32_t types[8];
    (void) state;

    assert_int_equal(tvdc_policy_load_file(path, &p, NULL), 0);
    assert_string_equal(tvdc_policy_name(p), "bank-dc");
    assert_int_equal(tvdc_policy_version(p), 1);
    assert_int_equal(tvdc_policy_n_types(p), 3);
    assert_int_equal(tvdc_policy_n_labels(p), 4);
    assert_int_equal(tvdc_policy_n_conflicts(p), 1);
    assert_int_equal(tvdc_policy_n_hosts(p), 2);
    assert_int_equal(tvdc_find_type(p, "SU"), 1);
    assert_int_equal(tvdc_find_type(p, "su"), -ENOENT);
    assert_int_equal(tvdc_find_label(p, "dual-host"), 3);
    assert_int_equal(tvdc_label_types(p, 3, types, 8), 3);
    assert_int_equal(tvdc_label_types(p, 3, NULL, 0), 3);
    assert_int_equal(tvdc_conflict_types(p, 0, types, 8), 2);
    assert_string_equal(tvdc_type_name(p, types[0]), "MA");
    assert_string_equal(tvdc_type_name(p, types[1]), "SU");
    assert_int_equal(tvdc_host_label(p, tvdc_find_host(p, "host-b")), 3);
    assert_int_equal(tvdc_type_vlan(p, tvdc_find_type(p, "WEB")), 103);
    assert_null(tvdc_type_name(p, 3));
    assert_int_equal(tvdc_policy_flags(p), 0);
    tvdc_policy_free(p);
    free(path);
}

static void
test_binary_round_trip(void **state)
{
    char *path = examples_path("bank.json");
    tvdc_policy *p = NULL, *q = NULL;
    void *img = NULL, *img2 = NULL;
    size_t len, len2;
    char *src;
    size_t srclen;
    uint8_t h[32];
    (void) state;

    assert_int_equal(tv_read_file(path, 1 << 20, &src, &srclen), 0);
    assert_int_equal(tvdc_policy_parse_json(src, srclen, &p, NULL), 0);
    assert_int_equal(tv_sha256(src, srclen, h), 0);
    assert_memory_equal(tvdc_policy_source_hash(p), h, 32);
    assert_int_equal(tvdc_policy_to_binary(p, &img, &len), 0);
    assert_true(tvdc_is_binary_policy(img, len));
    assert_false(tvdc_is_binary_policy(src, srclen));
    assert_int_equal(tvdc_policy_load(img, len, &q, NULL), 0);
    /* Same identity, same answers, same bytes again. */
    assert_memory_equal(tvdc_policy_source_hash(q), h, 32);
    assert_string_equal(tvdc_policy_name(q), "bank-dc");
    for (uint32_t a = 0; a < 4; a++)
        for (uint32_t b = 0; b < 4; b++)
            assert_int_equal(tvdc_labels_share(p, a, b, NULL), tvdc_labels_share(q, a, b, NULL));
    assert_int_equal(tvdc_policy_to_binary(q, &img2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(img, img2, len);
    tvdc_policy_free(p);
    tvdc_policy_free(q);
    free(img);
    free(img2);
    free(src);
    free(path);
}

/* Every single-byte corruption and every truncation is refused. */
static void
test_binary_corruption(void **state)
{
    char *path = examples_path("bank.json");
    tvdc_policy *p = NULL, *q = NULL;
    uint8_t *img = NULL;
    size_t len;
    (void) state;

    assert_int_equal(tvdc_policy_load_file(path, &p, NULL), 0);
    assert_int_equal(tvdc_policy_to_binary(p, (void **) &img, &len), 0);
    for (size_t i = 0; i < len; i++) {
        tvdc_error e = { 0 };
        int r;
        img[i] ^= 0x01;
        r = tvdc_policy_load_binary(img, len, &q, &e);
        if (r != -EBADMSG)
            fail_msg("byte %zu flipped: %d (%s)", i, r, e.message);
        img[i] ^= 0x01;
    }
    for (size_t l = 0; l < len; l += 7) {
        int r = tvdc_policy_load_binary(img, l, &q, NULL);
        if (r != -EBADMSG)
            fail_msg("truncated to %zu: %d", l, r);
    }
    assert_int_equal(tvdc_policy_load_binary(img, len, &q, NULL), 0);
    tvdc_policy_free(q);
    tvdc_policy_free(p);
    free(img);
    free(path);
}

/* A hostile image with a correct hash but bad structure is refused too:
 * the hash is not what makes the loader safe. */
static void
test_binary_structure(void **state)
{
    char *path = examples_path("bank.json");
    tvdc_policy *p = NULL, *q = NULL;
    uint8_t *img = NULL;
    size_t len;
    (void) state;

    assert_int_equal(tvdc_policy_load_file(path, &p, NULL), 0);
    assert_int_equal(tvdc_policy_to_binary(p, (void **) &img, &len), 0);
    for (size_t i = 0; i < len; i++) {
        uint8_t old = img[i];
        img[i] ^= 0x80;
        tv_image_rehash(img, len);
        if (tvdc_policy_load_binary(img, len, &q, NULL) == 0) {
            /* Accepted: then it must still be a sane policy to query. */
            for (uint32_t l = 0; l < tvdc_policy_n_labels(q); l++)
                (void) tvdc_label_types(q, l, NULL, 0);
            tvdc_policy_free(q);
        }
        img[i] = old;
    }
    tvdc_policy_free(p);
    free(img);
    free(path);
}

static void
test_load_errors(void **state)
{
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    (void) state;

    assert_int_equal(tvdc_policy_load_file("/nonexistent/policy.json", &p, &e), -ENOENT);
    assert_non_null(strstr(e.message, "No such file"));
    assert_int_equal(tvdc_policy_load_file("/", &p, &e), -EISDIR);
    assert_int_equal(tvdc_policy_parse_json("{}", 2, NULL, NULL), -EINVAL);
    assert_int_equal(tvdc_policy_parse_json("{\"name\":\"x\"}", 12, &p, &e), -EINVAL);
    assert_string_equal(e.message, "policy: missing field 'version'");
    assert_null(p);
    tvdc_policy_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_valid),
        cmocka_unit_test(test_bank_model),
        cmocka_unit_test(test_binary_round_trip),
        cmocka_unit_test(test_binary_corruption),
        cmocka_unit_test(test_binary_structure),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
