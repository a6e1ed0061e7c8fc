// Greedy activation scheduling (SPEC §5, the publication's algorithm with our fixed
// ordering): single-replica experts go to their only host; then multi-replica experts in
// ascending (replica count, expert id) order, each to the hosting instance with the
// smallest expert load so far, ties to the lowest instance id. Load counts experts.
// O(n_active + n + replicas of active experts); no allocation.
// SPDX-License-Identifier: MIT
#include <string.h>

#include "actsched/actsched_impl.h"

void greedy_assign(struct actsched_ws *ws, const struct actsched_input *in,
                   struct actsched_output *out) {
    const struct layout_layer *ly = in->layer;
    const int32_t *off = ly->host_off, *hosts = ly->hosts;
    int32_t n = ly->n_instances, na = out->n_active;
    int32_t *load = ws->load, *bucket = ws->bucket, *order = ws->order;
    memset(load, 0, sizeof(int32_t) * (size_t)n);
    memset(bucket, 0, sizeof(int32_t) * (size_t)(n + 2));
    // Pass 1: single-replica experts; count multi-replica ones per replica count.
    for (int32_t i = 0; i < na; i++) {
        int32_t e = out->active[i];
        int32_t r = off[e + 1] - off[e];
        if (r == 1) {
            out->assign[e] = off[e];
            load[hosts[off[e]]]++;
        } else {
            bucket[r + 1]++;
        }
    }
    // Counting sort by replica count (stable: ids stay ascending within a count).
    for (int32_t r = 1; r <= n + 1; r++)
        bucket[r] += bucket[r - 1];
    int32_t n_multi = bucket[n + 1];
    for (int32_t i = 0; i < na; i++) {
        int32_t e = out->active[i];
        int32_t r = off[e + 1] - off[e];
        if (r > 1) order[bucket[r]++] = e;
    }
    // Pass 2: each to the least-loaded host; hosts are ascending, so the first strict
    // minimum is the lowest instance id among ties.
    for (int32_t i = 0; i < n_multi; i++) {
        int32_t e = order[i];
        int32_t best = off[e], best_load = load[hosts[off[e]]];
        for (int32_t j = off[e] + 1; j < off[e + 1]; j++)
            if (load[hosts[j]] < best_load) {
                best_load = load[hosts[j]];
                best = j;
            }
        out->assign[e] = best;
        load[hosts[best]]++;
    }
}
