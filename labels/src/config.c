/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host configuration: tvdc.conf(5), TVDC_CONFIG_PATH (tvdc-paths.h).
 *
 * The syntax is the subset of libvirt's conf format (src/util/virconf.c)
 * that a flat list of settings needs:
 *
 *     # comment
 *     policy = "/srv/tvdc/policy.bin"
 *     require_signature = 1
 *     mode = 'permissive'    # trailing comment
 *     vxlan_peers = [ "192.0.2.1",
 *                     "192.0.2.2" ]   # a list may span lines
 *
 * One setting per line (a ';' may separate settings, as in libvirt), strings
 * in double or single quotes without escapes and without line breaks, as
 * virconf reads them, integers in decimal, lists of strings where a key
 * takes a list (vxlan_peers only).  Unknown keys, repeated keys, lists where
 * a key takes one value and values of the wrong kind are errors with a line
 * and column.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_VALUE_MAX 4095
#define CONFIG_LIST_MAX 4096        /* elements of a list */
#define CONFIG_IFNAME_MAX 15        /* IFNAMSIZ - 1 */
#define DEFAULT_VXLAN_PORT 4789

struct tvdc_config {
    char *policy;
    char *trust_dir;
    int require_signature;
    char *rollback_state;
    char *host_name;
    char *resource_store;
    tvdc_mode mode;
    char *audit_log;
    tvdc_net_mode net_mode;
    char *net_uplink;        /* NULL: not set */
    char *net_underlay;      /* NULL: not set */
    char **vxlan_peers;      /* n_vxlan_peers numeric addresses, as written */
    size_t n_vxlan_peers;
    char *vxlan_group;       /* NULL: not set */
    char *vxlan_local;       /* NULL: chosen by route */
    int vxlan_port;
    int vtpm_measure;        /* default 1 */
};

typedef enum conf_kind {
    CONF_PATH,      /* absolute path */
    CONF_BOOL,      /* 0 or 1 */
    CONF_HOST,      /* RFC 1123 host name */
    CONF_MODE,      /* "enforcing" or "permissive" */
    CONF_NET_MODE,  /* "vlan" or "vxlan" */
    CONF_IFNAME,    /* a network interface name */
    CONF_ADDR,      /* a numeric IPv4 or IPv6 address */
    CONF_GROUP,     /* a multicast IPv4 or IPv6 address */
    CONF_ADDR_LIST, /* a list of CONF_ADDR, no duplicates */
    CONF_PORT,      /* 1..65535 */
} conf_kind;

typedef struct conf_key {
    const char *name;
    conf_kind kind;
    size_t offset;  /* of the field in tvdc_config */
} conf_key;

static const conf_key conf_keys[] = {
    { "policy",            CONF_PATH, offsetof(tvdc_config, policy) },
    { "trust_dir",         CONF_PATH, offsetof(tvdc_config, trust_dir) },
    { "require_signature", CONF_BOOL, offsetof(tvdc_config, require_signature) },
    { "rollback_state",    CONF_PATH, offsetof(tvdc_config, rollback_state) },
    { "host_name",         CONF_HOST, offsetof(tvdc_config, host_name) },
    { "resource_store",    CONF_PATH, offsetof(tvdc_config, resource_store) },
    { "mode",              CONF_MODE, offsetof(tvdc_config, mode) },
    { "audit_log",         CONF_PATH, offsetof(tvdc_config, audit_log) },
    { "net_mode",          CONF_NET_MODE, offsetof(tvdc_config, net_mode) },
    { "net_uplink",        CONF_IFNAME, offsetof(tvdc_config, net_uplink) },
    { "net_underlay",      CONF_IFNAME, offsetof(tvdc_config, net_underlay) },
    { "vxlan_peers",       CONF_ADDR_LIST, offsetof(tvdc_config, vxlan_peers) },
    { "vxlan_group",       CONF_GROUP, offsetof(tvdc_config, vxlan_group) },
    { "vxlan_local",       CONF_ADDR, offsetof(tvdc_config, vxlan_local) },
    { "vxlan_port",        CONF_PORT, offsetof(tvdc_config, vxlan_port) },
    { "vtpm_measure",      CONF_BOOL, offsetof(tvdc_config, vtpm_measure) },
};

void
tvdc_config_free(tvdc_config *c)
{
    if (!c)
        return;
    free(c->policy);
    free(c->trust_dir);
    free(c->rollback_state);
    free(c->host_name);
    free(c->resource_store);
    free(c->audit_log);
    free(c->net_uplink);
    free(c->net_underlay);
    for (size_t i = 0; i < c->n_vxlan_peers; i++)
        free(c->vxlan_peers[i]);
    free(c->vxlan_peers);
    free(c->vxlan_group);
    free(c->vxlan_local);
    free(c);
}

static int
config_set_defaults(tvdc_config *c)
{
    static const struct {
        size_t offset;
        const char *value;
    } defaults[] = {
        { offsetof(tvdc_config, policy),         TVDC_DEFAULT_POLICY },
        { offsetof(tvdc_config, trust_dir),      TVDC_DEFAULT_TRUST_DIR },
        { offsetof(tvdc_config, rollback_state), TVDC_DEFAULT_ROLLBACK_STATE },
        { offsetof(tvdc_config, resource_store), TVDC_DEFAULT_RESOURCE_STORE },
        { offsetof(tvdc_config, audit_log),      TVDC_DEFAULT_AUDIT_LOG },
    };

    for (size_t i = 0; i < ELEMENTSOF(defaults); i++) {
        char **field = (char **) ((char *) c + defaults[i].offset);

        if (*field)
            continue;
        *field = strdup(defaults[i].value);
        if (!*field)
            return -ENOMEM;
    }

    if (!c->host_name) {
        char buf[HOST_NAME_MAX + 2] = { 0 };

        if (gethostname(buf, sizeof(buf) - 1) < 0)
            return -errno;
        c->host_name = strdup(buf);
        if (!c->host_name)
            return -ENOMEM;
    }
    return 0;
}

/* The parser: one pass over buf, tracking line and column. */
typedef struct conf_parser {
    const char *buf;
    size_t len;
    size_t pos;
    unsigned line;
    size_t line_start;   /* offset of the first byte of the current line */
    tvdc_error *err;
} conf_parser;

static unsigned
parser_col(const conf_parser *p, size_t pos)
{
    return (unsigned) (pos - p->line_start) + 1;
}

#define PARSE_ERROR(p, pos, ...) \
    tv_error((p)->err, -EINVAL, (p)->line, parser_col((p), (pos)), __VA_ARGS__)

static bool
at_end(const conf_parser *p)
{
    return p->pos >= p->len;
}

static char
cur(const conf_parser *p)
{
    return at_end(p) ? '\0' : p->buf[p->pos];
}

static void
skip_blanks(conf_parser *p)
{
    while (!at_end(p) && (cur(p) == ' ' || cur(p) == '\t' || cur(p) == '\r'))
        p->pos++;
}

static void
skip_comment(conf_parser *p)
{
    if (cur(p) != '#')
        return;
    while (!at_end(p) && cur(p) != '\n')
        p->pos++;
}

static void
next_line(conf_parser *p)
{
    /* at a '\n' */
    p->pos++;
    p->line++;
    p->line_start = p->pos;
}

/* Describe the byte at pos for an error message. */
static const char *
describe(const conf_parser *p, size_t pos, char buf[16])
{
    unsigned char c;

    if (pos >= p->len)
        return "end of file";
    c = (unsigned char) p->buf[pos];
    if (c == '\n')
        return "end of line";
    if (isprint(c))
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

typedef struct conf_value {
    bool is_string;
    size_t pos;          /* where the value starts */
    const char *str;     /* into buf, not terminated */
    size_t str_len;
    long long num;
} conf_value;

static int
parse_value(conf_parser *p, const char *key, conf_value *v)
{
    char d[16];
    char c = cur(p);

    v->pos = p->pos;
    if (c == '"' || c == '\'') {
        char quote = c;
        size_t start = ++p->pos;

        while (!at_end(p) && cur(p) != quote && cur(p) != '\n') {
            if (cur(p) == '\0')
                return PARSE_ERROR(p, p->pos, "%s: NUL byte in string", key);
            p->pos++;
        }
        if (cur(p) != quote)
            return PARSE_ERROR(p, v->pos, "%s: unterminated string", key);
        v->is_string = true;
        v->str = p->buf + start;
        v->str_len = p->pos - start;
        p->pos++;
        return 0;
    }

    if (c == '-' || c == '+' || isdigit((unsigned char) c)) {
        size_t start = p->pos;
        long long n = 0;
        bool neg = false;

        if (c == '-' || c == '+') {
            neg = c == '-';
            p->pos++;
        }
        if (!isdigit((unsigned char) cur(p)))
            return PARSE_ERROR(p, start, "%s: invalid number", key);
        while (isdigit((unsigned char) cur(p))) {
            int digit = cur(p) - '0';

            if (n > (LLONG_MAX - digit) / 10)
                return PARSE_ERROR(p, start, "%s: number out of range", key);
            n = n * 10 + digit;
            p->pos++;
        }
        if (isalpha((unsigned char) cur(p)) || cur(p) == '_' || cur(p) == '.')
            return PARSE_ERROR(p, start, "%s: invalid number", key);
        v->is_string = false;
        v->num = neg ? -n : n;
        return 0;
    }

    if (c == '[')
        return PARSE_ERROR(p, p->pos, "%s: lists are not supported here", key);

    return PARSE_ERROR(p, p->pos, "%s: expected a value, got %s",
                       key, describe(p, p->pos, d));
}

/* What the kernel accepts as a name (dev_valid_name): 1..15 bytes, not "."
 * or "..", no '/', ':' or white space; printable ASCII here. */
static bool
ifname_valid(const char *s, size_t len)
{
    if (len == 0 || len > CONFIG_IFNAME_MAX)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char) s[i];

        if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == ':')
            return false;
    }
    return true;
}

/* A numeric IPv4 or IPv6 address: its family and 16 bytes (IPv4 in the
 * first 4), or 0 if s is not one. */
static int
addr_parse(const char *s, size_t len, uint8_t out[16])
{
    char buf[INET6_ADDRSTRLEN + 1];

    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, 16);
    if (inet_pton(AF_INET, buf, out) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, buf, out) == 1)
        return AF_INET6;
    return 0;
}

static bool
addr_is_multicast(int family, const uint8_t a[16])
{
    return family == AF_INET ? (a[0] & 0xf0) == 0xe0 : a[0] == 0xff;
}

/* Check a string value of an address kind; 0 or a parse error. */
static int
check_addr(conf_parser *p, const conf_key *k, const conf_value *v, uint8_t out[16])
{
    int family = addr_parse(v->str, v->str_len, out);

    if (!family)
        return PARSE_ERROR(p, v->pos, "%s: not an IPv4 or IPv6 address: \"%.*s\"", k->name,
                           (int) (v->str_len > 64 ? 64 : v->str_len), v->str);
    if (k->kind == CONF_GROUP && !addr_is_multicast(family, out))
        return PARSE_ERROR(p, v->pos, "%s: not a multicast address: \"%.*s\"", k->name,
                           (int) v->str_len, v->str);
    return 0;
}

static int
assign(conf_parser *p, tvdc_config *c, const conf_key *k, const conf_value *v)
{
    void *field = (char *) c + k->offset;
    char *s;

    switch (k->kind) {
    case CONF_BOOL:
        if (v->is_string)
            return PARSE_ERROR(p, v->pos, "%s: expected 0 or 1, got a string", k->name);
        if (v->num != 0 && v->num != 1)
            return PARSE_ERROR(p, v->pos, "%s: expected 0 or 1, got %lld",
                               k->name, v->num);
        *(int *) field = (int) v->num;
        return 0;

    case CONF_MODE:
        if (!v->is_string)
            return PARSE_ERROR(p, v->pos,
                               "mode: expected \"enforcing\" or \"permissive\", got a number");
        if (v->str_len == strlen("enforcing") && memcmp(v->str, "enforcing", v->str_len) == 0)
            c->mode = TVDC_MODE_ENFORCING;
        else if (v->str_len == strlen("permissive") &&
                 memcmp(v->str, "permissive", v->str_len) == 0)
            c->mode = TVDC_MODE_PERMISSIVE;
        else
            return PARSE_ERROR(p, v->pos,
                               "mode: expected \"enforcing\" or \"permissive\", got \"%.*s\"",
                               (int) (v->str_len > 64 ? 64 : v->str_len), v->str);
        return 0;

    case CONF_NET_MODE:
        if (!v->is_string)
            return PARSE_ERROR(p, v->pos,
                               "net_mode: expected \"vlan\" or \"vxlan\", got a number");
        if (v->str_len == strlen("vlan") && memcmp(v->str, "vlan", v->str_len) == 0)
            c->net_mode = TVDC_NET_MODE_VLAN;
        else if (v->str_len == strlen("vxlan") && memcmp(v->str, "vxlan", v->str_len) == 0)
            c->net_mode = TVDC_NET_MODE_VXLAN;
        else
            return PARSE_ERROR(p, v->pos,
                               "net_mode: expected \"vlan\" or \"vxlan\", got \"%.*s\"",
                               (int) (v->str_len > 64 ? 64 : v->str_len), v->str);
        return 0;

    case CONF_PORT:
        if (v->is_string)
            return PARSE_ERROR(p, v->pos, "%s: expected a port number, got a string", k->name);
        if (v->num < 1 || v->num > 65535)
            return PARSE_ERROR(p, v->pos, "%s: expected 1..65535, got %lld", k->name, v->num);
        *(int *) field = (int) v->num;
        return 0;

    case CONF_ADDR_LIST:
        /* parse_list() handles lists; a single value is not one. */
        return PARSE_ERROR(p, v->pos, "%s: expected a list like [ \"ADDRESS\", ... ]",
                           k->name);

    case CONF_PATH:
    case CONF_HOST:
    case CONF_IFNAME:
    case CONF_ADDR:
    case CONF_GROUP:
        if (!v->is_string)
            return PARSE_ERROR(p, v->pos, "%s: expected a string, got a number", k->name);
        if (v->str_len == 0)
            return PARSE_ERROR(p, v->pos, "%s: must not be empty", k->name);
        if (v->str_len > CONFIG_VALUE_MAX)
            return PARSE_ERROR(p, v->pos, "%s: longer than %d bytes",
                               k->name, CONFIG_VALUE_MAX);
        if (k->kind == CONF_PATH && v->str[0] != '/')
            return PARSE_ERROR(p, v->pos, "%s: not an absolute path: \"%.*s\"", k->name,
                               (int) (v->str_len > 256 ? 256 : v->str_len), v->str);
        if (k->kind == CONF_HOST && !tv_hostname_valid(v->str, v->str_len))
            return PARSE_ERROR(p, v->pos, "%s: not a valid host name: \"%.*s\"", k->name,
                               (int) (v->str_len > 256 ? 256 : v->str_len), v->str);
        if (k->kind == CONF_IFNAME && !ifname_valid(v->str, v->str_len))
            return PARSE_ERROR(p, v->pos, "%s: not a valid interface name: \"%.*s\"", k->name,
                               (int) (v->str_len > 64 ? 64 : v->str_len), v->str);
        if (k->kind == CONF_ADDR || k->kind == CONF_GROUP) {
            uint8_t a[16];
            int r = check_addr(p, k, v, a);

            if (r < 0)
                return r;
        }
        s = strndup(v->str, v->str_len);
        if (!s)
            return -ENOMEM;
        free(*(char **) field);
        *(char **) field = s;
        return 0;
    }
    return -EINVAL;
}

/* Blanks, comments and line breaks between the elements of a list. */
static void
skip_list_space(conf_parser *p)
{
    for (;;) {
        skip_blanks(p);
        skip_comment(p);
        if (at_end(p) || cur(p) != '\n')
            return;
        next_line(p);
    }
}

static int
list_push(char ***items, uint8_t (**bin)[16], size_t n, const conf_value *v,
          const uint8_t a[16])
{
    char **ni = realloc(*items, (n + 1) * sizeof(**items));
    uint8_t (*nb)[16];

    if (!ni)
        return -ENOMEM;
    *items = ni;
    nb = realloc(*bin, (n + 1) * sizeof(**bin));
    if (!nb)
        return -ENOMEM;
    *bin = nb;
    ni[n] = strndup(v->str, v->str_len);
    if (!ni[n])
        return -ENOMEM;
    memcpy(nb[n], a, 16);
    return 0;
}

/* Element n of a list, whose first n elements are bin: an address, not
 * listed before, not one too many.  a gets its bytes. */
static int
check_list_item(conf_parser *p, const conf_key *k, const conf_value *v,
                uint8_t (*bin)[16], size_t n, uint8_t a[16])
{
    int r;

    if ((r = check_addr(p, k, v, a)) < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        if (memcmp(bin[i], a, 16) == 0)
            return PARSE_ERROR(p, v->pos, "%s: \"%.*s\" is listed twice", k->name,
                               (int) v->str_len, v->str);
    if (n == CONFIG_LIST_MAX)
        return PARSE_ERROR(p, v->pos, "%s: more than %d elements", k->name, CONFIG_LIST_MAX);
    return 0;
}

/* [ "a", "b", ] for a CONF_ADDR_LIST key (vxlan_peers, the only one). */
static int
parse_list(conf_parser *p, tvdc_config *c, const conf_key *k)
{
    uint8_t (*bin)[16] = NULL;
    char **items = NULL;
    size_t n = 0;
    unsigned start_line = p->line, start_col = parser_col(p, p->pos);
    char d[16];
    int r = 0;

    if (cur(p) != '[') {
        conf_value v = { 0 };

        if ((r = parse_value(p, k->name, &v)) < 0)
            return r;
        return assign(p, c, k, &v);   /* "expected a list" */
    }
    p->pos++;
    for (;;) {
        conf_value v = { 0 };
        uint8_t a[16];

        skip_list_space(p);
        if (at_end(p)) {
            r = tv_error(p->err, -EINVAL, start_line, start_col,
                         "%s: unterminated list", k->name);
            break;
        }
        if (cur(p) == ']') {
            p->pos++;
            break;
        }
        if ((r = parse_value(p, k->name, &v)) < 0)
            break;
        if (!v.is_string) {
            r = PARSE_ERROR(p, v.pos, "%s: expected a string, got a number", k->name);
            break;
        }
        if ((r = check_list_item(p, k, &v, bin, n, a)) < 0)
            break;
        if ((r = list_push(&items, &bin, n, &v, a)) < 0)
            break;
        n++;
        skip_list_space(p);
        if (cur(p) == ',' && !at_end(p)) {
            p->pos++;
            continue;
        }
        if (cur(p) == ']' && !at_end(p)) {
            p->pos++;
            break;
        }
        if (at_end(p))
            r = tv_error(p->err, -EINVAL, start_line, start_col,
                         "%s: unterminated list", k->name);
        else
            r = PARSE_ERROR(p, p->pos, "%s: expected ',' or ']' in the list, got %s",
                            k->name, describe(p, p->pos, d));
        break;
    }
    free(bin);
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            free(items[i]);
        free(items);
        return r;
    }
    c->vxlan_peers = items;
    c->n_vxlan_peers = n;
    return 0;
}

static int
parse_statement(conf_parser *p, tvdc_config *c, bool *seen)
{
    char d[16];
    const conf_key *k = NULL;
    conf_value v = { 0 };
    size_t key_pos = p->pos;
    size_t key_len;
    int r;

    if (!(isalpha((unsigned char) cur(p)) || cur(p) == '_'))
        return PARSE_ERROR(p, p->pos, "expected a setting name, got %s",
                           describe(p, p->pos, d));
    while (isalnum((unsigned char) cur(p)) || cur(p) == '_' || cur(p) == '.')
        p->pos++;
    key_len = p->pos - key_pos;

    for (size_t i = 0; i < ELEMENTSOF(conf_keys); i++) {
        if (strlen(conf_keys[i].name) == key_len &&
            memcmp(conf_keys[i].name, p->buf + key_pos, key_len) == 0) {
            k = &conf_keys[i];
            if (seen[i])
                return PARSE_ERROR(p, key_pos, "%s: set more than once", k->name);
            seen[i] = true;
            break;
        }
    }
    if (!k)
        return PARSE_ERROR(p, key_pos, "unknown setting '%.*s'",
                           (int) (key_len > 64 ? 64 : key_len), p->buf + key_pos);

    skip_blanks(p);
    if (cur(p) != '=')
        return PARSE_ERROR(p, p->pos, "%s: expected '=', got %s",
                           k->name, describe(p, p->pos, d));
    p->pos++;
    skip_blanks(p);

    if (k->kind == CONF_ADDR_LIST) {
        if ((r = parse_list(p, c, k)) < 0)
            return r;
    } else {
        if ((r = parse_value(p, k->name, &v)) < 0)
            return r;
        if ((r = assign(p, c, k, &v)) < 0)
            return r;
    }

    /* A separator: ';', a comment, the end of the line or of the file. */
    skip_blanks(p);
    if (cur(p) == ';') {
        p->pos++;
        skip_blanks(p);
        return 0;   /* another statement may follow on the same line */
    }
    if (cur(p) == '#' || cur(p) == '\n' || at_end(p))
        return 0;
    return PARSE_ERROR(p, p->pos, "%s: unexpected %s after the value",
                       k->name, describe(p, p->pos, d));
}

static int
config_parse(const char *buf, size_t len, tvdc_config *c, tvdc_error *err)
{
    bool seen[ELEMENTSOF(conf_keys)] = { false };
    conf_parser p = {
        .buf = buf,
        .len = len,
        .line = 1,
        .err = err,
    };
    int r;

    while (!at_end(&p)) {
        skip_blanks(&p);
        skip_comment(&p);
        if (at_end(&p))
            break;
        if (cur(&p) == '\n') {
            next_line(&p);
            continue;
        }
        if (cur(&p) == ';') {
            p.pos++;
            continue;
        }
        if ((r = parse_statement(&p, c, seen)) < 0)
            return r;
    }
    return 0;
}

/* Parse a configuration from memory (for the tests and the fuzzer; not
 * exported: the version script exports tvdc_* only).  buf NULL: defaults. */
int
tv_config_parse(const char *buf, size_t len, tvdc_config **ret, tvdc_error *err)
{
    _cleanup_(tvdc_config_freep) tvdc_config *c = NULL;
    int r;

    if (!ret || (!buf && len > 0))
        return -EINVAL;

    if ((r = tvdc_config_new(&c, err)) < 0)
        return r;
    if (buf && (r = config_parse(buf, len, c, err)) < 0)
        return r;

    *ret = TAKE_PTR(c);
    return 0;
}

int
tvdc_config_load(const char *path, tvdc_config **ret, tvdc_error *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r;

    if (!ret)
        return -EINVAL;
    if (!path)
        path = TVDC_CONFIG_PATH;

    r = tv_read_file(path, CONFIG_MAX_BYTES, &buf, &len);
    if (r == -ENOENT)
        return tv_config_parse(NULL, 0, ret, err);
    if (r == -EFBIG)
        return tv_error(err, r, 0, 0, "%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
    if (r < 0)
        return tv_error(err, r, 0, 0, "%s: cannot read: %s", path, strerror(-r));

    return tv_config_parse(buf, len, ret, err);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                */

const char *tvdc_config_policy(const tvdc_config *c) { return c ? c->policy : NULL; }
const char *tvdc_config_trust_dir(const tvdc_config *c) { return c ? c->trust_dir : NULL; }
int tvdc_config_require_signature(const tvdc_config *c) { return c ? c->require_signature : 0; }
const char *tvdc_config_rollback_state(const tvdc_config *c) { return c ? c->rollback_state : NULL; }
const char *tvdc_config_host_name(const tvdc_config *c) { return c ? c->host_name : NULL; }
const char *tvdc_config_resource_store(const tvdc_config *c) { return c ? c->resource_store : NULL; }
tvdc_mode tvdc_config_mode(const tvdc_config *c) { return c ? c->mode : TVDC_MODE_ENFORCING; }
const char *tvdc_config_audit_log(const tvdc_config *c) { return c ? c->audit_log : NULL; }
tvdc_net_mode tvdc_config_net_mode(const tvdc_config *c) { return c ? c->net_mode : TVDC_NET_MODE_VLAN; }
const char *tvdc_config_net_uplink(const tvdc_config *c) { return c ? c->net_uplink : NULL; }
const char *tvdc_config_net_underlay(const tvdc_config *c) { return c ? c->net_underlay : NULL; }
const char *tvdc_config_vxlan_group(const tvdc_config *c) { return c ? c->vxlan_group : NULL; }
const char *tvdc_config_vxlan_local(const tvdc_config *c) { return c ? c->vxlan_local : NULL; }
int tvdc_config_vxlan_port(const tvdc_config *c) { return c ? c->vxlan_port : 0; }
int tvdc_config_vtpm_measure(const tvdc_config *c) { return c ? c->vtpm_measure : 1; }

const char *const *
tvdc_config_vxlan_peers(const tvdc_config *c, size_t *n)
{
    if (n)
        *n = c ? c->n_vxlan_peers : 0;
    return c ? (const char *const *) c->vxlan_peers : NULL;
}

/* ------------------------------------------------------------------------ */
/* Settings one at a time (libvirtd reads tvdc.conf with virConf): the
 * file parser's checks, without a position.                               */

int
tvdc_config_new(tvdc_config **ret, tvdc_error *err)
{
    _cleanup_(tvdc_config_freep) tvdc_config *c = NULL;
    int r;

    if (!ret)
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->mode = TVDC_MODE_ENFORCING;
    c->net_mode = TVDC_NET_MODE_VLAN;
    c->vxlan_port = DEFAULT_VXLAN_PORT;
    c->vtpm_measure = 1;
    if ((r = config_set_defaults(c)) < 0)
        return tv_error(err, r, 0, 0, "cannot determine defaults: %s", strerror(-r));
    *ret = TAKE_PTR(c);
    return 0;
}

static const conf_key *
config_key(const char *key, tvdc_error *err)
{
    for (size_t i = 0; key && i < ELEMENTSOF(conf_keys); i++)
        if (strcmp(conf_keys[i].name, key) == 0)
            return &conf_keys[i];
    tv_error(err, -EINVAL, 0, 0, "unknown setting '%.64s'", key ? key : "");
    return NULL;
}

/* The parser's error without its position (there is no text). */
static int
config_set_error(int r, const tvdc_error *e, tvdc_error *err)
{
    return tv_error(err, r, 0, 0, "%s", e->message);
}

static int
config_set_value(tvdc_config *c, const char *key, const conf_value *v, tvdc_error *err)
{
    conf_parser p = { .buf = v->str ? v->str : "", .len = v->str_len };
    tvdc_error e = { 0 };
    const conf_key *k;
    int r;

    if (!c)
        return -EINVAL;
    if (!(k = config_key(key, err)))
        return -EINVAL;
    p.err = &e;
    if ((r = assign(&p, c, k, v)) < 0)
        return config_set_error(r, &e, err);
    return 0;
}

int
tvdc_config_set_string(tvdc_config *c, const char *key, const char *value, tvdc_error *err)
{
    conf_value v = { .is_string = true, .str = value };

    if (!value)
        return -EINVAL;
    v.str_len = strlen(value);
    return config_set_value(c, key, &v, err);
}

int
tvdc_config_set_int(tvdc_config *c, const char *key, long long value, tvdc_error *err)
{
    conf_value v = { .is_string = false, .num = value };

    return config_set_value(c, key, &v, err);
}

int
tvdc_config_set_list(tvdc_config *c, const char *key, const char *const *values, size_t n,
                     tvdc_error *err)
{
    _cleanup_free_ uint8_t (*bin)[16] = NULL;
    conf_parser p = { .buf = "" };
    tvdc_error e = { 0 };
    const conf_key *k;
    char **items;
    int r = 0;

    if (!c || (n > 0 && !values))
        return -EINVAL;
    if (!(k = config_key(key, err)))
        return -EINVAL;
    if (k->kind != CONF_ADDR_LIST)
        return tv_error(err, -EINVAL, 0, 0, "%s: lists are not supported here", k->name);
    p.err = &e;
    if (!(items = calloc(n + 1, sizeof(*items))) || !(bin = calloc(n + 1, sizeof(*bin)))) {
        free(items);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        conf_value v = { .is_string = true, .str = values[i] ? values[i] : "" };

        v.str_len = strlen(v.str);
        if ((r = check_list_item(&p, k, &v, bin, i, bin[i])) < 0)
            r = config_set_error(r, &e, err);
        else if (!(items[i] = strdup(v.str)))
            r = -ENOMEM;
    }
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            free(items[i]);
        free(items);
        return r;
    }
    for (size_t i = 0; i < c->n_vxlan_peers; i++)
        free(c->vxlan_peers[i]);
    free(c->vxlan_peers);
    c->vxlan_peers = items;
    c->n_vxlan_peers = n;
    return 0;
}
