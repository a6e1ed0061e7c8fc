// Deployment topology (topo.h, SPEC §2): pure map building plus the MPI communicators.
// topo_build is pure; topo_init and topo_init_hosts are collective on the parent communicator.
// SPDX-License-Identifier: MIT
#include "comm/topo.h"

#include "base/limits.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "comm/comm.h"

#include <string.h>

const char *topo_role_name(int32_t role) { return role == TOPO_ROLE_ATTN ? "attn" : "moe"; }

static void side_free(struct topo_side *s) {
    mem_free(s->rank);
    mem_free(s->node);
    mem_free(s->node_first);
    mem_free(s->member);
    mem_free(s->pos);
    memset(s, 0, sizeof *s);
}

// Fills one side: instances first_rank.. first_rank+n-1.
static int side_build(struct topo_side *s, int32_t n, int32_t first_rank, int32_t node_size,
                      const int32_t *host_of_rank) {
    memset(s, 0, sizeof *s);
    s->n_inst = n;
    s->rank = mem_calloc(MEM_TAG_COMM, (size_t)n, sizeof(int32_t));
    s->node = mem_calloc(MEM_TAG_COMM, (size_t)n, sizeof(int32_t));
    s->node_first = mem_calloc(MEM_TAG_COMM, (size_t)n + 1, sizeof(int32_t));
    s->member = mem_calloc(MEM_TAG_COMM, (size_t)n, sizeof(int32_t));
    s->pos = mem_calloc(MEM_TAG_COMM, (size_t)n, sizeof(int32_t));
    int32_t *label = mem_calloc(MEM_TAG_COMM, (size_t)n, sizeof(int32_t)); // node -> host
    if (!s->rank || !s->node || !s->node_first || !s->member || !s->pos || !label) {
        mem_free(label);
        side_free(s);
        return JANUS_ENOMEM;
    }
    int32_t n_node = 0;
    for (int32_t i = 0; i < n; i++) {
        s->rank[i] = first_rank + i;
        if (node_size > 0) {
            s->node[i] = i / node_size;
            n_node = s->node[i] + 1;
            continue;
        }
        int32_t h = host_of_rank[first_rank + i], j = 0;
        while (j < n_node && label[j] != h)
            j++;
        if (j == n_node) label[n_node++] = h;
        s->node[i] = j;
    }
    mem_free(label);
    s->n_node = n_node;
    // CSR by counting; members ascending because instances are visited in order.
    for (int32_t i = 0; i < n; i++)
        s->node_first[s->node[i] + 1]++;
    for (int32_t j = 0; j < n_node; j++)
        s->node_first[j + 1] += s->node_first[j];
    int32_t *fill = mem_calloc(MEM_TAG_COMM, (size_t)n_node, sizeof(int32_t));
    if (!fill) {
        side_free(s);
        return JANUS_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        int32_t p = s->node_first[s->node[i]] + fill[s->node[i]]++;
        s->member[p] = i;
        s->pos[i] = p;
    }
    mem_free(fill);
    return JANUS_OK;
}

int topo_build(struct topo *t, int32_t n_a, int32_t n_e, int32_t node_size,
               const int32_t *host_of_rank, int32_t self) {
    if (n_a < 1 || n_e < 1 || n_a > LIMIT_MAX_INSTANCES || n_e > LIMIT_MAX_INSTANCES)
        return JANUS_EINVAL;
    if (node_size < 0 || (node_size == 0 && !host_of_rank)) return JANUS_EINVAL;
    if (self < 0 || self >= n_a + n_e) return JANUS_EINVAL;
    struct topo r;
    memset(&r, 0, sizeof r);
    r.n_ranks = n_a + n_e;
    r.node_size = node_size;
    r.comm = r.comm_node = r.comm_leaders = r.comm_role = MPI_COMM_NULL;
    int rc = side_build(&r.side[TOPO_ROLE_ATTN], n_a, 0, node_size, host_of_rank);
    if (rc == JANUS_OK) rc = side_build(&r.side[TOPO_ROLE_MOE], n_e, n_a, node_size, host_of_rank);
    if (rc == JANUS_OK) {
        r.role_of = mem_calloc(MEM_TAG_COMM, (size_t)r.n_ranks, sizeof(int32_t));
        r.inst_of = mem_calloc(MEM_TAG_COMM, (size_t)r.n_ranks, sizeof(int32_t));
        if (!r.role_of || !r.inst_of) rc = JANUS_ENOMEM;
    }
    if (rc != JANUS_OK) {
        topo_free(&r);
        return rc;
    }
    for (int32_t k = 0; k < r.n_ranks; k++) {
        r.role_of[k] = k < n_a ? TOPO_ROLE_ATTN : TOPO_ROLE_MOE;
        r.inst_of[k] = k < n_a ? k : k - n_a;
    }
    r.rank = self;
    r.role = r.role_of[self];
    r.inst = r.inst_of[self];
    const struct topo_side *s = &r.side[r.role];
    r.node = s->node[r.inst];
    r.is_leader = s->member[s->node_first[r.node]] == r.inst;
    *t = r;
    return JANUS_OK;
}

int32_t topo_leader(const struct topo *t, int32_t role, int32_t node) {
    const struct topo_side *s = &t->side[role];
    return s->member[s->node_first[node]];
}

int32_t topo_node_n(const struct topo *t, int32_t role, int32_t node) {
    const struct topo_side *s = &t->side[role];
    return s->node_first[node + 1] - s->node_first[node];
}

int64_t topo_row_offsets(const struct topo *t, const int32_t *b, int64_t *off, int64_t *node_off) {
    const struct topo_side *s = &t->side[TOPO_ROLE_ATTN];
    int64_t row = 0;
    for (int32_t j = 0; j < s->n_node; j++) {
        node_off[j] = row;
        for (int32_t p = s->node_first[j]; p < s->node_first[j + 1]; p++) {
            int32_t i = s->member[p];
            off[i] = row;
            row += b[i];
        }
    }
    node_off[s->n_node] = row;
    return row;
}

// Host label of this rank: the lowest parent rank sharing its memory domain.
static int host_label(MPI_Comm parent, int32_t *label) {
    MPI_Comm shared = MPI_COMM_NULL;
    int me = 0;
    COMM_TRY(MPI_Comm_rank(parent, &me));
    COMM_TRY(MPI_Comm_split_type(parent, MPI_COMM_TYPE_SHARED, me, MPI_INFO_NULL, &shared));
    int lo = me;
    int rc = JANUS_MPI_CALL(MPI_Allreduce(&me, &lo, 1, MPI_INT, MPI_MIN, shared));
    MPI_Comm_free(&shared);
    if (rc == JANUS_OK) *label = lo;
    return rc;
}

// Shared by topo_init and topo_init_hosts: hosts (n_ranks labels) or NULL with node_size > 0.
static int init_common(struct topo *t, MPI_Comm parent, int32_t n_a, int32_t n_e, int32_t node_size,
                       const int32_t *hosts, int me) {
    struct topo r;
    memset(&r, 0, sizeof r);
    int rc = topo_build(&r, n_a, n_e, node_size, hosts, me);
    if (rc != JANUS_OK) return rc;
    rc = comm_dup(parent, &r.comm);
    // Node colors: attention nodes 0..N_a-1, MoE nodes N_a..N_a+N_e-1.
    int color = r.role == TOPO_ROLE_ATTN ? r.node : r.side[TOPO_ROLE_ATTN].n_node + r.node;
    if (rc == JANUS_OK) rc = comm_split(r.comm, color, me, &r.comm_node);
    if (rc == JANUS_OK)
        rc = comm_split(r.comm, r.is_leader ? r.role : MPI_UNDEFINED, me, &r.comm_leaders);
    if (rc == JANUS_OK) rc = comm_split(r.comm, r.role, me, &r.comm_role);
    if (rc != JANUS_OK) {
        topo_free(&r);
        return rc;
    }
    *t = r;
    return JANUS_OK;
}

static int check_size(MPI_Comm parent, int32_t n_a, int32_t n_e, int *me) {
    int size = 0;
    COMM_TRY(MPI_Comm_size(parent, &size));
    COMM_TRY(MPI_Comm_rank(parent, me));
    if (n_a < 1 || n_e < 1 || (int64_t)n_a + n_e != size) {
        LOG_ERROR("topology: %d attention + %d MoE instances need %d ranks, the job has %d", n_a,
                  n_e, n_a + n_e, size);
        return JANUS_EINVAL;
    }
    return JANUS_OK;
}

int topo_init(struct topo *t, MPI_Comm parent, int32_t n_a, int32_t n_e, int32_t node_size) {
    int me = 0;
    int rc = check_size(parent, n_a, n_e, &me);
    if (rc != JANUS_OK) return rc;
    if (node_size < 0) return JANUS_EINVAL;
    if (node_size > 0) return init_common(t, parent, n_a, n_e, node_size, NULL, me);
    int32_t *hosts = mem_calloc(MEM_TAG_COMM, (size_t)(n_a + n_e), sizeof(int32_t));
    if (!hosts) return JANUS_ENOMEM;
    int32_t mine = 0;
    rc = host_label(parent, &mine);
    if (rc == JANUS_OK)
        rc = JANUS_MPI_CALL(MPI_Allgather(&mine, 1, MPI_INT32_T, hosts, 1, MPI_INT32_T, parent));
    if (rc == JANUS_OK) rc = init_common(t, parent, n_a, n_e, 0, hosts, me);
    mem_free(hosts);
    return rc;
}

int topo_init_hosts(struct topo *t, MPI_Comm parent, int32_t n_a, int32_t n_e,
                    const int32_t *host_of_rank) {
    int me = 0;
    int rc = check_size(parent, n_a, n_e, &me);
    if (rc != JANUS_OK) return rc;
    if (!host_of_rank) return JANUS_EINVAL;
    return init_common(t, parent, n_a, n_e, 0, host_of_rank, me);
}

void topo_free(struct topo *t) {
    comm_free(&t->comm_role);
    comm_free(&t->comm_leaders);
    comm_free(&t->comm_node);
    comm_free(&t->comm);
    for (int r = 0; r < TOPO_N_ROLES; r++)
        side_free(&t->side[r]);
    mem_free(t->role_of);
    mem_free(t->inst_of);
    memset(t, 0, sizeof *t);
    t->comm = t->comm_node = t->comm_leaders = t->comm_role = MPI_COMM_NULL;
}
