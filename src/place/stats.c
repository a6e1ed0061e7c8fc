// Decayed expert statistics (stats.h, SPEC §6): t(e), c(e), a(e,e') per layer with lazy
// exponential decay, merge, and the "janus-stats" JSON format (cJSON).
// Lazy decay: the true value is stored * scale[layer]; a record multiplies scale by decay
// and adds increments of 1/scale. When scale falls below 1e-150 the layer is renormalised
// (stored *= scale, scale = 1), keeping every stored value finite.
// SPDX-License-Identifier: MIT
#include "place/stats.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "base/file.h"
#include "base/json_field.h"
#include "base/mem.h"
#include "base/status.h"

static size_t n_pairs(int32_t E) { return (size_t)E * (size_t)(E - 1) / 2; }

// Index of pair (i, j), i < j, in the row-major upper triangle.
static inline size_t pair_index(int32_t E, int32_t i, int32_t j) {
    return (size_t)i * (size_t)(2 * E - i - 1) / 2 + (size_t)(j - i - 1);
}

int stats_init(struct stats *s, int32_t n_layers, int32_t n_experts, double decay) {
    memset(s, 0, sizeof *s);
    if (n_layers < 1 || n_layers > LIMIT_MAX_LAYERS || n_experts < 1 ||
        n_experts > LIMIT_MAX_EXPERTS || !(decay > 0.0 && decay <= 1.0))
        return JANUS_EINVAL;
    size_t L = (size_t)n_layers, E = (size_t)n_experts;
    s->n_layers = n_layers;
    s->n_experts = n_experts;
    s->decay = decay;
    s->scale = mem_alloc(MEM_TAG_SCHED, L * sizeof(double));
    s->steps = mem_calloc(MEM_TAG_SCHED, L, sizeof(double));
    s->tok = mem_calloc(MEM_TAG_SCHED, L * E, sizeof(double));
    s->act = mem_calloc(MEM_TAG_SCHED, L * E, sizeof(double));
    s->coact = mem_calloc(MEM_TAG_SCHED, L * (n_pairs(n_experts) ? n_pairs(n_experts) : 1),
                          sizeof(double));
    s->mark = mem_calloc(MEM_TAG_SCHED, E, sizeof(int32_t));
    if (!s->scale || !s->steps || !s->tok || !s->act || !s->coact || !s->mark) {
        stats_free(s);
        return JANUS_ENOMEM;
    }
    for (size_t l = 0; l < L; l++)
        s->scale[l] = 1.0;
    return JANUS_OK;
}

void stats_free(struct stats *s) {
    mem_free(s->scale);
    mem_free(s->steps);
    mem_free(s->tok);
    mem_free(s->act);
    mem_free(s->coact);
    mem_free(s->mark);
    memset(s, 0, sizeof *s);
}

void stats_reset(struct stats *s) {
    size_t L = (size_t)s->n_layers, E = (size_t)s->n_experts;
    for (size_t l = 0; l < L; l++)
        s->scale[l] = 1.0;
    memset(s->steps, 0, L * sizeof(double));
    memset(s->tok, 0, L * E * sizeof(double));
    memset(s->act, 0, L * E * sizeof(double));
    memset(s->coact, 0, L * n_pairs(s->n_experts) * sizeof(double));
}

static void renormalise(struct stats *s, int32_t layer) {
    size_t E = (size_t)s->n_experts, P = n_pairs(s->n_experts);
    double f = s->scale[layer];
    s->steps[layer] *= f;
    for (size_t e = 0; e < E; e++) {
        s->tok[layer * E + e] *= f;
        s->act[layer * E + e] *= f;
    }
    double *a = s->coact + (size_t)layer * P;
    for (size_t p = 0; p < P; p++)
        a[p] *= f;
    s->scale[layer] = 1.0;
}

// Starts a recorded step of one layer: decays the layer's counts (lazily, through its scale)
// and counts the step. Returns the increment one event of this step adds.
static double step_begin(struct stats *s, int32_t layer) {
    s->scale[layer] *= s->decay;
    if (s->scale[layer] < 1e-150) {
        s->scale[layer] /= s->decay; // renormalise with the pre-step factor, then decay
        renormalise(s, layer);
        s->scale[layer] = s->decay;
    }
    double inc = 1.0 / s->scale[layer];
    s->steps[layer] += inc;
    return inc;
}

int stats_record(struct stats *s, int32_t layer, const int32_t *active, int32_t n_active,
                 const int32_t *n_tok_active) {
    int32_t E = s->n_experts;
    if (layer < 0 || layer >= s->n_layers || n_active < 0 || n_active > E) return JANUS_EINVAL;
    for (int32_t i = 0; i < n_active; i++)
        if (active[i] < 0 || active[i] >= E || (i > 0 && active[i] <= active[i - 1]) ||
            (n_tok_active && n_tok_active[i] < 0))
            return JANUS_EINVAL;
    double inc = step_begin(s, layer);
    size_t base = (size_t)layer * (size_t)E;
    double *a = s->coact + (size_t)layer * n_pairs(E);
    for (int32_t i = 0; i < n_active; i++) {
        int32_t e = active[i];
        s->act[base + e] += inc;
        s->tok[base + e] += inc * (n_tok_active ? n_tok_active[i] : 1);
        size_t row = pair_index(E, e, e + 1) - (size_t)(e + 1); // index of (e, j) = row + j
        for (int32_t i2 = i + 1; i2 < n_active; i2++)
            a[row + (size_t)active[i2]] += inc;
    }
    return JANUS_OK;
}

int stats_record_routing(struct stats *s, int32_t layer, const int32_t *routing, int64_t n_tok,
                         int32_t top_k) {
    int32_t E = s->n_experts;
    if (layer < 0 || layer >= s->n_layers || n_tok < 0 || (n_tok > 0 && top_k < 1))
        return JANUS_EINVAL;
    int64_t nt = n_tok * top_k;
    for (int64_t i = 0; i < nt; i++)
        if ((uint32_t)routing[i] >= (uint32_t)E) return JANUS_EINVAL;
    memset(s->mark, 0, sizeof(int32_t) * (size_t)E);
    for (int64_t i = 0; i < nt; i++)
        s->mark[routing[i]]++;
    // Same arithmetic as stats_record, walking experts in ascending id.
    double inc = step_begin(s, layer);
    size_t base = (size_t)layer * (size_t)E;
    double *a = s->coact + (size_t)layer * n_pairs(E);
    for (int32_t e = 0; e < E; e++) {
        if (!s->mark[e]) continue;
        s->act[base + e] += inc;
        s->tok[base + e] += inc * s->mark[e];
        size_t row = pair_index(E, e, e + 1) - (size_t)(e + 1);
        for (int32_t e2 = e + 1; e2 < E; e2++)
            if (s->mark[e2]) a[row + (size_t)e2] += inc;
    }
    return JANUS_OK;
}

// ---- getters

double stats_steps(const struct stats *s, int32_t layer) {
    JANUS_ASSERT(layer >= 0 && layer < s->n_layers);
    return s->steps[layer] * s->scale[layer];
}

double stats_tokens(const struct stats *s, int32_t layer, int32_t e) {
    JANUS_ASSERT(layer >= 0 && layer < s->n_layers && e >= 0 && e < s->n_experts);
    return s->tok[(size_t)layer * s->n_experts + e] * s->scale[layer];
}

double stats_act(const struct stats *s, int32_t layer, int32_t e) {
    JANUS_ASSERT(layer >= 0 && layer < s->n_layers && e >= 0 && e < s->n_experts);
    return s->act[(size_t)layer * s->n_experts + e] * s->scale[layer];
}

double stats_coact(const struct stats *s, int32_t layer, int32_t e1, int32_t e2) {
    int32_t E = s->n_experts;
    JANUS_ASSERT(layer >= 0 && layer < s->n_layers && e1 >= 0 && e1 < E && e2 >= 0 && e2 < E);
    if (e1 == e2) return stats_act(s, layer, e1);
    if (e1 > e2) {
        int32_t t = e1;
        e1 = e2;
        e2 = t;
    }
    return s->coact[(size_t)layer * n_pairs(E) + pair_index(E, e1, e2)] * s->scale[layer];
}

void stats_layer_export(const struct stats *s, int32_t layer, double *t, double *c, double *a) {
    int32_t E = s->n_experts;
    JANUS_ASSERT(layer >= 0 && layer < s->n_layers);
    double f = s->scale[layer];
    for (int32_t e = 0; e < E; e++) {
        if (t) t[e] = s->tok[(size_t)layer * E + e] * f;
        if (c) c[e] = s->act[(size_t)layer * E + e] * f;
    }
    if (a) {
        const double *p = s->coact + (size_t)layer * n_pairs(E);
        for (int32_t i = 0; i < E; i++) {
            a[(size_t)i * E + i] = s->act[(size_t)layer * E + i] * f;
            for (int32_t j = i + 1; j < E; j++) {
                double v = p[pair_index(E, i, j)] * f;
                a[(size_t)i * E + j] = v;
                a[(size_t)j * E + i] = v;
            }
        }
    }
}

size_t stats_layer_raw_count(int32_t E) { return 1 + 2 * (size_t)E + n_pairs(E); }

void stats_layer_raw_get(const struct stats *s, int32_t layer, double *out) {
    const int32_t E = s->n_experts;
    JANUS_ASSERT(layer >= 0 && layer < s->n_layers);
    const double f = s->scale[layer];
    out[0] = s->steps[layer] * f;
    for (int32_t e = 0; e < E; e++) {
        out[1 + e] = s->tok[(size_t)layer * E + e] * f;
        out[1 + E + e] = s->act[(size_t)layer * E + e] * f;
    }
    const double *p = s->coact + (size_t)layer * n_pairs(E);
    for (size_t k = 0; k < n_pairs(E); k++) // row-major upper triangle, as pair_index
        out[1 + 2 * (size_t)E + k] = p[k] * f;
}

int stats_layer_raw_set(struct stats *s, int32_t layer, const double *in) {
    const int32_t E = s->n_experts;
    if (layer < 0 || layer >= s->n_layers) return JANUS_EINVAL;
    const size_t n = stats_layer_raw_count(E);
    for (size_t k = 0; k < n; k++)
        if (!(in[k] >= 0) || !isfinite(in[k])) return JANUS_EINVAL;
    s->scale[layer] = 1;
    s->steps[layer] = in[0];
    memcpy(s->tok + (size_t)layer * E, in + 1, (size_t)E * sizeof(double));
    memcpy(s->act + (size_t)layer * E, in + 1 + E, (size_t)E * sizeof(double));
    memcpy(s->coact + (size_t)layer * n_pairs(E), in + 1 + 2 * (size_t)E,
           n_pairs(E) * sizeof(double));
    return JANUS_OK;
}

int stats_merge(struct stats *dst, const struct stats *src) {
    if (dst->n_layers != src->n_layers || dst->n_experts != src->n_experts) return JANUS_EINVAL;
    int32_t E = dst->n_experts;
    size_t P = n_pairs(E);
    for (int32_t l = 0; l < dst->n_layers; l++) {
        double f = src->scale[l] / dst->scale[l]; // src true value in dst's stored units
        if (!isfinite(f)) {
            renormalise(dst, l);
            f = src->scale[l];
        }
        dst->steps[l] += src->steps[l] * f;
        for (int32_t e = 0; e < E; e++) {
            dst->tok[(size_t)l * E + e] += src->tok[(size_t)l * E + e] * f;
            dst->act[(size_t)l * E + e] += src->act[(size_t)l * E + e] * f;
        }
        for (size_t p = 0; p < P; p++)
            dst->coact[l * P + p] += src->coact[l * P + p] * f;
    }
    return JANUS_OK;
}

// ---- JSON

// cJSON prints doubles only to within an epsilon; counts must round-trip exactly, so each is
// written with %.17g as a raw cJSON number.
static cJSON *exact_num(double v) {
    char t[32];
    snprintf(t, sizeof t, "%.17g", v);
    return cJSON_CreateRaw(t);
}

static cJSON *num_array(const double *v, int32_t n) {
    cJSON *a = cJSON_CreateArray();
    for (int32_t e = 0; a && e < n; e++)
        if (!cJSON_AddItemToArray(a, exact_num(v[e]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

char *stats_to_json(const struct stats *s) {
    int32_t E = s->n_experts;
    cJSON *root = cJSON_CreateObject(), *layers = NULL;
    double *row = mem_alloc(MEM_TAG_SCHED, sizeof(double) * 2 * (size_t)E);
    int bad = !root || !row || !cJSON_AddStringToObject(root, "format", "janus-stats") ||
              !cJSON_AddNumberToObject(root, "version", 1) ||
              !cJSON_AddNumberToObject(root, "n_layers", s->n_layers) ||
              !cJSON_AddNumberToObject(root, "n_experts", E) ||
              !cJSON_AddItemToObject(root, "decay", exact_num(s->decay)) ||
              !(layers = cJSON_AddArrayToObject(root, "layers"));
    for (int32_t l = 0; l < s->n_layers && !bad; l++) {
        double steps = stats_steps(s, l);
        if (steps <= 0) continue;
        cJSON *ly = cJSON_CreateObject(), *co = NULL;
        bad = !ly || !cJSON_AddItemToArray(layers, ly);
        if (bad) {
            cJSON_Delete(ly);
            break;
        }
        for (int32_t e = 0; e < E; e++) {
            row[e] = stats_tokens(s, l, e);
            row[E + e] = stats_act(s, l, e);
        }
        bad = !cJSON_AddNumberToObject(ly, "layer", l) ||
              !cJSON_AddItemToObject(ly, "steps", exact_num(steps)) ||
              !cJSON_AddItemToObject(ly, "tokens", num_array(row, E)) ||
              !cJSON_AddItemToObject(ly, "activations", num_array(row + E, E)) ||
              !(co = cJSON_AddArrayToObject(ly, "coactivation"));
        for (int32_t i = 0; i < E && !bad; i++)
            for (int32_t j = i + 1; j < E && !bad; j++) {
                double t[3] = {i, j, stats_coact(s, l, i, j)};
                if (t[2] != 0) bad = !cJSON_AddItemToArray(co, num_array(t, 3));
            }
    }
    char *text = bad ? NULL : cJSON_PrintUnformatted(root);
    char *out = text ? mem_strdup(MEM_TAG_SCHED, text) : NULL;
    cJSON_free(text);
    cJSON_Delete(root);
    mem_free(row);
    return out;
}

int stats_save_json(const struct stats *s, const char *path) {
    char *t = stats_to_json(s);
    if (!t) return JANUS_ENOMEM;
    int rc = file_write_all(path, t, strlen(t), NULL, 0);
    mem_free(t);
    return rc;
}

static int get_nonneg(const cJSON *it, double *out) {
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0) return 0;
    *out = it->valuedouble;
    return 1;
}

static int parse_vec(const cJSON *layer, const char *key, int32_t E, double *dst, int32_t li,
                     char *err, size_t err_len) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(layer, key);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != E)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "stats: layers[%d].%s must be an array of %d numbers", li, key, E);
    int32_t e = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) {
        if (!get_nonneg(v, &dst[e]))
            return status_errf(err, err_len, JANUS_EFORMAT,
                               "stats: layers[%d].%s[%d] must be a number >= 0", li, key, e);
        e++;
    }
    return 0;
}

int stats_parse_json(struct stats *s, const char *text, size_t len, char *err, size_t err_len) {
    memset(s, 0, sizeof *s);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return status_errf(err, err_len, JANUS_EFORMAT, "stats: not valid JSON");
    int rc = JANUS_EFORMAT;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    int64_t ver, L, E;
    double decay;
    if (!cJSON_IsObject(root) || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "janus-stats")) {
        status_errf(err, err_len, rc, "stats: \"format\" must be \"janus-stats\"");
        goto done;
    }
    if (!json_field_int(cJSON_GetObjectItemCaseSensitive(root, "version"), 1, 1, &ver)) {
        status_errf(err, err_len, rc, "stats: \"version\" must be 1");
        goto done;
    }
    if (!json_field_int(cJSON_GetObjectItemCaseSensitive(root, "n_layers"), 1, INT32_MAX, &L) ||
        !json_field_int(cJSON_GetObjectItemCaseSensitive(root, "n_experts"), 1, INT32_MAX, &E)) {
        status_errf(err, err_len, rc,
                    "stats: \"n_layers\" and \"n_experts\" must be positive "
                    "integers");
        goto done;
    }
    if (L > LIMIT_MAX_LAYERS || E > LIMIT_MAX_EXPERTS) {
        rc = status_errf(err, err_len, JANUS_ELIMIT,
                         "stats: %lld layers x %lld experts exceed the limits (%d, %d)",
                         (long long)L, (long long)E, LIMIT_MAX_LAYERS, LIMIT_MAX_EXPERTS);
        goto done;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "decay");
    if (!cJSON_IsNumber(d) || !(d->valuedouble > 0 && d->valuedouble <= 1)) {
        status_errf(err, err_len, rc, "stats: \"decay\" must be a number in (0, 1]");
        goto done;
    }
    decay = d->valuedouble;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!cJSON_IsArray(layers)) {
        status_errf(err, err_len, rc, "stats: \"layers\" must be an array");
        goto done;
    }
    int irc = stats_init(s, (int32_t)L, (int32_t)E, decay);
    if (irc) {
        rc = irc;
        goto done;
    }
    int li = 0;
    const cJSON *ly;
    cJSON_ArrayForEach(ly, layers) {
        int64_t l;
        double steps;
        if (!cJSON_IsObject(ly) ||
            !json_field_int(cJSON_GetObjectItemCaseSensitive(ly, "layer"), 0, L - 1, &l)) {
            status_errf(err, err_len, rc, "stats: layers[%d].layer must be an integer in [0, %lld)",
                        li, (long long)L);
            goto fail;
        }
        if (s->steps[l] != 0) {
            status_errf(err, err_len, rc, "stats: layer %lld appears twice", (long long)l);
            goto fail;
        }
        if (!get_nonneg(cJSON_GetObjectItemCaseSensitive(ly, "steps"), &steps) || steps <= 0) {
            status_errf(err, err_len, rc, "stats: layers[%d].steps must be a number > 0", li);
            goto fail;
        }
        s->steps[l] = steps;
        if (parse_vec(ly, "tokens", (int32_t)E, s->tok + l * E, li, err, err_len) ||
            parse_vec(ly, "activations", (int32_t)E, s->act + l * E, li, err, err_len))
            goto fail;
        const cJSON *co = cJSON_GetObjectItemCaseSensitive(ly, "coactivation");
        if (!cJSON_IsArray(co)) {
            status_errf(err, err_len, rc, "stats: layers[%d].coactivation must be an array", li);
            goto fail;
        }
        const cJSON *tr;
        int ti = 0;
        cJSON_ArrayForEach(tr, co) {
            int64_t i, j;
            double v;
            if (!cJSON_IsArray(tr) || cJSON_GetArraySize(tr) != 3 ||
                !json_field_int(cJSON_GetArrayItem(tr, 0), 0, E - 1, &i) ||
                !json_field_int(cJSON_GetArrayItem(tr, 1), 0, E - 1, &j) || i >= j ||
                !get_nonneg(cJSON_GetArrayItem(tr, 2), &v)) {
                status_errf(err, err_len, rc,
                            "stats: layers[%d].coactivation[%d] must be [e1, e2, value] with "
                            "0 <= e1 < e2 < %lld and value >= 0",
                            li, ti, (long long)E);
                goto fail;
            }
            s->coact[(size_t)l * n_pairs((int32_t)E) +
                     pair_index((int32_t)E, (int32_t)i, (int32_t)j)] = v;
            ti++;
        }
        li++;
    }
    rc = JANUS_OK;
    goto done;
fail:
    stats_free(s);
done:
    cJSON_Delete(root);
    return rc;
}

int stats_load_json(struct stats *s, const char *path, char *err, size_t err_len) {
    memset(s, 0, sizeof *s);
    char *text;
    size_t len;
    int rc = file_read_all(path, (size_t)1 << 30, &text, &len, err, err_len);
    if (rc) return rc;
    rc = stats_parse_json(s, text, len, err, err_len);
    mem_free(text);
    return rc;
}
