/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc: one command for the Trusted Virtual Datacenter, like ip or virsh. */
#include <stdlib.h>
#include <string.h>

#include "verbs.h"

static const char usage_head[] =
"Usage: tvdc [--version] [--help] COMMAND [ARGS...]\n"
"\n"
"Trusted Virtual Datacenter: one policy of types, labels and conflict sets,\n"
"enforced by every KVM host's libvirt.\n"
"\n"
"Commands:\n";

static const char usage_tail[] =
"\n"
"Run 'tvdc COMMAND --help' for a command's options, and see tvdc(1).\n"
"\n"
"Exit status: 0 ok or permit, 1 denied, 2 error (usage, unreadable or\n"
"invalid input).\n";

static const tvdc_verb *const verbs[] = {
    &tvdc_verb_policy,
    &tvdc_verb_label,
    &tvdc_verb_status,
    &tvdc_verb_audit,
    &tvdc_verb_vtpm,
    &tvdc_verb_net,
    &tvdc_verb_dc,
    &tvdc_verb_attest,
    &tvdc_verb_bench,
};

static void
usage(FILE *f)
{
    fputs(usage_head, f);
    for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
        fprintf(f, "  %-9s %s\n", verbs[i]->name, verbs[i]->summary);
    fputs(usage_tail, f);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_ERR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        puts("tvdc " TVDC_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
        if (strcmp(argv[1], verbs[i]->name) == 0)
            return verbs[i]->run(argc - 1, argv + 1);

    tool_err("unknown command '%s' (try 'tvdc --help')", argv[1]);
    return EXIT_ERR;
}
