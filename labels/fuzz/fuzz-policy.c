/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer: the JSON policy parser (with the position scanner it uses on
 * errors and for duplicate keys).  An accepted policy must also survive the
 * compiled round trip and answer every question without tripping ASan or
 * UBSan.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tvdc_policy *p = NULL, *q = NULL;
    tvdc_error err = { 0 };
    void *img = NULL;
    size_t len;
    char buf[512];

    if (tvdc_policy_parse_json((const char *) data, size, &p, &err) < 0) {
        /* Every failure explains itself. */
        if (!err.message[0])
            __builtin_trap();
        return 0;
    }
    if (tvdc_policy_to_binary(p, &img, &len) < 0 || tvdc_policy_load_binary(img, len, &q, NULL) < 0)
        __builtin_trap();

    for (uint32_t a = 0; a < tvdc_policy_n_labels(p) && a < 64; a++) {
        tvdc_host *h = NULL;
        tvdc_verdict v;

        for (uint32_t b = 0; b < tvdc_policy_n_labels(p) && b < 64; b++) {
            if (tvdc_decide_share(p, a, b, &v) != tvdc_decide_share(q, a, b, &v))
                __builtin_trap();
            tvdc_verdict_format(p, &v, NULL, buf, sizeof(buf));
        }
        for (uint32_t hs = 0; hs < tvdc_policy_n_hosts(p) && hs < 8; hs++) {
            tvdc_decide_host(p, hs, a, &v);
            tvdc_verdict_format(p, &v, NULL, buf, sizeof(buf));
        }
        if (tvdc_host_new(p, &h) == 0) {
            for (uint32_t b = 0; b < tvdc_policy_n_labels(p) && b < 16; b++) {
                char id[16];
                snprintf(id, sizeof(id), "vm%u", b);
                tvdc_host_reserve(h, id, b, b % 2 ? TVDC_RESERVE_FORCE : 0, &v);
                tvdc_verdict_format(p, &v, NULL, buf, sizeof(buf));
            }
            tvdc_host_reserve(h, "x", a, 0, &v);
            tvdc_verdict_format(p, &v, NULL, buf, sizeof(buf));
            tvdc_host_free(h);
        }
    }
    free(img);
    tvdc_policy_free(q);
    tvdc_policy_free(p);
    return 0;
}
