/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The measured identity: the canonical H-CRTM blob (a table of VMs and the
 * exact bytes they get) and the PCR0 values expected from a blob
 * (known-answer vectors computed with openssl dgst, below).  No swtpm
 * needed: test-hcrtm-swtpm.sh checks the same values against a real one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "tvdc-basic.h"
#include "tvdc-vtpm.h"
#include "test-data.h"

#define UUID "3f1c8a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"

static tvdc_policy *policy;
static char policy_sha256[65];    /* of policies/measure.json, its bytes */

/* The blob of the table's VMs up to the VM lines, @HASH@ standing for
 * policy_sha256. */
#define HEAD "tvdc-hcrtm 1\npolicy measure-dc\npolicy-version 42\npolicy-sha256 @HASH@\n"

static const struct blob_case {
    const char *what;
    const char *uuid, *name, *label;
    int ret;
    const char *blob;            /* HEAD-relative, NULL on error */
} blob_cases[] = {
    { "one type", UUID, "vm1", "market-analysis", 0,
      HEAD "vm-uuid " UUID "\nvm-name vm1\nlabel market-analysis\ntypes MA\n" },
    { "types sorted by byte order, not policy or case order; UUID in lower case",
      "3F1C8A2E-5B6D-4E7F-8A9B-0C1D2E3F4A5B", "web-1", "wide", 0,
      HEAD "vm-uuid " UUID "\nvm-name web-1\nlabel wide\ntypes A-1,MA,Zz,a.b,web\n" },
    { "unlabeled (NULL)", UUID, "vm1", NULL, 0,
      HEAD "vm-uuid " UUID "\nvm-name vm1\nlabel -\ntypes -\n" },
    { "unlabeled (\"\")", UUID, "vm1", "", 0,
      HEAD "vm-uuid " UUID "\nvm-name vm1\nlabel -\ntypes -\n" },
    { "a name with spaces, backslash, newline, tab, DEL and UTF-8", UUID,
      "a b\\c\nd\te\x7f" "caf\xc3\xa9", "underwriting", 0,
      HEAD "vm-uuid " UUID "\nvm-name a b\\\\c\\x0ad\\x09e\\x7fcaf\\xc3\\xa9\n"
      "label underwriting\ntypes SU\n" },
    { "a name that looks like an escape or a further line", UUID,
      "x\\x0alabel evil", "underwriting", 0,
      HEAD "vm-uuid " UUID "\nvm-name x\\\\x0alabel evil\nlabel underwriting\ntypes SU\n" },
    { "unknown label", UUID, "vm1", "nope", -ENOENT, NULL },
    { "unknown label differing in case", UUID, "vm1", "Wide", -ENOENT, NULL },
    { "short uuid", "3f1c8a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5", "vm1", NULL, -EINVAL, NULL },
    { "uuid not hex", "3f1c8a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5g", "vm1", NULL, -EINVAL, NULL },
    { "uuid without dashes", "3f1c8a2e5b6d4e7f8a9b0c1d2e3f4a5b", "vm1", NULL, -EINVAL, NULL },
    { "NULL uuid", NULL, "vm1", NULL, -EINVAL, NULL },
    { "empty name", UUID, "", NULL, -EINVAL, NULL },
    { "NULL name", UUID, NULL, NULL, -EINVAL, NULL },
};

static char *
expand(const char *tmpl)
{
    const char *at = strstr(tmpl, "@HASH@");
    char *s;

    assert_non_null(at);
    assert_true(asprintf(&s, "%.*s%s%s", (int) (at - tmpl), tmpl, policy_sha256, at + 6) > 0);
    return s;
}

static void
test_blob_table(void **state)
{
    (void) state;
    for (size_t i = 0; i < ELEMENTSOF(blob_cases); i++) {
        const struct blob_case *c = &blob_cases[i];
        char *blob = (char *) 0x1, *again = NULL;
        size_t len = 12345, len2 = 0;
        int r = tvdc_vtpm_measure_blob(policy, c->uuid, c->name, c->label, &blob, &len);

        if (r != c->ret)
            fail_msg("%s: returned %d, expected %d", c->what, r, c->ret);
        if (r < 0) {
            /* outputs are written only on success */
            assert_ptr_equal(blob, (char *) 0x1);
            assert_int_equal(len, 12345);
            continue;
        }
        {
            char *want = expand(c->blob);
            if (len != strlen(want) || memcmp(blob, want, len) != 0 || blob[len] != '\0')
                fail_msg("%s:\n got: %s\nwant: %s", c->what, blob, want);
            free(want);
        }
        /* deterministic, printable ASCII and newlines only */
        assert_int_equal(tvdc_vtpm_measure_blob(policy, c->uuid, c->name, c->label, &again,
                                                &len2), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(blob, again, len);
        for (size_t k = 0; k < len; k++)
            assert_true(blob[k] == '\n' || (blob[k] >= 0x20 && blob[k] < 0x7f));
        free(again);
        free(blob);
    }
}

static void
test_blob_limits(void **state)
{
    char name[1026], *blob = NULL;
    size_t len = 0;
    (void) state;

    /* names of 1 to 1024 bytes, as in the vTPM record */
    memset(name, 'n', sizeof(name) - 1);
    name[1024] = '\0';
    assert_int_equal(tvdc_vtpm_measure_blob(policy, UUID, name, NULL, &blob, &len), 0);
    assert_non_null(strstr(blob, "\nvm-name nnnn"));
    free(blob);
    name[1024] = 'n';
    name[1025] = '\0';
    assert_int_equal(tvdc_vtpm_measure_blob(policy, UUID, name, NULL, &blob, &len), -EINVAL);
    /* a name of 1024 bytes that all need escaping: 4096 bytes of it */
    memset(name, '\n', 1024);
    name[1024] = '\0';
    blob = NULL;
    assert_int_equal(tvdc_vtpm_measure_blob(policy, UUID, name, NULL, &blob, &len), 0);
    assert_true(len > 4096);
    assert_int_equal(strlen(blob), len);
    free(blob);
    assert_int_equal(tvdc_vtpm_measure_blob(NULL, UUID, "vm1", NULL, &blob, &len), -EINVAL);
    assert_int_equal(tvdc_vtpm_measure_blob(policy, UUID, "vm1", NULL, NULL, &len), -EINVAL);
    assert_int_equal(tvdc_vtpm_measure_blob(policy, UUID, "vm1", NULL, &blob, NULL), -EINVAL);
}

/*
 * Known answers.  Computed independently of tvdc with openssl dgst and
 * xxd (n = the bank's digest size):
 *
 *   hcrtm: { head -c $((n-1)) /dev/zero; printf '\x04';
 *            openssl dgst -BANK -binary <BLOB; } | openssl dgst -BANK -binary
 *   boot:  { cat HCRTM; printf '\xff\xff\xff\xff' | openssl dgst -BANK -binary; } |
 *            openssl dgst -BANK -binary
 *   unmeasured boot: the same with HCRTM = n zero bytes
 *
 * The "hello" H-CRTM values of all four banks are also what a real swtpm
 * 0.7.1 read back after `swtpm_ioctl -h -` with "hello" on stdin and
 * TPM2_Startup (tpm2_pcrread sha1:0+sha256:0+sha384:0+sha512:0).
 */
static const struct pcr_case {
    const char *bank;
    const char *blob;            /* NULL: nothing measured */
    unsigned flags;
    const char *hex;
} pcr_cases[] = {
    { "sha1", "hello", 0, "adf2c7642bbe57645fbf5c36e9726256de98ebe3" },
    { "sha1", "hello", TVDC_PCR0_BOOT_SEABIOS, "168131f109918e1a49ae71b62497ce57b7504a65" },
    { "sha1", "", 0, "faf0bead4b7114b5169f2bfaf20f56c707d5c2da" },
    { "sha1", NULL, TVDC_PCR0_BOOT_SEABIOS, "3a3f780f11a4b49969fcaa80cd6e3957c33b2275" },
    { "sha1", NULL, 0, "0000000000000000000000000000000000000000" },
    { "sha256", "hello", 0,
      "c482c76841b9ad3783707f1c96d1bca7a0ff87d0191726d6cd84d04f5b2208f6" },
    { "sha256", "hello", TVDC_PCR0_BOOT_SEABIOS,
      "34ff877400aca8af5f10672d9ba9c4f1f72b404b9c37639addae2c52edcfd96f" },
    { "sha256", "", 0,
      "6d5d02e322f054209780964921fb62321645d4577482feb6d9f7391ea46882cb" },
    { "sha256", NULL, TVDC_PCR0_BOOT_SEABIOS,
      "e21b703ee69c77476bccb43ec0336a9a1b2914b378944f7b00a10214ca8fea93" },
    { "sha256", NULL, 0,
      "0000000000000000000000000000000000000000000000000000000000000000" },
    { "sha384", "hello", 0,
      "468287a123c71048b9771f4728757f39bde04fd9888060ef5934915cfbc55d47"
      "90fac32b3e3b3b4db5eef411aff939e4" },
    { "sha384", "hello", TVDC_PCR0_BOOT_SEABIOS,
      "e55385bcd2f48ec1eb157e60c4869ab5f65991014d0f9a1f4e7e4a890267c9cc"
      "bc224786ebc479b9efd7dc873de2be8e" },
    { "sha384", "", 0,
      "2d0977cdd3d7e154544fb82787503f88839357c9a3ba7373b38e8fa0bcb2d600"
      "73da931a37eeb02cfb5bc80f0d6654c7" },
    { "sha384", NULL, TVDC_PCR0_BOOT_SEABIOS,
      "b7d78582456c903a9f4d7b0ac602d0b96db99a2e50e92e9afdf9347f990b204e"
      "85cffc2eb064dceefeb1cec47bf2bbf4" },
    { "sha512", "hello", 0,
      "27a0f549519f3a4072339ffce645de5f4ac83c14a9627d50f059ee1b0e3559c4"
      "46e28a843750c1887a0313f4a3c81abada80ad9a7414bac9cb82c208d6fb2f79" },
    { "sha512", "hello", TVDC_PCR0_BOOT_SEABIOS,
      "e37875b3d4da563a5d914dd563cf2993198258329cc00760905ab56f8fe265d0"
      "6ac0ebf320c15960be42245de44baa7bd948e6da74cb71def5d949d874f8c265" },
    { "sha512", "", 0,
      "76a620468fb7368964376cdaa9a8936f0ec3d5ca1408141262a90c20f74818ab"
      "02813206aca55761897bbd380dc608b93bd0a36d03219aad8ebade8960f9ca50" },
    { "sha512", NULL, TVDC_PCR0_BOOT_SEABIOS,
      "32fd83bda91550cfe782ad2295d9f30341658bf3cb3d2d040fea105406bde6e8"
      "77c0ba5112925e112ffdfe52b7b5b7c948791989bbcf98824fbb1cd571a94cde" },
};

static void
test_pcr0_known_answers(void **state)
{
    (void) state;
    for (size_t i = 0; i < ELEMENTSOF(pcr_cases); i++) {
        const struct pcr_case *c = &pcr_cases[i];
        uint8_t out[TVDC_PCR0_MAX];
        size_t len = sizeof(out);
        char hex[2 * TVDC_PCR0_MAX + 1];
        int r = tvdc_vtpm_expect_pcr0(c->bank, c->blob, c->blob ? strlen(c->blob) : 0,
                                      c->flags, out, &len);

        if (r != 0)
            fail_msg("%s %s flags %u: %d", c->bank, c->blob ? c->blob : "(none)", c->flags, r);
        assert_int_equal(len * 2, strlen(c->hex));
        tv_hex(out, len, hex);
        if (strcmp(hex, c->hex) != 0)
            fail_msg("%s %s flags %u:\n got: %s\nwant: %s", c->bank,
                     c->blob ? c->blob : "(none)", c->flags, hex, c->hex);
    }
}

static void
test_pcr0_errors(void **state)
{
    uint8_t out[TVDC_PCR0_MAX], before[TVDC_PCR0_MAX];
    size_t len;
    (void) state;

    memset(out, 0xaa, sizeof(out));
    memcpy(before, out, sizeof(out));
    for (const char *const *b = (const char *const[]) { "sha3-256", "SHA256", "sm3", "md5",
                                                        "sha224", "", NULL };
         *b; b++) {
        len = sizeof(out);
        assert_int_equal(tvdc_vtpm_expect_pcr0(*b, "x", 1, 0, out, &len), -EINVAL);
        assert_int_equal(len, sizeof(out));
    }
    len = sizeof(out);
    assert_int_equal(tvdc_vtpm_expect_pcr0(NULL, "x", 1, 0, out, &len), -EINVAL);
    assert_int_equal(tvdc_vtpm_expect_pcr0("sha256", NULL, 1, 0, out, &len), -EINVAL);
    assert_int_equal(tvdc_vtpm_expect_pcr0("sha256", "x", 1, 1u << 1, out, &len), -EINVAL);
    assert_int_equal(tvdc_vtpm_expect_pcr0("sha256", "x", 1, 0, NULL, &len), -EINVAL);
    assert_int_equal(tvdc_vtpm_expect_pcr0("sha256", "x", 1, 0, out, NULL), -EINVAL);
    /* a buffer smaller than the bank's digest */
    len = 31;
    assert_int_equal(tvdc_vtpm_expect_pcr0("sha256", "x", 1, 0, out, &len), -ENOBUFS);
    assert_int_equal(len, 31);
    assert_memory_equal(out, before, sizeof(out));
    /* exactly the digest's size is enough, and *out_len says the size */
    len = 20;
    assert_int_equal(tvdc_vtpm_expect_pcr0("sha1", "x", 1, 0, out, &len), 0);
    assert_int_equal(len, 20);
    assert_memory_equal(out + 20, before + 20, sizeof(out) - 20);
}

/* Two VMs, or one VM under two labels or two policies, never share a
 * blob, so never a PCR0. */
static void
test_blob_distinct(void **state)
{
    const char *const labels[] = { NULL, "market-analysis", "wide", "underwriting" };
    const char *const names[] = { "vm1", "vm2" };
    char *blobs[8];
    uint8_t pcr[8][TVDC_PCR0_MAX];
    size_t n = 0, len;
    (void) state;

    for (size_t l = 0; l < ELEMENTSOF(labels); l++)
        for (size_t v = 0; v < ELEMENTSOF(names); v++, n++) {
            size_t pl = TVDC_PCR0_MAX;
            assert_int_equal(tvdc_vtpm_measure_blob(policy, UUID, names[v], labels[l],
                                                    &blobs[n], &len), 0);
            assert_int_equal(tvdc_vtpm_expect_pcr0("sha256", blobs[n], len,
                                                   TVDC_PCR0_BOOT_SEABIOS, pcr[n], &pl), 0);
        }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            assert_string_not_equal(blobs[i], blobs[j]);
            assert_memory_not_equal(pcr[i], pcr[j], 32);
        }
    for (size_t i = 0; i < n; i++)
        free(blobs[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blob_table),
        cmocka_unit_test(test_blob_limits),
        cmocka_unit_test(test_pcr0_known_answers),
        cmocka_unit_test(test_pcr0_errors),
        cmocka_unit_test(test_blob_distinct),
    };
    size_t len;
    char *json = test_data("policies/measure.json", &len);
    uint8_t sum[32];
    unsigned m = 0;
    int r;

    /* the policy's identity is the SHA-256 of its JSON source, as read */
    if (EVP_Digest(json, len, sum, &m, EVP_sha256(), NULL) != 1 ||
        tvdc_policy_parse_json(json, len, &policy, NULL) < 0)
        return 1;
    tv_hex(sum, 32, policy_sha256);
    r = cmocka_run_group_tests(tests, NULL, NULL);
    tvdc_policy_free(policy);
    free(json);
    return r;
}
