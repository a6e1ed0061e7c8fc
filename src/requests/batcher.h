// Continuous batching across attention instances (SPEC §3 "Ours", §10): a PURE state
// machine — no I/O, no clock reads (the caller passes now_ns), deterministic.
//  - a bounded waiting queue: a submission beyond it is rejected (admission control);
//    free slots take from the queue before that check, so the capacity is the queue plus
//    every slot (what the front admits, front.h);
//  - FIFO admission when an instance has a free KV slot and enough free KV tokens for the
//    request's worst case (n_prompt + max_tokens), pinned to the instance with the MOST
//    free KV tokens (ties: lowest index), for life;
//  - each step, per instance, a local batch under a token budget: decode rows first (one
//    per decoding request; the budget is at least the slot count, so they always fit),
//    then prefill chunks in admission order;
//  - finished and cancelled requests release their KV reservation and slot at once (the
//    slot goes into the next batch's free list for the executor).
// Output batches are the engine's local batches (engine/batch.h), which executors run as
// they are; sampled tokens come back as one struct batch_result per batch.
// SPDX-License-Identifier: MIT
#ifndef JANUS_BATCHER_H
#define JANUS_BATCHER_H

#include "base/base.h"
#include "base/limits.h"
#include "engine/batch.h"
#include "requests/frontlink.h"
#include "requests/request.h"

#include <stdint.h>

#define BATCHER_DEFAULT_TOKEN_BUDGET 256
#define BATCHER_DEFAULT_MAX_WAITING  256

struct batcher_config {
    int32_t n_attn;       // attention instances, 1..LIMIT_MAX_INSTANCES
    int32_t max_seqs;     // KV slots per instance, 1..LIMIT_MAX_SEQS
    int64_t kv_tokens;    // KV capacity per instance in tokens, >= 1
    int32_t n_ctx;        // max positions per request (prompt + completion)
    int32_t n_vocab;      // prompt and stop ids must be < n_vocab
    int32_t token_budget; // rows per instance per step, max_seqs..LIMIT_MAX_STEP_ROWS
    int32_t max_waiting;  // waiting-queue bound, >= 0
    int32_t eos_token;    // end-of-sequence id (finishes with "stop"), -1 = none
};

// Fills c with defaults for the limits (budget 256, 256 waiting, no EOS); the caller sets
// the deployment fields (n_attn, max_seqs, kv_tokens, n_ctx, n_vocab).
void batcher_default_config(struct batcher_config *c);

enum batcher_event_type { BATCHER_EV_TOKEN = 1, BATCHER_EV_FINISH = 2 };

struct batcher_event {
    enum batcher_event_type type;
    uint64_t id;
    int32_t token;                         // TOKEN
    uint32_t reason;                       // FINISH: enum frontlink_reason
    int32_t n_prompt;                      // FINISH
    int32_t n_completion;                  // FINISH: tokens sampled (a final stop token included)
    int64_t t_submit_ns, t_first_token_ns; // FINISH: for latency accounting (-1: none)
};

struct batcher_stats {
    int32_t n_running; // requests holding a slot (PREFILL + DECODE)
    int32_t n_waiting;
    uint64_t n_submitted, n_rejected, n_finished;
    int64_t kv_used[LIMIT_MAX_INSTANCES]; // reserved tokens per instance
    int32_t seqs_used[LIMIT_MAX_INSTANCES];
};

// Per instance: who owns each slot, and what the last scheduled batch contained.
struct batcher_inst {
    int32_t *slot_req;       // (max_seqs) index into reqs, -1 = free
    int64_t kv_used;         // Σ kv_reserved of the requests pinned here
    int32_t n_live;          // slots in use
    int32_t n_free_pending;  // slots released since the last batch
    int32_t n_start_pending; // slots admitted since the last batch
    int32_t *free_pending;   // (max_seqs)
    int32_t *start_pending;  // (max_seqs)
    // The last batch: runs of rows, one per request, and the request of each sample.
    int32_t n_run;
    int32_t *run_req; // (max_seqs) request index of run k
    int32_t *run_len; // (max_seqs) rows of run k
};

struct batcher {
    struct batcher_config cfg;
    int32_t cap;          // request table entries: max_waiting + n_attn * max_seqs
    struct request *reqs; // (cap)
    int32_t *waitq;       // (max_waiting + 1) ring of request indices, FIFO
    int32_t wq_head, wq_len;
    struct batcher_inst *inst; // (n_attn)
    struct batcher_event *ev;  // (ev_cap) ring
    int32_t ev_cap, ev_head, ev_len;
    uint64_t next_seq;
    int in_step; // 1 between batcher_schedule and batcher_commit
    struct batcher_stats st;
};

// JANUS_EINVAL if the config is out of range (reason in err), JANUS_ENOMEM; *b zeroed then.
JANUS_WUR int batcher_init(struct batcher *b, const struct batcher_config *cfg, char *err,
                           size_t err_len);
void batcher_free(struct batcher *b);

// Queues a request (the prompt is copied). JANUS_OK; otherwise nothing changed and
// *err_code (enum frontlink_err) says why: QUEUE_FULL (JANUS_EAGAIN: waiting queue full),
// INVALID (JANUS_EINVAL: bad id/duplicate id/token ids/max_tokens/sampling), TOO_LONG
// (JANUS_ELIMIT: n_prompt + max_tokens > n_ctx or > kv_tokens); reason text in err.
// Not valid between schedule and commit.
JANUS_WUR int batcher_submit(struct batcher *b, const struct frontlink_submit *s, int64_t now_ns,
                             int *err_code, char *err, size_t err_len);

// Cancels request id wherever it is: a FINISH(cancelled) event is queued, its KV
// reservation and slot are released at once. JANUS_ENOTFOUND if no live request has id.
// Not valid between schedule and commit.
JANUS_WUR int batcher_cancel(struct batcher *b, uint64_t id);

// Admits what fits, then builds every instance's local batch for the next step into
// batches[0..n_attn) (each of capacity >= token_budget; sequence ids are KV slots). Returns the
// total number of rows (0: nothing to compute; the batches may still carry slot frees/starts worth
// a step). After it, call batcher_commit with the step's results, or batcher_abort if the step
// failed.
int32_t batcher_schedule(struct batcher *b, int64_t now_ns, struct batch *batches);

// Applies the results of the step built by the last schedule (results[0..n_attn)): prefill
// progress, sampled tokens, finishes. Queues TOKEN/FINISH events. JANUS_EINVAL if a result
// count does not match the batch (nothing applied).
JANUS_WUR int batcher_commit(struct batcher *b, const struct batch_result *results,
                             const struct batch *batches, int64_t now_ns);

// The step failed: every admitted request finishes with reason error (events queued).
void batcher_abort(struct batcher *b);

// Pops the oldest queued event into *ev. Returns 1, or 0 when none is queued.
int batcher_pop_event(struct batcher *b, struct batcher_event *ev);

// Current counters.
void batcher_get_stats(const struct batcher *b, struct batcher_stats *out);

// True if any request is waiting or running.
int batcher_busy(const struct batcher *b);

// Verifies every invariant (slot ownership, KV sums, queue contents, states). Returns
// JANUS_OK or JANUS_EINVAL with the first violation in err. Tests call it after each call.
JANUS_WUR int batcher_check(const struct batcher *b, char *err, size_t err_len);

#endif // JANUS_BATCHER_H
