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

static tvdc_policy *
load_policy(const char *name)
{
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    char path[256];

    snprintf(path, sizeof(path), "policies/%s", name);
    if (tvdc_policy_load_file(path, &p, &e) < 0)
        fail_msg("%s:%u:%u: %s", path, e.line, e.column, e.message);
    return p;
}

static void
load_golden(const char *name, char **img, size_t *len)
{
    char path[256];

    snprintf(path, sizeof(path), "policies/%s", name);
    assert_int_equal(tv_read_file(path, 1 << 20, img, len), 0);
}

/* "measure": "required" per label: the accessor, format 3 and its checks,
 * and that every other policy keeps format 1 or 2 byte for byte (the
 * golden files were compiled by the tvdc before "measure" existed:
 * figure3-format1.bin from figure3.json, roles-format2.bin from
 * roles.json). */
static void
test_measure(void **state)
{
    tvdc_policy *p = load_policy("measure.json"), *q = NULL;
    void *img = NULL, *img2 = NULL;
    char *gold = NULL;
    size_t len, len2, glen;
    tvdc_error e = { 0 };
    tv_header *h;
    uint32_t *flags;
    (void) state;

    /* the accessor: required 1, optional and absent 0, out of range 0 */
    assert_int_equal(tvdc_find_label(p, "market-analysis"), 0);
    assert_int_equal(tvdc_find_label(p, "underwriting"), 1);
    assert_int_equal(tvdc_find_label(p, "public-web"), 2);
    assert_int_equal(tvdc_label_measure_required(p, 0), 1);
    assert_int_equal(tvdc_label_measure_required(p, 1), 0);
    assert_int_equal(tvdc_label_measure_required(p, 2), 0);
    assert_int_equal(tvdc_label_measure_required(p, 3), 0);
    assert_int_equal(tvdc_label_measure_required(p, TVDC_NONE), 0);
    assert_int_equal(tvdc_label_measure_required(NULL, 0), 0);
    assert_int_equal(tvdc_label_flags(p, 0),
                     TVDC_LABEL_VTPM_REQUIRED | TVDC_LABEL_MEASURE_REQUIRED);

    /* compiled: format 3, no roles, the same after loading */
    assert_int_equal(tvdc_policy_to_binary(p, &img, &len), 0);
    h = img;
    flags = (uint32_t *) ((uint8_t *) img + h->sec_off[TV_SEC_LABEL_FLAGS]);
    assert_int_equal(h->format, TV_FORMAT_MEASURE);
    assert_int_equal(tvdc_policy_load(img, len, &q, NULL), 0);
    assert_int_equal(tvdc_policy_n_roles(q), 0);
    assert_int_equal(tvdc_label_measure_required(q, 0), 1);
    assert_int_equal(tvdc_label_measure_required(q, 1), 0);
    assert_memory_equal(tvdc_policy_source_hash(q), tvdc_policy_source_hash(p), 32);
    assert_int_equal(tvdc_policy_to_binary(q, &img2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(img, img2, len);
    free(img2);
    tvdc_policy_free(q);
    q = NULL;

    /* format 3 without a label that requires measurement: refused */
    flags[0] = TVDC_LABEL_VTPM_REQUIRED;
    assert_int_equal(tv_image_rehash(img, len), 0);
    assert_int_equal(tvdc_policy_load(img, len, &q, &e), -EBADMSG);
    assert_non_null(strstr(e.message, "format 3 without"));
    /* the measure flag in a format 1 or 2 image: refused */
    flags[0] = TVDC_LABEL_MEASURE_REQUIRED;
    h->format = TV_FORMAT_ROLES;
    assert_int_equal(tv_image_rehash(img, len), 0);
    assert_int_equal(tvdc_policy_load(img, len, &q, &e), -EBADMSG);
    assert_non_null(strstr(e.message, "bad label flags"));
    /* an unknown label flag in format 3: refused */
    h->format = TV_FORMAT_MEASURE;
    flags[0] = 1u << 2 | TVDC_LABEL_MEASURE_REQUIRED;
    assert_int_equal(tv_image_rehash(img, len), 0);
    assert_int_equal(tvdc_policy_load(img, len, &q, &e), -EBADMSG);
    assert_non_null(strstr(e.message, "bad label flags"));
    /* a format after 4: refused by its number */
    h->format = 5;
    assert_int_equal(tv_image_rehash(img, len), 0);
    assert_int_equal(tvdc_policy_load(img, len, &q, &e), -EBADMSG);
    assert_string_equal(e.message,
                        "compiled policy format 5 is not supported (this is format 1 to 4)");
    assert_null(q);
    free(img);
    tvdc_policy_free(p);

    /* with roles: format 3, roles and flags kept */
    p = load_policy("measure-roles.json");
    assert_int_equal(tvdc_policy_to_binary(p, &img, &len), 0);
    assert_int_equal(((tv_header *) img)->format, TV_FORMAT_MEASURE);
    assert_int_equal(tvdc_policy_load(img, len, &q, NULL), 0);
    assert_int_equal(tvdc_policy_n_roles(q), 2);
    assert_string_equal(tvdc_role_name(q, 1), "su-admins");
    assert_int_equal(tvdc_label_measure_required(q, 1), 1);
    assert_int_equal(tvdc_label_measure_required(q, 0), 0);
    free(img);
    tvdc_policy_free(q);
    tvdc_policy_free(p);

    /* only "optional": format 1, the bytes figure3.json compiled to before
     * "measure" existed but for the source hash (the JSON differs) */
    p = load_policy("measure-optional.json");
    assert_int_equal(tvdc_label_flags(p, 0), 0);
    assert_int_equal(tvdc_policy_to_binary(p, &img, &len), 0);
    load_golden("figure3-format1.bin", &gold, &glen);
    assert_int_equal(len, glen);
    memcpy(((tv_header *) img)->source_sha256, ((tv_header *) gold)->source_sha256, 32);
    assert_int_equal(tv_image_rehash(img, len), 0);
    assert_memory_equal(img, gold, len);
    free(img);
    tvdc_policy_free(p);

    /* binaries of the tvdc before "measure" load, nothing measured, and
     * today's compiler writes them byte for byte */
    q = NULL;
    assert_int_equal(tvdc_policy_load(gold, glen, &q, NULL), 0);
    for (uint32_t l = 0; l < tvdc_policy_n_labels(q); l++)
        assert_int_equal(tvdc_label_measure_required(q, l), 0);
    tvdc_policy_free(q);
    p = load_policy("figure3.json");
    assert_int_equal(tvdc_policy_to_binary(p, &img, &len), 0);
    assert_int_equal(len, glen);
    assert_memory_equal(img, gold, len);
    free(img);
    free(gold);
    tvdc_policy_free(p);

    load_golden("roles-format2.bin", &gold, &glen);
    assert_int_equal(tvdc_policy_load(gold, glen, &q, NULL), 0);
    assert_int_equal(tvdc_policy_n_roles(q), 3);
    tvdc_policy_free(q);
    p = load_policy("roles.json");
    assert_int_equal(tvdc_policy_to_binary(p, &img, &len), 0);
    assert_int_equal(((tv_header *) img)->format, TV_FORMAT_ROLES);
    assert_int_equal(len, glen);
    assert_memory_equal(img, gold, len);
    free(img);
    free(gold);
    tvdc_policy_free(p);
}

/* "attest_fail": each action kept per label, format 4 only with one other
 * than "report", the bits refused in older formats */
static void
test_attest_fail(void **state)
{
    tvdc_policy *p = load_policy("attest-fail.json"), *q = NULL;
    static const tvdc_attest_action want[] = {
        TVDC_ATTEST_QUARANTINE, TVDC_ATTEST_PAUSE, TVDC_ATTEST_SHUTDOWN,
        TVDC_ATTEST_REPORT, TVDC_ATTEST_REPORT,
    };
    void *img = NULL;
    size_t len;
    tvdc_error e = { 0 };
    uint32_t *flags;
    tv_header *h;
    (void) state;

    for (uint32_t l = 0; l < 5; l++)
        assert_int_equal(tvdc_label_attest_fail(p, l), want[l]);
    assert_int_equal(tvdc_label_measure_required(p, 0), 1);
    assert_int_equal(tvdc_label_attest_fail(p, 99), TVDC_ATTEST_REPORT);
    assert_int_equal(tvdc_label_attest_fail(NULL, 0), TVDC_ATTEST_REPORT);
    assert_string_equal(tvdc_attest_action_name(TVDC_ATTEST_QUARANTINE), "quarantine");
    assert_null(tvdc_attest_action_name(_TVDC_ATTEST_ACTION_MAX));
    assert_int_equal(tvdc_attest_action_from_name("shutdown"), TVDC_ATTEST_SHUTDOWN);
    assert_int_equal(tvdc_attest_action_from_name("Shutdown"), -EINVAL);
    assert_int_equal(tvdc_attest_action_from_name(NULL), -EINVAL);

    assert_int_equal(tvdc_policy_to_binary(p, &img, &len), 0);
    h = img;
    assert_int_equal(h->format, TV_FORMAT_ATTEST);
    assert_int_equal(tvdc_policy_load(img, len, &q, NULL), 0);
    for (uint32_t l = 0; l < 5; l++)
        assert_int_equal(tvdc_label_attest_fail(q, l), want[l]);
    assert_int_equal(tvdc_label_measure_required(q, 0), 1);
    tvdc_policy_free(q);
    q = NULL;

    flags = (uint32_t *) ((uint8_t *) img + h->sec_off[TV_SEC_LABEL_FLAGS]);
    /* an action in a format 3 image: refused, not dropped */
    h->format = TV_FORMAT_MEASURE;
    assert_int_equal(tv_image_rehash(img, len), 0);
    assert_int_equal(tvdc_policy_load(img, len, &q, &e), -EBADMSG);
    assert_non_null(strstr(e.message, "bad label flags"));
    /* format 4 without an action: refused */
    h->format = TV_FORMAT_ATTEST;
    for (uint32_t l = 0; l < 5; l++)
        flags[l] &= ~TVDC_LABEL_ATTEST_FAIL_MASK;
    assert_int_equal(tv_image_rehash(img, len), 0);
    assert_int_equal(tvdc_policy_load(img, len, &q, &e), -EBADMSG);
    assert_non_null(strstr(e.message, "format 4 without"));
    assert_null(q);
    free(img);
    tvdc_policy_free(p);

    /* "report" everywhere: not format 4 (the measure flag makes it 3) */
    p = load_policy("measure.json");
    assert_int_equal(tvdc_policy_to_binary(p, &img, &len), 0);
    assert_int_equal(((tv_header *) img)->format, TV_FORMAT_MEASURE);
    free(img);
    tvdc_policy_free(p);
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
        cmocka_unit_test(test_measure),
        cmocka_unit_test(test_attest_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
