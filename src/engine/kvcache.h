// KV cache of one attention instance: a fixed pool of pages allocated at init, handed
// to sequence slots on demand (STYLE: memory). A page holds page_size consecutive positions
// of one sequence for every layer. Per token and layer it stores n_k values of keys and
// n_v values of values (GQA: Hkv·hd each; MLA: the compressed latent, normed c_kv then the
// roped k_pe, kv_lora+qk_rope values, and n_v = 0) in the cache's type (F32, F16 or Q8_0;
// issue 12 item 3): a row is n_k / k_seg segments (heads) of k_seg values, each stored as
// one kernels.h KV vector (Q8_0: its own blocks). No allocation after init.
// Not thread-safe; owned by its attention instance (SPEC §3).
// SPDX-License-Identifier: MIT
#ifndef JANUS_KVCACHE_H
#define JANUS_KVCACHE_H

#include "base/base.h"
#include "kernels/kernels.h"

#include <stdint.h>

struct kvcache {
    int type; // enum kern_kvtype of keys and values
    int64_t n_layer;
    int64_t n_k, n_v;      // values per token per layer
    int64_t k_seg, v_seg;  // values per stored vector (a head; MLA: the whole row)
    int64_t k_row, v_row;  // bytes per token per layer (0 when n_v == 0)
    int64_t page_size;     // positions per page
    int64_t n_pages;       // pool size
    int64_t n_seq;         // sequence slots
    int64_t max_pages_seq; // pages one sequence may hold (max context / page_size)
    uint8_t *k;            // (n_layer, n_pages, page_size, k_row bytes)
    uint8_t *v;            // (n_layer, n_pages, page_size, v_row bytes); NULL when n_v == 0
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
    int64_t k_seg, v_seg; // values per stored vector, dividing n_k / n_v (0: the whole row)
    int type;             // enum kern_kvtype (0: F32)
    int64_t n_seq;        // sequence slots
    int64_t max_ctx;      // positions per sequence
    int64_t page_size;    // default 16
    int64_t n_pages;      // 0: n_seq · ceil(max_ctx / page_size) (never runs out)
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

// Row of (layer, seq, pos) in the cache's layout; pos must be reserved.
static inline uint8_t *kvcache_k(const struct kvcache *kv, int64_t layer, int64_t seq,
                                 int64_t pos) {
    const int64_t page = kv->seq_pages[seq * kv->max_pages_seq + pos / kv->page_size];
    return kv->k + ((layer * kv->n_pages + page) * kv->page_size + pos % kv->page_size) * kv->k_row;
}
static inline uint8_t *kvcache_v(const struct kvcache *kv, int64_t layer, int64_t seq,
                                 int64_t pos) {
    const int64_t page = kv->seq_pages[seq * kv->max_pages_seq + pos / kv->page_size];
    return kv->v + ((layer * kv->n_pages + page) * kv->page_size + pos % kv->page_size) * kv->v_row;
}
// Appends: stores the n_k (n_v) F32 values x as the key (value) row of (layer, seq, pos),
// converting to the cache's type segment by segment (kern_kv_store). pos must be reserved.
void kvcache_store_k(struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos, const float *x);
void kvcache_store_v(struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos, const float *x);
// The stored row widened to F32 (exactly what the attention kernels read): n_k (n_v) floats.
void kvcache_load_k(const struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos, float *y);
void kvcache_load_v(const struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos, float *y);
// Bytes of the key and value rows of one position over every layer (memory per position).
static inline int64_t kvcache_bytes_per_pos(const struct kvcache *kv) {
    return kv->n_layer * (kv->k_row + kv->v_row);
}

// Invariants: every page is free or owned by exactly one sequence whose table lists it
// once; free stack and owners agree; lengths fit the reserved pages. JANUS_OK or
// JANUS_EINVAL.
JANUS_WUR int kvcache_check(const struct kvcache *kv);

#endif // JANUS_KVCACHE_H
