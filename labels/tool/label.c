/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc label: set, unset, get and list resource labels. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verbs.h"

static const char label_usage[] =
"NAME\n"
"    tvdc label - assign policy labels to resources\n"
"\n"
"SYNOPSIS\n"
"    tvdc label set RESOURCE LABEL [--store FILE] [--policy FILE] [--as USER]\n"
"    tvdc label unset RESOURCE [--store FILE]\n"
"    tvdc label get RESOURCE [--store FILE] [--json]\n"
"    tvdc label list [--store FILE] [--json]\n"
"\n"
"DESCRIPTION\n"
"    A VM may use a resource only if their labels share a type.\n"
"\n"
"ROLES\n"
"    When the policy has roles, set assigns (and replaces) only labels a role\n"
"    of the user or of one of its groups lists.  The user is the caller; for\n"
"    root it is $SUDO_USER (run through sudo) or --as USER (root only), and\n"
"    otherwise root itself, the datacenter administrator, who may use any.\n"
"    Through sudo, --as, --policy and --store are refused.\n"
"\n"
"RESOURCE NAMES\n"
"    PATH, pci:DDDD:BB:SS.F, usb:VVVV:PPPP, mdev:UUID, shmem:NAME, socket:PATH\n"
"\n"
"FILES\n"
"    " TVDC_DEFAULT_RESOURCE_STORE " (--store, $TVDC_STORE)\n"
"\n"
"EXIT STATUS\n"
"    0 done; 1 get, unset: not labeled; 2 error.  See tvdc(1).\n"
"\n"
"EXAMPLES\n"
"    tvdc label set pci:03:00.0 underwriting\n";

enum { OPT_JSON = 0x100, OPT_STORE, OPT_POLICY, OPT_AS };

static const struct option label_opts[] = {
    { "store",  required_argument, NULL, OPT_STORE },
    { "policy", required_argument, NULL, OPT_POLICY },
    { "json",   no_argument,       NULL, OPT_JSON },
    { "as",     required_argument, NULL, OPT_AS },
    { "help",   no_argument,       NULL, 'h' },
    {}
};

typedef struct verb {
    const char *name;
    int n_pos;              /* positional arguments after the verb */
    bool policy, json;      /* options it takes */
    const char *args;       /* for messages */
} verb;

static const verb verbs[] = {
    { "set",   2, true,  false, "RESOURCE LABEL" },
    { "unset", 1, false, false, "RESOURCE" },
    { "get",   1, false, true,  "RESOURCE" },
    { "list",  0, false, true,  "no arguments" },
};

typedef struct args {
    const verb *verb;
    const char *store, *policy, *as;
    bool policy_given, store_given, json;
    const char *pos[2];
    int n_pos;
} args;

/* 0, EXIT_ERR, or -1 when --help was printed. */
static int
parse_args(int argc, char **argv, args *a)
{
    const char *const *words;
    int n_words, c;

    *a = (args) { .store = tool_default_store(), .policy = tool_default_policy() };
    optind = 0;
    /* Options anywhere (getopt moves the words to the end); "--" ends them,
     * for a resource whose name starts with '-'. */
    while ((c = tool_getopt(argc, argv, ":h", label_opts, label_usage)) >= 0) {
        switch (c) {
        case OPT_STORE:
            a->store = optarg;
            a->store_given = true;
            break;
        case OPT_POLICY:
            a->policy = optarg;
            a->policy_given = true;
            break;
        case OPT_JSON:
            a->json = true;
            break;
        case OPT_AS:
            a->as = optarg;
            break;
        }
    }
    if (c == TOOL_OPT_HELP)
        return -1;
    if (c != TOOL_OPT_END)
        return EXIT_ERR;
    words = (const char *const *) argv + optind;
    n_words = argc - optind;

    if (n_words == 0) {
        tool_err("label: expected set, unset, get or list (see 'tvdc label --help')");
        return EXIT_ERR;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(words[0], verbs[i].name) == 0)
            a->verb = &verbs[i];
    if (!a->verb) {
        tool_err("label: unknown command '%s' (see 'tvdc label --help')", words[0]);
        return EXIT_ERR;
    }
    if (n_words - 1 != a->verb->n_pos) {
        tool_err("label %s: expected %s (see 'tvdc label --help')",
                 a->verb->name, a->verb->args);
        return EXIT_ERR;
    }
    if (a->json && !a->verb->json) {
        tool_err("label %s: --json is for get and list", a->verb->name);
        return EXIT_ERR;
    }
    if (a->as && !a->verb->policy) {
        tool_err("label %s: --as is for set", a->verb->name);
        return EXIT_ERR;
    }
    if (a->as && getuid() != 0) {
        tool_err("label set: only root may use --as");
        return EXIT_ERR;
    }
    /* Through sudo the host's own policy and store decide: a user may not
     * bring a policy without roles, or act as someone else. */
    if (strcmp(a->verb->name, "set") == 0 && getuid() == 0 && getenv("SUDO_USER") &&
        *getenv("SUDO_USER") && strcmp(getenv("SUDO_USER"), "root") != 0 &&
        (a->as || a->policy_given || a->store_given)) {
        tool_err("label set: run through sudo, --as, --policy and --store are refused");
        return EXIT_ERR;
    }
    if (a->policy_given && !a->verb->policy) {
        tool_err("label %s: --policy is for set", a->verb->name);
        return EXIT_ERR;
    }
    for (int i = 1; i < n_words; i++)
        a->pos[a->n_pos++] = words[i];
    return 0;
}

static bool
has_kind_prefix(const char *s)
{
    static const char *const kinds[] = { "pci:", "usb:", "mdev:", "shmem:", "socket:" };

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strncmp(s, kinds[i], strlen(kinds[i])) == 0)
            return true;
    return false;
}

/* RESOURCE as the library takes it: relative paths (also after socket:)
 * made absolute against the working directory. */
static int
absolute_name(const char *res, char **ret)
{
    const char *prefix = "", *path = res;
    char cwd[PATH_MAX];

    if (strncmp(res, "socket:", 7) == 0) {
        prefix = "socket:";
        path = res + 7;
    } else if (has_kind_prefix(res)) {
        path = NULL;
    } else if (res[0] != '/') {
        const char *colon = strchr(res, ':'), *slash = strchr(res, '/');
        /* "foo:bar" is a kind we do not know, not a file; "./foo:bar" is. */
        if (colon && (!slash || colon < slash)) {
            tool_err("%s: unknown kind of resource '%.*s:' (see RESOURCE NAMES in "
                     "'tvdc label --help')", res, (int) (colon - res), res);
            return -EINVAL;
        }
    }
    if (!path || path[0] == '/' || path[0] == '\0') {
        *ret = strdup(res);
        return *ret ? 0 : -ENOMEM;
    }
    if (!getcwd(cwd, sizeof(cwd))) {
        tool_err("cannot get the working directory: %s", strerror(errno));
        return -errno;
    }
    if (asprintf(ret, "%s%s/%s", prefix, cwd, path) < 0)
        return -ENOMEM;
    return 0;
}

/* The canonical key for RESOURCE, or EXIT_ERR with a message.  With
 * may_be_gone, a path that no longer exists gets its directory resolved
 * instead (so its label can still be found and removed). */
static int
resource_key(const char *res, bool may_be_gone, char **ret)
{
    char *abs = NULL, *key = NULL;
    struct stat st;
    int r;

    r = absolute_name(res, &abs);
    if (r < 0) {
        if (r == -ENOMEM)
            tool_err("out of memory");
        return EXIT_ERR;
    }
    r = tvdc_resource_canonicalize(abs, &key);
    if (r == -ENOENT && may_be_gone && abs[0] == '/') {
        char *sock = NULL;
        if (asprintf(&sock, "socket:%s", abs) >= 0 &&
            tvdc_resource_canonicalize(sock, &key) == 0) {
            memmove(key, key + 7, strlen(key + 7) + 1);
            r = 0;
        }
        free(sock);
    }
    if (r == 0) {
        free(abs);
        *ret = key;
        return EXIT_OK;
    }

    if (r == -EINVAL && abs[0] == '/' && stat(abs, &st) == 0) {
        if (S_ISSOCK(st.st_mode))
            tool_err("%s: a socket: name it socket:%s", res, abs);
        else
            tool_err("%s: not a file, block device or directory", res);
    } else if (r == -EINVAL) {
        tool_err("%s: not a valid resource name (see RESOURCE NAMES in "
                 "'tvdc label --help')", res);
    } else {
        tool_err("%s: %s", res, strerror(-r));
    }
    free(abs);
    return EXIT_ERR;
}

static int
load_store(const char *path, tvdc_store **ret)
{
    tvdc_error e = { 0 };
    int r;

    r = tvdc_store_load(path, ret, &e);
    if (r < 0) {
        tool_err_at(path, &e, r);
        return EXIT_ERR;
    }
    return EXIT_OK;
}

static json_object *
entry_json(const char *key, const char *label)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "resource", json_object_new_string(key));
    json_object_object_add(o, "label", label ? json_object_new_string(label) : NULL);
    return o;
}

/* The user on whose behalf set runs (see ROLES in the usage): NULL for
 * the datacenter administrator. */
static const char *
acting_user(const args *a, char *buf, size_t len)
{
    const char *sudo = getenv("SUDO_USER");
    struct passwd *pw;

    if (a->as)
        return a->as;
    if (getuid() == 0)
        return sudo && *sudo && strcmp(sudo, "root") != 0 ? sudo : NULL;
    pw = getpwuid(getuid());
    if (pw && strlen(pw->pw_name) < len) {
        strcpy(buf, pw->pw_name);
        return buf;
    }
    snprintf(buf, len, "#%u", (unsigned) getuid());
    return buf;
}

/* May user use label under the policy's roles?  EXIT_OK, or EXIT_ERR with
 * the reason printed. */
static int
check_role(const tvdc_policy *p, const char *user, const char *label)
{
    gid_t gids[256];
    const char *groups[256];
    char names[256][64];
    int ngids = 256, ng = 0;
    uint32_t considered[16];
    size_t nc = 0;
    struct passwd *pw;
    char roles[512] = "";
    size_t k = 0;

    if (!user || tvdc_policy_n_roles(p) == 0)
        return EXIT_OK;
    pw = getpwnam(user);
    if (pw && getgrouplist(pw->pw_name, pw->pw_gid, gids, &ngids) >= 0) {
        for (int i = 0; i < ngids; i++) {
            struct group *gr = getgrgid(gids[i]);
            if (gr && strlen(gr->gr_name) < sizeof(names[0])) {
                strcpy(names[ng], gr->gr_name);
                groups[ng] = names[ng];
                ng++;
            }
        }
    }
    /* An account this host does not know gets nothing. */
    if (tvdc_decide_role(p, pw ? user : NULL, groups, ng, label, considered, 16, &nc,
                         NULL) == TVDC_PERMIT)
        return EXIT_OK;
    for (size_t i = 0; i < nc && i < 16 && k < sizeof(roles); i++)
        k += snprintf(roles + k, sizeof(roles) - k, "%s%s", i ? ", " : "",
                      tvdc_role_name(p, considered[i]));
    if (!pw)
        tool_err("label set: user '%s' is not known on this host and may not assign label "
                 "'%s'; nothing set", user, label);
    else
        tool_err("label set: user '%s' (roles: %s) may not assign label '%s'; nothing set",
                 user, nc ? roles : "none", label);
    return EXIT_ERR;
}

static int
do_set(const args *a)
{
    tvdc_policy *p = NULL;
    tvdc_error e = { 0 };
    const char *label = a->pos[1];
    char *key = NULL;
    int r;

    r = resource_key(a->pos[0], false, &key);
    if (r != EXIT_OK)
        return r;
    /* Fail closed: a label nobody can check is not set. */
    if (tool_load_policy(a->policy, &p) != EXIT_OK) {
        tool_err("label set: no valid policy to check '%s' against; nothing set", label);
        free(key);
        return EXIT_ERR;
    }
    if (tvdc_find_label(p, label) < 0) {
        tool_err("label '%s' is not defined in policy '%s' (%s); nothing set",
                 label, tvdc_policy_name(p), a->policy);
        r = EXIT_ERR;
        goto out;
    }
    {
        char buf[64];
        const char *user = acting_user(a, buf, sizeof(buf));
        tvdc_store *s = NULL;
        const char *old = NULL;

        /* The new label, and the one it replaces: taking a resource away
         * from a TVD is assigning it too. */
        if ((r = check_role(p, user, label)) != EXIT_OK)
            goto out;
        if (user && tvdc_policy_n_roles(p) && tvdc_store_load(a->store, &s, NULL) == 0 &&
            tvdc_store_get(s, key, &old) == 0 && strcmp(old, label) != 0 &&
            tvdc_find_label(p, old) >= 0)
            r = check_role(p, user, old);
        tvdc_store_free(s);
        if (r != EXIT_OK)
            goto out;
    }
    r = tvdc_store_update(a->store, key, label, p, &e);
    if (r < 0) {
        tool_err_at(a->store, &e, r);
        r = EXIT_ERR;
        goto out;
    }
    r = EXIT_OK;
 out:
    tvdc_policy_free(p);
    free(key);
    return r;
}

/* Is key absent from a readable store?  (An update's -ENOENT may also be
 * a missing directory.) */
static bool
not_labeled(const char *store, const char *key)
{
    tvdc_store *s = NULL;
    bool r;

    if (tvdc_store_load(store, &s, NULL) < 0)
        return false;
    r = tvdc_store_get(s, key, NULL) == -ENOENT;
    tvdc_store_free(s);
    return r;
}

static int
do_unset(const args *a)
{
    tvdc_error e = { 0 };
    char *key = NULL;
    int r;

    r = resource_key(a->pos[0], true, &key);
    if (r != EXIT_OK)
        return r;
    r = tvdc_store_update(a->store, key, NULL, NULL, &e);
    if (r == -ENOENT && not_labeled(a->store, key)) {
        tool_err("%s: not labeled", key);
        r = EXIT_DENIED;
    } else if (r < 0) {
        tool_err_at(a->store, &e, r);
        r = EXIT_ERR;
    } else {
        r = EXIT_OK;
    }
    free(key);
    return r;
}

static int
do_get(const args *a)
{
    tvdc_store *s = NULL;
    const char *label = NULL;
    char *key = NULL;
    int r;

    r = resource_key(a->pos[0], true, &key);
    if (r != EXIT_OK)
        return r;
    r = load_store(a->store, &s);
    if (r != EXIT_OK) {
        free(key);
        return r;
    }
    r = tvdc_store_get(s, key, &label) == 0 ? EXIT_OK : EXIT_DENIED;
    if (a->json)
        tool_print_json(entry_json(key, r == EXIT_OK ? label : NULL));
    else if (r == EXIT_OK)
        puts(label);
    if (r != EXIT_OK)
        tool_err("%s: not labeled", key);
    tvdc_store_free(s);
    free(key);
    return r;
}

static int
do_list(const args *a)
{
    tvdc_store *s = NULL;
    json_object *arr = NULL;
    int r;

    r = load_store(a->store, &s);
    if (r != EXIT_OK)
        return r;
    if (a->json)
        arr = json_object_new_array();
    for (size_t i = 0; i < tvdc_store_size(s); i++) {
        const char *key, *label;

        if (tvdc_store_entry(s, i, &key, &label) < 0)
            break;
        if (arr)
            json_object_array_add(arr, entry_json(key, label));
        else
            printf("%s %s\n", key, label);
    }
    if (arr)
        tool_print_json(arr);
    tvdc_store_free(s);
    if (fflush(stdout) != 0) {
        tool_err("label list: cannot write: %s", strerror(errno));
        return EXIT_ERR;
    }
    return EXIT_OK;
}

static int
cmd_label(int argc, char **argv)
{
    args a;
    int r;

    r = parse_args(argc, argv, &a);
    if (r != 0)
        return r < 0 ? EXIT_OK : r;
    if (strcmp(a.verb->name, "set") == 0)
        return do_set(&a);
    if (strcmp(a.verb->name, "unset") == 0)
        return do_unset(&a);
    if (strcmp(a.verb->name, "get") == 0)
        return do_get(&a);
    return do_list(&a);
}

const tvdc_verb tvdc_verb_label = {
    .name    = "label",
    .summary = "assign labels to resources (disks, devices, sockets, shmem)",
    .run     = cmd_label,
};
