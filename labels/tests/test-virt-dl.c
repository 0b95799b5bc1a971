/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* labels/cli/virt-dl.c, libvirt loaded by the first call, built three ways:
 *   VIRT_DL_TEST_REAL     libvirt.so.0: every forwarded function against
 *                         libvirt's in-process test driver (test:///default),
 *                         first from several threads at once;
 *   VIRT_DL_TEST_MISSING  a library that is not there;
 *   VIRT_DL_TEST_PARTIAL  a library without most functions (virt-dl-fake.c).
 * The failures must look like libvirt's: NULL or -1, and virGetLastError()
 * naming the library and dlerror()'s reason. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static const char *
last_message(void)
{
    virErrorPtr e = virGetLastError();

    return e && e->message ? e->message : "";
}

#ifdef VIRT_DL_TEST_REAL
static void
silent(void *opaque, virErrorPtr e)
{
    (void) opaque;
    (void) e;
}

/* The first calls, from several threads at once: one dlopen for all. */
static void *
open_list(void *arg)
{
    virConnectPtr c = virConnectOpen("test:///default");
    virDomainPtr *doms = NULL;
    int n;

    (void) arg;
    if (!c)
        return (void *) "cannot open test:///default";
    n = virConnectListAllDomains(c, &doms, 0);
    for (int i = 0; i < n; i++)
        virDomainFree(doms[i]);
    free(doms);
    virConnectClose(c);
    return n == 1 ? NULL : (void *) "not one domain";
}

static void
test_threads(void **state)
{
    pthread_t t[8];
    void *r;

    (void) state;
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, open_list, NULL), 0);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(t[i], &r), 0);
        assert_null(r);
    }
}

static void
test_test_driver(void **state)
{
    virConnectPtr c, c2;
    virDomainPtr d, d2;
    virDomainInfo info;
    char uuid[VIR_UUID_STRING_BUFLEN], *s;
    int st = -1, reason;
    static const char ns[] = "http://tvdc.example.org/test";

    (void) state;
    assert_int_equal(virInitialize(), 0);
    virSetErrorFunc(NULL, silent);
    assert_non_null(c = virConnectOpen("test:///default"));
    assert_int_equal(virConnectIsAlive(c), 1);
    assert_non_null(s = virConnectGetCapabilities(c));
    assert_non_null(strstr(s, "<capabilities>"));
    free(s);

    /* libvirt's own error, not ours, after a call that went through */
    assert_null(virDomainLookupByName(c, "no-such-domain"));
    assert_int_equal(virGetLastError()->code, VIR_ERR_NO_DOMAIN);
    assert_non_null(strstr(last_message(), "Domain not found"));

    assert_non_null(d = virDomainLookupByName(c, "test"));
    assert_string_equal(virDomainGetName(d), "test");
    assert_int_equal(virDomainGetUUIDString(d, uuid), 0);
    assert_non_null(d2 = virDomainLookupByUUIDString(c, uuid));
    assert_string_equal(virDomainGetName(d2), "test");
    assert_int_equal(virDomainFree(d2), 0);
    assert_int_equal(virDomainIsActive(d), 1);
    assert_int_equal(virDomainGetState(d, &st, &reason, 0), 0);
    assert_int_equal(st, VIR_DOMAIN_RUNNING);
    assert_non_null(s = virDomainGetXMLDesc(d, 0));
    assert_non_null(strstr(s, "<name>test</name>"));
    free(s);

    /* what attest/'s remediation calls */
    assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT,
                                          "<verdict>untrusted</verdict>", "tvdc", ns,
                                          VIR_DOMAIN_AFFECT_LIVE), 0);
    assert_non_null(s = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, ns,
                                             VIR_DOMAIN_AFFECT_LIVE));
    assert_non_null(strstr(s, "untrusted"));
    free(s);
    assert_int_equal(virDomainSuspend(d), 0);
    assert_int_equal(virDomainGetInfo(d, &info), 0);
    assert_int_equal(info.state, VIR_DOMAIN_PAUSED);
    assert_int_equal(virDomainResume(d), 0);
    assert_int_equal(virDomainUpdateDeviceFlags(d, "<not-a-device/>", VIR_DOMAIN_AFFECT_LIVE), -1);
    assert_int_not_equal(virGetLastError()->domain, VIR_FROM_NONE);
    assert_int_equal(virDomainShutdown(d), 0);
    assert_int_equal(virDomainIsActive(d), 0);
    assert_int_equal(virDomainDestroy(d), -1);   /* not running */
    assert_int_equal(virGetLastError()->code, VIR_ERR_OPERATION_INVALID);
    assert_int_equal(virDomainFree(d), 0);

    assert_non_null(c2 = virConnectOpenAuth("test:///default", NULL, VIR_CONNECT_RO));
    assert_int_equal(virConnectClose(c2), 0);
    assert_int_equal(virConnectClose(c), 0);
}
#else
/* What every call says when the library or the function is missing. */
# ifdef VIRT_DL_TEST_MISSING
#  define WANT_PREFIX "cannot load " VIRT_DL_LIB ": "
#  define WANT_REASON "cannot open shared object file"
# else
#  define WANT_PREFIX "cannot load virConnectOpen from " VIRT_DL_LIB ": "
#  define WANT_REASON "undefined symbol: virConnectOpen"
# endif

static void
assert_failed_here(void)
{
    virErrorPtr e = virGetLastError();

    assert_non_null(e);
    assert_int_equal(e->code, VIR_ERR_NO_SUPPORT);
    assert_int_equal(e->level, VIR_ERR_ERROR);
    assert_non_null(e->message);
    assert_memory_equal(e->message, WANT_PREFIX, strlen(WANT_PREFIX));
    assert_non_null(strstr(e->message, WANT_REASON));
}

static void *
fail_in_thread(void *arg)
{
    (void) arg;
    if (virConnectOpen("test:///default"))
        return (void *) "opened";
    return strstr(last_message(), WANT_REASON) ? NULL : (void *) "no reason";
}

static void
test_fails_like_libvirt(void **state)
{
    pthread_t t;
    void *r;

    (void) state;
# ifdef VIRT_DL_TEST_MISSING
    assert_int_equal(virInitialize(), -1);
    assert_failed_here();
    assert_null(virDomainGetName(NULL));
    assert_int_equal(virDomainFree(NULL), -1);
    assert_int_equal(virDomainGetState(NULL, NULL, NULL, 0), -1);
    virSetErrorFunc(NULL, NULL);
# else
    /* the fake's functions are called; its virGetLastError says no error */
    assert_int_equal(virInitialize(), 0);
    assert_null(virGetLastError());
# endif
    assert_null(virConnectOpen("test:///default"));
    assert_failed_here();
    assert_failed_here();   /* reading the error does not reset it */
# ifdef VIRT_DL_TEST_PARTIAL
    assert_int_equal(virInitialize(), 0);   /* a call that goes through does */
    assert_null(virGetLastError());
# endif
    /* per thread, as libvirt's */
    assert_int_equal(pthread_create(&t, NULL, fail_in_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &r), 0);
    assert_null(r);
}
#endif

int
main(void)
{
    const struct CMUnitTest tests[] = {
#ifdef VIRT_DL_TEST_REAL
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_test_driver),
#else
        cmocka_unit_test(test_fails_like_libvirt),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
