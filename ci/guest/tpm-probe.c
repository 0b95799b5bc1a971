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
 *   attest[:PORT] the remote attestation agent, for ever: answers a
 *                 verifier's requests, a line each, on the virtio-serial
 *                 port named org.tvdc.attest.0 (or the device PORT; "-":
 *                 stdin and stdout, until end of file), with the EK, an AK,
 *                 TPM2_ActivateCredential, TPM2_Quote and the event log
 *                 (protocol: swtpm-mgr/README.md, "Attestation protocol");
 *                 a line per request on stderr.  "TPM-ATTEST fail: REASON"
 *                 if there is no such port
 *
 * It speaks raw TPM 2.0 commands to /dev/tpm0 (else /dev/tpmrm0; attest:
 * /dev/tpmrm0 first), or to a UNIX socket given with --dev (swtpm socket
 * --server type=unixio: tests on the host): no TSS in a busybox initramfs.
 * Authorization is the password session TPM_RS_PW with an empty password,
 * and for the EK a policy session.  Every response is parsed with bounds
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
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
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
#define TPM_RC_YIELDED          0x908
#define TPM_RC_TESTING          0x90A
#define TPM_RC_RETRY            0x922

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
    const char *const *defaults;    /* the default devices, in order */
    int fd;                         /* -1 until opened */
    int stream;                     /* fd is a socket: read until the size */
    uint32_t rc;                    /* response code of the last command */
    uint32_t rhandle;               /* the response handle, if the command has one */
    char err[256];                  /* why the last call failed */
};

/* A command being marshalled; overflow is remembered, not written. */
struct cmd {
    uint8_t b[TPM_BUF_SIZE];
    size_t len;
    int overflow;
    int rhandle;                    /* the response starts with a handle */
};

/* A bounds-checked view of a response: reading past end sets bad. */
struct rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int bad;
};

static void set_err(struct tpm *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
    c->rhandle = 0;
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

static const char *const tpm_direct_first[] = { "/dev/tpm0", "/dev/tpmrm0", NULL };

/* A UNIX socket speaking the TPM command protocol (swtpm socket --server
 * type=unixio): what tests on the host use instead of a device. */
static int
tpm_connect(struct tpm *t)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (strlen(t->dev) >= sizeof(sa.sun_path)) {
        set_err(t, "socket path %s too long", t->dev);
        return -1;
    }
    strcpy(sa.sun_path, t->dev);
    t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->fd < 0 || connect(t->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        set_err(t, "cannot connect to %s: %s", t->dev, strerror(errno));
        if (t->fd >= 0)
            close(t->fd);
        t->fd = -1;
        return -1;
    }
    t->stream = 1;
    return 0;
}

static int
tpm_open(struct tpm *t)
{
    const char *const *defaults = t->defaults ? t->defaults : tpm_direct_first;
    struct stat st;
    size_t i;

    if (t->fd >= 0)
        return 0;
    t->stream = 0;
    if (t->dev) {
        if (stat(t->dev, &st) == 0 && S_ISSOCK(st.st_mode))
            return tpm_connect(t);
        t->fd = open(t->dev, O_RDWR | O_CLOEXEC);
        if (t->fd < 0) {
            set_err(t, "cannot open %s: %s", t->dev, strerror(errno));
            return -1;
        }
        return 0;
    }
    for (i = 0; defaults[i]; i++) {
        t->fd = open(defaults[i], O_RDWR | O_CLOEXEC);
        if (t->fd >= 0)
            return 0;
        if (errno != ENOENT) {
            set_err(t, "cannot open %s: %s", defaults[i], strerror(errno));
            return -1;
        }
    }
    set_err(t, "no %s (nor %s)", defaults[0], defaults[1]);
    return -1;
}

static void
tpm_close(struct tpm *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

/* Send C and read the response into RESP: its length, or -1. */
static ssize_t
tpm_transmit(struct tpm *t, const struct cmd *c, const char *name, uint8_t *resp, size_t size)
{
    ssize_t n, got;

    do {
        n = write(t->fd, c->b, c->len);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)c->len) {
        set_err(t, "%s: write: %s", name, n < 0 ? strerror(errno) : "short write");
        return -1;
    }
    /* A device answers in one read; a socket may take several. */
    n = 0;
    for (;;) {
        do {
            got = read(t->fd, resp + n, size - (size_t)n);
        } while (got < 0 && errno == EINTR);
        if (got < 0) {
            set_err(t, "%s: read: %s", name, strerror(errno));
            return -1;
        }
        n += got;
        if (!t->stream || got == 0 || (size_t)n == size)
            break;
        if (n >= 6 && (size_t)n >= ((size_t)resp[2] << 24 | (size_t)resp[3] << 16 |
                                    (size_t)resp[4] << 8 | resp[5]))
            break;
    }
    return n;
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
    uint32_t size, param_size, rc;
    ssize_t n;
    int tries;

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

    /* The TPM may ask for the command again (TPM_RC_RETRY, _YIELDED,
     * _TESTING): up to 50 times, 20 ms apart. */
    for (tries = 0;; tries++) {
        n = tpm_transmit(t, c, name, resp, sizeof(resp));
        if (n < 0)
            return -1;
        rc = n >= 10 ? (uint32_t)resp[6] << 24 | (uint32_t)resp[7] << 16 |
                       (uint32_t)resp[8] << 8 | resp[9] : 0;
        if ((rc != TPM_RC_RETRY && rc != TPM_RC_YIELDED && rc != TPM_RC_TESTING) ||
            tries == 50)
            break;
        usleep(20000);
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
    if (c->rhandle) {
        t->rhandle = get32(r);
        if (r->bad) {
            set_err(t, "%s: no handle in the response", name);
            return -1;
        }
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

/*
 * The attestation agent (action "attest"): requests and answers, one line
 * each, over the virtio-serial port org.tvdc.attest.0; the protocol is in
 * swtpm-mgr/README.md, "Attestation protocol".
 */

#define TPM_CC_EvictControl     0x00000120
#define TPM_CC_CreatePrimary    0x00000131
#define TPM_CC_ActivateCredential 0x00000147
#define TPM_CC_PolicySecret     0x00000151
#define TPM_CC_Quote            0x00000158
#define TPM_CC_FlushContext     0x00000165
#define TPM_CC_ReadPublic       0x00000173
#define TPM_CC_StartAuthSession 0x00000176

#define TPM_RH_NULL             0x40000007
#define TPM_RH_ENDORSEMENT      0x4000000B
#define TPM_SE_POLICY           0x01
#define TPM_ALG_RSA             0x0001
#define TPM_ALG_AES             0x0006
#define TPM_ALG_NULL            0x0010
#define TPM_ALG_RSASSA          0x0014
#define TPM_ALG_CFB             0x0043

#define TPMA_OBJECT_FIXEDTPM            (1u << 1)
#define TPMA_OBJECT_FIXEDPARENT         (1u << 4)
#define TPMA_OBJECT_SENSITIVEDATAORIGIN (1u << 5)
#define TPMA_OBJECT_USERWITHAUTH        (1u << 6)
#define TPMA_OBJECT_ADMINWITHPOLICY     (1u << 7)
#define TPMA_OBJECT_RESTRICTED          (1u << 16)
#define TPMA_OBJECT_DECRYPT             (1u << 17)
#define TPMA_OBJECT_SIGN                (1u << 18)

/* TCG EK Credential Profile 2.0, template L-1 (RSA 2048), as swtpm_setup
 * 0.7.1 creates the EK without --allow-signing and makes it persistent. */
#define EK_PERSISTENT_HANDLE    0x81010001
#define EK_ATTRS                (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
                                 TPMA_OBJECT_SENSITIVEDATAORIGIN | \
                                 TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | \
                                 TPMA_OBJECT_DECRYPT)
/* PolicySecret(TPM_RH_ENDORSEMENT), SHA-256: the EK's policy A. */
static const uint8_t ek_policy_a[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d,
    0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
    0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa
};
/* The AK: a restricted RSA 2048 signing key, RSASSA with SHA-256. */
#define AK_ATTRS                (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
                                 TPMA_OBJECT_SENSITIVEDATAORIGIN | \
                                 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | \
                                 TPMA_OBJECT_SIGN)

#define ATTEST_LINE_MAX         8192        /* longest request */
#define ATTEST_BLOB_MAX         1024        /* longest binary field of a request */
#define ATTEST_NONCE_MIN        16
#define ATTEST_NONCE_MAX        64
#define ATTEST_EVENTLOG         "/sys/kernel/security/tpm0/binary_bios_measurements"
#define ATTEST_EVENTLOG_MAX     (4u << 20)
#define ATTEST_PORT_NAME        "org.tvdc.attest.0"
#define PUBLIC_MAX              1024        /* a TPM2B_PUBLIC, marshalled */

/* A marshalled TPM2B copied out of a response. */
struct blob {
    uint8_t b[PUBLIC_MAX];
    size_t len;
};

/* An answer line being built; ok is cleared when memory runs out. */
struct line {
    char *b;
    size_t len, cap;
    int ok;
};

static void
line_add(struct line *l, const char *s, size_t n)
{
    char *nb;
    size_t cap;

    if (!l->ok)
        return;
    if (n + 2 > l->cap - l->len) {
        cap = (l->len + n + 2) * 2;
        nb = realloc(l->b, cap);
        if (!nb) {
            l->ok = 0;
            return;
        }
        l->b = nb;
        l->cap = cap;
    }
    memcpy(l->b + l->len, s, n);
    l->len += n;
}

static void
line_str(struct line *l, const char *s)
{
    line_add(l, s, strlen(s));
}

static void
line_hex(struct line *l, const uint8_t *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char buf[256];
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        buf[o++] = digits[data[i] >> 4];
        buf[o++] = digits[data[i] & 0xf];
        if (o == sizeof(buf)) {
            line_add(l, buf, o);
            o = 0;
        }
    }
    line_add(l, buf, o);
}

/* Copy the TPM2B at R's position, size field included, into OUT. */
static int
get_tpm2b(struct rd *r, struct blob *out)
{
    size_t start = r->pos;
    uint16_t size = get16(r);

    if (!get_bytes(r, size) || (size_t)size + 2 > sizeof(out->b))
        return -1;
    memcpy(out->b, r->p + start, (size_t)size + 2);
    out->len = (size_t)size + 2;
    return 0;
}

static void
flush_context(struct tpm *t, uint32_t handle)
{
    char err[sizeof(t->err)];
    struct cmd c;
    struct rd r;

    if (!handle)
        return;
    memcpy(err, t->err, sizeof(err));   /* a cleanup keeps the first error */
    cmd_start(&c, TPM_ST_NO_SESSIONS, TPM_CC_FlushContext);
    put32(&c, handle);
    tpm_run(t, &c, "TPM2_FlushContext", &r);
    memcpy(t->err, err, sizeof(err));
}

/* The TPMT_PUBLIC of the EK (UNIQUE: with the 256 zero bytes of the
 * template's unique field, as for TPM2_CreatePrimary; else without it, the
 * part a created key must equal). */
static void
put_ek_template(struct cmd *c, int unique)
{
    put16(c, TPM_ALG_RSA);
    put16(c, TPM_ALG_SHA256);
    put32(c, EK_ATTRS);
    put16(c, sizeof(ek_policy_a));
    put_bytes(c, ek_policy_a, sizeof(ek_policy_a));
    put16(c, TPM_ALG_AES);              /* symmetric: AES-128 CFB */
    put16(c, 128);
    put16(c, TPM_ALG_CFB);
    put16(c, TPM_ALG_NULL);             /* scheme */
    put16(c, 2048);
    put32(c, 0);                        /* exponent: 2^16 + 1 */
    if (unique) {
        static const uint8_t zeros[256];

        put16(c, sizeof(zeros));
        put_bytes(c, zeros, sizeof(zeros));
    }
}

static void
put_ak_template(struct cmd *c)
{
    put16(c, TPM_ALG_RSA);
    put16(c, TPM_ALG_SHA256);
    put32(c, AK_ATTRS);
    put16(c, 0);                        /* no authPolicy */
    put16(c, TPM_ALG_NULL);             /* symmetric */
    put16(c, TPM_ALG_RSASSA);           /* scheme */
    put16(c, TPM_ALG_SHA256);
    put16(c, 2048);
    put32(c, 0);
    put16(c, 0);                        /* unique: empty */
}

/* TPM2_CreatePrimary in the endorsement hierarchy (empty auth): the
 * object's handle in *HANDLE, its TPM2B_PUBLIC in PUB. */
static int
create_primary(struct tpm *t, const char *what, int ek, uint32_t *handle, struct blob *pub)
{
    struct cmd c, tmpl = { .len = 0 };
    struct rd r;

    if (ek)
        put_ek_template(&tmpl, 1);
    else
        put_ak_template(&tmpl);
    cmd_start(&c, TPM_ST_SESSIONS, TPM_CC_CreatePrimary);
    c.rhandle = 1;
    put32(&c, TPM_RH_ENDORSEMENT);
    cmd_auth_pw(&c);
    put16(&c, 4);                       /* TPM2B_SENSITIVE_CREATE: empty */
    put16(&c, 0);
    put16(&c, 0);
    put16(&c, (uint16_t)tmpl.len);      /* TPM2B_PUBLIC */
    put_bytes(&c, tmpl.b, tmpl.len);
    put16(&c, 0);                       /* outsideInfo */
    put32(&c, 0);                       /* creationPCR: none */
    if (tpm_run(t, &c, what, &r) < 0)
        return -1;
    *handle = t->rhandle;
    if (get_tpm2b(&r, pub) < 0) {
        flush_context(t, *handle);
        *handle = 0;
        set_err(t, "%s: malformed outPublic", what);
        return -1;
    }
    return 0;
}

/*
 * The EK: the persistent one swtpm_setup made at 0x81010001 if it is the
 * default RSA 2048 EK (the one its certificate is for), else created from
 * the same template.  *HANDLE: the EK; *TRANSIENT: 1 if it must be flushed.
 */
static int
ek_get(struct tpm *t, uint32_t *handle, int *transient, struct blob *pub)
{
    struct cmd c, want = { .len = 0 };
    struct rd r;

    cmd_start(&c, TPM_ST_NO_SESSIONS, TPM_CC_ReadPublic);
    put32(&c, EK_PERSISTENT_HANDLE);
    if (tpm_run(t, &c, "TPM2_ReadPublic", &r) == 0) {
        if (get_tpm2b(&r, pub) < 0) {
            set_err(t, "TPM2_ReadPublic: malformed outPublic");
            return -1;
        }
        put_ek_template(&want, 0);
        if (pub->len >= 2 + want.len && !memcmp(pub->b + 2, want.b, want.len)) {
            *handle = EK_PERSISTENT_HANDLE;
            *transient = 0;
            return 0;
        }
    } else if (!rc_is_handle_error(t->rc)) {
        return -1;
    }
    fprintf(stderr, "tvdc-attest: no default EK at 0x%08x, created from the template\n",
            EK_PERSISTENT_HANDLE);
    *transient = 1;
    return create_primary(t, "TPM2_CreatePrimary(EK)", 1, handle, pub);
}

static int
ak_create(struct tpm *t, uint32_t *handle, struct blob *pub)
{
    return create_primary(t, "TPM2_CreatePrimary(AK)", 0, handle, pub);
}

/* A policy session (unsalted, unbound, SHA-256) that satisfies the EK's
 * policy A: TPM2_StartAuthSession, TPM2_PolicySecret(TPM_RH_ENDORSEMENT). */
static int
ek_policy_session(struct tpm *t, uint32_t *session)
{
    uint8_t nonce[32] = { 0 };
    struct cmd c;
    struct rd r;

    if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
        memset(nonce, 0x5a, sizeof(nonce));     /* not secret: any value works */
    cmd_start(&c, TPM_ST_NO_SESSIONS, TPM_CC_StartAuthSession);
    c.rhandle = 1;
    put32(&c, TPM_RH_NULL);             /* tpmKey: unsalted */
    put32(&c, TPM_RH_NULL);             /* bind: unbound */
    put16(&c, sizeof(nonce));
    put_bytes(&c, nonce, sizeof(nonce));
    put16(&c, 0);                       /* encryptedSalt */
    put8(&c, TPM_SE_POLICY);
    put16(&c, TPM_ALG_NULL);            /* symmetric */
    put16(&c, TPM_ALG_SHA256);
    if (tpm_run(t, &c, "TPM2_StartAuthSession", &r) < 0)
        return -1;
    *session = t->rhandle;

    cmd_start(&c, TPM_ST_SESSIONS, TPM_CC_PolicySecret);
    put32(&c, TPM_RH_ENDORSEMENT);
    put32(&c, *session);
    cmd_auth_pw(&c);
    put16(&c, 0);                       /* nonceTPM: none, no expiration */
    put16(&c, 0);                       /* cpHashA */
    put16(&c, 0);                       /* policyRef */
    put32(&c, 0);                       /* expiration */
    return tpm_run(t, &c, "TPM2_PolicySecret", &r);
}

/* Hex digits into at most MAX bytes of OUT: the count, or -1. */
static long
hex_decode(const char *hex, uint8_t *out, size_t max)
{
    size_t len = strlen(hex), i;
    int hi, lo;

    if (len % 2 || len / 2 > max)
        return -1;
    for (i = 0; i < len; i += 2) {
        hi = isxdigit((unsigned char)hex[i]) ? (isdigit((unsigned char)hex[i]) ?
             hex[i] - '0' : tolower((unsigned char)hex[i]) - 'a' + 10) : -1;
        lo = isxdigit((unsigned char)hex[i + 1]) ? (isdigit((unsigned char)hex[i + 1]) ?
             hex[i + 1] - '0' : tolower((unsigned char)hex[i + 1]) - 'a' + 10) : -1;
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(len / 2);
}

/* A request's TPM2B field: hex of a 2-byte size and exactly that many
 * bytes. */
static long
tpm2b_decode(const char *hex, uint8_t *out, size_t max)
{
    long n = hex_decode(hex, out, max);

    if (n < 2 || (long)(out[0] << 8 | out[1]) != n - 2)
        return -1;
    return n;
}

/* HELLO 1 -> KEYS <ek TPM2B_PUBLIC> <ak TPM2B_PUBLIC> */
static int
attest_hello(struct tpm *t, char **arg, int nargs, struct line *out)
{
    static struct blob ek_pub, ak_pub;
    uint32_t ek = 0, ak = 0;
    int transient = 0, ret = -1;

    if (nargs != 1 || strcmp(arg[0], "1")) {
        set_err(t, "unsupported protocol version, this agent speaks 1");
        return -1;
    }
    if (ek_get(t, &ek, &transient, &ek_pub) < 0 || ak_create(t, &ak, &ak_pub) < 0)
        goto out;
    line_str(out, "KEYS ");
    line_hex(out, ek_pub.b, ek_pub.len);
    line_str(out, " ");
    line_hex(out, ak_pub.b, ak_pub.len);
    ret = 0;
 out:
    flush_context(t, ak);
    if (transient)
        flush_context(t, ek);
    return ret;
}

/* ACTIVATE <TPM2B_ID_OBJECT> <TPM2B_ENCRYPTED_SECRET>
 *   -> ACTIVATED <TPM2B_DIGEST certInfo> */
static int
attest_activate(struct tpm *t, char **arg, int nargs, struct line *out)
{
    static struct blob ek_pub, ak_pub, cert_info;
    static uint8_t id_object[ATTEST_BLOB_MAX], secret[ATTEST_BLOB_MAX];
    uint32_t ek = 0, ak = 0, session = 0;
    long id_len, secret_len;
    int transient = 0, ret = -1;
    struct cmd c;
    struct rd r;

    if (nargs != 2) {
        set_err(t, "ACTIVATE takes 2 fields, not %d", nargs);
        return -1;
    }
    id_len = tpm2b_decode(arg[0], id_object, sizeof(id_object));
    secret_len = tpm2b_decode(arg[1], secret, sizeof(secret));
    if (id_len < 0 || secret_len < 0) {
        set_err(t, "ACTIVATE fields are not hex TPM2Bs of their own size");
        return -1;
    }
    if (ek_get(t, &ek, &transient, &ek_pub) < 0 || ak_create(t, &ak, &ak_pub) < 0 ||
        ek_policy_session(t, &session) < 0)
        goto out;

    cmd_start(&c, TPM_ST_SESSIONS, TPM_CC_ActivateCredential);
    put32(&c, ak);                      /* activateHandle: ADMIN role, password */
    put32(&c, ek);                      /* keyHandle: USER role, policy A */
    put32(&c, (4 + 2 + 1 + 2) + (4 + 2 + 32 + 1 + 2));
    put32(&c, TPM_RS_PW);               /* the AK: empty password */
    put16(&c, 0);
    put8(&c, 0);
    put16(&c, 0);
    put32(&c, session);                 /* the EK: the policy session */
    put16(&c, 32);
    {
        uint8_t nonce[32] = { 0 };

        if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
            memset(nonce, 0xa5, sizeof(nonce));
        put_bytes(&c, nonce, sizeof(nonce));
    }
    put8(&c, 0);                        /* continueSession clear: it ends here */
    put16(&c, 0);                       /* no HMAC: no authValue in the policy */
    put_bytes(&c, id_object, (size_t)id_len);
    put_bytes(&c, secret, (size_t)secret_len);
    if (tpm_run(t, &c, "TPM2_ActivateCredential", &r) < 0)
        goto out;
    session = 0;                        /* ended with the command */
    if (get_tpm2b(&r, &cert_info) < 0) {
        set_err(t, "TPM2_ActivateCredential: malformed certInfo");
        goto out;
    }
    line_str(out, "ACTIVATED ");
    line_hex(out, cert_info.b, cert_info.len);
    ret = 0;
 out:
    flush_context(t, session);
    flush_context(t, ak);
    if (transient)
        flush_context(t, ek);
    return ret;
}

/* "sha256:0,1,2": one bank and its PCRs, in increasing order. */
static int
parse_pcr_selection(struct tpm *t, const char *arg, uint16_t *alg, uint8_t select[3],
                    unsigned int *count)
{
    static const struct { const char *name; uint16_t alg; } banks[] = {
        { "sha1", TPM_ALG_SHA1 }, { "sha256", TPM_ALG_SHA256 },
        { "sha384", TPM_ALG_SHA384 }, { "sha512", TPM_ALG_SHA512 },
    };
    const char *colon = strchr(arg, ':'), *p;
    char *end;
    unsigned long index;
    long last = -1;
    size_t i;

    *alg = 0;
    for (i = 0; colon && i < sizeof(banks) / sizeof(banks[0]); i++) {
        if (strlen(banks[i].name) == (size_t)(colon - arg) &&
            !strncmp(arg, banks[i].name, (size_t)(colon - arg)))
            *alg = banks[i].alg;
    }
    if (!*alg) {
        set_err(t, "PCR selection must be sha1, sha256, sha384 or sha512, a colon, PCRs");
        return -1;
    }
    memset(select, 0, 3);
    *count = 0;
    for (p = colon + 1;; p = end + 1) {
        errno = 0;
        index = strtoul(p, &end, 10);
        if (!isdigit((unsigned char)*p) || errno || index > PCR_MAX || (long)index <= last ||
            (*end && *end != ',')) {
            set_err(t, "PCRs must be increasing numbers from 0 to %d separated by commas",
                    PCR_MAX);
            return -1;
        }
        select[index / 8] |= (uint8_t)(1u << index % 8);
        last = (long)index;
        (*count)++;
        if (!*end)
            return 0;
    }
}

/* Read the selected PCRs of bank ALG into DIGESTS, in increasing order
 * (TPM2_PCR_Read reads at most 8 at a time): the digest size, or -1. */
static int
pcr_read_all(struct tpm *t, uint16_t alg, const uint8_t want[3], uint8_t *digests,
             unsigned int count)
{
    uint8_t left[3], got[3], all[PCR_MAX + 1][DIGEST_MAX];
    const uint8_t *sel, *data;
    unsigned int i, k, read_now;
    int size = -1;
    struct cmd c;
    struct rd r;
    uint32_t ndig;
    uint16_t dsize;
    uint8_t sel_size;

    memcpy(left, want, 3);
    while (left[0] | left[1] | left[2]) {
        cmd_start(&c, TPM_ST_NO_SESSIONS, TPM_CC_PCR_Read);
        put32(&c, 1);
        put16(&c, alg);
        put8(&c, 3);
        put_bytes(&c, left, 3);
        if (tpm_run(t, &c, "TPM2_PCR_Read", &r) < 0)
            return -1;
        get32(&r);                      /* pcrUpdateCounter */
        memset(got, 0, sizeof(got));
        if (get32(&r) == 1 && get16(&r) == alg) {
            sel_size = get8(&r);
            sel = get_bytes(&r, sel_size);
            for (i = 0; sel && i < 3 && i < sel_size; i++)
                got[i] = sel[i] & left[i];
        }
        ndig = get32(&r);
        read_now = 0;
        for (i = 0; i <= PCR_MAX; i++)
            read_now += !!(got[i / 8] & (1u << i % 8));
        if (!r.bad && read_now == 0) {
            set_err(t, "TPM2_PCR_Read read none of the PCRs: the bank is not allocated");
            return -1;
        }
        if (r.bad || ndig != read_now) {
            set_err(t, "TPM2_PCR_Read: malformed answer");
            return -1;
        }
        for (i = 0; i <= PCR_MAX; i++) {
            if (!(got[i / 8] & (1u << i % 8)))
                continue;
            dsize = get16(&r);
            data = get_bytes(&r, dsize);
            if (!data || dsize == 0 || dsize > DIGEST_MAX || (size >= 0 && dsize != size)) {
                set_err(t, "TPM2_PCR_Read: malformed digest");
                return -1;
            }
            size = dsize;
            memcpy(all[i], data, dsize);
            left[i / 8] &= (uint8_t)~(1u << i % 8);
        }
    }
    for (i = 0, k = 0; i <= PCR_MAX && k < count; i++) {
        if (want[i / 8] & (1u << i % 8))
            memcpy(digests + (size_t)k++ * (size_t)size, all[i], (size_t)size);
    }
    return size;
}

/* QUOTE <nonce> <bank>:<pcrs>
 *   -> QUOTED <TPM2B_ATTEST> <TPMT_SIGNATURE> <digest>,<digest>,...
 * The PCRs are read before and after the quote, and the quote is taken
 * again if they changed, so the values are the quoted ones. */
static int
attest_quote(struct tpm *t, char **arg, int nargs, struct line *out)
{
    static uint8_t before[(PCR_MAX + 1) * DIGEST_MAX], after[(PCR_MAX + 1) * DIGEST_MAX];
    static struct blob ak_pub, quoted, signature;
    uint8_t nonce[ATTEST_NONCE_MAX], select[3];
    unsigned int count, i, tries;
    uint32_t ak = 0;
    int size = -1, ret = -1;
    uint16_t alg;
    long nonce_len;
    size_t start;
    struct cmd c;
    struct rd r;

    if (nargs != 2) {
        set_err(t, "QUOTE takes 2 fields, not %d", nargs);
        return -1;
    }
    nonce_len = hex_decode(arg[0], nonce, sizeof(nonce));
    if (nonce_len < ATTEST_NONCE_MIN) {
        set_err(t, "the nonce must be %d to %d bytes of hex", ATTEST_NONCE_MIN,
                ATTEST_NONCE_MAX);
        return -1;
    }
    if (parse_pcr_selection(t, arg[1], &alg, select, &count) < 0)
        return -1;
    if (ak_create(t, &ak, &ak_pub) < 0)
        goto out;
    for (tries = 0; tries < 3; tries++) {
        size = pcr_read_all(t, alg, select, before, count);
        if (size < 0)
            goto out;
        cmd_start(&c, TPM_ST_SESSIONS, TPM_CC_Quote);
        put32(&c, ak);
        cmd_auth_pw(&c);
        put16(&c, (uint16_t)nonce_len);
        put_bytes(&c, nonce, (size_t)nonce_len);
        put16(&c, TPM_ALG_RSASSA);
        put16(&c, TPM_ALG_SHA256);
        put32(&c, 1);
        put16(&c, alg);
        put8(&c, 3);
        put_bytes(&c, select, 3);
        if (tpm_run(t, &c, "TPM2_Quote", &r) < 0)
            goto out;
        if (get_tpm2b(&r, &quoted) < 0) {
            set_err(t, "TPM2_Quote: malformed quoted");
            goto out;
        }
        /* TPMT_SIGNATURE, RSASSA: sigAlg, hash, TPM2B_PUBLIC_KEY_RSA */
        start = r.pos;
        get16(&r);
        get16(&r);
        get_bytes(&r, get16(&r));
        if (r.bad || r.pos - start > sizeof(signature.b)) {
            set_err(t, "TPM2_Quote: malformed signature");
            goto out;
        }
        memcpy(signature.b, r.p + start, r.pos - start);
        signature.len = r.pos - start;
        if (pcr_read_all(t, alg, select, after, count) != size)
            goto out;
        if (!memcmp(before, after, (size_t)count * (size_t)size))
            break;
    }
    if (tries == 3) {
        set_err(t, "the PCRs changed during each of 3 quotes");
        goto out;
    }
    line_str(out, "QUOTED ");
    line_hex(out, quoted.b, quoted.len);
    line_str(out, " ");
    line_hex(out, signature.b, signature.len);
    line_str(out, " ");
    for (i = 0; i < count; i++) {
        if (i)
            line_str(out, ",");
        line_hex(out, after + (size_t)i * (size_t)size, (size_t)size);
    }
    ret = 0;
 out:
    flush_context(t, ak);
    return ret;
}

/* EVENTLOG -> EVENTLOG <hex of the firmware's event log> | EVENTLOG none */
static int
attest_eventlog(struct tpm *t, char **arg, int nargs, struct line *out)
{
    uint8_t *log = NULL, *nb;
    size_t len = 0, cap = 0;
    ssize_t n;
    int fd;

    (void)arg;
    if (nargs != 0) {
        set_err(t, "EVENTLOG takes no fields");
        return -1;
    }
    fd = open(ATTEST_EVENTLOG, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        line_str(out, "EVENTLOG none");
        return 0;
    }
    if (fd < 0) {
        set_err(t, "cannot open %s: %s", ATTEST_EVENTLOG, strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            nb = cap <= ATTEST_EVENTLOG_MAX ? realloc(log, cap) : NULL;
            if (!nb) {
                set_err(t, "%s: larger than %u bytes or out of memory", ATTEST_EVENTLOG,
                        ATTEST_EVENTLOG_MAX);
                goto fail;
            }
            log = nb;
        }
        do {
            n = read(fd, log + len, cap - len);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            set_err(t, "reading %s: %s", ATTEST_EVENTLOG, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (len == 0) {
        line_str(out, "EVENTLOG none");
    } else {
        line_str(out, "EVENTLOG ");
        line_hex(out, log, len);
    }
    free(log);
    return 0;
 fail:
    close(fd);
    free(log);
    return -1;
}

/* Answer one request line REQ (no line feed) into OUT. */
static void
attest_request(struct tpm *t, char *req, struct line *out)
{
    static const struct {
        const char *name;
        int (*fn)(struct tpm *, char **, int, struct line *);
    } requests[] = {
        { "HELLO", attest_hello }, { "ACTIVATE", attest_activate },
        { "QUOTE", attest_quote }, { "EVENTLOG", attest_eventlog },
    };
    char *field[4], *p;
    int n = 0, ret = -1;
    size_t i;

    t->err[0] = '\0';
    out->len = 0;
    out->ok = 1;
    for (p = req; *p; p++) {            /* the protocol is printable ASCII */
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
    }
    for (p = req; n < 4; n++) {
        field[n] = p;
        p = strchr(p, ' ');
        if (!p) {
            n++;
            break;
        }
        *p++ = '\0';
    }
    for (i = 0; p == NULL && i < sizeof(requests) / sizeof(requests[0]); i++) {
        if (!strcmp(field[0], requests[i].name)) {
            ret = requests[i].fn(t, field + 1, n - 1, out);
            break;
        }
    }
    if (p)
        set_err(t, "too many fields");
    else if (i == sizeof(requests) / sizeof(requests[0]))
        set_err(t, "unknown request");
    tpm_close(t);                       /* /dev/tpmrm0 forgets what is left */
    fprintf(stderr, "tvdc-attest: %.16s: %s\n", field[0], ret == 0 ? "answered" : t->err);
    if (ret == 0 && !out->ok) {
        set_err(t, "out of memory");
        ret = -1;
    }
    if (ret < 0) {
        out->len = 0;
        out->ok = 1;
        line_str(out, "ERROR ");
        for (p = t->err; *p; p++) {     /* words: printable, no line feed */
            if (*p < 0x20 || *p > 0x7e)
                *p = ' ';
        }
        line_str(out, t->err[0] ? t->err : "failed");
    }
    line_str(out, "\n");
}

/* Write the whole of BUF to the port, or drop it when the verifier has
 * gone (a later verifier must not read an answer to another's request). */
static int
port_write(int fd, int port, const char *buf, size_t len)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    ssize_t n;

    while (len) {
        if (port) {
            if (poll(&pfd, 1, -1) < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            if (pfd.revents & (POLLHUP | POLLERR) && !(pfd.revents & POLLOUT))
                return -1;
        }
        n = write(fd, buf, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The port whose virtio-serial name is ATTEST_PORT_NAME, in PATH. */
static int
find_port(char *path, size_t size)
{
    char name[64], file[128];
    unsigned int dev, port;
    FILE *f;
    int found = 0;

    for (dev = 0; dev < 8 && !found; dev++) {
        for (port = 0; port < 32 && !found; port++) {
            snprintf(file, sizeof(file), "/sys/class/virtio-ports/vport%up%u/name", dev, port);
            f = fopen(file, "re");
            if (!f)
                continue;
            if (fgets(name, sizeof(name), f)) {
                name[strcspn(name, "\n")] = '\0';
                found = !strcmp(name, ATTEST_PORT_NAME);
            }
            if (found)
                snprintf(path, size, "/dev/vport%up%u", dev, port);
            fclose(f);
        }
    }
    return found ? 0 : -1;
}

/*
 * attest[:PATH]: answer requests on PATH (default: the virtio-serial port
 * named org.tvdc.attest.0; "-": stdin and stdout, until end of file)
 * forever.  While no verifier is connected the port reads end of file: a
 * partial request is dropped and the port polled again every 100 ms.
 */
static int
action_attest(struct tpm *t, const char *arg)
{
    static const char *const rm_first[] = { "/dev/tpmrm0", "/dev/tpm0", NULL };
    static char buf[ATTEST_LINE_MAX + 1];       /* the longest request and its LF */
    char path[64];
    struct line out = { .ok = 1 };
    size_t len = 0;
    int in, outfd, port, discard = 0, i;
    ssize_t n;
    char *nl;

    /* The resource manager, when there is one: it flushes what an answer
     * leaves, and other TPM users (tvdc.tpmwatch) can work beside it. */
    t->defaults = rm_first;
    if (arg && !strcmp(arg, "-")) {
        in = 0;
        outfd = 1;
        port = 0;
    } else {
        if (!arg || !*arg) {
            for (i = 0; i < 50 && find_port(path, sizeof(path)) < 0; i++)
                usleep(100000);
            if (i == 50) {
                printf("TPM-ATTEST fail: no virtio-serial port named %s\n", ATTEST_PORT_NAME);
                fflush(stdout);
                return -1;
            }
            arg = path;
        }
        in = open(arg, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (in < 0) {
            printf("TPM-ATTEST fail: cannot open %s: %s\n", arg, strerror(errno));
            fflush(stdout);
            return -1;
        }
        outfd = in;
        port = 1;
    }
    fprintf(stderr, "tvdc-attest: answering on %s\n", port ? arg : "stdin");
    for (;;) {
        nl = len ? memchr(buf, '\n', len) : NULL;
        if (nl) {
            *nl = '\0';
            if (nl > buf && nl[-1] == '\r')
                nl[-1] = '\0';
            if (discard) {
                out.len = 0;
                out.ok = 1;
                line_str(&out, "ERROR request longer than 8192 bytes\n");
            } else {
                attest_request(t, buf, &out);
            }
            discard = 0;
            if (out.ok && port_write(outfd, port, out.b, out.len) < 0)
                fprintf(stderr, "tvdc-attest: answer dropped: the verifier has gone\n");
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len);
            continue;
        }
        if (len == ATTEST_LINE_MAX + 1) {       /* keep reading up to its end */
            discard = 1;
            len = 0;
        }
        if (port) {
            struct pollfd pfd = { .fd = in, .events = POLLIN };

            if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
                free(out.b);
                return -1;
            }
        }
        n = read(in, buf + len, ATTEST_LINE_MAX + 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0 && !port) {
            free(out.b);
            return n < 0 ? -1 : 0;      /* end of stdin */
        }
        if (n <= 0) {                   /* no verifier: forget its request */
            len = 0;
            discard = 0;
            usleep(100000);
            continue;
        }
        len += (size_t)n;
    }
}

static void
usage(FILE *f)
{
    fprintf(f, "Usage: tvdc-tpm-probe [--dev PATH] ek|nv-read|nv-write:HEX|pcr:N...\n"
               "       tvdc-tpm-probe [--dev PATH] attest[:PORT|:-]\n");
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
        } else if (!strcmp(argv[i], "attest") || !strncmp(argv[i], "attest:", 7)) {
            ret = action_attest(&t, argv[i][6] ? argv[i] + 7 : NULL);
        } else {
            printf("TPM fail: unknown action '%s'\n", argv[i]);
            fflush(stdout);
            ret = -1;
        }
        if (ret < 0)
            failed = 1;
    }
    tpm_close(&t);
    return failed;
}
