/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc dc serve: the datacenter as a live web page over libmicrohttpd
 * (dc-serve.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "dc-serve.h"
#include "tvdc-basic.h"

/* serve-page.html, embedded by meson (embed.py). */
extern const char dc_serve_page[];
extern const size_t dc_serve_page_len;

/* Bounded resources: connections in all and per client address, the
 * memory of one request (its headers), an idle connection's life. */
enum {
    SERVE_THREADS = 4,
    SERVE_MAX_CONNECTIONS = 64,
    SERVE_MAX_PER_IP = 16,
    SERVE_CONNECTION_TIMEOUT = 15,           /* seconds */
    SERVE_REQUEST_MEMORY = 32 * 1024,
    SERVE_BACKLOG = 64,
};

#define JSON_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)

typedef struct server {
    const dc_serve_opts *o;
    pthread_mutex_t lock;
    bool taken;               /* an inventory was asked for at `at` */
    struct timespec at;
    dc_inventory *inv;        /* NULL: the last query failed, why in `error` */
    char *error;
    char *status;             /* dc_status_report of inv, as text */
    size_t status_len;
} server;

int
dc_serve_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_storage st = { 0 };
    const char *colon, *port;
    char addr[INET6_ADDRSTRLEN];
    size_t alen;
    char *e;
    unsigned long p;

    if (!s)
        return -EINVAL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (!close || close[1] != ':')
            return -EINVAL;
        alen = (size_t)(close - s - 1);
        if (alen == 0 || alen >= sizeof(addr))
            return -EINVAL;
        memcpy(addr, s + 1, alen);
        port = close + 2;
    } else {
        if (!(colon = strrchr(s, ':')) || strchr(s, ':') != colon)
            return -EINVAL;
        alen = (size_t)(colon - s);
        if (alen == 0 || alen >= sizeof(addr))
            return -EINVAL;
        memcpy(addr, s, alen);
        port = colon + 1;
    }
    addr[alen] = 0;
    if (*port < '0' || *port > '9')
        return -EINVAL;
    errno = 0;
    p = strtoul(port, &e, 10);
    if (errno || *e || p > 65535)
        return -EINVAL;
    if (s[0] == '[') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&st;

        if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
            return -EINVAL;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        *len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&st;

        if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
            return -EINVAL;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)p);
        *len = sizeof(*a);
    }
    *ss = st;
    return 0;
}

static double
since(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Take the inventory again when it is older than the refresh period
 * (lock held).  A failure is kept for the period too. */
static void
refresh_locked(server *s)
{
    dc_inventory *inv = NULL;
    json_object *rep;
    char *why = NULL;
    size_t problems;
    int r;

    if (s->taken && since(&s->at) < s->o->refresh)
        return;
    r = s->o->inventory(s->o->opaque, &inv, &why);
    clock_gettime(CLOCK_MONOTONIC, &s->at);
    s->taken = true;
    dc_inventory_free(s->inv);
    s->inv = NULL;
    free(s->error);
    s->error = NULL;
    free(s->status);
    s->status = NULL;
    if (r < 0) {
        s->error = why ? why : strdup(strerror(-r));
        return;
    }
    free(why);
    rep = dc_status_report(s->o->policy, inv, &problems);
    if (!rep || tv_json_to_line(rep, JSON_FLAGS, &s->status, &s->status_len) < 0) {
        s->error = strdup("out of memory");
        dc_inventory_free(inv);
    } else
        s->inv = inv;
    json_object_put(rep);
}

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned code, const char *type, char *body, size_t len,
        const char *csp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    /* body is malloc'ed: libmicrohttpd frees it with the response */
    r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    if (csp)
        MHD_add_response_header(r, "Content-Security-Policy", csp);
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
respond_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    char *b = strdup(text);

    return b ? respond(c, code, "text/plain; charset=utf-8", b, strlen(b), NULL) : MHD_NO;
}

static enum MHD_Result
respond_json(struct MHD_Connection *c, unsigned code, json_object *o)
{
    char *text = NULL;
    size_t len;
    int r = o ? tv_json_to_line(o, JSON_FLAGS, &text, &len) : -ENOMEM;

    json_object_put(o);
    if (r < 0)
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return respond(c, code, "application/json", text, len, NULL);
}

static enum MHD_Result
respond_error(struct MHD_Connection *c, unsigned code, const char *why)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "error", json_object_new_string(why));
    return respond_json(c, code, o);
}

/* The page with its placeholders filled in: @NONCE@ (the CSP nonce of its
 * inline script and style), @REFRESH@ (seconds). */
static char *
render_page(const char *nonce, unsigned refresh, size_t *len)
{
    char ref[16];
    size_t cap = dc_serve_page_len + 1024, n = 0;
    char *out = malloc(cap);
    const char *p = dc_serve_page, *end = dc_serve_page + dc_serve_page_len;

    if (!out)
        return NULL;
    snprintf(ref, sizeof(ref), "%u", refresh);
    while (p < end) {
        const char *sub = NULL;
        size_t skip = 1, sl;

        if (*p == '@' && strncmp(p, "@NONCE@", 7) == 0)
            sub = nonce, skip = 7;
        else if (*p == '@' && strncmp(p, "@REFRESH@", 9) == 0)
            sub = ref, skip = 9;
        sl = sub ? strlen(sub) : 1;
        if (n + sl + 1 > cap) {
            char *o = realloc(out, cap *= 2);

            if (!o) {
                free(out);
                return NULL;
            }
            out = o;
        }
        memcpy(out + n, sub ? sub : p, sl);
        n += sl;
        p += skip;
    }
    out[n] = 0;
    *len = n;
    return out;
}

static enum MHD_Result
serve_page(server *s, struct MHD_Connection *c)
{
    uint8_t raw[16];
    char nonce[33], csp[512];
    size_t len;
    char *page;

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no random numbers\n");
    tv_hex(raw, sizeof(raw), nonce);
    /* nothing but this page's own script and style, and fetches of its
     * own origin */
    snprintf(csp, sizeof(csp),
             "default-src 'none'; script-src 'nonce-%s'; style-src 'nonce-%s'; "
             "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'", nonce, nonce);
    if (!(page = render_page(nonce, s->o->refresh, &len)))
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", page, len, csp);
}

static enum MHD_Result
serve_status(server *s, struct MHD_Connection *c)
{
    enum MHD_Result ret;
    char *copy = NULL, *error = NULL;
    size_t len = 0;

    pthread_mutex_lock(&s->lock);
    refresh_locked(s);
    if (s->status && (copy = malloc(s->status_len)))
        memcpy(copy, s->status, len = s->status_len);
    else
        error = strdup(s->error ? s->error : "out of memory");
    pthread_mutex_unlock(&s->lock);
    if (copy)
        return respond(c, MHD_HTTP_OK, "application/json", copy, len, NULL);
    ret = respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, error ? error : "out of memory");
    free(error);
    return ret;
}

static enum MHD_Result
serve_place(server *s, struct MHD_Connection *c)
{
    const char *label = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "label");
    json_object *rep = NULL;
    char *error = NULL;
    size_t n_permit;

    if (!s->o->policy)
        return respond_error(c, MHD_HTTP_NOT_FOUND, "no policy: placement needs --policy FILE");
    if (!label || !*label)
        return respond_error(c, MHD_HTTP_BAD_REQUEST, "give ?label=LABEL");
    pthread_mutex_lock(&s->lock);
    refresh_locked(s);
    if (s->inv)
        rep = dc_place_report(s->o->policy, s->inv, label, NULL, &n_permit);
    else
        error = strdup(s->error ? s->error : "out of memory");
    pthread_mutex_unlock(&s->lock);
    if (!rep) {
        enum MHD_Result ret = respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                            error ? error : "out of memory");

        free(error);
        return ret;
    }
    return respond_json(c, MHD_HTTP_OK, rep);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    server *s = cls;

    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET and HEAD only\n");
    if (strcmp(url, "/") == 0)
        return serve_page(s, c);
    if (strcmp(url, "/api/status") == 0)
        return serve_status(s, c);
    if (strcmp(url, "/api/place") == 0)
        return serve_place(s, c);
    if (strcmp(url, "/api/policy") == 0) {
        if (!s->o->policy)
            return respond_error(c, MHD_HTTP_NOT_FOUND, "no policy (--policy FILE)");
        return respond_json(c, MHD_HTTP_OK, dc_policy_summary(s->o->policy));
    }
    return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* The listening socket of ss, bound; its address as a URL in url. */
static int
listen_on(const struct sockaddr_storage *ss, socklen_t len, char *url, size_t url_size)
{
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    char a[INET6_ADDRSTRLEN];
    int fd, one = 1, r;

    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, SERVE_BACKLOG) < 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (bound.ss_family == AF_INET6) {
        const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&bound;

        inet_ntop(AF_INET6, &b->sin6_addr, a, sizeof(a));
        snprintf(url, url_size, "http://[%s]:%u/", a, ntohs(b->sin6_port));
    } else {
        const struct sockaddr_in *b = (const struct sockaddr_in *)&bound;

        inet_ntop(AF_INET, &b->sin_addr, a, sizeof(a));
        snprintf(url, url_size, "http://%s:%u/", a, ntohs(b->sin_port));
    }
    return fd;
}

int
dc_serve_run(const dc_serve_opts *o)
{
    server s = { .o = o };
    struct sockaddr_storage ss;
    struct MHD_Daemon *d;
    sigset_t stop, old;
    socklen_t len;
    char url[96];
    int fd, sig = 0, r;

    if (dc_serve_parse_listen(o->listen, &ss, &len) < 0) {
        fprintf(stderr, "tvdc: dc serve: --listen: expected ADDR:PORT or [ADDR]:PORT with a "
                "numeric address, got '%s'\n", o->listen);
        return -EINVAL;
    }
    if ((fd = listen_on(&ss, len, url, sizeof(url))) < 0) {
        fprintf(stderr, "tvdc: dc serve: cannot listen on %s: %s\n", o->listen, strerror(-fd));
        return fd;
    }
    pthread_mutex_init(&s.lock, NULL);
    /* The first inventory before the first client. */
    refresh_locked(&s);
    if (s.error)
        fprintf(stderr, "tvdc: dc serve: %s\n", s.error);

    /* Blocked here, so in libmicrohttpd's threads too: sigwait takes them. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    signal(SIGPIPE, SIG_IGN);
    d = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                         handle, &s,
                         MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)SERVE_THREADS,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_MAX_CONNECTIONS,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)SERVE_MAX_PER_IP,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_CONNECTION_TIMEOUT,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVE_REQUEST_MEMORY,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "tvdc: dc serve: cannot start the HTTP server on %s\n", url);
        close(fd);
        r = -EIO;
        goto out;
    }
    printf("listening on %s\n", url);
    fflush(stdout);
    while (sigwait(&stop, &sig) != 0)
        ;
    MHD_stop_daemon(d);            /* closes fd */
    fprintf(stderr, "tvdc: dc serve: %s, stopped\n", strsignal(sig));
    r = 0;
out:
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    dc_inventory_free(s.inv);
    free(s.error);
    free(s.status);
    pthread_mutex_destroy(&s.lock);
    return r;
}
