// One step's local batch of an attention instance (SPEC §3), the one representation from
// the batcher to the engine: structure-of-arrays rows (token id, sequence slot, position,
// logits wanted), the sampling parameters of every row with logits, and the sequences to
// release or restart before the rows run. The batcher fills it, executors validate it
// (batch_check), ship it over MPI packed to the rows in use (batch_pack / batch_unpack) and
// hand it unchanged to the engine. Tokens of one sequence are one run in increasing
// position; prefill chunks and decode rows of different sequences mix freely.
// Capacity is fixed at init (no step-time malloc).
// SPDX-License-Identifier: MIT
#ifndef JANUS_BATCH_H
#define JANUS_BATCH_H

#include "base/base.h"
#include "base/limits.h"
#include "model/sampler.h"

#include <stddef.h>
#include <stdint.h>

struct batch {
    int64_t n;        // rows in use
    int64_t cap;      // capacity in rows
    int64_t n_logits; // rows with logits set (maintained by batch_add)
    int32_t *token;   // (cap) token ids
    int32_t *seq;     // (cap) sequence slot (KV cache owner)
    int32_t *pos;     // (cap) position within the sequence (0 = first token): the KV cache
                      // of seq holds exactly 0..pos-1 before the row runs (no gaps, no reuse)
    uint8_t *logits;  // (cap) 1: compute this row's logits (and sample a token from them)
    // Sampling of the k-th row with logits (batch order), k < n_logits. The draw is
    // seeded with (seed, pos) (sampler_sample_at), so a token does not depend on which
    // instance, batch or step its row ran in.
    struct sampler_params *sample; // (cap)
    // Before the rows run, the executor releases every sequence in free_seq (KV pages back
    // to the pool), then resets every sequence in start_seq to empty (one may be in both).
    int32_t n_free, n_start;
    int32_t *free_seq;  // (cap) (n_free)
    int32_t *start_seq; // (cap) (n_start)
};

// The tokens sampled from one batch: one per row with logits, in row order.
struct batch_result {
    int32_t n_sample;               // == the batch's n_logits
    int32_t tokens[LIMIT_MAX_SEQS]; // (n_sample) token sampled from the k-th row with logits
};

// Allocates room for cap rows (and cap entries in each slot list). JANUS_OK /
// JANUS_ENOMEM / JANUS_EINVAL (cap < 1).
JANUS_WUR int batch_init(struct batch *b, int64_t cap);
void batch_free(struct batch *b);
// Empties the rows and the slot lists.
static inline void batch_clear(struct batch *b) { b->n = b->n_logits = b->n_free = b->n_start = 0; }
// Appends one row. A row with logits gets greedy sampling (batch_add_sampled sets other
// parameters). JANUS_ELIMIT when full (batch unchanged).
JANUS_WUR int batch_add(struct batch *b, int32_t token, int32_t seq, int32_t pos, int logits);
// Appends one row with logits, sampled with *sp.
JANUS_WUR int batch_add_sampled(struct batch *b, int32_t token, int32_t seq, int32_t pos,
                                const struct sampler_params *sp);
// Number of rows with logits set.
static inline int64_t batch_n_logits(const struct batch *b) { return b->n_logits; }
// Appends all rows and slot lists of src to dst with every sequence id shifted by
// seq_offset (one process running several instances' batches as one step).
JANUS_WUR int batch_append(struct batch *dst, const struct batch *src, int32_t seq_offset);

// Checks b against the rules above: sequences in [0, n_seq), tokens in [0, n_vocab),
// positions in [0, n_ctx), one consecutive run per sequence, n_logits equal to the rows
// with logits, sampling parameters in range. JANUS_OK or JANUS_EINVAL with the first
// violation in err.
JANUS_WUR int batch_check(const struct batch *b, int32_t n_seq, int32_t n_vocab, int32_t n_ctx,
                          char *err, size_t err_len);

// Packed form for shipping between processes of one build: counts, then the rows in use,
// the sampling of the rows with logits and the slot lists (no unused capacity).
// batch_pack_max(cap) bounds the packed size of any batch of capacity cap.
size_t batch_pack_max(int64_t cap);
// Writes b into buf (buf_len bytes) and its length into *n_out. JANUS_ELIMIT if it does
// not fit.
JANUS_WUR int batch_pack(const struct batch *b, void *buf, size_t buf_len, size_t *n_out);
// Reads a packed batch of exactly len bytes into b (within b's capacity). JANUS_EPROTO if
// the counts or the length are inconsistent (b is left empty then). Contents are not
// validated: call batch_check.
JANUS_WUR int batch_unpack(struct batch *b, const void *buf, size_t len);

#endif // JANUS_BATCH_H
