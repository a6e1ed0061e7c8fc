// The systems compared by the planner and the simulator (SPEC §8): Janus and three
// baselines modelled as the publication describes them. All four share the latency model
// (scale/latency.h) and the search (scale/search.h); only the mechanisms differ
// (listed below). Pure constant descriptions; no allocation or I/O.
// SPDX-License-Identifier: MIT
//  - janus: disaggregated; gate + activation scheduler (greedy by default) on the MoE
//    side; complete hidden states travel with the adaptive 1PC/2PC exchange; co-activation
//    placement; any (n_attn, n_moe).
//  - sglang-mono (monolithic, SGLang-like): attention and experts on the same devices
//    (data-parallel attention, expert parallelism over all of them), expert all-to-all,
//    EPLB placement with one redundant slot per device, token-balanced replica choice,
//    whole units of 1/2/4/8/16/32/64 devices.
//  - megascale-infer (MegaScale-Infer-like): disaggregated; gate on the attention side
//    with one message per activated expert; EPLB placement, random replica choice;
//    ping-pong pipelining with two micro-batches; only balanced configurations.
//  - xdeepserve (xDeepServe-like): disaggregated; gate on the attention side; all-to-all
//    to MoE instances; EPLB placement with token-balanced (EPLB-style) scheduling; both
//    pools scale in units of 4.
#ifndef JANUS_SIM_BASELINES_H
#define JANUS_SIM_BASELINES_H

#include "actsched/actsched.h"
#include "base/base.h"
#include "place/place.h"
#include "scale/latency.h"
#include "scale/search.h"

enum baselines_kind {
    BASELINES_JANUS = 0,
    BASELINES_MONO = 1,
    BASELINES_MSI = 2,
    BASELINES_XDS = 3,
    BASELINES_COUNT = 4,
};

struct baselines_system {
    enum baselines_kind kind;
    const char *name;          // "janus", "sglang-mono", "megascale-infer", "xdeepserve"
    struct latency_system lat; // mechanisms for the latency model
    struct search_space space; // allowed shapes
    enum placement_policy placement;
    enum actsched_policy sched;
};

// Fills a system description; c provides micro_batches and balance_ratio.
void baselines_get(enum baselines_kind kind, const struct latency_coef *c,
                   struct baselines_system *out);
const char *baselines_name(enum baselines_kind kind);
// Parses a system name; JANUS_OK or JANUS_EINVAL.
JANUS_WUR int baselines_parse(const char *name, enum baselines_kind *out);
// The (n_e, C) configurations the system's a_max table must cover within max_gpus, n_e
// ascending, every one with n_e * C >= E. Returns the count (0: the experts never fit).
int baselines_configs(const struct baselines_system *sys, const struct latency_model *lm,
                      int max_gpus, int32_t *n_e, int32_t *slots, int cap);

#endif // JANUS_SIM_BASELINES_H
