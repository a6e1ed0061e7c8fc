// Paged KV cache in F32, F16 or Q8_0 (kvcache.h).
// The page pool is allocated at init; reserve/free only move pages (SPEC §3).
// SPDX-License-Identifier: MIT
#include "engine/kvcache.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"

#include <string.h>

int kvcache_init(struct kvcache *kv, const struct kvcache_params *p) {
    memset(kv, 0, sizeof *kv);
    const int64_t ps = p->page_size > 0 ? p->page_size : 16;
    if (p->n_layer < 1 || p->n_k < 1 || p->n_v < 0 || p->n_seq < 1 || p->max_ctx < 1 ||
        p->max_ctx > LIMIT_MAX_CONTEXT || p->n_seq > LIMIT_MAX_BATCH || p->n_pages < 0 ||
        p->type < 0 || p->type >= KERN_KV_COUNT || p->k_seg < 0 || p->v_seg < 0)
        return JANUS_EINVAL;
    const int64_t k_seg = p->k_seg > 0 ? p->k_seg : p->n_k;
    const int64_t v_seg = p->v_seg > 0 ? p->v_seg : p->n_v;
    if (p->n_k % k_seg || (p->n_v > 0 && p->n_v % v_seg)) return JANUS_EINVAL;
    const int64_t mps = (p->max_ctx + ps - 1) / ps;
    const int64_t np = p->n_pages > 0 ? p->n_pages : p->n_seq * mps;
    kv->n_layer = p->n_layer;
    kv->type = p->type;
    kv->n_k = p->n_k;
    kv->n_v = p->n_v;
    kv->k_seg = k_seg;
    kv->v_seg = v_seg;
    kv->k_row = p->n_k / k_seg * kern_kv_bytes(p->type, k_seg);
    kv->v_row = p->n_v > 0 ? p->n_v / v_seg * kern_kv_bytes(p->type, v_seg) : 0;
    kv->page_size = ps;
    kv->n_pages = np;
    kv->n_seq = p->n_seq;
    kv->max_pages_seq = mps;
    const size_t rows = (size_t)p->n_layer * (size_t)np * (size_t)ps;
    kv->k = mem_calloc(MEM_TAG_KV, rows, (size_t)kv->k_row);
    if (p->n_v > 0) kv->v = mem_calloc(MEM_TAG_KV, rows, (size_t)kv->v_row);
    kv->page_owner = mem_alloc(MEM_TAG_KV, (size_t)np * sizeof(int32_t));
    kv->seq_pages = mem_alloc(MEM_TAG_KV, (size_t)(p->n_seq * mps) * sizeof(int32_t));
    kv->seq_len = mem_calloc(MEM_TAG_KV, (size_t)p->n_seq, sizeof(int64_t));
    kv->seq_n_pages = mem_calloc(MEM_TAG_KV, (size_t)p->n_seq, sizeof(int64_t));
    kv->free_pages = mem_alloc(MEM_TAG_KV, (size_t)np * sizeof(int32_t));
    kv->mark = mem_alloc(MEM_TAG_KV, (size_t)np);
    if (!kv->mark || !kv->k || (p->n_v > 0 && !kv->v) || !kv->page_owner || !kv->seq_pages ||
        !kv->seq_len || !kv->seq_n_pages || !kv->free_pages) {
        kvcache_free(kv);
        return JANUS_ENOMEM;
    }
    for (int64_t i = 0; i < np; i++) {
        kv->page_owner[i] = -1;
        kv->free_pages[i] = (int32_t)(np - 1 - i); // pop order 0, 1, 2, ...
    }
    kv->n_free = np;
    for (int64_t i = 0; i < p->n_seq * mps; i++)
        kv->seq_pages[i] = -1;
    return JANUS_OK;
}

void kvcache_free(struct kvcache *kv) {
    mem_free(kv->k);
    mem_free(kv->v);
    mem_free(kv->page_owner);
    mem_free(kv->seq_pages);
    mem_free(kv->seq_len);
    mem_free(kv->seq_n_pages);
    mem_free(kv->free_pages);
    mem_free(kv->mark);
    memset(kv, 0, sizeof *kv);
}

int kvcache_seq_reserve(struct kvcache *kv, int64_t seq, int64_t n_pos) {
    if (seq < 0 || seq >= kv->n_seq || n_pos < 0) return JANUS_EINVAL;
    const int64_t need = (n_pos + kv->page_size - 1) / kv->page_size;
    if (need > kv->max_pages_seq) return JANUS_ELIMIT;
    const int64_t have = kv->seq_n_pages[seq];
    if (need <= have) return JANUS_OK;
    if (need - have > kv->n_free) return JANUS_ELIMIT;
    for (int64_t i = have; i < need; i++) {
        const int32_t page = kv->free_pages[--kv->n_free];
        kv->page_owner[page] = (int32_t)seq;
        kv->seq_pages[seq * kv->max_pages_seq + i] = page;
    }
    kv->seq_n_pages[seq] = need;
    return JANUS_OK;
}

int64_t kvcache_pages_needed(const struct kvcache *kv, int64_t seq, int64_t n_pos) {
    JANUS_ASSERT(seq >= 0 && seq < kv->n_seq && n_pos >= 0);
    const int64_t need = (n_pos + kv->page_size - 1) / kv->page_size;
    if (need > kv->max_pages_seq) return -1;
    return need > kv->seq_n_pages[seq] ? need - kv->seq_n_pages[seq] : 0;
}

void kvcache_seq_free(struct kvcache *kv, int64_t seq) {
    JANUS_ASSERT(seq >= 0 && seq < kv->n_seq);
    for (int64_t i = kv->seq_n_pages[seq] - 1; i >= 0; i--) {
        int32_t *slot = &kv->seq_pages[seq * kv->max_pages_seq + i];
        kv->page_owner[*slot] = -1;
        kv->free_pages[kv->n_free++] = *slot;
        *slot = -1;
    }
    kv->seq_n_pages[seq] = 0;
    kv->seq_len[seq] = 0;
}

void kvcache_seq_set_len(struct kvcache *kv, int64_t seq, int64_t len) {
    JANUS_ASSERT(seq >= 0 && seq < kv->n_seq);
    JANUS_ASSERT(len >= 0 && len <= kv->seq_n_pages[seq] * kv->page_size);
    kv->seq_len[seq] = len;
}

// A row of n values in segments of seg values, stored or loaded one segment at a time.
static void row_store(int type, uint8_t *dst, const float *x, int64_t n, int64_t seg) {
    const int64_t sb = kern_kv_bytes(type, seg);
    for (int64_t s = 0; s < n / seg; s++)
        kern_kv_store(type, dst + s * sb, x + s * seg, seg);
}
static void row_load(int type, float *y, const uint8_t *src, int64_t n, int64_t seg) {
    const int64_t sb = kern_kv_bytes(type, seg);
    for (int64_t s = 0; s < n / seg; s++)
        kern_kv_load(type, y + s * seg, src + s * sb, seg);
}

void kvcache_store_k(struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos, const float *x) {
    row_store(kv->type, kvcache_k(kv, layer, seq, pos), x, kv->n_k, kv->k_seg);
}
void kvcache_store_v(struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos, const float *x) {
    if (kv->n_v > 0) row_store(kv->type, kvcache_v(kv, layer, seq, pos), x, kv->n_v, kv->v_seg);
}
void kvcache_load_k(const struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos, float *y) {
    row_load(kv->type, y, kvcache_k(kv, layer, seq, pos), kv->n_k, kv->k_seg);
}
void kvcache_load_v(const struct kvcache *kv, int64_t layer, int64_t seq, int64_t pos, float *y) {
    if (kv->n_v > 0) row_load(kv->type, y, kvcache_v(kv, layer, seq, pos), kv->n_v, kv->v_seg);
}

int kvcache_check(const struct kvcache *kv) {
    if (kv->n_free < 0 || kv->n_free > kv->n_pages) return JANUS_EINVAL;
    // mark[p]: 1 seen in the free stack, 2 seen in a sequence table.
    memset(kv->mark, 0, (size_t)kv->n_pages);
    for (int64_t i = 0; i < kv->n_free; i++) {
        const int32_t p = kv->free_pages[i];
        if (p < 0 || p >= kv->n_pages || kv->page_owner[p] != -1 || kv->mark[p])
            return JANUS_EINVAL;
        kv->mark[p] = 1;
    }
    for (int64_t s = 0; s < kv->n_seq; s++) {
        const int64_t np = kv->seq_n_pages[s];
        if (np < 0 || np > kv->max_pages_seq) return JANUS_EINVAL;
        if (kv->seq_len[s] < 0 || kv->seq_len[s] > np * kv->page_size) return JANUS_EINVAL;
        for (int64_t i = 0; i < kv->max_pages_seq; i++) {
            const int32_t p = kv->seq_pages[s * kv->max_pages_seq + i];
            if (i >= np) {
                if (p != -1) return JANUS_EINVAL;
                continue;
            }
            if (p < 0 || p >= kv->n_pages || kv->page_owner[p] != s || kv->mark[p])
                return JANUS_EINVAL;
            kv->mark[p] = 2;
        }
    }
    for (int64_t p = 0; p < kv->n_pages; p++)
        if (!kv->mark[p]) return JANUS_EINVAL; // neither free nor owned: leaked
    return JANUS_OK;
}
