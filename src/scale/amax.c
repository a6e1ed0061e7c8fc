// a_max table storage, lookup, monotonicity, analytic bound and cache file (amax.h).
// The Monte Carlo builder over the real placement and scheduler is sim/mc.c.
// SPDX-License-Identifier: MIT
#include "scale/amax.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"
#include "base/status.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int amax_alloc(struct amax_table *t, int n_cfg, int n_b) {
    struct amax_table z = {0};
    *t = z;
    if (n_cfg < 1 || n_cfg > AMAX_MAX_CFG || n_b < 1 || n_b > AMAX_MAX_B) return JANUS_EINVAL;
    size_t cells = (size_t)n_cfg * (size_t)n_b;
    t->n_e = mem_calloc(MEM_TAG_SIM, (size_t)n_cfg, sizeof *t->n_e);
    t->slots = mem_calloc(MEM_TAG_SIM, (size_t)n_cfg, sizeof *t->slots);
    t->b_grid = mem_calloc(MEM_TAG_SIM, (size_t)n_b, sizeof *t->b_grid);
    t->amax = mem_calloc(MEM_TAG_SIM, cells, sizeof *t->amax);
    t->tmax = mem_calloc(MEM_TAG_SIM, cells, sizeof *t->tmax);
    t->bound = mem_calloc(MEM_TAG_SIM, cells, sizeof *t->bound);
    t->active = mem_calloc(MEM_TAG_SIM, (size_t)n_b, sizeof *t->active);
    t->fanout = mem_calloc(MEM_TAG_SIM, cells, sizeof *t->fanout);
    t->n_cfg = n_cfg;
    t->n_b = n_b;
    t->n_prof = 1;
    if (!t->n_e || !t->slots || !t->b_grid || !t->amax || !t->tmax || !t->bound || !t->active ||
        !t->fanout) {
        amax_free(t);
        return JANUS_ENOMEM;
    }
    return JANUS_OK;
}

void amax_free(struct amax_table *t) {
    if (!t) return;
    mem_free(t->n_e);
    mem_free(t->slots);
    mem_free(t->b_grid);
    mem_free(t->amax);
    mem_free(t->tmax);
    mem_free(t->bound);
    mem_free(t->active);
    mem_free(t->fanout);
    mem_free(t->amax_prof);
    struct amax_table z = {0};
    *t = z;
}

int amax_alloc_profiles(struct amax_table *t, int n_prof) {
    if (n_prof < 2 || n_prof > AMAX_MAX_PROF || t->amax_prof) return JANUS_EINVAL;
    t->amax_prof = mem_calloc(MEM_TAG_SIM, (size_t)n_prof * t->n_cfg * t->n_b, sizeof(float));
    if (!t->amax_prof) return JANUS_ENOMEM;
    t->n_prof = n_prof;
    return JANUS_OK;
}

int amax_find(const struct amax_table *t, int n_e) {
    int lo = 0, hi = t->n_cfg - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (t->n_e[mid] == n_e) return mid;
        if (t->n_e[mid] < n_e)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

// Interpolates row[] over the grid at x; above the grid: hold (grow=0) or scale (grow=1).
static double interp(const struct amax_table *t, const float *row, double x, int grow) {
    const int32_t *g = t->b_grid;
    int n = t->n_b;
    if (x <= g[0]) return row[0] * (x / g[0]);
    if (x >= g[n - 1]) return grow ? row[n - 1] * (x / g[n - 1]) : row[n - 1];
    int lo = 0, hi = n - 1; // g[lo] <= x < g[hi]
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (g[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    double f = (x - g[lo]) / (double)(g[hi] - g[lo]);
    return row[lo] + f * (row[hi] - row[lo]);
}

int amax_lookup(const struct amax_table *t, int n_e, double batch, double *amax, double *tmax) {
    int i = amax_find(t, n_e);
    if (i < 0) return JANUS_ENOTFOUND;
    const float *ra = t->amax + (size_t)i * t->n_b, *rt = t->tmax + (size_t)i * t->n_b;
    double x = batch > 0 ? batch : 0;
    if (amax) {
        double a = interp(t, ra, x, 0);
        // Below one token the table cannot say less than "one instance runs k experts".
        *amax = a;
    }
    if (tmax) *tmax = interp(t, rt, x, 1);
    return JANUS_OK;
}

double amax_lookup_profile(const struct amax_table *t, int prof, int n_e, double batch) {
    int i = amax_find(t, n_e);
    if (i < 0) return -1;
    const float *row = t->amax + (size_t)i * t->n_b;
    if (t->n_prof > 1 && t->amax_prof && prof >= 0 && prof < t->n_prof)
        row = t->amax_prof + ((size_t)prof * t->n_cfg + i) * t->n_b;
    return interp(t, row, batch > 0 ? batch : 0, 0);
}

double amax_bound_at(const struct amax_table *t, int n_e, double batch) {
    int i = amax_find(t, n_e);
    if (i < 0) return -1;
    return interp(t, t->bound + (size_t)i * t->n_b, batch > 0 ? batch : 0, 0);
}

double amax_active(const struct amax_table *t, double batch) {
    return interp(t, t->active, batch > 0 ? batch : 0, 0);
}

double amax_fanout_uniform(int n_experts, int top_k, int n_e) {
    if (n_e <= 1 || top_k < 1 || n_experts < 1) return 1;
    double E = n_experts, per = E / n_e, miss = 1;
    for (int j = 0; j < top_k; j++) {
        double num = E - per - j, den = E - j;
        if (num <= 0 || den <= 0) {
            miss = 0;
            break;
        }
        miss *= num / den;
    }
    double f = n_e * (1.0 - miss), cap = top_k < n_e ? top_k : n_e;
    return f < 1 ? 1 : (f > cap ? cap : f);
}

double amax_fanout(const struct amax_table *t, int n_e, double batch) {
    int k = t->top_k > 0 ? t->top_k : 1;
    int i = amax_find(t, n_e);
    if (i < 0 || !t->fanout || !(t->fanout[(size_t)i * t->n_b] > 0))
        return amax_fanout_uniform(t->n_experts, k, n_e);
    const float *row = t->fanout + (size_t)i * t->n_b;
    const int32_t *g = t->b_grid;
    double x = batch, f;
    if (x <= g[0])
        f = row[0];
    else if (x >= g[t->n_b - 1])
        f = row[t->n_b - 1];
    else
        f = interp(t, row, x, 0);
    double cap = k < n_e ? k : n_e;
    return f < 1 ? 1 : (f > cap ? cap : f);
}

void amax_make_monotone(struct amax_table *t) {
    for (int i = 0; i < t->n_cfg; i++) {
        float *ra = t->amax + (size_t)i * t->n_b, *rt = t->tmax + (size_t)i * t->n_b;
        for (int j = 1; j < t->n_b; j++) {
            if (ra[j] < ra[j - 1]) ra[j] = ra[j - 1];
            if (rt[j] < rt[j - 1]) rt[j] = rt[j - 1];
        }
    }
    for (int j = 1; j < t->n_b; j++)
        if (t->active[j] < t->active[j - 1]) t->active[j] = t->active[j - 1];
    if (t->amax_prof)
        for (int r = 0; r < t->n_prof * t->n_cfg; r++) {
            float *ra = t->amax_prof + (size_t)r * t->n_b;
            for (int j = 1; j < t->n_b; j++)
                if (ra[j] < ra[j - 1]) ra[j] = ra[j - 1];
        }
}

double amax_bound(const float *p, int n_experts, const int32_t *hosts, const int32_t *cnt, int cap,
                  int n_inst, double batch) {
    double mu = 0;
    int max_cnt = 0;
    for (int g = 0; g < n_inst; g++) {
        double eg = 0;
        for (int j = 0; j < cnt[g]; j++) {
            int e = hosts[(size_t)g * cap + j];
            if (e < 0 || e >= n_experts) continue;
            double pe = p[e] > 1 ? 1 : (p[e] < 0 ? 0 : p[e]);
            eg += 1.0 - pow(1.0 - pe, batch);
        }
        if (eg > mu) mu = eg;
        if (cnt[g] > max_cnt) max_cnt = cnt[g];
    }
    double b = mu + sqrt(2.0 * mu * log(n_inst > 1 ? (double)n_inst : 1.0)) + 1.0;
    return b < max_cnt ? b : max_cnt;
}

// ---- cache file --------------------------------------------------------------------------
// Text format, one record per line:
//   janus-amax 3 <key hex> <n_cfg> <n_b> <E> <k> <n_prof>
//   b <b_0> ... <b_{n_b-1}>
//   act <active_0> ...
//   cfg <n_e> <slots> then lines "a ...", "t ...", "u ...", "f ..." (amax, tmax, bound,
//   selective fan-out) and, with
//   several layer profiles, one "p ..." line of a_max per profile
// Floats are written with %.9g, so a reload reproduces the floats bit for bit.

int amax_save(const struct amax_table *t, const char *path) {
    struct buf b;
    buf_init(&b, SIZE_MAX / 2);
    int rc = buf_appendf(&b, "janus-amax 3 %016" PRIx64 " %d %d %d %d %d\nb", t->key, t->n_cfg,
                         t->n_b, t->n_experts, t->top_k, t->n_prof > 1 ? t->n_prof : 1);
    for (int j = 0; j < t->n_b && !rc; j++)
        rc = buf_appendf(&b, " %d", (int)t->b_grid[j]);
    if (!rc) rc = buf_appendf(&b, "\nact");
    for (int j = 0; j < t->n_b && !rc; j++)
        rc = buf_appendf(&b, " %.9g", (double)t->active[j]);
    if (!rc) rc = buf_appendf(&b, "\n");
    for (int i = 0; i < t->n_cfg && !rc; i++) {
        rc = buf_appendf(&b, "cfg %d %d\n", (int)t->n_e[i], (int)t->slots[i]);
        const float *rows[4] = {t->amax, t->tmax, t->bound, t->fanout};
        const char *tag[4] = {"a", "t", "u", "f"};
        for (int r = 0; r < 4 && !rc; r++) {
            rc = buf_appendf(&b, "%s", tag[r]);
            for (int j = 0; j < t->n_b && !rc; j++)
                rc = buf_appendf(&b, " %.9g", (double)rows[r][(size_t)i * t->n_b + j]);
            if (!rc) rc = buf_appendf(&b, "\n");
        }
        for (int pr = 0; pr < t->n_prof && t->amax_prof && !rc; pr++) {
            rc = buf_appendf(&b, "p");
            for (int j = 0; j < t->n_b && !rc; j++)
                rc = buf_appendf(&b, " %.9g",
                                 (double)t->amax_prof[((size_t)pr * t->n_cfg + i) * t->n_b + j]);
            if (!rc) rc = buf_appendf(&b, "\n");
        }
    }
    if (!rc) rc = file_write_all(path, b.data, b.len, NULL, 0);
    buf_free(&b);
    return rc;
}

static int read_floats(FILE *f, const char *tag, float *out, int n) {
    char w[16];
    if (fscanf(f, "%15s", w) != 1 || strcmp(w, tag)) return -1;
    for (int j = 0; j < n; j++) {
        double v;
        if (fscanf(f, "%lf", &v) != 1 || !isfinite(v) || v < 0) return -1;
        out[j] = (float)v;
    }
    return 0;
}

int amax_load(struct amax_table *t, const char *path, uint64_t want_key) {
    struct amax_table z = {0};
    *t = z;
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? JANUS_ENOTFOUND : JANUS_EIO;
    char magic[16];
    int ver, n_cfg, n_b, E, k, n_prof;
    uint64_t key;
    if (fscanf(f, "%15s %d %" SCNx64 " %d %d %d %d %d", magic, &ver, &key, &n_cfg, &n_b, &E, &k,
               &n_prof) != 8 ||
        strcmp(magic, "janus-amax") || ver != 3 || key != want_key || n_prof < 1 ||
        n_prof > AMAX_MAX_PROF) {
        fclose(f);
        return JANUS_EFORMAT;
    }
    int rc = amax_alloc(t, n_cfg, n_b);
    if (!rc && n_prof > 1) rc = amax_alloc_profiles(t, n_prof);
    if (rc) {
        amax_free(t);
        fclose(f);
        return rc == JANUS_EINVAL ? JANUS_EFORMAT : rc;
    }
    t->key = key;
    t->n_experts = E;
    t->top_k = k;
    char w[16];
    int ok = fscanf(f, "%15s", w) == 1 && !strcmp(w, "b");
    for (int j = 0; ok && j < n_b; j++) {
        int v;
        ok = fscanf(f, "%d", &v) == 1 && v >= 1 && (j == 0 || v > t->b_grid[j - 1]);
        if (ok) t->b_grid[j] = v;
    }
    ok = ok && read_floats(f, "act", t->active, n_b) == 0;
    for (int i = 0; ok && i < n_cfg; i++) {
        int ne, sl;
        ok = fscanf(f, "%15s %d %d", w, &ne, &sl) == 3 && !strcmp(w, "cfg") && ne >= 1 && sl >= 0 &&
             (i == 0 || ne > t->n_e[i - 1]);
        if (!ok) break;
        t->n_e[i] = ne;
        t->slots[i] = sl;
        ok = read_floats(f, "a", t->amax + (size_t)i * n_b, n_b) == 0 &&
             read_floats(f, "t", t->tmax + (size_t)i * n_b, n_b) == 0 &&
             read_floats(f, "u", t->bound + (size_t)i * n_b, n_b) == 0 &&
             read_floats(f, "f", t->fanout + (size_t)i * n_b, n_b) == 0;
        for (int pr = 0; ok && pr < t->n_prof && t->amax_prof; pr++)
            ok = read_floats(f, "p", t->amax_prof + ((size_t)pr * n_cfg + i) * n_b, n_b) == 0;
    }
    fclose(f);
    if (!ok) {
        amax_free(t);
        return JANUS_EFORMAT;
    }
    return JANUS_OK;
}

int amax_cache_dir(char *out, size_t cap) {
    const char *e = getenv("JANUS_CACHE_DIR");
    if (e && *e) {
        snprintf(out, cap, "%s", e);
        return JANUS_OK;
    }
    e = getenv("XDG_CACHE_HOME");
    if (e && *e) {
        snprintf(out, cap, "%s/janus", e);
        return JANUS_OK;
    }
    e = getenv("HOME");
    if (e && *e) {
        snprintf(out, cap, "%s/.cache/janus", e);
        return JANUS_OK;
    }
    return JANUS_ENOTFOUND;
}
