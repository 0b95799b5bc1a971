/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest's TPM event log, the verifier's side (swtpm-mgr/README.md
 * "Event log"): a TCG PC Client event log (TCG PC Client Platform Firmware
 * Profile, 10 "Event Logging"), as the guest kernel shows the firmware's
 * in /sys/kernel/security/tpm0/binary_bios_measurements, parsed with every
 * length checked and replayed for the SHA-256 bank.  Little-endian, unlike
 * the TPM's structures.  A pure function over the bytes: the log is what
 * the guest says; only the replay's agreement with a verified quote makes
 * it worth anything.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"
#include "vtpm-reader.h"

#define SPEC_ID_SIGNATURE   "Spec ID Event03"   /* with its NUL: 16 bytes */
#define SHA1_SIZE           20
#define ALGS_MAX            16      /* algorithms in the Spec ID header */
#define DIGEST_MAX          64      /* bytes of one digest (SHA-512) */

/* The sizes the TCG algorithm registry fixes; an algorithm not listed is
 * taken with the size the Spec ID header gives it. */
static const struct {
    uint16_t alg;
    uint16_t size;
} known_sizes[] = {
    { TVDC_TPM_ALG_SHA1, 20 },
    { TVDC_TPM_ALG_SHA256, 32 },
    { TVDC_TPM_ALG_SHA384, 48 },
    { TVDC_TPM_ALG_SHA512, 64 },
    { 0x0012, 32 },                 /* TPM_ALG_SM3_256 */
};

typedef struct spec_alg {
    uint16_t alg, size;
} spec_alg;

/* The log's fields are little-endian (vtpm-reader.h); a failed read fills
 * *err with the event and its offset (at_event). */
typedef vtpm_reader cursor;

/* Errors from here on name event `event`, which starts here. */
static void
at_event(cursor *c, size_t event)
{
    snprintf(c->what, sizeof(c->what), "event log: event %zu at offset %zu", event, c->off);
}

/* The Spec ID Event03 structure (TCG_EfiSpecIDEvent), exactly size bytes
 * at data: the algorithms of the log's digests. */
static int
parse_spec_id(cursor *outer, const uint8_t *data, uint32_t size, spec_alg *algs, size_t *n)
{
    cursor c = { .p = outer->p, .off = (size_t) (data - outer->p), .le = true,
                 .err = outer->err };
    const uint8_t *sig, *vendor;
    uint32_t platform, count;
    uint8_t minor, major, errata, uintn, vendor_len;
    int k;

    memcpy(c.what, outer->what, sizeof(c.what));
    c.len = c.off + size;
    if ((k = vr_bytes(&c, 16, "the Spec ID signature", &sig)) < 0 ||
        (k = vr_u32(&c, "platformClass", &platform)) < 0 ||
        (k = vr_u8(&c, "specVersionMinor", &minor)) < 0 ||
        (k = vr_u8(&c, "specVersionMajor", &major)) < 0 ||
        (k = vr_u8(&c, "specErrata", &errata)) < 0 ||
        (k = vr_u8(&c, "uintnSize", &uintn)) < 0 ||
        (k = vr_u32(&c, "numberOfAlgorithms", &count)) < 0)
        return k;
    if (major != 2 || minor != 0)
        return vr_fail(&c, "Spec ID Event03 of version %u.%u, not 2.0", major, minor);
    if (count == 0 || count > ALGS_MAX)
        return vr_fail(&c, "Spec ID Event03 with %" PRIu32 " algorithms (1 to %d)", count, ALGS_MAX);
    for (uint32_t i = 0; i < count; i++) {
        spec_alg a;
        if ((k = vr_u16(&c, "algorithmId", &a.alg)) < 0 ||
            (k = vr_u16(&c, "digestSize", &a.size)) < 0)
            return k;
        if (a.size == 0 || a.size > DIGEST_MAX)
            return vr_fail(&c, "algorithm 0x%04x with a digest of %u bytes (1 to %d)", a.alg,
                       a.size, DIGEST_MAX);
        for (size_t j = 0; j < ELEMENTSOF(known_sizes); j++)
            if (known_sizes[j].alg == a.alg && known_sizes[j].size != a.size)
                return vr_fail(&c, "algorithm 0x%04x with a digest of %u bytes, not %u", a.alg,
                           a.size, known_sizes[j].size);
        for (uint32_t j = 0; j < i; j++)
            if (algs[j].alg == a.alg)
                return vr_fail(&c, "algorithm 0x%04x listed twice", a.alg);
        algs[i] = a;
    }
    if ((k = vr_u8(&c, "vendorInfoSize", &vendor_len)) < 0 ||
        (k = vr_bytes(&c, vendor_len, "vendorInfo", &vendor)) < 0)
        return k;
    if (c.off != c.len)
        return vr_fail(&c, "%zu bytes after the Spec ID Event03 structure", c.len - c.off);
    (void) platform;
    (void) errata;
    (void) uintn;
    *n = count;
    return 0;
}

static int
extend(uint8_t pcr[32], const uint8_t d[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned n = 0;
    int ok = c && EVP_DigestInit_ex2(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, pcr, 32) == 1 && EVP_DigestUpdate(c, d, 32) == 1 &&
             EVP_DigestFinal_ex(c, pcr, &n) == 1 && n == 32;

    EVP_MD_CTX_free(c);
    return ok ? 0 : -ENOMEM;
}

/* Room for one more event. */
static int
grow(tvdc_vtpm_eventlog *l, size_t *cap)
{
    tvdc_vtpm_event *e;
    size_t n;

    if (l->n_events < *cap)
        return 0;
    n = *cap ? 2 * *cap : 64;
    if (n > TVDC_EVENTLOG_MAX_EVENTS)
        n = TVDC_EVENTLOG_MAX_EVENTS;
    e = realloc(l->events, n * sizeof(*e));
    if (!e)
        return -ENOMEM;
    l->events = e;
    *cap = n;
    return 0;
}

/* The event's header fields common to both formats. */
static int
check_pcr(cursor *c, uint32_t pcr, uint32_t type)
{
    if (pcr >= TVDC_TPM_PCRS && type != TVDC_EV_NO_ACTION)
        return vr_fail(c, "PCR index %" PRIu32 " (0 to %d)", pcr, TVDC_TPM_PCRS - 1);
    return 0;
}

/* The rest of a crypto-agile log: TCG_PCR_EVENT2 records. */
static int
parse_agile(cursor *c, const spec_alg *algs, size_t n_algs, tvdc_vtpm_eventlog *l)
{
    size_t cap = 0;
    int k;

    while (c->off < c->len) {
        tvdc_vtpm_event ev = { 0 };
        const uint8_t *dg, *data, *sha256 = NULL;
        uint32_t count, size;
        uint16_t seen[ALGS_MAX];

        at_event(c, 1 + l->n_events);
        if (l->n_events >= TVDC_EVENTLOG_MAX_EVENTS)
            return vr_fail(c, "more than %d events", TVDC_EVENTLOG_MAX_EVENTS);
        if ((k = vr_u32(c, "pcrIndex", &ev.pcr)) < 0 ||
            (k = vr_u32(c, "eventType", &ev.type)) < 0 ||
            (k = vr_u32(c, "digests.count", &count)) < 0)
            return k;
        if ((k = check_pcr(c, ev.pcr, ev.type)) < 0)
            return k;
        if (count > n_algs)
            return vr_fail(c, "%" PRIu32 " digests, the Spec ID header lists %zu algorithms",
                       count, n_algs);
        for (uint32_t i = 0; i < count; i++) {
            const spec_alg *a = NULL;
            uint16_t alg;

            if ((k = vr_u16(c, "digests.hashAlg", &alg)) < 0)
                return k;
            for (size_t j = 0; j < n_algs; j++)
                if (algs[j].alg == alg)
                    a = &algs[j];
            if (!a)
                return vr_fail(c, "a digest of algorithm 0x%04x, which the Spec ID header does "
                           "not list", alg);
            for (uint32_t j = 0; j < i; j++)
                if (seen[j] == alg)
                    return vr_fail(c, "two digests of algorithm 0x%04x", alg);
            seen[i] = alg;
            if ((k = vr_bytes(c, a->size, "digest", &dg)) < 0)
                return k;
            if (alg == TVDC_TPM_ALG_SHA256)
                sha256 = dg;
        }
        if ((k = vr_u32(c, "eventSize", &size)) < 0 ||
            (k = vr_bytes(c, size, "event", &data)) < 0)
            return k;
        ev.data_len = size;
        ev.extended = ev.type != TVDC_EV_NO_ACTION;
        if (sha256)
            memcpy(ev.sha256, sha256, 32);
        if (ev.extended && l->has_sha256) {
            if (!sha256)
                return vr_fail(c, "no SHA-256 digest (the Spec ID header lists SHA-256)");
            if ((k = extend(l->pcrs[ev.pcr], sha256)) < 0)
                return k;
            l->extended |= 1u << ev.pcr;
        }
        if ((k = grow(l, &cap)) < 0)
            return k;
        l->events[l->n_events++] = ev;
    }
    return 0;
}

/* The rest of a SHA-1 log: TCG_PCR_EVENT records (no SHA-256 digest). */
static int
parse_sha1(cursor *c, tvdc_vtpm_eventlog *l)
{
    size_t cap = 0;
    int k;

    while (c->off < c->len) {
        tvdc_vtpm_event ev = { 0 };
        const uint8_t *dg, *data;
        uint32_t size;

        at_event(c, l->n_events);
        if (l->n_events >= TVDC_EVENTLOG_MAX_EVENTS)
            return vr_fail(c, "more than %d events", TVDC_EVENTLOG_MAX_EVENTS);
        if ((k = vr_u32(c, "pcrIndex", &ev.pcr)) < 0 ||
            (k = vr_u32(c, "eventType", &ev.type)) < 0 ||
            (k = check_pcr(c, ev.pcr, ev.type)) < 0 ||
            (k = vr_bytes(c, SHA1_SIZE, "digest", &dg)) < 0 ||
            (k = vr_u32(c, "eventSize", &size)) < 0 ||
            (k = vr_bytes(c, size, "event", &data)) < 0)
            return k;
        ev.data_len = size;
        ev.extended = ev.type != TVDC_EV_NO_ACTION;
        if ((k = grow(l, &cap)) < 0)
            return k;
        l->events[l->n_events++] = ev;
    }
    return 0;
}

void
tvdc_vtpm_eventlog_free(tvdc_vtpm_eventlog *l)
{
    if (!l)
        return;
    free(l->events);
    free(l);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(tvdc_vtpm_eventlog, tvdc_vtpm_eventlog_free)

void
tvdc_vtpm_pcrs_reset(uint8_t pcrs[TVDC_TPM_PCRS][32])
{
    for (unsigned i = 0; i < TVDC_TPM_PCRS; i++)
        memset(pcrs[i], i >= 17 && i <= 22 ? 0xff : 0, 32);
}

int
tvdc_vtpm_eventlog_replay(const void *log, size_t len, const uint8_t (*start)[32],
                          tvdc_vtpm_eventlog **ret, tvdc_error *err)
{
    _cleanup_(tvdc_vtpm_eventlog_freep) tvdc_vtpm_eventlog *l = NULL;
    cursor c = { .p = log, .len = log ? len : 0, .le = true, .err = err };
    spec_alg algs[ALGS_MAX];
    const uint8_t *digest, *data;
    uint32_t pcr, type, size;
    size_t n_algs = 0;
    int k;

    if (!ret || (!log && len))
        return -EINVAL;
    if (len == 0)
        return tv_error(err, -EBADMSG, 0, 0, "event log: empty");
    if (len > TVDC_EVENTLOG_MAX_BYTES)
        return tv_error(err, -EBADMSG, 0, 0, "event log: %zu bytes (at most %u)", len,
                        TVDC_EVENTLOG_MAX_BYTES);
    if (!(l = calloc(1, sizeof(*l))))
        return -ENOMEM;
    at_event(&c, 0);
    if (start)
        memcpy(l->pcrs, start, sizeof(l->pcrs));
    else
        tvdc_vtpm_pcrs_reset(l->pcrs);

    /* the first event is a TCG_PCR_EVENT in either format */
    if ((k = vr_u32(&c, "pcrIndex", &pcr)) < 0 ||
        (k = vr_u32(&c, "eventType", &type)) < 0 ||
        (k = check_pcr(&c, pcr, type)) < 0 ||
        (k = vr_bytes(&c, SHA1_SIZE, "digest", &digest)) < 0 ||
        (k = vr_u32(&c, "eventSize", &size)) < 0 ||
        (k = vr_bytes(&c, size, "event", &data)) < 0)
        return k;
    if (type == TVDC_EV_NO_ACTION && size >= 16 &&
        memcmp(data, SPEC_ID_SIGNATURE, sizeof(SPEC_ID_SIGNATURE)) == 0) {
        if (pcr != 0)
            return vr_fail(&c, "the Spec ID Event03 in PCR %" PRIu32 ", not 0", pcr);
        if ((k = parse_spec_id(&c, data, size, algs, &n_algs)) < 0)
            return k;
        l->agile = true;
        for (size_t i = 0; i < n_algs; i++)
            if (algs[i].alg == TVDC_TPM_ALG_SHA256)
                l->has_sha256 = true;
        k = parse_agile(&c, algs, n_algs, l);
    } else {
        /* a SHA-1 log: the first event is an event like the others */
        c.off = 0;
        k = parse_sha1(&c, l);
    }
    if (k < 0)
        return k;
    if (!l->has_sha256)
        memset(l->pcrs, 0, sizeof(l->pcrs));
    *ret = TAKE_PTR(l);
    return 0;
}

const char *
tvdc_vtpm_event_type_name(uint32_t type)
{
    static const struct {
        uint32_t type;
        const char *name;
    } names[] = {
        { 0x00000000, "EV_PREBOOT_CERT" },
        { 0x00000001, "EV_POST_CODE" },
        { 0x00000003, "EV_NO_ACTION" },
        { 0x00000004, "EV_SEPARATOR" },
        { 0x00000005, "EV_ACTION" },
        { 0x00000006, "EV_EVENT_TAG" },
        { 0x00000007, "EV_S_CRTM_CONTENTS" },
        { 0x00000008, "EV_S_CRTM_VERSION" },
        { 0x00000009, "EV_CPU_MICROCODE" },
        { 0x0000000a, "EV_PLATFORM_CONFIG_FLAGS" },
        { 0x0000000b, "EV_TABLE_OF_DEVICES" },
        { 0x0000000c, "EV_COMPACT_HASH" },
        { 0x0000000d, "EV_IPL" },
        { 0x0000000e, "EV_IPL_PARTITION_DATA" },
        { 0x0000000f, "EV_NONHOST_CODE" },
        { 0x00000010, "EV_NONHOST_CONFIG" },
        { 0x00000011, "EV_NONHOST_INFO" },
        { 0x00000012, "EV_OMIT_BOOT_DEVICE_EVENTS" },
        { 0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
        { 0x80000002, "EV_EFI_VARIABLE_BOOT" },
        { 0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION" },
        { 0x80000004, "EV_EFI_BOOT_SERVICES_DRIVER" },
        { 0x80000005, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
        { 0x80000006, "EV_EFI_GPT_EVENT" },
        { 0x80000007, "EV_EFI_ACTION" },
        { 0x80000008, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
        { 0x80000009, "EV_EFI_HANDOFF_TABLES" },
        { 0x800000e0, "EV_EFI_VARIABLE_AUTHORITY" },
    };

    for (size_t i = 0; i < ELEMENTSOF(names); i++)
        if (names[i].type == type)
            return names[i].name;
    return NULL;
}
