/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The helpers of tvdc-cli.h: options, messages, defaults. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tvdc-cli.h"

int
tool_getopt(int argc, char **argv, const char *shortopts,
            const struct option *longopts, const char *usage)
{
    bool quiet = shortopts[0] == ':';
    int c;

    opterr = !quiet;
    c = getopt_long(argc, argv, shortopts, longopts, NULL);
    switch (c) {
    case -1:
        return TOOL_OPT_END;
    case 'h':
        fputs(usage, stdout);
        return TOOL_OPT_HELP;
    case ':':
        tool_err("%s: option '%s' needs an argument", argv[0], argv[optind - 1]);
        return TOOL_OPT_ERROR;
    case '?':
        if (!quiet)
            return TOOL_OPT_ERROR;
        if (optopt > 0 && optopt < 0x100)
            tool_err("%s: unknown option '-%c' (see 'tvdc %s --help')",
                     argv[0], optopt, argv[0]);
        else
            tool_err("%s: unknown option '%s' (see 'tvdc %s --help')",
                     argv[0], argv[optind - 1], argv[0]);
        return TOOL_OPT_ERROR;
    default:
        return c;
    }
}

void
tool_err(const char *fmt, ...)
{
    va_list ap;

    fputs("tvdc: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void
tool_err_at(const char *file, const tvdc_error *e, int r)
{
    const char *msg = e->message[0] ? e->message : strerror(-r);

    if (e->line > 0)
        fprintf(stderr, "%s:%u:%u: %s\n", file, e->line, e->column, msg);
    else
        fprintf(stderr, "%s: %s\n", file, msg);
}

int
tool_load_policy(const char *path, tvdc_policy **ret)
{
    tvdc_error e = { 0 };
    int r;

    r = tvdc_policy_load_file(path, ret, &e);
    if (r < 0) {
        tool_err_at(path, &e, r);
        return EXIT_ERR;
    }
    return EXIT_OK;
}

void
tool_print_json(json_object *o)
{
    _cleanup_free_ char *line = NULL;

    if (tv_json_to_line(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE,
                        &line, NULL) == 0)
        fputs(line, stdout);
    json_object_put(o);
}

const tvdc_config *
tool_config(void)
{
    static tvdc_config *conf;
    static bool tried;
    tvdc_error e = { 0 };
    const char *path = getenv("TVDC_CONF");
    int r;

    if (tried)
        return conf;
    tried = true;
    if (!path || !*path)
        path = TVDC_CONFIG_PATH;
    r = tvdc_config_load(path, &conf, &e);
    if (r < 0) {
        tool_err_at(path, &e, r);
        conf = NULL;
    }
    return conf;
}

/* The environment, else tvdc.conf's setting (get), else builtin. */
static const char *
default_of(const char *env, const char *(*get)(const tvdc_config *), const char *builtin)
{
    const char *s = getenv(env);
    const tvdc_config *c;

    if (s && *s)
        return s;
    c = tool_config();
    if (c && get(c))
        return get(c);
    return builtin;
}

const char *
tool_default_policy(void)
{
    return default_of("TVDC_POLICY", tvdc_config_policy, TVDC_DEFAULT_POLICY);
}

const char *
tool_default_store(void)
{
    return default_of("TVDC_STORE", tvdc_config_resource_store, TVDC_DEFAULT_RESOURCE_STORE);
}

const char *
tool_default_audit_log(void)
{
    return default_of("TVDC_AUDIT_LOG", tvdc_config_audit_log, TVDC_DEFAULT_AUDIT_LOG);
}
