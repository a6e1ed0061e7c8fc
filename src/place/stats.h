// Expert activation statistics (SPEC §6), per MoE layer, exponentially decayed per
// recorded step: t(e) tokens routed to e, c(e) steps in which e was activated, a(e,e')
// steps in which e and e' were activated together, and the decayed number of steps.
// A record multiplies the layer's previous values by `decay` then adds the new step
// (decay 1 = plain counts). Decay is applied lazily (one scale factor per layer, with
// occasional renormalisation), so a record costs O(E + n_active^2), no allocation.
// File I/O only in stats_save_json / stats_load_json ("format": "janus-stats").
// SPDX-License-Identifier: MIT
#ifndef JANUS_STATS_H
#define JANUS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

struct stats {
    int32_t n_layers;  // layers (dense ones are simply never recorded)
    int32_t n_experts; // E
    double decay;      // multiplier per recorded step, in (0, 1]
    // Stored values; the true value is stored * scale[layer] (lazy decay).
    double *scale; // (n_layers)
    double *steps; // (n_layers) decayed number of recorded steps
    double *tok;   // (n_layers, E) t(e)
    double *act;   // (n_layers, E) c(e)
    double *coact; // (n_layers, E*(E-1)/2) a(e,e') for e < e', row-major upper triangle
    int32_t *mark; // (E) scratch for stats_record_routing
};

// Allocates zeroed statistics. JANUS_OK; JANUS_EINVAL (n_layers or E out of limits.h
// range, decay not in (0, 1]); JANUS_ENOMEM. On failure *s is zeroed.
JANUS_WUR int stats_init(struct stats *s, int32_t n_layers, int32_t n_experts, double decay);
// Frees and zeroes. Safe on a zeroed struct.
void stats_free(struct stats *s);
// Zeroes every count (keeps sizes and decay).
void stats_reset(struct stats *s);

// Records one scheduled step of one layer: the activated experts (ascending, distinct, in
// [0, E)) and the tokens routed to each (n_tok_active[i] for active[i]; may be NULL for
// "one each"). JANUS_OK or JANUS_EINVAL (bad layer, ids not ascending or out of range;
// nothing recorded). Allocation-free. The scheduler output's active/active_tokens fit.
JANUS_WUR int stats_record(struct stats *s, int32_t layer, const int32_t *active, int32_t n_active,
                           const int32_t *n_tok_active);
// Same from raw routing ((n_tok, top_k) logical ids), e.g. when replaying a trace.
// JANUS_OK or JANUS_EINVAL (an id out of range; nothing recorded). Allocation-free.
JANUS_WUR int stats_record_routing(struct stats *s, int32_t layer, const int32_t *routing,
                                   int64_t n_tok, int32_t top_k);

// True (decayed) values. Indices are asserted in range; stats_coact(e, e) == stats_act(e).
double stats_steps(const struct stats *s, int32_t layer);
double stats_tokens(const struct stats *s, int32_t layer, int32_t e);
double stats_act(const struct stats *s, int32_t layer, int32_t e);
double stats_coact(const struct stats *s, int32_t layer, int32_t e1, int32_t e2);
// Bulk export of one layer: t (E), c (E) and the full symmetric a (E*E, diagonal = c).
// Any output pointer may be NULL.
void stats_layer_export(const struct stats *s, int32_t layer, double *t, double *c, double *a);

// Raw form of one layer's true values (live re-placement sends it between ranks): the decayed
// step count, t (E), c (E), then a(e1, e2) for e1 < e2 in row-major order: 1 + 2E +
// E(E-1)/2 doubles. get writes them to out; set replaces layer's values with in and returns
// JANUS_OK, or JANUS_EINVAL (a value negative or not finite, or a bad layer; nothing changed).
size_t stats_layer_raw_count(int32_t n_experts);
void stats_layer_raw_get(const struct stats *s, int32_t layer, double *out);
JANUS_WUR int stats_layer_raw_set(struct stats *s, int32_t layer, const double *in);

// Adds src's true values into dst (statistics of several MoE instances or windows).
// JANUS_OK or JANUS_EINVAL (different n_layers or E; dst unchanged). Decay of dst kept.
JANUS_WUR int stats_merge(struct stats *dst, const struct stats *src);

// JSON: {"format": "janus-stats", "version": 1, "n_layers", "n_experts", "decay",
//        "layers": [{"layer", "steps", "tokens": [E], "activations": [E],
//                    "coactivation": [[e1, e2, v], ...]}, ...]} — docs/FORMATS.md.
// Layers with no recorded step are omitted; coactivation lists nonzero pairs e1 < e2.
// Values are true (decayed) values, printed with round-trip precision.
char *stats_to_json(const struct stats *s); // mem_free it; NULL on ENOMEM
JANUS_WUR int stats_save_json(const struct stats *s, const char *path); // OK, ENOMEM, EIO
// Parse/load: *s must not be initialised; on failure it is zeroed. JANUS_OK, JANUS_EFORMAT
// (err names the field), JANUS_ELIMIT, JANUS_ENOMEM, JANUS_EIO (load only).
JANUS_WUR int stats_parse_json(struct stats *s, const char *text, size_t len, char *err,
                               size_t err_len);
JANUS_WUR int stats_load_json(struct stats *s, const char *path, char *err, size_t err_len);

#endif // JANUS_STATS_H
