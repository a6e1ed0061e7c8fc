// Monte Carlo a_max tables over the real placement and scheduler (mc.h, SPEC §7).
// SPDX-License-Identifier: MIT
#include "sim/mc.h"

#include "base/clock.h"
#include "base/hash.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "place/stats.h"
#include "place/trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MC_VERSION 1

void mc_default_params(struct mc_params *p, int32_t n_experts, int32_t top_k) {
    static const int32_t grid[] = {1,   2,    4,    8,    16,   32,   64,   96,
                                   128, 192,  256,  384,  512,  768,  1024, 1536,
                                   2048, 3072, 4096, 6144, 8192, 12288, 16384};
    memset(p, 0, sizeof *p);
    p->n_experts = n_experts;
    p->top_k = top_k;
    p->zipf = 0.3;
    p->group_size = 8;
    p->p_group = 0.3;
    p->hot_groups = 4;
    p->warm_steps = 256;
    p->warm_batch = 256;
    p->placement = PLACEMENT_POLICY_JANUS;
    p->sched = ACTSCHED_POLICY_GREEDY;
    p->samples = 8;
    p->n_b = (int32_t)(sizeof grid / sizeof grid[0]);
    memcpy(p->b_grid, grid, sizeof grid);
    p->seed = 1;
}

static uint64_t h_i64(uint64_t h, int64_t v) { return hash_fnv1a(h, &v, sizeof v); }
static uint64_t h_f64(uint64_t h, double v) { return hash_fnv1a(h, &v, sizeof v); }

uint64_t mc_key(const struct mc_params *p, const int32_t *n_e, const int32_t *slots, int n_cfg) {
    uint64_t h = HASH_FNV_INIT;
    h = h_i64(h, MC_VERSION);
    h = h_i64(h, p->n_experts);
    h = h_i64(h, p->top_k);
    h = h_f64(h, p->zipf);
    h = h_i64(h, p->group_size);
    h = h_f64(h, p->p_group);
    h = h_i64(h, p->hot_groups);
    h = h_i64(h, p->warm_steps);
    h = h_i64(h, p->warm_batch);
    h = h_i64(h, p->placement);
    h = h_i64(h, p->sched);
    h = h_i64(h, p->samples);
    h = h_i64(h, p->n_b);
    for (int j = 0; j < p->n_b; j++) h = h_i64(h, p->b_grid[j]);
    h = h_i64(h, (int64_t)p->seed);
    h = h_i64(h, n_cfg);
    for (int i = 0; i < n_cfg; i++) {
        h = h_i64(h, n_e[i]);
        h = h_i64(h, slots[i]);
    }
    return h;
}

// Statistics of one MoE layer from the synthetic warm-up trace.
static int warm_stats(const struct mc_params *p, struct stats *st, char *err, size_t errlen) {
    struct trace_gen_params g;
    trace_gen_default_params(&g);
    g.n_experts = p->n_experts;
    g.top_k = p->top_k;
    g.n_layers = 1;
    g.n_steps = p->warm_steps;
    g.batch = p->warm_batch;
    g.zipf = p->zipf;
    g.group_size = p->group_size > p->n_experts ? p->n_experts : p->group_size;
    if (g.group_size > 0 && g.group_size < p->top_k) g.group_size = 0; // groups smaller than k
    g.p_group = p->p_group;
    g.hot_groups = p->hot_groups;
    g.drift = 0;
    g.seed = p->seed;
    struct trace tr = {0};
    int rc = trace_generate(&tr, &g, err, errlen);
    if (rc) return rc;
    rc = stats_init(st, 1, p->n_experts, 1.0);
    if (rc) {
        trace_free(&tr);
        snprintf(err, errlen, "statistics: %s", janus_strerror(rc));
        return rc;
    }
    for (int64_t b = 0; b < tr.n_blocks && !rc; b++)
        rc = stats_record_routing(st, 0, trace_block_ids(&tr, b), tr.blocks[b].n_tok, tr.top_k);
    trace_free(&tr);
    if (rc) {
        stats_free(st);
        snprintf(err, errlen, "statistics: %s", janus_strerror(rc));
    }
    return rc;
}

int mc_build(struct amax_table *out, const struct mc_params *p, const int32_t *n_e,
             const int32_t *slots, int n_cfg, char *err, size_t errlen) {
    if (!out || !p || !n_e || !slots || n_cfg < 1 || n_cfg > AMAX_MAX_CFG || p->n_b < 1 ||
        p->n_b > AMAX_MAX_B || p->samples < 1 || p->n_experts < 1 || p->top_k < 1 ||
        p->top_k > p->n_experts) {
        snprintf(err, errlen, "Monte Carlo: invalid parameters");
        return JANUS_EINVAL;
    }
    int32_t max_n = 0;
    for (int i = 0; i < n_cfg; i++) {
        if (n_e[i] < 1 || slots[i] < 1 || (int64_t)n_e[i] * slots[i] < p->n_experts ||
            (i && n_e[i] <= n_e[i - 1])) {
            snprintf(err, errlen, "Monte Carlo: configuration %d (n_e %d, C %d) invalid", i,
                     (int)n_e[i], (int)slots[i]);
            return JANUS_EINVAL;
        }
        if (n_e[i] > max_n) max_n = n_e[i];
    }
    const int32_t E = p->n_experts, k = p->top_k, nb = p->n_b;
    const int64_t bmax = p->b_grid[nb - 1];
    struct stats st = {0};
    int rc = warm_stats(p, &st, err, errlen);
    if (rc) return rc;
    struct layout *lay = mem_calloc(MEM_TAG_SIM, (size_t)n_cfg, sizeof *lay);
    double *w = mem_calloc(MEM_TAG_SIM, (size_t)E, sizeof *w);
    double *cdf = mem_calloc(MEM_TAG_SIM, (size_t)E, sizeof *cdf);
    float *pe = mem_calloc(MEM_TAG_SIM, (size_t)E, sizeof *pe);
    int32_t *routing = mem_calloc(MEM_TAG_SIM, (size_t)bmax * k, sizeof *routing);
    int32_t *hosts = mem_calloc(MEM_TAG_SIM, (size_t)max_n * E, sizeof *hosts);
    int32_t *cnt = mem_calloc(MEM_TAG_SIM, (size_t)max_n, sizeof *cnt);
    int64_t *tok = mem_calloc(MEM_TAG_SIM, (size_t)max_n, sizeof *tok);
    double *acc_a = mem_calloc(MEM_TAG_SIM, (size_t)n_cfg * nb, sizeof *acc_a);
    double *acc_t = mem_calloc(MEM_TAG_SIM, (size_t)n_cfg * nb, sizeof *acc_t);
    double *acc_act = mem_calloc(MEM_TAG_SIM, (size_t)nb, sizeof *acc_act);
    struct actsched_ws ws = {0};
    struct actsched_output so = {0};
    int have_table = 0;
    if (!lay || !w || !cdf || !pe || !routing || !hosts || !cnt || !tok || !acc_a || !acc_t ||
        !acc_act) {
        rc = JANUS_ENOMEM;
        snprintf(err, errlen, "Monte Carlo: out of memory");
        goto done;
    }
    stats_layer_export(&st, 0, w, NULL, NULL);
    double wsum = 0;
    for (int e = 0; e < E; e++) wsum += w[e];
    for (int e = 0; e < E; e++) pe[e] = (float)(wsum > 0 ? w[e] / wsum * k : 0);
    for (int i = 0; i < n_cfg; i++) {
        struct eplb_params ep = {0};
        ep.n_groups = 1;
        ep.n_nodes = 1;
        ep.policy = EPLB_POLICY_GLOBAL;
        char e2[256];
        rc = placement_build_layout(&lay[i], &st, n_e[i], slots[i], p->placement, &ep, NULL, e2,
                                    sizeof e2);
        if (rc) {
            snprintf(err, errlen, "placement for n_e %d, C %d: %s", (int)n_e[i], (int)slots[i], e2);
            goto done;
        }
    }
    struct actsched_limits lim = {bmax, E, max_n, k};
    if ((rc = actsched_init(&ws, &lim)) || (rc = actsched_output_init(&so, &lim))) {
        snprintf(err, errlen, "scheduler workspace: %s", janus_strerror(rc));
        goto done;
    }
    rc = amax_alloc(out, n_cfg, nb);
    if (rc) {
        snprintf(err, errlen, "Monte Carlo: out of memory");
        goto done;
    }
    have_table = 1;
    for (int s = 0; s < p->samples; s++) {
        struct rng r;
        rng_init3(&r, p->seed, 0x6d63u, (uint64_t)s); // "mc", sample
        rc = trace_sample_tokens(&r, w, E, k, bmax, cdf, routing);
        if (rc) {
            snprintf(err, errlen, "sampling tokens: fewer than top_k experts have statistics");
            goto done;
        }
        for (int i = 0; i < n_cfg; i++) {
            const struct layout_layer *ly = &lay[i].layers[0];
            for (int j = 0; j < nb; j++) {
                struct actsched_input in = {ly, routing, p->b_grid[j], k, s, 0, p->seed};
                rc = actsched_run(&ws, p->sched, &in, &so);
                if (rc) {
                    snprintf(err, errlen, "scheduler on n_e %d, B %d: %s", (int)n_e[i],
                             (int)p->b_grid[j], janus_strerror(rc));
                    goto done;
                }
                memset(tok, 0, sizeof *tok * (size_t)n_e[i]);
                int64_t tm = 0;
                for (int a = 0; a < so.n_active; a++) {
                    int32_t g = so.assign[so.active[a]];
                    tok[g] += so.active_tokens[a];
                    if (tok[g] > tm) tm = tok[g];
                }
                acc_a[(size_t)i * nb + j] += so.a_max;
                acc_t[(size_t)i * nb + j] += (double)tm;
                if (i == 0) acc_act[j] += so.n_active;
            }
        }
    }
    out->n_experts = E;
    out->top_k = k;
    out->key = mc_key(p, n_e, slots, n_cfg);
    for (int j = 0; j < nb; j++) {
        out->b_grid[j] = p->b_grid[j];
        out->active[j] = (float)(acc_act[j] / p->samples);
    }
    for (int i = 0; i < n_cfg; i++) {
        out->n_e[i] = n_e[i];
        out->slots[i] = slots[i];
        const struct layout_layer *ly = &lay[i].layers[0];
        for (int g = 0; g < n_e[i]; g++)
            cnt[g] = layout_instance_experts(ly, g, hosts + (size_t)g * E);
        for (int j = 0; j < nb; j++) {
            size_t c = (size_t)i * nb + j;
            out->amax[c] = (float)(acc_a[c] / p->samples);
            out->tmax[c] = (float)(acc_t[c] / p->samples);
            out->bound[c] = (float)amax_bound(pe, E, hosts, cnt, E, n_e[i], p->b_grid[j]);
        }
    }
    amax_make_monotone(out);
    rc = JANUS_OK;
done:
    if (rc && have_table) amax_free(out);
    actsched_output_free(&so);
    actsched_free(&ws);
    if (lay)
        for (int i = 0; i < n_cfg; i++) layout_free(&lay[i]);
    mem_free(lay);
    mem_free(w);
    mem_free(cdf);
    mem_free(pe);
    mem_free(routing);
    mem_free(hosts);
    mem_free(cnt);
    mem_free(tok);
    mem_free(acc_a);
    mem_free(acc_t);
    mem_free(acc_act);
    stats_free(&st);
    return rc;
}

static int mkdir_p(const char *dir) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return JANUS_ELIMIT;
    for (char *q = tmp + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return JANUS_EIO;
        *q = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return JANUS_EIO;
    return JANUS_OK;
}

int mc_build_cached(struct amax_table *out, const struct mc_params *p, const int32_t *n_e,
                    const int32_t *slots, int n_cfg, const char *cache_dir, const char *tag,
                    int *from_cache, double *build_s, char *err, size_t errlen) {
    int64_t t0 = clock_now_ns();
    if (from_cache) *from_cache = 0;
    uint64_t key = mc_key(p, n_e, slots, n_cfg);
    char path[4096] = {0};
    if (cache_dir) {
        if (snprintf(path, sizeof path, "%s/amax-%s-%016llx.txt", cache_dir, tag ? tag : "table",
                     (unsigned long long)key) >= (int)sizeof path)
            path[0] = 0;
        if (path[0] && amax_load(out, path, key) == JANUS_OK) {
            if (from_cache) *from_cache = 1;
            if (build_s) *build_s = (double)(clock_now_ns() - t0) * 1e-9;
            return JANUS_OK;
        }
    }
    int rc = mc_build(out, p, n_e, slots, n_cfg, err, errlen);
    if (rc) return rc;
    // A cache that cannot be written is not an error: the table is still valid.
    if (path[0] && mkdir_p(cache_dir) == JANUS_OK) (void)!amax_save(out, path);
    if (build_s) *build_s = (double)(clock_now_ns() - t0) * 1e-9;
    return JANUS_OK;
}
