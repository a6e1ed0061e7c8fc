// Expert statistics tests (SPEC §6): decayed t(e), c(e), a(e,e') against a naive eager
// computation (including the lazy-decay renormalisation), record from routing == record
// from an active list, merge, JSON round trip and loader errors.
// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../test.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "place/stats.h"

#define E 12
#define L 2

struct naive {
    double steps[L], t[L][E], c[L][E], a[L][E][E];
};

static void naive_record(struct naive *nv, double decay, int l, const int32_t *ids, int n_tok,
                         int k) {
    int cnt[E] = {0};
    for (int i = 0; i < n_tok * k; i++)
        cnt[ids[i]]++;
    nv->steps[l] = nv->steps[l] * decay + 1;
    for (int e = 0; e < E; e++) {
        nv->t[l][e] = nv->t[l][e] * decay + cnt[e];
        nv->c[l][e] = nv->c[l][e] * decay + (cnt[e] > 0);
        for (int f = 0; f < E; f++)
            nv->a[l][e][f] = nv->a[l][e][f] * decay + (cnt[e] > 0 && cnt[f] > 0);
    }
}

static void check_against(const struct stats *s, const struct naive *nv) {
    for (int l = 0; l < L; l++) {
        double tol = 1e-9 * (1 + nv->steps[l]);
        ASSERT_NEAR(stats_steps(s, l), nv->steps[l], tol);
        for (int e = 0; e < E; e++) {
            ASSERT_NEAR(stats_tokens(s, l, e), nv->t[l][e], 1e-9 * (1 + nv->t[l][e]));
            ASSERT_NEAR(stats_act(s, l, e), nv->c[l][e], tol);
            for (int f = 0; f < E; f++)
                ASSERT_NEAR(stats_coact(s, l, e, f), nv->a[l][e][f], tol);
        }
    }
}

static void run_decay(double decay, int steps) {
    struct stats s;
    ASSERT_OK(stats_init(&s, L, E, decay));
    static struct naive nv;
    memset(&nv, 0, sizeof nv);
    struct rng r;
    rng_init(&r, 3);
    int32_t ids[8 * 3];
    for (int st = 0; st < steps; st++)
        for (int l = 0; l < L; l++) {
            int n_tok = (int)rng_below(&r, 9);
            for (int i = 0; i < n_tok * 3; i++)
                ids[i] = (int32_t)rng_below(&r, l ? 4 : E);
            ASSERT_OK(stats_record_routing(&s, l, ids, n_tok, 3));
            naive_record(&nv, decay, l, ids, n_tok, 3);
        }
    check_against(&s, &nv);
    stats_free(&s);
}

TEST(decayed_counts_match_naive) {
    run_decay(1.0, 50);
    run_decay(0.9, 200);
    run_decay(0.5, 1200); // forces the lazy-decay renormalisation (0.5^500 < 1e-150)
}

TEST(record_active_list_equals_routing) {
    struct stats a, b;
    ASSERT_OK(stats_init(&a, 1, E, 0.95));
    ASSERT_OK(stats_init(&b, 1, E, 0.95));
    int32_t ids[6] = {3, 7, 3, 11, 0, 7};
    int32_t act[4] = {0, 3, 7, 11}, tok[4] = {1, 2, 2, 1};
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(stats_record_routing(&a, 0, ids, 3, 2));
        ASSERT_OK(stats_record(&b, 0, act, 4, tok));
    }
    for (int e = 0; e < E; e++) {
        ASSERT_NEAR(stats_tokens(&a, 0, e), stats_tokens(&b, 0, e), 1e-12);
        for (int f = 0; f < E; f++)
            ASSERT_NEAR(stats_coact(&a, 0, e, f), stats_coact(&b, 0, e, f), 1e-12);
    }
    ASSERT_NEAR(stats_coact(&a, 0, 3, 7), (1 - pow(0.95, 5)) / (1 - 0.95), 1e-12);
    ASSERT_EQ(stats_coact(&a, 0, 3, 5), 0);
    int32_t bad_order[2] = {3, 1};
    ASSERT_EQ(stats_record(&b, 0, bad_order, 2, NULL), JANUS_EINVAL);
    int32_t bad_id[1] = {E};
    ASSERT_EQ(stats_record_routing(&b, 0, bad_id, 1, 1), JANUS_EINVAL);
    ASSERT_EQ(stats_record(&b, 1, act, 4, NULL), JANUS_EINVAL);
    stats_free(&a);
    stats_free(&b);
}

TEST(merge_adds_true_values) {
    struct stats a, b;
    ASSERT_OK(stats_init(&a, L, E, 0.5));
    ASSERT_OK(stats_init(&b, L, E, 0.9));
    int32_t ids[4] = {1, 2, 2, 5};
    for (int i = 0; i < 3; i++)
        ASSERT_OK(stats_record_routing(&a, 1, ids, 2, 2));
    for (int i = 0; i < 7; i++)
        ASSERT_OK(stats_record_routing(&b, 1, ids, 2, 2));
    double ea = stats_coact(&a, 1, 1, 5), eb = stats_coact(&b, 1, 1, 5);
    double ta = stats_tokens(&a, 1, 2), tb = stats_tokens(&b, 1, 2);
    ASSERT_OK(stats_merge(&a, &b));
    ASSERT_NEAR(stats_coact(&a, 1, 1, 5), ea + eb, 1e-12);
    ASSERT_NEAR(stats_tokens(&a, 1, 2), ta + tb, 1e-12);
    ASSERT_EQ(stats_steps(&a, 0), 0);
    struct stats c;
    ASSERT_OK(stats_init(&c, L, E + 1, 1));
    ASSERT_EQ(stats_merge(&a, &c), JANUS_EINVAL);
    stats_free(&a);
    stats_free(&b);
    stats_free(&c);
}

TEST(json_round_trip) {
    struct stats s, s2;
    ASSERT_OK(stats_init(&s, 3, E, 0.97));
    struct rng r;
    rng_init(&r, 8);
    int32_t ids[40];
    for (int st = 0; st < 30; st++) {
        for (int i = 0; i < 40; i++)
            ids[i] = (int32_t)rng_below(&r, E);
        ASSERT_OK(stats_record_routing(&s, 2, ids, 10, 4));
    }
    char path[512];
    snprintf(path, sizeof path, "%s/s.json", test_tmpdir());
    ASSERT_OK(stats_save_json(&s, path));
    char err[256] = "";
    ASSERT_OK(stats_load_json(&s2, path, err, sizeof err));
    ASSERT_EQ(s2.n_layers, 3);
    ASSERT_EQ(s2.n_experts, E);
    ASSERT_NEAR(s2.decay, 0.97, 0);
    ASSERT_EQ(stats_steps(&s2, 0), 0);
    for (int e = 0; e < E; e++) {
        ASSERT_NEAR(stats_tokens(&s2, 2, e), stats_tokens(&s, 2, e), 0);
        for (int f = 0; f < E; f++)
            ASSERT_NEAR(stats_coact(&s2, 2, e, f), stats_coact(&s, 2, e, f), 0);
    }
    char *a = stats_to_json(&s), *b = stats_to_json(&s2);
    ASSERT_STR_EQ(a, b);
    mem_free(a);
    mem_free(b);
    stats_free(&s);
    stats_free(&s2);
}

static void expect_bad(const char *json, const char *needle) {
    struct stats s;
    char err[256] = "";
    int rc = stats_parse_json(&s, json, strlen(json), err, sizeof err);
    if (rc == JANUS_OK || !strstr(err, needle))
        test_fail(__FILE__, __LINE__, "json %s: rc %d err '%s', want '%s'", json, rc, err, needle);
}

TEST(loader_rejects_bad_documents) {
    expect_bad("[", "not valid JSON");
    expect_bad("{\"format\": \"janus-layout\"}", "janus-stats");
    expect_bad("{\"format\": \"janus-stats\", \"version\": 1, \"n_layers\": 1, \"n_experts\": 2, "
               "\"decay\": 1.5, \"layers\": []}",
               "decay");
    expect_bad("{\"format\": \"janus-stats\", \"version\": 1, \"n_layers\": 1, \"n_experts\": 2, "
               "\"decay\": 1, \"layers\": [{\"layer\": 1}]}",
               "layers[0].layer");
    expect_bad("{\"format\": \"janus-stats\", \"version\": 1, \"n_layers\": 1, \"n_experts\": 2, "
               "\"decay\": 1, \"layers\": [{\"layer\": 0, \"steps\": 2, \"tokens\": [1], "
               "\"activations\": [1, 1], \"coactivation\": []}]}",
               "tokens");
    expect_bad("{\"format\": \"janus-stats\", \"version\": 1, \"n_layers\": 1, \"n_experts\": 2, "
               "\"decay\": 1, \"layers\": [{\"layer\": 0, \"steps\": 2, \"tokens\": [1, -1], "
               "\"activations\": [1, 1], \"coactivation\": []}]}",
               "tokens[1]");
    expect_bad("{\"format\": \"janus-stats\", \"version\": 1, \"n_layers\": 1, \"n_experts\": 2, "
               "\"decay\": 1, \"layers\": [{\"layer\": 0, \"steps\": 2, \"tokens\": [1, 1], "
               "\"activations\": [1, 1], \"coactivation\": [[1, 0, 1]]}]}",
               "coactivation[0]");
    expect_bad("{\"format\": \"janus-stats\", \"version\": 1, \"n_layers\": 1, \"n_experts\": "
               "5000, \"decay\": 1, \"layers\": []}",
               "exceed");
}
