/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc: one command for the Trusted Virtual Datacenter, like ip or virsh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tvdc-tool.h"

static const char usage[] =
"Usage: tvdc [--version] [--help] COMMAND [ARGS...]\n"
"\n"
"Trusted Virtual Datacenter: one policy of types, labels and conflict sets,\n"
"enforced by every KVM host's libvirt.\n"
"\n"
"Commands:\n"
"  policy    validate, show, compile, decide, diff, sign and verify policies\n"
"  label     assign labels to resources (disks, devices, sockets, shmem)\n"
"  status    what this host's libvirtd enforces: policy, reservations, VMs\n"
"  audit     show the decisions the libvirt driver logged\n"
"  vtpm      the datacenter vTPM CA; a VM's vTPM certificates and state\n"
"  net       this host's TVD bridges (802.1Q VLAN or VXLAN), via netlink\n"
"  bench     measure decision latency and policy load cost\n"
"\n"
"Run 'tvdc COMMAND --help' for a command's options.\n"
"\n"
"Exit status: 0 ok or permit, 1 denied, 2 error (usage, unreadable or\n"
"invalid input).\n";

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
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                           JSON_C_TO_STRING_NOSLASHESCAPE));
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

static const char *
default_of(const char *env, size_t conf_offset, const char *builtin)
{
    const char *s = getenv(env);
    const tvdc_config *c;

    if (s && *s)
        return s;
    c = tool_config();
    if (c && *(char **) ((const char *) c + conf_offset))
        return *(char **) ((const char *) c + conf_offset);
    return builtin;
}

const char *
tool_default_policy(void)
{
    return default_of("TVDC_POLICY", offsetof(tvdc_config, policy), "/etc/tvdc/policy.bin");
}

const char *
tool_default_store(void)
{
    return default_of("TVDC_STORE", offsetof(tvdc_config, resource_store),
                      "/etc/tvdc/resources.json");
}

const char *
tool_default_audit_log(void)
{
    return default_of("TVDC_AUDIT_LOG", offsetof(tvdc_config, audit_log),
                      "/var/log/tvdc/audit.log");
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    { "policy", cmd_policy },
    { "label",  cmd_label },
    { "audit",  cmd_audit },
    { "status", cmd_status },
    { "vtpm",   cmd_vtpm },
    { "net",    cmd_net },
    { "bench",  cmd_bench },
};

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_ERR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        puts("tvdc " TVDC_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);

    tool_err("unknown command '%s' (try 'tvdc --help')", argv[1]);
    return EXIT_ERR;
}
