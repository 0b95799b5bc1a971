/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hashes of libtvdc: SHA-256 (policy identity) and the name tables' FNV-1a. */
#include <openssl/evp.h>

#include "internal.h"

int
tv_sha256(const void *buf, size_t len, uint8_t out[32])
{
    unsigned int n = 0;

    if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return -EIO;
    return 0;
}

uint64_t
tv_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++) {
        h ^= (uint8_t) *s;
        h *= 0x100000001b3ULL;
    }
    return h;
}
