// FNV-1a 64-bit digests, for determinism checks (schedule and layout digests compared
// across ranks, byte-identical outputs in tests).
// SPDX-License-Identifier: MIT
#ifndef JANUS_HASH_H
#define JANUS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_INIT 0xcbf29ce484222325ULL

uint64_t hash_fnv1a(uint64_t h, const void *data, size_t n);

#endif // JANUS_HASH_H
