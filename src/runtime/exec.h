// The EXECUTOR interface the controller drives (SPEC §2, §3): "run one step of the whole
// deployment for these per-attention-instance local batches (engine/batch.h) and give me the
// sampled tokens". Two implementations: exec_mono.c (one process, the monolithic engine;
// the reference) and worker_mpi.c (the disaggregated MPI job; rank 0 calls it, the other
// ranks run worker loops). Also the one KV-position mirror both executors check batches
// against (struct exec_kv).
// SPDX-License-Identifier: MIT
#ifndef JANUS_EXEC_H
#define JANUS_EXEC_H

#include "base/base.h"
#include "base/fmap.h"
#include "base/limits.h"
#include "base/status.h"
#include "engine/batch.h"

#include <stddef.h>
#include <stdint.h>

// Exchange schemes counted in struct exec_stats (index = enum xfer_scheme value: 0 = 1PC,
// 1 = 2PC case 1, 2 = 2PC case 2; SPEC §4).
#define EXEC_N_SCHEMES 3

// ---- one step: batches in, results out (struct batch, struct batch_result: engine/batch.h)

// One attention instance's local batch for one step is a struct batch whose sequence ids
// are that instance's KV slots (0 <= slot < exec_info.max_seqs); its struct batch_result
// gets the sampled tokens. An instance with no rows still takes part in the step (SPEC §3:
// empty local batches work) and still applies its free/start lists.

// ---- deployment description and statistics

// Fixed facts about the deployment, valid from exec creation until destroy.
struct exec_info {
    int32_t n_attn; // attention instances (local batches per step)
    int32_t n_moe;  // MoE instances (1 for the monolithic executor)
    int32_t n_layer;
    int32_t n_vocab;
    int32_t n_ctx;        // max positions per sequence (KV cache length per slot)
    int32_t max_seqs;     // KV slots per attention instance, <= LIMIT_MAX_SEQS
    int64_t kv_tokens;    // KV capacity per attention instance in tokens (all slots)
    char model_name[128]; // NUL-terminated (general.name, else the file's base name)
    char kernels[16];     // kernel table every process computes with ("ref", "avx2", ...)
    char matmul[8];       // numeric path of quantized-weight products ("exact", "int8";
                          // engine/linear.h), the same on every process
};

// Counters since the executor was created (monotonic), plus the last step's per-layer view.
// Fields an executor cannot measure stay 0 (the monolithic executor has one MoE instance
// and no exchange, so its scheme counters stay 0).
struct exec_stats {
    uint64_t n_steps;       // steps run (including empty heartbeat steps)
    uint64_t step_ns_total; // wall time spent inside step, summed
    int32_t n_layer;        // entries used in the per-layer arrays (<= LIMIT_MAX_LAYERS)
    int32_t n_moe;          // entries used in the per-MoE-instance arrays
    int32_t a_max_last[LIMIT_MAX_LAYERS];        // a_max per layer in the last step (SPEC §2)
    uint64_t a_max_sum[LIMIT_MAX_LAYERS];        // Σ over steps of a_max per layer
    uint64_t activated_sum[LIMIT_MAX_INSTANCES]; // Σ over steps and layers of a_g per instance
    int32_t activated_last[LIMIT_MAX_INSTANCES]; // Σ over layers of a_g in the last step
    uint64_t scheme_steps[EXEC_N_SCHEMES];       // steps that used each exchange scheme
    uint64_t scheme_msgs[EXEC_N_SCHEMES];        // messages sent under each scheme
    uint64_t scheme_bytes[EXEC_N_SCHEMES];       // bytes sent under each scheme
    uint64_t mode_steps[2];                      // steps per dispatch mode (broadcast, selective)
    uint64_t mode_msgs[2], mode_bytes[2];        // messages and bytes sent under each mode
    int32_t n_attn;                              // entries used in kv_used_tokens
    int64_t kv_used_tokens[LIMIT_MAX_INSTANCES]; // KV tokens held per attention instance
};

// ---- live re-placement (issue 16 item 2; docs/PROTOCOL.md "Live re-placement")

enum exec_replace_state {
    EXEC_REPLACE_UNCHANGED = 0, // nothing started: same layout, too small a gain, or a dry run
    EXEC_REPLACE_LOADING = 1,   // the new layout is out; the MoE ranks load their new slabs
    EXEC_REPLACE_SWITCHED = 2,  // every rank runs the new layout from switch_step on
    EXEC_REPLACE_FAILED = 3,    // dropped (a rank could not load or check it); the old stays
    EXEC_REPLACE_PLANNING = 4,  // the statistics are in; the layout is being computed
};

struct exec_replace_report {
    int32_t state;          // enum exec_replace_state
    uint64_t switch_step;   // SWITCHED: the first step run with the new layout
    double amax_before;     // predicted a_max of the current / new layout on the MoE ranks'
    double amax_after;      // decayed statistics (place/drift.h)
    int32_t layers_changed; // MoE layers whose placement differs
    int32_t n_moe_layers;
    double plan_ms;          // statistics gathered, the layout computed (and sent)
    uint64_t load_bytes;     // SWITCHED: expert bytes loaded, summed over the MoE ranks
    char why[JANUS_ERR_LEN]; // UNCHANGED / FAILED: why
    int32_t refused;         // FAILED before any rank was told: 1 if the statistics were
                             // refused (none yet, ...: a conflict, not an internal error)
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
    int (*step)(struct exec *e, const struct batch *batches, struct batch_result *results);
    // Optional (may be NULL): like step (tokens sampled as usual), and also copies every
    // row-with-logits' logits (n_vocab floats) to logits[k * n_vocab], k counting those rows
    // over instances 0..n_attn-1 in order. For `janus run --logits` and the equivalence
    // tests.
    int (*step_logits)(struct exec *e, const struct batch *batches, struct batch_result *results,
                       float *logits);
    // Fills *out with the current counters. JANUS_ECOMM as for step.
    int (*stats)(struct exec *e, struct exec_stats *out);
    // Optional (NULL: this executor cannot re-place, e.g. the monolithic one). Starts a live
    // re-placement: gathers the decayed statistics and starts computing the Janus layout for
    // them beside the steps (out: PLANNING); replace_poll then, unless dry_run or it is the
    // current one or its predicted a_max improves by less than min_gain (a fraction; 0: any
    // change), sends it to every rank, which start loading their new share. JANUS_OK with
    // out filled; JANUS_EAGAIN (one is under way), JANUS_EINVAL (no statistics yet...; err
    // says why; nothing started); JANUS_ECOMM as for step.
    int (*replace_begin)(struct exec *e, double min_gain, int dry_run,
                         struct exec_replace_report *out, char *err, size_t err_len);
    // Between steps, while one is PLANNING or LOADING. PLANNING: still computing (out:
    // PLANNING), or done: UNCHANGED (as above: why says which), FAILED (the layout could not
    // be built), or the layout sent (LOADING). LOADING: asks every rank whether its new share
    // is loaded; when all are, every rank switches before the next step (out: SWITCHED); a
    // rank that failed makes every rank drop it (FAILED); else LOADING. JANUS_ECOMM as for
    // step.
    int (*replace_poll)(struct exec *e, struct exec_replace_report *out);
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
static inline JANUS_WUR int exec_step(struct exec *e, const struct batch *b,
                                      struct batch_result *r) {
    return e->ops->step(e, b, r);
}
static inline JANUS_WUR int exec_stats(struct exec *e, struct exec_stats *out) {
    return e->ops->stats(e, out);
}
static inline void exec_destroy(struct exec **e) {
    if (*e) (*e)->ops->destroy(*e);
    *e = NULL;
}

// Checks one instance's batch against info: batch_check with slots < max_seqs, tokens <
// n_vocab, positions < n_ctx, and at most max_seqs rows with logits. Returns JANUS_OK
// or JANUS_EINVAL and writes the first violation into err.
JANUS_WUR int exec_batch_check(const struct batch *b, const struct exec_info *info, char *err,
                               size_t err_len);

// ---- the KV-position mirror (the controller's view of every KV slot's length)

// Positions held per slot of every attention instance, as the executor's steps left them.
// Both executors run every step through it: exec_kv_check before (nothing runs if it
// fails), exec_kv_commit after.
struct exec_kv {
    int32_t n_attn, max_seqs, max_rows;
    int32_t *len; // (n_attn * max_seqs) positions held by slot s of instance i at [i*max_seqs+s]
};

JANUS_WUR int exec_kv_init(struct exec_kv *kv, const struct exec_info *info, int32_t max_rows);
void exec_kv_free(struct exec_kv *kv);
// Checks a whole step (batches[0..n_attn)): each batch by exec_batch_check, at most
// max_rows rows, and every run of a slot starts exactly where the slot's KV ends after the
// batch's frees and starts (no gap, no rewrite). JANUS_OK or JANUS_EINVAL (reason in err).
JANUS_WUR int exec_kv_check(const struct exec_kv *kv, const struct exec_info *info,
                            const struct batch *batches, char *err, size_t err_len);
// Records a completed step: frees and starts, then each row's position.
void exec_kv_commit(struct exec_kv *kv, const struct batch *batches);
// KV tokens held by instance i.
int64_t exec_kv_used(const struct exec_kv *kv, int32_t i);

// ---- monolithic executor (exec_mono.c)

struct exec_mono_params {
    const char *model_path; // GGUF file
    struct fmap_opts io;    // memory mode, --mlock, progress line (base/fmap.h); zero: defaults
    int32_t n_threads;      // 0 = all cores
    int32_t n_attn;         // local batches per step; all run in this one process (>= 1)
    int32_t max_seqs;       // KV slots per attention instance (<= LIMIT_MAX_SEQS)
    int32_t max_rows;       // rows per instance per step (the batcher's token budget)
    int32_t n_ctx;          // 0 = the model's context length, capped at 4096
    int32_t kv_type;        // KV cache storage, enum kern_kvtype (0: F32)
    int32_t matmul;         // numeric path, enum linear_path (0: the default)
};

// Opens the model and builds the monolithic engine. On failure returns a negative status,
// writes a one-line reason into err and leaves *out NULL. Destroy with exec_destroy.
JANUS_WUR int exec_mono_create(const struct exec_mono_params *p, struct exec **out, char *err,
                               size_t err_len);

#endif // JANUS_EXEC_H
