// Shared synthetic model/hardware/table fixtures for the planner tests (test_latency,
// test_search, test_sim): small shapes built in code, so the tests need no data files.
// SPDX-License-Identifier: MIT
#ifndef JANUS_TEST_PLAN_FIXTURE_H
#define JANUS_TEST_PLAN_FIXTURE_H

#include "scale/amax.h"
#include "sim/hw.h"
#include "sim/models.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// A small GQA MoE model: 4 layers (1 dense), d 1024, 16 experts top-2 of width 512.
static inline void fx_model(struct models_shape *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "tiny");
    m->n_layers = 4;
    m->n_dense_layers = 1;
    m->d_model = 1024;
    m->vocab = 8000;
    m->attn = MODELS_ATTN_GQA;
    m->n_heads = 8;
    m->n_kv_heads = 2;
    m->head_dim = 128;
    m->n_experts = 16;
    m->top_k = 2;
    m->n_shared = 1;
    m->expert_ff = 512;
    m->dense_ff = 2048;
    m->bytes_per_weight = 2;
    m->kv_bytes_per_elem = 2;
}

// A device with 6 GB so that memory limits bite in small configurations.
static inline void fx_hw(struct hw_profile *h) {
    memset(h, 0, sizeof *h);
    snprintf(h->id, sizeof h->id, "toy");
    h->peak_flops = 100e12;
    h->mem_bw = 1e12;
    h->mem_bytes = 6e9;
    h->intra_bw = 100e9;
    h->intra_lat = 2e-6;
    h->inter_bw = 20e9;
    h->inter_lat = 5e-6;
    h->devices_per_node = 4;
}

// A synthetic monotone a_max table: n_e = 1..max_ne, a_max = min(slots, k*B/n_e + 1),
// t_max = k*B/n_e * 1.2.
static inline int fx_table(struct amax_table *t, int max_ne, int slots, int E, int k) {
    static const int grid[] = {1,   2,   4,    8,    16,   32,   64,   128,
                               256, 512, 1024, 2048, 4096, 8192, 16384};
    int nb = (int)(sizeof grid / sizeof grid[0]);
    int rc = amax_alloc(t, max_ne, nb);
    if (rc) return rc;
    t->n_experts = E;
    t->top_k = k;
    for (int j = 0; j < nb; j++) {
        t->b_grid[j] = grid[j];
        double act = E * (1 - pow(1 - (double)k / E, grid[j]));
        t->active[j] = (float)act;
    }
    for (int i = 0; i < max_ne; i++) {
        int ne = i + 1;
        t->n_e[i] = ne;
        t->slots[i] = slots;
        for (int j = 0; j < nb; j++) {
            double a = (double)k * grid[j] / ne + 1;
            if (a > slots) a = slots;
            t->amax[i * nb + j] = (float)a;
            t->tmax[i * nb + j] = (float)(1.2 * k * grid[j] / ne);
            t->bound[i * nb + j] = (float)slots;
        }
    }
    return 0;
}

#endif // JANUS_TEST_PLAN_FIXTURE_H
