/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc status: what the tvdc driver of this host's libvirtd enforces now. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verbs.h"

static const char status_usage[] =
"Usage: tvdc status [--file FILE] [--quarantine DIR] [--json]\n"
"\n"
"The policy, mode, reservations and VMs of this host's libvirtd\n"
"(default FILE " TVDC_STATUS_PATH "), and the VMs tvdc attest\n"
"quarantined (default DIR " TVDC_QUARANTINE_DIR ").\n"
"Exit status: 0 policy in force, no violation; 1 no policy, a violation or\n"
"a refused replacement; 2 unreadable status.  See tvdc(1).\n";

static const char *
str(json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v) || !v)
        return NULL;
    return json_object_get_string(v);
}

/* The host's vTPM measurement (swtpm-mgr/README.md, "Measured identity"). */
static const char *
measurement_line(const char *m)
{
    if (m && !strcmp(m, "available"))
        return "label measured into each VM's vTPM at power-on (H-CRTM, PCR 0)";
    if (m && !strcmp(m, "unavailable"))
        return "measurement UNAVAILABLE: this host's QEMU cannot measure the label into "
               "the vTPM (no tpm-emulator hcrtm-file); VMs run unmeasured";
    if (m && !strcmp(m, "disabled"))
        return "measurement DISABLED (tvdc.conf: vtpm_measure = 0); VMs run unmeasured";
    return "measurement unknown: no VM with a vTPM started since libvirtd started";
}

static void
print_list(json_object *arr, char *out, size_t len)
{
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; arr && i < json_object_array_length(arr) && k < len; i++)
        k += snprintf(out + k, len - k, "%s%s", i ? "," : "",
                      json_object_get_string(json_object_array_get_idx(arr, i)));
}

/* The quarantine records of dir, as {uuid: {name, label, reason, host, by,
 * time}}; a record that cannot be read is listed with its error (the
 * driver refuses that VM too). */
static json_object *
quarantined(const char *dir)
{
    json_object *all = json_object_new_object();
    char **uuids = NULL;
    int r = tvdc_quarantine_list(dir, &uuids, NULL);

    if (r < 0) {
        json_object_object_add(all, "error", json_object_new_string(strerror(-r)));
        return all;
    }
    for (char **u = uuids; *u; u++) {
        json_object *o = json_object_new_object();
        tvdc_quarantine *q = NULL;

        if ((r = tvdc_quarantine_read(dir, *u, &q)) < 0) {
            json_object_object_add(o, "error", json_object_new_string(strerror(-r)));
        } else {
            json_object_object_add(o, "name", json_object_new_string(q->name));
            json_object_object_add(o, "label", q->label ? json_object_new_string(q->label) : NULL);
            json_object_object_add(o, "reason", json_object_new_string(q->reason));
            json_object_object_add(o, "host", q->host ? json_object_new_string(q->host) : NULL);
            json_object_object_add(o, "by", q->by ? json_object_new_string(q->by) : NULL);
            json_object_object_add(o, "time", json_object_new_int64(q->time));
            tvdc_quarantine_free(q);
        }
        json_object_object_add(all, *u, o);
        free(*u);
    }
    free(uuids);
    return all;
}

static int
cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        { "file", required_argument, NULL, 'f' },
        { "quarantine", required_argument, NULL, 'q' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    const char *file = TVDC_STATUS_PATH, *qdir = TVDC_QUARANTINE_DIR;
    bool json = false, degraded = false;
    json_object *st, *pol, *doms, *active, *v;
    char types[256];
    int c;

    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, status_usage)) >= 0) {
        switch (c) {
        case 'f': file = optarg; break;
        case 'q': qdir = optarg; break;
        case 'j': json = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);
    if (optind < argc) {
        tool_err("status: unexpected argument '%s'", argv[optind]);
        return EXIT_ERR;
    }
    st = json_object_from_file(file);
    if (!st || !json_object_is_type(st, json_type_object)) {
        tool_err("status: cannot read %s: %s (is libvirtd running with security_driver tvdc?)",
                 file, st ? "not a status object" : strerror(errno ? errno : EINVAL));
        json_object_put(st);
        return EXIT_ERR;
    }
    pol = json_object_object_get_ex(st, "policy", &v) && v &&
          json_object_is_type(v, json_type_object) ? v : NULL;
    doms = json_object_object_get_ex(st, "domains", &v) ? v : NULL;
    degraded = !pol || str(st, "error");
    for (size_t i = 0; doms && i < json_object_array_length(doms); i++)
        if (str(json_object_array_get_idx(doms, i), "violation"))
            degraded = true;

    json_object_object_add(st, "quarantined", quarantined(qdir));
    if (json) {
        tool_print_json(st);
        return degraded ? EXIT_DENIED : EXIT_OK;
    }

    print_list(json_object_object_get(st, "host_types"), types, sizeof(types));
    printf("host      %s (label %s: %s)\n", str(st, "host") ?: "?",
           str(st, "host_label") ?: "none", types[0] ? types : "no types");
    printf("mode      %s\n", str(st, "mode") ?: "?");
    if (pol) {
        printf("policy    %s v%s (%s, source sha256 %.16s...)\n", str(pol, "name"),
               str(pol, "version"), str(pol, "path"), str(pol, "source_sha256") ?: "?");
        if (str(st, "error"))   /* a replacement was refused */
            printf("error     %s\n", str(st, "error"));
    } else
        printf("policy    NONE IN FORCE: %s; every labeled VM is denied\n",
               str(st, "error") ?: "unknown reason");
    printf("audit     %s\n", str(st, "audit_log") ?: "?");
    printf("updated   %s by libvirtd pid %s\n", str(st, "updated") ?: "?", str(st, "pid") ?: "?");

    printf("active    ");
    active = json_object_object_get(st, "active_types");
    if (active && json_object_object_length(active)) {
        bool first = true;
        json_object_object_foreach(active, t, n) {
            printf("%s%s (%s VM%s)", first ? "" : ", ", t, json_object_get_string(n),
                   json_object_get_int(n) == 1 ? "" : "s");
            first = false;
        }
        putchar('\n');
    } else {
        printf("no types\n");
    }
    printf("reserved  %s VM(s)\n", str(st, "reservations") ?: "0");
    printf("vTPM      %s\n", measurement_line(str(st, "vtpm_measurement")));

    if (doms && json_object_array_length(doms)) {
        printf("\n%-20s %-36s %-20s %-12s %-9s %-12s %s\n", "VM", "UUID", "LABEL", "STATE",
               "RESERVED", "MEASURED", "VIOLATION");
        for (size_t i = 0; i < json_object_array_length(doms); i++) {
            json_object *d = json_object_array_get_idx(doms, i);
            printf("%-20s %-36s %-20s %-12s %-9s %-12s %s\n", str(d, "name") ?: "?",
                   str(d, "uuid") ?: "?", str(d, "label") ?: "(unlabeled)",
                   str(d, "state") ?: "?",
                   json_object_get_boolean(json_object_object_get(d, "reserved")) ? "yes" : "no",
                   str(d, "vtpm_measurement") ?: "-", str(d, "violation") ?: "-");
        }
    }
    v = json_object_object_get(st, "quarantined");
    if (json_object_object_length(v)) {
        printf("\nquarantined (%s; 'tvdc attest clear VM' lifts it):\n", qdir);
        json_object_object_foreach(v, uuid, q) {
            char when[32] = "?";
            time_t t = (time_t) json_object_get_int64(json_object_object_get(q, "time"));
            struct tm tm;

            if (!strcmp(uuid, "error")) {
                printf("  cannot list: %s\n", json_object_get_string(q));
                continue;
            }
            if (str(q, "error")) {
                printf("  %-36s record unreadable (%s): the driver refuses it\n", uuid,
                       str(q, "error"));
                continue;
            }
            if (gmtime_r(&t, &tm))
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
            printf("  %-20s %-36s since %s on %s: %s\n", str(q, "name"), uuid, when,
                   str(q, "host") ?: "?", str(q, "reason"));
        }
    }
    json_object_put(st);
    return degraded ? EXIT_DENIED : EXIT_OK;
}

const tvdc_verb tvdc_verb_status = {
    .name    = "status",
    .summary = "what this host's libvirtd enforces: policy, reservations, VMs",
    .run     = cmd_status,
};
