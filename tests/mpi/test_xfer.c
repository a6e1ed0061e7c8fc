// MPI test of comm/topo + comm/xfer + comm/xfer_cost (SPEC §4): every instance receives exactly
// what the exchange schemes promise, message counts match SPEC §4's formulas, and the calibrated
// costs and adaptive choice agree on every rank. Failures are counted and reduced at the end so
// no rank leaves a collective early.
// nranks: 6
// SPDX-License-Identifier: MIT
// Loops over settings inside one launch: (n_a, n_e) splits of the ranks, emulated nodes of 1, 2
// and 3 ranks, the real-host split, two emulated hosts with ranks interleaved (non-consecutive
// nodes), every scheme, random local batches (empty ones included). Checks: every MoE instance
// receives exactly the concatenated x (node-major order); every attention instance receives
// exactly its rows of Σ_g partial_g; cross-node and local messages and bytes, counted at the
// send sites and summed over ranks, equal SPEC §4's formulas; the calibrated costs and the
// adaptive choice are identical on every rank, and a forced slow cross-node link changes the
// choice as the cost model says. Selective dispatch (issue 17), same settings, random routing
// and expert assignment: the routing exchange gives every rank the step's routing; every MoE
// instance receives exactly the rows it needs, every attention instance exactly the sum of
// the partials of the instances that needed its rows; messages and bytes equal the selective
// formulas (docs/PROTOCOL.md), computed from the routing alone.
#include "../test.h"

#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "comm/comm.h"
#include "comm/topo.h"
#include "comm/xfer.h"
#include "comm/xfer_cost.h"
#include "kernels/kernels.h"

#include <stdlib.h>

#define D         5 // floats per row
#define MAX_LOCAL 4 // rows per attention instance
#define N_LAYER   2

#include "mpi_test.h"

// Exact small values (sums of a few of them stay exact in float).
static float x_val(int32_t i, int64_t r, int c, int layer) {
    return (float)(100 * i + 10 * r + c + 1000 * layer);
}
static float p_val(int32_t g, int64_t row, int c, int layer) {
    return (float)((g + 1) * 0.5 + row * 3 + c * 0.25 + layer);
}

struct expect {
    uint64_t msgs[XFER_N_DIRS][XFER_N_LINKS], bytes[XFER_N_DIRS][XFER_N_LINKS];
};

// SPEC §4's counts per layer and direction, written out independently of xfer.c.
static struct expect formulas(const struct topo *t, const int32_t *b, int scheme) {
    struct expect e;
    memset(&e, 0, sizeof e);
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN], *M = &t->side[TOPO_ROLE_MOE];
    uint64_t n_a = A->n_inst, n_e = M->n_inst, N_a = A->n_node, N_e = M->n_node;
    uint64_t rb = D * sizeof(float), B = 0, lead_rows = 0, moe_extra = 0;
    for (int32_t i = 0; i < A->n_inst; i++)
        B += b[i];
    for (int32_t j = 0; j < A->n_node; j++)
        lead_rows += b[topo_leader(t, TOPO_ROLE_ATTN, j)];
    for (int32_t k = 0; k < M->n_node; k++)
        moe_extra += topo_node_n(t, TOPO_ROLE_MOE, k) - 1;
    for (int d = 0; d < XFER_N_DIRS; d++) {
        if (scheme == XFER_SCHEME_1PC) {
            e.msgs[d][XFER_LINK_CROSS] = n_a * n_e;
            e.bytes[d][XFER_LINK_CROSS] = n_e * B * rb;
            continue;
        }
        uint64_t D_ = N_a < N_e ? N_a : N_e;
        e.msgs[d][XFER_LINK_CROSS] = scheme == XFER_SCHEME_2PC1 ? N_a * N_e : N_a + D_ * (N_e - 1);
        e.bytes[d][XFER_LINK_CROSS] = N_e * B * rb; // every MoE node gets (returns) all B rows once
        e.msgs[d][XFER_LINK_LOCAL] = (n_a - N_a) + (n_e - N_e);
        e.bytes[d][XFER_LINK_LOCAL] = (B - lead_rows) * rb + moe_extra * B * rb;
    }
    return e;
}

// One exchange configuration over `sub` (size n_a + n_e).
// node_size -1: hosts interleaved rank by rank over two labels (mpirun --map-by node), so
// nodes hold non-consecutive instances and node-major row order differs from instance order.
static void run_config(MPI_Comm sub, int32_t n_a, int32_t n_e, int32_t node_size, uint64_t seed) {
    struct topo t;
    if (node_size >= 0) {
        must(topo_init(&t, sub, n_a, n_e, node_size), "topo_init");
    } else {
        int32_t hosts[16];
        for (int32_t r = 0; r < n_a + n_e; r++)
            hosts[r] = r % 2;
        must(topo_init_hosts(&t, sub, n_a, n_e, hosts), "topo_init_hosts");
    }
    struct xfer x;
    must(xfer_init(&x, &t, D, MAX_LOCAL), "xfer_init");
    int64_t max_rows = (int64_t)n_a * MAX_LOCAL;
    float *xi = mem_calloc(MEM_TAG_MISC, MAX_LOCAL * D, sizeof(float));
    float *out = mem_calloc(MEM_TAG_MISC, MAX_LOCAL * D, sizeof(float));
    float *all = mem_calloc(MEM_TAG_MISC, (size_t)(max_rows * D), sizeof(float));
    JANUS_ASSERT(xi && out && all);
    for (int scheme = 0; scheme < XFER_N_SCHEMES; scheme++) {
        for (int trial = 0; trial < 3; trial++) {
            struct wire_step st;
            memset(&st, 0, sizeof st);
            struct rng r;
            rng_init3(&r, seed, (uint64_t)scheme, (uint64_t)trial);
            st.step = (uint64_t)trial;
            st.scheme = scheme;
            st.n_attn = n_a;
            for (int32_t i = 0; i < n_a; i++)
                st.b[i] = (int32_t)rng_below(&r, MAX_LOCAL + 1);
            if (trial == 0) st.b[n_a - 1] = 0; // an empty local batch
            if (trial == 2)
                for (int32_t i = 0; i < n_a; i++)
                    st.b[i] = 0; // an empty step
            must(xfer_step(&x, &st), "xfer_step");
            struct xfer_counters before = x.ctr;
            for (int layer = 0; layer < N_LAYER; layer++) {
                if (t.role == TOPO_ROLE_ATTN) {
                    int64_t bi = st.b[t.inst];
                    for (int64_t rr = 0; rr < bi; rr++)
                        for (int c = 0; c < D; c++)
                            xi[rr * D + c] = x_val(t.inst, rr, c, layer);
                    for (int k = 0; k < MAX_LOCAL * D; k++)
                        out[k] = -7;
                    must(xfer_attn_send(&x, layer, xi), "xfer_attn_send");
                    must(xfer_attn_recv(&x, layer, out), "xfer_attn_recv");
                    for (int64_t rr = 0; rr < bi; rr++)
                        for (int c = 0; c < D; c++) {
                            float want = 0;
                            for (int32_t g = 0; g < n_e; g++)
                                want += p_val(g, x.off[t.inst] + rr, c, layer);
                            CHECK(out[rr * D + c] == want,
                                  "(%d,%d,K%d,%s) attn %d row %lld col %d: %g != %g", n_a, n_e,
                                  node_size, xfer_scheme_name(scheme), t.inst, (long long)rr, c,
                                  out[rr * D + c], want);
                        }
                } else {
                    for (int64_t k = 0; k < max_rows * D; k++)
                        all[k] = -9;
                    must(xfer_moe_recv(&x, layer, all), "xfer_moe_recv");
                    for (int32_t i = 0; i < n_a; i++)
                        for (int64_t rr = 0; rr < st.b[i]; rr++)
                            for (int c = 0; c < D; c++)
                                CHECK(all[(x.off[i] + rr) * D + c] == x_val(i, rr, c, layer),
                                      "(%d,%d,K%d,%s) moe %d: x of attn %d row %lld col %d wrong",
                                      n_a, n_e, node_size, xfer_scheme_name(scheme), t.inst, i,
                                      (long long)rr, c);
                    for (int64_t row = 0; row < x.n_rows; row++)
                        for (int c = 0; c < D; c++)
                            all[row * D + c] = p_val(t.inst, row, c, layer);
                    must(xfer_moe_send(&x, layer, all, NULL), "xfer_moe_send");
                }
            }
            // Counters: this step's sends on every rank, summed, against SPEC §4 x N_LAYER.
            uint64_t mine[2 * XFER_N_DIRS * XFER_N_LINKS], sum[2 * XFER_N_DIRS * XFER_N_LINKS];
            int n = 0;
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int l = 0; l < XFER_N_LINKS; l++) {
                    mine[n++] = x.ctr.msgs[0][scheme][d][l] - before.msgs[0][scheme][d][l];
                    mine[n++] = x.ctr.bytes[0][scheme][d][l] - before.bytes[0][scheme][d][l];
                }
            must(JANUS_MPI_CALL(MPI_Allreduce(mine, sum, n, MPI_UINT64_T, MPI_SUM, t.comm)),
                 "allreduce");
            struct expect e = formulas(&t, st.b, scheme);
            n = 0;
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int l = 0; l < XFER_N_LINKS; l++) {
                    CHECK(sum[n] == N_LAYER * e.msgs[d][l],
                          "(%d,%d,K%d,%s) %s %s msgs %llu != %llu", n_a, n_e, node_size,
                          xfer_scheme_name(scheme), d ? "return" : "dispatch",
                          l ? "local" : "cross", (unsigned long long)sum[n],
                          (unsigned long long)(N_LAYER * e.msgs[d][l]));
                    n++;
                    CHECK(sum[n] == N_LAYER * e.bytes[d][l],
                          "(%d,%d,K%d,%s) %s %s bytes %llu != %llu", n_a, n_e, node_size,
                          xfer_scheme_name(scheme), d ? "return" : "dispatch",
                          l ? "local" : "cross", (unsigned long long)sum[n],
                          (unsigned long long)(N_LAYER * e.bytes[d][l]));
                    n++;
                }
        }
    }
    mem_free(xi);
    mem_free(out);
    mem_free(all);
    xfer_free(&x);
    topo_free(&t);
}

// ---- selective dispatch (SPEC §4 "Selective dispatch")

#define SEL_E 8 // experts
#define SEL_K 3 // experts per row

// The routing of attention instance i's local row rr in a layer: SEL_K distinct experts.
static void sel_route(uint64_t seed, int32_t i, int64_t rr, int layer, int32_t *ids, float *w) {
    struct rng r;
    rng_init3(&r, seed, (uint64_t)(i * 1000 + rr), (uint64_t)layer);
    for (int j = 0; j < SEL_K; j++) {
        int dup;
        do {
            ids[j] = (int32_t)rng_below(&r, SEL_E);
            dup = 0;
            for (int q = 0; q < j; q++)
                dup |= ids[q] == ids[j];
        } while (dup);
        w[j] = 0.125f * (float)(j + 1) + (float)i;
    }
}

// Expert e's "output" on row r: distinct per expert, so a misrouted row shows, and not
// dyadic, so that a sum in another order rounds differently.
static float e_val(int32_t e, int64_t r, int c, int layer) {
    return (float)(e + 1) / 3.0f + (float)(r % 7) * 0.7f - (float)c * 1.3f + 0.11f * (float)layer;
}

// Node of a job rank, as (role, node) folded into one number.
static int32_t rank_node(const struct topo *t, int32_t r) {
    int32_t role = t->role_of[r];
    return role * 100000 + t->side[role].node[t->inst_of[r]];
}

// The selective formula of SPEC §4 per layer and direction, from the routing and the
// assignment alone (not from xfer's plan): bytes = Σ_t |destinations(t)| · row (1PC) or the
// rows each pair of nodes needs (2PC), plus the routing exchange in the dispatch direction.
// Row r's slots: its routing indices in increasing expert id (ord) and the instance of
// each; returns the leading slots on slot 0's instance (*pn: on slot 0's MoE node).
static int sel_slots(const struct topo *t, const int32_t *ids, const int32_t *assign, int *ord,
                     int32_t *inst, int *pn) {
    for (int j = 0; j < SEL_K; j++) {
        int i = j;
        for (; i > 0 && ids[ord[i - 1]] > ids[j]; i--)
            ord[i] = ord[i - 1];
        ord[i] = j;
    }
    const int32_t *node = t->side[TOPO_ROLE_MOE].node;
    for (int j = 0; j < SEL_K; j++)
        inst[j] = assign[ids[ord[j]]];
    int p = 1, q = 1;
    while (p < SEL_K && inst[p] == inst[0])
        p++;
    while (q < SEL_K && node[inst[q]] == node[inst[0]])
        q++;
    *pn = q;
    return p;
}

static struct expect sel_formulas(const struct topo *t, const int32_t *b, const int64_t *off,
                                  int scheme, const int32_t *ids_all, const int32_t *assign,
                                  uint64_t *route_bytes) {
    struct expect e;
    memset(&e, 0, sizeof e);
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN], *M = &t->side[TOPO_ROLE_MOE];
    int32_t n_e = M->n_inst, N_a = A->n_node, N_e = M->n_node, D_ = N_a < N_e ? N_a : N_e;
    uint64_t rb = D * sizeof(float), B = 0;
    for (int32_t i = 0; i < A->n_inst; i++)
        B += b[i];
    *route_bytes = 0;
    if (B == 0) return e;
    // [instance or node][row]: needs the row (dispatch); row units sent back (return: the
    // fold of the leading run from slot 0's group, one per later slot of the group)
    static uint8_t ng[16][64], nn[16][64], ug[16][64], un[16][64];
    memset(ng, 0, sizeof ng);
    memset(nn, 0, sizeof nn);
    memset(ug, 0, sizeof ug);
    memset(un, 0, sizeof un);
    for (uint64_t r = 0; r < B; r++) {
        for (int j = 0; j < SEL_K; j++) {
            int32_t g = assign[ids_all[r * SEL_K + j]];
            ng[g][r] = 1;
            nn[M->node[g]][r] = 1;
        }
        int ord[SEL_K], pn;
        int32_t inst[SEL_K];
        int p = sel_slots(t, ids_all + r * SEL_K, assign, ord, inst, &pn);
        ug[inst[0]][r]++;
        un[M->node[inst[0]]][r]++;
        for (int j = p; j < SEL_K; j++)
            ug[inst[j]][r]++;
        for (int j = pn; j < SEL_K; j++)
            un[M->node[inst[j]]][r]++;
    }
    // The routing exchange: each attention instance with rows to every other rank.
    for (int32_t i = 0; i < A->n_inst; i++)
        for (int32_t r = 0; r < t->n_ranks && b[i] > 0; r++) {
            if (r == A->rank[i]) continue;
            int l = rank_node(t, r) == rank_node(t, A->rank[i]) ? XFER_LINK_LOCAL : XFER_LINK_CROSS;
            e.msgs[XFER_DIR_DISPATCH][l]++;
            e.bytes[XFER_DIR_DISPATCH][l] += (uint64_t)b[i] * SEL_K * 8;
            *route_bytes += (uint64_t)b[i] * SEL_K * 8;
        }
    // Node rows: attention node j's rows are one block (node-major order).
    int64_t node_lo[16], node_hi[16];
    for (int32_t j = 0; j < N_a; j++) {
        node_lo[j] = INT64_MAX;
        node_hi[j] = 0;
    }
    for (int32_t i = 0; i < A->n_inst; i++) {
        int32_t j = A->node[i];
        node_lo[j] = off[i] < node_lo[j] ? off[i] : node_lo[j];
        node_hi[j] = off[i] + b[i] > node_hi[j] ? off[i] + b[i] : node_hi[j];
    }
    for (int d = 0; d < XFER_N_DIRS; d++) {
        uint8_t(*cg)[64] = d == XFER_DIR_RETURN ? ug : ng,
        (*cn)[64] = d == XFER_DIR_RETURN ? un : nn;
        if (scheme == XFER_SCHEME_1PC) {
            for (int32_t i = 0; i < A->n_inst; i++)
                for (int32_t g = 0; g < n_e; g++) {
                    uint64_t c = 0;
                    for (int64_t r = off[i]; r < off[i] + b[i]; r++)
                        c += cg[g][r];
                    e.msgs[d][XFER_LINK_CROSS] += c > 0;
                    e.bytes[d][XFER_LINK_CROSS] += c * rb;
                }
            continue;
        }
        // Local: attention gather / scatter as in broadcast; MoE leader <-> members, rows
        // each member needs.
        for (int32_t j = 0; j < N_a; j++) {
            int32_t lead = topo_leader(t, TOPO_ROLE_ATTN, j);
            int32_t n = topo_node_n(t, TOPO_ROLE_ATTN, j);
            e.msgs[d][XFER_LINK_LOCAL] += (uint64_t)(n - 1);
            e.bytes[d][XFER_LINK_LOCAL] +=
                (uint64_t)(node_hi[j] > node_lo[j] ? node_hi[j] - node_lo[j] : 0) * rb -
                (uint64_t)b[lead] * rb;
        }
        for (int32_t g = 0; g < n_e; g++) {
            if (topo_leader(t, TOPO_ROLE_MOE, M->node[g]) == g) continue;
            uint64_t c = 0;
            for (uint64_t r = 0; r < B; r++)
                c += cg[g][r];
            e.msgs[d][XFER_LINK_LOCAL] += c > 0;
            e.bytes[d][XFER_LINK_LOCAL] += c * rb;
        }
        if (scheme == XFER_SCHEME_2PC1) {
            for (int32_t j = 0; j < N_a; j++)
                for (int32_t k = 0; k < N_e; k++) {
                    uint64_t c = 0;
                    for (int64_t r = node_lo[j]; r < node_hi[j]; r++)
                        c += cn[k][r];
                    e.msgs[d][XFER_LINK_CROSS] += c > 0;
                    e.bytes[d][XFER_LINK_CROSS] += c * rb;
                }
            continue;
        }
        // 2PC2: node payloads to (from) the designated leader; designated <-> other leaders.
        for (int32_t j = 0; j < N_a; j++) {
            uint64_t rows = node_hi[j] > node_lo[j] ? (uint64_t)(node_hi[j] - node_lo[j]) : 0;
            e.msgs[d][XFER_LINK_CROSS] += rows > 0;
            e.bytes[d][XFER_LINK_CROSS] += rows * rb;
        }
        for (int32_t k = 0; k < D_; k++)
            for (int32_t k2 = 0; k2 < N_e; k2++) {
                if (k2 == k) continue;
                uint64_t c = 0;
                for (int32_t j = k; j < N_a; j += N_e)
                    for (int64_t r = node_lo[j]; r < node_hi[j]; r++)
                        c += cn[k2][r];
                e.msgs[d][XFER_LINK_CROSS] += c > 0;
                e.bytes[d][XFER_LINK_CROSS] += c * rb;
            }
    }
    return e;
}

static void run_config_sel(MPI_Comm sub, int32_t n_a, int32_t n_e, int32_t node_size,
                           uint64_t seed) {
    struct topo t;
    if (node_size >= 0) {
        must(topo_init(&t, sub, n_a, n_e, node_size), "topo_init");
    } else {
        int32_t hosts[16];
        for (int32_t r = 0; r < n_a + n_e; r++)
            hosts[r] = r % 2;
        must(topo_init_hosts(&t, sub, n_a, n_e, hosts), "topo_init_hosts");
    }
    struct xfer x;
    must(xfer_init(&x, &t, D, MAX_LOCAL), "xfer_init");
    must(xfer_sel_init(&x, SEL_K, kern_best()->axpy), "xfer_sel_init");
    int64_t max_rows = (int64_t)n_a * MAX_LOCAL;
    float *xi = mem_calloc(MEM_TAG_MISC, MAX_LOCAL * D, sizeof(float));
    float *out = mem_calloc(MEM_TAG_MISC, MAX_LOCAL * D, sizeof(float));
    float *all = mem_calloc(MEM_TAG_MISC, (size_t)(max_rows * D), sizeof(float));
    float *single = mem_calloc(MEM_TAG_MISC, (size_t)(max_rows * SEL_K * D), sizeof(float));
    int32_t ids[MAX_LOCAL * SEL_K], ids_all[64 * SEL_K], want_ids[64 * SEL_K], assign[SEL_E];
    float w[MAX_LOCAL * SEL_K], w_all[64 * SEL_K], want_w[64 * SEL_K];
    JANUS_ASSERT(xi && out && all && single && max_rows <= 64);
    for (int scheme = 0; scheme < XFER_N_SCHEMES; scheme++) {
        for (int trial = 0; trial < 3; trial++) {
            struct wire_step st;
            memset(&st, 0, sizeof st);
            struct rng r;
            rng_init3(&r, seed, (uint64_t)scheme, (uint64_t)trial + 7);
            st.step = (uint64_t)trial;
            st.scheme = scheme;
            st.flags = WIRE_STEP_SELECTIVE;
            st.n_attn = n_a;
            for (int32_t i = 0; i < n_a; i++)
                st.b[i] = (int32_t)rng_below(&r, MAX_LOCAL + 1);
            if (trial == 0) st.b[n_a - 1] = 0; // an empty local batch
            if (trial == 2)
                for (int32_t i = 0; i < n_a; i++)
                    st.b[i] = 0; // an empty step
            must(xfer_step(&x, &st), "xfer_step");
            struct xfer_counters before = x.ctr;
            struct expect e_sum;
            memset(&e_sum, 0, sizeof e_sum);
            uint64_t route_want = 0;
            for (int layer = 0; layer < N_LAYER; layer++) {
                // Every rank knows the global routing and the assignment (to check against).
                for (int32_t i = 0; i < n_a; i++)
                    for (int64_t rr = 0; rr < st.b[i]; rr++)
                        sel_route(seed, i, rr, layer, want_ids + (x.off[i] + rr) * SEL_K,
                                  want_w + (x.off[i] + rr) * SEL_K);
                struct rng ra;
                rng_init3(&ra, seed, 99, (uint64_t)(layer + 10 * trial));
                for (int e = 0; e < SEL_E; e++)
                    assign[e] = (int32_t)rng_below(&ra, (uint32_t)n_e);
                int is_attn = t.role == TOPO_ROLE_ATTN;
                if (is_attn)
                    for (int64_t rr = 0; rr < st.b[t.inst]; rr++)
                        sel_route(seed, t.inst, rr, layer, ids + rr * SEL_K, w + rr * SEL_K);
                must(xfer_route_exchange(&x, is_attn ? ids : NULL, is_attn ? w : NULL, ids_all,
                                         w_all),
                     "route exchange");
                CHECK(!memcmp(ids_all, want_ids, (size_t)(x.n_rows * SEL_K) * sizeof(int32_t)) &&
                          !memcmp(w_all, want_w, (size_t)(x.n_rows * SEL_K) * sizeof(float)),
                      "(%d,%d,K%d,%s) rank %d: routing exchange differs", n_a, n_e, node_size,
                      xfer_scheme_name(scheme), t.rank);
                xfer_sel_plan(&x, want_ids, want_w, assign);
                uint64_t rbytes = 0;
                struct expect e = sel_formulas(&t, st.b, x.off, scheme, want_ids, assign, &rbytes);
                route_want += rbytes;
                for (int d = 0; d < XFER_N_DIRS; d++)
                    for (int l = 0; l < XFER_N_LINKS; l++) {
                        e_sum.msgs[d][l] += e.msgs[d][l];
                        e_sum.bytes[d][l] += e.bytes[d][l];
                    }
                if (is_attn) {
                    int64_t bi = st.b[t.inst];
                    for (int64_t rr = 0; rr < bi; rr++)
                        for (int c = 0; c < D; c++)
                            xi[rr * D + c] = x_val(t.inst, rr, c, layer);
                    for (int k = 0; k < MAX_LOCAL * D; k++)
                        out[k] = -7;
                    must(xfer_attn_send(&x, layer, xi), "xfer_attn_send");
                    must(xfer_attn_recv(&x, layer, out), "xfer_attn_recv");
                    for (int64_t rr = 0; rr < bi; rr++) {
                        int64_t row = x.off[t.inst] + rr;
                        // Every expert's output folded in increasing expert id, bit for bit.
                        int ord[SEL_K], pn;
                        int32_t inst[SEL_K];
                        (void)sel_slots(&t, want_ids + row * SEL_K, assign, ord, inst, &pn);
                        float wrow[D] = {0}, y[D];
                        for (int j = 0; j < SEL_K; j++) {
                            int32_t ex = want_ids[row * SEL_K + ord[j]];
                            for (int c = 0; c < D; c++)
                                y[c] = e_val(ex, row, c, layer);
                            kern_best()->axpy(wrow, want_w[row * SEL_K + ord[j]], y, D);
                        }
                        for (int c = 0; c < D; c++) {
                            float want = wrow[c];
                            CHECK(out[rr * D + c] == want,
                                  "(%d,%d,K%d,%s sel) attn %d row %lld col %d: %g != %g", n_a, n_e,
                                  node_size, xfer_scheme_name(scheme), t.inst, (long long)rr, c,
                                  out[rr * D + c], want);
                        }
                    }
                } else {
                    for (int64_t k = 0; k < max_rows * D; k++)
                        all[k] = -9;
                    must(xfer_moe_recv(&x, layer, all), "xfer_moe_recv");
                    uint8_t need[64] = {0};
                    for (int64_t row = 0; row < x.n_rows; row++)
                        for (int j = 0; j < SEL_K; j++)
                            need[row] |= assign[want_ids[row * SEL_K + j]] == t.inst;
                    for (int32_t i = 0; i < n_a; i++)
                        for (int64_t rr = 0; rr < st.b[i]; rr++)
                            for (int c = 0; c < D && need[x.off[i] + rr]; c++)
                                CHECK(all[(x.off[i] + rr) * D + c] == x_val(i, rr, c, layer),
                                      "(%d,%d,K%d,%s sel) moe %d: x of attn %d row %lld wrong", n_a,
                                      n_e, node_size, xfer_scheme_name(scheme), t.inst, i,
                                      (long long)rr);
                    // As moe_experts_split: the leading run of a row's experts folded here
                    // when slot 0 runs here, the others' outputs apart (e_val stands for
                    // expert e's output on the row); the fold mask as the plan's.
                    for (int64_t row = 0; row < x.n_rows; row++) {
                        int ord[SEL_K], pn;
                        int32_t inst[SEL_K];
                        int p = sel_slots(&t, want_ids + row * SEL_K, assign, ord, inst, &pn);
                        for (int c = 0; c < D; c++)
                            all[row * D + c] = 0;
                        for (int j = 0; j < SEL_K; j++) {
                            int q = ord[j], fold = inst[0] == t.inst && j < p;
                            CHECK(x.fold[row * SEL_K + q] == fold, "(%d,%d,K%d,%s sel) fold mask",
                                  n_a, n_e, node_size, xfer_scheme_name(scheme));
                            if (inst[j] != t.inst) continue;
                            int32_t ex = want_ids[row * SEL_K + q];
                            float y[D];
                            for (int c = 0; c < D; c++)
                                y[c] = e_val(ex, row, c, layer);
                            if (fold)
                                kern_best()->axpy(all + row * D, want_w[row * SEL_K + q], y, D);
                            else
                                memcpy(single + (row * SEL_K + q) * D, y, sizeof y);
                        }
                    }
                    must(xfer_moe_send(&x, layer, all, single), "xfer_moe_send");
                }
            }
            // Counters summed over ranks against the selective formula.
            uint64_t mine[2 * XFER_N_DIRS * XFER_N_LINKS + 1],
                sum[2 * XFER_N_DIRS * XFER_N_LINKS + 1];
            int n = 0;
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int l = 0; l < XFER_N_LINKS; l++) {
                    mine[n++] = x.ctr.msgs[1][scheme][d][l] - before.msgs[1][scheme][d][l];
                    mine[n++] = x.ctr.bytes[1][scheme][d][l] - before.bytes[1][scheme][d][l];
                }
            mine[n++] = x.ctr.route_bytes[0] + x.ctr.route_bytes[1] - before.route_bytes[0] -
                        before.route_bytes[1];
            must(JANUS_MPI_CALL(MPI_Allreduce(mine, sum, n, MPI_UINT64_T, MPI_SUM, t.comm)),
                 "allreduce");
            n = 0;
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int l = 0; l < XFER_N_LINKS; l++) {
                    CHECK(sum[n] == e_sum.msgs[d][l], "(%d,%d,K%d,%s sel) %s %s msgs %llu != %llu",
                          n_a, n_e, node_size, xfer_scheme_name(scheme), d ? "return" : "dispatch",
                          l ? "local" : "cross", (unsigned long long)sum[n],
                          (unsigned long long)e_sum.msgs[d][l]);
                    n++;
                    CHECK(sum[n] == e_sum.bytes[d][l],
                          "(%d,%d,K%d,%s sel) %s %s bytes %llu != %llu", n_a, n_e, node_size,
                          xfer_scheme_name(scheme), d ? "return" : "dispatch",
                          l ? "local" : "cross", (unsigned long long)sum[n],
                          (unsigned long long)e_sum.bytes[d][l]);
                    n++;
                }
            CHECK(sum[n] == route_want, "(%d,%d,K%d,%s sel) routing bytes %llu != %llu", n_a, n_e,
                  node_size, xfer_scheme_name(scheme), (unsigned long long)sum[n],
                  (unsigned long long)route_want);
        }
    }
    mem_free(xi);
    mem_free(out);
    mem_free(all);
    mem_free(single);
    xfer_free(&x);
    topo_free(&t);
}

TEST(xfer_selective_all_settings) {
    mpi_up();
    g_bad = 0;
    int world = 0, me = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    static const int32_t splits[][2] = {{1, 1}, {1, 2}, {2, 1}, {2, 3}, {3, 2},
                                        {2, 4}, {4, 2}, {3, 3}, {1, 5}, {2, 2}};
    static const int32_t node_sizes[] = {1, 2, 3, -1};
    int n_cfg = 0;
    for (size_t s = 0; s < JANUS_ARRAY_SIZE(splits); s++) {
        int32_t n_a = splits[s][0], n_e = splits[s][1];
        if (n_a + n_e > world) continue;
        MPI_Comm sub = MPI_COMM_NULL;
        must(comm_split(MPI_COMM_WORLD, me < n_a + n_e ? 0 : MPI_UNDEFINED, me, &sub), "split");
        for (size_t k = 0; k < JANUS_ARRAY_SIZE(node_sizes); k++) {
            if (sub != MPI_COMM_NULL) run_config_sel(sub, n_a, n_e, node_sizes[k], 500 * s + k);
            n_cfg++;
        }
        comm_free(&sub);
    }
    int bad = 0;
    MPI_Allreduce(&g_bad, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    ASSERT_EQ(bad, 0);
    ASSERT(n_cfg >= 8);
}

TEST(xfer_exchange_all_settings) {
    mpi_up();
    g_bad = 0;
    int world = 0, me = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    static const int32_t splits[][2] = {{1, 1}, {1, 2}, {2, 1}, {2, 3}, {3, 2}, {2, 4},
                                        {4, 2}, {3, 3}, {1, 5}, {5, 1}, {2, 2}};
    // 0: real hosts (one host here); -1: two emulated hosts, ranks interleaved.
    static const int32_t node_sizes[] = {1, 2, 3, 0, -1};
    int n_cfg = 0;
    for (size_t s = 0; s < JANUS_ARRAY_SIZE(splits); s++) {
        int32_t n_a = splits[s][0], n_e = splits[s][1];
        if (n_a + n_e > world) continue;
        MPI_Comm sub = MPI_COMM_NULL;
        must(comm_split(MPI_COMM_WORLD, me < n_a + n_e ? 0 : MPI_UNDEFINED, me, &sub), "split");
        for (size_t k = 0; k < JANUS_ARRAY_SIZE(node_sizes); k++) {
            if (sub != MPI_COMM_NULL) run_config(sub, n_a, n_e, node_sizes[k], 1000 * s + k);
            n_cfg++;
        }
        comm_free(&sub);
    }
    int bad = 0;
    MPI_Allreduce(&g_bad, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    ASSERT_EQ(bad, 0);
    ASSERT(n_cfg >= 8);
}

TEST(xfer_calibration_and_choice_agree) {
    mpi_up();
    g_bad = 0;
    int world = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (world < 6) {
        fprintf(stderr, "needs 6 ranks\n");
        ASSERT(0);
    }
    // 2 attention + 4 MoE in emulated nodes of 2: N_a = 1, N_e = 2.
    struct topo t;
    must(topo_init(&t, MPI_COMM_WORLD, 2, 4, 2), "topo_init");
    struct xfer_cost c;
    must(xfer_cost_calibrate(&c, &t), "calibrate");
    for (int l = 0; l < XFER_N_LINKS; l++) {
        CHECK(c.lat_s[l] > 0 && c.byte_s[l] > 0, "calibrated link %d: lat %g byte %g", l,
              c.lat_s[l], c.byte_s[l]);
        uint64_t bits[2];
        memcpy(&bits[0], &c.lat_s[l], 8);
        memcpy(&bits[1], &c.byte_s[l], 8);
        must(comm_check_equal_u64(t.comm, bits[0], "calibrated latency"), "equal");
        must(comm_check_equal_u64(t.comm, bits[1], "calibrated byte cost"), "equal");
    }
    int32_t b[2] = {3, 1};
    int32_t choice = xfer_choose(&c, &t, b, 4096, NULL);
    must(comm_check_equal_u64(t.comm, (uint64_t)choice, "scheme choice"), "equal");
    // A slow emulated cross-node link: 1PC's 4 cross messages per attention instance lose
    // to 2PC's 2 per leader; a slow local link instead brings 1PC back.
    char err[160];
    struct xfer_cost slow = c;
    must(xfer_cost_override(&slow, "cross_lat_us=1000,local_lat_us=1", err, sizeof err),
         "override");
    double pred[XFER_N_SCHEMES];
    int32_t s1 = xfer_choose(&slow, &t, b, 4096, pred);
    CHECK(s1 != XFER_SCHEME_1PC && pred[s1] < pred[XFER_SCHEME_1PC], "slow cross link chose %s",
          xfer_scheme_name(s1));
    struct xfer_cost slow_local = c;
    must(xfer_cost_override(&slow_local, "cross_lat_us=1,local_lat_us=1000", err, sizeof err),
         "override");
    CHECK(xfer_choose(&slow_local, &t, b, 4096, NULL) == XFER_SCHEME_1PC, "slow local link");
    topo_free(&t);
    int bad = 0;
    MPI_Allreduce(&g_bad, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    ASSERT_EQ(bad, 0);
}
