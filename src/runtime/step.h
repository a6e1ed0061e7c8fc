// One step of the disaggregated deployment, the data path of both sides (SPEC §3): where a
// token goes in layer ℓ. An attention rank embeds its local batch, and per layer runs
// attention (KV append), then on a MoE layer sends x_i to the MoE side, computes the shared
// expert while the MoE side works, receives its rows of Σ partials and adds them; after the
// last layer it computes logits and samples. A MoE rank, per MoE layer, receives x of the
// whole step, gates every token, runs the activation scheduler, runs the experts assigned
// to it and sends its partial sums back. Under selective dispatch the attention ranks gate
// their own rows instead and every rank schedules the gathered routing (step_sel_route).
// Exchange: comm/xfer (1PC / 2PC, broadcast or selective, chosen per step).
// SPDX-License-Identifier: MIT
#ifndef JANUS_STEP_H
#define JANUS_STEP_H

#include "base/base.h"
#include "runtime/worker.h"

// Attention rank: runs local batch b (already validated), writes the sampled tokens into
// *res and, when lg_out is not NULL, the logits of the rows with logits (batch order, V
// each) into lg_out. The exchange of the step must be set up (xfer_step).
JANUS_WUR int step_attn(struct worker *w, const struct batch *b, struct batch_result *res,
                        float *lg_out);

// MoE rank: the MoE side of step `step` over the B rows of xfer_step's header.
JANUS_WUR int step_moe(struct worker *w, uint64_t step);

// The selective plan of one MoE layer (SPEC §4 "Selective dispatch"), on every rank before
// the layer's exchange: the step's routing to every rank (xfer_route_exchange), the
// activation schedule of it (the same input on every rank, so the same schedule), with
// `check` the schedule digest compared on topo.comm, then xfer_sel_plan. The worker's step
// and `janus xfer-bench` both call it.
struct step_sel {
    const int32_t *ids; // this attention instance's routing (b_i x k); NULL on a MoE rank
    const float *w;     // its weights (b_i x k); NULL on a MoE rank
    int32_t *ids_all;   // out: the step's routing (B x k, node-major order)
    float *w_all;       // out: its weights (B x k)
    struct actsched_ws *ws;
    struct actsched_output *so; // out: the schedule
    enum actsched_policy policy;
    struct actsched_input in; // layer, top_k, step, layer_id, seed (routing, n_tok: set here)
    int check;                // compare the schedule digest across the job
    int corrupt;              // test hook (JANUS_FAULT_SCHEDULE): this rank's schedule differs
    double t_check_s;         // out: seconds spent in the digest check
};
JANUS_WUR int step_sel_route(struct xfer *xf, struct step_sel *s);

#endif // JANUS_STEP_H
