// The default replica layout of a deployment started without a layout file (SPEC §6): a
// placement policy with no statistics. Replica q of expert e goes to MoE instance
// (e + q) mod n, rounds q = 0, 1, ... while slots are free, so every expert has one
// replica and spare slots fill with further replicas (no two replicas of e on one
// instance, since q < n). Every MoE layer gets the same assignment; dense layers none.
// SPDX-License-Identifier: MIT
#ifndef JANUS_ROUND_ROBIN_H
#define JANUS_ROUND_ROBIN_H

#include "base/base.h"
#include "place/layout.h"

#include <stddef.h>
#include <stdint.h>

// Initialises l for n_layers layers (is_moe[i] != 0 for MoE layers), n_instances MoE
// instances of n_slots slots each and n_experts experts. JANUS_EINVAL (reason in err) if
// n_instances * n_slots < n_experts; JANUS_ENOMEM.
JANUS_WUR int round_robin_layout(struct layout *l, int32_t n_layers, const uint8_t *is_moe,
                                 int32_t n_instances, int32_t n_slots, int32_t n_experts, char *err,
                                 size_t err_len);

// The default slot count of a deployment without --slots: C = E when n_instances = 1,
// otherwise min(E, ceil(E / n_instances) + 1), room for replicas on every instance.
int32_t round_robin_default_slots(int32_t n_experts, int32_t n_instances);

#endif // JANUS_ROUND_ROBIN_H
