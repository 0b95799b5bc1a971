/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tvdc attest: remote attestation of a running VM on this host, through
 * its guest agent on the virtio-serial port org.tvdc.attest.0
 * (swtpm-mgr/README.md, "Attestation protocol"), with the verifier's
 * cryptography of libtvdc-vtpm (attest/README.md). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <openssl/rand.h>

#include "attest-ref.h"
#include "attest-xml.h"
#include "remediate.h"
#include "tvdc-basic.h"
#include "tvdc-cli.h"
#include "tvdc-paths.h"
#include "tvdc-vtpm.h"

/* The privileged QEMU driver's vTPM state: SWTPM_DIR/UUID/tpm2. */
#define LIBVIRT_SWTPM_DIR "/var/lib/libvirt/swtpm"
#define LIBVIRT_DEFAULT_URI "qemu:///system"
#define ATTEST_PCRS 10                          /* sha256:0,...,9 */
#define ATTEST_PCR_MASK ((1u << ATTEST_PCRS) - 1)
#define ATTEST_LINE_MAX (8u << 20)              /* EVENTLOG: 4 MiB in hex */
#define ATTEST_NONCE 32
#define ATTEST_CREDENTIAL 32

static const char attest_usage[] =
"Usage: tvdc attest VM... [--connect URI] [--timeout SEC] [--policy FILE] [--ca DIR]\n"
"                   [--config FILE] [--refs FILE] [--shutdown-timeout SEC] [--json]\n"
"       tvdc attest --all [--every SEC] [--connect URI] [--timeout SEC] [--policy FILE]\n"
"                   [--ca DIR] [--config FILE] [--refs FILE] [--shutdown-timeout SEC]\n"
"                   [--json]\n"
"       tvdc attest ref learn VM [--per label|vm] [--connect URI] [--timeout SEC] ...\n"
"       tvdc attest ref list [--refs FILE] [--json]\n"
"       tvdc attest ref rm LABEL|VM [--refs FILE]\n"
"       tvdc attest clear VM|UUID [--connect URI]\n"
"\n"
"Challenge a running VM's vTPM through its guest agent (the virtio-serial\n"
"port " ATTEST_PORT "): the EK certificate from its vTPM state on this\n"
"host against the datacenter vTPM CA, the VM's UUID and live label; the EK\n"
"and an AK from the agent, the AK activated with a credential for the EK,\n"
"a quote of sha256:0-9 over a fresh nonce, PCR0 against the measured\n"
"identity of the VM's label under the policy (tvdc vtpm expect), PCRs 1-9\n"
"against the reference values of the VM, else of its label (--refs, default\n"
TVDC_DEFAULT_ATTEST_REF "), the guest's event log replayed against PCRs 0-9\n"
"(not checked when it has none).  Each attestation is appended to the audit\n"
"log.  --all: every running VM with the port.  --every SEC (with --all):\n"
"again every SEC seconds, one line per VM per round, until SIGTERM or\n"
"SIGINT (then exit 0).  --timeout: seconds the agent has to answer\n"
"(default 10).\n"
"\n"
"When a VM is not trusted (a check failed, or the agent did not answer in\n"
"time, or a VM whose label has an action has no port), the action of its\n"
"label (\"attest_fail\" in the policy) runs and is audited: report (nothing\n"
"more), pause, shutdown (the guest has --shutdown-timeout seconds, default\n"
"30, 0 none, then it is powered off), or quarantine: recorded in\n"
TVDC_QUARANTINE_DIR "/UUID.json, then every interface's link taken\n"
"down (checked in the live XML; when one cannot be, the VM is paused\n"
"too); the tvdc driver refuses to start, resume or migrate the VM, or to\n"
"change its devices other than taking a link down, until clear.\n"
"\n"
"clear: lift a VM's quarantine (root): its record goes, then the links\n"
"that were up before are brought up again.  Audited.\n"
"\n"
"ref learn: attest VM (without reference values) and, when trusted, record\n"
"its PCRs 1-9 as the reference of its label (--per label, the default) or\n"
"of the VM (--per vm).  ref list: the references.  ref rm: remove those of\n"
"a label, or of a VM (name or UUID).\n"
"\n"
"Exit status: 0 trusted; 1 untrusted or unreachable; 2 error.  See tvdc(1).\n";

enum {
    CHECK_EK_CERT,
    CHECK_EK_KEY,
    CHECK_AK_KEY,
    CHECK_AK_ACTIVATE,
    CHECK_QUOTE,
    CHECK_PCR0,
    CHECK_PCRS,         /* only with a reference (attestation.have_ref) */
    CHECK_EVENTLOG,     /* not checked (CHECK_NOT_CHECKED) without a log */
    CHECK_N,
};

/* name, and the audit rule of a failure */
static const struct {
    const char *name, *rule;
} check_info[CHECK_N] = {
    [CHECK_EK_CERT]     = { "ek-certificate", "attest-ek" },
    [CHECK_EK_KEY]      = { "ek-key", "attest-ek" },
    [CHECK_AK_KEY]      = { "ak-key", "attest-ak" },
    [CHECK_AK_ACTIVATE] = { "ak-activation", "attest-ak" },
    [CHECK_QUOTE]       = { "quote", "attest-quote" },
    [CHECK_PCR0]        = { "pcr0", "attest-pcr0" },
    [CHECK_PCRS]        = { "pcrs", "attest-pcrs" },
    [CHECK_EVENTLOG]    = { "eventlog", "attest-eventlog" },
};

#define CHECK_NOT_CHECKED 2     /* a check state that neither passes nor fails */

typedef struct check {
    int state;               /* 1 ok, 0 failed, -1 not run, CHECK_NOT_CHECKED */
    char reason[512];
} check;

typedef struct attest_opts {
    const char *uri, *policy_path, *ca_dir;
    unsigned timeout_ms;
    unsigned shutdown_ms;     /* a shutdown's grace before power off */
    const tvdc_policy *policy;
    const attest_refs *refs;  /* NULL: PCRs 1-9 not checked (ref learn) */
} attest_opts;

/* One attestation. */
typedef struct attestation {
    char uuid[TVDC_UUID_STRING_LEN + 1];
    char *name, *label;       /* label "" unlabeled (libvirt's live view) */
    char *channel;            /* the unix socket of the port */
    const char *verdict;      /* trusted, untrusted, unreachable */
    char unreachable[512];    /* why, when unreachable */
    check checks[CHECK_N];
    bool have_pcrs;
    uint8_t pcrs[ATTEST_PCRS][32];
    uint8_t pcr0_expected[32];
    bool have_expected;
    bool have_ref;            /* PCRs 1-9 checked against ref */
    attest_ref ref;
    unsigned pcr_bad;         /* bit i: PCR i differs from ref */
    uint8_t pcr0_hcrtm[32];   /* PCR0 after the H-CRTM (have_expected) */
    bool have_log;            /* the agent's EVENTLOG: a log, or */
    bool no_log;              /* EVENTLOG none */
    uint8_t *log;             /* the log's bytes */
    size_t log_len;
    bool log_replayed;        /* the SHA-256 bank of the log was replayed: */
    size_t log_events;        /* how many events */
    uint32_t log_extended;    /* the PCRs the log extends */
    unsigned log_bad;         /* bit i: the replay of PCR i is not the quote's */
    const char *log_pcr0;     /* PCR0 replayed from: "hcrtm", "zeros", NULL not compared */
    bool no_port;             /* running, without the attestation port */
    bool remedied;            /* the action plan ran: remedy */
    attest_remedy remedy;
    bool quarantined;         /* a quarantine record of it is there (after the action) */
} attestation;

/* Is check i part of this attestation?  pcrs only with a reference. */
static bool
check_used(const attestation *a, int i)
{
    return i != CHECK_PCRS || a->have_ref;
}

static void
attestation_clear(attestation *a)
{
    free(a->name);
    free(a->label);
    free(a->channel);
    free(a->log);
    memset(a, 0, sizeof(*a));
}

static void __attribute__((format(printf, 3, 4)))
set_check(attestation *a, int i, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(a->checks[i].reason, sizeof(a->checks[i].reason), fmt, ap);
    va_end(ap);
}

#define CHECK_OK(a, i, ...) \
    do { (a)->checks[i].state = 1; set_check(a, i, __VA_ARGS__); } while (0)
#define CHECK_FAIL(a, i, ...) \
    do { (a)->checks[i].state = 0; set_check(a, i, __VA_ARGS__); } while (0)

/* Does check i fail the verdict? */
static bool
check_failed(const attestation *a, int i)
{
    return check_used(a, i) && a->checks[i].state != 1 &&
           a->checks[i].state != CHECK_NOT_CHECKED;
}


/* hex (the whole of s up to len) to a malloc'ed buffer; NULL if not hex */
static uint8_t *
unhex(const char *s, size_t len, size_t *ret_len)
{
    uint8_t *b;

    if (len == 0 || len % 2)
        return NULL;
    if (!(b = malloc(len / 2)))
        return NULL;
    for (size_t i = 0; i < len; i += 2) {
        int hi = tv_unhexchar(s[i]), lo = tv_unhexchar(s[i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return NULL;
        }
        b[i / 2] = (uint8_t) (hi << 4 | lo);
    }
    *ret_len = len / 2;
    return b;
}

/* ------------------------------------------------------------------------ */
/* libvirt: the VM, its live label and its attestation channel              */

static void
silent(void *opaque, virErrorPtr e)
{
    (void) opaque;
    (void) e;
}

static const char *
virt_error(void)
{
    virErrorPtr e = virGetLastError();

    return e && e->message ? e->message : "unknown error";
}

/* Fill a's identity from dom.  0; -ENOENT (a message) when the VM does not
 * run or has no attestation port. */
static int
vm_describe(virDomainPtr dom, attestation *a, bool quiet)
{
    char *xml;
    int r;

    if (virDomainGetUUIDString(dom, a->uuid) < 0)
        return -EIO;
    for (char *p = a->uuid; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    a->name = strdup(virDomainGetName(dom));
    if (virDomainIsActive(dom) != 1) {
        if (!quiet)
            tool_err("attest: VM %s is not running", a->name);
        return -ENOENT;
    }
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        tool_err("attest: VM %s: %s", a->name, virt_error());
        return -EIO;
    }
    /* XML that cannot be followed is an error, never "unlabeled" or "no
     * port": either would pick another action plan */
    r = attest_xml_label(xml, &a->label);
    if (r == 0)
        r = attest_xml_channel(xml, &a->channel);
    free(xml);
    if (r < 0 || !a->name) {
        tool_err("attest: VM %s: its live XML: %s", a->name ? a->name : a->uuid,
                 strerror(r < 0 ? -r : ENOMEM));
        return r < 0 ? r : -ENOMEM;
    }
    if (!a->channel) {
        a->no_port = true;
        if (!quiet)
            tool_err("attest: VM %s has no <channel type='unix'> with <target type='virtio' "
                     "name='" ATTEST_PORT "'/>", a->name);
        return -ENOENT;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The agent: one line out, one line back, before a deadline                */

typedef struct agent {
    int fd;
    struct timespec deadline;
    char *buf;                /* what was read after the last line */
    size_t len, cap;
    char why[256];            /* unreachable: why */
} agent;

static int
ms_left(const struct timespec *deadline)
{
    struct timespec now;
    long long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : ms > 1000000 ? 1000000 : (int) ms;
}

static int
agent_open(agent *ag, const char *path, unsigned timeout_ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    clock_gettime(CLOCK_MONOTONIC, &ag->deadline);
    ag->deadline.tv_sec += timeout_ms / 1000;
    ag->deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (ag->deadline.tv_nsec >= 1000000000L) {
        ag->deadline.tv_sec++;
        ag->deadline.tv_nsec -= 1000000000L;
    }
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(ag->why, sizeof(ag->why), "channel %s: path too long", path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    ag->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ag->fd < 0 || connect(ag->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        int r = -errno;
        snprintf(ag->why, sizeof(ag->why), "cannot connect to channel %s: %s", path,
                 strerror(-r));
        return r;
    }
    return 0;
}

static void
agent_close(agent *ag)
{
    if (ag->fd >= 0)
        close(ag->fd);
    ag->fd = -1;
    free(ag->buf);
    ag->buf = NULL;
    ag->len = ag->cap = 0;
}

/* Send line (without its line feed) and read the answer line into *ret
 * (malloc'ed, without the line feed).  0, or -ETIMEDOUT/-EPIPE/-EIO with
 * ag->why set (the agent is unreachable). */
static int
agent_call(agent *ag, const char *line, char **ret)
{
    size_t n = strlen(line), off = 0;
    char *req = malloc(n + 2);

    if (!req)
        return -ENOMEM;
    memcpy(req, line, n);
    req[n++] = '\n';
    req[n] = '\0';
    while (off < n) {
        struct pollfd p = { .fd = ag->fd, .events = POLLOUT };
        ssize_t w;

        if (poll(&p, 1, ms_left(&ag->deadline)) == 0) {
            free(req);
            snprintf(ag->why, sizeof(ag->why), "the agent took no request for the timeout");
            return -ETIMEDOUT;
        }
        w = send(ag->fd, req + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(ag->why, sizeof(ag->why), "channel: %s", strerror(errno));
            free(req);
            return -EPIPE;
        }
        if (w > 0)
            off += (size_t) w;
    }
    free(req);

    for (;;) {
        char *nl = ag->buf ? memchr(ag->buf, '\n', ag->len) : NULL;
        struct pollfd p = { .fd = ag->fd, .events = POLLIN };
        ssize_t r;

        if (nl) {
            size_t k = (size_t) (nl - ag->buf);
            char *out = strndup(ag->buf, k);
            if (!out)
                return -ENOMEM;
            if (k && out[k - 1] == '\r')
                out[k - 1] = '\0';
            memmove(ag->buf, nl + 1, ag->len - k - 1);
            ag->len -= k + 1;
            *ret = out;
            return 0;
        }
        if (ag->len >= ATTEST_LINE_MAX) {
            snprintf(ag->why, sizeof(ag->why), "the agent's answer is longer than %u bytes",
                     ATTEST_LINE_MAX);
            return -EIO;
        }
        if (ag->cap - ag->len < 65536) {
            char *b = realloc(ag->buf, ag->cap + 65536);
            if (!b)
                return -ENOMEM;
            ag->buf = b;
            ag->cap += 65536;
        }
        if (poll(&p, 1, ms_left(&ag->deadline)) == 0) {
            snprintf(ag->why, sizeof(ag->why), "no answer from the agent within the timeout");
            return -ETIMEDOUT;
        }
        r = recv(ag->fd, ag->buf + ag->len, ag->cap - ag->len, 0);
        if (r == 0) {
            snprintf(ag->why, sizeof(ag->why), "the channel was closed");
            return -EPIPE;
        }
        if (r < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(ag->why, sizeof(ag->why), "channel: %s", strerror(errno));
            return -EIO;
        }
        if (r > 0)
            ag->len += (size_t) r;
    }
}

/* Split an answer into at most max fields (in place); the count. */
static size_t
fields(char *s, char **f, size_t max)
{
    size_t n = 0;
    char *save = NULL;

    for (char *t = strtok_r(s, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n == max)
            return max + 1;
        f[n++] = t;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* One attestation                                                          */

/* Check 1: the EK certificate of the VM's vTPM state on this host.  *cert
 * is kept for check 2. */
static void
check_ek_cert(const attest_opts *o, attestation *a, uint8_t **cert, size_t *cert_len)
{
    char *state = NULL;
    tvdc_vtpm_identity *id = NULL;
    tvdc_error e = { 0 };
    int r;

    if (asprintf(&state, "%s/%s/tpm2", LIBVIRT_SWTPM_DIR, a->uuid) < 0) {
        CHECK_FAIL(a, CHECK_EK_CERT, "out of memory");
        return;
    }
    r = tvdc_vtpm_state_ek_cert(state, cert, cert_len, NULL, &e);
    if (r < 0) {
        CHECK_FAIL(a, CHECK_EK_CERT, "no EK certificate in the vTPM state %s: %s", state,
                   e.message[0] ? e.message : strerror(-r));
        goto out;
    }
    if (tvdc_vtpm_verify(o->ca_dir, *cert, *cert_len, &e) < 0) {
        CHECK_FAIL(a, CHECK_EK_CERT, "the EK certificate does not verify against the vTPM CA "
                   "%s: %s", o->ca_dir, e.message);
        goto out;
    }
    r = tvdc_vtpm_cert_identity(*cert, *cert_len, &id);
    if (r < 0) {
        CHECK_FAIL(a, CHECK_EK_CERT, "the EK certificate has %s tvdc extension",
                   r == -ENOENT ? "no" : "a malformed");
        goto out;
    }
    if (strcmp(id->uuid, a->uuid) != 0) {
        CHECK_FAIL(a, CHECK_EK_CERT, "the EK certificate is of VM %s (%s), not of this VM",
                   id->uuid, id->name);
        goto out;
    }
    if (strcmp(id->label, a->label) != 0) {
        CHECK_FAIL(a, CHECK_EK_CERT, "the EK certificate names label %s, the VM runs with "
                   "label %s", *id->label ? id->label : "(none)",
                   *a->label ? a->label : "(none)");
        goto out;
    }
    CHECK_OK(a, CHECK_EK_CERT, "verifies against the vTPM CA, names VM %s and label %s "
             "(policy %s v%" PRIu32 ")", id->uuid, *id->label ? id->label : "(none)",
             id->policy_name, id->policy_version);
 out:
    tvdc_vtpm_identity_free(id);
    free(state);
}

/* The expected PCR0 (check 5): *why is a reason when it cannot be had. */
static int
expected_pcr0(const attest_opts *o, attestation *a, char *why, size_t len)
{
    char *blob = NULL;
    size_t blob_len = 0, n = sizeof(a->pcr0_expected);
    int r = tvdc_vtpm_measure_blob(o->policy, a->uuid, a->name, a->label, &blob, &blob_len);

    if (r < 0) {
        snprintf(why, len, "no measured identity for label %s under policy %s v%u: %s",
                 *a->label ? a->label : "(none)", tvdc_policy_name(o->policy),
                 tvdc_policy_version(o->policy),
                 r == -ENOENT ? "the label is not in the policy" : strerror(-r));
        return r;
    }
    r = tvdc_vtpm_expect_pcr0("sha256", blob, blob_len, TVDC_PCR0_BOOT_SEABIOS,
                              a->pcr0_expected, &n);
    if (r == 0) {
        n = sizeof(a->pcr0_hcrtm);
        r = tvdc_vtpm_expect_pcr0("sha256", blob, blob_len, 0, a->pcr0_hcrtm, &n);
    }
    free(blob);
    if (r < 0) {
        snprintf(why, len, "PCR0: %s", strerror(-r));
        return r;
    }
    a->have_expected = true;
    return 0;
}

/* The protocol and checks 2 to 5.  -ETIMEDOUT etc. (a->unreachable set)
 * when the agent cannot be reached; 0 when it answered (the checks say
 * what it proved). */
static int
run_agent(const attest_opts *o, attestation *a, const uint8_t *cert, size_t cert_len)
{
    agent ag = { .fd = -1 };
    tvdc_vtpm_public ek, ak;
    tvdc_vtpm_quote quote;
    tvdc_error e = { 0 };
    uint8_t cred[ATTEST_CREDENTIAL], nonce[ATTEST_NONCE];
    uint8_t *id_obj = NULL, *secret = NULL, *b1 = NULL, *b2 = NULL, *pcrs = NULL;
    size_t id_len = 0, secret_len = 0, l1 = 0, l2 = 0;
    char *ans = NULL, *req = NULL, *f[4] = { 0 }, shown[201];
    bool ek_ok = false, ak_ok = false;
    int r;

    if ((r = agent_open(&ag, a->channel, o->timeout_ms)) < 0)
        goto unreachable;

    /* HELLO: the EK and the AK */
    if ((r = agent_call(&ag, "HELLO 1", &ans)) < 0)
        goto unreachable;
    snprintf(shown, sizeof(shown), "%s", ans);
    if (fields(ans, f, 3) != 3 || strcmp(f[0], "KEYS") != 0) {
        CHECK_FAIL(a, CHECK_EK_KEY, "the agent answered HELLO with '%s'", shown);
        CHECK_FAIL(a, CHECK_AK_KEY, "no keys from the agent");
        goto done;
    }
    if (!(b1 = unhex(f[1], strlen(f[1]), &l1)) ||
        tvdc_vtpm_public_parse(b1, l1, &ek, &e) < 0)
        CHECK_FAIL(a, CHECK_EK_KEY, "the agent's EK: %s", b1 ? e.message : "not hex");
    else if (tvdc_vtpm_ek_check(&ek, cert, cert_len, &e) < 0)
        CHECK_FAIL(a, CHECK_EK_KEY, "the agent's EK: %s", e.message);
    else if (!cert)
        CHECK_FAIL(a, CHECK_EK_KEY, "the agent's EK has the EK template, but there is no "
                   "certificate to compare it with");
    else {
        CHECK_OK(a, CHECK_EK_KEY, "the agent's EK is the certificate's key, TCG EK template");
        ek_ok = true;
    }
    memset(&e, 0, sizeof(e));
    if (!(b2 = unhex(f[2], strlen(f[2]), &l2)) ||
        tvdc_vtpm_public_parse(b2, l2, &ak, &e) < 0)
        CHECK_FAIL(a, CHECK_AK_KEY, "the agent's AK: %s", b2 ? e.message : "not hex");
    else if (tvdc_vtpm_ak_check(&ak, &e) < 0)
        CHECK_FAIL(a, CHECK_AK_KEY, "the agent's AK: %s", e.message);
    else {
        char name[2 * TVDC_TPM_NAME_MAX + 1];
        tv_hex(ak.name, ak.name_len, name);
        CHECK_OK(a, CHECK_AK_KEY, "restricted RSA signing key, name %s", name);
        ak_ok = true;
    }
    free(ans);
    ans = NULL;

    /* ACTIVATE: a random credential only the EK's TPM opens for that AK */
    if (!ek_ok || !ak_ok) {
        CHECK_FAIL(a, CHECK_AK_ACTIVATE, "not run: no %s to activate a credential with",
                   ek_ok ? "valid AK" : "valid EK");
    } else if (RAND_bytes(cred, sizeof(cred)) != 1 ||
               tvdc_vtpm_make_credential(&ek, ak.name, ak.name_len, cred, sizeof(cred),
                                         &id_obj, &id_len, &secret, &secret_len, &e) < 0) {
        CHECK_FAIL(a, CHECK_AK_ACTIVATE, "cannot make a credential: %s",
                   e.message[0] ? e.message : "no random bytes");
    } else {
        char *h1 = malloc(2 * id_len + 1), *h2 = malloc(2 * secret_len + 1);

        if (!h1 || !h2 || asprintf(&req, "ACTIVATE %s %s", (tv_hex(id_obj, id_len, h1), h1),
                                   (tv_hex(secret, secret_len, h2), h2)) < 0) {
            free(h1);
            free(h2);
            r = -ENOMEM;
            goto done;
        }
        free(h1);
        free(h2);
        if ((r = agent_call(&ag, req, &ans)) < 0)
            goto unreachable;
        free(b1);
        b1 = NULL;
        memset(&e, 0, sizeof(e));
        snprintf(shown, sizeof(shown), "%s", ans);
        if (fields(ans, f, 2) != 2 || strcmp(f[0], "ACTIVATED") != 0)
            CHECK_FAIL(a, CHECK_AK_ACTIVATE, "the credential was not activated: the agent "
                       "answered '%s'", shown);
        else if (!(b1 = unhex(f[1], strlen(f[1]), &l1)) ||
                 tvdc_vtpm_activated_check(b1, l1, cred, sizeof(cred), &e) < 0)
            CHECK_FAIL(a, CHECK_AK_ACTIVATE, "the agent's answer to the credential: %s",
                       b1 ? e.message : "not hex");
        else
            CHECK_OK(a, CHECK_AK_ACTIVATE, "the AK is in the EK's TPM: the credential came "
                     "back");
        free(ans);
        ans = NULL;
    }

    /* QUOTE: sha256:0-9 over a fresh nonce, signed by the AK */
    if (!ak_ok) {
        CHECK_FAIL(a, CHECK_QUOTE, "not run: no valid AK");
        goto done;
    }
    {
        char nh[2 * ATTEST_NONCE + 1], *p, *save = NULL;
        size_t i = 0;

        if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
            CHECK_FAIL(a, CHECK_QUOTE, "no random bytes for the nonce");
            goto done;
        }
        tv_hex(nonce, sizeof(nonce), nh);
        free(req);
        req = NULL;
        if (asprintf(&req, "QUOTE %s sha256:0,1,2,3,4,5,6,7,8,9", nh) < 0) {
            r = -ENOMEM;
            goto done;
        }
        if ((r = agent_call(&ag, req, &ans)) < 0)
            goto unreachable;
        snprintf(shown, sizeof(shown), "%s", ans);
        if (fields(ans, f, 4) != 4 || strcmp(f[0], "QUOTED") != 0) {
            CHECK_FAIL(a, CHECK_QUOTE, "no quote: the agent answered '%s'", shown);
            goto done;
        }
        pcrs = calloc(ATTEST_PCRS, 32);
        for (p = strtok_r(f[3], ",", &save); p && pcrs; p = strtok_r(NULL, ",", &save), i++) {
            uint8_t *d = NULL;
            size_t dl;
            if (i == ATTEST_PCRS || !(d = unhex(p, strlen(p), &dl)) || dl != 32) {
                if (i < ATTEST_PCRS)
                    free(d);
                i = ATTEST_PCRS + 1;
                break;
            }
            memcpy(pcrs + 32 * i, d, 32);
            free(d);
        }
        if (!pcrs || i != ATTEST_PCRS) {
            CHECK_FAIL(a, CHECK_QUOTE, "the agent's PCR values are not %d SHA-256 digests",
                       ATTEST_PCRS);
            goto done;
        }
        free(b1);
        free(b2);
        b1 = b2 = NULL;
        memset(&e, 0, sizeof(e));
        if (!(b1 = unhex(f[1], strlen(f[1]), &l1)) || !(b2 = unhex(f[2], strlen(f[2]), &l2))) {
            CHECK_FAIL(a, CHECK_QUOTE, "the quote or its signature is not hex");
            goto done;
        }
        r = tvdc_vtpm_quote_verify(&ak, b1, l1, b2, l2, nonce, sizeof(nonce), ATTEST_PCR_MASK,
                                   pcrs, 32 * ATTEST_PCRS, &quote, &e);
        if (r < 0) {
            CHECK_FAIL(a, CHECK_QUOTE, "%s", e.message[0] ? e.message : strerror(-r));
            r = 0;
            goto done;
        }
    }
    CHECK_OK(a, CHECK_QUOTE, "signed by the AK over our nonce, sha256:0-9, PCR digest "
             "matches (reset count %" PRIu32 ", clock %" PRIu64 " ms)", quote.reset_count,
             quote.clock);
    memcpy(a->pcrs, quote.pcrs, sizeof(a->pcrs));
    a->have_pcrs = true;

    /* EVENTLOG: the firmware's log, replayed against the quote later */
    free(ans);
    ans = NULL;
    if ((r = agent_call(&ag, "EVENTLOG", &ans)) < 0) {
        CHECK_FAIL(a, CHECK_EVENTLOG, "no answer to EVENTLOG: %s", ag.why);
        goto done;
    }
    snprintf(shown, sizeof(shown), "%s", ans);
    if (strcmp(ans, "EVENTLOG none") == 0)
        a->no_log = true;
    else if (strncmp(ans, "EVENTLOG ", 9) != 0)
        CHECK_FAIL(a, CHECK_EVENTLOG, "no event log: the agent answered '%s'", shown);
    else if (!(a->log = unhex(ans + 9, strlen(ans + 9), &a->log_len)))
        CHECK_FAIL(a, CHECK_EVENTLOG, "the agent's event log is not hex");
    else
        a->have_log = true;

 done:
    if (r != -ENOMEM)
        r = 0;          /* it answered: the checks say what it proved */
    goto out;
 unreachable:
    snprintf(a->unreachable, sizeof(a->unreachable), "%s", ag.why);
 out:
    agent_close(&ag);
    free(ans);
    free(req);
    free(b1);
    free(b2);
    free(pcrs);
    free(id_obj);
    free(secret);
    return r;
}

static void
check_pcr0(const attest_opts *o, attestation *a)
{
    char why[512], h[65];
    uint8_t unmeasured[32];
    size_t n = sizeof(unmeasured);

    if (!a->have_pcrs) {
        CHECK_FAIL(a, CHECK_PCR0, "not run: no verified quote");
        return;
    }
    if (expected_pcr0(o, a, why, sizeof(why)) < 0) {
        CHECK_FAIL(a, CHECK_PCR0, "%s", why);
        return;
    }
    if (memcmp(a->pcrs[0], a->pcr0_expected, 32) == 0) {
        CHECK_OK(a, CHECK_PCR0, "the measured identity of VM %s, label %s under policy %s v%u",
                 a->name, *a->label ? a->label : "(none)", tvdc_policy_name(o->policy),
                 tvdc_policy_version(o->policy));
        return;
    }
    tv_hex(a->pcrs[0], 32, h);
    if (tvdc_vtpm_expect_pcr0("sha256", NULL, 0, TVDC_PCR0_BOOT_SEABIOS, unmeasured, &n) == 0 &&
        memcmp(a->pcrs[0], unmeasured, 32) == 0)
        CHECK_FAIL(a, CHECK_PCR0, "PCR0 %.16s... is the unmeasured boot value, not the measured "
                   "identity of label %s under policy %s v%u (host may not measure: see tvdc "
                   "status)", h, *a->label ? a->label : "(none)", tvdc_policy_name(o->policy),
                   tvdc_policy_version(o->policy));
    else
        CHECK_FAIL(a, CHECK_PCR0, "PCR0 %.16s... is not the measured identity of label %s under "
                   "policy %s v%u (another label, name or policy was measured, or the host "
                   "may not measure: see tvdc status)", h, *a->label ? a->label : "(none)",
                   tvdc_policy_name(o->policy), tvdc_policy_version(o->policy));
}

/* PCRs 1-9 against the VM's reference, else its label's. */
static void
check_pcrs(const attest_opts *o, attestation *a)
{
    char bad[64] = "", whose[400];
    size_t off = 0;

    if (!o->refs || !attest_refs_find(o->refs, a->uuid, a->label, &a->ref))
        return;
    a->have_ref = true;
    snprintf(whose, sizeof(whose), "the reference of %s %s (learned from VM %s, %s)",
             a->ref.per_vm ? "VM" : "label", a->ref.per_vm ? a->name : a->ref.key, a->ref.vm,
             a->ref.learned);
    if (!a->have_pcrs) {
        CHECK_FAIL(a, CHECK_PCRS, "not run: no verified quote");
        return;
    }
    for (int i = ATTEST_REF_FIRST; i <= ATTEST_REF_LAST; i++)
        if (memcmp(a->pcrs[i], a->ref.pcr[i], 32) != 0) {
            a->pcr_bad |= 1u << i;
            off += (size_t) snprintf(bad + off, sizeof(bad) - off, "%s%d", off ? "," : "", i);
        }
    if (a->pcr_bad)
        CHECK_FAIL(a, CHECK_PCRS, "PCRs %s differ from %s", bad, whose);
    else
        CHECK_OK(a, CHECK_PCRS, "PCRs 1-9 equal %s", whose);
}

/* The event log against the quoted PCRs 0-9, replayed from the TPM's reset
 * values.  SeaBIOS logs nothing of the H-CRTM (README.md "Event log"), so
 * PCR0 starts from the H-CRTM value of the VM's measured identity, known
 * only when check pcr0 passed; otherwise PCR0 is compared only when the log
 * replays to it from zeros (a host that does not measure), and pcr0 says
 * what is wrong with it. */
static void
check_eventlog(attestation *a)
{
    uint8_t start[TVDC_TPM_PCRS][32];
    tvdc_vtpm_eventlog *l = NULL;
    tvdc_error e = { 0 };
    bool pcr0_known = a->have_expected && a->checks[CHECK_PCR0].state == 1;
    char bad[64] = "";
    const char *from;
    size_t off = 0;
    int r;

    if (!a->have_pcrs) {
        CHECK_FAIL(a, CHECK_EVENTLOG, "not run: no verified quote");
        return;
    }
    if (a->no_log) {
        a->checks[CHECK_EVENTLOG].state = CHECK_NOT_CHECKED;
        set_check(a, CHECK_EVENTLOG, "not checked: the guest has no event log");
        return;
    }
    if (!a->have_log)
        return;                         /* failed in run_agent */
    tvdc_vtpm_pcrs_reset(start);
    if (pcr0_known)
        memcpy(start[0], a->pcr0_hcrtm, 32);
    r = tvdc_vtpm_eventlog_replay(a->log, a->log_len, (const uint8_t (*)[32]) start, &l, &e);
    if (r < 0) {
        CHECK_FAIL(a, CHECK_EVENTLOG, "%s", e.message[0] ? e.message : strerror(-r));
        return;
    }
    if (!l->has_sha256) {
        a->checks[CHECK_EVENTLOG].state = CHECK_NOT_CHECKED;
        set_check(a, CHECK_EVENTLOG, "not checked: the guest's event log (%zu events) has no "
                  "sha256 digests", l->n_events);
        tvdc_vtpm_eventlog_free(l);
        return;
    }
    a->log_replayed = true;
    a->log_events = l->n_events;
    a->log_extended = l->extended;
    if (pcr0_known)
        a->log_pcr0 = "hcrtm";
    else if (memcmp(l->pcrs[0], a->pcrs[0], 32) == 0)
        a->log_pcr0 = "zeros";
    for (int i = a->log_pcr0 ? 0 : 1; i < ATTEST_PCRS; i++)
        if (memcmp(l->pcrs[i], a->pcrs[i], 32) != 0) {
            a->log_bad |= 1u << i;
            off += (size_t) snprintf(bad + off, sizeof(bad) - off, "%s%d", off ? "," : "", i);
        }
    from = !a->log_pcr0 ? "PCR0 not compared: its start is not known, see pcr0" :
           pcr0_known ? "PCR0 from the measured identity's H-CRTM value" :
           "PCR0 from zeros: no H-CRTM measurement";
    if (!a->log_bad)
        CHECK_OK(a, CHECK_EVENTLOG, "%zu events replay to the quoted PCRs %s-9 (%s)",
                 l->n_events, a->log_pcr0 ? "0" : "1", from);
    else
        CHECK_FAIL(a, CHECK_EVENTLOG, "the replay of %zu events differs from the quote in "
                   "PCR%s %s (%s)", l->n_events, a->log_bad & (a->log_bad - 1) ? "s" : "", bad,
                   from);
    tvdc_vtpm_eventlog_free(l);
}

static void
attest_one(const attest_opts *o, attestation *a)
{
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    int r;

    for (int i = 0; i < CHECK_N; i++) {
        a->checks[i].state = -1;
        set_check(a, i, "not run");
    }
    check_ek_cert(o, a, &cert, &cert_len);
    r = run_agent(o, a, cert, cert_len);
    free(cert);
    if (r < 0 && r != -ENOMEM) {
        a->verdict = "unreachable";
        for (int i = 0; i < CHECK_N; i++)
            if (a->checks[i].state < 0) {
                a->checks[i].state = 0;
                set_check(a, i, "not run: the agent is unreachable");
            }
        return;
    }
    check_pcr0(o, a);
    check_pcrs(o, a);
    check_eventlog(a);
    a->verdict = "trusted";
    for (int i = 0; i < CHECK_N; i++)
        if (check_failed(a, i)) {
            if (a->checks[i].state < 0) {
                a->checks[i].state = 0;
                set_check(a, i, "not run");
            }
            a->verdict = "untrusted";
        }
}

/* ------------------------------------------------------------------------ */
/* Output and audit                                                         */

static const char *
host_name(void)
{
    static char host[256];
    const tvdc_config *conf = tool_config();

    if (!*host) {
        if (conf && tvdc_config_host_name(conf))
            snprintf(host, sizeof(host), "%s", tvdc_config_host_name(conf));
        else
            (void) gethostname(host, sizeof(host) - 1);
    }
    return host;
}

static int
audit(const attest_opts *o, const attestation *a)
{
    char detail[2048] = "";
    const char *rule = "attest";
    size_t off = 0;
    tvdc_audit_record rec = {
        .host = host_name(),
        .operation = "attest",
        .vm_name = a->name,
        .vm_uuid = a->uuid,
        .label = *a->label ? a->label : NULL,
        .decision = strcmp(a->verdict, "trusted") == 0 ? "permit" : "deny",
        .detail = detail,
        .policy_name = tvdc_policy_name(o->policy),
        .policy_version = tvdc_policy_version(o->policy),
    };
    int r;

    if (strcmp(a->verdict, "unreachable") == 0) {
        rule = "attest-timeout";
        snprintf(detail, sizeof(detail), "attest: unreachable: %s", a->unreachable);
    } else if (strcmp(a->verdict, "trusted") == 0) {
        snprintf(detail, sizeof(detail), "attest: trusted: EK certificate, EK, AK, credential "
                 "activation, quote and PCR0 verified%s%s", a->have_ref ?
                 ", PCRs 1-9 equal the reference" : "", a->checks[CHECK_EVENTLOG].state == 1 ?
                 ", the event log replays to the quote" : ", no event log");
    } else {
        off = (size_t) snprintf(detail, sizeof(detail), "attest: untrusted:");
        for (int i = 0; i < CHECK_N && off < sizeof(detail); i++) {
            if (!check_failed(a, i))
                continue;
            if (strcmp(rule, "attest") == 0)
                rule = check_info[i].rule;
            off += (size_t) snprintf(detail + off, sizeof(detail) - off, " %s: %s;",
                                     check_info[i].name, a->checks[i].reason);
        }
        if (off < sizeof(detail) && off > 0 && detail[off - 1] == ';')
            detail[off - 1] = '\0';
    }
    rec.rule = rule;
    r = tvdc_audit_append(tool_default_audit_log(), &rec);
    if (r < 0)
        tool_err("attest: the audit log %s: %s", tool_default_audit_log(), strerror(-r));
    return r;
}

/* The label's action plan (an unlabeled VM, or a label the policy does not
 * know, is only reported). */
static tvdc_attest_action
label_action(const attest_opts *o, const attestation *a)
{
    int64_t l = *a->label ? tvdc_find_label(o->policy, a->label) : -1;

    return l >= 0 ? tvdc_label_attest_fail(o->policy, (uint32_t) l) : TVDC_ATTEST_REPORT;
}

/* Why it is not trusted: the first failed check with its audit rule. */
static void
failure_reason(const attestation *a, char *out, size_t len)
{
    if (strcmp(a->verdict, "unreachable") == 0) {
        snprintf(out, len, "attest-timeout: %s", a->unreachable);
        return;
    }
    for (int i = 0; i < CHECK_N; i++)
        if (check_failed(a, i)) {
            snprintf(out, len, "%s: %s: %s", check_info[i].rule, check_info[i].name,
                     a->checks[i].reason);
            return;
        }
    snprintf(out, len, "attest: untrusted");
}

static const char *
user_name(void)
{
    static char name[64];
    struct passwd *pw = getpwuid(geteuid());

    if (!*name)
        snprintf(name, sizeof(name), "%s", pw ? pw->pw_name : "?");
    return name;
}

/* Run the action plan of a's label on dom (a not trusted), audited (but
 * "report", whose record is the attestation's): 0, or -1 when the action
 * failed or its record could not be written. */
static int
remediate(const attest_opts *o, virDomainPtr dom, attestation *a)
{
    char reason[700];
    tvdc_attest_action action = label_action(o, a);
    tvdc_quarantine q = {
        .uuid = a->uuid, .name = a->name, .label = *a->label ? a->label : NULL,
        .reason = reason, .by = (char *) user_name(), .host = (char *) host_name(),
        .time = (int64_t) time(NULL),
    };
    char rule[64];
    tvdc_audit_record rec = {
        .host = host_name(),
        .operation = "attest-action",
        .vm_name = a->name,
        .vm_uuid = a->uuid,
        .label = *a->label ? a->label : NULL,
        .decision = "deny",
        .rule = rule,
        .detail = a->remedy.detail,
        .policy_name = tvdc_policy_name(o->policy),
        .policy_version = tvdc_policy_version(o->policy),
    };
    int r, k;

    failure_reason(a, reason, sizeof(reason));
    r = attest_remediate(dom, action, &q, o->shutdown_ms, &a->remedy);
    a->remedied = true;
    if (action == TVDC_ATTEST_REPORT)
        return r;
    snprintf(rule, sizeof(rule), "attest-%s", tvdc_attest_action_name(action));
    if ((k = tvdc_audit_append(tool_default_audit_log(), &rec)) < 0) {
        tool_err("attest: the audit log %s: %s", tool_default_audit_log(), strerror(-k));
        return -1;
    }
    if (r < 0)
        tool_err("attest: VM %s: %s", a->name, a->remedy.detail);
    return r;
}

static json_object *
pcr_list_json(uint32_t mask)
{
    json_object *l = json_object_new_array();

    for (int i = 0; i < TVDC_TPM_PCRS; i++)
        if (mask & (1u << i))
            json_object_array_add(l, json_object_new_int(i));
    return l;
}

/* The replayed event log: null when there was none to replay. */
static json_object *
eventlog_json(const attestation *a)
{
    json_object *o;

    if (!a->log_replayed)
        return NULL;
    o = json_object_new_object();
    json_object_object_add(o, "events", json_object_new_int64((int64_t) a->log_events));
    json_object_object_add(o, "extends", pcr_list_json(a->log_extended));
    json_object_object_add(o, "pcr0_start", a->log_pcr0 ? json_object_new_string(a->log_pcr0)
                                                        : NULL);
    json_object_object_add(o, "mismatch", pcr_list_json(a->log_bad));
    return o;
}

static json_object *
to_json(const attestation *a)
{
    json_object *o = json_object_new_object(), *checks = json_object_new_array();
    json_object *pcrs = json_object_new_array();
    int passed = 0, failed = 0, not_checked = 0;
    char h[65];

    json_object_object_add(o, "vm", json_object_new_string(a->name));
    json_object_object_add(o, "uuid", json_object_new_string(a->uuid));
    json_object_object_add(o, "label", *a->label ? json_object_new_string(a->label) : NULL);
    json_object_object_add(o, "host", json_object_new_string(host_name()));
    json_object_object_add(o, "verdict", json_object_new_string(a->verdict));
    if (*a->unreachable)
        json_object_object_add(o, "unreachable", json_object_new_string(a->unreachable));
    for (int i = 0; i < CHECK_N; i++) {
        json_object *c;
        if (!check_used(a, i))
            continue;
        c = json_object_new_object();
        json_object_object_add(c, "name", json_object_new_string(check_info[i].name));
        /* ok: true, false, or null for a check not checked */
        json_object_object_add(c, "ok", a->checks[i].state == CHECK_NOT_CHECKED ? NULL :
                               json_object_new_boolean(a->checks[i].state == 1));
        json_object_object_add(c, "reason", json_object_new_string(a->checks[i].reason));
        json_object_array_add(checks, c);
        if (a->checks[i].state == 1)
            passed++;
        else if (a->checks[i].state == CHECK_NOT_CHECKED)
            not_checked++;
        else
            failed++;
    }
    json_object_object_add(o, "checks", checks);
    if (a->remedied) {
        json_object *r = json_object_new_object();
        json_object_object_add(r, "name", json_object_new_string(
            tvdc_attest_action_name(a->remedy.action)));
        json_object_object_add(r, "done", json_object_new_string(
            a->remedy.done > 0 ? "yes" : a->remedy.done == 0 ? "nothing to do" : "failed"));
        json_object_object_add(r, "detail", json_object_new_string(a->remedy.detail));
        json_object_object_add(o, "action", r);
    }
    json_object_object_add(o, "quarantined", json_object_new_boolean(a->quarantined));
    for (int i = 0; a->have_pcrs && i < ATTEST_PCRS; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "pcr", json_object_new_int(i));
        tv_hex(a->pcrs[i], 32, h);
        json_object_object_add(p, "sha256", json_object_new_string(h));
        if (i == 0) {
            json_object_object_add(p, "status", json_object_new_string(
                a->checks[CHECK_PCR0].state == 1 ? "ok" : "mismatch"));
            if (a->have_expected) {
                tv_hex(a->pcr0_expected, 32, h);
                json_object_object_add(p, "expected", json_object_new_string(h));
            }
        } else if (a->have_ref) {
            json_object_object_add(p, "status", json_object_new_string(
                a->pcr_bad & (1u << i) ? "mismatch" : "ok"));
            tv_hex(a->ref.pcr[i], 32, h);
            json_object_object_add(p, "expected", json_object_new_string(h));
        } else {
            json_object_object_add(p, "status",
                                   json_object_new_string("not checked: no reference values"));
        }
        json_object_array_add(pcrs, p);
    }
    json_object_object_add(o, "pcrs", pcrs);
    json_object_object_add(o, "eventlog", eventlog_json(a));
    {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "passed", json_object_new_int(passed));
        json_object_object_add(s, "failed", json_object_new_int(failed));
        json_object_object_add(s, "not_checked", json_object_new_int(
            (a->have_pcrs && !a->have_ref ? ATTEST_PCRS - 1 : 0) + not_checked));
        json_object_object_add(o, "summary", s);
    }
    return o;
}

static void
print_human(const attestation *a)
{
    char h[65];

    printf("VM %s (%s), label %s, host %s: %s%s%s\n", a->name, a->uuid,
           *a->label ? a->label : "(none)", host_name(), a->verdict,
           *a->unreachable ? ": " : "", a->unreachable);
    for (int i = 0; i < CHECK_N; i++)
        if (check_used(a, i))
            printf("  %-4s %-15s %s\n", a->checks[i].state == 1 ? "ok" :
                   a->checks[i].state == CHECK_NOT_CHECKED ? "--" : "FAIL",
                   check_info[i].name, a->checks[i].reason);
    for (int i = 0; a->have_pcrs && i < ATTEST_PCRS; i++) {
        tv_hex(a->pcrs[i], 32, h);
        printf("  PCR%-2d %s  %s\n", i, h, i == 0 ?
               (a->checks[CHECK_PCR0].state == 1 ? "ok" : "MISMATCH") :
               !a->have_ref ? "not checked: no reference values" :
               a->pcr_bad & (1u << i) ? "MISMATCH" : "ok");
    }
    if (a->remedied)
        printf("  action %s%s\n", a->remedy.detail, a->remedy.done < 0 ? " (FAILED)" : "");
    if (a->quarantined)
        printf("  QUARANTINED: 'tvdc attest clear %s' lifts it\n", a->name);
}

/* One line for --every: time, VM, verdict and the failed checks. */
static void
print_line(const attestation *a, const char *when)
{
    printf("%s VM %s (%s), label %s, host %s: %s", when, a->name, a->uuid,
           *a->label ? a->label : "(none)", host_name(), a->verdict);
    if (*a->unreachable)
        printf(": %s", a->unreachable);
    else if (strcmp(a->verdict, "untrusted") == 0) {
        const char *sep = " (failed: ";
        for (int i = 0; i < CHECK_N; i++)
            if (check_failed(a, i)) {
                printf("%s%s", sep, check_info[i].name);
                if ((i == CHECK_PCRS && a->pcr_bad) || (i == CHECK_EVENTLOG && a->log_bad)) {
                    unsigned bad = i == CHECK_PCRS ? a->pcr_bad : a->log_bad;
                    const char *s2 = " ";
                    for (int j = 0; j < ATTEST_PCRS; j++)
                        if (bad & (1u << j)) {
                            printf("%s%d", s2, j);
                            s2 = ",";
                        }
                }
                sep = ", ";
            }
        printf(")");
    }
    if (a->remedied)
        printf("; action %s%s", a->remedy.detail, a->remedy.done < 0 ? " (FAILED)" : "");
    printf("\n");
}

static void
now_rfc3339(char *out, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------------------ */

typedef struct attest_cmd {
    attest_opts o;
    const char *conf_path, *refs_path;
    tvdc_vtpm_conf *vconf;
    tvdc_policy *policy;
    attest_refs *refs;
    virConnectPtr conn;
} attest_cmd;

static void
attest_cmd_clear(attest_cmd *c)
{
    if (c->conn)
        virConnectClose(c->conn);
    attest_refs_free(c->refs);
    tvdc_policy_free(c->policy);
    tvdc_vtpm_conf_free(c->vconf);
    memset(c, 0, sizeof(*c));
}

/* The reference store, fail closed: EXIT_OK or EXIT_ERR (said why). */
static int
load_refs(attest_cmd *c)
{
    char why[512] = "";
    attest_refs *refs = NULL;
    int r = attest_refs_load(c->refs_path, &refs, why, sizeof(why));

    if (r < 0) {
        tool_err("attest: reference values %s: %s", c->refs_path, *why ? why : strerror(-r));
        return EXIT_ERR;
    }
    attest_refs_free(c->refs);
    c->refs = refs;
    return EXIT_OK;
}

static int
connect_libvirt(attest_cmd *c)
{
    if (c->conn) {
        if (virConnectIsAlive(c->conn) == 1)
            return EXIT_OK;
        virConnectClose(c->conn);
    }
    /* read-write: the live XML with the channel's socket */
    if (!(c->conn = virConnectOpen(c->o.uri))) {
        tool_err("attest: cannot connect to %s: %s", c->o.uri, virt_error());
        return EXIT_ERR;
    }
    return EXIT_OK;
}

/* The vTPM CA, the policy, libvirt. */
static int
attest_setup(attest_cmd *c)
{
    if (!c->o.uri) {
        c->o.uri = getenv("LIBVIRT_DEFAULT_URI");
        if (!c->o.uri || !*c->o.uri)
            c->o.uri = LIBVIRT_DEFAULT_URI;
    }
    if (!c->o.ca_dir) {
        tvdc_error e = { 0 };
        const char *path = c->conf_path ? c->conf_path : getenv("TVDC_VTPM_CONF");
        bool explicit = path && *path;
        int r = tvdc_vtpm_conf_load(explicit ? path : TVDC_VTPM_CONF, !explicit, &c->vconf, &e);
        if (r < 0) {
            tool_err_at(explicit ? path : TVDC_VTPM_CONF, &e, r);
            return EXIT_ERR;
        }
        c->o.ca_dir = c->vconf->ca_dir;
    }
    if (tool_load_policy(c->o.policy_path ? c->o.policy_path : tool_default_policy(),
                         &c->policy) != EXIT_OK)
        return EXIT_ERR;
    c->o.policy = c->policy;
    if (virInitialize() < 0) {
        tool_err("attest: cannot initialize libvirt: %s", virt_error());
        return EXIT_ERR;
    }
    virSetErrorFunc(NULL, silent);
    return connect_libvirt(c);
}

static virDomainPtr
lookup(attest_cmd *c, const char *vm)
{
    virDomainPtr d = tvdc_uuid_valid(vm) ? virDomainLookupByUUIDString(c->conn, vm) : NULL;

    if (!d)
        d = virDomainLookupByName(c->conn, vm);
    if (!d)
        tool_err("attest: no VM '%s' in libvirt %s", vm, c->o.uri);
    return d;
}

/* Attest doms[0..n): audit each; print each (human: in full, or one line
 * with when; JSON: into out, or one line with when).  The worst exit. */
static int
attest_doms(attest_cmd *c, virDomainPtr *doms, int n, bool all, bool json, const char *when,
            json_object *out, int *attested)
{
    int worst = EXIT_OK;

    *attested = 0;
    for (int i = 0; i < n; i++) {
        attestation a = { 0 };
        tvdc_quarantine *q = NULL;
        int r = vm_describe(doms[i], &a, all);

        /* a VM whose label has an action plan cannot escape it by having
         * no port: it cannot answer, like an agent that does not */
        if (r == -ENOENT && a.no_port && label_action(&c->o, &a) != TVDC_ATTEST_REPORT) {
            a.verdict = "unreachable";
            snprintf(a.unreachable, sizeof(a.unreachable), "it has no attestation port "
                     ATTEST_PORT);
            for (int k = 0; k < CHECK_N; k++) {
                a.checks[k].state = 0;
                set_check(&a, k, "not run: the VM has no attestation port");
            }
        } else if (r < 0) {
            /* --all skips what is not running or has no port; any other
             * failure (said by vm_describe) is an error */
            attestation_clear(&a);
            if (!all || r != -ENOENT)
                worst = EXIT_ERR;
            continue;
        } else {
            attest_one(&c->o, &a);
        }
        ++*attested;
        if (audit(&c->o, &a) < 0)
            worst = EXIT_ERR;
        else if (strcmp(a.verdict, "trusted") != 0 && worst == EXIT_OK)
            worst = EXIT_DENIED;
        if (strcmp(a.verdict, "trusted") != 0 && remediate(&c->o, doms[i], &a) < 0)
            worst = EXIT_ERR;
        if (tvdc_quarantine_read(TVDC_QUARANTINE_DIR, a.uuid, &q) != -ENOENT)
            a.quarantined = true;
        tvdc_quarantine_free(q);
        if (json && when) {
            json_object *j = to_json(&a);
            char *line = NULL;
            json_object_object_add(j, "time", json_object_new_string(when));
            if (tv_json_to_line(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                &line, NULL) == 0)
                fputs(line, stdout);
            free(line);
            json_object_put(j);
        } else if (json) {
            json_object_array_add(out, to_json(&a));
        } else if (when) {
            print_line(&a, when);
        } else {
            print_human(&a);
        }
        fflush(stdout);
        attestation_clear(&a);
    }
    return worst;
}

static void
free_doms(virDomainPtr *doms, int n)
{
    for (int i = 0; doms && i < n; i++)
        if (doms[i])
            virDomainFree(doms[i]);
    free(doms);
}

/* --all --every: a round every `every` ms until SIGTERM or SIGINT, which
 * are blocked while a round runs (it finishes, audit records included). */
static int
attest_every(attest_cmd *c, unsigned every, bool json)
{
    sigset_t stop, old;
    int rc = EXIT_OK;

    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, &old);
    for (;;) {
        struct timespec t0, t1, wait;
        virDomainPtr *doms = NULL;
        char when[32];
        long left;
        int n = 0, s, done;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        now_rfc3339(when, sizeof(when));
        if ((rc = load_refs(c)) != EXIT_OK)
            break;                      /* fail closed: a corrupt store stops us */
        c->o.refs = c->refs;            /* the store just read (the last one is freed) */
        if (connect_libvirt(c) == EXIT_OK) {
            n = virConnectListAllDomains(c->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
            if (n < 0)
                tool_err("attest: %s: list domains: %s", c->o.uri, virt_error());
            else
                (void) attest_doms(c, doms, n, true, json, when, NULL, &done);
            free_doms(doms, n);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        left = (long) every - ((t1.tv_sec - t0.tv_sec) * 1000 +
                               (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (left < 0)
            left = 0;
        wait.tv_sec = left / 1000;
        wait.tv_nsec = (left % 1000) * 1000000;
        do
            s = sigtimedwait(&stop, NULL, &wait);
        while (s < 0 && errno == EINTR);
        if (s > 0)
            break;                      /* stopped: exit 0 */
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int
ref_list(attest_cmd *c, bool json)
{
    json_object *root, *part;

    if (load_refs(c) != EXIT_OK)
        return EXIT_ERR;
    root = attest_refs_json(c->refs);
    if (json) {
        tool_print_json(json_object_get(root));
        return EXIT_OK;
    }
    printf("reference values in %s\n", c->refs_path);
    for (int k = 0; k < 2; k++) {
        if (!json_object_object_get_ex(root, k ? "vms" : "labels", &part))
            continue;
        json_object_object_foreach(part, key, e) {
            json_object *v, *p;
            const char *vm = json_object_object_get_ex(e, "vm", &v) ?
                json_object_get_string(v) : "";
            const char *learned = json_object_object_get_ex(e, "learned", &v) ?
                json_object_get_string(v) : "";
            printf("%s %s: learned from VM %s, %s\n", k ? "vm" : "label", key, vm, learned);
            if (!json_object_object_get_ex(e, "pcrs", &p))
                continue;
            for (int i = ATTEST_REF_FIRST; i <= ATTEST_REF_LAST; i++) {
                char n[4];
                snprintf(n, sizeof(n), "%d", i);
                if (json_object_object_get_ex(p, n, &v))
                    printf("  PCR%-2d %s\n", i, json_object_get_string(v));
            }
        }
    }
    return EXIT_OK;
}

static int
ref_rm(attest_cmd *c, const char *what)
{
    int n, r;

    if (load_refs(c) != EXIT_OK)
        return EXIT_ERR;
    if ((n = attest_refs_remove(c->refs, what)) == 0) {
        tool_err("attest: ref rm: no reference of label or VM '%s' in %s", what, c->refs_path);
        return EXIT_ERR;
    }
    if ((r = attest_refs_save(c->refs, c->refs_path)) < 0) {
        tool_err("attest: ref rm: cannot write %s: %s", c->refs_path, strerror(-r));
        return EXIT_ERR;
    }
    printf("removed %d reference%s of '%s' from %s\n", n, n == 1 ? "" : "s", what,
           c->refs_path);
    return EXIT_OK;
}

static int
ref_learn(attest_cmd *c, const char *vm, bool per_vm)
{
    attestation a = { 0 };
    virDomainPtr dom = NULL;
    char when[32];
    int rc = EXIT_ERR, r;

    if (attest_setup(c) != EXIT_OK || load_refs(c) != EXIT_OK)
        return EXIT_ERR;
    if (!(dom = lookup(c, vm)))
        return EXIT_ERR;
    if (vm_describe(dom, &a, false) < 0)
        goto out;
    if (!per_vm && !*a.label) {
        tool_err("attest: ref learn: VM %s has no label: learn --per vm", a.name);
        goto out;
    }
    c->o.refs = NULL;                   /* the attestation without reference values */
    attest_one(&c->o, &a);
    if (audit(&c->o, &a) < 0)
        goto out;
    if (strcmp(a.verdict, "trusted") != 0) {
        print_human(&a);
        tool_err("attest: ref learn: VM %s is %s: its PCRs are not learned", a.name, a.verdict);
        rc = EXIT_DENIED;
        goto out;
    }
    now_rfc3339(when, sizeof(when));
    if ((r = attest_refs_set(c->refs, per_vm, per_vm ? a.uuid : a.label, a.name, when,
                             (const uint8_t (*)[32]) a.pcrs)) < 0 ||
        (r = attest_refs_save(c->refs, c->refs_path)) < 0) {
        tool_err("attest: ref learn: cannot write %s: %s", c->refs_path, strerror(-r));
        goto out;
    }
    printf("learned PCRs 1-9 of VM %s (%s), trusted, as the reference of %s %s in %s\n",
           a.name, a.uuid, per_vm ? "VM" : "label", per_vm ? a.name : a.label, c->refs_path);
    rc = EXIT_OK;
 out:
    attestation_clear(&a);
    virDomainFree(dom);
    return rc;
}

/* tvdc attest clear: the VM by name or UUID in libvirt, or a UUID alone (a
 * VM libvirt no longer has).  Audited. */
static int
clear(attest_cmd *c, const char *vm)
{
    char uuid[TVDC_UUID_STRING_LEN + 1] = "", detail[1024] = "";
    virDomainPtr dom = NULL;
    const char *name = vm;
    tvdc_audit_record rec = {
        .host = host_name(),
        .operation = "attest-clear",
        .decision = "permit",
        .rule = "attest-clear",
        .detail = detail,
    };
    int r, k;

    if (!c->o.uri && !(c->o.uri = getenv("LIBVIRT_DEFAULT_URI")))
        c->o.uri = LIBVIRT_DEFAULT_URI;
    if (virInitialize() < 0) {
        tool_err("attest: libvirt: cannot initialize");
        return EXIT_ERR;
    }
    virSetErrorFunc(NULL, silent);
    if (connect_libvirt(c) != EXIT_OK)
        return EXIT_ERR;
    dom = tvdc_uuid_valid(vm) ? virDomainLookupByUUIDString(c->conn, vm) : NULL;
    if (!dom)
        dom = virDomainLookupByName(c->conn, vm);
    if (dom) {
        virDomainGetUUIDString(dom, uuid);
        name = virDomainGetName(dom);
    } else if (tvdc_uuid_valid(vm)) {
        snprintf(uuid, sizeof(uuid), "%s", vm);
    } else {
        tool_err("attest: clear: no VM '%s' in libvirt %s (give its UUID if it is gone)", vm,
                 c->o.uri);
        return EXIT_ERR;
    }
    for (char *p = uuid; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    r = attest_clear(dom, uuid, detail, sizeof(detail));
    if (r == -ENOENT) {
        printf("VM %s (%s) is not quarantined: nothing to clear\n", name, uuid);
        virDomainFree(dom);
        return EXIT_OK;
    }
    rec.vm_name = name;
    rec.vm_uuid = uuid;
    if (r < 0)
        rec.decision = "deny";
    if ((k = tvdc_audit_append(tool_default_audit_log(), &rec)) < 0)
        tool_err("attest: the audit log %s: %s", tool_default_audit_log(), strerror(-k));
    if (r < 0)
        tool_err("attest: clear: VM %s (%s): %s", name, uuid, detail);
    else
        printf("VM %s (%s): %s\n", name, uuid, detail);
    virDomainFree(dom);
    return r < 0 || k < 0 ? EXIT_ERR : EXIT_OK;
}

static int
cmd_attest(int argc, char **argv)
{
    static const struct option opts[] = {
        { "connect", required_argument, NULL, 'c' },
        { "timeout", required_argument, NULL, 't' },
        { "policy", required_argument, NULL, 'p' },
        { "ca", required_argument, NULL, 'a' },
        { "config", required_argument, NULL, 'C' },
        { "refs", required_argument, NULL, 'r' },
        { "every", required_argument, NULL, 'e' },
        { "per", required_argument, NULL, 'P' },
        { "shutdown-timeout", required_argument, NULL, 'S' },
        { "all", no_argument, NULL, 'A' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    attest_cmd cmd = { .o = { .timeout_ms = 10000, .shutdown_ms = 30000 },
                       .refs_path = TVDC_DEFAULT_ATTEST_REF };
    const char *sub = NULL, *per = NULL;
    virDomainPtr *doms = NULL;
    json_object *out = NULL;
    bool json = false, all = false;
    unsigned every = 0;
    int c, n = 0, rc = EXIT_ERR, attested = 0;

    if (argc > 1 && strcmp(argv[1], "clear") == 0) {
        sub = argv[1];
        argc -= 1;
        argv += 1;
    } else if (argc > 1 && strcmp(argv[1], "ref") == 0) {
        if (argc < 3 || (strcmp(argv[2], "learn") != 0 && strcmp(argv[2], "list") != 0 &&
                         strcmp(argv[2], "rm") != 0)) {
            tool_err("attest: usage: tvdc attest ref learn VM [--per label|vm] | ref list "
                     "[--json] | ref rm LABEL|VM");
            return EXIT_ERR;
        }
        sub = argv[2];
        argc -= 2;
        argv += 2;
    }
    optind = 0;
    while ((c = tool_getopt(argc, argv, "h", opts, attest_usage)) >= 0) {
        switch (c) {
        case 'c': cmd.o.uri = optarg; break;
        case 't':
        case 'e':
        case 'S': {
            const char *name = c == 't' ? "timeout" : c == 'e' ? "every" : "shutdown-timeout";
            int max = c == 'e' ? 86400 : 3600;
            char *end;
            double s = strtod(optarg, &end);
            if (end == optarg || *end || s < 0 || (s == 0 && c != 'S') || s > max) {
                tool_err("attest: --%s: seconds, %s 0 and at most %d, not '%s'", name,
                         c == 'S' ? "at least" : "more than", max, optarg);
                return EXIT_ERR;
            }
            if (c == 't')
                cmd.o.timeout_ms = (unsigned) (s * 1000);
            else if (c == 'e')
                every = (unsigned) (s * 1000);
            else
                cmd.o.shutdown_ms = (unsigned) (s * 1000);
            break;
        }
        case 'p': cmd.o.policy_path = optarg; break;
        case 'a': cmd.o.ca_dir = optarg; break;
        case 'C': cmd.conf_path = optarg; break;
        case 'r': cmd.refs_path = optarg; break;
        case 'P': per = optarg; break;
        case 'A': all = true; break;
        case 'j': json = true; break;
        }
    }
    if (c != TOOL_OPT_END)
        return tool_getopt_exit(c);

    if (sub && strcmp(sub, "clear") == 0) {
        if (argc - optind != 1 || all || every || per) {
            tool_err("attest: usage: tvdc attest clear VM|UUID [--connect URI]");
            return EXIT_ERR;
        }
        rc = clear(&cmd, argv[optind]);
        attest_cmd_clear(&cmd);
        return rc;
    }
    if (sub) {
        int operands = strcmp(sub, "list") == 0 ? 0 : 1;
        if (argc - optind != operands || all || every ||
            (per && (strcmp(sub, "learn") != 0 ||
                     (strcmp(per, "label") != 0 && strcmp(per, "vm") != 0)))) {
            tool_err("attest: usage: tvdc attest ref learn VM [--per label|vm] | ref list "
                     "[--json] | ref rm LABEL|VM");
            return EXIT_ERR;
        }
        if (strcmp(sub, "list") == 0)
            rc = ref_list(&cmd, json);
        else if (strcmp(sub, "rm") == 0)
            rc = ref_rm(&cmd, argv[optind]);
        else
            rc = ref_learn(&cmd, argv[optind], per && strcmp(per, "vm") == 0);
        attest_cmd_clear(&cmd);
        return rc;
    }
    if (all == (optind < argc) || per || (every && !all)) {
        tool_err("attest: usage: tvdc attest VM... | --all [--every SEC] [--connect URI] "
                 "[--timeout SEC] [--json]");
        return EXIT_ERR;
    }
    if (attest_setup(&cmd) != EXIT_OK || load_refs(&cmd) != EXIT_OK)
        goto out;
    cmd.o.refs = cmd.refs;
    if (every) {
        rc = attest_every(&cmd, every, json);
        goto out;
    }
    if (all) {
        n = virConnectListAllDomains(cmd.conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0) {
            tool_err("attest: %s: list domains: %s", cmd.o.uri, virt_error());
            goto out;
        }
    } else {
        n = argc - optind;
        doms = calloc((size_t) n, sizeof(*doms));
        for (int i = 0; doms && i < n; i++)
            if (!(doms[i] = lookup(&cmd, argv[optind + i])))
                goto out;
        if (!doms)
            goto out;
    }

    out = json_object_new_array();
    rc = attest_doms(&cmd, doms, n, all, json, NULL, out, &attested);
    if (json) {
        if (!all && n == 1 && json_object_array_length(out) == 1) {
            json_object *one = json_object_get(json_object_array_get_idx(out, 0));
            json_object_put(out);
            out = one;
        }
        tool_print_json(out);
        out = NULL;
    } else if (all && attested == 0) {
        printf("no running VM with the port " ATTEST_PORT " in %s\n", cmd.o.uri);
    }
 out:
    json_object_put(out);
    free_doms(doms, n);
    attest_cmd_clear(&cmd);
    return rc;
}

const tvdc_verb tvdc_verb_attest = {
    .name    = "attest",
    .summary = "remote attestation of running VMs through their vTPM and guest agent",
    .run     = cmd_attest,
};
