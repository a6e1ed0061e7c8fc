// Replica counts (place.h, SPEC §6): one replica per expert, then each remaining slot to the
// expert with the largest load / R(e) among those with R(e) < n; ties go to the largest tie /
// R(e) (token load, when given), then to the lowest expert id. Pure, O((n*C - E) * E), no
// allocation.
// SPDX-License-Identifier: MIT
#include <math.h>

#include "base/limits.h"
#include "base/status.h"
#include "place/place.h"

int replicate_counts(int32_t n_experts, const double *load, const double *tie, int32_t n_instances,
                     int32_t n_slots, int32_t *counts, char *err, size_t err_len) {
    int32_t E = n_experts, n = n_instances, C = n_slots;
    if (E < 1 || E > LIMIT_MAX_EXPERTS || n < 1 || n > LIMIT_MAX_INSTANCES || C < 1 ||
        C > LIMIT_MAX_SLOTS)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "replicate: sizes out of range (E=%d n=%d C=%d)", E, n, C);
    if ((int64_t)n * C < E)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "replicate: %d instances x %d slots cannot hold %d experts", n, C, E);
    for (int32_t e = 0; e < E; e++)
        if (!(load[e] >= 0) || !isfinite(load[e]) || (tie && (!(tie[e] >= 0) || !isfinite(tie[e]))))
            return status_errf(err, err_len, JANUS_EINVAL,
                               "replicate: load of expert %d is not a finite number >= 0", e);
    for (int32_t e = 0; e < E; e++)
        counts[e] = 1;
    int64_t extra = (int64_t)n * C - E;
    for (int64_t s = 0; s < extra; s++) {
        int32_t best = -1;
        double best_v = -1, best_t = -1;
        for (int32_t e = 0; e < E; e++) {
            if (counts[e] >= n) continue;
            double v = load[e] / counts[e], t = tie ? tie[e] / counts[e] : 0.0;
            if (v > best_v || (v == best_v && t > best_t)) {
                best_v = v;
                best_t = t;
                best = e;
            }
        }
        if (best < 0) break; // every expert already on every instance
        counts[best]++;
    }
    return JANUS_OK;
}
