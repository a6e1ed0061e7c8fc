// Live re-placement (issue 16 item 2; SPEC §6, §7): what a re-placement is judged by and the
// drift policy that starts one. Pure functions of a layout and decayed statistics (place/
// stats.h): the predicted a_max of a layout (per MoE layer, the largest expected number of
// activated experts on one instance per step, each expert's decayed activation count c(e)
// split evenly over its R(e) replicas), the new layout Janus placement makes from the
// statistics (same instances and slots; layers without statistics keep their placement),
// how many layers differ, and the policy's decisions (when to look, whether to switch).
// SPDX-License-Identifier: MIT
#ifndef JANUS_DRIFT_H
#define JANUS_DRIFT_H

#include "base/base.h"
#include "place/layout.h"
#include "place/stats.h"

#include <stddef.h>
#include <stdint.h>

// Predicted a_max of layer `layer` of l on s: max over instances g of Σ_{e on g} c(e) / R(e)
// divided by the decayed number of steps. 0 for a dense layer or one without statistics.
double drift_layer_amax(const struct layout *l, const struct stats *s, int32_t layer);
// Mean of drift_layer_amax over the MoE layers of l that have statistics (0: none has).
double drift_layout_amax(const struct layout *l, const struct stats *s);
// MoE layers whose host lists differ between a and b (same shape assumed; a layer dense in
// one and not the other counts).
int32_t drift_layers_changed(const struct layout *a, const struct layout *b);

// The layout Janus placement (placement_build_layout, PLACEMENT_POLICY_JANUS) makes from s
// with cur's instances and slots; a MoE layer of cur without statistics in s keeps cur's
// placement. out must not be initialised (zeroed on failure). JANUS_OK; JANUS_EINVAL (s and
// cur differ in shape, or s has no statistics for any layer: err says so); JANUS_ENOMEM.
JANUS_WUR int drift_build_layout(struct layout *out, const struct layout *cur,
                                 const struct stats *s, char *err, size_t err_len);

// The drift policy (--replace-drift X): every check_steps steps, and no sooner than
// min_steps after the last re-placement, the controller computes the new layout; it switches
// when the predicted a_max improves by at least `threshold` (a fraction of the current one).
struct drift_policy {
    double threshold;     // > 0: on; <= 0: the policy is off
    uint64_t check_steps; // steps between evaluations (>= 1)
    uint64_t min_steps;   // steps after a re-placement before the next may start
};
// Defaults: off, check every 256 steps, at least 1024 steps apart.
void drift_default_policy(struct drift_policy *p);
// Whether to evaluate at step `step`, given the step of the last evaluation and of the last
// re-placement (UINT64_MAX: none yet).
int drift_due(const struct drift_policy *p, uint64_t step, uint64_t last_check,
              uint64_t last_replace);
// Whether a layout predicted at `after` should replace one predicted at `before`: the policy
// is on, before > 0 and (before - after) / before >= threshold.
int drift_improves(const struct drift_policy *p, double before, double after);

#endif // JANUS_DRIFT_H
