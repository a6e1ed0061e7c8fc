// FNV-1a (hash.h).
// Pure and allocation-free; the digests are stable across platforms and runs.
// SPDX-License-Identifier: MIT
#include "base/hash.h"

uint64_t hash_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
