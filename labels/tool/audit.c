/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc audit: read the decision log that libvirtd's tvdc driver writes. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verbs.h"

static const char audit_usage[] =
"Usage: tvdc audit [--log FILE] [--vm NAME] [--decision permit|deny|would-deny]\n"
"                  [--since TIME] [--json]\n"
"\n"
"The decisions of libvirtd's tvdc driver, oldest first.  TIME: an ISO 8601\n"
"UTC time or an age (30s, 10m, 2h, 7d).\n"
"Exit status: 0 printed; 2 error.  See tvdc(1).\n";

/* TIME -> the "time" string format of the log, for comparison. */
static int
parse_since(const char *s, char *out, size_t len)
{
    char *end;
    long n = strtol(s, &end, 10);
    struct tm tm = { 0 };

    if (end != s && n >= 0 && end[0] && !end[1] && strchr("smhd", end[0])) {
        long mult = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : 86400;
        time_t t = time(NULL) - n * mult;
        gmtime_r(&t, &tm);
        strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
        return 0;
    }
    /* Dates and times are compared as text: the log's times are UTC and
     * fixed-width, so a prefix such as 2026-11-23 works as a bound. */
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789-:TZ.", *p))
            return -1;
    if (strlen(s) < 4 || strlen(s) >= len)
        return -1;
    snprintf(out, len, "%s", s);
    if (out[strlen(out) - 1] == 'Z')
        out[strlen(out) - 1] = '\0';
    return 0;
}

static const char *
field(json_object *o, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int
cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        { "log", required_argument, NULL, 'l' },
        { "vm", required_argument, NULL, 'v' },
        { "decision", required_argument, NULL, 'd' },
        { "since", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *log = NULL, *vm = NULL, *decision = NULL;
    char since[64] = "", *line = NULL;
    size_t cap = 0;
    bool json = false;
    json_object *arr;
    unsigned long lineno = 0;
    int c, bad = 0;
    FILE *f;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, audit_usage)) >= 0) {
        switch (c) {
        case 'l': log = optarg; break;
        case 'v': vm = optarg; break;
        case 'd':
            if (strcmp(optarg, "permit") && strcmp(optarg, "deny") && strcmp(optarg, "would-deny")) {
                tool_err("audit: --decision is permit, deny or would-deny, not '%s'", optarg);
                return EXIT_ERR;
            }
            decision = optarg;
            break;
        case 's':
            if (parse_since(optarg, since, sizeof(since)) < 0) {
                tool_err("audit: bad --since '%s' (2026-11-23T21:00:00Z or 10m, 2h, 7d)", optarg);
                return EXIT_ERR;
            }
            break;
        case 'j': json = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind < argc) {
        tool_err("audit: unexpected argument '%s'", argv[optind]);
        return EXIT_ERR;
    }
    if (!log)
        log = tool_default_audit_log();
    f = fopen(log, "re");
    if (!f) {
        tool_err("audit: cannot read %s: %s", log, strerror(errno));
        return EXIT_ERR;
    }

    arr = json_object_new_array();
    while (getline(&line, &cap, f) > 0) {
        json_object *o;
        const char *t, *d, *name, *uuid;

        lineno++;
        o = json_tokener_parse(line);
        if (!o || !json_object_is_type(o, json_type_object) || !(t = field(o, "time"))) {
            tool_err("audit: %s:%lu: not an audit record", log, lineno);
            bad = 1;
            json_object_put(o);
            continue;
        }
        d = field(o, "decision");
        name = field(o, "vm_name");
        uuid = field(o, "vm_uuid");
        if ((vm && !(name && strcmp(name, vm) == 0) && !(uuid && strcmp(uuid, vm) == 0)) ||
            (decision && !(d && strcmp(d, decision) == 0)) ||
            (since[0] && strncmp(t, since, strlen(since)) < 0)) {
            json_object_put(o);
            continue;
        }
        if (json) {
            json_object_array_add(arr, o);
            continue;
        }
        /* TIME HOST OPERATION VM LABEL DECISION: DETAIL */
        printf("%s %s %s %s %s %s: %s\n", t, field(o, "host") ?: "-",
               field(o, "operation") ?: "-", name ?: "-", field(o, "label") ?: "(unlabeled)",
               d ?: "?", field(o, "detail") ?: "");
        json_object_put(o);
    }
    free(line);
    fclose(f);
    if (json)
        tool_print_json(arr);
    else
        json_object_put(arr);
    return bad ? EXIT_ERR : EXIT_OK;
}

const tvdc_verb tvdc_verb_audit = {
    .name    = "audit",
    .summary = "show the decisions the libvirt driver logged",
    .run     = cmd_audit,
};
