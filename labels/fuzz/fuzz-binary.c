/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer: the compiled-policy loader.  Inputs are re-hashed first, so the
 * fuzzer explores the structural checks behind the hash instead of being
 * stopped by it: a forged image with a valid hash must still be refused or
 * be safe to use.
 */
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tvdc_policy *p = NULL;
    uint8_t *img;
    uint32_t types[4];

    img = malloc(size ? size : 1);
    if (!img)
        return 0;
    memcpy(img, data, size);
    if (size >= sizeof(tv_header) && (size & 1))
        tv_image_rehash(img, size);
    if (tvdc_policy_load_binary(img, size, &p, NULL) == 0) {
        for (uint32_t l = 0; l < tvdc_policy_n_labels(p); l++) {
            tvdc_verdict v;
            tvdc_label_types(p, l, types, 4);
            tvdc_decide_share(p, l, 0, &v);
            if (tvdc_policy_n_hosts(p))
                tvdc_decide_host(p, 0, l, &v);
            (void) tvdc_find_label(p, tvdc_label_name(p, l));
        }
        for (uint32_t t = 0; t < tvdc_policy_n_types(p); t++)
            (void) tvdc_find_type(p, tvdc_type_name(p, t));
    }
    tvdc_policy_free(p);
    free(img);
    return 0;
}
