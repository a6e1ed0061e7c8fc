// Baseline activation schedulers (SPEC §5), same contract as greedy (actsched_impl.h):
//   random         - rng seeded by (seed, step, layer); for each active multi-replica
//                    expert in ascending id, a uniform host (rng_below(R)).
//   round-robin    - host index (step + e) mod R(e) of expert e's ascending host list.
//   token-balanced - experts in descending token count (ties: ascending id), each to its
//                    host with the fewest tokens so far (ties: lowest instance id).
//   first          - the lowest-id host.
// No allocation (the token-balanced sort is an in-place heapsort).
// SPDX-License-Identifier: MIT
#include <string.h>

#include "actsched/actsched_impl.h"
#include "base/rng.h"

static void count_loads(struct actsched_ws *ws, const struct layout_layer *ly,
                        const struct actsched_output *out) {
    memset(ws->load, 0, sizeof(int32_t) * (size_t)ly->n_instances);
    for (int32_t i = 0; i < out->n_active; i++) {
        int32_t e = out->active[i];
        ws->load[ly->hosts[out->assign[e]]]++;
    }
}

void baselines_random(struct actsched_ws *ws, const struct actsched_input *in,
                      struct actsched_output *out) {
    const int32_t *off = in->layer->host_off;
    struct rng r;
    rng_init3(&r, in->seed, (uint64_t)in->step, (uint64_t)(uint32_t)in->layer_id);
    for (int32_t i = 0; i < out->n_active; i++) {
        int32_t e = out->active[i];
        uint32_t R = (uint32_t)(off[e + 1] - off[e]);
        out->assign[e] = off[e] + (R > 1 ? (int32_t)rng_below(&r, R) : 0);
    }
    count_loads(ws, in->layer, out);
}

void baselines_round_robin(struct actsched_ws *ws, const struct actsched_input *in,
                           struct actsched_output *out) {
    const int32_t *off = in->layer->host_off;
    uint64_t step = (uint64_t)in->step; // actsched_run rejects negative steps
    for (int32_t i = 0; i < out->n_active; i++) {
        int32_t e = out->active[i];
        uint64_t R = (uint64_t)(off[e + 1] - off[e]);
        out->assign[e] = off[e] + (int32_t)((step + (uint64_t)e) % R);
    }
    count_loads(ws, in->layer, out);
}

void baselines_first(struct actsched_ws *ws, const struct actsched_input *in,
                     struct actsched_output *out) {
    const int32_t *off = in->layer->host_off;
    for (int32_t i = 0; i < out->n_active; i++) {
        int32_t e = out->active[i];
        out->assign[e] = off[e];
    }
    count_loads(ws, in->layer, out);
}

// ---- token-balanced

static void sift_down(uint64_t *a, int32_t i, int32_t n) {
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && a[c + 1] > a[c]) c++;
        if (a[i] >= a[c]) return;
        uint64_t t = a[i];
        a[i] = a[c];
        a[c] = t;
        i = c;
    }
}

static void heapsort_u64(uint64_t *a, int32_t n) {
    for (int32_t i = n / 2 - 1; i >= 0; i--)
        sift_down(a, i, n);
    for (int32_t end = n - 1; end > 0; end--) {
        uint64_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

void baselines_token_balanced(struct actsched_ws *ws, const struct actsched_input *in,
                              struct actsched_output *out) {
    const struct layout_layer *ly = in->layer;
    const int32_t *off = ly->host_off, *hosts = ly->hosts;
    int32_t na = out->n_active;
    // Ascending key = (INT32_MAX - tokens, id): descending tokens, then ascending id.
    for (int32_t i = 0; i < na; i++)
        ws->keys[i] = ((uint64_t)(uint32_t)(INT32_MAX - out->active_tokens[i]) << 32) |
                      (uint32_t)out->active[i];
    heapsort_u64(ws->keys, na);
    memset(ws->tok_load, 0, sizeof(int64_t) * (size_t)ly->n_instances);
    for (int32_t i = 0; i < na; i++) {
        int32_t e = (int32_t)(uint32_t)ws->keys[i];
        int64_t tok = INT32_MAX - (int64_t)(ws->keys[i] >> 32);
        int32_t best = off[e];
        int64_t best_tok = ws->tok_load[hosts[off[e]]];
        for (int32_t j = off[e] + 1; j < off[e + 1]; j++)
            if (ws->tok_load[hosts[j]] < best_tok) {
                best_tok = ws->tok_load[hosts[j]];
                best = j;
            }
        out->assign[e] = best;
        ws->tok_load[hosts[best]] += tok;
    }
    count_loads(ws, ly, out);
}
