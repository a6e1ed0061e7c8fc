// Local batch storage, validation and packing (batch.h).
// Allocates at init only; batch_add fails with JANUS_ELIMIT at the capacity.
// SPDX-License-Identifier: MIT
#include "engine/batch.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"

#include <string.h>

int batch_init(struct batch *b, int64_t cap) {
    memset(b, 0, sizeof *b);
    if (cap < 1 || cap > LIMIT_MAX_BATCH) return JANUS_EINVAL;
    b->token = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->token);
    b->seq = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->seq);
    b->pos = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->pos);
    b->logits = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->logits);
    b->sample = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->sample);
    b->free_seq = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->free_seq);
    b->start_seq = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->start_seq);
    if (!b->token || !b->seq || !b->pos || !b->logits || !b->sample || !b->free_seq ||
        !b->start_seq) {
        batch_free(b);
        return JANUS_ENOMEM;
    }
    b->cap = cap;
    return JANUS_OK;
}

void batch_free(struct batch *b) {
    mem_free(b->token);
    mem_free(b->seq);
    mem_free(b->pos);
    mem_free(b->logits);
    mem_free(b->sample);
    mem_free(b->free_seq);
    mem_free(b->start_seq);
    memset(b, 0, sizeof *b);
}

int batch_add_sampled(struct batch *b, int32_t token, int32_t seq, int32_t pos,
                      const struct sampler_params *sp) {
    if (b->n >= b->cap) return JANUS_ELIMIT;
    b->token[b->n] = token;
    b->seq[b->n] = seq;
    b->pos[b->n] = pos;
    b->logits[b->n] = sp != NULL;
    if (sp) b->sample[b->n_logits++] = *sp;
    b->n++;
    return JANUS_OK;
}

int batch_add(struct batch *b, int32_t token, int32_t seq, int32_t pos, int logits) {
    static const struct sampler_params greedy = {.temp = 0.0f, .top_k = 0, .top_p = 1.0f};
    return batch_add_sampled(b, token, seq, pos, logits ? &greedy : NULL);
}

int batch_append(struct batch *dst, const struct batch *src, int32_t seq_offset) {
    if (dst->n + src->n > dst->cap || dst->n_free + src->n_free > dst->cap ||
        dst->n_start + src->n_start > dst->cap)
        return JANUS_ELIMIT;
    memcpy(dst->token + dst->n, src->token, (size_t)src->n * sizeof *src->token);
    memcpy(dst->pos + dst->n, src->pos, (size_t)src->n * sizeof *src->pos);
    memcpy(dst->logits + dst->n, src->logits, (size_t)src->n * sizeof *src->logits);
    memcpy(dst->sample + dst->n_logits, src->sample, (size_t)src->n_logits * sizeof *src->sample);
    for (int64_t i = 0; i < src->n; i++)
        dst->seq[dst->n + i] = src->seq[i] + seq_offset;
    for (int32_t k = 0; k < src->n_free; k++)
        dst->free_seq[dst->n_free++] = src->free_seq[k] + seq_offset;
    for (int32_t k = 0; k < src->n_start; k++)
        dst->start_seq[dst->n_start++] = src->start_seq[k] + seq_offset;
    dst->n += src->n;
    dst->n_logits += src->n_logits;
    return JANUS_OK;
}

int batch_check(const struct batch *b, int32_t n_seq, int32_t n_vocab, int32_t n_ctx, char *err,
                size_t err_len) {
#define BAD(...) return status_errf(err, err_len, JANUS_EINVAL, __VA_ARGS__)
    if (b->n < 0 || b->n > b->cap) BAD("%lld rows out of range", (long long)b->n);
    if (b->n_free < 0 || b->n_free > b->cap) BAD("n_free %d out of range", b->n_free);
    if (b->n_start < 0 || b->n_start > b->cap) BAD("n_start %d out of range", b->n_start);
    for (int32_t k = 0; k < b->n_free; k++)
        if (b->free_seq[k] < 0 || b->free_seq[k] >= n_seq)
            BAD("free slot %d = %d out of range [0, %d)", k, b->free_seq[k], n_seq);
    for (int32_t k = 0; k < b->n_start; k++)
        if (b->start_seq[k] < 0 || b->start_seq[k] >= n_seq)
            BAD("start slot %d = %d out of range [0, %d)", k, b->start_seq[k], n_seq);
    int64_t n_logits = 0;
    for (int64_t r = 0; r < b->n; r++) {
        int32_t seq = b->seq[r];
        if (b->token[r] < 0 || b->token[r] >= n_vocab)
            BAD("row %lld: token %d out of range [0, %d)", (long long)r, b->token[r], n_vocab);
        if (seq < 0 || seq >= n_seq)
            BAD("row %lld: slot %d out of range [0, %d)", (long long)r, seq, n_seq);
        if (b->pos[r] < 0 || b->pos[r] >= n_ctx)
            BAD("row %lld: pos %d out of range [0, %d)", (long long)r, b->pos[r], n_ctx);
        if (r > 0 && b->seq[r - 1] == seq && b->pos[r - 1] + 1 != b->pos[r])
            BAD("row %lld: slot %d positions not consecutive (%d after %d)", (long long)r, seq,
                b->pos[r], b->pos[r - 1]);
        if (r > 0 && b->seq[r - 1] != seq) // a slot's rows must be one consecutive run
            for (int64_t q = 0; q < r - 1; q++)
                if (b->seq[q] == seq)
                    BAD("row %lld: slot %d appears in two runs", (long long)r, seq);
        if (b->logits[r] > 1) BAD("row %lld: logits flag %d", (long long)r, b->logits[r]);
        n_logits += b->logits[r];
    }
    if (n_logits != b->n_logits)
        BAD("n_logits %lld but %lld rows want logits", (long long)b->n_logits, (long long)n_logits);
    for (int64_t k = 0; k < b->n_logits; k++) {
        const struct sampler_params *s = &b->sample[k];
        if (!(s->temp >= 0.0f) || s->temp > 100.0f)
            BAD("sample %lld: temperature %g out of range [0, 100]", (long long)k, (double)s->temp);
        if (!(s->top_p > 0.0f && s->top_p <= 1.0f))
            BAD("sample %lld: top_p %g out of range (0, 1]", (long long)k, (double)s->top_p);
        if (s->top_k < 0) BAD("sample %lld: top_k %lld < 0", (long long)k, (long long)s->top_k);
    }
    return JANUS_OK;
#undef BAD
}

// ---- packing: int64 counts {n, n_logits, n_free, n_start}, then token, seq, pos (n each),
// logits (n bytes), sample (n_logits), free_seq (n_free), start_seq (n_start).

#define PACK_HDR (4 * sizeof(int64_t))

static size_t packed_size(int64_t n, int64_t n_logits, int64_t n_free, int64_t n_start) {
    return PACK_HDR + (size_t)n * (3 * sizeof(int32_t) + 1) +
           (size_t)n_logits * sizeof(struct sampler_params) +
           (size_t)(n_free + n_start) * sizeof(int32_t);
}

size_t batch_pack_max(int64_t cap) { return packed_size(cap, cap, cap, cap); }

#define PUT(src, bytes)                                                                            \
    do {                                                                                           \
        memcpy(p, (src), (bytes));                                                                 \
        p += (bytes);                                                                              \
    } while (0)
#define GET(dst, bytes)                                                                            \
    do {                                                                                           \
        memcpy((dst), p, (bytes));                                                                 \
        p += (bytes);                                                                              \
    } while (0)

int batch_pack(const struct batch *b, void *buf, size_t buf_len, size_t *n_out) {
    size_t need = packed_size(b->n, b->n_logits, b->n_free, b->n_start);
    if (need > buf_len) return JANUS_ELIMIT;
    uint8_t *p = buf;
    int64_t hdr[4] = {b->n, b->n_logits, b->n_free, b->n_start};
    size_t n = (size_t)b->n;
    PUT(hdr, sizeof hdr);
    PUT(b->token, n * sizeof *b->token);
    PUT(b->seq, n * sizeof *b->seq);
    PUT(b->pos, n * sizeof *b->pos);
    PUT(b->logits, n);
    PUT(b->sample, (size_t)b->n_logits * sizeof *b->sample);
    PUT(b->free_seq, (size_t)b->n_free * sizeof *b->free_seq);
    PUT(b->start_seq, (size_t)b->n_start * sizeof *b->start_seq);
    *n_out = need;
    return JANUS_OK;
}

int batch_unpack(struct batch *b, const void *buf, size_t len) {
    const uint8_t *p = buf;
    int64_t hdr[4];
    batch_clear(b);
    if (len < PACK_HDR) return JANUS_EPROTO;
    GET(hdr, sizeof hdr);
    for (int k = 0; k < 4; k++)
        if (hdr[k] < 0 || hdr[k] > b->cap) return JANUS_EPROTO;
    if (hdr[1] > hdr[0] || packed_size(hdr[0], hdr[1], hdr[2], hdr[3]) != len) return JANUS_EPROTO;
    size_t n = (size_t)hdr[0];
    GET(b->token, n * sizeof *b->token);
    GET(b->seq, n * sizeof *b->seq);
    GET(b->pos, n * sizeof *b->pos);
    GET(b->logits, n);
    GET(b->sample, (size_t)hdr[1] * sizeof *b->sample);
    GET(b->free_seq, (size_t)hdr[2] * sizeof *b->free_seq);
    GET(b->start_seq, (size_t)hdr[3] * sizeof *b->start_seq);
    b->n = hdr[0];
    b->n_logits = hdr[1];
    b->n_free = (int32_t)hdr[2];
    b->n_start = (int32_t)hdr[3];
    return JANUS_OK;
}
