/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer: what a guest agent sends a verifier (swtpm-mgr/vtpm-attest.c).
 * An input is [u16 n][n bytes: a TPM2B_PUBLIC][u16 m][m bytes: a
 * TPM2B_ATTEST][the rest: a TPMT_SIGNATURE]: the public area is parsed and
 * checked as an AK and as an EK, a credential is made for it when it can be
 * an EK, and the quote is verified with it as the AK (nonce and PCR values
 * fixed: the parsers behind the signature are reached through the seeds,
 * whose quote swtpm signed).
 */
#include <stdlib.h>
#include <string.h>

#include "tvdc-vtpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t nonce[16] = {
    0x5e, 0xed, 0x0f, 0x7e, 0x11, 0xa5, 0xc0, 0xde,
    0x5e, 0xed, 0x0f, 0x7e, 0x11, 0xa5, 0xc0, 0xde,
};

/* A chunk [u16 n][n bytes]; NULL when the input is shorter. */
static const uint8_t *
chunk(const uint8_t **data, size_t *size, size_t *n)
{
    const uint8_t *p;

    if (*size < 2)
        return NULL;
    *n = (size_t) ((*data)[0] << 8 | (*data)[1]);
    if (*size - 2 < *n)
        return NULL;
    p = *data + 2;
    *data += 2 + *n;
    *size -= 2 + *n;
    return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t pcrs[10 * 32];
    tvdc_vtpm_public pub;
    tvdc_vtpm_quote q;
    tvdc_error e;
    const uint8_t *p, *a;
    size_t n, m;

    p = chunk(&data, &size, &n);
    if (!p || tvdc_vtpm_public_parse(p, n, &pub, &e) < 0)
        return 0;
    (void) tvdc_vtpm_ak_check(&pub, &e);
    if (tvdc_vtpm_ek_check(&pub, NULL, 0, &e) == 0) {
        uint8_t *id = NULL, *sec = NULL;
        size_t il, sl;
        if (tvdc_vtpm_make_credential(&pub, pub.name, pub.name_len, nonce, sizeof(nonce), &id,
                                      &il, &sec, &sl, &e) == 0) {
            free(id);
            free(sec);
        }
    }
    a = chunk(&data, &size, &m);
    if (!a)
        return 0;
    (void) tvdc_vtpm_activated_check(a, m, nonce, sizeof(nonce), &e);
    (void) tvdc_vtpm_quote_verify(&pub, a, m, data, size, nonce, sizeof(nonce), 0x3ff, pcrs,
                                  sizeof(pcrs), &q, &e);
    return 0;
}
