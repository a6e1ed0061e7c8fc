// Routing trace tests (SPEC §6, docs/FORMATS.md): text parsing (comments, blank lines,
// errors with line numbers), save/load round trip, the streaming writer, and the seeded
// generator's determinism, skew, co-activation and drift; the weighted token sampler.
// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "../test.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "place/stats.h"
#include "place/trace.h"

TEST(parse_text_format) {
    const char *txt = "# a comment\n\nstep 0 layer 1\n1 2 3\n  4 5 6   # trailing\n"
                      "step 0 layer 2  \n\nstep 7 layer 1\n7 8 9\r\n";
    struct trace t;
    char err[200] = "";
    ASSERT_OK(trace_parse(&t, txt, strlen(txt), err, sizeof err));
    ASSERT_EQ(t.top_k, 3);
    ASSERT_EQ(t.n_blocks, 3);
    ASSERT_EQ(t.blocks[0].n_tok, 2);
    ASSERT_EQ(t.blocks[1].n_tok, 0);
    ASSERT_EQ(t.blocks[2].step, 7);
    ASSERT_EQ(t.blocks[2].layer, 1);
    ASSERT_EQ(trace_block_ids(&t, 0)[4], 5);
    ASSERT_EQ(trace_block_ids(&t, 2)[2], 9);
    ASSERT_EQ(t.max_expert, 9);
    ASSERT_EQ(trace_max_layer(&t), 2);
    trace_free(&t);
}

static void expect_bad(const char *txt, const char *needle) {
    struct trace t;
    char err[256] = "";
    int rc = trace_parse(&t, txt, strlen(txt), err, sizeof err);
    if (rc == JANUS_OK || !strstr(err, needle))
        test_fail(__FILE__, __LINE__, "text '%s': rc %d err '%s', want '%s'", txt, rc, err, needle);
    ASSERT_EQ(t.n_blocks, 0);
}

TEST(parse_errors_name_the_line) {
    expect_bad("1 2 3\n", "line 1: token line before");
    expect_bad("step 0 layer 0\n1 2\n1 2 3\n", "line 3: 3 expert ids, but the trace has top-k 2");
    expect_bad("step 0 layer 0\n1 -2\n", "line 2: expert ids must be integers");
    expect_bad("step 0 layer 0\n1 x\n", "line 2");
    expect_bad("step x layer 0\n", "line 1: expected \"step S layer L\"");
    expect_bad("step 1 lay 0\n", "line 1");
    expect_bad("step 1 layer 0 extra\n", "line 1");
    expect_bad("stop 1 layer 0\n", "line 1");
    expect_bad("step 0 layer 0\n5000\n", "exceeds the limit");
    char err[200] = "";
    struct trace t;
    ASSERT_EQ(trace_load(&t, "/nonexistent/trace.txt", err, sizeof err), JANUS_EIO);
}

TEST(save_load_round_trip_and_writer) {
    struct trace_gen_params p;
    trace_gen_default_params(&p);
    p.n_steps = 5;
    p.n_layers = 3;
    p.batch = 7;
    struct trace t = {0}, t2 = {0};
    char err[200] = "";
    ASSERT_OK(trace_generate(&t, &p, err, sizeof err));
    char path[512], path2[512];
    snprintf(path, sizeof path, "%s/t.txt", test_tmpdir());
    snprintf(path2, sizeof path2, "%s/w.txt", test_tmpdir());
    ASSERT_OK(trace_save(&t, path));
    ASSERT_OK(trace_load(&t2, path, err, sizeof err));
    ASSERT_EQ(t2.n_blocks, 15);
    ASSERT_EQ(t2.n_tok, t.n_tok);
    ASSERT_MEM_EQ(t2.ids, t.ids, sizeof(int32_t) * (size_t)(t.n_tok * t.top_k));
    // The streaming writer produces a trace that loads to the same blocks.
    struct trace_writer w;
    ASSERT_OK(trace_writer_open(&w, path2));
    ASSERT_OK(trace_writer_comment(&w, "a comment line"));
    ASSERT_EQ(trace_writer_comment(&w, "two\nlines"), JANUS_EINVAL);
    for (int64_t i = 0; i < t.n_blocks; i++)
        ASSERT_OK(trace_writer_append_block(&w, t.blocks[i].step, t.blocks[i].layer,
                                            trace_block_ids(&t, i), t.blocks[i].n_tok, t.top_k));
    ASSERT_EQ(trace_writer_append_block(&w, 9, 0, t.ids, 1, t.top_k + 1), JANUS_EINVAL);
    ASSERT_OK(trace_writer_close(&w));
    ASSERT_OK(trace_writer_close(&w)); // safe twice
    struct trace t3 = {0};
    ASSERT_OK(trace_load(&t3, path2, err, sizeof err));
    ASSERT_EQ(t3.n_blocks, t.n_blocks);
    ASSERT_MEM_EQ(t3.ids, t.ids, sizeof(int32_t) * (size_t)(t.n_tok * t.top_k));
    ASSERT_EQ(trace_writer_open(&w, "/nonexistent/dir/x"), JANUS_EIO);
    trace_free(&t);
    trace_free(&t2);
    trace_free(&t3);
}

static void gen(struct trace *t, double zipf, int32_t group, double drift, uint64_t seed,
                int64_t steps) {
    struct trace_gen_params p;
    trace_gen_default_params(&p);
    p.n_experts = 32;
    p.top_k = 4;
    p.n_steps = steps;
    p.batch = 16;
    p.zipf = zipf;
    p.group_size = group;
    p.p_group = 0.9;
    p.hot_groups = 1;
    p.drift = drift;
    p.seed = seed;
    char err[200];
    memset(t, 0, sizeof *t);
    JANUS_ASSERT(trace_generate(t, &p, err, sizeof err) == JANUS_OK);
}

TEST(generator_deterministic_distinct_and_skewed) {
    struct trace a, b, c, u;
    gen(&a, 1.2, 0, 0, 5, 50);
    gen(&b, 1.2, 0, 0, 5, 50);
    gen(&c, 1.2, 0, 0, 6, 50);
    gen(&u, 0.0, 0, 0, 5, 50);
    ASSERT_EQ(a.n_tok, b.n_tok);
    ASSERT_MEM_EQ(a.ids, b.ids, sizeof(int32_t) * (size_t)(a.n_tok * 4));
    ASSERT(memcmp(a.ids, c.ids, sizeof(int32_t) * (size_t)(a.n_tok * 4)) != 0);
    // k distinct experts per token.
    for (int64_t t = 0; t < a.n_tok; t++)
        for (int j = 0; j < 4; j++)
            for (int j2 = 0; j2 < j; j2++)
                ASSERT_NE(a.ids[t * 4 + j], a.ids[t * 4 + j2]);
    // Skew: the most popular expert is much more frequent than under zipf 0.
    int64_t ca[32] = {0}, cu[32] = {0}, ma = 0, mu = 0;
    for (int64_t i = 0; i < a.n_tok * 4; i++) {
        ca[a.ids[i]]++;
        cu[u.ids[i]]++;
    }
    for (int e = 0; e < 32; e++) {
        ma = ca[e] > ma ? ca[e] : ma;
        mu = cu[e] > mu ? cu[e] : mu;
    }
    ASSERT_LT(2 * mu, ma);
    trace_free(&a);
    trace_free(&b);
    trace_free(&c);
    trace_free(&u);
}

// Mean co-activation of expert pairs inside groups vs across groups, via stats.
static double coact_ratio(const struct trace *t, int32_t group_of_rank_size) {
    (void)group_of_rank_size;
    struct stats s;
    JANUS_ASSERT(stats_init(&s, 1, 32, 1.0) == JANUS_OK);
    for (int64_t i = 0; i < t->n_blocks; i++)
        JANUS_ASSERT(stats_record_routing(&s, 0, trace_block_ids(t, i), t->blocks[i].n_tok,
                                          t->top_k) == JANUS_OK);
    // Normalised co-activation a(e,f) / min(c(e), c(f)): top decile vs median.
    double v[32 * 31 / 2];
    int m = 0;
    for (int e = 0; e < 32; e++)
        for (int f = e + 1; f < 32; f++) {
            double ce = stats_act(&s, 0, e), cf = stats_act(&s, 0, f);
            double mn = ce < cf ? ce : cf;
            v[m++] = mn > 0 ? stats_coact(&s, 0, e, f) / mn : 0;
        }
    stats_free(&s);
    // spread: fraction of pairs that co-fire in less than half of the steps they could
    int low = 0;
    for (int i = 0; i < m; i++)
        low += v[i] < 0.5;
    return (double)low / m;
}

TEST(generator_coactivation_and_drift) {
    struct trace g, ng;
    gen(&g, 0.5, 8, 0, 9, 200);
    gen(&ng, 0.5, 0, 0, 9, 200);
    // With groups and one hot group per step, most pairs rarely fire together; without
    // groups, 16 tokens x 4 choices make most pairs co-fire often.
    ASSERT_LT(coact_ratio(&ng, 0) + 0.2, coact_ratio(&g, 8));
    // Drift: the most popular expert in the first and last 50 steps differ.
    struct trace d;
    gen(&d, 1.5, 0, 0.1, 3, 200);
    int64_t first[32] = {0}, last[32] = {0};
    for (int64_t i = 0; i < d.n_blocks; i++) {
        const int32_t *ids = trace_block_ids(&d, i);
        for (int64_t x = 0; x < d.blocks[i].n_tok * 4; x++) {
            if (d.blocks[i].step < 50) first[ids[x]]++;
            if (d.blocks[i].step >= 150) last[ids[x]]++;
        }
    }
    int bf = 0, bl = 0;
    for (int e = 1; e < 32; e++) {
        if (first[e] > first[bf]) bf = e;
        if (last[e] > last[bl]) bl = e;
    }
    ASSERT_NE(bf, bl);
    trace_free(&g);
    trace_free(&ng);
    trace_free(&d);
    struct trace_gen_params p;
    trace_gen_default_params(&p);
    p.top_k = 100;
    struct trace t = {0};
    char err[300] = "";
    ASSERT_EQ(trace_generate(&t, &p, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "k <= E") != NULL);
}

TEST(sample_tokens_weighted_without_replacement) {
    struct rng r;
    rng_init(&r, 1);
    double w[6] = {0, 10, 1, 1, 0, 1}, cdf[6];
    int32_t out[1000 * 3];
    ASSERT_OK(trace_sample_tokens(&r, w, 6, 3, 1000, cdf, out));
    int64_t cnt[6] = {0};
    for (int t = 0; t < 1000; t++) {
        for (int j = 0; j < 3; j++) {
            cnt[out[t * 3 + j]]++;
            for (int j2 = 0; j2 < j; j2++)
                ASSERT_NE(out[t * 3 + j], out[t * 3 + j2]);
        }
    }
    ASSERT_EQ(cnt[0] + cnt[4], 0);
    ASSERT_LT(900, cnt[1]); // heavy expert in nearly every token
    ASSERT_EQ(trace_sample_tokens(&r, w, 6, 5, 1, cdf, out), JANUS_EINVAL); // 4 positive < 5
}

TEST(same_model_seed_gives_same_popularity) {
    // Train/test traces of one synthetic model: the same model_seed with different sampling
    // seeds keeps the popularity order (so a placement learned on one applies to the other).
    struct trace_gen_params p;
    trace_gen_default_params(&p);
    p.n_experts = 32;
    p.top_k = 2;
    p.n_steps = 200;
    p.batch = 16;
    p.zipf = 1.5;
    int best[2];
    for (int v = 0; v < 2; v++) {
        p.seed = 10 + (uint64_t)v;
        struct trace t = {0};
        char err[200];
        ASSERT_OK(trace_generate(&t, &p, err, sizeof err));
        int64_t cnt[32] = {0};
        for (int64_t i = 0; i < t.n_tok * 2; i++)
            cnt[t.ids[i]]++;
        best[v] = 0;
        for (int e = 1; e < 32; e++)
            if (cnt[e] > cnt[best[v]]) best[v] = e;
        trace_free(&t);
    }
    ASSERT_EQ(best[0], best[1]);
    // A different model seed permutes popularity (almost surely a different top expert).
    p.model_seed = 99;
    struct trace t = {0};
    char err[200];
    ASSERT_OK(trace_generate(&t, &p, err, sizeof err));
    int64_t cnt[32] = {0};
    for (int64_t i = 0; i < t.n_tok * 2; i++)
        cnt[t.ids[i]]++;
    int b = 0;
    for (int e = 1; e < 32; e++)
        if (cnt[e] > cnt[b]) b = e;
    ASSERT_NE(b, best[0]);
    trace_free(&t);
}
