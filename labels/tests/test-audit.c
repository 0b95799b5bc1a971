/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The audit log: every record is one line of JSON with the documented
 * fields, files and directories are created private, and concurrent
 * appenders in several processes lose and mangle no line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "internal.h"

static char *
make_tmpdir(void)
{
    char tmpl[] = "/tmp/test-audit.XXXXXX";
    char *d = mkdtemp(tmpl);

    assert_non_null(d);
    return strdup(d);
}

static void
rm_rf(const char *path)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

/* All lines of a file; each must end in '\n'. */
static char **
read_lines(const char *path, size_t *n)
{
    char *buf = NULL;
    size_t len = 0, count = 0;
    char **lines;

    assert_int_equal(tv_read_file(path, 64 << 20, &buf, &len), 0);
    assert_true(len == 0 || buf[len - 1] == '\n');
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n')
            count++;
    lines = calloc(count + 1, sizeof(*lines));
    assert_non_null(lines);
    count = 0;
    for (char *s = buf, *e; (e = strchr(s, '\n')); s = e + 1)
        lines[count++] = strndup(s, e - s);
    free(buf);
    *n = count;
    return lines;
}

static void
free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static json_object *
parse_line(const char *line)
{
    json_tokener *tok = json_tokener_new();
    json_object *o;

    assert_non_null(tok);
    o = json_tokener_parse_ex(tok, line, (int) strlen(line));
    if (!o || json_tokener_get_error(tok) != json_tokener_success)
        fail_msg("not one JSON object: %s", line);
    /* the whole line is the object */
    assert_int_equal(json_tokener_get_parse_end(tok), strlen(line));
    json_tokener_free(tok);
    assert_true(json_object_is_type(o, json_type_object));
    return o;
}

static const char *
get_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no field %s", key);
    if (json_object_is_type(v, json_type_null))
        return NULL;
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

/* ------------------------------------------------------------------------ */

typedef struct rec_case {
    tvdc_audit_record r;
    const char *time;   /* expected, NULL: about now */
} rec_case;

static const rec_case rec_cases[] = {
    { { .time_usec = 1700000000123456, .host = "host-a", .operation = "start",
        .vm_name = "ma-1", .vm_uuid = "6b9f2a7c-0b1e-4f7a-9d3e-1f2a3b4c5d6e",
        .label = "market-analysis", .decision = "deny", .rule = "conflict",
        .detail = "collocation: type MA of label market-analysis conflicts with "
                  "running type SU (label underwriting) in conflict set chinese-wall",
        .policy_name = "bank-dc", .policy_version = 3 },
      "2023-11-14T22:13:20.123456Z" },
    { { .time_usec = 1000000, .host = "host-b", .operation = "define",
        .vm_name = "plain", .vm_uuid = "00000000-0000-0000-0000-000000000001",
        .label = NULL, .decision = "permit", .rule = "ok", .detail = NULL,
        .policy_name = "bank-dc", .policy_version = 4294967295u },
      "1970-01-01T00:00:01.000000Z" },
    { { .time_usec = 1, .host = "host-a", .operation = "hotplug", .vm_name = "we\"ird\nname\\",
        .vm_uuid = NULL, .label = "public-web", .decision = "would-deny",
        .rule = "no-shared-type", .detail = "line one\nline two\t\x01 / \xc3\xa9",
        .policy_name = NULL, .policy_version = 0 },
      "1970-01-01T00:00:00.000001Z" },
    { { .time_usec = -1, .operation = "start", .decision = "deny" },
      "1969-12-31T23:59:59.999999Z" },
    { { .time_usec = 0, .host = "host-a", .operation = "migrate-in", .vm_name = "now",
        .decision = "permit", .rule = "ok", .policy_name = "p", .policy_version = 1 },
      NULL },
};

static void
check_record(json_object *o, const rec_case *c)
{
    const tvdc_audit_record *r = &c->r;
    static const char *const keys[] = {
        "time", "host", "operation", "vm_name", "vm_uuid", "label", "decision",
        "rule", "detail", "policy_name", "policy_version",
    };
    json_object *v;
    size_t i = 0;

    /* exactly these fields, in this order */
    json_object_object_foreach(o, key, val) {
        (void) val;
        assert_true(i < ELEMENTSOF(keys));
        assert_string_equal(key, keys[i]);
        i++;
    }
    assert_int_equal(i, ELEMENTSOF(keys));

#define CHECK_STR(field) do { \
        const char *got = get_str(o, #field); \
        if (r->field) { \
            assert_non_null(got); \
            assert_string_equal(got, r->field); \
        } else { \
            assert_null(got); \
        } \
    } while (0)
    CHECK_STR(host);
    CHECK_STR(operation);
    CHECK_STR(vm_name);
    CHECK_STR(vm_uuid);
    CHECK_STR(label);
    CHECK_STR(decision);
    CHECK_STR(rule);
    CHECK_STR(detail);
    CHECK_STR(policy_name);
#undef CHECK_STR

    assert_true(json_object_object_get_ex(o, "policy_version", &v));
    assert_true(json_object_is_type(v, json_type_int));
    assert_int_equal(json_object_get_int64(v), (int64_t) r->policy_version);

    if (c->time) {
        assert_string_equal(get_str(o, "time"), c->time);
    } else {
        const char *t = get_str(o, "time");
        struct tm tm = { 0 };
        char *end;
        time_t then, now = time(NULL);

        assert_int_equal(strlen(t), strlen("2023-11-14T22:13:20.123456Z"));
        end = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
        assert_non_null(end);
        assert_true(end[0] == '.' && end[7] == 'Z');
        then = timegm(&tm);
        assert_true(then <= now && now - then < 60);
    }
}

static void
test_records(void **state)
{
    char *dir = make_tmpdir();
    char path[512];
    struct stat st;
    char **lines;
    size_t n;

    /* directories that do not exist yet are made private */
    snprintf(path, sizeof(path), "%s/var/log/tvdc/audit.log", dir);
    for (size_t i = 0; i < ELEMENTSOF(rec_cases); i++)
        assert_int_equal(tvdc_audit_append(path, &rec_cases[i].r), 0);

    lines = read_lines(path, &n);
    assert_int_equal(n, ELEMENTSOF(rec_cases));
    for (size_t i = 0; i < n; i++) {
        json_object *o = parse_line(lines[i]);

        print_message("%s\n", lines[i]);
        check_record(o, &rec_cases[i]);
        json_object_put(o);
    }
    free_lines(lines, n);

    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    snprintf(path, sizeof(path), "%s/var/log/tvdc", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/var", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);

    rm_rf(dir);
    free(dir);
}

static void
test_existing_file(void **state)
{
    char *dir = make_tmpdir();
    char path[512];
    struct stat st;
    FILE *f;
    char **lines;
    size_t n;

    /* an existing log is appended to; its mode is the operator's choice */
    snprintf(path, sizeof(path), "%s/audit.log", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"old\":1}\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0640), 0);

    assert_int_equal(tvdc_audit_append(path, &rec_cases[0].r), 0);
    lines = read_lines(path, &n);
    assert_int_equal(n, 2);
    assert_string_equal(lines[0], "{\"old\":1}");
    free_lines(lines, n);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);

    rm_rf(dir);
    free(dir);
}

static void
test_errors(void **state)
{
    char *dir = make_tmpdir();
    char path[512];
    tvdc_audit_record r = rec_cases[0].r;
    struct stat st;

    snprintf(path, sizeof(path), "%s/audit.log", dir);

    assert_int_equal(tvdc_audit_append(NULL, &r), -EINVAL);
    assert_int_equal(tvdc_audit_append("", &r), -EINVAL);
    assert_int_equal(tvdc_audit_append(path, NULL), -EINVAL);
    r.decision = "allow";
    assert_int_equal(tvdc_audit_append(path, &r), -EINVAL);
    r.decision = NULL;
    assert_int_equal(tvdc_audit_append(path, &r), -EINVAL);
    r.decision = "deny";
    r.operation = NULL;
    assert_int_equal(tvdc_audit_append(path, &r), -EINVAL);
    r.operation = "";
    assert_int_equal(tvdc_audit_append(path, &r), -EINVAL);
    /* nothing was written */
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(errno, ENOENT);

    /* the log is a directory */
    assert_int_equal(tvdc_audit_append(dir, &rec_cases[0].r), -EISDIR);

    /* a parent is a regular file */
    assert_int_equal(tvdc_audit_append(path, &rec_cases[0].r), 0);
    snprintf(path, sizeof(path), "%s/audit.log/sub/audit.log", dir);
    assert_int_equal(tvdc_audit_append(path, &rec_cases[0].r), -ENOTDIR);

    rm_rf(dir);
    free(dir);
}

/* Several processes append at once: every record arrives exactly once and
 * every line is one whole record. */
#define WRITERS 8
#define RECORDS 250

static void
test_concurrent(void **state)
{
    char *dir = make_tmpdir();
    char path[512];
    pid_t pids[WRITERS];
    static unsigned char seen[WRITERS][RECORDS];
    char **lines;
    size_t n;

    snprintf(path, sizeof(path), "%s/log/audit.log", dir);
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            /* long details so that records are larger than a pipe buffer's
             * atomic size would guarantee elsewhere */
            char *detail = malloc(8192);
            char name[32];
            int rc = 0;

            if (!detail)
                _exit(2);
            for (int i = 0; i < RECORDS; i++) {
                tvdc_audit_record r = rec_cases[0].r;

                snprintf(name, sizeof(name), "w%d-%d", w, i);
                memset(detail, 'a' + w, 8191);
                detail[1000 + (i * 37) % 7000] = '\0';
                r.vm_name = name;
                r.detail = detail;
                r.time_usec = 0;
                if (tvdc_audit_append(path, &r) < 0)
                    rc = 1;
            }
            free(detail);
            _exit(rc);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status;

        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    lines = read_lines(path, &n);
    assert_int_equal(n, WRITERS * RECORDS);
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < n; i++) {
        json_object *o = parse_line(lines[i]);
        const char *name = get_str(o, "vm_name");
        const char *detail = get_str(o, "detail");
        int w, k;

        assert_int_equal(sscanf(name, "w%d-%d", &w, &k), 2);
        assert_true(w >= 0 && w < WRITERS && k >= 0 && k < RECORDS);
        assert_int_equal(seen[w][k], 0);
        seen[w][k] = 1;
        assert_int_equal(strlen(detail), 1000 + (k * 37) % 7000);
        for (const char *d = detail; *d; d++)
            assert_int_equal(*d, 'a' + w);
        json_object_put(o);
    }
    free_lines(lines, n);

    rm_rf(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_existing_file),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_concurrent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
