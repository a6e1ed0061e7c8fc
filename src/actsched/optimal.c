// Optimal activation scheduling (SPEC §5, ours): minimise a_max exactly. With unit loads
// this is semi-matching / restricted assignment: start from greedy, then while some
// instance u with the maximum load M has an alternating path (u -> expert on u -> another
// host of it -> expert on that host -> ...) to an instance with load <= M - 2, shift the
// experts along the path (u loses one, the end gains one). If from some max-loaded u no
// such path exists, M is optimal: the instances reachable from u all have load >= M - 1
// and the experts on them can only go to them, so some instance must carry M in any
// assignment. Deterministic (BFS in ascending instance / expert / host order).
// No allocation; O(a_max_excess * n * n_active) in the worst case, tiny in practice.
// SPDX-License-Identifier: MIT
#include "actsched/actsched_impl.h"

// BFS from instance u for an instance with load <= limit; on success shifts the path and
// returns 1, else 0. stamp distinguishes BFS runs in ws->seen.
static int augment_from(struct actsched_ws *ws, const struct layout_layer *ly,
                        struct actsched_output *out, int32_t u, int32_t limit, int32_t stamp) {
    const int32_t *off = ly->host_off, *hosts = ly->hosts;
    int32_t *queue = ws->queue, *seen = ws->seen, *load = ws->load;
    int32_t *pe = ws->parent_e, *pj = ws->parent_j, *assign = out->assign;
    int32_t na = out->n_active;
    int32_t head = 0, tail = 0;
    queue[tail++] = u;
    seen[u] = stamp;
    while (head < tail) {
        int32_t x = queue[head++];
        for (int32_t i = 0; i < na; i++) {
            int32_t e = out->active[i];
            if (hosts[assign[e]] != x) continue;
            for (int32_t j = off[e]; j < off[e + 1]; j++) {
                int32_t y = hosts[j];
                if (seen[y] == stamp) continue;
                seen[y] = stamp;
                pe[y] = e;
                pj[y] = j;
                if (load[y] <= limit) {
                    // Shift along the path back to u.
                    load[y]++;
                    load[u]--;
                    while (y != u) {
                        int32_t ee = pe[y];
                        int32_t prev = hosts[assign[ee]];
                        assign[ee] = pj[y];
                        y = prev;
                    }
                    return 1;
                }
                queue[tail++] = y;
            }
        }
    }
    return 0;
}

void optimal_assign(struct actsched_ws *ws, const struct actsched_input *in,
                    struct actsched_output *out) {
    greedy_assign(ws, in, out);
    const struct layout_layer *ly = in->layer;
    int32_t n = ly->n_instances;
    int32_t *load = ws->load;
    // Lower bound: ceil(n_active / n), and every instance's forced single-replica load is
    // already in any solution, but the first bound is enough for the early exit.
    int32_t lb = (out->n_active + n - 1) / n;
    int32_t stamp = 0;
    for (int32_t g = 0; g < n; g++)
        ws->seen[g] = -1;
    for (;;) {
        int32_t m = 0;
        for (int32_t g = 0; g < n; g++)
            if (load[g] > m) m = load[g];
        if (m <= lb || m <= 1) return;
        for (int32_t u = 0; u < n; u++) {
            if (load[u] != m) continue;
            if (!augment_from(ws, ly, out, u, m - 2, stamp++)) return; // m is optimal
        }
    }
}
