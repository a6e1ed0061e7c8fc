// MoE-instance side of the engine (SPEC §2, §3 steps 4-5): the gate for all B tokens of
// the step, and the routed experts this instance runs, grouped by expert so each activated
// expert's weights are read once per step (gather rows → matmul over the group → weighted
// scatter-add). It uses only the router, exp_probs_b and the stacked expert tensors of the
// model (attention weights are never touched), so an MoE rank needs nothing else.
// Not collective; not thread-safe (one caller per context). No allocation after moe_init.
// SPDX-License-Identifier: MIT
#ifndef JANUS_MOE_H
#define JANUS_MOE_H

#include "base/arena.h"
#include "base/base.h"
#include "engine/linear.h"
#include "model/weights.h"

#include <stdint.h>

// Routing of n_tok tokens: row t chose ids[t·k + j] with weight w[t·k + j], j < k, in
// decreasing selection score.
struct moe_routing {
    int64_t n_tok;
    int64_t k;
    int32_t *ids; // (n_tok, k) logical expert ids
    float *w;     // (n_tok, k) gate weights (renormalised / scaled per the model)
};

struct moe {
    const struct model *m;
    const struct linear_ctx *lin;
    int64_t max_tokens;
    struct arena arena;
    float *r;           // (max_tokens, n_expert) router logits
    float *gscratch;    // gate scratch
    int32_t *count;     // (n_expert + 1) tokens per expert, then offsets
    int32_t *tok;       // (max_tokens · k) token index per (expert, slot), grouped by expert
    float *tw;          // (max_tokens · k) matching gate weight
    int32_t *pair;      // (max_tokens · k) matching routing index (t · k + j)
    int64_t group_rows; // rows of the group buffers below (>= max_tokens)
    float *xg;          // (group_rows, E) gathered rows of a group of experts
    float *g, *u;       // (group_rows, n_ff_exp)
    float *y;           // (group_rows, E) expert output rows
};

// Sizes the context for up to max_tokens tokens per step (B, all attention instances).
// JANUS_OK / JANUS_EINVAL / JANUS_ENOMEM (then *mo is zeroed).
JANUS_WUR int moe_init(struct moe *mo, const struct model *m, const struct linear_ctx *lin,
                       int64_t max_tokens);
void moe_free(struct moe *mo);

// Allocates routing arrays for max_tokens tokens (k = n_expert_used) with mem.h.
JANUS_WUR int moe_routing_init(struct moe_routing *rt, const struct model *m, int64_t max_tokens);
void moe_routing_free(struct moe_routing *rt);

// Gate of MoE layer l for x (n, E) → rt (n_tok = n). Bit-identical for equal x on every
// instance with the same kernels. n <= max_tokens.
void moe_gate(struct moe *mo, int64_t l, const float *x, int64_t n, struct moe_routing *rt);

// The same gate without a context (attention instances under selective dispatch, SPEC §4):
// r (n, n_expert) and gscratch (gate_scratch_floats(n_expert)) are the caller's scratch. The
// same arithmetic as moe_gate, so equal rows give bit-identical routing.
void moe_gate_rows(const struct model *m, const struct linear_ctx *lin, int64_t l, const float *x,
                   int64_t n, float *r, float *gscratch, struct moe_routing *rt);

// out (n, E) = Σ over (t, j) with run_here[ids] of w · FFN_e(x_t); rows with nothing to
// run here are zero. run_here: (n_expert) 1 = this instance runs logical expert e for
// this step (NULL: all). Experts run in groups (as many as the group buffers hold, at most
// LINEAR_MAX_OPS), each group as two pool runs — gate/up with SwiGLU, then down — for all
// its experts (linear_many); the weighted sums are added in increasing expert id, tokens of
// one expert in increasing row order, so out does not depend on the grouping.
void moe_experts(struct moe *mo, int64_t l, const float *x, int64_t n, const struct moe_routing *rt,
                 const uint8_t *run_here, float *out);

// The same, split for the fixed-order return of selective dispatch (comm/xfer.h
// xfer_sel_plan): a pair i = t·k + j run here is folded into out[t] (w · FFN added, in
// increasing expert id) if fold[i], else its unweighted FFN_e(x_t) is written to
// single[i·E..] (single: n·k rows of E). fold NULL: moe_experts.
void moe_experts_split(struct moe *mo, int64_t l, const float *x, int64_t n,
                       const struct moe_routing *rt, const uint8_t *run_here, const uint8_t *fold,
                       float *out, float *single);

// Number of distinct experts with at least one routed token among those run_here (a_g;
// run_here NULL: all). Uses mo's scratch (not concurrently with moe_experts).
int64_t moe_n_active(struct moe *mo, const struct moe_routing *rt, const uint8_t *run_here);

#endif // JANUS_MOE_H
