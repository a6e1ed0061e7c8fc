// Internals shared by the files of src/actsched (not part of the API). Calling convention
// of every policy: actsched.c has already validated the input, filled out->active,
// out->active_tokens, out->n_active, and set ws->mark[e] = tokens of e (0 if inactive).
// A policy writes, for each active expert e, the chosen index into the layer's host list
// (host_off[e] <= j < host_off[e+1]) to out->assign[e], and the per-instance expert counts
// to ws->load[0..n). actsched.c then turns indices into instances and replica ids, fills
// inst_count/a_max and rewrites the tokens. All functions: no allocation, no I/O.
// SPDX-License-Identifier: MIT
#ifndef JANUS_ACTSCHED_IMPL_H
#define JANUS_ACTSCHED_IMPL_H

#include "actsched/actsched.h"

// greedy.c: the publication's greedy (SPEC §5 ordering and ties).
void greedy_assign(struct actsched_ws *ws, const struct actsched_input *in,
                   struct actsched_output *out);
// optimal.c: greedy, then augmenting paths from the most-loaded instances until none
// exists (then a_max is minimal).
void optimal_assign(struct actsched_ws *ws, const struct actsched_input *in,
                    struct actsched_output *out);
// baselines.c
void baselines_random(struct actsched_ws *ws, const struct actsched_input *in,
                      struct actsched_output *out);
void baselines_round_robin(struct actsched_ws *ws, const struct actsched_input *in,
                           struct actsched_output *out);
void baselines_token_balanced(struct actsched_ws *ws, const struct actsched_input *in,
                              struct actsched_output *out);
void baselines_first(struct actsched_ws *ws, const struct actsched_input *in,
                     struct actsched_output *out);

#endif // JANUS_ACTSCHED_IMPL_H
