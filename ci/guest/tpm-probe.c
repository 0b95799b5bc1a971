/*
 * tvdc-tpm-probe: the test guest's TPM 2.0 probe (see ci/guest/init).
 *
 * Usage: tvdc-tpm-probe [--dev PATH] ACTION...
 *
 * Actions, run in order, each printing one result line on stdout:
 *   ek            the EK certificate (NV index 0x01C00002) as PEM, then
 *                 "TPM-EK ok", or "TPM-EK fail: REASON"
 *   nv-write:HEX  stores 1 to 64 bytes in tvdc's owner NV index 0x01000100
 *                 (defined, or undefined and defined again, to fit), then
 *                 "TPM-NV ok", or "TPM-NV fail: REASON"
 *   nv-read       "TPM-NV HEX" (lowercase), "TPM-NV none" if the index is
 *                 not defined, or "TPM-NV fail: REASON"
 *   pcr:N         PCR N (0 to 23) of every allocated bank that has it, one
 *                 line a bank: "TPM-PCR N ALG HEX" (ALG sha1, sha256,
 *                 sha384, sha512, sm3_256 or alg-0xXXXX; HEX lowercase), in
 *                 the order TPM2_GetCapability(TPM_CAP_PCRS) lists the
 *                 banks, or "TPM-PCR fail: REASON"
 *
 * It speaks raw TPM 2.0 commands to /dev/tpm0 (else /dev/tpmrm0): no TSS
 * in a busybox initramfs.  Authorization is always the password session
 * TPM_RS_PW with an empty password.  Every response is parsed with bounds
 * checks; a short or odd one is a failure, never a crash.  Exit status: 0
 * if every action succeeded ("TPM-NV none" counts as success), else 1.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TPM_ST_NO_SESSIONS      0x8001
#define TPM_ST_SESSIONS         0x8002

#define TPM_CC_NV_UndefineSpace 0x00000122
#define TPM_CC_NV_DefineSpace   0x0000012A
#define TPM_CC_NV_Write         0x00000137
#define TPM_CC_NV_Read          0x0000014E
#define TPM_CC_NV_ReadPublic    0x00000169
#define TPM_CC_GetCapability    0x0000017A
#define TPM_CC_PCR_Read         0x0000017E

#define TPM_RH_OWNER            0x40000001
#define TPM_RS_PW               0x40000009

#define TPM_ALG_SHA1            0x0004
#define TPM_ALG_SHA256          0x000B
#define TPM_ALG_SHA384          0x000C
#define TPM_ALG_SHA512          0x000D
#define TPM_ALG_SM3_256         0x0012
#define TPM_CAP_PCRS            0x00000005
#define TPM_CAP_TPM_PROPERTIES  0x00000006
#define TPM_PT_NV_BUFFER_MAX    0x0000012C

#define TPMA_NV_OWNERWRITE      (1u << 1)
#define TPMA_NV_AUTHWRITE       (1u << 2)
#define TPMA_NV_OWNERREAD       (1u << 17)
#define TPMA_NV_AUTHREAD        (1u << 18)
#define TPMA_NV_NO_DA           (1u << 25)
#define TPMA_NV_WRITTEN         (1u << 29)

/* Format-one response code TPM_RC_HANDLE on a handle (not a parameter or
 * session): what NV_ReadPublic answers for an index that is not defined. */
#define TPM_RC_FMT1             0x080
#define TPM_RC_HANDLE           0x00B
#define TPM_RC_P                0x040

#define EK_CERT_INDEX           0x01C00002  /* TCG: RSA 2048 EK certificate */
#define TVDC_NV_INDEX           0x01000100  /* owner range; tvdc's test data */
#define TVDC_NV_ATTRS           (TPMA_NV_OWNERWRITE | TPMA_NV_AUTHWRITE | \
                                 TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD | \
                                 TPMA_NV_NO_DA)
#define TVDC_NV_MAX             64

#define TPM_BUF_SIZE            4096
#define NV_DATA_MAX             4096        /* larger indexes are refused */
#define NV_CHUNK_DEFAULT        512         /* if GetCapability fails */
#define PCR_MAX                 23          /* PC Client: 24 PCRs */
#define PCR_BANKS_MAX           8
#define PCR_SELECT_MAX          4           /* bytes of a pcrSelect */
#define DIGEST_MAX              64          /* SHA-512 */

struct tpm {
    const char *dev;                /* NULL: try the default devices */
    int fd;                         /* -1 until opened */
    uint32_t rc;                    /* response code of the last command */
    char err[256];                  /* why the last call failed */
};

/* A command being marshalled; overflow is remembered, not written. */
struct cmd {
    uint8_t b[TPM_BUF_SIZE];
    size_t len;
    int overflow;
};

/* A bounds-checked view of a response: reading past end sets bad. */
struct rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int bad;
};

static void
set_err(struct tpm *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(t->err, sizeof(t->err), fmt, ap);
    va_end(ap);
}

static void
put_bytes(struct cmd *c, const void *data, size_t n)
{
    if (c->overflow || n > sizeof(c->b) - c->len) {
        c->overflow = 1;
        return;
    }
    memcpy(c->b + c->len, data, n);
    c->len += n;
}

static void
put8(struct cmd *c, uint8_t v)
{
    put_bytes(c, &v, 1);
}

static void
put16(struct cmd *c, uint16_t v)
{
    uint8_t b[2] = { v >> 8, v & 0xff };

    put_bytes(c, b, sizeof(b));
}

static void
put32(struct cmd *c, uint32_t v)
{
    uint8_t b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };

    put_bytes(c, b, sizeof(b));
}

/* Header with a size of 0: tpm_run fills it in. */
static void
cmd_start(struct cmd *c, uint16_t tag, uint32_t cc)
{
    c->len = 0;
    c->overflow = 0;
    put16(c, tag);
    put32(c, 0);
    put32(c, cc);
}

/* The authorization area after the handles: one password session
 * (TPM_RS_PW, empty nonce, no attributes, empty password). */
static void
cmd_auth_pw(struct cmd *c)
{
    put32(c, 4 + 2 + 1 + 2);
    put32(c, TPM_RS_PW);
    put16(c, 0);
    put8(c, 0);
    put16(c, 0);
}

static const uint8_t *
get_bytes(struct rd *r, size_t n)
{
    const uint8_t *p;

    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint8_t
get8(struct rd *r)
{
    const uint8_t *p = get_bytes(r, 1);

    return p ? p[0] : 0;
}

static uint16_t
get16(struct rd *r)
{
    const uint8_t *p = get_bytes(r, 2);

    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static uint32_t
get32(struct rd *r)
{
    const uint8_t *p = get_bytes(r, 4);

    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3] : 0;
}

static int
tpm_open(struct tpm *t)
{
    static const char *defaults[] = { "/dev/tpm0", "/dev/tpmrm0" };
    size_t i;

    if (t->fd >= 0)
        return 0;
    if (t->dev) {
        t->fd = open(t->dev, O_RDWR | O_CLOEXEC);
        if (t->fd < 0) {
            set_err(t, "cannot open %s: %s", t->dev, strerror(errno));
            return -1;
        }
        return 0;
    }
    for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        t->fd = open(defaults[i], O_RDWR | O_CLOEXEC);
        if (t->fd >= 0)
            return 0;
        if (errno != ENOENT) {
            set_err(t, "cannot open %s: %s", defaults[i], strerror(errno));
            return -1;
        }
    }
    set_err(t, "no /dev/tpm0 (nor /dev/tpmrm0)");
    return -1;
}

/*
 * Send C (NAME for messages) and check the response header: its tag, that
 * its size is what was read, and its response code (kept in t->rc).  On
 * success *R covers the response parameters: after the header and, for a
 * TPM_ST_SESSIONS response, after parameterSize and before the sessions.
 */
static int
tpm_run(struct tpm *t, struct cmd *c, const char *name, struct rd *r)
{
    static uint8_t resp[TPM_BUF_SIZE];
    uint16_t cmd_tag = (uint16_t)(c->b[0] << 8 | c->b[1]);
    uint16_t tag;
    uint32_t size, param_size;
    ssize_t n;

    t->rc = 0;
    if (c->overflow) {
        set_err(t, "%s: command too large", name);
        return -1;
    }
    if (tpm_open(t) < 0)
        return -1;
    c->b[2] = c->len >> 24;
    c->b[3] = (c->len >> 16) & 0xff;
    c->b[4] = (c->len >> 8) & 0xff;
    c->b[5] = c->len & 0xff;

    do {
        n = write(t->fd, c->b, c->len);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)c->len) {
        set_err(t, "%s: write: %s", name, n < 0 ? strerror(errno) : "short write");
        return -1;
    }
    do {
        n = read(t->fd, resp, sizeof(resp));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        set_err(t, "%s: read: %s", name, strerror(errno));
        return -1;
    }

    *r = (struct rd){ .p = resp, .len = (size_t)n };
    tag = get16(r);
    size = get32(r);
    t->rc = get32(r);
    if (r->bad) {
        t->rc = 0;
        set_err(t, "%s: short response (%zd bytes)", name, n);
        return -1;
    }
    if (size != (uint32_t)n) {
        t->rc = 0;                      /* not to be trusted either */
        set_err(t, "%s: response says %u bytes, read %zd", name, size, n);
        return -1;
    }
    if (t->rc != 0) {
        set_err(t, "%s returned TPM response code 0x%03x", name, t->rc);
        return -1;
    }
    if (tag != cmd_tag) {
        set_err(t, "%s: response tag 0x%04x for a command tagged 0x%04x",
                name, tag, cmd_tag);
        return -1;
    }
    if (tag == TPM_ST_SESSIONS) {
        param_size = get32(r);
        if (r->bad || param_size > r->len - r->pos) {
            set_err(t, "%s: bad parameterSize in response", name);
            return -1;
        }
        r->len = r->pos + param_size;
    }
    return 0;
}

static int
rc_is_handle_error(uint32_t rc)
{
    return (rc & (TPM_RC_FMT1 | TPM_RC_P | 0x3f)) == (TPM_RC_FMT1 | TPM_RC_HANDLE);
}

/* 1 if INDEX is not defined, 0 with its attributes and size, -1 on error. */
static int
nv_read_public(struct tpm *t, uint32_t index, uint32_t *attrs, uint16_t *size)
{
    struct cmd c;
    struct rd r;
    uint16_t pub_size, policy_size;
    size_t pub_end;

    cmd_start(&c, TPM_ST_NO_SESSIONS, TPM_CC_NV_ReadPublic);
    put32(&c, index);
    if (tpm_run(t, &c, "TPM2_NV_ReadPublic", &r) < 0) {
        if (rc_is_handle_error(t->rc))
            return 1;
        return -1;
    }
    /* TPM2B_NV_PUBLIC: size, nvIndex, nameAlg, attributes, authPolicy,
     * dataSize; then the name, which is not needed. */
    pub_size = get16(&r);
    pub_end = r.pos + pub_size;
    if (get32(&r) != index && !r.bad) {
        set_err(t, "TPM2_NV_ReadPublic: answer is about another index");
        return -1;
    }
    get16(&r);
    *attrs = get32(&r);
    policy_size = get16(&r);
    get_bytes(&r, policy_size);
    *size = get16(&r);
    if (r.bad || r.pos > pub_end) {
        set_err(t, "TPM2_NV_ReadPublic: malformed response");
        return -1;
    }
    return 0;
}

/* The largest NV_Read/NV_Write buffer the TPM takes (TPM_PT_NV_BUFFER_MAX),
 * or a safe default if it does not say. */
static size_t
nv_chunk_size(struct tpm *t)
{
    struct cmd c;
    struct rd r;
    uint32_t count, i, prop, value;

    cmd_start(&c, TPM_ST_NO_SESSIONS, TPM_CC_GetCapability);
    put32(&c, TPM_CAP_TPM_PROPERTIES);
    put32(&c, TPM_PT_NV_BUFFER_MAX);
    put32(&c, 1);
    if (tpm_run(t, &c, "TPM2_GetCapability", &r) < 0)
        return NV_CHUNK_DEFAULT;
    get8(&r);                           /* moreData */
    if (get32(&r) != TPM_CAP_TPM_PROPERTIES)
        return NV_CHUNK_DEFAULT;
    count = get32(&r);
    for (i = 0; i < count && !r.bad; i++) {
        prop = get32(&r);
        value = get32(&r);
        /* 1024 is libtpms' own maximum; anything smaller than a few
         * bytes is nonsense. */
        if (!r.bad && prop == TPM_PT_NV_BUFFER_MAX && value >= 64)
            return value < 1024 ? value : 1024;
    }
    return NV_CHUNK_DEFAULT;
}

/* Read SIZE bytes of INDEX into BUF, authorized by AUTH (the index itself
 * or TPM_RH_OWNER), in chunks the TPM accepts. */
static int
nv_read(struct tpm *t, uint32_t auth, uint32_t index, uint8_t *buf, uint16_t size)
{
    size_t chunk = nv_chunk_size(t), off = 0, want;
    struct cmd c;
    struct rd r;
    const uint8_t *data;
    uint16_t got;

    while (off < size) {
        want = size - off < chunk ? size - off : chunk;
        cmd_start(&c, TPM_ST_SESSIONS, TPM_CC_NV_Read);
        put32(&c, auth);
        put32(&c, index);
        cmd_auth_pw(&c);
        put16(&c, (uint16_t)want);
        put16(&c, (uint16_t)off);
        if (tpm_run(t, &c, "TPM2_NV_Read", &r) < 0)
            return -1;
        got = get16(&r);
        data = get_bytes(&r, got);
        if (!data || got != want) {
            set_err(t, "TPM2_NV_Read: asked for %zu bytes at %zu, got a malformed answer",
                    want, off);
            return -1;
        }
        memcpy(buf + off, data, got);
        off += got;
    }
    return 0;
}

/* Run command CC with the handles AUTH and (unless 0) INDEX, the password
 * session for AUTH, and the parameters PARAMS (or none). */
static int
nv_command(struct tpm *t, uint32_t cc, const char *name, uint32_t auth, uint32_t index,
           const struct cmd *params)
{
    struct cmd c;
    struct rd r;

    cmd_start(&c, TPM_ST_SESSIONS, cc);
    put32(&c, auth);
    if (index)
        put32(&c, index);
    cmd_auth_pw(&c);
    if (params)
        put_bytes(&c, params->b, params->len);
    return tpm_run(t, &c, name, &r);
}

static int
nv_define(struct tpm *t, uint32_t index, uint32_t attrs, uint16_t size)
{
    struct cmd p = { .len = 0 };

    put16(&p, 0);                       /* auth: empty */
    put16(&p, 4 + 2 + 4 + 2 + 2);       /* TPM2B_NV_PUBLIC */
    put32(&p, index);
    put16(&p, TPM_ALG_SHA256);
    put32(&p, attrs);
    put16(&p, 0);                       /* no authPolicy */
    put16(&p, size);
    return nv_command(t, TPM_CC_NV_DefineSpace, "TPM2_NV_DefineSpace", TPM_RH_OWNER, 0, &p);
}

static int
nv_undefine(struct tpm *t, uint32_t index)
{
    return nv_command(t, TPM_CC_NV_UndefineSpace, "TPM2_NV_UndefineSpace", TPM_RH_OWNER,
                      index, NULL);
}

static int
nv_write(struct tpm *t, uint32_t index, const uint8_t *data, uint16_t len)
{
    struct cmd p = { .len = 0 };

    put16(&p, len);
    put_bytes(&p, data, len);
    put16(&p, 0);                       /* offset */
    return nv_command(t, TPM_CC_NV_Write, "TPM2_NV_Write", index, index, &p);
}

/* Append the PEM form of DER to OUT, which has room for it. */
static size_t
pem_encode(const uint8_t *der, size_t len, char *out)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0, col = 0;
    uint32_t v;

    o += (size_t)sprintf(out + o, "-----BEGIN CERTIFICATE-----\n");
    for (i = 0; i < len; i += 3) {
        v = (uint32_t)der[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)der[i + 1] << 8;
        if (i + 2 < len)
            v |= der[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 0x3f];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 0x3f] : '=';
        out[o++] = i + 2 < len ? b64[v & 0x3f] : '=';
        col += 4;
        if (col == 64) {
            out[o++] = '\n';
            col = 0;
        }
    }
    if (col)
        out[o++] = '\n';
    o += (size_t)sprintf(out + o, "-----END CERTIFICATE-----\n");
    return o;
}

/* The length of the DER SEQUENCE at the start of BUF (an NV index may be
 * larger than the certificate in it), or LEN if it does not parse. */
static size_t
der_length(const uint8_t *buf, size_t len)
{
    size_t n = 0, hdr, i;

    if (len < 2 || buf[0] != 0x30)
        return len;
    if (buf[1] < 0x80) {
        n = buf[1];
        hdr = 2;
    } else {
        hdr = 2 + (buf[1] & 0x7f);
        if (hdr > 6 || hdr > len)
            return len;
        for (i = 2; i < hdr; i++)
            n = n << 8 | buf[i];
    }
    return n <= len - hdr ? hdr + n : len;
}

static int
action_ek(struct tpm *t)
{
    static uint8_t cert[NV_DATA_MAX];
    static char pem[(NV_DATA_MAX + 2) / 3 * 4 + NV_DATA_MAX / 48 + 1 + 128];
    uint32_t attrs = 0, auth;
    uint16_t size = 0;
    size_t len, n;
    int ret;

    ret = nv_read_public(t, EK_CERT_INDEX, &attrs, &size);
    if (ret == 1) {
        set_err(t, "NV index 0x%08x (EK certificate) not defined", EK_CERT_INDEX);
        ret = -1;
    } else if (ret == 0 && (size == 0 || size > NV_DATA_MAX)) {
        set_err(t, "NV index 0x%08x has an unlikely size %u", EK_CERT_INDEX, size);
        ret = -1;
    } else if (ret == 0 && !(attrs & TPMA_NV_WRITTEN)) {
        set_err(t, "NV index 0x%08x defined but never written", EK_CERT_INDEX);
        ret = -1;
    } else if (ret == 0 && !(attrs & (TPMA_NV_AUTHREAD | TPMA_NV_OWNERREAD))) {
        set_err(t, "NV index 0x%08x readable neither with its auth nor the owner's",
                EK_CERT_INDEX);
        ret = -1;
    }
    auth = attrs & TPMA_NV_AUTHREAD ? EK_CERT_INDEX : TPM_RH_OWNER;
    if (ret < 0 || nv_read(t, auth, EK_CERT_INDEX, cert, size) < 0) {
        printf("TPM-EK fail: %s\n", t->err);
        fflush(stdout);
        return -1;
    }
    len = der_length(cert, size);
    n = pem_encode(cert, len, pem);
    n += (size_t)sprintf(pem + n, "TPM-EK ok\n");
    fwrite(pem, 1, n, stdout);          /* one write: keeps the PEM together */
    fflush(stdout);
    return 0;
}

/* Parse 2 to 2 * TVDC_NV_MAX hex digits into BUF; the count, or -1. */
static int
parse_hex(const char *hex, uint8_t *buf)
{
    size_t len = strlen(hex), i;

    if (len == 0 || len % 2 || len / 2 > TVDC_NV_MAX)
        return -1;
    for (i = 0; i < len; i += 2) {
        if (!isxdigit((unsigned char)hex[i]) || !isxdigit((unsigned char)hex[i + 1]) ||
            sscanf(hex + i, "%2hhx", &buf[i / 2]) != 1)
            return -1;
    }
    return (int)(len / 2);
}

static int
action_nv_write(struct tpm *t, const char *hex)
{
    uint8_t data[TVDC_NV_MAX];
    uint32_t attrs;
    uint16_t size = 0;
    int len, ret;

    len = parse_hex(hex, data);
    if (len < 0) {
        set_err(t, "'%s' is not 1 to %d bytes of hex", hex, TVDC_NV_MAX);
        goto fail;
    }
    ret = nv_read_public(t, TVDC_NV_INDEX, &attrs, &size);
    if (ret < 0)
        goto fail;
    if (ret == 0 && (size != len || (attrs & ~TPMA_NV_WRITTEN) != TVDC_NV_ATTRS)) {
        if (nv_undefine(t, TVDC_NV_INDEX) < 0)
            goto fail;
        ret = 1;
    }
    if (ret == 1 && nv_define(t, TVDC_NV_INDEX, TVDC_NV_ATTRS, (uint16_t)len) < 0)
        goto fail;
    if (nv_write(t, TVDC_NV_INDEX, data, (uint16_t)len) < 0)
        goto fail;
    printf("TPM-NV ok\n");
    fflush(stdout);
    return 0;

 fail:
    printf("TPM-NV fail: %s\n", t->err);
    fflush(stdout);
    return -1;
}

static int
action_nv_read(struct tpm *t)
{
    uint8_t data[NV_DATA_MAX];
    uint32_t attrs;
    uint16_t size, i;
    int ret;

    ret = nv_read_public(t, TVDC_NV_INDEX, &attrs, &size);
    if (ret == 1) {
        printf("TPM-NV none\n");
        fflush(stdout);
        return 0;
    }
    if (ret == 0 && (size == 0 || size > NV_DATA_MAX)) {
        set_err(t, "NV index 0x%08x has an unlikely size %u", TVDC_NV_INDEX, size);
        ret = -1;
    } else if (ret == 0 && !(attrs & TPMA_NV_WRITTEN)) {
        set_err(t, "NV index 0x%08x defined but never written", TVDC_NV_INDEX);
        ret = -1;
    } else if (ret == 0 && !(attrs & TPMA_NV_AUTHREAD)) {
        set_err(t, "NV index 0x%08x is not tvdc's (no AUTHREAD)", TVDC_NV_INDEX);
        ret = -1;
    }
    if (ret < 0 || nv_read(t, TVDC_NV_INDEX, TVDC_NV_INDEX, data, size) < 0) {
        printf("TPM-NV fail: %s\n", t->err);
        fflush(stdout);
        return -1;
    }
    printf("TPM-NV ");
    for (i = 0; i < size; i++)
        printf("%02x", data[i]);
    printf("\n");
    fflush(stdout);
    return 0;
}

/* A bank's hash algorithm as "TPM-PCR" lines name it. */
static const char *
alg_name(uint16_t alg, char *buf, size_t size)
{
    switch (alg) {
    case TPM_ALG_SHA1:
        return "sha1";
    case TPM_ALG_SHA256:
        return "sha256";
    case TPM_ALG_SHA384:
        return "sha384";
    case TPM_ALG_SHA512:
        return "sha512";
    case TPM_ALG_SM3_256:
        return "sm3_256";
    }
    snprintf(buf, size, "alg-0x%04x", alg);
    return buf;
}

/* The hash algorithms of the allocated banks that hold PCR INDEX, from
 * TPM2_GetCapability(TPM_CAP_PCRS): the count, or -1. */
static int
pcr_banks(struct tpm *t, unsigned int index, uint16_t *algs)
{
    struct cmd c;
    struct rd r;
    uint32_t count, i;
    uint16_t alg;
    uint8_t select_size;
    const uint8_t *select;
    int n = 0;

    cmd_start(&c, TPM_ST_NO_SESSIONS, TPM_CC_GetCapability);
    put32(&c, TPM_CAP_PCRS);
    put32(&c, 0);
    put32(&c, 1);
    if (tpm_run(t, &c, "TPM2_GetCapability", &r) < 0)
        return -1;
    get8(&r);                           /* moreData: all banks fit in one */
    if (get32(&r) != TPM_CAP_PCRS && !r.bad) {
        set_err(t, "TPM2_GetCapability: answer is about another capability");
        return -1;
    }
    /* TPML_PCR_SELECTION: count, then hash, sizeofSelect, pcrSelect */
    count = get32(&r);
    for (i = 0; i < count && !r.bad; i++) {
        alg = get16(&r);
        select_size = get8(&r);
        select = get_bytes(&r, select_size);
        if (!select || index / 8 >= select_size || !(select[index / 8] & (1u << index % 8)))
            continue;
        if (n == PCR_BANKS_MAX) {
            set_err(t, "TPM2_GetCapability: more than %d PCR banks", PCR_BANKS_MAX);
            return -1;
        }
        algs[n++] = alg;
    }
    if (r.bad || count > 16) {
        set_err(t, "TPM2_GetCapability: malformed TPM_CAP_PCRS answer");
        return -1;
    }
    if (n == 0) {
        set_err(t, "no allocated PCR bank has PCR %u", index);
        return -1;
    }
    return n;
}

/* Read PCR INDEX of the bank ALG into DIGEST: its size, or -1. */
static int
pcr_read(struct tpm *t, unsigned int index, uint16_t alg, uint8_t *digest)
{
    uint8_t select[PCR_SELECT_MAX] = { 0 };
    struct cmd c;
    struct rd r;
    const uint8_t *out_select, *data;
    uint8_t out_size;
    uint16_t size;

    select[index / 8] = 1u << index % 8;
    cmd_start(&c, TPM_ST_NO_SESSIONS, TPM_CC_PCR_Read);
    put32(&c, 1);                       /* TPML_PCR_SELECTION: one bank */
    put16(&c, alg);
    put8(&c, 3);
    put_bytes(&c, select, 3);
    if (tpm_run(t, &c, "TPM2_PCR_Read", &r) < 0)
        return -1;
    /* pcrUpdateCounter, pcrSelectionOut, then TPML_DIGEST pcrValues; a PCR
     * the TPM did not read is missing from both. */
    get32(&r);
    if (get32(&r) != 1 || get16(&r) != alg) {
        set_err(t, "TPM2_PCR_Read: PCR %u of bank 0x%04x not read", index, alg);
        return -1;
    }
    out_size = get8(&r);
    out_select = get_bytes(&r, out_size);
    if (!out_select || index / 8 >= out_size || out_select[index / 8] != select[index / 8]) {
        set_err(t, "TPM2_PCR_Read: PCR %u of bank 0x%04x not read", index, alg);
        return -1;
    }
    if (get32(&r) != 1) {
        set_err(t, "TPM2_PCR_Read: not one digest in the answer");
        return -1;
    }
    size = get16(&r);
    data = get_bytes(&r, size);
    if (!data || size == 0 || size > DIGEST_MAX) {
        set_err(t, "TPM2_PCR_Read: malformed digest");
        return -1;
    }
    memcpy(digest, data, size);
    return size;
}

static int
action_pcr(struct tpm *t, const char *arg)
{
    uint16_t algs[PCR_BANKS_MAX];
    uint8_t digests[PCR_BANKS_MAX][DIGEST_MAX];
    int sizes[PCR_BANKS_MAX];
    char name[16], *end;
    unsigned long index;
    int n, i, j;

    errno = 0;
    index = strtoul(arg, &end, 10);
    if (!isdigit((unsigned char)arg[0]) || *end || errno || index > PCR_MAX) {
        set_err(t, "'%s' is not a PCR number from 0 to %d", arg, PCR_MAX);
        goto fail;
    }
    n = pcr_banks(t, (unsigned int)index, algs);
    if (n < 0)
        goto fail;
    /* all banks read before anything is printed: all lines or a failure */
    for (i = 0; i < n; i++) {
        sizes[i] = pcr_read(t, (unsigned int)index, algs[i], digests[i]);
        if (sizes[i] < 0)
            goto fail;
    }
    for (i = 0; i < n; i++) {
        printf("TPM-PCR %lu %s ", index, alg_name(algs[i], name, sizeof(name)));
        for (j = 0; j < sizes[i]; j++)
            printf("%02x", digests[i][j]);
        printf("\n");
    }
    fflush(stdout);
    return 0;

 fail:
    printf("TPM-PCR fail: %s\n", t->err);
    fflush(stdout);
    return -1;
}

static void
usage(FILE *f)
{
    fprintf(f, "Usage: tvdc-tpm-probe [--dev PATH] ek|nv-read|nv-write:HEX|pcr:N...\n");
}

int
main(int argc, char **argv)
{
    struct tpm t = { .dev = NULL, .fd = -1 };
    int i = 1, failed = 0, ret;

    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "--dev")) {
        t.dev = argv[2];
        i = 3;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (; i < argc; i++) {
        t.err[0] = '\0';
        if (!strcmp(argv[i], "ek")) {
            ret = action_ek(&t);
        } else if (!strcmp(argv[i], "nv-read")) {
            ret = action_nv_read(&t);
        } else if (!strncmp(argv[i], "nv-write:", 9)) {
            ret = action_nv_write(&t, argv[i] + 9);
        } else if (!strncmp(argv[i], "pcr:", 4)) {
            ret = action_pcr(&t, argv[i] + 4);
        } else {
            printf("TPM fail: unknown action '%s'\n", argv[i]);
            fflush(stdout);
            ret = -1;
        }
        if (ret < 0)
            failed = 1;
    }
    if (t.fd >= 0)
        close(t.fd);
    return failed;
}
