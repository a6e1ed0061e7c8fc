// Live re-placement's predictions and drift policy (drift.h).
// SPDX-License-Identifier: MIT
#include "place/drift.h"

#include "base/mem.h"
#include "base/status.h"
#include "place/place.h"

#include <string.h>

double drift_layer_amax(const struct layout *l, const struct stats *s, int32_t layer) {
    if (layer < 0 || layer >= l->n_layers || layer >= s->n_layers) return 0;
    const struct layout_layer *ly = &l->layers[layer];
    double steps = stats_steps(s, layer);
    if (ly->n_experts == 0 || ly->n_experts != s->n_experts || !(steps > 0)) return 0;
    double best = 0;
    for (int32_t g = 0; g < l->n_instances; g++) {
        double load = 0;
        for (int32_t e = 0; e < ly->n_experts; e++) {
            int32_t r = layout_n_replicas(ly, e);
            if (r > 0 && layout_replica_id(ly, e, g) >= 0)
                load += stats_act(s, layer, e) / (double)r;
        }
        best = load > best ? load : best;
    }
    return best / steps;
}

double drift_layout_amax(const struct layout *l, const struct stats *s) {
    double sum = 0;
    int32_t n = 0;
    for (int32_t i = 0; i < l->n_layers && i < s->n_layers; i++) {
        if (l->layers[i].n_experts == 0 || !(stats_steps(s, i) > 0)) continue;
        sum += drift_layer_amax(l, s, i);
        n++;
    }
    return n ? sum / n : 0;
}

static int same_layer(const struct layout_layer *a, const struct layout_layer *b) {
    if (a->n_experts != b->n_experts) return 0;
    if (a->n_experts == 0) return 1;
    int32_t n = a->host_off[a->n_experts];
    return n == b->host_off[b->n_experts] &&
           !memcmp(a->host_off, b->host_off, (size_t)(a->n_experts + 1) * sizeof *a->host_off) &&
           !memcmp(a->hosts, b->hosts, (size_t)n * sizeof *a->hosts);
}

int32_t drift_layers_changed(const struct layout *a, const struct layout *b) {
    int32_t n = 0;
    for (int32_t i = 0; i < a->n_layers && i < b->n_layers; i++)
        n += !same_layer(&a->layers[i], &b->layers[i]);
    return n;
}

int drift_build_layout(struct layout *out, const struct layout *cur, const struct stats *s,
                       char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    if (s->n_layers != cur->n_layers || s->n_experts != cur->n_experts)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "statistics of %d layers and %d experts for a layout of %d and %d",
                           s->n_layers, s->n_experts, cur->n_layers, cur->n_experts);
    int32_t with_stats = 0;
    for (int32_t i = 0; i < cur->n_layers; i++)
        with_stats += cur->layers[i].n_experts > 0 && stats_steps(s, i) > 0;
    if (with_stats == 0)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "no routing statistics yet: serve some requests first");
    struct placement_build_report rep;
    int rc = placement_build_layout(out, s, cur->n_instances, cur->n_slots, PLACEMENT_POLICY_JANUS,
                                    NULL, &rep, err, err_len);
    if (rc) return rc;
    for (int32_t i = 0; i < cur->n_layers && rc == JANUS_OK; i++) {
        const struct layout_layer *c = &cur->layers[i];
        if (c->n_experts > 0 && !(stats_steps(s, i) > 0))
            rc = layout_set_layer_hosts(out, i, c->host_off, c->hosts, err, err_len);
        else if (c->n_experts == 0 && out->layers[i].n_experts > 0)
            layout_set_dense(out, i);
    }
    if (rc == JANUS_OK) rc = layout_check(out, err, err_len);
    if (rc) layout_free(out);
    return rc;
}

void drift_default_policy(struct drift_policy *p) {
    p->threshold = 0;
    p->check_steps = 256;
    p->min_steps = 1024;
}

int drift_due(const struct drift_policy *p, uint64_t step, uint64_t last_check,
              uint64_t last_replace) {
    if (!(p->threshold > 0)) return 0;
    uint64_t every = p->check_steps ? p->check_steps : 1;
    if (last_check != UINT64_MAX && step < last_check + every) return 0;
    if (last_replace != UINT64_MAX && step < last_replace + p->min_steps) return 0;
    return 1;
}

int drift_improves(const struct drift_policy *p, double before, double after) {
    if (!(p->threshold > 0) || !(before > 0)) return 0;
    return (before - after) / before >= p->threshold - 1e-9; // 10 % of 2.0 is 0.2, rounding aside
}
