/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The few things `tvdc attest` reads from a domain's live XML.  Only the
 * domain's own elements count: a client may put any XML into <metadata>
 * (and, with mixed content, any indentation), so elements are found by
 * their path from the root, /domain/devices/interface, with a small
 * scanner of well-formed XML (libvirt's output: tags, attributes in quotes,
 * comments, CDATA, processing instructions; '<' in text is always
 * escaped), never by searching the text.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest-xml.h"

#define MAX_DEPTH 1024
#define MAX_PATH 8

/* One element found at a path: [start, end) the whole element, [start,
 * stag_end) its start tag, [stag_end, etag) its content. */
typedef struct xelem {
    const char *start, *stag_end, *etag, *end;
} xelem;

typedef int (*xvisit)(const xelem *el, void *userdata);

static const char *
skip_to(const char *p, const char *e, const char *needle)
{
    size_t n = strlen(needle);

    for (; p + n <= e; p++)
        if (memcmp(p, needle, n) == 0)
            return p + n;
    return NULL;
}

/* The end of a start or end tag at p ('<'): after its '>', quotes
 * honoured; *empty when it ends in "/>". */
static const char *
tag_end(const char *p, const char *e, bool *empty)
{
    char quote = 0;

    for (p++; p < e; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '>') {
            *empty = p[-1] == '/';
            return p + 1;
        }
    }
    return NULL;
}

/*
 * Call visit on every element of [s, e) whose path from the root is path
 * ("/domain/devices/interface").  0, the first non-zero return of visit,
 * or -EBADMSG when the XML is not well formed or nests deeper than
 * MAX_DEPTH (libxml2, which parsed it for libvirt, allows 256 levels: a
 * client's metadata cannot make a well-formed domain unreadable here).
 * Only names are kept per level, no path text, so long names in the
 * metadata cannot overflow anything either.
 */
static int
walk(const char *s, const char *e, const char *path, xvisit visit, void *userdata)
{
    const char *starts[MAX_DEPTH], *comp[MAX_PATH];
    size_t lens[MAX_DEPTH], comp_len[MAX_PATH];
    size_t depth = 0, ncomp = 0, match = 0;   /* match: levels equal to path's */

    for (const char *c = path; *c == '/' && ncomp < MAX_PATH; ncomp++) {
        comp[ncomp] = ++c;
        comp_len[ncomp] = strcspn(c, "/");
        c += comp_len[ncomp];
    }
    for (const char *p = s; p < e;) {
        const char *n, *end;
        bool empty = false;
        size_t len;
        xelem el;
        int r;

        if (*p != '<') {
            p++;
            continue;
        }
        if (strncmp(p, "<!--", 4) == 0)
            p = skip_to(p + 4, e, "-->");
        else if (strncmp(p, "<![CDATA[", 9) == 0)
            p = skip_to(p + 9, e, "]]>");
        else if (p[1] == '?' || p[1] == '!')
            p = skip_to(p + 2, e, ">");
        if (!p)
            return -EBADMSG;
        if (*p != '<')
            continue;
        if (!(end = tag_end(p, e, &empty)))
            return -EBADMSG;
        n = p + (p[1] == '/' ? 2 : 1);
        len = strcspn(n, " \t\r\n/>");
        if (len == 0 || n + len > end)
            return -EBADMSG;
        if (p[1] == '/') {                      /* end tag */
            if (depth == 0 || lens[depth - 1] != len ||
                memcmp(starts[depth - 1] + 1, n, len) != 0)
                return -EBADMSG;
            el = (xelem) { starts[depth - 1], NULL, p, end };
            el.stag_end = tag_end(el.start, e, &empty);
        } else {                                /* start tag */
            if (depth == MAX_DEPTH)
                return -EBADMSG;
            if (match == depth && depth < ncomp && comp_len[depth] == len &&
                memcmp(comp[depth], n, len) == 0)
                match = depth + 1;
            starts[depth] = p;
            lens[depth++] = len;
            p = end;
            if (!empty)
                continue;
            el = (xelem) { starts[depth - 1], end, end, end };
        }
        /* the element at depth ends */
        if (match == ncomp && depth == ncomp && (r = visit(&el, userdata)) != 0)
            return r;
        if (match >= depth)
            match = depth - 1;
        depth--;
        p = end;
    }
    return depth == 0 ? 0 : -EBADMSG;
}

/* Text with XML's escapes undone: malloc'ed; NULL when out of memory. */
static char *
unescape(const char *s, size_t len)
{
    static const struct { const char *ent; char c; } ents[] = {
        { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&apos;", '\'' }, { "&quot;", '"' },
    };
    char *out = malloc(len + 1), *w = out;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t k;
        for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
            if (len - i >= strlen(ents[k].ent) &&
                memcmp(s + i, ents[k].ent, strlen(ents[k].ent)) == 0)
                break;
        if (k < sizeof(ents) / sizeof(ents[0])) {
            *w++ = ents[k].c;
            i += strlen(ents[k].ent);
        } else {
            *w++ = s[i++];
        }
    }
    *w = '\0';
    return out;
}

/* The value of attribute name in the start tag of el, malloc'ed; NULL when
 * it has none (or out of memory). */
static char *
attr(const xelem *el, const char *name)
{
    const char *p = el->start + 1 + strcspn(el->start + 1, " \t\r\n/>");
    const char *e = el->stag_end;
    size_t n = strlen(name);

    while (p < e) {
        const char *a, *v;
        char q;

        while (p < e && strchr(" \t\r\n", *p))
            p++;
        a = p;
        while (p < e && !strchr(" \t\r\n=/>", *p))
            p++;
        if (p >= e || *p != '=' || (p[1] != '\'' && p[1] != '"'))
            return NULL;
        q = p[1];
        v = p + 2;
        if (!(p = memchr(v, q, (size_t) (e - v))))
            return NULL;
        if ((size_t) (v - 2 - a) == n && memcmp(a, name, n) == 0)
            return unescape(v, (size_t) (p - v));
        p++;
    }
    return NULL;
}

/* The first child element of parent at subpath (relative, "mac"). */
typedef struct first_ctx {
    xelem el;
    bool found;
} first_ctx;

static int
first_visit(const xelem *el, void *userdata)
{
    first_ctx *c = userdata;

    c->el = *el;
    c->found = true;
    return 1;
}

static bool
child(const xelem *parent, const char *parent_name, const char *name, xelem *ret)
{
    char path[64];
    first_ctx c = { .found = false };

    snprintf(path, sizeof(path), "/%s/%s", parent_name, name);
    if (walk(parent->start, parent->end, path, first_visit, &c) < 0 || !c.found)
        return false;
    *ret = c.el;
    return true;
}

/* What a visitor found: a malloc'ed string. */
typedef struct string_ctx {
    char *s;
} string_ctx;

static int
label_visit(const xelem *el, void *userdata)
{
    string_ctx *c = userdata;
    char *model = attr(el, "model");
    xelem l;
    bool tvdc = model && strcmp(model, "tvdc") == 0;

    free(model);
    if (!tvdc)
        return 0;
    c->s = child(el, "seclabel", "label", &l) ? unescape(l.stag_end, (size_t) (l.etag - l.stag_end))
                                             : strdup("");
    return 1;
}

int
attest_xml_label(const char *xml, char **ret)
{
    string_ctx c = { NULL };
    int r = walk(xml, xml + strlen(xml), "/domain/seclabel", label_visit, &c);

    if (r < 0 || (r == 1 && !c.s)) {
        free(c.s);
        return r < 0 ? r : -ENOMEM;
    }
    *ret = c.s ? c.s : strdup("");
    return *ret ? 0 : -ENOMEM;
}

static int
channel_visit(const xelem *el, void *userdata)
{
    string_ctx *c = userdata;
    char *type = attr(el, "type"), *name = NULL, *ttype = NULL;
    xelem target, source;
    bool ours = false;

    if (type && strcmp(type, "unix") == 0 && child(el, "channel", "target", &target)) {
        ttype = attr(&target, "type");
        name = attr(&target, "name");
        ours = ttype && name && strcmp(ttype, "virtio") == 0 && strcmp(name, ATTEST_PORT) == 0;
    }
    free(type);
    free(ttype);
    free(name);
    if (!ours || !child(el, "channel", "source", &source))
        return 0;
    c->s = attr(&source, "path");
    return c->s ? 1 : 0;
}

int
attest_xml_channel(const char *xml, char **ret)
{
    string_ctx c = { NULL };
    int r = walk(xml, xml + strlen(xml), "/domain/devices/channel", channel_visit, &c);

    if (r < 0) {
        free(c.s);
        return r;
    }
    *ret = c.s;
    return 0;
}

void
attest_ifaces_free(attest_iface *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].mac);
        free(v[i].xml);
    }
    free(v);
}

typedef struct iface_ctx {
    attest_iface *v;
    size_t n;
} iface_ctx;

static int
iface_visit(const xelem *el, void *userdata)
{
    iface_ctx *c = userdata;
    attest_iface *nv = realloc(c->v, (c->n + 1) * sizeof(*c->v)), *i;
    xelem mac, link;

    if (!nv)
        return -ENOMEM;
    c->v = nv;
    i = &c->v[c->n++];
    memset(i, 0, sizeof(*i));
    i->link_up = 1;
    if (child(el, "interface", "link", &link)) {
        char *state = attr(&link, "state");
        i->link_up = !state || strcmp(state, "down") != 0;
        free(state);
    }
    if (child(el, "interface", "mac", &mac) && !(i->mac = attr(&mac, "address")))
        return -ENOMEM;
    if (!(i->xml = strndup(el->start, (size_t) (el->end - el->start))))
        return -ENOMEM;
    return 0;
}

int
attest_xml_interfaces(const char *xml, attest_iface **ret, size_t *n)
{
    iface_ctx c = { NULL, 0 };
    int r = walk(xml, xml + strlen(xml), "/domain/devices/interface", iface_visit, &c);

    if (r < 0) {
        attest_ifaces_free(c.v, c.n);
        *ret = NULL;
        *n = 0;
        return r;
    }
    *ret = c.v;
    *n = c.n;
    return 0;
}

char *
attest_xml_set_link(const char *iface_xml, int up)
{
    const char *e = iface_xml + strlen(iface_xml);
    first_ctx top = { .found = false };
    xelem link;
    bool has_link;
    char *out;
    int k;

    if (walk(iface_xml, e, "/interface", first_visit, &top) < 0 || !top.found ||
        top.el.etag == top.el.end)
        return NULL;
    /* the element's own <link .../> replaced, or ours added before the end */
    has_link = child(&top.el, "interface", "link", &link);
    if (has_link)
        k = asprintf(&out, "%.*s<link state='%s'/>%s", (int) (link.start - iface_xml),
                     iface_xml, up ? "up" : "down", link.end);
    else
        k = asprintf(&out, "%.*s  <link state='%s'/>\n    %s", (int) (top.el.etag - iface_xml),
                     iface_xml, up ? "up" : "down", top.el.etag);
    return k < 0 ? NULL : out;
}
