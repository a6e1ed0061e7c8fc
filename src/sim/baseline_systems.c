// System models of Janus and the baselines (baselines.h, SPEC §8).
// Pure: plain data in and out, no allocation or I/O.
// SPDX-License-Identifier: MIT
#include "sim/baseline_systems.h"

#include "base/status.h"

#include <string.h>

static const char *const names[BASELINES_COUNT] = {"janus", "sglang-mono", "megascale-infer",
                                                   "xdeepserve"};
static const int32_t mono_sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

const char *baselines_name(enum baselines_kind kind) {
    return (unsigned)kind < BASELINES_COUNT ? names[kind] : "?";
}

int baselines_parse(const char *name, enum baselines_kind *out) {
    for (int i = 0; i < BASELINES_COUNT; i++)
        if (!strcmp(name, names[i])) {
            *out = (enum baselines_kind)i;
            return JANUS_OK;
        }
    return JANUS_EINVAL;
}

void baselines_get(enum baselines_kind kind, const struct latency_coef *c,
                   struct baselines_system *out) {
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->name = baselines_name(kind);
    out->lat.micro_batches = 1;
    out->space.unit_attn = 1;
    out->space.unit_moe = 1;
    switch (kind) {
    case BASELINES_JANUS:
        out->lat.gate_on_moe = 1;
        out->lat.comm = LATENCY_COMM_ADAPTIVE;
        out->placement = PLACEMENT_POLICY_JANUS;
        out->sched = ACTSCHED_POLICY_GREEDY;
        break;
    case BASELINES_MONO:
        out->lat.colocated = 1;
        out->lat.comm = LATENCY_COMM_A2A_COLO;
        out->space.colocated = 1;
        out->space.sizes = mono_sizes;
        out->space.n_sizes = (int)(sizeof mono_sizes / sizeof mono_sizes[0]);
        out->placement = PLACEMENT_POLICY_EPLB;
        out->sched = ACTSCHED_POLICY_TOKEN_BALANCED;
        break;
    case BASELINES_MSI:
        out->lat.comm = LATENCY_COMM_M2N_EXPERT;
        out->lat.micro_batches = c->micro_batches;
        out->space.balance_ratio = c->balance_ratio;
        out->placement = PLACEMENT_POLICY_EPLB;
        out->sched = ACTSCHED_POLICY_RANDOM;
        break;
    case BASELINES_XDS:
    default:
        out->kind = BASELINES_XDS;
        out->name = names[BASELINES_XDS];
        out->lat.comm = LATENCY_COMM_A2A_DISAGG;
        out->space.unit_attn = 4;
        out->space.unit_moe = 4;
        out->placement = PLACEMENT_POLICY_EPLB;
        out->sched = ACTSCHED_POLICY_TOKEN_BALANCED;
        break;
    }
}

int baselines_configs(const struct baselines_system *sys, const struct latency_model *lm,
                      int max_gpus, int32_t *n_e, int32_t *slots, int cap) {
    int n = 0, E = lm->n_experts;
    if (sys->space.colocated) {
        for (int s = 0; s < sys->space.n_sizes && n < cap; s++) {
            int d = sys->space.sizes[s];
            if (d > max_gpus) break;
            int c = (E + d - 1) / d + lm->coef.mono_redundant_slots;
            if (c > E) c = E; // more slots than experts adds nothing
            n_e[n] = d;
            slots[n] = c;
            n++;
        }
        return n;
    }
    int C = latency_moe_slots(lm);
    if (C < 1) return 0;
    int um = sys->space.unit_moe < 1 ? 1 : sys->space.unit_moe;
    int ua = sys->space.unit_attn < 1 ? 1 : sys->space.unit_attn;
    int lo = (E + C - 1) / C;
    lo = (lo + um - 1) / um * um;
    for (int d = lo; d + ua <= max_gpus && n < cap; d += um) {
        // More slots than experts cannot be filled (R(e) <= n caps them anyway); keep C
        // but never above E so the tables stay small.
        n_e[n] = d;
        slots[n] = C > E ? E : C;
        n++;
    }
    return n;
}
