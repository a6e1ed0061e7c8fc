// Unit tests for live re-placement (issue 16 item 2): the statistics' raw form (what MoE
// instance 0 sends rank 0), the predicted a_max of a layout on
// decayed statistics, the Janus layout built from them (layers without statistics kept),
// layers changed, the drift policy's decisions (place/drift.h), and the layout's wire form
// every rank rebuilds and checks before it switches (runtime/replace.h), malformed input
// included.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/status.h"
#include "comm/wire.h"
#include "place/drift.h"
#include "place/round_robin.h"
#include "runtime/replace.h"

#include <stdlib.h>

#define L 3
#define E 8
#define N 2
#define C 5

// Layer 0 dense; layers 1 and 2 MoE, round-robin over N instances of C slots.
static void rr_layout(struct layout *l) {
    uint8_t is_moe[L] = {0, 1, 1};
    char err[256];
    ASSERT_OK(round_robin_layout(l, L, is_moe, N, C, E, err, sizeof err));
}

// Layer 1: experts 5 and 7 fire every step (a skew round-robin does not foresee); layer 2 left
// without statistics.
static void skewed_stats(struct stats *s) {
    ASSERT_OK(stats_init(s, L, E, 1.0));
    for (int st = 0; st < 10; st++) {
        int32_t act[3] = {st % 5, 5, 7};
        ASSERT_OK(stats_record(s, 1, act, 3, NULL));
    }
}

TEST(predicted_amax_of_a_layout) {
    struct layout l;
    rr_layout(&l);
    struct stats s;
    skewed_stats(&s);
    ASSERT_EQ(drift_layer_amax(&l, &s, 0), 0); // dense
    ASSERT_EQ(drift_layer_amax(&l, &s, 2), 0); // no statistics
    // By hand: Σ over g's experts of c(e) / R(e), over 10 steps, the largest instance.
    double best = 0;
    for (int g = 0; g < N; g++) {
        double load = 0;
        for (int e = 0; e < E; e++)
            if (layout_replica_id(&l.layers[1], e, g) >= 0)
                load += stats_act(&s, 1, e) / layout_n_replicas(&l.layers[1], e);
        best = load > best ? load : best;
    }
    ASSERT_NEAR(drift_layer_amax(&l, &s, 1), best / 10, 1e-12);
    // Only layer 1 has statistics: the layout's figure is that layer's.
    ASSERT_NEAR(drift_layout_amax(&l, &s), drift_layer_amax(&l, &s, 1), 1e-12);
    stats_free(&s);
    layout_free(&l);
}

TEST(janus_layout_from_decayed_statistics) {
    struct layout cur, next;
    rr_layout(&cur);
    struct stats s;
    skewed_stats(&s);
    char err[256] = "";
    ASSERT_OK(drift_build_layout(&next, &cur, &s, err, sizeof err));
    ASSERT_OK(layout_check(&next, err, sizeof err));
    ASSERT_EQ(next.n_instances, N);
    ASSERT_EQ(next.n_slots, C);
    ASSERT_EQ(next.layers[0].n_experts, 0);
    // Layer 2 had no statistics: it keeps its placement; layer 1 replicates the hot experts.
    ASSERT_EQ(drift_layers_changed(&cur, &next), 1);
    ASSERT_EQ(layout_n_replicas(&next.layers[1], 5), N);
    ASSERT_EQ(layout_n_replicas(&next.layers[1], 7), N);
    ASSERT_LT(drift_layout_amax(&next, &s), drift_layout_amax(&cur, &s));
    // Re-placing again from the same statistics changes nothing.
    struct layout again;
    ASSERT_OK(drift_build_layout(&again, &next, &s, err, sizeof err));
    ASSERT_EQ(drift_layers_changed(&next, &again), 0);
    ASSERT_EQ(layout_digest(&next), layout_digest(&again));
    layout_free(&again);
    layout_free(&next);
    // No statistics at all: a clear error, nothing built.
    struct stats empty;
    ASSERT_OK(stats_init(&empty, L, E, 0.999));
    ASSERT_EQ(drift_build_layout(&next, &cur, &empty, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "no routing statistics") != NULL);
    ASSERT_EQ(next.layers, NULL);
    stats_free(&empty);
    // Statistics of another shape.
    struct stats other;
    ASSERT_OK(stats_init(&other, L, E + 1, 1.0));
    ASSERT_EQ(drift_build_layout(&next, &cur, &other, err, sizeof err), JANUS_EINVAL);
    stats_free(&other);
    stats_free(&s);
    layout_free(&cur);
}

TEST(drift_policy_decisions) {
    struct drift_policy p;
    drift_default_policy(&p);
    ASSERT_EQ(drift_due(&p, 100000, UINT64_MAX, UINT64_MAX), 0); // off by default
    ASSERT_EQ(drift_improves(&p, 4, 1), 0);
    p.threshold = 0.1;
    p.check_steps = 100;
    p.min_steps = 1000;
    ASSERT_EQ(drift_due(&p, 0, UINT64_MAX, UINT64_MAX), 1);
    ASSERT_EQ(drift_due(&p, 150, 100, UINT64_MAX), 0); // checked 50 steps ago
    ASSERT_EQ(drift_due(&p, 200, 100, UINT64_MAX), 1);
    ASSERT_EQ(drift_due(&p, 900, 700, 500), 0); // hysteresis: 400 steps after a switch
    ASSERT_EQ(drift_due(&p, 1500, 1300, 500), 1);
    ASSERT_EQ(drift_improves(&p, 2.0, 1.8), 1); // exactly 10 %
    ASSERT_EQ(drift_improves(&p, 2.0, 1.81), 0);
    ASSERT_EQ(drift_improves(&p, 2.0, 2.5), 0); // worse
    ASSERT_EQ(drift_improves(&p, 0, 0), 0);     // nothing to improve
    ASSERT_EQ(drift_improves(&p, NAN, 1), 0);
}

// The wire form of a layout and the header announcing it.
static int32_t *to_ints(const struct layout *l, struct wire_replace *r) {
    memset(r, 0, sizeof *r);
    r->phase = WIRE_REPLACE_LOAD;
    r->n_layers = l->n_layers;
    r->n_instances = l->n_instances;
    r->n_slots = l->n_slots;
    r->n_experts = l->n_experts;
    r->digest = layout_digest(l);
    r->n_ints = (uint32_t)wire_replace_layout_ints(l->n_layers, l->n_instances, l->n_slots);
    int32_t *ints = malloc(r->n_ints * sizeof *ints);
    replace_layout_to_ints(l, ints);
    return ints;
}

TEST(layout_wire_form_roundtrip_and_rejects) {
    struct layout cur, next, got;
    rr_layout(&cur);
    struct stats s;
    skewed_stats(&s);
    char err[256] = "";
    ASSERT_OK(drift_build_layout(&next, &cur, &s, err, sizeof err));
    struct wire_replace r;
    int32_t *ints = to_ints(&next, &r);
    ASSERT_EQ(r.n_ints, L * (1 + N * C));
    const uint8_t is_moe[L] = {0, 1, 1};
    ASSERT_OK(replace_layout_from_ints(&got, &r, ints, is_moe, err, sizeof err));
    ASSERT_EQ(layout_digest(&got), layout_digest(&next));
    ASSERT_EQ(drift_layers_changed(&got, &next), 0);
    layout_free(&got);
    const size_t per = 1 + N * C;
    struct {
        size_t at;
        int32_t v;
        const char *why;
    } bad[] = {
        {0, 2, "kind"},               // layer 0: kind 2
        {0, 1, "dense in the model"}, // layer 0 claimed MoE
        {per, 0, "MoE in the model"}, // layer 1 claimed dense
        {per + 1, E, "layer 1"},      // an expert out of range
        {per + 1, -7, "layer 1"},     // a negative slot other than -1
        {2 * per + 1, 1, "layer 2"},  // a duplicate on one instance / an expert missing
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int32_t keep = ints[bad[k].at];
        ints[bad[k].at] = bad[k].v;
        int rc = replace_layout_from_ints(&got, &r, ints, is_moe, err, sizeof err);
        ints[bad[k].at] = keep;
        if (rc == JANUS_OK) layout_free(&got);
        ASSERT_EQ(rc, JANUS_EPROTO);
        ASSERT_EQ(got.layers, NULL); // zeroed
        if (!strstr(err, bad[k].why)) TEST_FAIL_("case %zu: '%s' lacks '%s'", k, err, bad[k].why);
    }
    // A layout that is valid but not the one the controller announced (digest).
    r.digest ^= 1;
    ASSERT_EQ(replace_layout_from_ints(&got, &r, ints, is_moe, err, sizeof err), JANUS_EPROTO);
    ASSERT(strstr(err, "digest") != NULL);
    free(ints);
    layout_free(&next);
    layout_free(&cur);
    stats_free(&s);
}

TEST(statistics_raw_form_roundtrip_and_rejects) {
    struct stats s, t;
    skewed_stats(&s);
    ASSERT_OK(stats_init(&t, L, E, 0.5));
    const size_t per = stats_layer_raw_count(E);
    ASSERT_EQ(per, 1 + 2 * E + E * (E - 1) / 2);
    double *raw = malloc(per * sizeof *raw);
    for (int32_t l = 0; l < L; l++) {
        stats_layer_raw_get(&s, l, raw);
        ASSERT_OK(stats_layer_raw_set(&t, l, raw));
    }
    for (int32_t l = 0; l < L; l++) {
        ASSERT_NEAR(stats_steps(&t, l), stats_steps(&s, l), 1e-12);
        for (int32_t e = 0; e < E; e++) {
            ASSERT_NEAR(stats_act(&t, l, e), stats_act(&s, l, e), 1e-12);
            ASSERT_NEAR(stats_tokens(&t, l, e), stats_tokens(&s, l, e), 1e-12);
            for (int32_t f = e + 1; f < E; f++)
                ASSERT_NEAR(stats_coact(&t, l, e, f), stats_coact(&s, l, e, f), 1e-12);
        }
    }
    // The same layout from either copy.
    struct layout cur, a, b;
    rr_layout(&cur);
    char err[256];
    ASSERT_OK(drift_build_layout(&a, &cur, &s, err, sizeof err));
    ASSERT_OK(drift_build_layout(&b, &cur, &t, err, sizeof err));
    ASSERT_EQ(layout_digest(&a), layout_digest(&b));
    layout_free(&a);
    layout_free(&b);
    layout_free(&cur);
    // A negative, NaN or infinite value, or a bad layer: refused, nothing changed.
    stats_layer_raw_get(&s, 1, raw);
    double keep = stats_act(&t, 1, 5);
    raw[1 + E + 5] = -1;
    ASSERT_EQ(stats_layer_raw_set(&t, 1, raw), JANUS_EINVAL);
    raw[1 + E + 5] = NAN;
    ASSERT_EQ(stats_layer_raw_set(&t, 1, raw), JANUS_EINVAL);
    raw[1 + E + 5] = INFINITY;
    ASSERT_EQ(stats_layer_raw_set(&t, 1, raw), JANUS_EINVAL);
    ASSERT_NEAR(stats_act(&t, 1, 5), keep, 0);
    raw[1 + E + 5] = 1;
    ASSERT_EQ(stats_layer_raw_set(&t, L, raw), JANUS_EINVAL);
    ASSERT_EQ(stats_layer_raw_set(&t, -1, raw), JANUS_EINVAL);
    free(raw);
    stats_free(&t);
    stats_free(&s);
}
