// Setup and teardown of one rank of the MPI deployment (worker.h): model, layout (a file,
// or the round-robin default of place/round_robin.h), the rank's share of the weights
// (issue 12 item 2), engine contexts of the rank's role.
// SPDX-License-Identifier: MIT
#include "runtime/worker.h"

#include "base/mem.h"
#include "base/status.h"
#include "engine/gate.h"
#include "place/round_robin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Rank 0 waits this long for every rank to close its end of the wake-up channel.
#define WAKE_LINGER_MS 2000

void worker_free(struct worker *w) {
    replace_free(w); // joins a loader thread still running
    wake_close(&w->wake, WAKE_LINGER_MS);
    attn_free(&w->attn);
    batch_free(&w->batch);
    sampler_free(&w->smp);
    moe_free(&w->moe);
    moe_routing_free(&w->rt);
    moe_routing_free(&w->rt_local);
    mem_free(w->gate_r);
    mem_free(w->gate_scratch);
    linear_ctx_free(&w->lin);
    actsched_free(&w->ws);
    actsched_output_free(&w->so);
    stats_free(&w->stats);
    layout_free(&w->layout);
    exec_kv_free(&w->kv);
    if (w->xf_ok) xfer_free(&w->xf);
    if (w->topo_ok) topo_free(&w->topo);
    if (w->model_ok) model_free(&w->model);
    mem_free(w->moe_out);
    mem_free(w->logits);
    mem_free(w->run_here);
    mem_free(w->held);
    mem_free(w->x_all);
    mem_free(w->partial);
    mem_free(w->single);
    mem_free(w->hdr);
    mem_free(w->pack);
    mem_free(w->req);
    mem_free(w);
}

static int load_layout(struct worker *w, char *err, size_t err_len) {
    const struct worker_mpi_params *p = &w->p;
    const struct hparams *hp = &w->model.hp;
    if (!p->layout_path) {
        uint8_t is_moe[LIMIT_MAX_LAYERS];
        for (int64_t l = 0; l < w->n_layer; l++)
            is_moe[l] = (uint8_t)hparams_layer_is_moe(hp, l);
        return round_robin_layout(&w->layout, (int32_t)w->n_layer, is_moe, p->n_moe, w->p.n_slots,
                                  (int32_t)w->n_expert, err, err_len);
    }
    int rc = layout_load_json(&w->layout, p->layout_path, err, err_len);
    if (rc) return rc;
    const struct layout *ly = &w->layout;
    if (ly->n_instances != p->n_moe || ly->n_experts != w->n_expert || ly->n_layers != w->n_layer)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "layout %s is for %d MoE instances, %d experts, %d layers; the "
                           "deployment has %d, the model %lld experts and %lld layers",
                           p->layout_path, ly->n_instances, ly->n_experts, ly->n_layers, p->n_moe,
                           (long long)w->n_expert, (long long)w->n_layer);
    for (int32_t l = 0; l < w->n_layer; l++)
        if ((ly->layers[l].n_experts > 0) != hparams_layer_is_moe(hp, l))
            return status_errf(err, err_len, JANUS_EINVAL,
                               "layout %s: layer %d is %s but the model's is %s", p->layout_path, l,
                               ly->layers[l].n_experts > 0 ? "MoE" : "dense",
                               hparams_layer_is_moe(hp, l) ? "MoE" : "dense");
    return JANUS_OK;
}

int worker_setup_local(struct worker *w, char *err, size_t err_len) {
    const struct worker_mpi_params *p = &w->p;
    // Headers and views only: each rank loads its share once its role is known
    // (worker_load_share).
    int rc = model_open(&w->model, p->model_path, &p->io, err, err_len);
    if (rc) return rc;
    w->model_ok = 1;
    const struct hparams *hp = &w->model.hp;
    if (hp->n_expert < 1)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "%s is a dense model; a disaggregated deployment needs experts",
                           p->model_path);
    w->d = hp->n_embd;
    w->V = hp->n_vocab;
    w->n_layer = hp->n_layer; // <= LIMIT_MAX_LAYERS (hparams)
    w->n_expert = hp->n_expert;
    w->k = hp->n_expert_used;
    if (w->p.n_slots == 0) w->p.n_slots = round_robin_default_slots((int32_t)w->n_expert, p->n_moe);
    if (w->p.n_ctx == 0)
        w->p.n_ctx =
            hp->n_ctx_train > 0 && hp->n_ctx_train < 4096 ? (int32_t)hp->n_ctx_train : 4096;
    rc = load_layout(w, err, err_len);
    if (rc) return rc;
    linear_ctx_init(&w->lin, NULL, p->n_threads > 0 ? p->n_threads : 1);
    if (linear_ctx_set_path(&w->lin, p->matmul) != JANUS_OK)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "bad numeric path %d (matmul: exact or int8)", p->matmul);
    struct exec_info *info = &w->base.info;
    info->n_attn = p->n_attn;
    info->n_moe = p->n_moe;
    info->n_layer = (int32_t)w->n_layer;
    info->n_vocab = (int32_t)w->V;
    info->n_ctx = w->p.n_ctx;
    info->max_seqs = p->max_seqs;
    info->kv_tokens = (int64_t)p->max_seqs * w->p.n_ctx;
    model_display_name(&w->model, p->model_path, info->model_name, sizeof info->model_name);
    return JANUS_OK;
}

// Proportional and resident set size of this process in kB (/proc/self/smaps_rollup;
// -1 where unreadable).
static void rollup_kb(long long *pss, long long *rss) {
    *pss = *rss = -1;
    char line[256];
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    while (f && fgets(line, sizeof line, f)) {
        long long v;
        if (sscanf(line, "Pss: %lld kB", &v) == 1) *pss = v;
        if (sscanf(line, "Rss: %lld kB", &v) == 1) *rss = v;
    }
    if (f) fclose(f);
}

int worker_load_share(struct worker *w, char *err, size_t err_len) {
    struct model_share sh = {0};
    uint8_t *mask = NULL;
    if (w->topo.role == TOPO_ROLE_ATTN) {
        sh.dense = 1; // attention, norms, dense FFNs, shared experts, embeddings, output
        sh.router = w->p.dispatch != XFER_MODE_BROADCAST; // selective: it gates its own rows
    } else {
        // The router and every expert the layout places on this instance, replicas included.
        mask = mem_calloc(MEM_TAG_MODEL, (size_t)(w->n_layer * w->n_expert), 1);
        if (!mask) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
        for (int64_t l = 0; l < w->n_layer; l++) {
            const struct layout_layer *ly = &w->layout.layers[l];
            for (int32_t e = 0; e < ly->n_experts; e++)
                for (int32_t j = ly->host_off[e]; j < ly->host_off[e + 1]; j++)
                    if (ly->hosts[j] == w->topo.inst) mask[l * w->n_expert + e] = 1;
        }
        sh.router = 1;
        sh.experts = mask;
    }
    long long pss_kb;
    rollup_kb(&pss_kb, &w->rss_open_kb);
    int rc = model_load_share(&w->model, &sh, err, err_len);
    w->share_bytes = model_share_bytes(&w->model, &sh);
    w->held = mask; // step_moe checks every expert it runs against it
    return rc;
}

// JANUS_PRINT_PSS (tests, benchmarks): one stderr line per rank once it is set up: its
// proportional and resident set sizes, the resident set size before its share was loaded,
// and the bytes of its weight share.
static void print_pss(const struct worker *w) {
    if (!getenv("JANUS_PRINT_PSS")) return;
    long long pss_kb, rss_kb;
    rollup_kb(&pss_kb, &rss_kb);
    fprintf(stderr,
            "janus-pss: rank %d role %s inst %d mode %s pss_kb %lld rss_kb %lld rss_open_kb %lld "
            "share_bytes %llu\n",
            w->topo.rank, topo_role_name(w->topo.role), w->topo.inst,
            fmap_mode_name(w->model.io.mode), pss_kb, rss_kb, w->rss_open_kb,
            (unsigned long long)w->share_bytes);
}

int worker_setup_role(struct worker *w) {
    const struct worker_mpi_params *p = &w->p;
    int64_t B_max = (int64_t)p->n_attn * p->max_rows;
    int rc = xfer_init(&w->xf, &w->topo, w->d, p->max_rows);
    if (rc) return rc;
    w->xf_ok = 1;
    struct actsched_limits lim = {.max_tokens = JANUS_MAX(B_max, 1),
                                  .max_experts = (int32_t)w->n_expert,
                                  .max_instances = p->n_moe,
                                  .max_top_k = (int32_t)w->k};
    if (p->dispatch != XFER_MODE_BROADCAST) {
        // Selective dispatch may run: every rank holds the routing and the schedule.
        rc = xfer_sel_init(&w->xf, (int32_t)w->k, w->lin.kern->axpy);
        if (!rc && w->topo.role == TOPO_ROLE_ATTN) {
            rc = moe_routing_init(&w->rt, &w->model, B_max);
            if (!rc) rc = moe_routing_init(&w->rt_local, &w->model, p->max_rows);
            if (!rc) rc = actsched_init(&w->ws, &lim);
            if (!rc) rc = actsched_output_init(&w->so, &lim);
            w->gate_r =
                mem_calloc(MEM_TAG_ENGINE, (size_t)(p->max_rows * w->n_expert), sizeof(float));
            w->gate_scratch =
                mem_calloc(MEM_TAG_ENGINE, (size_t)gate_scratch_floats(w->n_expert), sizeof(float));
            if (!rc && (!w->gate_r || !w->gate_scratch)) rc = JANUS_ENOMEM;
        }
        if (rc) return rc;
    }
    if (w->topo.role == TOPO_ROLE_ATTN) {
        struct attn_params ap = {.max_tokens = p->max_rows,
                                 .n_seq = p->max_seqs,
                                 .max_ctx = w->p.n_ctx,
                                 .kv_type = p->kv_type};
        struct sampler_params sp = {.temp = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 0};
        rc = attn_init(&w->attn, &w->model, &w->lin, &ap);
        int64_t cap = JANUS_MAX(p->max_rows, p->max_seqs); // rows, and slot lists
        if (!rc) rc = batch_init(&w->batch, cap);
        if (!rc) rc = sampler_init(&w->smp, w->V, &sp);
        w->pack_len = batch_pack_max(cap);
        size_t n_pack = w->topo.rank == 0 ? (size_t)p->n_attn : 1;
        w->pack = mem_alloc(MEM_TAG_COMM, n_pack * w->pack_len);
        w->moe_out = mem_calloc(MEM_TAG_ENGINE, (size_t)(p->max_rows * w->d), sizeof(float));
        w->logits = mem_calloc(MEM_TAG_ENGINE, (size_t)(p->max_seqs * w->V), sizeof(float));
        if (!rc && (!w->moe_out || !w->logits || !w->pack)) rc = JANUS_ENOMEM;
        if (!rc) print_pss(w);
        return rc;
    }
    rc = moe_init(&w->moe, &w->model, &w->lin, B_max);
    if (!rc) rc = moe_routing_init(&w->rt, &w->model, B_max);
    if (!rc) rc = actsched_init(&w->ws, &lim);
    if (!rc) rc = actsched_output_init(&w->so, &lim);
    if (!rc)
        rc = stats_init(&w->stats, (int32_t)w->n_layer, (int32_t)w->n_expert,
                        p->stats_half_life > 0 ? pow(0.5, 1.0 / (double)p->stats_half_life)
                                               : WORKER_STATS_DECAY);
    w->run_here = mem_calloc(MEM_TAG_ENGINE, (size_t)w->n_expert, 1);
    w->x_all = mem_calloc(MEM_TAG_ENGINE, (size_t)(B_max * w->d), sizeof(float));
    w->partial = mem_calloc(MEM_TAG_ENGINE, (size_t)(B_max * w->d), sizeof(float));
    if (p->dispatch != XFER_MODE_BROADCAST)
        w->single = mem_calloc(MEM_TAG_ENGINE, (size_t)(B_max * w->k * w->d), sizeof(float));
    if (!rc && (!w->run_here || !w->x_all || !w->partial ||
                (p->dispatch != XFER_MODE_BROADCAST && !w->single)))
        rc = JANUS_ENOMEM;
    if (!rc) print_pss(w);
    return rc;
}
