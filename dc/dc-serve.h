/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tvdc dc serve: the datacenter as a live web page (libmicrohttpd).
 * Read-only: GET (and HEAD) of
 *   /              the page (serve-page.html, embedded), drawing /api/status
 *   /api/status    dc_status_report's JSON, the bytes of tvdc dc status --json
 *   /api/place     ?label=L: dc_place_report's, as tvdc dc place --label L --json
 *   /api/policy    dc_policy_summary's (types, labels, conflict sets)
 * Other methods 405, other paths 404.  The inventory is taken again at most
 * once per refresh period, whatever the number of clients, so a browser
 * cannot make the server hammer the hosts.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "dc.h"

#define DC_SERVE_DEFAULT_LISTEN "127.0.0.1:8470"
#define DC_SERVE_DEFAULT_REFRESH 5

typedef struct dc_serve_opts {
    const char *listen;              /* ADDR:PORT; [ADDR]:PORT for IPv6; port 0: any */
    unsigned refresh;                /* seconds: page refresh and inventory age */
    const tvdc_policy *policy;       /* decisions and /api/policy; may be NULL */
    /* A fresh inventory: 0, or a negative errno with a message in *why
     * (malloc'ed).  Called with the server's lock held: never twice at once. */
    int (*inventory)(void *opaque, dc_inventory **ret, char **why);
    void *opaque;
} dc_serve_opts;

/* "127.0.0.1:8470", "[::1]:8470", "0.0.0.0:0": numeric address and port
 * (0..65535).  0 or -EINVAL; *ss, *len written only on success. */
int dc_serve_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* Serve until SIGINT or SIGTERM.  Prints "listening on http://ADDR:PORT/"
 * on stdout (the bound port, also when 0 was asked for).  0 on a clean
 * exit; a negative errno with a message on stderr when the server cannot
 * start. */
int dc_serve_run(const dc_serve_opts *o);
