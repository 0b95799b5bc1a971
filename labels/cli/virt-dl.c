/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt, loaded by the first call of a verb that talks to it (dc/,
 * attest/).  The tvdc command does not link libvirt.so: loading it and its
 * ~40 libraries (glib, gnutls, libxml2, ...) cost every verb more than most
 * of them do (ci/bench-attest).  Each function below has libvirt's name and
 * prototype (checked against <libvirt/libvirt.h>) and forwards to
 * libvirt.so.0, opened RTLD_LOCAL on first use, so callers are written
 * against libvirt as usual.  tvdc is linked without -rdynamic: these
 * symbols are not exported, and libvirt's internal calls never bind here.
 *
 * When libvirt.so.0 cannot be loaded or lacks a function, the call fails
 * as a failed libvirt call does (NULL or -1) and virGetLastError() says
 * why, naming the library and dlerror()'s text.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#ifndef VIRT_DL_LIB
# define VIRT_DL_LIB "libvirt.so.0"   /* the tests build this file with others */
#endif

/* Every function tvdc calls: name, return type, value on failure,
 * parameters, arguments.  virGetLastError and virSetErrorFunc (void) are
 * written out below.  The last group is what attest/'s remediation calls
 * (suspend, resume, shut down, destroy, detach a device, mark the domain). */
#define VIRT_DL_FUNCTIONS(F) \
    F(virInitialize, int, -1, (void), ()) \
    F(virConnectOpen, virConnectPtr, NULL, (const char *name), (name)) \
    F(virConnectClose, int, -1, (virConnectPtr conn), (conn)) \
    F(virConnectIsAlive, int, -1, (virConnectPtr conn), (conn)) \
    F(virConnectGetCapabilities, char *, NULL, (virConnectPtr conn), (conn)) \
    F(virConnectListAllDomains, int, -1, \
      (virConnectPtr conn, virDomainPtr **domains, unsigned int flags), \
      (conn, domains, flags)) \
    F(virDomainLookupByName, virDomainPtr, NULL, (virConnectPtr conn, const char *name), \
      (conn, name)) \
    F(virDomainLookupByUUIDString, virDomainPtr, NULL, (virConnectPtr conn, const char *uuid), \
      (conn, uuid)) \
    F(virDomainFree, int, -1, (virDomainPtr domain), (domain)) \
    F(virDomainGetName, const char *, NULL, (virDomainPtr domain), (domain)) \
    F(virDomainGetUUIDString, int, -1, (virDomainPtr domain, char *buf), (domain, buf)) \
    F(virDomainGetState, int, -1, \
      (virDomainPtr domain, int *state, int *reason, unsigned int flags), \
      (domain, state, reason, flags)) \
    F(virDomainIsActive, int, -1, (virDomainPtr dom), (dom)) \
    F(virDomainGetXMLDesc, char *, NULL, (virDomainPtr domain, unsigned int flags), \
      (domain, flags)) \
    /* remediation (attest/) */ \
    F(virConnectOpenAuth, virConnectPtr, NULL, \
      (const char *name, virConnectAuthPtr auth, unsigned int flags), (name, auth, flags)) \
    F(virDomainSuspend, int, -1, (virDomainPtr domain), (domain)) \
    F(virDomainResume, int, -1, (virDomainPtr domain), (domain)) \
    F(virDomainShutdown, int, -1, (virDomainPtr domain), (domain)) \
    F(virDomainDestroy, int, -1, (virDomainPtr domain), (domain)) \
    F(virDomainUpdateDeviceFlags, int, -1, \
      (virDomainPtr domain, const char *xml, unsigned int flags), (domain, xml, flags)) \
    F(virDomainGetInfo, int, -1, (virDomainPtr domain, virDomainInfoPtr info), (domain, info)) \
    F(virDomainGetMetadata, char *, NULL, \
      (virDomainPtr domain, int type, const char *uri, unsigned int flags), \
      (domain, type, uri, flags)) \
    F(virDomainSetMetadata, int, -1, \
      (virDomainPtr domain, int type, const char *metadata, const char *key, const char *uri, \
       unsigned int flags), \
      (domain, type, metadata, key, uri, flags))

/* dlopen once for all threads (tvdc dc serve answers on several). */
static pthread_once_t virt_dl_once = PTHREAD_ONCE_INIT;
static void *virt_dl_handle;
static char virt_dl_load_error[512];

/* Why this thread's last call failed here; per thread and reset by the
 * next call, as libvirt keeps its own last error. */
static __thread bool virt_dl_failed;
static __thread char virt_dl_message[768];
static __thread virError virt_dl_error;

static void
virt_dl_open(void)
{
    /* RTLD_NOW: a broken installation fails here, with a message, rather
     * than ending the process in the middle of a call.  RTLD_LOCAL:
     * libvirt's libraries stay out of the global scope.  Never closed:
     * libvirt keeps threads and state until the process exits. */
    virt_dl_handle = dlopen(VIRT_DL_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!virt_dl_handle)
        snprintf(virt_dl_load_error, sizeof(virt_dl_load_error), "cannot load %s: %s",
                 VIRT_DL_LIB, dlerror());
}

static void __attribute__((format(printf, 1, 2)))
virt_dl_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(virt_dl_message, sizeof(virt_dl_message), fmt, ap);
    va_end(ap);
    virt_dl_error = (virError) {
        .code = VIR_ERR_NO_SUPPORT,
        .domain = VIR_FROM_NONE,
        .message = virt_dl_message,
        .level = VIR_ERR_ERROR,
    };
    virt_dl_failed = true;
}

/* libvirt's function name, looked up once into *cache; NULL (and this
 * thread's error set) if the library or the function is missing. */
static void *
virt_dl_sym(const char *name, void **cache)
{
    void *p;

    pthread_once(&virt_dl_once, virt_dl_open);
    if (!virt_dl_handle) {
        virt_dl_fail("%s", virt_dl_load_error);
        return NULL;
    }
    if (!(p = __atomic_load_n(cache, __ATOMIC_ACQUIRE))) {
        if (!(p = dlsym(virt_dl_handle, name))) {
            const char *e = dlerror();

            virt_dl_fail("cannot load %s from %s: %s", name, VIRT_DL_LIB, e ? e : "not found");
            return NULL;
        }
        __atomic_store_n(cache, p, __ATOMIC_RELEASE);
    }
    virt_dl_failed = false;
    return p;
}

#define VIRT_DL_FORWARD(name, type, fail, params, args) \
    type \
    name params \
    { \
        static void *sym; \
        type (*virt_dl_fn) params = (type (*) params) virt_dl_sym(#name, &sym); \
        \
        return virt_dl_fn ? virt_dl_fn args : fail; \
    }

VIRT_DL_FUNCTIONS(VIRT_DL_FORWARD)

void
virSetErrorFunc(void *userData, virErrorFunc handler)
{
    static void *sym;
    void (*fn)(void *, virErrorFunc) = (void (*)(void *, virErrorFunc))
        virt_dl_sym("virSetErrorFunc", &sym);

    if (fn)
        fn(userData, handler);
}

/* Ours when the last call failed here, else libvirt's (NULL: no error). */
virErrorPtr
virGetLastError(void)
{
    static void *sym;
    virErrorPtr (*fn)(void);

    if (virt_dl_failed)
        return &virt_dl_error;
    fn = (virErrorPtr (*)(void)) virt_dl_sym("virGetLastError", &sym);
    return fn ? fn() : &virt_dl_error;
}
