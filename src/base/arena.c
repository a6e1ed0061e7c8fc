// Bump arena (arena.h).
// Memory is reserved once at init through mem.h; arena_alloc never calls malloc.
// SPDX-License-Identifier: MIT
#include "base/arena.h"

#include "base/status.h"

#include <string.h>

int arena_init(struct arena *a, enum mem_tag tag, size_t cap) {
    cap = (cap + 63) & ~(size_t)63;
    uint8_t *raw = mem_alloc(tag, cap + 128);
    if (!raw) return JANUS_ENOMEM;
    memset(a, 0, sizeof *a);
    // Keep the raw pointer just before the aligned base so arena_free can find it.
    uintptr_t p = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    a->base = (uint8_t *)p;
    memcpy(a->base - sizeof(void *), &raw, sizeof raw);
    a->cap = cap;
    return JANUS_OK;
}

void arena_free(struct arena *a) {
    if (a->base) {
        void *raw;
        memcpy(&raw, a->base - sizeof(void *), sizeof raw);
        mem_free(raw);
    }
    memset(a, 0, sizeof *a);
}

void *arena_alloc(struct arena *a, size_t n) {
    n = (n + 63) & ~(size_t)63;
    if (n > a->cap - a->used) return NULL;
    void *p = a->base + a->used;
    a->used += n;
    if (a->used > a->high) a->high = a->used;
    return p;
}

void arena_reset(struct arena *a) { a->used = 0; }
