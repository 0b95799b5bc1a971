/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc policy: validate, show, compile, decide, diff, default, sign, verify. */
#include <getopt.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "verbs.h"

extern const char tvdc_default_policy[];
extern const size_t tvdc_default_policy_len;

static const char policy_usage[] =
"NAME\n"
"    tvdc policy - validate, inspect, compile, sign and query tvdc policies\n"
"\n"
"SYNOPSIS\n"
"    tvdc policy validate FILE [--json]\n"
"    tvdc policy show FILE [--json]\n"
"    tvdc policy compile FILE [--output OUT]\n"
"    tvdc policy decide FILE --host HOST --label LABEL [--running LABEL]...\n"
"                       [--resource LABEL]... [--json]\n"
"    tvdc policy diff OLD NEW [--json]\n"
"    tvdc policy default\n"
"    tvdc policy sign --key KEY.pem [--output SIG] FILE\n"
"    tvdc policy verify --trust DIR [--signature SIG] [--state FILE [--check-only]] FILE\n"
"    tvdc policy stage --id ID --sig-bytes N | --commit | --abort [--json]\n"
"    tvdc policy keygen --type ecdsa|ed25519 --out KEY.pem\n"
"\n"
"EXIT STATUS\n"
"    0 valid / permit, 1 deny, 2 error.  See tvdc(1).\n";

enum { OPT_JSON = 0x100 };

static const struct option common_opts[] = {
    { "json",     no_argument,       NULL, OPT_JSON },
    { "help",     no_argument,       NULL, 'h' },
    { "output",   required_argument, NULL, 'o' },
    { "host",     required_argument, NULL, 'H' },
    { "label",    required_argument, NULL, 'l' },
    { "running",  required_argument, NULL, 'r' },
    { "resource", required_argument, NULL, 'R' },
    {}
};

typedef struct args {
    bool json;
    const char *output, *host, *label;
    const char **running, **resources;
    size_t n_running, n_resources;
    const char *pos[2];
    int n_pos;
} args;

static void
args_done(args *a)
{
    free(a->running);
    free(a->resources);
}

static int
push(const char ***v, size_t *n, const char *s)
{
    const char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return -1;
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

/* Parse options valid for verb (a string of the short options it takes). */
static int
parse_args(int argc, char **argv, const char *allowed, int n_pos, args *a)
{
    int c;

    *a = (args) { 0 };
    optind = 0;
    while ((c = tool_getopt(argc, argv, "ho:", common_opts, policy_usage)) >= 0) {
        if ((c != OPT_JSON && !strchr(allowed, c)) ||
            (c == OPT_JSON && !strchr(allowed, 'j'))) {
            tool_err("policy %s: option not valid here (see 'tvdc policy --help')",
                     argv[0]);
            return EXIT_ERR;
        }
        switch (c) {
        case OPT_JSON: a->json = true; break;
        case 'o': a->output = optarg; break;
        case 'H': a->host = optarg; break;
        case 'l': a->label = optarg; break;
        case 'r': if (push(&a->running, &a->n_running, optarg) < 0) return EXIT_ERR; break;
        case 'R': if (push(&a->resources, &a->n_resources, optarg) < 0) return EXIT_ERR; break;
        }
    }
    if (c == TOOL_OPT_HELP)
        return -1;
    if (c != TOOL_OPT_END)
        return EXIT_ERR;
    for (; optind < argc; optind++) {
        if (a->n_pos == n_pos) {
            tool_err("policy %s: unexpected argument '%s'", argv[0], argv[optind]);
            return EXIT_ERR;
        }
        a->pos[a->n_pos++] = argv[optind];
    }
    if (a->n_pos != n_pos) {
        tool_err("policy %s: expected %s (see 'tvdc policy --help')", argv[0],
                 n_pos == 2 ? "two policy files" : "a policy file");
        return EXIT_ERR;
    }
    return 0;
}

static const char *
plural(uint32_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static json_object *
types_json(const tvdc_policy *p, uint32_t label, bool conflict)
{
    json_object *arr = json_object_new_array();
    int64_t n = conflict ? tvdc_conflict_types(p, label, NULL, 0)
                         : tvdc_label_types(p, label, NULL, 0);
    uint32_t *t = calloc(n > 0 ? n : 1, sizeof(*t));

    if (t && n > 0) {
        if (conflict)
            tvdc_conflict_types(p, label, t, n);
        else
            tvdc_label_types(p, label, t, n);
        for (int64_t i = 0; i < n; i++)
            json_object_array_add(arr, json_object_new_string(tvdc_type_name(p, t[i])));
    }
    free(t);
    return arr;
}

/* The policy in its JSON form (what `show --json` prints and diff compares). */
static json_object *
policy_json(const tvdc_policy *p)
{
    json_object *o = json_object_new_object(), *a;
    char h[65];

    json_object_object_add(o, "name", json_object_new_string(tvdc_policy_name(p)));
    json_object_object_add(o, "version", json_object_new_int64(tvdc_policy_version(p)));
    tv_hex(tvdc_policy_source_hash(p), 32, h);
    json_object_object_add(o, "source_sha256", json_object_new_string(h));
    json_object_object_add(o, "unlabeled", json_object_new_string(
        tvdc_policy_flags(p) & TVDC_POLICY_ALLOW_UNLABELED ? "allow" : "deny"));

    a = json_object_new_array();
    for (uint32_t i = 0; i < tvdc_policy_n_types(p); i++)
        json_object_array_add(a, json_object_new_string(tvdc_type_name(p, i)));
    json_object_object_add(o, "types", a);

    a = json_object_new_array();
    for (uint32_t i = 0; i < tvdc_policy_n_labels(p); i++) {
        json_object *l = json_object_new_object();
        json_object_object_add(l, "name", json_object_new_string(tvdc_label_name(p, i)));
        json_object_object_add(l, "types", types_json(p, i, false));
        if (tvdc_label_flags(p, i) & TVDC_LABEL_VTPM_REQUIRED)
            json_object_object_add(l, "vtpm", json_object_new_string("required"));
        if (tvdc_label_measure_required(p, i))
            json_object_object_add(l, "measure", json_object_new_string("required"));
        if (tvdc_label_attest_fail(p, i) != TVDC_ATTEST_REPORT)
            json_object_object_add(l, "attest_fail", json_object_new_string(
                tvdc_attest_action_name(tvdc_label_attest_fail(p, i))));
        json_object_array_add(a, l);
    }
    json_object_object_add(o, "labels", a);

    a = json_object_new_array();
    for (uint32_t i = 0; i < tvdc_policy_n_conflicts(p); i++) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "name", json_object_new_string(tvdc_conflict_name(p, i)));
        json_object_object_add(c, "types", types_json(p, i, true));
        json_object_array_add(a, c);
    }
    json_object_object_add(o, "conflicts", a);

    a = json_object_new_array();
    for (uint32_t i = 0; i < tvdc_policy_n_hosts(p); i++) {
        json_object *hst = json_object_new_object();
        json_object_object_add(hst, "name", json_object_new_string(tvdc_host_name(p, i)));
        json_object_object_add(hst, "label", json_object_new_string(
            tvdc_label_name(p, tvdc_host_label(p, i))));
        json_object_array_add(a, hst);
    }
    json_object_object_add(o, "hosts", a);

    a = json_object_new_array();
    for (uint32_t i = 0; i < tvdc_policy_n_networks(p); i++) {
        json_object *n = json_object_new_object();
        uint32_t t, vlan;
        tvdc_network(p, i, &t, &vlan);
        json_object_object_add(n, "type", json_object_new_string(tvdc_type_name(p, t)));
        json_object_object_add(n, "vlan", json_object_new_int(vlan));
        json_object_array_add(a, n);
    }
    json_object_object_add(o, "networks", a);
    return o;
}

static int
do_validate(int argc, char **argv)
{
    tvdc_policy *p = NULL;
    args a;
    int r;

    if ((r = parse_args(argc, argv, "j", 1, &a)) != 0)
        return r < 0 ? EXIT_OK : r;
    r = tool_load_policy(a.pos[0], &p);
    if (r == EXIT_OK) {
        uint32_t nt = tvdc_policy_n_types(p), nl = tvdc_policy_n_labels(p);
        uint32_t nc = tvdc_policy_n_conflicts(p), nh = tvdc_policy_n_hosts(p);
        if (a.json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "valid", json_object_new_boolean(1));
            json_object_object_add(o, "name", json_object_new_string(tvdc_policy_name(p)));
            json_object_object_add(o, "version", json_object_new_int64(tvdc_policy_version(p)));
            json_object_object_add(o, "types", json_object_new_int64(nt));
            json_object_object_add(o, "labels", json_object_new_int64(nl));
            json_object_object_add(o, "conflicts", json_object_new_int64(nc));
            json_object_object_add(o, "hosts", json_object_new_int64(nh));
            tool_print_json(o);
        } else {
            printf("valid: %s v%u: %u %s, %u %s, %u %s, %u %s\n",
                   tvdc_policy_name(p), tvdc_policy_version(p),
                   nt, plural(nt, "type", "types"), nl, plural(nl, "label", "labels"),
                   nc, plural(nc, "conflict set", "conflict sets"),
                   nh, plural(nh, "host", "hosts"));
        }
    }
    tvdc_policy_free(p);
    args_done(&a);
    return r;
}

static void
print_label_types(const tvdc_policy *p, json_object *types)
{
    (void) p;
    for (size_t i = 0; i < json_object_array_length(types); i++)
        printf("%s%s", i ? ", " : "", json_object_get_string(json_object_array_get_idx(types, i)));
}

static int
do_show(int argc, char **argv)
{
    tvdc_policy *p = NULL;
    json_object *o, *arr;
    args a;
    int r;

    if ((r = parse_args(argc, argv, "j", 1, &a)) != 0)
        return r < 0 ? EXIT_OK : r;
    if ((r = tool_load_policy(a.pos[0], &p)) != EXIT_OK)
        goto out;
    o = policy_json(p);
    if (a.json) {
        tool_print_json(o);
        goto out;
    }
    printf("policy %s version %u\n", tvdc_policy_name(p), tvdc_policy_version(p));
    printf("source sha256 %s\n", json_object_get_string(json_object_object_get(o, "source_sha256")));
    printf("unlabeled VMs %s\n", tvdc_policy_flags(p) & TVDC_POLICY_ALLOW_UNLABELED
                                 ? "allowed (unlabeled resources only)" : "denied");
    printf("\ntypes (%u):\n", tvdc_policy_n_types(p));
    for (uint32_t i = 0; i < tvdc_policy_n_types(p); i++) {
        if (tvdc_type_vlan(p, i))
            printf("  %-20s vlan %u\n", tvdc_type_name(p, i), tvdc_type_vlan(p, i));
        else
            printf("  %s\n", tvdc_type_name(p, i));
    }
    arr = json_object_object_get(o, "labels");
    printf("\nlabels (%u):\n", tvdc_policy_n_labels(p));
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *l = json_object_array_get_idx(arr, i);
        printf("  %-20s ", json_object_get_string(json_object_object_get(l, "name")));
        print_label_types(p, json_object_object_get(l, "types"));
        if (json_object_object_get(l, "vtpm") && json_object_object_get(l, "measure"))
            printf("  (vTPM and measured identity required)");
        else if (json_object_object_get(l, "vtpm"))
            printf("  (vTPM required)");
        else if (json_object_object_get(l, "measure"))
            printf("  (measured identity required)");
        if (json_object_object_get(l, "attest_fail"))
            printf("  (attestation failure: %s)",
                   json_object_get_string(json_object_object_get(l, "attest_fail")));
        putchar('\n');
    }
    arr = json_object_object_get(o, "conflicts");
    printf("\nconflict sets (%u):\n", tvdc_policy_n_conflicts(p));
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *c = json_object_array_get_idx(arr, i);
        printf("  %-20s ", json_object_get_string(json_object_object_get(c, "name")));
        print_label_types(p, json_object_object_get(c, "types"));
        putchar('\n');
    }
    printf("\nhosts (%u):\n", tvdc_policy_n_hosts(p));
    for (uint32_t i = 0; i < tvdc_policy_n_hosts(p); i++)
        printf("  %-20s label %s\n", tvdc_host_name(p, i),
               tvdc_label_name(p, tvdc_host_label(p, i)));
    json_object_put(o);
 out:
    tvdc_policy_free(p);
    args_done(&a);
    return r;
}

static char *
default_output(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(n + 5);

    if (!out)
        return NULL;
    strcpy(out, in);
    if (n > 5 && strcmp(in + n - 5, ".json") == 0)
        strcpy(out + n - 5, ".bin");
    else
        strcat(out, ".bin");
    return out;
}

static int
do_compile(int argc, char **argv)
{
    tvdc_policy *p = NULL;
    char *out = NULL;
    args a;
    int r;

    if ((r = parse_args(argc, argv, "o", 1, &a)) != 0)
        return r < 0 ? EXIT_OK : r;
    if ((r = tool_load_policy(a.pos[0], &p)) != EXIT_OK)
        goto done;
    out = a.output ? strdup(a.output) : default_output(a.pos[0]);
    if (!out || strcmp(out, a.pos[0]) == 0) {
        tool_err("policy compile: refusing to overwrite the source %s", a.pos[0]);
        r = EXIT_ERR;
        goto done;
    }
    r = tvdc_policy_write_binary(p, out);
    if (r < 0) {
        tool_err("policy compile: cannot write %s: %s", out, strerror(-r));
        r = EXIT_ERR;
        goto done;
    }
    {
        char h[65];
        struct stat st = { 0 };
        tv_hex(tvdc_policy_source_hash(p), 32, h);
        (void) stat(out, &st);
        printf("compiled: %s v%u -> %s (%lld bytes, source sha256 %s)\n",
               tvdc_policy_name(p), tvdc_policy_version(p), out, (long long) st.st_size, h);
    }
    r = EXIT_OK;
 done:
    free(out);
    tvdc_policy_free(p);
    args_done(&a);
    return r;
}

static const char *
subject_of(size_t i, const args *a)
{
    if (i == 0)
        return a->label;
    if (i == 1)
        return a->host;
    if (i >= 3 && i - 3 < a->n_resources)
        return a->resources[i - 3];
    return NULL;
}

static int
do_decide(int argc, char **argv)
{
    tvdc_policy *p = NULL;
    tvdc_host *h = NULL;
    tvdc_verdict *checks = NULL;
    size_t n_checks = 0;
    char detail[1024];
    args a;
    int r, d;

    if ((r = parse_args(argc, argv, "jHlrR", 1, &a)) != 0)
        return r < 0 ? EXIT_OK : r;
    if (!a.host || !a.label) {
        tool_err("policy decide: --host and --label are required");
        r = EXIT_ERR;
        goto out;
    }
    if ((r = tool_load_policy(a.pos[0], &p)) != EXIT_OK)
        goto out;
    r = EXIT_ERR;
    if (tvdc_host_new(p, &h) < 0)
        goto out;
    for (size_t i = 0; i < a.n_running; i++) {
        int64_t l = tvdc_find_label(p, a.running[i]);
        char id[32];
        tvdc_verdict v;

        if (l < 0) {
            tool_err("policy decide: unknown running label '%s' in policy %s",
                     a.running[i], tvdc_policy_name(p));
            goto out;
        }
        /* What runs, runs: reserve it even if it conflicts. */
        snprintf(id, sizeof(id), "running-%zu", i);
        if (tvdc_host_reserve(h, id, l, TVDC_RESERVE_FORCE, &v) < 0)
            goto out;
    }
    checks = calloc(3 + a.n_resources, sizeof(*checks));
    if (!checks)
        goto out;
    d = tvdc_decide_start(p, h, a.host, a.label, a.resources, a.n_resources, NULL,
                          checks, &n_checks);
    if (d < 0) {
        tool_err("policy decide: %s", strerror(-d));
        goto out;
    }

    if (a.json) {
        json_object *o = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_add(o, "decision",
                               json_object_new_string(d == TVDC_PERMIT ? "permit" : "deny"));
        for (size_t i = 0; i < n_checks; i++) {
            json_object *c = json_object_new_object();
            tvdc_verdict_format(p, &checks[i], subject_of(i, &a), detail, sizeof(detail));
            json_object_object_add(c, "check",
                                   json_object_new_string(tvdc_check_to_string(checks[i].check)));
            json_object_object_add(c, "result", json_object_new_string(
                checks[i].rule == TVDC_RULE_OK ? "pass" : "fail"));
            json_object_object_add(c, "rule",
                                   json_object_new_string(tvdc_rule_to_string(checks[i].rule)));
            json_object_object_add(c, "detail", json_object_new_string(detail));
            json_object_array_add(arr, c);
        }
        json_object_object_add(o, "checks", arr);
        tool_print_json(o);
    } else {
        bool first = true;
        if (d == TVDC_PERMIT)
            printf("permit: label %s on host %s\n", a.label, a.host);
        for (size_t i = 0; i < n_checks; i++) {
            tvdc_verdict_format(p, &checks[i], subject_of(i, &a), detail, sizeof(detail));
            if (checks[i].rule != TVDC_RULE_OK && first) {
                printf("deny: %s\n", detail);
                first = false;
            }
        }
        for (size_t i = 0; i < n_checks; i++) {
            tvdc_verdict_format(p, &checks[i], subject_of(i, &a), detail, sizeof(detail));
            printf("  %s  %s\n", checks[i].rule == TVDC_RULE_OK ? "pass" : "FAIL", detail);
        }
    }
    r = d == TVDC_PERMIT ? EXIT_OK : EXIT_DENIED;
 out:
    free(checks);
    tvdc_host_free(h);
    tvdc_policy_free(p);
    args_done(&a);
    return r;
}

/* ------------------------------------------------------------------------ */
/* diff: compares the normalized JSON forms, by name. */

static json_object *
by_name(json_object *arr, const char *key)
{
    json_object *m = json_object_new_object();
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        json_object *k = key ? json_object_object_get(e, key) : e;
        json_object_object_add(m, json_object_get_string(k), json_object_get(e));
    }
    return m;
}

static void
diff_section(json_object *old, json_object *new, const char *section, const char *what,
             const char *key, json_object *out, bool json)
{
    json_object *a = by_name(json_object_object_get(old, section), key);
    json_object *b = by_name(json_object_object_get(new, section), key);
    json_object *added = json_object_new_array(), *removed = json_object_new_array();
    json_object *changed = json_object_new_array(), *sec = json_object_new_object();

    json_object_object_foreach(a, ka, va) {
        json_object *vb = json_object_object_get(b, ka);
        if (!vb) {
            json_object_array_add(removed, json_object_new_string(ka));
            if (!json)
                printf("- %s %s\n", what, key ? json_object_to_json_string_ext(va, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE) : ka);
        } else if (!json_object_equal(va, vb)) {
            json_object *c = json_object_new_object();
            json_object_object_add(c, "name", json_object_new_string(ka));
            json_object_object_add(c, "old", json_object_get(va));
            json_object_object_add(c, "new", json_object_get(vb));
            json_object_array_add(changed, c);
            if (!json)
                printf("~ %s %s: %s -> %s\n", what, ka,
                       json_object_to_json_string_ext(va, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE),
                       json_object_to_json_string_ext(vb, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        }
    }
    json_object_object_foreach(b, kb, vb2) {
        if (!json_object_object_get(a, kb)) {
            json_object_array_add(added, json_object_new_string(kb));
            if (!json)
                printf("+ %s %s\n", what, key ? json_object_to_json_string_ext(vb2, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE) : kb);
        }
    }
    json_object_object_add(sec, "added", added);
    json_object_object_add(sec, "removed", removed);
    json_object_object_add(sec, "changed", changed);
    json_object_object_add(out, section, sec);
    json_object_put(a);
    json_object_put(b);
}

static int
do_diff(int argc, char **argv)
{
    tvdc_policy *p = NULL, *q = NULL;
    json_object *a = NULL, *b = NULL, *out;
    args ar;
    int r;

    if ((r = parse_args(argc, argv, "j", 2, &ar)) != 0)
        return r < 0 ? EXIT_OK : r;
    if ((r = tool_load_policy(ar.pos[0], &p)) != EXIT_OK ||
        (r = tool_load_policy(ar.pos[1], &q)) != EXIT_OK)
        goto done;
    a = policy_json(p);
    b = policy_json(q);
    out = json_object_new_object();
    if (!ar.json)
        printf("--- %s %s v%u\n+++ %s %s v%u\n", ar.pos[0], tvdc_policy_name(p),
               tvdc_policy_version(p), ar.pos[1], tvdc_policy_name(q), tvdc_policy_version(q));
    for (const char *const *k = (const char *const[]) { "name", "version", "unlabeled", NULL }; *k; k++) {
        json_object *va = json_object_object_get(a, *k), *vb = json_object_object_get(b, *k);
        if (!json_object_equal(va, vb)) {
            json_object *c = json_object_new_object();
            json_object_object_add(c, "old", json_object_get(va));
            json_object_object_add(c, "new", json_object_get(vb));
            json_object_object_add(out, *k, c);
            if (!ar.json)
                printf("~ %s: %s -> %s\n", *k, json_object_get_string(va), json_object_get_string(vb));
        }
    }
    diff_section(a, b, "types", "type", NULL, out, ar.json);
    diff_section(a, b, "labels", "label", "name", out, ar.json);
    diff_section(a, b, "conflicts", "conflict set", "name", out, ar.json);
    diff_section(a, b, "hosts", "host", "name", out, ar.json);
    diff_section(a, b, "networks", "network", "type", out, ar.json);
    if (ar.json)
        tool_print_json(out);
    else
        json_object_put(out);
    r = EXIT_OK;
 done:
    json_object_put(a);
    json_object_put(b);
    tvdc_policy_free(p);
    tvdc_policy_free(q);
    args_done(&ar);
    return r;
}

static int
do_default(int argc, char **argv)
{
    (void) argc;
    (void) argv;
    fwrite(tvdc_default_policy, 1, tvdc_default_policy_len, stdout);
    return EXIT_OK;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} verbs[] = {
    { "validate", do_validate },
    { "show",     do_show },
    { "compile",  do_compile },
    { "decide",   do_decide },
    { "diff",     do_diff },
    { "default",  do_default },
    { "sign",     cmd_policy_sign },
    { "verify",   cmd_policy_verify },
    { "stage",    cmd_policy_stage },
    { "keygen",   cmd_policy_keygen },
};

static int
cmd_policy(int argc, char **argv)
{
    if (argc < 2) {
        fputs(policy_usage, stderr);
        return EXIT_ERR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(policy_usage, stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(argv[1], verbs[i].name) == 0)
            return verbs[i].run(argc - 1, argv + 1);
    tool_err("policy: unknown command '%s' (try 'tvdc policy --help')", argv[1]);
    return EXIT_ERR;
}

const tvdc_verb tvdc_verb_policy = {
    .name    = "policy",
    .summary = "validate, show, compile, decide, diff, sign and verify policies",
    .run     = cmd_policy,
};
