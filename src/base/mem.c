// Counting allocator (mem.h). Each block carries a 16-byte header with its size and tag.
// Counters are atomic (thread-safe); the fault hook fails the Nth allocation for tests.
// SPDX-License-Identifier: MIT
#include "base/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct mem_header {
    size_t size;
    int32_t tag;
    int32_t pad;
};
_Static_assert(sizeof(struct mem_header) == 16, "header keeps 16-byte alignment");

static _Atomic int64_t g_live[MEM_TAG_COUNT];
static _Atomic uint64_t g_count;
static _Atomic uint64_t g_fail_at; // 0: off; else fail when count reaches it

static int should_fail(void) {
    uint64_t f = atomic_load(&g_fail_at);
    if (!f) return 0;
    if (atomic_fetch_sub(&g_fail_at, 1) == 1) return 1;
    return 0;
}

void *mem_alloc(enum mem_tag tag, size_t size) {
    if (size > SIZE_MAX - sizeof(struct mem_header) || should_fail()) return NULL;
    struct mem_header *h = malloc(sizeof *h + size);
    if (!h) return NULL;
    h->size = size;
    h->tag = (int32_t)tag;
    atomic_fetch_add(&g_live[tag], (int64_t)size);
    atomic_fetch_add(&g_count, 1);
    return h + 1;
}

void *mem_calloc(enum mem_tag tag, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = mem_alloc(tag, n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *mem_realloc(enum mem_tag tag, void *p, size_t size) {
    if (!p) return mem_alloc(tag, size);
    if (size > SIZE_MAX - sizeof(struct mem_header) || should_fail()) return NULL;
    struct mem_header *h = (struct mem_header *)p - 1;
    size_t old = h->size;
    int32_t old_tag = h->tag;
    struct mem_header *n = realloc(h, sizeof *n + size);
    if (!n) return NULL;
    atomic_fetch_sub(&g_live[old_tag], (int64_t)old);
    n->size = size;
    n->tag = (int32_t)tag;
    atomic_fetch_add(&g_live[tag], (int64_t)size);
    atomic_fetch_add(&g_count, 1);
    return n + 1;
}

void mem_free(void *p) {
    if (!p) return;
    struct mem_header *h = (struct mem_header *)p - 1;
    atomic_fetch_sub(&g_live[h->tag], (int64_t)h->size);
    free(h);
}

char *mem_strdup(enum mem_tag tag, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = mem_alloc(tag, n);
    if (d) memcpy(d, s, n);
    return d;
}

int64_t mem_live_bytes(enum mem_tag tag) { return atomic_load(&g_live[tag]); }
uint64_t mem_alloc_count(void) { return atomic_load(&g_count); }
void mem_fail_after(uint64_t n) { atomic_store(&g_fail_at, n); }

const char *mem_tag_name(enum mem_tag tag) {
    static const char *names[MEM_TAG_COUNT] = {"misc", "model", "engine", "kv",
                                               "comm", "sched", "server", "sim"};
    return (unsigned)tag < MEM_TAG_COUNT ? names[tag] : "?";
}
