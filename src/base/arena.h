// Bump arena: one reservation at init sized from the worst case, reset every step, no
// per-object free (ggml context / gallocr). Allocation never calls malloc; running out is
// a sizing bug reported as NULL (callers assert).
// SPDX-License-Identifier: MIT
#ifndef JANUS_ARENA_H
#define JANUS_ARENA_H

#include "base/base.h"
#include "base/mem.h"

struct arena {
    uint8_t *base; // (cap) bytes, 64-byte aligned
    size_t cap;
    size_t used;
    size_t high; // high-water mark since init
};

// Reserves cap bytes. Returns JANUS_OK or JANUS_ENOMEM (arena left empty).
JANUS_WUR int arena_init(struct arena *a, enum mem_tag tag, size_t cap);
void arena_free(struct arena *a);
// Returns 64-byte aligned memory of n bytes, or NULL if the arena is full.
void *arena_alloc(struct arena *a, size_t n);
// Typed helper: n floats.
static inline float *arena_floats(struct arena *a, int64_t n) {
    return (float *)arena_alloc(a, (size_t)n * sizeof(float));
}
void arena_reset(struct arena *a);

#endif // JANUS_ARENA_H
