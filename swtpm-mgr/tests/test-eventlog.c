/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event log's parser and replay (vtpm-eventlog.c) without a TPM: the
 * real log SeaBIOS wrote in the test guest, replayed to the PCRs the
 * guest's vTPM quoted in the same boot (tpm/README), and that log cut,
 * changed and rebuilt with wrong counts, sizes and algorithms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"
#include "test-data.h"

#define NONCE "00112233445566778899aabbccddeeff"
#define SEABIOS_EVENTS 13
#define SPEC_ID_LEN (32 + 33)       /* the SeaBIOS log's first event: sha256 alone */

/* A file of tpm/ (tpm/README) and its length. */
typedef struct buf {
    uint8_t *p;
    size_t len;
} buf;

#define FIXTURE(name) ({ buf _b; _b.p = (uint8_t *) test_data("tpm/" name, &_b.len); _b; })

/* The start values of the replay: reset values with PCR0 after the
 * H-CRTM measurement of tpm/eventlog-seabios.blob. */
static void
hcrtm_start(uint8_t start[TVDC_TPM_PCRS][32])
{
    buf blob = FIXTURE("eventlog-seabios.blob");
    size_t n = 32;

    tvdc_vtpm_pcrs_reset(start);
    assert_int_equal(tvdc_vtpm_expect_pcr0("sha256", blob.p, blob.len, 0, start[0], &n), 0);
    free(blob.p);
}

static tvdc_vtpm_eventlog *
replay_ok(const void *log, size_t len, const uint8_t (*start)[32])
{
    tvdc_vtpm_eventlog *l = NULL;
    tvdc_error e = { 0 };
    int r = tvdc_vtpm_eventlog_replay(log, len, start, &l, &e);

    if (r != 0)
        fail_msg("replay: %d %s", r, e.message);
    return l;
}

static void
replay_bad(const void *log, size_t len, const char *want)
{
    tvdc_vtpm_eventlog *l = NULL;
    tvdc_error e = { 0 };

    assert_int_equal(tvdc_vtpm_eventlog_replay(log, len, NULL, &l, &e), -EBADMSG);
    assert_null(l);
    if (!strstr(e.message, want))
        fail_msg("'%s' is not in '%s'", want, e.message);
}

/* The quote of the boot the log comes from, verified: its PCRs 0-9. */
static void
quoted_pcrs(tvdc_vtpm_quote *q)
{
    buf ak = FIXTURE("eventlog-seabios.ak"), att = FIXTURE("eventlog-seabios.quote");
    buf sig = FIXTURE("eventlog-seabios.sig"), pcrs = FIXTURE("eventlog-seabios.pcrs");
    tvdc_vtpm_public pub;
    tvdc_error e = { 0 };
    uint8_t nonce[16];

    for (size_t i = 0; i < sizeof(nonce); i++)
        nonce[i] = (uint8_t) (tv_unhexchar(NONCE[2 * i]) << 4 | tv_unhexchar(NONCE[2 * i + 1]));
    assert_int_equal(tvdc_vtpm_public_parse(ak.p, ak.len, &pub, &e), 0);
    if (tvdc_vtpm_quote_verify(&pub, att.p, att.len, sig.p, sig.len, nonce, sizeof(nonce),
                               0x3ffu, pcrs.p, pcrs.len, q, &e) != 0)
        fail_msg("the fixture's quote: %s", e.message);
    free(ak.p);
    free(att.p);
    free(sig.p);
    free(pcrs.p);
}

/* The SHA-256 digests' offsets in the SeaBIOS log, one per event. */
static size_t
digest_offsets(const buf *log, size_t *off, size_t max)
{
    size_t n = 0, p = SPEC_ID_LEN;

    while (p < log->len && n < max) {
        off[n++] = p + 14;                      /* pcr, type, count, hashAlg */
        p += 14 + 32;
        p += 4 + (log->p[p] | log->p[p + 1] << 8 | log->p[p + 2] << 16);
    }
    return n;
}

static void
test_seabios_replay(void **state)
{
    buf log = FIXTURE("eventlog-seabios.bin");
    uint8_t start[TVDC_TPM_PCRS][32], unmeasured[32];
    size_t n = 32;
    tvdc_vtpm_quote q;
    tvdc_vtpm_eventlog *l;
    (void) state;

    quoted_pcrs(&q);
    hcrtm_start(start);
    l = replay_ok(log.p, log.len, (const uint8_t (*)[32]) start);
    assert_true(l->agile);
    assert_true(l->has_sha256);
    assert_int_equal(l->n_events, SEABIOS_EVENTS);
    for (unsigned i = 0; i < 10; i++)
        if (memcmp(l->pcrs[i], q.pcrs[i], 32) != 0)
            fail_msg("PCR %u: the replay from the H-CRTM value differs from the quote", i);
    /* SeaBIOS extends 0-7 (a separator each), nothing in 8-9 */
    assert_int_equal(l->extended, 0xffu);
    assert_int_equal(l->events[0].pcr, 1);
    assert_string_equal(tvdc_vtpm_event_type_name(l->events[0].type), "EV_EVENT_TAG");
    assert_int_equal(l->events[0].data_len, 28);
    assert_true(l->events[0].extended);
    assert_int_equal(l->events[5].pcr, 0);
    assert_int_equal(l->events[5].type, TVDC_EV_SEPARATOR);
    assert_null(tvdc_vtpm_event_type_name(0x7fffffffu));
    tvdc_vtpm_eventlog_free(l);

    /* SeaBIOS logs nothing of the H-CRTM: from the reset values PCR0 is the
     * unmeasured boot's, the others are the same */
    l = replay_ok(log.p, log.len, NULL);
    assert_int_equal(tvdc_vtpm_expect_pcr0("sha256", NULL, 0, TVDC_PCR0_BOOT_SEABIOS,
                                           unmeasured, &n), 0);
    assert_memory_equal(l->pcrs[0], unmeasured, 32);
    assert_memory_not_equal(l->pcrs[0], q.pcrs[0], 32);
    for (unsigned i = 1; i < 10; i++)
        assert_memory_equal(l->pcrs[i], q.pcrs[i], 32);
    for (unsigned i = 17; i <= 22; i++)
        assert_int_equal(l->pcrs[i][0], 0xff);
    tvdc_vtpm_eventlog_free(l);
    free(log.p);
}

/* Cut at every byte: a shorter log at an event's end, else -EBADMSG. */
static void
test_truncated(void **state)
{
    buf log = FIXTURE("eventlog-seabios.bin");
    size_t off[SEABIOS_EVENTS + 1], n = digest_offsets(&log, off, SEABIOS_EVENTS + 1);
    size_t ends = 0;
    (void) state;

    assert_int_equal(n, SEABIOS_EVENTS);
    for (size_t cut = 0; cut < log.len; cut++) {
        tvdc_vtpm_eventlog *l = NULL;
        tvdc_error e = { 0 };
        uint8_t *copy = malloc(cut ? cut : 1);      /* exactly cut bytes: ASan sees reads */
        int r;

        memcpy(copy, log.p, cut);
        r = tvdc_vtpm_eventlog_replay(copy, cut, NULL, &l, &e);
        if (r == 0) {
            /* an event's end: the events before it */
            assert_true(cut >= SPEC_ID_LEN);
            assert_true(l->n_events < SEABIOS_EVENTS);
            assert_true(cut == SPEC_ID_LEN || off[l->n_events] - 14 == cut);
            ends++;
        } else {
            assert_int_equal(r, -EBADMSG);
            assert_null(l);
            assert_true(e.message[0] != '\0');
        }
        tvdc_vtpm_eventlog_free(l);
        free(copy);
    }
    assert_int_equal(ends, SEABIOS_EVENTS);     /* after the header and each event but the last */
    replay_bad(log.p, 0, "empty");
    replay_bad(log.p, SPEC_ID_LEN + 20, "truncated");
    free(log.p);
}

/* A digest changed: that event's PCR changes, no other. */
static void
test_flipped_digest(void **state)
{
    buf log = FIXTURE("eventlog-seabios.bin");
    size_t off[SEABIOS_EVENTS];
    tvdc_vtpm_eventlog *good = replay_ok(log.p, log.len, NULL), *l;
    (void) state;

    assert_int_equal(digest_offsets(&log, off, SEABIOS_EVENTS), SEABIOS_EVENTS);
    for (size_t i = 0; i < SEABIOS_EVENTS; i++) {
        uint32_t pcr = good->events[i].pcr;

        log.p[off[i] + 7] ^= 0x40;
        l = replay_ok(log.p, log.len, NULL);
        log.p[off[i] + 7] ^= 0x40;
        assert_int_equal(l->events[i].sha256[7], good->events[i].sha256[7] ^ 0x40);
        for (unsigned j = 0; j < TVDC_TPM_PCRS; j++)
            if ((memcmp(l->pcrs[j], good->pcrs[j], 32) != 0) != (j == pcr))
                fail_msg("event %zu (PCR %u) changed: PCR %u %s", i, pcr, j,
                         j == pcr ? "is the same" : "changed too");
        tvdc_vtpm_eventlog_free(l);
    }
    tvdc_vtpm_eventlog_free(good);
    free(log.p);
}

/* ------------------------------------------------------------------------ */
/* Logs built here                                                          */

typedef struct out {
    uint8_t *p;
    size_t len, cap;
} out;

static void
put(out *o, const void *b, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = 2 * (o->len + n) + 64;
        o->p = realloc(o->p, o->cap);
        assert_non_null(o->p);
    }
    memcpy(o->p + o->len, b, n);
    o->len += n;
}

static void
put32(out *o, uint32_t v)
{
    uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
    put(o, b, 4);
}

static void
put16(out *o, uint16_t v)
{
    uint8_t b[2] = { (uint8_t) v, (uint8_t) (v >> 8) };
    put(o, b, 2);
}

static void
fill(out *o, uint8_t v, size_t n)
{
    while (n--)
        put(o, &v, 1);
}

/* The Spec ID event listing n algorithms {id, size}. */
static void
spec_id(out *o, const uint16_t (*algs)[2], uint32_t n)
{
    put32(o, 0);
    put32(o, TVDC_EV_NO_ACTION);
    fill(o, 0, 20);
    put32(o, 16 + 4 + 4 + 4 + 4 * n + 1);
    put(o, "Spec ID Event03", 16);
    put32(o, 0);                                    /* platformClass */
    put(o, "\0\2\2\2", 4);                          /* 2.0 errata 2, uintnSize 2 */
    put32(o, n);
    for (uint32_t i = 0; i < n; i++) {
        put16(o, algs[i][0]);
        put16(o, algs[i][1]);
    }
    fill(o, 0, 1);                                  /* vendorInfoSize */
}

/* A TCG_PCR_EVENT2 with digests of the given algorithms (each filled with
 * byte d) and size bytes of data. */
static void
event2(out *o, uint32_t pcr, uint32_t type, const uint16_t (*algs)[2], uint32_t n, uint8_t d,
       uint32_t size)
{
    put32(o, pcr);
    put32(o, type);
    put32(o, n);
    for (uint32_t i = 0; i < n; i++) {
        put16(o, algs[i][0]);
        fill(o, d, algs[i][1]);
    }
    put32(o, size);
    fill(o, 'x', size);
}

static const uint16_t sha256_only[][2] = { { TVDC_TPM_ALG_SHA256, 32 } };

static void
test_counts(void **state)
{
    static const uint16_t two[][2] = { { TVDC_TPM_ALG_SHA256, 32 }, { TVDC_TPM_ALG_SHA256, 32 } };
    out o = { 0 };
    size_t count_at;
    (void) state;

    /* an event with two digests where the header lists one algorithm */
    spec_id(&o, sha256_only, 1);
    event2(&o, 0, TVDC_EV_SEPARATOR, two, 2, 1, 4);
    replay_bad(o.p, o.len, "2 digests, the Spec ID header lists 1 algorithms");
    /* ... and a count of 2^32 - 1 */
    o.len = 0;
    spec_id(&o, sha256_only, 1);
    count_at = o.len + 8;
    event2(&o, 0, TVDC_EV_SEPARATOR, sha256_only, 1, 1, 4);
    memset(o.p + count_at, 0xff, 4);
    replay_bad(o.p, o.len, "4294967295 digests");
    /* the same digest twice, in a header of two algorithms */
    o.len = 0;
    spec_id(&o, (const uint16_t[][2]) { { TVDC_TPM_ALG_SHA256, 32 }, { TVDC_TPM_ALG_SHA1, 20 } },
            2);
    event2(&o, 0, TVDC_EV_SEPARATOR, two, 2, 1, 4);
    replay_bad(o.p, o.len, "two digests of algorithm 0x000b");
    /* an eventSize beyond the log */
    o.len = 0;
    spec_id(&o, sha256_only, 1);
    event2(&o, 0, TVDC_EV_SEPARATOR, sha256_only, 1, 1, 4);
    o.p[o.len - 8] = 0xff;
    replay_bad(o.p, o.len, "event 1 at offset 65: truncated: event needs");
    /* numberOfAlgorithms 0, 17; the header's size not its content */
    o.len = 0;
    spec_id(&o, sha256_only, 0);
    replay_bad(o.p, o.len, "with 0 algorithms");
    o.len = 0;
    spec_id(&o, sha256_only, 1);
    o.p[32 + 24] = 17;
    replay_bad(o.p, o.len, "with 17 algorithms");
    o.len = 0;
    spec_id(&o, sha256_only, 1);
    o.p[28] += 1;
    fill(&o, 0, 1);
    replay_bad(o.p, o.len, "1 bytes after the Spec ID Event03");
    /* a PCR index out of range; a digest missing */
    o.len = 0;
    spec_id(&o, sha256_only, 1);
    event2(&o, 24, TVDC_EV_SEPARATOR, sha256_only, 1, 1, 4);
    replay_bad(o.p, o.len, "PCR index 24");
    o.len = 0;
    spec_id(&o, sha256_only, 1);
    event2(&o, 3, TVDC_EV_SEPARATOR, sha256_only, 0, 1, 4);
    replay_bad(o.p, o.len, "no SHA-256 digest");
    free(o.p);
}

static void
test_too_many_events(void **state)
{
    out o = { 0 };
    tvdc_vtpm_eventlog *l;
    (void) state;

    spec_id(&o, sha256_only, 1);
    for (int i = 0; i < TVDC_EVENTLOG_MAX_EVENTS; i++)
        event2(&o, 0, TVDC_EV_NO_ACTION, sha256_only, 0, 0, 0);
    l = replay_ok(o.p, o.len, NULL);
    assert_int_equal(l->n_events, TVDC_EVENTLOG_MAX_EVENTS);
    assert_int_equal(l->extended, 0);
    tvdc_vtpm_eventlog_free(l);
    event2(&o, 0, TVDC_EV_NO_ACTION, sha256_only, 0, 0, 0);
    replay_bad(o.p, o.len, "more than 65536 events");
    fill(&o, 0, TVDC_EVENTLOG_MAX_BYTES);
    replay_bad(o.p, o.len, "bytes (at most 4194304)");
    free(o.p);
}

/* An algorithm the registry does not know has the header's size; one the
 * header does not list cannot be read past. */
static void
test_unknown_algorithm(void **state)
{
    static const uint16_t algs[][2] = { { 0x4242, 7 }, { TVDC_TPM_ALG_SHA256, 32 } };
    static const uint16_t other[][2] = { { 0x5555, 7 } };
    uint8_t want[32] = { 0 };
    out o = { 0 };
    tvdc_vtpm_eventlog *l;
    (void) state;

    spec_id(&o, algs, 2);
    event2(&o, 8, 0x0d /* EV_IPL */, algs, 2, 0xaa, 10);
    event2(&o, 8, 0x0d, algs, 2, 0xbb, 0);
    l = replay_ok(o.p, o.len, NULL);
    assert_int_equal(l->n_events, 2);
    assert_int_equal(l->extended, 1u << 8);
    for (uint8_t v = 0xaa; v <= 0xbb; v += 0x11) {
        uint8_t both[64];
        unsigned n = 0;
        memcpy(both, want, 32);
        memset(both + 32, v, 32);
        assert_int_equal(EVP_Digest(both, 64, want, &n, EVP_sha256(), NULL), 1);
    }
    assert_memory_equal(l->pcrs[8], want, 32);
    tvdc_vtpm_eventlog_free(l);

    o.len = 0;
    spec_id(&o, algs, 2);
    event2(&o, 8, 0x0d, other, 1, 0xaa, 10);
    replay_bad(o.p, o.len, "algorithm 0x5555, which the Spec ID header does not list");
    /* a known algorithm with another size; a digest of 65 bytes */
    o.len = 0;
    spec_id(&o, (const uint16_t[][2]) { { TVDC_TPM_ALG_SHA256, 20 } }, 1);
    replay_bad(o.p, o.len, "algorithm 0x000b with a digest of 20 bytes, not 32");
    o.len = 0;
    spec_id(&o, (const uint16_t[][2]) { { 0x4242, 65 } }, 1);
    replay_bad(o.p, o.len, "a digest of 65 bytes (1 to 64)");
    /* a header without SHA-256: parsed, nothing replayed */
    o.len = 0;
    spec_id(&o, (const uint16_t[][2]) { { TVDC_TPM_ALG_SHA1, 20 } }, 1);
    event2(&o, 0, TVDC_EV_SEPARATOR, (const uint16_t[][2]) { { TVDC_TPM_ALG_SHA1, 20 } }, 1,
           1, 4);
    l = replay_ok(o.p, o.len, NULL);
    assert_true(l->agile);
    assert_false(l->has_sha256);
    assert_int_equal(l->n_events, 1);
    assert_int_equal(l->extended, 0);
    tvdc_vtpm_eventlog_free(l);
    free(o.p);
}

/* A SHA-1 log (TCG_PCR_EVENT only): parsed, no SHA-256 digests. */
static void
test_sha1_log(void **state)
{
    out o = { 0 };
    tvdc_vtpm_eventlog *l;
    (void) state;

    for (uint32_t pcr = 0; pcr < 3; pcr++) {
        put32(&o, pcr);
        put32(&o, TVDC_EV_SEPARATOR);
        fill(&o, 0x11, 20);
        put32(&o, 4);
        fill(&o, 0xff, 4);
    }
    l = replay_ok(o.p, o.len, NULL);
    assert_false(l->agile);
    assert_false(l->has_sha256);
    assert_int_equal(l->n_events, 3);
    assert_int_equal(l->events[2].pcr, 2);
    assert_int_equal(l->extended, 0);
    for (unsigned i = 0; i < TVDC_TPM_PCRS; i++)
        assert_int_equal(l->pcrs[i][0], 0);
    tvdc_vtpm_eventlog_free(l);
    o.len -= 1;
    replay_bad(o.p, o.len, "event 2 at offset 72: truncated: event needs 4 bytes");
    o.p[0] = 30;
    replay_bad(o.p, o.len, "event 0 at offset 0: PCR index 30");
    free(o.p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seabios_replay),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_flipped_digest),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_too_many_events),
        cmocka_unit_test(test_unknown_algorithm),
        cmocka_unit_test(test_sha1_log),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
