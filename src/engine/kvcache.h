// F32 KV cache of one attention instance: a fixed pool of pages allocated at init, handed
// to sequence slots on demand (STYLE: memory). A page holds page_size consecutive positions
// of one sequence for every layer. Per token and layer it stores n_k floats of keys and
// n_v floats of values (GQA: Hkv·hd each; MLA: the compressed latent, normed c_kv then the
// roped k_pe, kv_lora+qk_rope floats, and n_v = 0). No allocation after init.
// Not thread-safe; owned by its attention instance (SPEC §3).
// SPDX-License-Identifier: MIT
#ifndef JANUS_KVCACHE_H
#define JANUS_KVCACHE_H

#include "base/base.h"

#include <stdint.h>

struct kvcache {
    int64_t n_layer;
    int64_t n_k, n_v;      // floats per token per layer
    int64_t page_size;     // positions per page
    int64_t n_pages;       // pool size
    int64_t n_seq;         // sequence slots
    int64_t max_pages_seq; // pages one sequence may hold (max context / page_size)
    float *k;              // (n_layer, n_pages, page_size, n_k)
    float *v;              // (n_layer, n_pages, page_size, n_v); NULL when n_v == 0
    int32_t *page_owner;   // (n_pages) owning seq slot, -1 free
    int32_t *seq_pages;    // (n_seq, max_pages_seq) page ids, -1 unused
    int64_t *seq_len;      // (n_seq) positions written (committed)
    int64_t *seq_n_pages;  // (n_seq) pages held
    int32_t *free_pages;   // (n_pages) stack of free page ids
    int64_t n_free;
    uint8_t *mark; // (n_pages) scratch for kvcache_check
};

struct kvcache_params {
    int64_t n_layer, n_k, n_v;
    int64_t n_seq;     // sequence slots
    int64_t max_ctx;   // positions per sequence
    int64_t page_size; // default 16
    int64_t n_pages;   // 0: n_seq · ceil(max_ctx / page_size) (never runs out)
};

// Allocates the pool. JANUS_OK, JANUS_EINVAL (bad sizes), JANUS_ENOMEM; on failure *kv is
// zeroed.
JANUS_WUR int kvcache_init(struct kvcache *kv, const struct kvcache_params *p);
void kvcache_free(struct kvcache *kv);

// Makes positions [0, n_pos) of seq addressable, taking pages from the pool. JANUS_EINVAL
// (bad seq), JANUS_ELIMIT (more than max_pages_seq pages, i.e. max_ctx rounded up to whole
// pages; or pool exhausted: nothing taken). attn.c enforces max_ctx exactly.
JANUS_WUR int kvcache_seq_reserve(struct kvcache *kv, int64_t seq, int64_t n_pos);
// Pages kvcache_seq_reserve(kv, seq, n_pos) would take from the pool (0 if already
// reserved), or -1 if n_pos exceeds the per-sequence maximum. Lets a batcher admit work
// only when kv->n_free covers it.
int64_t kvcache_pages_needed(const struct kvcache *kv, int64_t seq, int64_t n_pos);
// Returns every page of seq to the pool and sets its length to 0.
void kvcache_seq_free(struct kvcache *kv, int64_t seq);
static inline int64_t kvcache_seq_len(const struct kvcache *kv, int64_t seq) {
    return kv->seq_len[seq];
}
// Sets the committed length (positions < len hold valid entries; len within reserved).
void kvcache_seq_set_len(struct kvcache *kv, int64_t seq, int64_t len);

// Row pointers for (layer, seq, pos); pos must be reserved.
static inline float *kvcache_k(const struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos) {
    const int64_t page = kv->seq_pages[seq * kv->max_pages_seq + pos / kv->page_size];
    return kv->k + ((layer * kv->n_pages + page) * kv->page_size + pos % kv->page_size) * kv->n_k;
}
static inline float *kvcache_v(const struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos) {
    const int64_t page = kv->seq_pages[seq * kv->max_pages_seq + pos / kv->page_size];
    return kv->v + ((layer * kv->n_pages + page) * kv->page_size + pos % kv->page_size) * kv->n_v;
}

// Invariants: every page is free or owned by exactly one sequence whose table lists it
// once; free stack and owners agree; lengths fit the reserved pages. JANUS_OK or
// JANUS_EINVAL.
JANUS_WUR int kvcache_check(const struct kvcache *kv);

#endif // JANUS_KVCACHE_H
