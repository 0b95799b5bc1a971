/*
 * securitytvdctest.c: data-driven test of the tvdc security driver's
 * decisions, after libvirt's securityselinuxlabeltest: a domain XML in, the
 * decision of domainSecurityVerify and every resource the driver collected
 * out, compared with a golden file.  No daemon, no root.
 *
 *   securitytvdctest CONFIG DATADIR WORKDIR
 *
 * CONFIG is a tvdc.conf (policy, resource store, audit log); DATADIR holds
 * NAME.xml and NAME.out; WORKDIR is where the store's files live, written
 * @DIR@ in both.  TVDC_REGENERATE=1 rewrites the .out files.  TAP on
 * stdout, one line per XML file.
 *
 * It includes the driver's source, so that it calls the same static
 * functions libvirtd does, and links libvirt's build tree (ci/build-libvirt)
 * for the domain XML parser.
 */

#include "../security_tvdc_use.c"
#include "../security_tvdc.c"
/* One translation unit: the other files' VIR_LOG_INIT would define the
 * log source again. */
#undef VIR_LOG_INIT
#define VIR_LOG_INIT(n) G_STATIC_ASSERT(true)
#include "../security_tvdc_conf.c"
#include "../security_tvdc_bind.c"
#include "../security_tvdc_net.c"
#include "../security_tvdc_role.c"

#include <dirent.h>


/* The security manager is not in libvirt.so (it is linked into the QEMU
 * driver module); the test calls the decisions directly and never the
 * hooks, so these are never reached. */
void *
virSecurityManagerGetPrivateData(virSecurityManager *mgr G_GNUC_UNUSED)
{
    abort();
}

bool
virSecurityManagerGetPrivileged(virSecurityManager *mgr G_GNUC_UNUSED)
{
    abort();
}


/* <qemu:...> passthrough as the QEMU driver parses it (the names of the
 * elements of its namespace, formatted back the same way), so that the
 * driver sees def->namespaceData as it does inside libvirtd. */
#define TEST_QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

static int
testNSParse(xmlXPathContextPtr ctxt,
            void **data)
{
    g_autofree xmlNodePtr *nodes = NULL;
    GPtrArray *names;
    int n;
    int i;

    if ((n = virXPathNodeSet("./qemu:*", ctxt, &nodes)) <= 0)
        return n < 0 ? -1 : 0;
    names = g_ptr_array_new_with_free_func(g_free);
    for (i = 0; i < n; i++)
        g_ptr_array_add(names, g_strdup((const char *) nodes[i]->name));
    *data = names;
    return 0;
}

static void
testNSFree(void *data)
{
    if (data)
        g_ptr_array_unref(data);
}

static int
testNSFormat(virBuffer *buf,
             void *data)
{
    GPtrArray *names = data;
    size_t i;

    for (i = 0; i < names->len; i++)
        virBufferAsprintf(buf, "<qemu:%s/>\n", (const char *) g_ptr_array_index(names, i));
    return 0;
}


static char *
testReplace(const char *text,
            const char *from,
            const char *to)
{
    g_auto(GStrv) parts = g_strsplit(text, from, -1);

    return g_strjoinv(to, parts);
}


/* The decision and what was collected, as text. */
static char *
testDecide(virTVDCSecurityData *priv,
           virDomainXMLOption *xmlopt,
           const char *xml)
{
    g_auto(virBuffer) out = VIR_BUFFER_INITIALIZER;
    g_autoptr(virDomainDef) def = NULL;
    g_autoptr(GPtrArray) resources = NULL;
    size_t i;

    if (!(def = virDomainDefParseString(xml, xmlopt, NULL,
                                        VIR_DOMAIN_DEF_PARSE_INACTIVE))) {
        virBufferAsprintf(&out, "parse error: %s\n", virGetLastErrorMessage());
        virResetLastError();
        return virBufferContentAndReset(&out);
    }

    resources = virTVDCDomainUses(def);
    for (i = 0; i < resources->len; i++) {
        virTVDCResource *res = g_ptr_array_index(resources, i);

        if (res->privateLog)
            virBufferAsprintf(&out, "private %s: %s\n", res->what, res->key);
        else if (res->problem)
            virBufferAsprintf(&out, "refused %s: %s\n", NULLSTR(res->rule),
                              NULLSTR(res->problem));
        else
            virBufferAsprintf(&out, "resource %s: %s%s%s\n", res->what, res->key,
                              res->parentKey ? " dir " : "", NULLSTR_EMPTY(res->parentKey));
    }

    if (virTVDCVerifyDef(priv, def) == 0)
        virBufferAddLit(&out, "permit\n");
    else
        virBufferAsprintf(&out, "deny: %s\n", virGetLastErrorMessage());
    virResetLastError();
    return virBufferContentAndReset(&out);
}


static int
testCompareNames(const void *a,
                 const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}


int
main(int argc,
     char **argv)
{
    virXMLNamespace ns = {
        .parse = testNSParse,
        .free = testNSFree,
        .format = testNSFormat,
        .prefix = "qemu",
        .uri = TEST_QEMU_NS,
    };
    g_autoptr(virDomainXMLOption) xmlopt = NULL;
    virTVDCSecurityData priv = { 0 };
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *dataDir;
    const char *workDir;
    bool regenerate = !!g_getenv("TVDC_REGENERATE");
    g_autoptr(DIR) dir = NULL;
    struct dirent *ent;
    int failed = 0;
    size_t i;

    if (argc != 4) {
        fprintf(stderr, "usage: %s CONFIG DATADIR WORKDIR\n", argv[0]);
        return 2;
    }
    dataDir = argv[2];
    workDir = argv[3];

    /* the decisions are the output; the driver's warnings about them are
     * not */
    virLogSetDefaultPriority(VIR_LOG_ERROR);
    if (virErrorInitialize() < 0 ||
        !(xmlopt = virDomainXMLOptionNew(NULL, NULL, &ns, NULL, NULL, NULL))) {
        fprintf(stderr, "cannot initialize libvirt\n");
        return 2;
    }

    if (virMutexInit(&priv.lock) < 0)
        return 2;
    priv.watchFd = -1;
    priv.watch = -1;
    priv.domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) virTVDCDomainFree);
    virTVDCLoad(&priv, argv[1]);
    if (priv.unavailable) {
        fprintf(stderr, "no policy: %s\n", priv.unavailable);
        return 2;
    }

    if (!(dir = opendir(dataDir))) {
        fprintf(stderr, "%s: %s\n", dataDir, g_strerror(errno));
        return 2;
    }
    while ((ent = readdir(dir)))
        if (virStringHasSuffix(ent->d_name, ".xml"))
            g_ptr_array_add(names, g_strdup(ent->d_name));
    qsort(names->pdata, names->len, sizeof(char *), testCompareNames);

    printf("1..%u\n", names->len);
    for (i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autofree char *base = g_strndup(name, strlen(name) - strlen(".xml"));
        g_autofree char *xmlPath = g_build_filename(dataDir, name, NULL);
        g_autofree char *outPath = g_strdup_printf("%s/%s.out", dataDir, base);
        g_autofree char *raw = NULL;
        g_autofree char *xml = NULL;
        g_autofree char *got = NULL;
        g_autofree char *gotRaw = NULL;
        g_autofree char *want = NULL;

        if (!g_file_get_contents(xmlPath, &raw, NULL, NULL)) {
            printf("not ok %zu - %s: cannot read it\n", i + 1, base);
            failed++;
            continue;
        }
        xml = testReplace(raw, "@DIR@", workDir);
        gotRaw = testDecide(&priv, xmlopt, xml);
        got = testReplace(gotRaw, workDir, "@DIR@");

        if (regenerate) {
            if (!g_file_set_contents(outPath, got, -1, NULL)) {
                printf("not ok %zu - %s: cannot write %s\n", i + 1, base, outPath);
                failed++;
                continue;
            }
        }
        if (!g_file_get_contents(outPath, &want, NULL, NULL)) {
            printf("not ok %zu - %s: no %s (TVDC_REGENERATE=1 writes it)\n",
                   i + 1, base, outPath);
            printf("# got:\n");
        } else if (STREQ(want, got)) {
            printf("ok %zu - %s\n", i + 1, base);
            continue;
        } else {
            printf("not ok %zu - %s: differs from %s\n", i + 1, base, outPath);
            printf("# expected:\n");
            {
                g_auto(GStrv) lines = g_strsplit(want, "\n", -1);
                char **l;

                for (l = lines; *l && **l; l++)
                    printf("#   %s\n", *l);
            }
            printf("# got:\n");
        }
        failed++;
        {
            g_auto(GStrv) lines = g_strsplit(got, "\n", -1);
            char **l;

            for (l = lines; *l && **l; l++)
                printf("#   %s\n", *l);
        }
    }
    return failed ? 1 : 0;
}
