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
// choice as the cost model says.
#include "../test.h"

#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "comm/comm.h"
#include "comm/topo.h"
#include "comm/xfer.h"
#include "comm/xfer_cost.h"

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
                    must(xfer_moe_send(&x, layer, all), "xfer_moe_send");
                }
            }
            // Counters: this step's sends on every rank, summed, against SPEC §4 x N_LAYER.
            uint64_t mine[2 * XFER_N_DIRS * XFER_N_LINKS], sum[2 * XFER_N_DIRS * XFER_N_LINKS];
            int n = 0;
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int l = 0; l < XFER_N_LINKS; l++) {
                    mine[n++] = x.ctr.msgs[scheme][d][l] - before.msgs[scheme][d][l];
                    mine[n++] = x.ctr.bytes[scheme][d][l] - before.bytes[scheme][d][l];
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
