/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tv_json_locate() and tv_json_find_duplicate_key(): positions of paths in a
 * policy-like document, duplicate keys as json-c would silently merge them,
 * and malformed, truncated, mutated and huge inputs.  Every call gets a copy
 * of the text in a buffer of exactly its length, with no NUL after it, so
 * that an over-read shows under ASan.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "internal.h"
#include "test-data.h"

#define MAX_STEPS 16

static int locate(const char *text, size_t len, const tv_json_step *path,
                  size_t n, size_t *off)
{
    char *b = malloc(len ? len : 1);
    int r;

    assert_non_null(b);
    memcpy(b, text, len);
    r = tv_json_locate(b, len, path, n, off);
    free(b);
    return r;
}

static int find_dup(const char *text, size_t len, size_t *off, char **key,
                    char **where)
{
    char *b = malloc(len ? len : 1);
    int r;

    assert_non_null(b);
    memcpy(b, text, len);
    r = tv_json_find_duplicate_key(b, len, off, key, where);
    free(b);
    return r;
}

/* "labels[3].types[1]" -> steps; keys here hold no '.' or '['. */
static size_t parse_path(const char *p, tv_json_step *steps,
                         char keys[][64])
{
    size_t n = 0;

    while (*p) {
        assert_true(n < MAX_STEPS);
        if (*p == '.')
            p++;
        if (*p == '[') {
            char *end;

            steps[n] = (tv_json_step) { .key = NULL, .index = strtoul(p + 1, &end, 10) };
            assert_true(*end == ']');
            p = end + 1;
        } else {
            size_t l = strcspn(p, ".[");

            assert_true(l > 0 && l < 64);
            memcpy(keys[n], p, l);
            keys[n][l] = 0;
            steps[n] = (tv_json_step) { .key = keys[n] };
            p += l;
        }
        n++;
    }
    return n;
}

/* 1-based line and column (in bytes) of off. */
static void line_col(const char *buf, size_t off, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else
            (*col)++;
    }
}

/* A policy-shaped document (policies/locate-doc.json: not a valid policy,
 * every kind of JSON value), read by main(). */
static char *doc;

static const struct {
    const char *path;
    unsigned line, col;
} doc_cases[] = {
    /* present */
    { "",                          2,  3 },
    { "name",                      3, 13 },
    { "version",                   4, 16 },
    { "types",                     5, 14 },
    { "types[0]",                  5, 15 },
    { "types[1]",                  5, 21 },
    { "types[2]",                  5, 27 },
    { "labels",                    6, 15 },
    { "labels[0]",                 7,  7 },
    { "labels[0].name",            7, 16 },
    { "labels[0].types",           7, 44 },
    { "labels[1].types",           8, 44 },
    { "labels[1].types[0]",        8, 45 },
    { "labels[3]",                10,  7 },
    { "labels[3].types[1]",       10, 51 },
    { "conflicts",                12, 18 },
    { "conflicts[0]",             12, 19 },
    { "conflicts[0][1]",          12, 26 },
    { "hosts",                    13, 14 },
    { "hosts.h1",                 13, 21 },
    { "nums",                     14, 13 },
    { "nums[0]",                  14, 14 },
    { "nums[1]",                  14, 23 },
    { "nums[2]",                  14, 26 },
    { "nums[3]",                  14, 31 },
    { "nums[3].deep",             14, 40 },
    { "nums[3].deep[0]",          14, 41 },
    { "nums[3].deep[0][0]",       14, 42 },
    { "nums[3].deep[1]",          14, 47 },
    { "nums[3].deep[1][0][0]",    14, 49 },
    { "tricky",                   15, 15 },
    /* missing: the deepest container reached */
    { "nope",                      2,  3 },
    { "Name",                      2,  3 },
    { "labels[4]",                 6, 15 },
    { "labels[99999999]",          6, 15 },
    { "labels[3].nope",           10,  7 },
    { "hosts.h2",                 13, 14 },
    { "nums[9]",                  14, 13 },
    { "nums[3].deep[0][0].x",     14, 42 },
    { "nums[3].deep[0][1]",       14, 41 },
    /* type mismatches */
    { "name[0]",                   2,  3 },
    { "name.x",                    2,  3 },
    { "version.x.y.z",             2,  3 },
    { "types.x",                   5, 14 },
    { "labels[0][0]",              7,  7 },
    { "labels[1].types[0].x",      8, 44 },
    { "nums[3].deep[1][0][0][0]", 14, 48 },
    { "hosts[0]",                 13, 14 },
};

static void test_locate_doc(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(doc_cases); i++) {
        tv_json_step steps[MAX_STEPS];
        char keys[MAX_STEPS][64];
        size_t n = parse_path(doc_cases[i].path, steps, keys), off = SIZE_MAX;
        unsigned line, col;

        assert_int_equal(locate(doc, strlen(doc), steps, n, &off), 0);
        assert_true(off < strlen(doc));
        line_col(doc, off, &line, &col);
        if (line != doc_cases[i].line || col != doc_cases[i].col)
            fail_msg("%s: got %u:%u, want %u:%u", doc_cases[i].path, line, col,
                     doc_cases[i].line, doc_cases[i].col);
    }
}

/* Keys that need decoding; steps hold the decoded key.  The values are
 * distinct numbers, so the expected offset is that of ": <value>" + 2. */
static void test_locate_escaped_keys(void **state)
{
    static const char text[] =
        "{\"a\\\"b\": 101, \"\\u0063\": 102, \"\\/\": 103, \"\\u00e9t\\u00E9\": 104, "
        "\"\\ud83d\\ude00\": 105, \"tab\\t\": 106, \"x\\u0000y\": 107, \"plain\": 108, "
        "\"\\\\u0063\": 109}";
    static const struct {
        const char *key;
        const char *value;   /* NULL: not there, the root */
    } cases[] = {
        { "a\"b",                     "101" },
        { "c",                        "102" },
        { "/",                        "103" },
        { "\xc3\xa9t\xc3\xa9",        "104" },
        { "\xf0\x9f\x98\x80",         "105" },
        { "tab\t",                    "106" },
        { "x",                        "107" },  /* json-c's key ends at the NUL */
        { "plain",                    "108" },
        { "\\u0063",                  "109" },
        { "x\\u0000y",                NULL },
        { "a\\\"b",                   NULL },
        { "\\ud83d\\ude00",           NULL },
        { "",                         NULL },
    };

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        tv_json_step step = { .key = cases[i].key };
        size_t off = SIZE_MAX, want = 0;

        if (cases[i].value) {
            char m[8];

            snprintf(m, sizeof(m), ": %s", cases[i].value);
            assert_non_null(strstr(text, m));
            want = strstr(text, m) - text + 2;
        }
        assert_int_equal(locate(text, strlen(text), &step, 1, &off), 0);
        if (off != want)
            fail_msg("key #%zu: got %zu, want %zu", i, off, want);
    }
}

/* Small documents: the expected offset is where marker starts. */
static void test_locate_misc(void **state)
{
    static const struct {
        const char *text, *path, *marker;
    } cases[] = {
        /* json-c keeps the last of repeated keys, so does the lookup */
        { "{\"a\": {\"b\": 1}, \"a\": {\"c\": 2}}", "a",   "{\"c\"" },
        { "{\"a\": {\"b\": 1}, \"a\": {\"c\": 2}}", "a.b", "{\"c\"" },
        { "{\"a\": {\"b\": 1}, \"a\": {\"c\": 2}}", "a.c", "2" },
        { "{\"a\": [1, 2], \"a\": 5}",              "a[1]", "{" },
        { "{\"a\": 5, \"a\": [1, 2]}",              "a[1]", "2" },
        /* scalars and whitespace at the root */
        { "  42  ",                                 "",    "42" },
        { "  42  ",                                 "x",   "42" },
        { "\n\t\r [ ]",                             "",    "[" },
        { "\n\t\r [ ]",                             "[0]", "[" },
        { "\"str\"",                                "[0]", "\"" },
        { "true",                                   "",    "true" },
        { "null",                                   "a",   "null" },
        { "-0.5E-7",                                "",    "-" },
        /* brackets and quotes inside strings do not count */
        { "{\"x\": \"]}\\\"[{,:\", \"y\": 1}",      "y",   "1" },
        { "{\"x\": \"\\\\\", \"y\": 1}",            "y",   "1" },
        /* the root and containers around whitespace */
        { "[ [ ] , [ 1 , { \"k\" : 3 } ] ]",        "[1][1].k", "3" },
        { "[ [ ] , [ 1 , { \"k\" : 3 } ] ]",        "[1][1]",   "{" },
        { "[ [ ] , [ 1 , { \"k\" : 3 } ] ]",        "[0][0]",   "[ ] ," },
        /* json-c strict mode takes these */
        { "[01, 1., -.5, 1.e5, NaN, -Infinity, Infinity, 7]", "[7]", "7" },
        { "[\"\x01\xff\", 7]",                      "[1]", "7" },
        { "{'a\"b': 1, 'c': 2}",                   "c",   "2" },
    };

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        tv_json_step steps[MAX_STEPS];
        char keys[MAX_STEPS][64];
        size_t n = parse_path(cases[i].path, steps, keys), off = SIZE_MAX;
        const char *m = strstr(cases[i].text, cases[i].marker);

        assert_non_null(m);
        assert_int_equal(locate(cases[i].text, strlen(cases[i].text), steps, n, &off), 0);
        if (off != (size_t) (m - cases[i].text))
            fail_msg("%s / %s: got %zu, want %zu", cases[i].text, cases[i].path, off,
                     (size_t) (m - cases[i].text));
    }
}

/* Expected offset: where marker starts (the repeated key's quote). */
static const struct {
    const char *text, *key, *where, *marker;
} dup_cases[] = {
    { "{\"name\":\"a\",\"name\":\"b\"}", "name", "", "\"name\":\"b\"" },
    { "{\"labels\":[{\"name\":\"x\",\"types\":[\"A\"]},"
      "{\"name\":\"y\",\"types\":[],\"types\":[\"B\"]}]}",
      "types", "labels[1]", "\"types\":[\"B\"]" },
    { "[{\"a\":1},{\"b\":1,\"b\":2}]", "b", "[1]", "\"b\":2" },
    { "{\"a\":{\"b\":[0,{\"c\":{\"d\":1,\"d\":2}}]}}", "d", "a.b[1].c", "\"d\":2" },
    { "{\"x\":[{\"y\":[{},{\"q\":0,\"q\":1}]}]}", "q", "x[0].y[1]", "\"q\":1" },
    { "[[],[{\"k\":\"v\"},{\"k\":1,\"k\":2}]]", "k", "[1][1]", "\"k\":2" },
    /* compared after decoding */
    { "{\"a\":1,\"\\u0061\":2}", "a", "", "\"\\u0061\"" },
    { "{\"\\u0061\":1,\"a\":2}", "a", "", "\"a\"" },
    { "{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", "\xf0\x9f\x98\x80", "",
      "\"\xf0\x9f\x98\x80\"" },
    { "{\"\\/\":1,\"/\":2}", "/", "", "\"/\"" },
    { "{\"a\\nb\":1,\"a\\u000ab\":2}", "a\nb", "", "\"a\\u000ab\"" },
    { "{\"\\\"\":1,\"\\u0022\":2}", "\"", "", "\"\\u0022\"" },
    { "{\"\\ud800\":1,\"\\udbff\":2}", "\xef\xbf\xbd", "", "\"\\udbff\"" },
    /* json-c stores keys as C strings: both are "a" to it */
    { "{\"a\\u0000x\":1,\"a\":2}", "a", "", "\"a\":2" },
    /* the first repeat in the text wins, whichever object closes first */
    { "{\"a\":{\"x\":1,\"x\":2},\"a\":3}", "x", "a", "\"x\":2" },
    { "{\"b\":1,\"b\":{\"x\":1,\"x\":2}}", "b", "", "\"b\":{" },
    { "{\"a\":{\"b\":{\"k\":1,\"k\":{\"z\":1,\"z\":2}}}}", "k", "a.b", "\"k\":{" },
    { "{\"a\":1,\"b\":1,\"b\":2,\"a\":2}", "b", "", "\"b\":2" },
    { "{\"a\":1,\"a\":2,\"a\":3}", "a", "", "\"a\":2" },
    { "{\"o\":{\"p\":1},\"o2\":{\"p\":1},\"o\":2}", "o", "", "\"o\":2" },
    { "{\"\":1,\"\":2}", "", "", "\"\":2" },
    { "{ \"k\" : 1 ,\n \"k\"\n:\n2 }", "k", "", "\"k\"\n" },
    /* json-c takes single-quoted keys even in strict mode */
    { "{'a':1,\"a\":2}", "a", "", "\"a\":2" },
    { "{\"a\":1,'\\u0061':2}", "a", "", "'" },
    { "{'\"':1,\"\\\"\":2}", "\"", "", "\"\\\"\":2" },
    { "[1,{\"a\":{},\"a\":{\"b\":1,\"b\":2}}]", "a", "[1]", "\"a\":{\"b\"" },
};

static void test_duplicates(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(dup_cases); i++) {
        const char *t = dup_cases[i].text;
        const char *m = strstr(t, dup_cases[i].marker);
        _cleanup_free_ char *key = NULL, *where = NULL;
        size_t off = SIZE_MAX;
        int r;

        assert_non_null(m);
        r = find_dup(t, strlen(t), &off, &key, &where);
        if (r != 1)
            fail_msg("%s: got %d", t, r);
        assert_string_equal(key, dup_cases[i].key);
        assert_string_equal(where, dup_cases[i].where);
        if (off != (size_t) (m - t))
            fail_msg("%s: got %zu, want %zu", t, off, (size_t) (m - t));
    }
}

static void test_no_duplicates(void **state)
{
    const char *const cases[] = {
        doc,    /* "name" and "types" in every label: different objects */
        "{\"ab\":1,\"a\":2,\"abc\":3,\"b\":4}",
        "{\"a\":{\"a\":{\"a\":1}}}",
        "[{\"n\":1},{\"n\":2}]",
        "{\"a\":{\"name\":1},\"b\":{\"name\":2},\"name\":3}",
        "{\"A\":1,\"a\":2}",
        "{\"a\\u0000\":1}",
        "{\"\\u00e9\":1,\"e\\u0301\":2}",   /* no Unicode normalization */
        "{\"x\":\"x\",\"y\":\"x\"}",
        "{\"\\ud83d\\ude00\":1,\"\\ud83d\\ude01\":2}",
        "1", "[]", "{}", "\"s\"", "[{}, {}, [[]]]",
    };

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        char *key = (char *) 0x1, *where = (char *) 0x1;
        size_t off = 7;

        /* outputs untouched when there is nothing to report */
        assert_int_equal(find_dup(cases[i], strlen(cases[i]), &off, &key, &where), 0);
        assert_true(key == (char *) 0x1 && where == (char *) 0x1 && off == 7);
    }
}

static const char *const malformed[] = {
    "", " ", "\n\t",
    "{", "[", "}", "]", ",", ":", "[}", "{]", "[1]]", "{\"a\":1}}", "[1] x", "1 2",
    "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
    "{1:2}", "{a:1}", "{\"a\":'x'}", "['x']", "{'a\\'':1}", "{'a\":1}",
    "{,}", "{\"a\":1,}", "[1,]", "[,1]", "[1,,2]", "[1 2]",
    "\"abc", "\"\\", "\"\\\"", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\u\"",
    "\"\\ud83d\\u", "\"\\ud83d\\ude0", "\"\\U0041\"",
    "tru", "nul", "fals", "falsey", "True", "nan", "-", "--1", "+1", ".5", "-.", "1e",
    "1e+", "1E-", "-Inf", "0x10", "[1]/*c*/", "// c\n1", "\xef\xbb\xbf{}",
    "[\"a\" : 1]", "{\"a\":1:2}", "{\"a\"::1}",
};

static void test_malformed(void **state)
{
    for (size_t i = 0; i < ELEMENTSOF(malformed); i++) {
        const char *t = malformed[i];
        tv_json_step step = { .key = "a" };
        char *key = (char *) 0x1, *where = (char *) 0x1;
        size_t off = 7;
        int r;

        r = locate(t, strlen(t), NULL, 0, &off);
        if (r != -EINVAL)
            fail_msg("locate %s: got %d", t, r);
        assert_int_equal(locate(t, strlen(t), &step, 1, &off), -EINVAL);
        r = find_dup(t, strlen(t), &off, &key, &where);
        if (r != -EINVAL)
            fail_msg("find_dup %s: got %d", t, r);
        assert_true(key == (char *) 0x1 && where == (char *) 0x1 && off == 7);
    }

    /* bad arguments */
    {
        size_t off;
        char *key, *where;

        assert_int_equal(tv_json_locate(NULL, 0, NULL, 0, &off), -EINVAL);
        assert_int_equal(tv_json_locate(NULL, 5, NULL, 0, &off), -EINVAL);
        assert_int_equal(tv_json_locate("1", 1, NULL, 1, &off), -EINVAL);
        assert_int_equal(tv_json_locate("1", 1, NULL, 0, NULL), -EINVAL);
        assert_int_equal(tv_json_find_duplicate_key(NULL, 3, &off, &key, &where), -EINVAL);
        assert_int_equal(tv_json_find_duplicate_key("1", 1, NULL, &key, &where), -EINVAL);
    }
}

/* Every proper prefix of the document is not JSON. */
static void test_truncated(void **state)
{
    size_t end = strrchr(doc, '}') - doc + 1;

    for (size_t l = 0; l < end; l++) {
        tv_json_step steps[MAX_STEPS];
        char keys[MAX_STEPS][64];
        size_t n = parse_path("labels[3].types[1]", steps, keys), off;
        char *key, *where;

        assert_int_equal(locate(doc, l, steps, n, &off), -EINVAL);
        assert_int_equal(find_dup(doc, l, &off, &key, &where), -EINVAL);
    }
}

/* Single-byte changes and deletions anywhere: any answer but no crash, no
 * leak, and offsets inside the buffer. */
static void test_mutations(void **state)
{
    static const char repl[] = { '"', '\\', '{', '}', '[', ']', ',', ':', '0', 'u',
                                 'd', 'e', '-', ' ', '\0', (char) 0xff };
    static const char base[] =
        "{\"a\\u0041\":[1,-2.5e3,{\"b\":\"\\ud83d\\ude00\\n\",\"b\":null}],"
        "\"c\":{\"\\\"\":true,\"d\":[[],{}]},\"a\\u0041\":false}";
    size_t len = strlen(base);
    tv_json_step steps[MAX_STEPS];
    char keys[MAX_STEPS][64];
    size_t n = parse_path("c.d[1]", steps, keys);
    char *m = malloc(len);

    assert_non_null(m);
    for (size_t i = 0; i < len; i++)
        for (size_t k = 0; k <= ELEMENTSOF(repl); k++) {
            _cleanup_free_ char *key = NULL, *where = NULL;
            size_t l = len, off;
            int r;

            memcpy(m, base, len);
            if (k < ELEMENTSOF(repl))
                m[i] = repl[k];
            else {
                memmove(m + i, m + i + 1, len - i - 1);
                l--;
            }
            r = locate(m, l, steps, n, &off);
            assert_true(r == 0 || r == -EINVAL);
            if (r == 0)
                assert_true(off < l);
            r = find_dup(m, l, &off, &key, &where);
            assert_true(r == 0 || r == 1 || r == -EINVAL);
            if (r == 1) {
                assert_true(off < l && m[off] == '"');
                assert_non_null(key);
                assert_non_null(where);
            }
        }
    free(m);

    /* the unmutated text: the repeat of "b" comes before that of "aA" */
    {
        _cleanup_free_ char *key = NULL, *where = NULL;
        size_t off;

        assert_int_equal(find_dup(base, len, &off, &key, &where), 1);
        assert_string_equal(key, "b");
        assert_string_equal(where, "aA[2]");
        assert_int_equal(off, strstr(base, "\"b\":null") - base);
    }
}

static char *repeat(const char *s, size_t times)
{
    size_t l = strlen(s);
    char *b = malloc(l * times + 1);

    assert_non_null(b);
    for (size_t i = 0; i < times; i++)
        memcpy(b + i * l, s, l);
    b[l * times] = 0;
    return b;
}

static void test_deep(void **state)
{
    /* 10000 nested arrays is the limit */
    for (size_t depth = 9999; depth <= 10001; depth++) {
        _cleanup_free_ char *open = repeat("[", depth), *close = repeat("]", depth);
        _cleanup_free_ char *t = NULL;
        _cleanup_free_ tv_json_step *steps = calloc(depth + 1, sizeof(*steps));
        char *key, *where;
        size_t off = SIZE_MAX;
        int want = depth <= 10000 ? 0 : -EINVAL;

        assert_non_null(steps);
        assert_true(asprintf(&t, "%s%s", open, close) > 0);
        /* index 0 all the way down: the innermost array, then one step too
         * far, which stops at the same (empty) array */
        assert_int_equal(locate(t, strlen(t), steps, depth - 1, &off), want);
        if (want == 0)
            assert_int_equal(off, depth - 1);
        off = SIZE_MAX;
        assert_int_equal(locate(t, strlen(t), steps, depth + 1, &off), want);
        if (want == 0)
            assert_int_equal(off, depth - 1);
        assert_int_equal(find_dup(t, strlen(t), &off, &key, &where), want);
    }

    /* unbalanced and far too deep */
    {
        _cleanup_free_ char *t = repeat("[", 1000000);
        char *key, *where;
        size_t off;

        assert_int_equal(locate(t, strlen(t), NULL, 0, &off), -EINVAL);
        assert_int_equal(find_dup(t, strlen(t), &off, &key, &where), -EINVAL);
    }

    /* a repeat in the innermost of 5000 objects, repeats after each */
    {
        const size_t levels = 5000;
        _cleanup_free_ char *open = repeat("{\"a\":", levels);
        _cleanup_free_ char *close = repeat(",\"a\":0}", levels);
        _cleanup_free_ char *path = repeat("a.", levels);
        _cleanup_free_ char *t = NULL, *key = NULL, *where = NULL;
        size_t off;

        path[2 * levels - 1] = 0;
        assert_true(asprintf(&t, "%s{\"k\":1,\"k\":2}%s", open, close) > 0);
        assert_int_equal(find_dup(t, strlen(t), &off, &key, &where), 1);
        assert_string_equal(key, "k");
        assert_string_equal(where, path);
        assert_int_equal(off, strstr(t, "\"k\":2") - t);
    }

    /* repeats before each of 5000 nested objects: the outermost comes
     * first in the text although it is checked last */
    {
        const size_t levels = 5000;
        _cleanup_free_ char *open = repeat("{\"a\":0,\"a\":", levels);
        _cleanup_free_ char *close = repeat("}", levels);
        _cleanup_free_ char *t = NULL, *key = NULL, *where = NULL;
        size_t off;

        assert_true(asprintf(&t, "%s{\"k\":1,\"k\":2}%s", open, close) > 0);
        assert_int_equal(find_dup(t, strlen(t), &off, &key, &where), 1);
        assert_string_equal(key, "a");
        assert_string_equal(where, "");
        assert_int_equal(off, 7);
    }
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* {"k0":0,...,"k99999":99999} followed by extra, then "}". */
static char *big_object(size_t n, const char *extra)
{
    size_t cap = n * 24 + strlen(extra) + 8, l = 0;
    char *b = malloc(cap);

    assert_non_null(b);
    b[l++] = '{';
    for (size_t i = 0; i < n; i++)
        l += snprintf(b + l, cap - l, "%s\"k%zu\":%zu", i ? "," : "", i, i);
    l += snprintf(b + l, cap - l, "%s}", extra);
    return b;
}

static void test_many_keys(void **state)
{
    const size_t n = 100000;
    double t0;

    {
        _cleanup_free_ char *t = big_object(n, ""), *key = NULL, *where = NULL;
        tv_json_step step = { .key = "k99999" };
        size_t off = SIZE_MAX;

        t0 = now();
        assert_int_equal(find_dup(t, strlen(t), &off, &key, &where), 0);
        assert_true(now() - t0 < 1.0);
        assert_int_equal(locate(t, strlen(t), &step, 1, &off), 0);
        assert_int_equal(off, strstr(t, "\"k99999\":") - t + 9);
    }

    {
        _cleanup_free_ char *t = big_object(n, ",\"k5\":1,\"k7\":2"), *key = NULL,
                            *where = NULL;
        size_t off = SIZE_MAX;

        t0 = now();
        assert_int_equal(find_dup(t, strlen(t), &off, &key, &where), 1);
        assert_true(now() - t0 < 1.0);
        assert_string_equal(key, "k5");
        assert_string_equal(where, "");
        assert_int_equal(off, strstr(t, ",\"k5\":1,\"k7\"") - t + 1);
    }

    /* the same key 100000 times */
    {
        _cleanup_free_ char *body = repeat("\"same\":0,", n), *t = NULL, *key = NULL,
                            *where = NULL;
        size_t off = SIZE_MAX;

        assert_true(asprintf(&t, "[{%s\"end\":1}]", body) > 0);
        t0 = now();
        assert_int_equal(find_dup(t, strlen(t), &off, &key, &where), 1);
        assert_true(now() - t0 < 1.0);
        assert_string_equal(key, "same");
        assert_string_equal(where, "[0]");
        assert_int_equal(off, 2 + strlen("\"same\":0,"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locate_doc),
        cmocka_unit_test(test_locate_escaped_keys),
        cmocka_unit_test(test_locate_misc),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_no_duplicates),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_deep),
        cmocka_unit_test(test_many_keys),
    };

    int r;

    doc = test_data("policies/locate-doc.json", NULL);
    r = cmocka_run_group_tests(tests, NULL, NULL);
    free(doc);
    return r;
}
