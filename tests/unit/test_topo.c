// Unit tests for comm/topo's pure part: roles, instances, emulated and host-based nodes,
// leaders, node-major row offsets, argument checks. (The communicators are exercised by
// tests/mpi/test_xfer.c.)
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "comm/topo.h"

TEST(topo_emulated_nodes) {
    struct topo t;
    // 5 attention + 3 MoE, nodes of 2: attention {0,1} {2,3} {4}; MoE {0,1} {2}.
    ASSERT_OK(topo_build(&t, 5, 3, 2, NULL, 6));
    ASSERT_EQ(t.n_ranks, 8);
    ASSERT_EQ(t.side[TOPO_ROLE_ATTN].n_node, 3);
    ASSERT_EQ(t.side[TOPO_ROLE_MOE].n_node, 2);
    ASSERT_EQ(topo_node_n(&t, TOPO_ROLE_ATTN, 2), 1); // last node smaller
    ASSERT_EQ(topo_leader(&t, TOPO_ROLE_ATTN, 1), 2);
    ASSERT_EQ(topo_leader(&t, TOPO_ROLE_MOE, 1), 2);
    ASSERT_EQ(t.side[TOPO_ROLE_MOE].rank[0], 5);
    ASSERT_EQ(t.role_of[4], TOPO_ROLE_ATTN);
    ASSERT_EQ(t.role_of[5], TOPO_ROLE_MOE);
    ASSERT_EQ(t.inst_of[7], 2);
    // self = rank 6 = MoE instance 1, node 0, not a leader.
    ASSERT_EQ(t.role, TOPO_ROLE_MOE);
    ASSERT_EQ(t.inst, 1);
    ASSERT_EQ(t.node, 0);
    ASSERT_EQ(t.is_leader, 0);
    topo_free(&t);
    ASSERT_OK(topo_build(&t, 5, 3, 2, NULL, 7));
    ASSERT_EQ(t.node, 1);
    ASSERT_EQ(t.is_leader, 1);
    topo_free(&t);
    // node_size 1: every instance its own node and leader.
    ASSERT_OK(topo_build(&t, 2, 3, 1, NULL, 0));
    ASSERT_EQ(t.side[TOPO_ROLE_ATTN].n_node, 2);
    ASSERT_EQ(t.side[TOPO_ROLE_MOE].n_node, 3);
    ASSERT_EQ(t.is_leader, 1);
    topo_free(&t);
    // node_size larger than a role: one node per role.
    ASSERT_OK(topo_build(&t, 2, 3, 8, NULL, 4));
    ASSERT_EQ(t.side[TOPO_ROLE_ATTN].n_node, 1);
    ASSERT_EQ(t.side[TOPO_ROLE_MOE].n_node, 1);
    ASSERT_EQ(t.is_leader, 0);
    topo_free(&t);
}

TEST(topo_hosts_interleaved) {
    // 4 attention + 3 MoE ranks on two hosts mapped round-robin (mpirun --map-by node).
    int32_t hosts[7] = {10, 11, 10, 11, 10, 10, 11};
    struct topo t;
    ASSERT_OK(topo_build(&t, 4, 3, 0, hosts, 3));
    const struct topo_side *A = &t.side[TOPO_ROLE_ATTN];
    ASSERT_EQ(A->n_node, 2);
    ASSERT_EQ(A->node[0], 0);
    ASSERT_EQ(A->node[1], 1);
    ASSERT_EQ(A->node[2], 0);
    int32_t want_member[4] = {0, 2, 1, 3};
    ASSERT_MEM_EQ(A->member, want_member, sizeof want_member);
    ASSERT_EQ(A->pos[1], 2);
    ASSERT_EQ(t.node, 1);
    ASSERT_EQ(t.is_leader, 0); // rank 3's node is {1, 3}, led by 1
    ASSERT_EQ(t.side[TOPO_ROLE_MOE].n_node, 2);
    ASSERT_EQ(topo_node_n(&t, TOPO_ROLE_MOE, 0), 2);
    // Node-major row offsets: b = 1 2 3 4 -> order 0, 2, 1, 3.
    int32_t b[4] = {1, 2, 3, 4};
    int64_t off[4], node_off[3];
    ASSERT_EQ(topo_row_offsets(&t, b, off, node_off), 10);
    ASSERT_EQ(off[0], 0);
    ASSERT_EQ(off[2], 1);
    ASSERT_EQ(off[1], 4);
    ASSERT_EQ(off[3], 6);
    ASSERT_EQ(node_off[0], 0);
    ASSERT_EQ(node_off[1], 4);
    ASSERT_EQ(node_off[2], 10);
    topo_free(&t);
}

TEST(topo_rejects) {
    struct topo t;
    memset(&t, 0x5a, sizeof t);
    ASSERT_EQ(topo_build(&t, 0, 2, 1, NULL, 0), JANUS_EINVAL);
    ASSERT_EQ(topo_build(&t, 2, 0, 1, NULL, 0), JANUS_EINVAL);
    ASSERT_EQ(topo_build(&t, 2, 2, 0, NULL, 0), JANUS_EINVAL); // hosts needed
    ASSERT_EQ(topo_build(&t, 2, 2, -1, NULL, 0), JANUS_EINVAL);
    ASSERT_EQ(topo_build(&t, 2, 2, 1, NULL, 4), JANUS_EINVAL); // self out of range
    ASSERT_EQ(topo_build(&t, LIMIT_MAX_INSTANCES + 1, 1, 1, NULL, 0), JANUS_EINVAL);
    ASSERT_EQ(t.n_ranks, 0x5a5a5a5a); // untouched
}

TEST(topo_alloc_failure_leaves_nothing) {
    int64_t before = mem_live_bytes(MEM_TAG_COMM);
    for (uint64_t n = 1; n < 20; n++) {
        struct topo t;
        mem_fail_after(n);
        int rc = topo_build(&t, 3, 2, 2, NULL, 0);
        mem_fail_after(0);
        if (rc == JANUS_OK)
            topo_free(&t);
        else
            ASSERT_EQ(rc, JANUS_ENOMEM);
        ASSERT_EQ(mem_live_bytes(MEM_TAG_COMM), before);
    }
}
