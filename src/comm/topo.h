// Deployment topology (SPEC §2 "node"): job rank -> role (attention / MoE; the controller
// shares rank 0 with attention instance 0), instance index, node, leader; plus the node
// and leader communicators. Ranks 0..n_a-1 are attention instances 0..n_a-1, ranks
// n_a..n_a+n_e-1 are MoE instances 0..n_e-1. Nodes hold one role only: real hosts
// (MPI_Comm_split_type SHARED, then split by role; node_size 0) or emulated nodes of K
// consecutive instances per role (node_size K; the last node may be smaller). A node's
// leader is its lowest rank. topo_build is pure (unit-tested without MPI); topo_init adds
// the communicators.
// SPDX-License-Identifier: MIT
#ifndef JANUS_COMM_TOPO_H
#define JANUS_COMM_TOPO_H

#include "base/base.h"

#include <mpi.h>
#include <stdint.h>

enum topo_role { TOPO_ROLE_ATTN = 0, TOPO_ROLE_MOE = 1 };
#define TOPO_N_ROLES 2

// One role's instances and nodes. Node-major order (node 0's members ascending, then node
// 1's, ...) is the fixed order of rows on the MoE side (SPEC §3 step 4): it makes every
// attention node's rows one contiguous block.
struct topo_side {
    int32_t n_inst;      // n_a or n_e
    int32_t n_node;      // N_a or N_e
    int32_t *rank;       // (n_inst) job rank of each instance
    int32_t *node;       // (n_inst) node of each instance
    int32_t *node_first; // (n_node + 1) CSR offsets into member
    int32_t *member;     // (n_inst) node-major order; member[node_first[j]] leads node j
    int32_t *pos;        // (n_inst) position of each instance in member (inverse of member)
};

struct topo {
    int32_t n_ranks;   // n_a + n_e
    int32_t node_size; // K of the emulation, 0 = real hosts
    struct topo_side side[TOPO_N_ROLES];
    int32_t *role_of; // (n_ranks) enum topo_role of each rank
    int32_t *inst_of; // (n_ranks) instance index of each rank in its role
    // This rank (set by topo_init; topo_build sets them for rank `self`).
    int32_t rank, role, inst, node, is_leader;
    MPI_Comm comm;         // the job communicator (a dup of the parent), MPI_ERRORS_RETURN
    MPI_Comm comm_node;    // ranks of this rank's node (same role), key = rank
    MPI_Comm comm_leaders; // leaders of this rank's role; MPI_COMM_NULL on non-leaders
    MPI_Comm comm_role;    // every rank of this rank's role (schedule digests, statistics)
};

// Pure, not collective. Builds the maps for n_a attention and n_e MoE instances. node_size
// K >= 1 groups consecutive instances of each role into nodes of K; node_size 0 uses
// host_of_rank[r] (any int label per rank; ranks with equal labels share a host): the
// nodes of a role are its distinct hosts in order of their first instance. self is the
// rank whose role/inst/node/is_leader fields are filled (0 <= self < n_a + n_e).
// Communicators are set to MPI_COMM_NULL. Returns JANUS_OK, JANUS_EINVAL (counts out of
// range, node_size 0 without host labels) or JANUS_ENOMEM; *t untouched on error.
JANUS_WUR int topo_build(struct topo *t, int32_t n_a, int32_t n_e, int32_t node_size,
                         const int32_t *host_of_rank, int32_t self);

// Collective on parent, whose size must be n_a + n_e (all arguments equal on every rank).
// topo_build for this rank (host labels from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)
// when node_size == 0), then creates comm, comm_node and comm_leaders. Returns JANUS_OK,
// JANUS_EINVAL (size mismatch, bad counts), JANUS_ENOMEM or JANUS_ECOMM; *t untouched on
// error. Also creates comm_role.
JANUS_WUR int topo_init(struct topo *t, MPI_Comm parent, int32_t n_a, int32_t n_e,
                        int32_t node_size);

// Collective on parent. Like topo_init with node_size 0, but with the host label of every
// rank given (host_of_rank, n_a + n_e entries, equal on every rank) instead of measured:
// lets tests on one host exercise real-host groupings, e.g. ranks interleaved over hosts
// as `mpirun --map-by node` places them (nodes whose instances are not consecutive).
JANUS_WUR int topo_init_hosts(struct topo *t, MPI_Comm parent, int32_t n_a, int32_t n_e,
                              const int32_t *host_of_rank);

// Collective on t->comm when communicators exist (frees them); frees the maps. Safe on a
// zeroed struct and on a topo_build result.
void topo_free(struct topo *t);

// Pure. Row offsets of one step in node-major order: b (n_a) rows per attention instance;
// off (n_a): first row of each instance; node_off (N_a + 1): first row of each attention
// node (node_off[N_a] = B). Returns B.
int64_t topo_row_offsets(const struct topo *t, const int32_t *b, int64_t *off, int64_t *node_off);

// Pure. Leader (instance index) of node j of role r, and node size.
int32_t topo_leader(const struct topo *t, int32_t role, int32_t node);
int32_t topo_node_n(const struct topo *t, int32_t role, int32_t node);

// "attn" / "moe".
const char *topo_role_name(int32_t role);

#endif // JANUS_COMM_TOPO_H
