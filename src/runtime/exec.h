// The EXECUTOR interface the controller drives (SPEC §2, §3): "run one step of the whole
// deployment for these per-attention-instance local batches and give me the sampled
// tokens". Two implementations: exec_mono.c (one process, the monolithic engine; the
// reference) and exec_mpi.c (the disaggregated MPI job; rank 0 calls it, the other ranks
// run worker loops). Every struct here is plain data with fixed-size arrays and no
// pointers, so it can be shipped over MPI as bytes (MPI_BYTE) between ranks of one build.
// SPDX-License-Identifier: MIT
#ifndef JANUS_EXEC_H
#define JANUS_EXEC_H

#include "base/base.h"
#include "base/limits.h"

#include <stdint.h>

// ---- limits of one local batch (per attention instance, per step)

// Rows (tokens) one attention instance may run in one step. The per-step token budget of
// the batcher (SPEC §3 "Ours", default 256) must be <= this.
#define EXEC_MAX_ROWS 1024
// KV slots (live sequences) per attention instance. Slot ids are 0..EXEC_MAX_SEQS-1.
// Bounds the sampled rows per step, and the slot start/free lists, of one instance.
#define EXEC_MAX_SEQS 256
// Layers and MoE instances reported in struct exec_stats.
#define EXEC_STATS_MAX_LAYERS 128
#define EXEC_STATS_MAX_MOE    64
#define EXEC_STATS_MAX_ATTN   64
// Exchange schemes counted in struct exec_stats (index = enum xfer_scheme value when comm/
// exists: 0 = 1PC, 1 = 2PC case 1, 2 = 2PC case 2; SPEC §4).
#define EXEC_N_SCHEMES 3

_Static_assert(EXEC_MAX_SEQS <= EXEC_MAX_ROWS, "a step may sample every live sequence");

// ---- one local batch

// One token row of a local batch. Rows of one sequence (slot) are consecutive and in
// increasing position; a prefill chunk is several rows of one slot, a decode step is one.
struct exec_row {
    int32_t token;    // input token id, 0 <= token < n_vocab
    int32_t slot;     // KV slot (sequence) on this attention instance, 0 <= slot < EXEC_MAX_SEQS
    int32_t pos;      // position in the sequence: the KV cache of slot holds exactly positions
                      // 0..pos-1 before this row runs, and 0..pos after it (no gaps, no reuse)
    int32_t i_sample; // index into exec_batch.samples whose token this row's logits produce,
                      // or -1 when the row needs no token (all prefill rows but the last)
};

// Sampling parameters of one row that needs a token. Sampling runs on the attention
// instance that owns the sequence (SPEC §3). Deterministic: the random draw uses
// rng_init3(seed, pos, 0) (base/rng.h) where pos is the row's position, so the token does
// not depend on which instance, batch or step the row ran in.
struct exec_sample {
    int32_t row;       // index into exec_batch.rows (whose i_sample == this index)
    int32_t top_k;     // 0 = off
    float temperature; // 0 = greedy (argmax; ties -> lowest id)
    float top_p;       // 1 = off; in (0, 1]
    uint64_t seed;
};

// One attention instance's local batch for one step. Before the rows run, the executor
// releases every slot in free_slots (their KV pages return to the pool) and then resets
// every slot in start_slots to an empty sequence. A slot may appear in both (reused at
// once). An instance with n_rows == 0 still takes part in the step (SPEC §3: empty local
// batches work) and still applies its start/free lists.
struct exec_batch {
    int32_t n_rows;                            // 0..EXEC_MAX_ROWS
    int32_t n_sample;                          // 0..EXEC_MAX_SEQS
    int32_t n_free;                            // 0..EXEC_MAX_SEQS
    int32_t n_start;                           // 0..EXEC_MAX_SEQS
    int32_t free_slots[EXEC_MAX_SEQS];         // (n_free)
    int32_t start_slots[EXEC_MAX_SEQS];        // (n_start)
    struct exec_sample samples[EXEC_MAX_SEQS]; // (n_sample)
    struct exec_row rows[EXEC_MAX_ROWS];       // (n_rows)
};

// What one attention instance returns from one step.
struct exec_result {
    int32_t n_sample;              // == the batch's n_sample
    int32_t tokens[EXEC_MAX_SEQS]; // (n_sample) sampled token of batch.samples[i]
};

// ---- deployment description and statistics

// Fixed facts about the deployment, valid from exec creation until destroy.
struct exec_info {
    int32_t n_attn; // attention instances (local batches per step)
    int32_t n_moe;  // MoE instances (1 for the monolithic executor)
    int32_t n_layer;
    int32_t n_vocab;
    int32_t n_ctx;        // max positions per sequence (KV cache length per slot)
    int32_t max_seqs;     // KV slots per attention instance, <= EXEC_MAX_SEQS
    int64_t kv_tokens;    // KV capacity per attention instance in tokens (all slots)
    char model_name[128]; // NUL-terminated (general.name, else the file's base name)
    char kernels[16];     // kernel table every process computes with ("ref", "avx2", ...)
};

// Counters since the executor was created (monotonic), plus the last step's per-layer view.
// Fields an executor cannot measure stay 0 (the monolithic executor has one MoE instance
// and no exchange, so its scheme counters stay 0).
struct exec_stats {
    uint64_t n_steps;       // steps run (including empty heartbeat steps)
    uint64_t step_ns_total; // wall time spent inside step, summed
    int32_t n_layer;        // entries used in the per-layer arrays (<= EXEC_STATS_MAX_LAYERS)
    int32_t n_moe;          // entries used in the per-MoE-instance arrays
    int32_t a_max_last[EXEC_STATS_MAX_LAYERS];   // a_max per layer in the last step (SPEC §2)
    uint64_t a_max_sum[EXEC_STATS_MAX_LAYERS];   // Σ over steps of a_max per layer
    uint64_t activated_sum[EXEC_STATS_MAX_MOE];  // Σ over steps and layers of a_g per instance
    int32_t activated_last[EXEC_STATS_MAX_MOE];  // Σ over layers of a_g in the last step
    uint64_t scheme_steps[EXEC_N_SCHEMES];       // steps that used each exchange scheme
    uint64_t scheme_msgs[EXEC_N_SCHEMES];        // messages sent under each scheme
    uint64_t scheme_bytes[EXEC_N_SCHEMES];       // bytes sent under each scheme
    int32_t n_attn;                              // entries used in kv_used_tokens
    int64_t kv_used_tokens[EXEC_STATS_MAX_ATTN]; // KV tokens held per attention instance
};

// ---- the interface

struct exec;

struct exec_ops {
    // Runs one step: batches and results have info.n_attn entries, entry i for attention
    // instance i. Returns JANUS_OK and fills every results[i]; JANUS_EINVAL if a batch
    // breaks the rules above (nothing ran, KV caches unchanged); JANUS_ECOMM if the
    // deployment failed (the executor is unusable afterwards; only destroy is valid).
    // Not thread-safe: one controller thread calls it. Under MPI only the controller rank
    // calls it; the executor broadcasts the step itself.
    int (*step)(struct exec *e, const struct exec_batch *batches, struct exec_result *results);
    // Optional (may be NULL): like step, but for every sample row copies the row's logits
    // (n_vocab floats) to logits[k * n_vocab], k counting samples over instances 0..n_attn-1
    // in order, instead of sampling (results still get the greedy token). For `janus run
    // --logits` and the equivalence tests.
    int (*step_logits)(struct exec *e, const struct exec_batch *batches,
                       struct exec_result *results, float *logits);
    // Fills *out with the current counters. JANUS_ECOMM as for step.
    int (*stats)(struct exec *e, struct exec_stats *out);
    // Ends the deployment (under MPI: tells worker ranks to leave their loops) and frees
    // everything the executor owns. Safe to call after a failed step.
    void (*destroy)(struct exec *e);
};

// Implementations embed this as their first member (container_of is not needed).
struct exec {
    const struct exec_ops *ops;
    struct exec_info info;
};

// Convenience wrappers (do nothing but call ops; see exec_ops for contracts).
static inline JANUS_WUR int exec_step(struct exec *e, const struct exec_batch *b,
                                      struct exec_result *r) {
    return e->ops->step(e, b, r);
}
static inline JANUS_WUR int exec_stats(struct exec *e, struct exec_stats *out) {
    return e->ops->stats(e, out);
}
static inline void exec_destroy(struct exec **e) {
    if (*e) (*e)->ops->destroy(*e);
    *e = NULL;
}

// Checks a batch against the rules above and info (slot/row/sample ranges, row order,
// i_sample/row cross-references, n_vocab). Returns JANUS_OK or JANUS_EINVAL and writes the
// first violation into err. Executors call it before running a step.
JANUS_WUR int exec_batch_check(const struct exec_batch *b, const struct exec_info *info, char *err,
                               size_t err_len);

// Resets b to an empty batch (all counts 0). Touches only the counts, not the arrays.
void exec_batch_clear(struct exec_batch *b);

// ---- monolithic executor (exec_mono.c)

struct exec_mono_params {
    const char *model_path; // GGUF file
    int32_t n_threads;      // 0 = all cores
    int32_t n_attn;         // local batches per step; all run in this one process (>= 1)
    int32_t max_seqs;       // KV slots per attention instance (<= EXEC_MAX_SEQS)
    int32_t max_rows;       // rows per instance per step (the batcher's token budget)
    int32_t n_ctx;          // 0 = the model's context length, capped at 4096
};

// Opens the model and builds the monolithic engine. On failure returns a negative status,
// writes a one-line reason into err and leaves *out NULL. Destroy with exec_destroy.
JANUS_WUR int exec_mono_create(const struct exec_mono_params *p, struct exec **out, char *err,
                               size_t err_len);

#endif // JANUS_EXEC_H
