// Round-robin default layout (round_robin.h).
// SPDX-License-Identifier: MIT
#include "place/round_robin.h"

#include "base/mem.h"
#include "base/status.h"

int32_t round_robin_default_slots(int32_t n_experts, int32_t n_instances) {
    if (n_instances <= 1) return n_experts;
    return JANUS_MIN(n_experts, (n_experts + n_instances - 1) / n_instances + 1);
}

int round_robin_layout(struct layout *l, int32_t n_layers, const uint8_t *is_moe,
                       int32_t n_instances, int32_t n_slots, int32_t n_experts, char *err,
                       size_t err_len) {
    int32_t n = n_instances, C = n_slots, E = n_experts;
    if (n < 1 || C < 1 || (int64_t)n * C < E)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--slots %d x --moe %d holds fewer than the model's %d experts", C, n,
                           E);
    int rc = layout_init(l, n_layers, n, C, E);
    if (rc) return status_errf(err, err_len, rc, "layout: %s", janus_strerror(rc));
    int32_t *slots = mem_alloc(MEM_TAG_MISC, (size_t)n * (size_t)C * sizeof(int32_t));
    int32_t *fill = mem_calloc(MEM_TAG_MISC, (size_t)n, sizeof(int32_t));
    if (!slots || !fill) rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    for (int32_t q = 0; rc == JANUS_OK && q < n; q++)
        for (int32_t e = 0; e < E; e++) {
            int32_t g = (e + q) % n;
            if (q == 0) JANUS_ASSERT(fill[g] < C); // n * C >= E
            if (fill[g] < C) slots[g * C + fill[g]++] = e;
        }
    for (int32_t g = 0; rc == JANUS_OK && g < n; g++)
        for (int32_t s = fill[g]; s < C; s++)
            slots[g * C + s] = -1;
    for (int32_t i = 0; rc == JANUS_OK && i < n_layers; i++)
        if (is_moe[i]) rc = layout_set_layer_slots(l, i, slots, NULL, err, err_len);
    mem_free(slots);
    mem_free(fill);
    if (rc) layout_free(l);
    return rc;
}
