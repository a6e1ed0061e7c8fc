// Allocation wrappers: every allocation in src/ goes through these, so bytes are counted
// per subsystem (exported on /metrics) and tests can fail the Nth allocation
// (sqlite FAULTSIM) or assert that a step loop allocated nothing (STYLE: memory).
// Thread-safe (atomic counters).
// SPDX-License-Identifier: MIT
#ifndef JANUS_MEM_H
#define JANUS_MEM_H

#include <stddef.h>
#include <stdint.h>

enum mem_tag {
    MEM_TAG_MISC = 0,
    MEM_TAG_MODEL,
    MEM_TAG_ENGINE,
    MEM_TAG_KV,
    MEM_TAG_COMM,
    MEM_TAG_SCHED,
    MEM_TAG_SERVER,
    MEM_TAG_SIM,
    MEM_TAG_COUNT,
};

// Return NULL on failure (or when the failure hook fires); never abort.
void *mem_alloc(enum mem_tag tag, size_t size);
void *mem_calloc(enum mem_tag tag, size_t n, size_t size); // overflow-checked
void *mem_realloc(enum mem_tag tag, void *p, size_t size);
void mem_free(void *p);
char *mem_strdup(enum mem_tag tag, const char *s);

// Bytes currently live for a tag, and the number of successful allocation calls so far
// (all tags): a test snapshots mem_alloc_count() around a step to prove "no malloc".
int64_t mem_live_bytes(enum mem_tag tag);
uint64_t mem_alloc_count(void);
const char *mem_tag_name(enum mem_tag tag);

// Test hook: the n-th allocation from now (1 = the next) fails; 0 disables.
void mem_fail_after(uint64_t n);

#endif // JANUS_MEM_H
