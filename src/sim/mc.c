// Monte Carlo a_max tables over the real placement and scheduler (mc.h, SPEC §7).
// Deterministic for a seed; tables can be cached on disk, keyed by their inputs.
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

#define MC_VERSION 3
// Tokens per (sample, configuration, batch) whose fan-out is counted: an unbiased sample of
// the batch's tokens (they are i.i.d.), bounding the cost at large B.
#define MC_FANOUT_TOK 1024

void mc_default_params(struct mc_params *p, int32_t n_experts, int32_t top_k) {
    static const int32_t grid[] = {1,    2,    4,    8,    16,   32,    64,   96,
                                   128,  192,  256,  384,  512,  768,   1024, 1536,
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
    p->n_prof = 4;
    p->n_b = (int32_t)(sizeof grid / sizeof grid[0]);
    memcpy(p->b_grid, grid, sizeof grid);
    p->seed = 1;
}

static int nprof(const struct mc_params *p) { return p->n_prof < 1 ? 1 : p->n_prof; }

static uint64_t h_i64(uint64_t h, int64_t v) { return hash_fnv1a(h, &v, sizeof v); }
static uint64_t h_f64(uint64_t h, double v) { return hash_fnv1a(h, &v, sizeof v); }

// Index of pair (i, j), i < j, in the row-major upper triangle (place/stats.h layout).
static size_t pair_index(int32_t E, int32_t i, int32_t j) {
    return (size_t)i * (size_t)(2 * E - i - 1) / 2 + (size_t)(j - i - 1);
}

// All recorded layers of ext merged into `out` layers [first, n_layers) (true values).
static int merge_stats(const struct stats *ext, int32_t n_layers, int32_t first,
                       struct stats *out) {
    int32_t E = ext->n_experts;
    int rc = stats_init(out, n_layers, E, 1.0);
    if (rc) return rc;
    double *t = mem_calloc(MEM_TAG_SIM, (size_t)E, sizeof *t);
    double *c = mem_calloc(MEM_TAG_SIM, (size_t)E, sizeof *c);
    size_t P = (size_t)E * (size_t)(E - 1) / 2;
    double *a = mem_calloc(MEM_TAG_SIM, P ? P : 1, sizeof *a);
    if (!t || !c || !a) {
        mem_free(t);
        mem_free(c);
        mem_free(a);
        stats_free(out);
        return JANUS_ENOMEM;
    }
    double steps = 0;
    for (int32_t l = 0; l < ext->n_layers; l++) {
        if (!(stats_steps(ext, l) > 0)) continue;
        steps += stats_steps(ext, l);
        for (int32_t e = 0; e < E; e++) {
            t[e] += stats_tokens(ext, l, e);
            c[e] += stats_act(ext, l, e);
        }
        for (int32_t i = 0; i < E; i++)
            for (int32_t j = i + 1; j < E; j++)
                a[pair_index(E, i, j)] += stats_coact(ext, l, i, j);
    }
    for (int32_t l = first; l < n_layers; l++) {
        out->scale[l] = 1.0;
        out->steps[l] = steps;
        memcpy(out->tok + (size_t)l * E, t, sizeof *t * (size_t)E);
        memcpy(out->act + (size_t)l * E, c, sizeof *c * (size_t)E);
        if (P) memcpy(out->coact + (size_t)l * P, a, sizeof *a * P);
    }
    mem_free(t);
    mem_free(c);
    mem_free(a);
    return JANUS_OK;
}

static uint64_t stats_digest(const struct stats *ext) {
    struct stats m = {0};
    if (merge_stats(ext, 1, 0, &m)) return 0;
    int32_t E = m.n_experts;
    size_t P = (size_t)E * (size_t)(E - 1) / 2;
    uint64_t h = hash_fnv1a(HASH_FNV_INIT, m.tok, sizeof(double) * (size_t)E);
    h = hash_fnv1a(h, m.act, sizeof(double) * (size_t)E);
    h = hash_fnv1a(h, m.coact, sizeof(double) * P);
    h = hash_fnv1a(h, m.steps, sizeof(double));
    stats_free(&m);
    return h;
}

uint64_t mc_key(const struct mc_params *p, const int32_t *n_e, const int32_t *slots, int n_cfg) {
    uint64_t h = HASH_FNV_INIT;
    h = h_i64(h, p->stats ? (int64_t)stats_digest(p->stats) : 0);
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
    h = h_i64(h, p->stats ? 1 : nprof(p));
    h = h_i64(h, p->n_b);
    for (int j = 0; j < p->n_b; j++)
        h = h_i64(h, p->b_grid[j]);
    h = h_i64(h, (int64_t)p->seed);
    h = h_i64(h, n_cfg);
    for (int i = 0; i < n_cfg; i++) {
        h = h_i64(h, n_e[i]);
        h = h_i64(h, slots[i]);
    }
    return h;
}

// The synthetic warm-up trace of one layer profile: profile q draws its popularity order
// and co-activation groups from model seed (seed + q), so layers differ in which experts
// are hot while sharing the skew.
static int warm_trace(const struct mc_params *p, int prof, struct trace *tr, char *err,
                      size_t err_len) {
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
    g.model_seed = p->seed + (uint64_t)prof; // which experts are popular in this profile
    g.seed = p->seed + (uint64_t)prof;       // which tokens are drawn
    return trace_generate(tr, &g, err, err_len);
}

// Statistics from the synthetic warm-up traces: layer l >= first gets profile
// (prof0 + l - first) mod n_prof; layers below first stay empty (dense).
static int warm_stats_layers(const struct mc_params *p, int32_t n_layers, int32_t first, int prof0,
                             struct stats *st, char *err, size_t err_len) {
    int np = nprof(p);
    int rc = stats_init(st, n_layers, p->n_experts, 1.0);
    if (rc) return status_errf(err, err_len, rc, "statistics: %s", janus_strerror(rc));
    for (int q = 0; q < np && !rc; q++) {
        int prof = (prof0 + q) % np;
        if (first + q >= n_layers) break;
        struct trace tr = {0};
        rc = warm_trace(p, prof, &tr, err, err_len);
        if (rc) break;
        for (int32_t l = first + q; l < n_layers && !rc; l += np)
            for (int64_t b = 0; b < tr.n_blocks && !rc; b++)
                rc = stats_record_routing(st, l, trace_block_ids(&tr, b), tr.blocks[b].n_tok,
                                          tr.top_k);
        trace_free(&tr);
        if (rc) status_errf(err, err_len, rc, "statistics: %s", janus_strerror(rc));
    }
    if (rc) stats_free(st);
    return rc;
}

// Mean over the first min(B, MC_FANOUT_TOK) tokens of the number of distinct instances
// their k experts were assigned to by the schedule (selective dispatch's destinations).
static double token_fanout(const struct actsched_output *so, const int32_t *routing, int64_t B,
                           int32_t k) {
    int64_t n = B < MC_FANOUT_TOK ? B : MC_FANOUT_TOK;
    if (n <= 0) return 0;
    int64_t sum = 0;
    for (int64_t t = 0; t < n; t++) {
        const int32_t *ids = routing + t * k;
        for (int32_t x = 0; x < k; x++) {
            int32_t g = so->assign[ids[x]], seen = 0;
            for (int32_t y = 0; y < x && !seen; y++)
                seen = so->assign[ids[y]] == g;
            sum += !seen;
        }
    }
    return (double)sum / (double)n;
}

int mc_build(struct amax_table *out, const struct mc_params *p, const int32_t *n_e,
             const int32_t *slots, int n_cfg, char *err, size_t err_len) {
    if (!out || !p || !n_e || !slots || n_cfg < 1 || n_cfg > AMAX_MAX_CFG || p->n_b < 1 ||
        p->n_b > AMAX_MAX_B || p->samples < 1 || p->n_experts < 1 || p->top_k < 1 ||
        p->top_k > p->n_experts || nprof(p) > AMAX_MAX_PROF)
        return status_errf(err, err_len, JANUS_EINVAL, "Monte Carlo: invalid parameters");
    int32_t max_n = 0;
    for (int i = 0; i < n_cfg; i++) {
        if (n_e[i] < 1 || slots[i] < 1 || (int64_t)n_e[i] * slots[i] < p->n_experts ||
            (i && n_e[i] <= n_e[i - 1]))
            return status_errf(err, err_len, JANUS_EINVAL,
                               "Monte Carlo: configuration %d (n_e %d, C %d) invalid", i,
                               (int)n_e[i], (int)slots[i]);
        if (n_e[i] > max_n) max_n = n_e[i];
    }
    if (p->stats && p->stats->n_experts != p->n_experts)
        return status_errf(err, err_len, JANUS_EINVAL, "statistics have %d experts, the model %d",
                           (int)p->stats->n_experts, (int)p->n_experts);
    const int32_t E = p->n_experts, k = p->top_k, nb = p->n_b;
    const int np = p->stats ? 1 : nprof(p); // measured statistics: one merged profile
    const int64_t bmax = p->b_grid[nb - 1];
    const size_t cells = (size_t)n_cfg * nb;
    struct stats st = {0};
    int rc = JANUS_OK;
    struct layout *lay = mem_calloc(MEM_TAG_SIM, (size_t)n_cfg, sizeof *lay);
    double *w = mem_calloc(MEM_TAG_SIM, (size_t)E, sizeof *w);
    double *cdf = mem_calloc(MEM_TAG_SIM, (size_t)E, sizeof *cdf);
    float *pe = mem_calloc(MEM_TAG_SIM, (size_t)E, sizeof *pe);
    int32_t *routing = mem_calloc(MEM_TAG_SIM, (size_t)bmax * k, sizeof *routing);
    int32_t *hosts = mem_calloc(MEM_TAG_SIM, (size_t)max_n * E, sizeof *hosts);
    int32_t *cnt = mem_calloc(MEM_TAG_SIM, (size_t)max_n, sizeof *cnt);
    int64_t *tok = mem_calloc(MEM_TAG_SIM, (size_t)max_n, sizeof *tok);
    double *acc_a = mem_calloc(MEM_TAG_SIM, (size_t)np * cells, sizeof *acc_a);
    double *acc_t = mem_calloc(MEM_TAG_SIM, cells, sizeof *acc_t);
    double *acc_u = mem_calloc(MEM_TAG_SIM, cells, sizeof *acc_u);
    double *acc_f = mem_calloc(MEM_TAG_SIM, cells, sizeof *acc_f);
    double *acc_act = mem_calloc(MEM_TAG_SIM, (size_t)nb, sizeof *acc_act);
    struct actsched_ws ws = {0};
    struct actsched_output so = {0};
    int have_table = 0;
    if (!lay || !w || !cdf || !pe || !routing || !hosts || !cnt || !tok || !acc_a || !acc_t ||
        !acc_u || !acc_f || !acc_act) {
        rc = JANUS_ENOMEM;
        status_errf(err, err_len, rc, "Monte Carlo: out of memory");
        goto done;
    }
    struct actsched_limits lim = {bmax, E, max_n, k};
    if ((rc = actsched_init(&ws, &lim)) || (rc = actsched_output_init(&so, &lim))) {
        status_errf(err, err_len, rc, "scheduler workspace: %s", janus_strerror(rc));
        goto done;
    }
    for (int prof = 0; prof < np; prof++) {
        // Statistics and layouts of this layer profile.
        stats_free(&st);
        for (int i = 0; i < n_cfg; i++)
            layout_free(&lay[i]);
        if (p->stats) {
            rc = merge_stats(p->stats, 1, 0, &st);
            if (rc) status_errf(err, err_len, rc, "statistics: %s", janus_strerror(rc));
        } else {
            rc = warm_stats_layers(p, 1, 0, prof, &st, err, err_len);
        }
        if (rc) goto done;
        stats_layer_export(&st, 0, w, NULL, NULL);
        double wsum = 0;
        for (int e = 0; e < E; e++)
            wsum += w[e];
        for (int e = 0; e < E; e++)
            pe[e] = (float)(wsum > 0 ? w[e] / wsum * k : 0);
        for (int i = 0; i < n_cfg; i++) {
            struct eplb_params ep = {0};
            ep.n_groups = 1;
            ep.n_nodes = 1;
            ep.policy = EPLB_POLICY_GLOBAL;
            char e2[JANUS_ERR_LEN];
            rc = placement_build_layout(&lay[i], &st, n_e[i], slots[i], p->placement, &ep, NULL, e2,
                                        sizeof e2);
            if (rc) {
                status_errf(err, err_len, rc, "placement for n_e %d, C %d: %s", (int)n_e[i],
                            (int)slots[i], e2);
                goto done;
            }
            const struct layout_layer *ly = &lay[i].layers[0];
            for (int g = 0; g < n_e[i]; g++)
                cnt[g] = layout_instance_experts(ly, g, hosts + (size_t)g * E);
            for (int j = 0; j < nb; j++)
                acc_u[(size_t)i * nb + j] += amax_bound(pe, E, hosts, cnt, E, n_e[i], p->b_grid[j]);
        }
        double *pa = acc_a + (size_t)prof * cells;
        for (int s = 0; s < p->samples; s++) {
            struct rng r;
            rng_init3(&r, p->seed, 0x6d63u + (uint64_t)prof, (uint64_t)s); // "mc", profile, sample
            rc = trace_sample_tokens(&r, w, E, k, bmax, cdf, routing);
            if (rc) {
                status_errf(err, err_len, rc,
                            "sampling tokens: fewer than top_k experts have statistics");
                goto done;
            }
            for (int i = 0; i < n_cfg; i++) {
                const struct layout_layer *ly = &lay[i].layers[0];
                for (int j = 0; j < nb; j++) {
                    struct actsched_input in = {ly, routing, p->b_grid[j], k, s, 0, p->seed};
                    rc = actsched_run(&ws, p->sched, &in, &so);
                    if (rc) {
                        status_errf(err, err_len, rc, "scheduler on n_e %d, B %d: %s", (int)n_e[i],
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
                    pa[(size_t)i * nb + j] += so.a_max;
                    acc_f[(size_t)i * nb + j] += token_fanout(&so, routing, p->b_grid[j], k);
                    acc_t[(size_t)i * nb + j] += (double)tm;
                    if (i == 0) acc_act[j] += so.n_active;
                }
            }
        }
    }
    rc = amax_alloc(out, n_cfg, nb);
    if (!rc && np > 1) {
        have_table = 1;
        rc = amax_alloc_profiles(out, np);
    }
    if (rc) {
        status_errf(err, err_len, rc, "Monte Carlo: out of memory");
        goto done;
    }
    have_table = 1;
    out->n_experts = E;
    out->top_k = k;
    out->key = mc_key(p, n_e, slots, n_cfg);
    const double ns = (double)p->samples * np;
    for (int j = 0; j < nb; j++) {
        out->b_grid[j] = p->b_grid[j];
        out->active[j] = (float)(acc_act[j] / ns);
    }
    for (int i = 0; i < n_cfg; i++) {
        out->n_e[i] = n_e[i];
        out->slots[i] = slots[i];
        for (int j = 0; j < nb; j++) {
            size_t c = (size_t)i * nb + j;
            double sum = 0;
            for (int prof = 0; prof < np; prof++) {
                double v = acc_a[(size_t)prof * cells + c] / p->samples;
                sum += v;
                if (out->amax_prof) out->amax_prof[(size_t)prof * cells + c] = (float)v;
            }
            out->amax[c] = (float)(sum / np);
            out->tmax[c] = (float)(acc_t[c] / ns);
            out->bound[c] = (float)(acc_u[c] / np);
            out->fanout[c] = (float)(acc_f[c] / ns);
        }
    }
    amax_make_monotone(out);
    rc = JANUS_OK;
done:
    if (rc && have_table) amax_free(out);
    actsched_output_free(&so);
    actsched_free(&ws);
    if (lay)
        for (int i = 0; i < n_cfg; i++)
            layout_free(&lay[i]);
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
    mem_free(acc_u);
    mem_free(acc_f);
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
                    int *from_cache, double *build_s, char *err, size_t err_len) {
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
    int rc = mc_build(out, p, n_e, slots, n_cfg, err, err_len);
    if (rc) return rc;
    // A cache that cannot be written is not an error: the table is still valid.
    if (path[0] && mkdir_p(cache_dir) == JANUS_OK) (void)!amax_save(out, path);
    if (build_s) *build_s = (double)(clock_now_ns() - t0) * 1e-9;
    return JANUS_OK;
}

int mc_layout(struct layout *out, const struct mc_params *p, int32_t n_layers, int32_t n_dense,
              int32_t n_e, int32_t slots, struct placement_build_report *rep, char *err,
              size_t err_len) {
    if (!out || !p || n_layers < 1 || n_dense < 0 || n_dense >= n_layers || n_e < 1 || slots < 1 ||
        (int64_t)n_e * slots < p->n_experts)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "layout: invalid configuration (n_e %d, C %d)", (int)n_e, (int)slots);
    struct stats st = {0};
    const struct stats *use = &st;
    int rc;
    if (p->stats && p->stats->n_experts != p->n_experts)
        return status_errf(err, err_len, JANUS_EINVAL, "statistics have %d experts, the model %d",
                           (int)p->stats->n_experts, (int)p->n_experts);
    if (p->stats && p->stats->n_layers == n_layers) {
        use = p->stats; // measured per layer: place each layer from its own statistics
        rc = JANUS_OK;
    } else if (p->stats) {
        rc = merge_stats(p->stats, n_layers, n_dense, &st);
        if (rc) status_errf(err, err_len, rc, "statistics: %s", janus_strerror(rc));
    } else {
        rc = warm_stats_layers(p, n_layers, n_dense, 0, &st, err, err_len);
    }
    if (rc) return rc;
    struct eplb_params ep = {0};
    ep.n_groups = 1;
    ep.n_nodes = 1;
    ep.policy = EPLB_POLICY_GLOBAL;
    char e2[JANUS_ERR_LEN];
    rc = placement_build_layout(out, use, n_e, slots, p->placement, &ep, rep, e2, sizeof e2);
    if (rc)
        status_errf(err, err_len, rc, "placement for n_e %d, C %d: %s", (int)n_e, (int)slots, e2);
    stats_free(&st);
    return rc;
}
