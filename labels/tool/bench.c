/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tvdc bench: decision latency and policy load cost, with a naive baseline
 * (string sets straight from the parsed JSON) measured in the same run.
 *
 * Load cost is measured in a fresh child process (this binary re-executed),
 * as libvirtd would load the policy: its peak RSS is its own, not ours.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "verbs.h"

extern char **environ;

static const char bench_usage[] =
"Usage: tvdc bench [--json] [--quick]\n"
"\n"
"Decision latency and policy load cost on generated policies.\n"
"Exit status: 0 measured; 2 error.  See tvdc(1).\n";

#define RUNNING 1000
#define RESOURCES 8

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t
rnd(uint32_t n)
{
    /* xorshift64*: deterministic, so runs are comparable. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t) ((rng_state * 0x2545F4914F6CDD1DULL) >> 32) % n;
}

typedef struct gen {
    char *buf;
    size_t len, cap;
} gen;

static void put(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
put(gen *g, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(g->buf + g->len, g->cap - g->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < g->cap - g->len)
            break;
        g->cap = g->cap ? g->cap * 2 : 1 << 16;
        g->buf = realloc(g->buf, g->cap);
        if (!g->buf)
            abort();
    }
    g->len += n;
}

/*
 * A policy of n_types types T0..Tn-1; labels L0..: first one per type, then
 * random 2..3-typed ones; conflict sets of 2..8 types among the first half
 * of the types; hosts h0..h9 with labels holding every type ("all").  The
 * VM under test and its resources live in the second half (no conflicts
 * there), so the measured decision is the permit path and walks every check.
 */
static char *
gen_policy(uint32_t n_types, uint32_t n_labels, uint32_t n_conflicts, size_t *len)
{
    gen g = { 0 };

    put(&g, "{\"name\":\"bench\",\"version\":1,\"types\":[");
    for (uint32_t t = 0; t < n_types; t++)
        put(&g, "%s\"T%u\"", t ? "," : "", t);
    put(&g, "],\"labels\":[{\"name\":\"all\",\"types\":[");
    for (uint32_t t = 0; t < n_types; t++)
        put(&g, "%s\"T%u\"", t ? "," : "", t);
    put(&g, "]}");
    for (uint32_t l = 0; l < n_labels; l++) {
        if (l < n_types) {
            put(&g, ",{\"name\":\"L%u\",\"types\":[\"T%u\"]}", l, l);
        } else {
            uint32_t a = rnd(n_types), b = (a + 1 + rnd(n_types - 1)) % n_types;
            put(&g, ",{\"name\":\"L%u\",\"types\":[\"T%u\",\"T%u\"]}", l, a, b);
        }
    }
    put(&g, "],\"conflicts\":[");
    for (uint32_t c = 0; c < n_conflicts; c++) {
        uint32_t k = 2 + rnd(7), base = rnd(n_types / 2 - 8);
        put(&g, "%s{\"name\":\"C%u\",\"types\":[", c ? "," : "", c);
        for (uint32_t i = 0; i < k; i++)
            put(&g, "%s\"T%u\"", i ? "," : "", base + i);
        put(&g, "]}");
    }
    put(&g, "],\"hosts\":[");
    for (int h = 0; h < 10; h++)
        put(&g, "%s{\"name\":\"h%d\",\"label\":\"all\"}", h ? "," : "", h);
    put(&g, "]}");
    *len = g.len;
    return g.buf;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* The VM label and resources used in both implementations. */
typedef struct scenario {
    char vm[32];
    char res[RESOURCES][32];
    const char *res_ptr[RESOURCES];
    char running[RUNNING][32];
} scenario;

static void
make_scenario(uint32_t n_types, scenario *s)
{
    /* VM: a single type in the conflict-free upper half; resources: that
     * type's label and the host-wide label; running VMs: other types of the
     * upper half, so conflict masks of the VM meet active types nowhere. */
    uint32_t t = n_types / 2 + rnd(n_types / 2);

    snprintf(s->vm, sizeof(s->vm), "L%u", t);
    for (int i = 0; i < RESOURCES; i++) {
        snprintf(s->res[i], sizeof(s->res[i]), i % 2 ? "all" : "L%u", t);
        s->res_ptr[i] = s->res[i];
    }
    for (int i = 0; i < RUNNING; i++)
        snprintf(s->running[i], sizeof(s->running[i]), "L%u", n_types / 2 + rnd(n_types / 2));
}

typedef struct stats {
    uint64_t median, p99;
} stats;

static stats
summarize(uint64_t *ns, size_t n, uint64_t overhead)
{
    stats s;
    qsort(ns, n, sizeof(*ns), cmp_u64);
    s.median = ns[n / 2] > overhead ? ns[n / 2] - overhead : 0;
    s.p99 = ns[n * 99 / 100] > overhead ? ns[n * 99 / 100] - overhead : 0;
    return s;
}

static uint64_t
timer_overhead(void)
{
    uint64_t ns[10001];
    for (int i = 0; i < 10001; i++) {
        uint64_t t0 = now_ns();
        ns[i] = now_ns() - t0;
    }
    qsort(ns, 10001, sizeof(*ns), cmp_u64);
    return ns[5000];
}

static int
bench_tvdc(const char *json, size_t len, const scenario *s, size_t iters, uint64_t overhead,
           stats *out)
{
    tvdc_policy *p = NULL;
    tvdc_host *h = NULL;
    tvdc_verdict checks[3 + RESOURCES], v;
    uint64_t *ns = malloc(iters * sizeof(*ns));
    size_t n;
    int r = -ENOMEM;

    if (!ns)
        return r;
    if ((r = tvdc_policy_parse_json(json, len, &p, NULL)) < 0 || (r = tvdc_host_new(p, &h)) < 0)
        goto out;
    for (int i = 0; i < RUNNING; i++) {
        char id[32];
        snprintf(id, sizeof(id), "vm-%d", i);
        if ((r = tvdc_host_reserve(h, id, tvdc_find_label(p, s->running[i]), 0, &v)) != TVDC_PERMIT) {
            r = r < 0 ? r : -EINVAL;
            goto out;
        }
    }
    for (size_t i = 0; i < iters; i++) {
        uint64_t t0 = now_ns();
        r = tvdc_decide_start(p, h, "h3", s->vm, s->res_ptr, RESOURCES, NULL, checks, &n);
        ns[i] = now_ns() - t0;
        if (r != TVDC_PERMIT) {
            r = -EINVAL;
            goto out;
        }
    }
    *out = summarize(ns, iters, overhead);
    r = 0;
 out:
    free(ns);
    tvdc_host_free(h);
    tvdc_policy_free(p);
    return r;
}

/* ---- the naive baseline: json-c objects and string compares ---- */

static json_object *
naive_find(json_object *arr, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (strcmp(json_object_get_string(json_object_object_get(e, "name")), name) == 0)
            return e;
    }
    return NULL;
}

static bool
naive_has(json_object *types, const char *t)
{
    for (size_t i = 0; i < json_object_array_length(types); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(types, i)), t) == 0)
            return true;
    return false;
}

static bool
naive_decide(json_object *pol, const char *host, const char *vm, const char *const *res,
             json_object *const *running_types, size_t n_running)
{
    json_object *labels = json_object_object_get(pol, "labels");
    json_object *conflicts = json_object_object_get(pol, "conflicts");
    json_object *l = naive_find(labels, vm), *h, *hl, *vt;
    bool ok = true;

    if (!l)
        return false;
    vt = json_object_object_get(l, "types");
    h = naive_find(json_object_object_get(pol, "hosts"), host);
    if (!h)
        return false;
    hl = naive_find(labels, json_object_get_string(json_object_object_get(h, "label")));
    for (size_t i = 0; i < json_object_array_length(vt); i++)
        ok = ok && naive_has(json_object_object_get(hl, "types"),
                             json_object_get_string(json_object_array_get_idx(vt, i)));
    for (int i = 0; i < RESOURCES; i++) {
        json_object *rl = naive_find(labels, res[i]), *rt;
        bool share = false;
        if (!rl)
            return false;
        rt = json_object_object_get(rl, "types");
        for (size_t k = 0; k < json_object_array_length(vt); k++)
            share = share || naive_has(rt, json_object_get_string(json_object_array_get_idx(vt, k)));
        ok = ok && share;
    }
    /* Every VM type against every running type, through every conflict set. */
    for (size_t k = 0; k < json_object_array_length(vt); k++) {
        const char *t = json_object_get_string(json_object_array_get_idx(vt, k));
        for (size_t c = 0; c < json_object_array_length(conflicts); c++) {
            json_object *ct = json_object_object_get(json_object_array_get_idx(conflicts, c), "types");
            if (!naive_has(ct, t))
                continue;
            for (size_t r = 0; r < n_running; r++)
                for (size_t q = 0; q < json_object_array_length(running_types[r]); q++) {
                    const char *u = json_object_get_string(json_object_array_get_idx(running_types[r], q));
                    if (strcmp(u, t) != 0 && naive_has(ct, u))
                        ok = false;
                }
        }
    }
    return ok;
}

static int
bench_naive(const char *json, const scenario *s, size_t iters, uint64_t overhead, stats *out)
{
    json_object *pol = json_tokener_parse(json), *labels;
    json_object *running[RUNNING];
    uint64_t *ns = malloc(iters * sizeof(*ns));

    if (!pol || !ns) {
        json_object_put(pol);
        free(ns);
        return -ENOMEM;
    }
    labels = json_object_object_get(pol, "labels");
    /* Running VMs' types are known up front, as a host would keep them. */
    for (int i = 0; i < RUNNING; i++)
        running[i] = json_object_object_get(naive_find(labels, s->running[i]), "types");
    for (size_t i = 0; i < iters; i++) {
        uint64_t t0 = now_ns();
        bool ok = naive_decide(pol, "h3", s->vm, s->res_ptr, running, RUNNING);
        ns[i] = now_ns() - t0;
        if (!ok) {
            json_object_put(pol);
            free(ns);
            return -EINVAL;
        }
    }
    *out = summarize(ns, iters, overhead);
    json_object_put(pol);
    free(ns);
    return 0;
}

/* ---- load cost, in a child ---- */

static long
vm_hwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long kib = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

/* tvdc bench --load-child FILE: load once as libvirtd does (signature
 * against DIR/trusted, anti-rollback state DIR/state), print "ms kib". */
static int
load_child(const char *path)
{
    char trust[4096], state[4096 + 8], *slash;
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    uint64_t t0, t1;
    int r;

    snprintf(trust, sizeof(trust), "%s", path);
    slash = strrchr(trust, '/');
    if (!slash)
        return EXIT_ERR;
    *slash = '\0';
    snprintf(state, sizeof(state), "%s/state", trust);
    strcat(trust, "/trusted");
    t0 = now_ns();
    r = tvdc_policy_load_trusted(path, trust, state, &p, &e);
    t1 = now_ns();

    if (r < 0) {
        tool_err_at(path, &e, r);
        return EXIT_ERR;
    }
    printf("%.3f %ld\n", (t1 - t0) / 1e6, vm_hwm_kib());
    tvdc_policy_free(p);
    return EXIT_OK;
}

/* An Ed25519 key in DIR/trusted and PATH.sig, so the child loads the
 * policy the way libvirtd does: verified, with anti-rollback state. */
static int
sign_for_load(const char *dir, const char *path)
{
    char key[256], pub[256], sigpath[256];
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    FILE *f;
    char *img = NULL, *sig = NULL;
    size_t len, sig_len;
    int r = -EIO;

    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(pub, sizeof(pub), "%s/trusted", dir);
    if (!k || mkdir(pub, 0700) < 0)
        goto out;
    snprintf(pub, sizeof(pub), "%s/trusted/key.pub.pem", dir);
    if (!(f = fopen(key, "we")))
        goto out;
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    if (!(f = fopen(pub, "we")))
        goto out;
    PEM_write_PUBKEY(f, k);
    fclose(f);
    r = tv_read_file(path, TVDC_MAX_POLICY_BYTES, &img, &len);
    if (r < 0)
        goto out;
    r = tvdc_sign(img, len, key, &sig, &sig_len, NULL);
    if (r < 0)
        goto out;
    snprintf(sigpath, sizeof(sigpath), "%s.sig", path);
    r = tv_write_file_atomic(sigpath, sig, sig_len, 0644);
 out:
    EVP_PKEY_free(k);
    free(img);
    free(sig);
    return r;
}

static void
remove_tree(const char *dir)
{
    static const char *const files[] = {
        "policy.bin", "policy.bin.sig", "key.pem", "trusted/key.pub.pem", "state",
        "state.lock", "trusted", NULL,
    };
    char p[256];
    for (const char *const *f = files; *f; f++) {
        snprintf(p, sizeof(p), "%s/%s", dir, *f);
        remove(p);
    }
    rmdir(dir);
}

static int
measure_load(const char *path, double *ms, double *mib)
{
    char *argv[] = { "tvdc", "bench", "--load-child", (char *) path, NULL };
    int pfd[2], status;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    char out[128] = { 0 };
    ssize_t n;
    long kib;

    if (pipe(pfd) < 0)
        return -errno;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(pfd[0]);
        close(pfd[1]);
        return -errno;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    n = read(pfd[0], out, sizeof(out) - 1);
    close(pfd[0]);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || n <= 0)
        return -EIO;
    if (sscanf(out, "%lf %ld", ms, &kib) != 2)
        return -EIO;
    *mib = kib / 1024.0;
    return 0;
}

static int
cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "quick", no_argument, NULL, 'q' },
        { "load-child", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    bool json = false, quick = false;
    size_t iters;
    stats d64, d4096, naive;
    double load_ms[3], load_mib[3], compile_ms;
    uint64_t overhead;
    char dir[] = "/tmp/tvdc-bench.XXXXXX", path[64];
    scenario *s;
    char *pol;
    size_t len;
    int c, r;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, bench_usage)) >= 0) {
        switch (c) {
        case 'j': json = true; break;
        case 'q': quick = true; break;
        case 'L': return load_child(optarg);
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind < argc) {
        tool_err("bench: unexpected argument '%s'", argv[optind]);
        return EXIT_ERR;
    }
    iters = quick ? 20000 : 200000;
    s = malloc(sizeof(*s));
    if (!s)
        return EXIT_ERR;
    overhead = timer_overhead();

    /* 64 types: 1000 labels, 4 conflict sets. */
    pol = gen_policy(64, 1000, 4, &len);
    make_scenario(64, s);
    r = bench_tvdc(pol, len, s, iters, overhead, &d64);
    free(pol);
    if (r < 0)
        goto fail;

    /* 4096 types: 10,000 labels, 100 conflict sets; tvdc and naive. */
    pol = gen_policy(4096, 10000, 100, &len);
    make_scenario(4096, s);
    r = bench_tvdc(pol, len, s, iters, overhead, &d4096);
    if (r == 0)
        r = bench_naive(pol, s, quick ? 200 : 2000, overhead, &naive);
    free(pol);
    if (r < 0)
        goto fail;

    /* 4096 types, 100,000 labels, 100 conflict sets: compile, then load in
     * a fresh process three times (median). */
    if (!mkdtemp(dir)) {
        r = -errno;
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/policy.bin", dir);
    pol = gen_policy(4096, 100000, 100, &len);
    {
        tvdc_policy *p = NULL;
        tvdc_error e = { 0 };
        uint64_t t0 = now_ns();
        r = tvdc_policy_parse_json(pol, len, &p, &e);
        compile_ms = (now_ns() - t0) / 1e6;
        if (r == 0)
            r = tvdc_policy_write_binary(p, path);
        tvdc_policy_free(p);
    }
    if (r == 0)
        r = sign_for_load(dir, path);
    free(pol);
    for (int i = 0; i < 3 && r == 0; i++)
        r = measure_load(path, &load_ms[i], &load_mib[i]);
    remove_tree(dir);
    if (r < 0)
        goto fail;
    {
        double t;
        /* median of three */
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++) {
                if (load_ms[j] < load_ms[i]) { t = load_ms[i]; load_ms[i] = load_ms[j]; load_ms[j] = t; }
                if (load_mib[j] < load_mib[i]) { t = load_mib[i]; load_mib[i] = load_mib[j]; load_mib[j] = t; }
            }
    }

    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "decide_median_ns_64", json_object_new_int64(d64.median));
        json_object_object_add(o, "decide_p99_ns_64", json_object_new_int64(d64.p99));
        json_object_object_add(o, "decide_median_ns_4096", json_object_new_int64(d4096.median));
        json_object_object_add(o, "decide_p99_ns_4096", json_object_new_int64(d4096.p99));
        json_object_object_add(o, "naive_median_ns_4096", json_object_new_int64(naive.median));
        json_object_object_add(o, "naive_ratio_4096", json_object_new_double(
            d4096.median ? (double) naive.median / d4096.median : 0));
        json_object_object_add(o, "compile_ms_100k", json_object_new_double(compile_ms));
        json_object_object_add(o, "load_ms_100k", json_object_new_double(load_ms[1]));
        json_object_object_add(o, "load_rss_mib_100k", json_object_new_double(load_mib[1]));
        json_object_object_add(o, "timer_overhead_ns", json_object_new_int64(overhead));
        json_object_object_add(o, "iterations", json_object_new_int64(iters));
        tool_print_json(o);
    } else {
        printf("start decision, 8 resources, %d running VMs (timer overhead %llu ns subtracted)\n",
               RUNNING, (unsigned long long) overhead);
        printf("  64 types:    median %6llu ns  p99 %6llu ns\n",
               (unsigned long long) d64.median, (unsigned long long) d64.p99);
        printf("  4096 types:  median %6llu ns  p99 %6llu ns   (target: median <= 1000 ns)\n",
               (unsigned long long) d4096.median, (unsigned long long) d4096.p99);
        printf("  naive JSON:  median %6llu ns  = %.0fx tvdc\n",
               (unsigned long long) naive.median,
               d4096.median ? (double) naive.median / d4096.median : 0);
        printf("policy of 4096 types, 100,000 labels, 100 conflict sets\n");
        printf("  compile from JSON:        %8.1f ms\n", compile_ms);
        printf("  verify and load compiled (fresh process): %6.1f ms, peak RSS %.1f MiB "
               "(targets: <= 300 ms, <= 100 MiB)\n", load_ms[1], load_mib[1]);
    }
    free(s);
    return EXIT_OK;
 fail:
    tool_err("bench: %s", strerror(-r));
    free(s);
    return EXIT_ERR;
}

const tvdc_verb tvdc_verb_bench = {
    .name    = "bench",
    .summary = "measure decision latency and policy load cost",
    .run     = cmd_bench,
};
