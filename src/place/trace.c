// Routing traces (trace.h): in-memory blocks, the text format (parse/save), the streaming
// writer used by the engine's --record-routing, the seeded synthetic generator (Zipf
// skew, co-activation groups, drift) and a weighted sampler for Monte Carlo a_max.
// SPDX-License-Identifier: MIT
#include "place/trace.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "base/file.h"

#define TRACE_MAX_IDS ((int64_t)1 << 31)

void trace_free(struct trace *t) {
    mem_free(t->blocks);
    mem_free(t->ids);
    memset(t, 0, sizeof *t);
    t->max_expert = -1;
}

static int reserve(struct trace *t, int64_t blocks, int64_t toks) {
    if (blocks > t->cap_blocks) {
        int64_t nc = t->cap_blocks ? t->cap_blocks : 64;
        while (nc < blocks)
            nc *= 2;
        void *p = mem_realloc(MEM_TAG_SCHED, t->blocks, sizeof(struct trace_block) * (size_t)nc);
        if (!p) return JANUS_ENOMEM;
        t->blocks = p;
        t->cap_blocks = nc;
    }
    int64_t k = t->top_k ? t->top_k : 1;
    if (toks > t->cap_tok) {
        int64_t nc = t->cap_tok ? t->cap_tok : 1024;
        while (nc < toks)
            nc *= 2;
        void *p = mem_realloc(MEM_TAG_SCHED, t->ids, sizeof(int32_t) * (size_t)(nc * k));
        if (!p) return JANUS_ENOMEM;
        t->ids = p;
        t->cap_tok = nc;
    }
    return JANUS_OK;
}

int trace_append_block(struct trace *t, int64_t step, int32_t layer, const int32_t *ids,
                       int64_t n_tok, int32_t top_k) {
    if (t->n_blocks == 0 && t->top_k == 0) t->max_expert = -1;
    if (top_k > LIMIT_MAX_EXPERT_USED || n_tok > LIMIT_MAX_BATCH) return JANUS_ELIMIT;
    if (step < 0 || layer < 0 || top_k < 1 || n_tok < 0 || (t->top_k && top_k != t->top_k))
        return JANUS_EINVAL;
    int32_t mx = t->max_expert;
    for (int64_t i = 0; i < n_tok * top_k; i++) {
        if (ids[i] < 0 || ids[i] >= LIMIT_MAX_EXPERTS) return JANUS_EINVAL;
        if (ids[i] > mx) mx = ids[i];
    }
    if ((t->n_tok + n_tok) * top_k > TRACE_MAX_IDS) return JANUS_ELIMIT;
    int32_t old_k = t->top_k;
    if (!t->top_k) {
        // Capacity was counted with k = 1 before the first block: drop it.
        mem_free(t->ids);
        t->ids = NULL;
        t->cap_tok = 0;
        t->top_k = top_k;
    }
    int rc = reserve(t, t->n_blocks + 1, t->n_tok + n_tok);
    if (rc) {
        t->top_k = old_k;
        return rc;
    }
    struct trace_block *b = &t->blocks[t->n_blocks++];
    b->step = step;
    b->layer = layer;
    b->n_tok = n_tok;
    b->off = t->n_tok;
    if (n_tok) memcpy(t->ids + t->n_tok * top_k, ids, sizeof(int32_t) * (size_t)(n_tok * top_k));
    t->n_tok += n_tok;
    t->max_expert = mx;
    return JANUS_OK;
}

int32_t trace_max_layer(const struct trace *t) {
    int32_t m = -1;
    for (int64_t i = 0; i < t->n_blocks; i++)
        if (t->blocks[i].layer > m) m = t->blocks[i].layer;
    return m;
}

// ---- text format

// Parses a non-negative decimal integer at *p (no sign); advances *p. -1 on failure.
static int64_t parse_uint(const char **p, const char *end, int64_t max) {
    const char *s = *p;
    int64_t v = 0;
    if (s >= end || *s < '0' || *s > '9') return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');
        if (v > max) return -1;
        s++;
    }
    *p = s;
    return v;
}

static const char *skip_ws(const char *s, const char *end) {
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
    return s;
}

int trace_parse(struct trace *t, const char *text, size_t len, char *err, size_t err_len) {
    memset(t, 0, sizeof *t);
    t->max_expert = -1;
    const char *p = text, *end = text + len;
    int64_t line = 0;
    int in_block = 0;
    int32_t ids[LIMIT_MAX_EXPERT_USED];
    int rc = JANUS_OK;
    // Tokens are appended straight into t->ids; the current block is the last one.
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *s = skip_ws(p, eol);
        if (s == eol || *s == '#') {
            p = eol + (eol < end);
            continue;
        }
        if (*s == 's') {
            if ((size_t)(eol - s) < 5 || memcmp(s, "step", 4) || (s[4] != ' ' && s[4] != '\t')) {
                rc = status_errf(err, err_len, JANUS_EFORMAT,
                                 "line %lld: expected \"step S layer L\"", (long long)line);
                goto fail;
            }
            s = skip_ws(s + 4, eol);
            int64_t step = parse_uint(&s, eol, INT64_MAX / 16);
            s = skip_ws(s, eol);
            int64_t layer = -1;
            if (step >= 0 && eol - s > 5 && !memcmp(s, "layer", 5) &&
                (s[5] == ' ' || s[5] == '\t')) {
                s = skip_ws(s + 5, eol);
                layer = parse_uint(&s, eol, LIMIT_MAX_LAYERS - 1);
                s = skip_ws(s, eol);
            }
            if (step < 0 || layer < 0 || (s != eol && *s != '#')) {
                rc = status_errf(
                    err, err_len, JANUS_EFORMAT,
                    "line %lld: expected \"step S layer L\" with S >= 0 and 0 <= L < %d",
                    (long long)line, LIMIT_MAX_LAYERS);
                goto fail;
            }
            rc = reserve(t, t->n_blocks + 1, t->n_tok);
            if (rc) goto fail;
            struct trace_block *b = &t->blocks[t->n_blocks++];
            b->step = step;
            b->layer = (int32_t)layer;
            b->n_tok = 0;
            b->off = t->n_tok;
            in_block = 1;
        } else {
            if (!in_block) {
                rc = status_errf(err, err_len, JANUS_EFORMAT,
                                 "line %lld: token line before any \"step S layer L\"",
                                 (long long)line);
                goto fail;
            }
            int32_t k = 0;
            while (s < eol && *s != '#') {
                int64_t v = parse_uint(&s, eol, INT32_MAX);
                if (v < 0 || (s < eol && *s != ' ' && *s != '\t' && *s != '\r' && *s != '#')) {
                    rc =
                        status_errf(err, err_len, JANUS_EFORMAT,
                                    "line %lld: expert ids must be integers >= 0", (long long)line);
                    goto fail;
                }
                if (v >= LIMIT_MAX_EXPERTS) {
                    rc = status_errf(err, err_len, JANUS_EFORMAT,
                                     "line %lld: expert id %lld exceeds the limit %d",
                                     (long long)line, (long long)v, LIMIT_MAX_EXPERTS - 1);
                    goto fail;
                }
                if (k >= LIMIT_MAX_EXPERT_USED) {
                    rc = status_errf(err, err_len, JANUS_EFORMAT,
                                     "line %lld: more than %d experts on one token",
                                     (long long)line, LIMIT_MAX_EXPERT_USED);
                    goto fail;
                }
                ids[k++] = (int32_t)v;
                s = skip_ws(s, eol);
            }
            if (t->top_k == 0) t->top_k = k;
            if (k != t->top_k) {
                rc = status_errf(err, err_len, JANUS_EFORMAT,
                                 "line %lld: %d expert ids, but the trace has top-k %d",
                                 (long long)line, k, t->top_k);
                goto fail;
            }
            struct trace_block *b = &t->blocks[t->n_blocks - 1];
            if (b->n_tok >= LIMIT_MAX_BATCH) {
                rc = status_errf(err, err_len, JANUS_ELIMIT,
                                 "line %lld: block has more than %d tokens", (long long)line,
                                 LIMIT_MAX_BATCH);
                goto fail;
            }
            if ((t->n_tok + 1) * k > TRACE_MAX_IDS) {
                rc = JANUS_ELIMIT;
                goto fail;
            }
            rc = reserve(t, t->n_blocks, t->n_tok + 1);
            if (rc) goto fail;
            memcpy(t->ids + t->n_tok * k, ids, sizeof(int32_t) * (size_t)k);
            for (int32_t j = 0; j < k; j++)
                if (ids[j] > t->max_expert) t->max_expert = ids[j];
            t->n_tok++;
            b->n_tok++;
        }
        p = eol + (eol < end);
    }
    return JANUS_OK;
fail:
    trace_free(t);
    return rc;
}

int trace_load(struct trace *t, const char *path, char *err, size_t err_len) {
    memset(t, 0, sizeof *t);
    t->max_expert = -1;
    char *text;
    size_t len;
    int rc = file_read_all(path, (size_t)1 << 30, &text, &len, err, err_len);
    if (rc) return rc;
    rc = trace_parse(t, text, len, err, err_len);
    mem_free(text);
    return rc;
}

static int write_block(FILE *f, int64_t step, int32_t layer, const int32_t *ids, int64_t n_tok,
                       int32_t k) {
    if (fprintf(f, "step %lld layer %d\n", (long long)step, layer) < 0) return JANUS_EIO;
    for (int64_t t = 0; t < n_tok; t++) {
        for (int32_t j = 0; j < k; j++)
            if (fprintf(f, j ? " %d" : "%d", ids[t * k + j]) < 0) return JANUS_EIO;
        if (fputc('\n', f) == EOF) return JANUS_EIO;
    }
    return JANUS_OK;
}

int trace_save(const struct trace *t, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return JANUS_EIO;
    int bad = fprintf(f, "# janus routing trace: top-k %d, %lld blocks\n", t->top_k,
                      (long long)t->n_blocks) < 0;
    for (int64_t i = 0; i < t->n_blocks && !bad; i++)
        bad = write_block(f, t->blocks[i].step, t->blocks[i].layer, trace_block_ids(t, i),
                          t->blocks[i].n_tok, t->top_k) != 0;
    bad |= fclose(f) != 0;
    return bad ? JANUS_EIO : JANUS_OK;
}

// ---- streaming writer

int trace_writer_open(struct trace_writer *w, const char *path) {
    memset(w, 0, sizeof *w);
    FILE *f = fopen(path, "w");
    if (!f) return JANUS_EIO;
    if (fprintf(f, "# janus routing trace (recorded)\n") < 0) {
        fclose(f);
        return JANUS_EIO;
    }
    w->f = f;
    return JANUS_OK;
}

int trace_writer_append_block(struct trace_writer *w, int64_t step, int32_t layer,
                              const int32_t *ids, int64_t n_tok, int32_t top_k) {
    if (w->status) return w->status;
    if (!w->f) return JANUS_EINVAL;
    if (top_k < 1 || step < 0 || layer < 0 || n_tok < 0 || (w->top_k && top_k != w->top_k))
        return JANUS_EINVAL;
    for (int64_t i = 0; i < n_tok * top_k; i++)
        if (ids[i] < 0) return JANUS_EINVAL;
    w->top_k = top_k;
    if (write_block(w->f, step, layer, ids, n_tok, top_k)) w->status = JANUS_EIO;
    return w->status;
}

int trace_writer_comment(struct trace_writer *w, const char *text) {
    if (w->status) return w->status;
    if (!w->f || strchr(text, '\n')) return JANUS_EINVAL;
    if (fprintf(w->f, "# %s\n", text) < 0) w->status = JANUS_EIO;
    return w->status;
}

int trace_writer_close(struct trace_writer *w) {
    int rc = w->status;
    if (w->f && fclose(w->f) != 0 && !rc) rc = JANUS_EIO;
    memset(w, 0, sizeof *w);
    return rc;
}

// ---- generator

void trace_gen_default_params(struct trace_gen_params *p) {
    memset(p, 0, sizeof *p);
    p->n_experts = 64;
    p->top_k = 6;
    p->n_layers = 1;
    p->n_steps = 100;
    p->batch = 64;
    p->zipf = 1.0;
    p->group_size = 0;
    p->p_group = 0.5;
    p->hot_groups = 2;
    p->drift = 0.0;
    p->model_seed = 1;
    p->seed = 1;
}

// Index i with cdf[i-1] <= u < cdf[i] (cdf ascending, cdf[n-1] = total).
static int32_t cdf_pick(const double *cdf, int32_t n, double u) {
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t mid = (lo + hi) / 2;
        if (cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int has(const int32_t *v, int32_t n, int32_t x) {
    for (int32_t i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

int trace_generate(struct trace *t, const struct trace_gen_params *p, char *err, size_t err_len) {
    int32_t E = p->n_experts, k = p->top_k;
    if (E < 1 || E > LIMIT_MAX_EXPERTS || k < 1 || k > E || k > LIMIT_MAX_EXPERT_USED ||
        p->n_layers < 1 || p->n_layers > LIMIT_MAX_LAYERS || p->n_steps < 0 || p->batch < 0 ||
        p->batch > LIMIT_MAX_BATCH || !(p->zipf >= 0 && p->zipf <= 10) || p->group_size < 0 ||
        p->group_size > E || !(p->p_group >= 0 && p->p_group <= 1) || p->hot_groups < 0 ||
        !(p->drift >= 0 && p->drift <= 1e6))
        return status_errf(
            err, err_len, JANUS_EINVAL,
            "gen-routing: parameter out of range (need 1 <= k <= E <= %d, layers >= 1, "
            "steps >= 0, 0 <= batch <= %d, 0 <= zipf <= 10, 0 <= group-size <= E, "
            "0 <= p-group <= 1, hot-groups >= 0, drift >= 0)",
            LIMIT_MAX_EXPERTS, LIMIT_MAX_BATCH);
    if ((p->n_steps * p->n_layers) * p->batch * k > TRACE_MAX_IDS)
        return status_errf(err, err_len, JANUS_ELIMIT, "gen-routing: trace too large");
    int32_t gs = p->group_size > 1 ? p->group_size : 0;
    int32_t n_groups = gs ? (E + gs - 1) / gs : 0;
    int32_t hot = gs ? JANUS_MAX(1, JANUS_MIN(p->hot_groups, n_groups)) : 0;
    size_t L = (size_t)p->n_layers;
    int32_t *perm = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * L * (size_t)E);
    double *wr = mem_alloc(MEM_TAG_SCHED, sizeof(double) * (size_t)E);  // weight by rank
    double *cdf = mem_alloc(MEM_TAG_SCHED, sizeof(double) * (size_t)E); // over ranks
    double *gcdf = mem_alloc(MEM_TAG_SCHED, sizeof(double) * (size_t)(n_groups + 1));
    int32_t *ids = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)(p->batch * k + 1));
    int32_t *hot_g = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)(hot + 1));
    int rc = JANUS_OK;
    if (!perm || !wr || !cdf || !gcdf || !ids || !hot_g) {
        rc = JANUS_ENOMEM;
        goto done;
    }
    struct rng r;
    rng_init3(&r, p->model_seed, 0x7472616365ULL, (uint64_t)E);
    for (size_t l = 0; l < L; l++) { // Fisher-Yates per layer
        int32_t *pm = perm + l * (size_t)E;
        for (int32_t i = 0; i < E; i++)
            pm[i] = i;
        for (int32_t i = E - 1; i > 0; i--) {
            int32_t j = (int32_t)rng_below(&r, (uint32_t)(i + 1));
            int32_t tmp = pm[i];
            pm[i] = pm[j];
            pm[j] = tmp;
        }
    }
    double acc = 0;
    for (int32_t i = 0; i < E; i++) {
        wr[i] = pow((double)(i + 1), -p->zipf);
        acc += wr[i];
        cdf[i] = acc;
    }
    rng_init3(&r, p->seed, 0x73616d706c65ULL, (uint64_t)E); // sampling stream
    gcdf[0] = 0;
    for (int32_t g = 0; g < n_groups; g++) {
        double s = 0;
        for (int32_t i = g * gs; i < JANUS_MIN(E, (g + 1) * gs); i++)
            s += wr[i];
        gcdf[g + 1] = gcdf[g] + s;
    }
    for (int64_t step = 0; step < p->n_steps; step++) {
        int64_t shift = (int64_t)floor(p->drift * (double)step) % E;
        for (size_t l = 0; l < L; l++) {
            const int32_t *pm = perm + l * (size_t)E;
            for (int32_t h = 0; h < hot; h++) { // hot groups of this step, distinct
                int32_t g;
                do
                    g = cdf_pick(gcdf + 1, n_groups, rng_uniform(&r) * gcdf[n_groups]);
                while (has(hot_g, h, g));
                hot_g[h] = g;
            }
            for (int64_t tok = 0; tok < p->batch; tok++) {
                int32_t *v = ids + tok * k;
                int32_t grp = hot ? hot_g[rng_below(&r, (uint32_t)hot)] : -1;
                int32_t g0 = grp >= 0 ? grp * gs : 0;
                int32_t g1 = grp >= 0 ? JANUS_MIN(E, g0 + gs) : 0;
                for (int32_t j = 0; j < k; j++) {
                    int32_t e = -1;
                    for (int tries = 0; tries < 64 && e < 0; tries++) {
                        int32_t rank;
                        if (grp >= 0 && rng_uniform(&r) < p->p_group) {
                            double base = g0 ? cdf[g0 - 1] : 0.0;
                            double u = base + rng_uniform(&r) * (cdf[g1 - 1] - base);
                            rank = cdf_pick(cdf, E, u);
                            if (rank < g0) rank = g0;
                            if (rank >= g1) rank = g1 - 1;
                        } else {
                            rank = cdf_pick(cdf, E, rng_uniform(&r) * cdf[E - 1]);
                        }
                        int32_t cand = pm[(rank + shift) % E];
                        if (!has(v, j, cand)) e = cand;
                    }
                    for (int32_t x = 0; e < 0; x++) // deterministic fallback
                        if (!has(v, j, pm[x])) e = pm[x];
                    v[j] = e;
                }
            }
            rc = trace_append_block(t, step, (int32_t)l, ids, p->batch, k);
            if (rc) goto done;
        }
    }
done:
    mem_free(perm);
    mem_free(wr);
    mem_free(cdf);
    mem_free(gcdf);
    mem_free(ids);
    mem_free(hot_g);
    if (rc) {
        trace_free(t);
        if (rc == JANUS_ENOMEM) status_errf(err, err_len, rc, "gen-routing: out of memory");
    }
    return rc;
}

int trace_sample_tokens(struct rng *r, const double *w, int32_t n_experts, int32_t top_k,
                        int64_t n_tok, double *cdf, int32_t *out) {
    int32_t E = n_experts, k = top_k, pos = 0;
    if (E < 1 || k < 1 || n_tok < 0) return JANUS_EINVAL;
    double acc = 0;
    for (int32_t e = 0; e < E; e++) {
        if (!(w[e] >= 0) || !isfinite(w[e])) return JANUS_EINVAL;
        pos += w[e] > 0;
        acc += w[e];
        cdf[e] = acc;
    }
    if (pos < k) return JANUS_EINVAL;
    for (int64_t t = 0; t < n_tok; t++) {
        int32_t *v = out + t * k;
        for (int32_t j = 0; j < k; j++) {
            int32_t e = -1;
            for (int tries = 0; tries < 256 && e < 0; tries++) {
                int32_t c = cdf_pick(cdf, E, rng_uniform(r) * acc);
                if (w[c] > 0 && !has(v, j, c)) e = c;
            }
            // Heavily skewed weights: fall back to the heaviest unused expert (deterministic).
            for (int32_t c = 0; e < 0 && c < E; c++) {
                if (w[c] <= 0 || has(v, j, c)) continue;
                int32_t best = c;
                for (int32_t c2 = c + 1; c2 < E; c2++)
                    if (w[c2] > w[best] && !has(v, j, c2)) best = c2;
                e = best;
            }
            v[j] = e;
        }
    }
    return JANUS_OK;
}
