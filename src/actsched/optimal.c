// Optimal activation scheduling (SPEC §5, ours): minimises a_max exactly, starting from greedy
// and shifting experts along alternating paths until no path shortens the busiest instance.
// Deterministic (the same operations on every instance); no allocation.
// SPDX-License-Identifier: MIT
// With unit loads this is semi-matching / restricted assignment: while some
// instance u with the maximum load M has an alternating path (u -> expert on u -> another
// host of it -> expert on that host -> ...) to an instance with load <= M - 2, shift the
// experts along the path (u loses one, the end gains one). If from some max-loaded u no
// such path exists, M is optimal: the instances reachable from u all have load >= M - 1
// and the experts on them can only go to them, so some instance must carry M in any
// assignment. Deterministic: BFS over instances in queue order, each instance's experts in
// its list order (ascending id after greedy; a moved expert goes to the head of its new
// instance's list), hosts in ascending order — the same operations on every instance.
// Each BFS is O(visited experts' replicas); one failing BFS ends the call.

#include "actsched/actsched_impl.h"

// Per-instance doubly linked lists of the experts assigned to it (ws->head/next/prev).
static void list_remove(struct actsched_ws *ws, int32_t g, int32_t e) {
    int32_t p = ws->prev_e[e], nx = ws->next_e[e];
    if (p >= 0)
        ws->next_e[p] = nx;
    else
        ws->head[g] = nx;
    if (nx >= 0) ws->prev_e[nx] = p;
}

static void list_push(struct actsched_ws *ws, int32_t g, int32_t e) {
    int32_t h = ws->head[g];
    ws->prev_e[e] = -1;
    ws->next_e[e] = h;
    if (h >= 0) ws->prev_e[h] = e;
    ws->head[g] = e;
}

// BFS from instance u for an instance with load <= limit; on success shifts the path and
// returns 1, else 0. stamp distinguishes BFS runs in ws->seen.
static int augment_from(struct actsched_ws *ws, const struct layout_layer *ly,
                        struct actsched_output *out, int32_t u, int32_t limit, int32_t stamp) {
    const int32_t *off = ly->host_off, *hosts = ly->hosts;
    int32_t *queue = ws->queue, *seen = ws->seen, *load = ws->load;
    int32_t *pe = ws->parent_e, *pj = ws->parent_j, *assign = out->assign;
    int32_t head = 0, tail = 0;
    queue[tail++] = u;
    seen[u] = stamp;
    while (head < tail) {
        int32_t x = queue[head++];
        for (int32_t e = ws->head[x]; e >= 0; e = ws->next_e[e]) {
            for (int32_t j = off[e]; j < off[e + 1]; j++) {
                int32_t y = hosts[j];
                if (seen[y] == stamp) continue;
                seen[y] = stamp;
                pe[y] = e;
                pj[y] = j;
                if (load[y] <= limit) {
                    // Shift along the path back to u: each expert moves one hop.
                    load[y]++;
                    load[u]--;
                    while (y != u) {
                        int32_t ee = pe[y];
                        int32_t prev = hosts[assign[ee]];
                        list_remove(ws, prev, ee);
                        list_push(ws, y, ee);
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
    // Trivial lower bound ceil(n_active / n): greedy often meets it, then nothing to do.
    int32_t lb = (out->n_active + n - 1) / n;
    int32_t m = 0;
    for (int32_t g = 0; g < n; g++)
        if (load[g] > m) m = load[g];
    if (m <= lb || m <= 1) return;
    for (int32_t g = 0; g < n; g++) {
        ws->seen[g] = -1;
        ws->head[g] = -1;
    }
    for (int32_t i = out->n_active - 1; i >= 0; i--) { // head insertion: lists ascending
        int32_t e = out->active[i];
        list_push(ws, ly->hosts[out->assign[e]], e);
    }
    int32_t stamp = 0;
    for (;;) {
        for (int32_t u = 0; u < n; u++) {
            if (load[u] != m) continue;
            if (!augment_from(ws, ly, out, u, m - 2, stamp++)) return; // m is optimal
        }
        m--; // every instance that had m now has m - 1
        if (m <= lb || m <= 1) return;
    }
}
