// Tests for the simulator and the planner CLIs: the replay's accounting (GPU-hours,
// attainment, reconfigurations) on synthetic traces, determinism of sim_run, SVG writer
// output, `janus plan --json` fields and their consistency (batch = rate x TPOT,
// tpg = rate / GPUs), byte-identical outputs of `janus sweep` / `janus simulate` for a
// seed (built tables and cached tables alike), one-line CLI errors.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/buf.h"
#include "base/status.h"
#include "plan_fixture.h"
#include "place/layout.h"
#include "place/stats.h"
#include "place/trace.h"
#include "sim/planner.h"
#include "sim/report.h"
#include "sim/sim.h"

#include <cJSON.h>
#include <stdlib.h>

static struct planner g_pl; // large: keep it off the stack

static int toy_planner(void) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    fx_model(&m);
    fx_hw(&h);
    latency_coef_default(&c);
    struct planner_options o;
    planner_default_options(&o);
    o.max_gpus = 12;
    o.samples = 2;
    char err[256];
    int rc = planner_init(&g_pl, &m, &h, &c, &o, err, sizeof err);
    if (rc) fprintf(stderr, "planner_init: %s\n", err);
    return rc;
}

static int make_trace(struct workload_trace *t, int n, const double *levels, int n_levels) {
    t->rate = calloc((size_t)n, sizeof(double));
    if (!t->rate) return -1;
    t->n = n;
    t->bin_s = 60;
    for (int i = 0; i < n; i++)
        t->rate[i] = levels[(i * n_levels) / n];
    return 0;
}

TEST(sim_constant_load_accounting) {
    ASSERT_OK(toy_planner());
    struct workload_trace t;
    double lv[] = {20000};
    ASSERT_EQ(make_trace(&t, 120, lv, 1), 0); // 2 hours
    struct sim_params p = {0.01, 300, 12, 900, 1.0, 0, 0, 0};
    struct sim_result r;
    ASSERT_OK(sim_run(&g_pl, &t, &p, &r));
    ASSERT_EQ(r.n_int, 8);
    for (int k = 0; k < BASELINES_COUNT; k++) {
        const struct sim_system_result *s = &r.sys[k];
        ASSERT(s->active);
        ASSERT_EQ(s->reconfigs, 0);
        if (s->infeasible) continue;
        ASSERT_NEAR(s->slo_attainment, 1.0, 1e-12);
        ASSERT_NEAR(s->gpu_hours, s->peak_gpus * 2.0, 1e-9);
        ASSERT_NEAR(s->tokens, 20000.0 * 7200, 1e-3);
    }
    ASSERT_EQ(r.sys[BASELINES_JANUS].infeasible, 0);
    sim_result_free(&r);
    free(t.rate);
    planner_free(&g_pl);
}

TEST(sim_step_load_reconfigures_and_lags) {
    ASSERT_OK(toy_planner());
    struct workload_trace t;
    double lv[] = {2000, 5e5, 2000};
    ASSERT_EQ(make_trace(&t, 180, lv, 3), 0); // one hour each
    struct sim_params p = {0.01, 300, 12, 900, 1.0, 0, 1u << BASELINES_JANUS, 0};
    struct sim_result a, b;
    ASSERT_OK(sim_run(&g_pl, &t, &p, &a));
    ASSERT(!a.sys[BASELINES_MONO].active);
    const struct sim_system_result *j = &a.sys[BASELINES_JANUS];
    ASSERT_EQ(j->reconfigs, 2); // up at hour 1, down at hour 2
    ASSERT_NEAR(j->slo_attainment, 1.0, 1e-12);
    double gh = 0;
    for (int i = 0; i < a.n_int; i++)
        gh += a.iv[i].n_gpus[BASELINES_JANUS] * 0.25;
    ASSERT_NEAR(j->gpu_hours, gh, 1e-9);
    // Reactive planning (last interval's peak) misses the first interval of the surge.
    p.forecast_last = 1;
    ASSERT_OK(sim_run(&g_pl, &t, &p, &b));
    ASSERT_LT(b.sys[BASELINES_JANUS].slo_attainment, 1.0);
    ASSERT_LT(0.5, b.sys[BASELINES_JANUS].slo_attainment);
    // Determinism.
    struct sim_result c;
    ASSERT_OK(sim_run(&g_pl, &t, &p, &c));
    ASSERT_MEM_EQ(b.iv, c.iv, (size_t)b.n_int * sizeof *b.iv);
    ASSERT_MEM_EQ(b.sys, c.sys, sizeof b.sys);
    sim_result_free(&a);
    sim_result_free(&b);
    sim_result_free(&c);
    struct sim_params bad = {0.01, 300, 99, 900, 1.0, 0, 0, 0}; // more GPUs than the tables
    ASSERT_EQ(sim_run(&g_pl, &t, &bad, &a), JANUS_EINVAL);
    free(t.rate);
    planner_free(&g_pl);
}

TEST(svg_writer) {
    double x[] = {1, 2, 4, 8}, y[] = {1, 3, NAN, 2}, slo = 2.5;
    struct report_series s = {"a<b", x, y, 4, 1};
    struct report_plot p = {"t & t", "x", "y", 1, 0, 0, &slo, "SLO", &s, 1};
    struct buf b, c;
    buf_init(&b, 1 << 20);
    buf_init(&c, 1 << 20);
    ASSERT_OK(report_svg(&b, &p));
    ASSERT_OK(report_svg(&c, &p));
    ASSERT_EQ(b.len, c.len);
    ASSERT_MEM_EQ(b.data, c.data, b.len);
    ASSERT(strstr(b.data, "<svg") && strstr(b.data, "</svg>"));
    ASSERT(strstr(b.data, "a&lt;b") && strstr(b.data, "t &amp; t"));
    // The NaN splits the line into two polylines.
    int n = 0;
    for (const char *q = b.data; (q = strstr(q, "<polyline")); q++)
        n++;
    ASSERT_EQ(n, 2);
    struct report_plot empty = {"e", "x", "y", 0, 0, 0, NULL, NULL, NULL, 0};
    buf_reset(&c);
    ASSERT_EQ(report_svg(&c, &empty), JANUS_EINVAL);
    buf_free(&b);
    buf_free(&c);
}

// ---- CLI ------------------------------------------------------------------------------------

static int run(const char *args, char *out, size_t cap) {
    char cmd[4096];
    const char *root = getenv("JANUS_ROOT");
    snprintf(cmd, sizeof cmd, "JANUS_CACHE_DIR='%s/cache' '%s' %s --data-dir '%s/data' 2>&1",
             test_tmpdir(), test_janus_bin(), args, root ? root : ".");
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char g_out[1 << 20], g_out2[1 << 20];

TEST(plan_json_fields_consistent) {
    const char *args = "plan --model mixtral-8x7b --hw a100 --slo-ms 100 --rate 5000 "
                       "--max-gpus 16 --samples 2 --json";
    ASSERT_EQ(run(args, g_out, sizeof g_out), 0);
    const char *brace = strchr(g_out, '{'); // stderr lines (table build times) come first
    ASSERT(brace != NULL);
    cJSON *j = cJSON_Parse(brace);
    ASSERT(j != NULL);
    const char *f[] = {"n_attn", "n_moe", "batch", "tpot_ms", "tpg", "tpg_capacity"};
    for (int i = 0; i < 6; i++)
        ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(j, f[i])));
    ASSERT(cJSON_IsBool(cJSON_GetObjectItem(j, "feasible")));
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(j, "feasible")));
    double na = cJSON_GetObjectItem(j, "n_attn")->valuedouble;
    double ne = cJSON_GetObjectItem(j, "n_moe")->valuedouble;
    double batch = cJSON_GetObjectItem(j, "batch")->valuedouble;
    double tpot = cJSON_GetObjectItem(j, "tpot_ms")->valuedouble;
    double tpg = cJSON_GetObjectItem(j, "tpg")->valuedouble;
    ASSERT_NEAR(batch, 5000 * tpot / 1000, 1e-4 * batch);
    ASSERT_NEAR(tpg, 5000 / (na + ne), 1e-4 * tpg);
    ASSERT_LE(tpot, 100);
    ASSERT_LE(tpg, cJSON_GetObjectItem(j, "tpg_capacity")->valuedouble * (1 + 1e-5));
    cJSON *bl = cJSON_GetObjectItem(j, "baselines");
    ASSERT(cJSON_IsObject(bl));
    int n = 0, mono = 0;
    for (cJSON *b = bl->child; b; b = b->next, n++) {
        if (strstr(b->string, "mono")) mono = 1;
        const char *g[] = {"n_gpus", "batch", "tpot_ms", "tpg", "tpg_capacity"};
        for (int i = 0; i < 5; i++)
            ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(b, g[i])));
        ASSERT(cJSON_IsBool(cJSON_GetObjectItem(b, "feasible")));
        double gpus = cJSON_GetObjectItem(b, "n_gpus")->valuedouble;
        if (cJSON_IsTrue(cJSON_GetObjectItem(b, "feasible"))) {
            ASSERT_NEAR(cJSON_GetObjectItem(b, "tpg")->valuedouble, 5000 / gpus, 1e-3);
            double bb = cJSON_GetObjectItem(b, "batch")->valuedouble;
            ASSERT_NEAR(bb, 5000 * cJSON_GetObjectItem(b, "tpot_ms")->valuedouble / 1000,
                        1e-4 * bb);
        }
    }
    ASSERT_EQ(n, 3);
    ASSERT(mono);
    // One a_max per MoE layer (Mixtral: 32), averaging to the reported mean.
    cJSON *layers = cJSON_GetObjectItem(j, "amax_layers");
    ASSERT(cJSON_IsArray(layers));
    ASSERT_EQ(cJSON_GetArraySize(layers), 32);
    double sum = 0;
    for (cJSON *x = layers->child; x; x = x->next)
        sum += x->valuedouble;
    ASSERT_NEAR(sum / 32, cJSON_GetObjectItem(j, "amax_per_layer")->valuedouble, 0.05);
    // Janus's dispatch mode and fan-out (Mixtral: top-2, so 1 <= fan-out <= min(2, n_moe)).
    cJSON *dm = cJSON_GetObjectItem(j, "dispatch");
    ASSERT(cJSON_IsString(dm));
    ASSERT(!strcmp(dm->valuestring, "broadcast") || !strcmp(dm->valuestring, "selective"));
    double fan = cJSON_GetObjectItem(j, "fanout")->valuedouble;
    ASSERT(fan >= 1 && fan <= fmin(2, ne) + 1e-9);
    cJSON *rt = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tpot_breakdown_ms"), "routing");
    ASSERT(cJSON_IsNumber(rt));
    if (!strcmp(dm->valuestring, "broadcast")) ASSERT_EQ(rt->valuedouble, 0);
    cJSON_Delete(j);
}

// janus sweep --what dispatch: one table per shape, selective never moves more bytes than
// broadcast once the routing exchange is small, and the auto column names a mode; bad
// --shapes is a one-line error.
TEST(sweep_dispatch_table) {
    ASSERT_EQ(run("sweep --model mixtral-8x7b --hw a100 --max-gpus 16 --samples 2 --what dispatch "
                  "--batches 64,4096 --shapes 2+4,4+8",
                  g_out, sizeof g_out),
              0);
    const char *t = strstr(g_out, "## dispatch modes, 2+4 instances");
    ASSERT(t != NULL);
    ASSERT(strstr(g_out, "## dispatch modes, 4+8 instances") != NULL);
    int rows = 0;
    for (const char *l = t; (l = strchr(l, '\n')) != NULL;) {
        l++;
        double B, fan, bmb, smb;
        if (sscanf(l, "%lf %lf %lf %lf", &B, &fan, &bmb, &smb) == 4) {
            rows++;
            ASSERT(fan >= 1 && fan <= 2 + 1e-9);
            if (B >= 4096) ASSERT_LT(smb, bmb);
        }
    }
    ASSERT_EQ(rows, 4);
    ASSERT(strstr(g_out, "broadcast") != NULL);
    ASSERT_NE(run("sweep --model mixtral-8x7b --hw a100 --what dispatch --shapes 4x8", g_out,
                  sizeof g_out),
              0);
    ASSERT(strstr(g_out, "bad --shapes") != NULL);
}

TEST(plan_cli_errors) {
    ASSERT_NE(run("plan --model nosuch --hw h100 --slo-ms 100 --rate 5", g_out, sizeof g_out), 0);
    ASSERT(strstr(g_out, "janus plan: unknown model \"nosuch\"") != NULL);
    ASSERT_NE(run("plan --model deepseek-v2 --hw h100 --slo-ms 100", g_out, sizeof g_out), 0);
    ASSERT(strstr(g_out, "--rate is required") != NULL);
    ASSERT_NE(run("plan --model deepseek-v2 --hw h100 --slo-ms -3 --rate 5", g_out, sizeof g_out),
              0);
    ASSERT(strstr(g_out, "bad --slo-ms") != NULL);
    ASSERT_NE(
        run("simulate --model deepseek-v2 --hw h100 --slo-ms 100 --trace diurnal --interval 7x",
            g_out, sizeof g_out),
        0);
    ASSERT(strstr(g_out, "bad --interval") != NULL);
    ASSERT_EQ(run("plan --help", g_out, sizeof g_out), 0);
    ASSERT(strstr(g_out, "usage: janus plan") != NULL);
}

static int read_file(const char *path, char *out, size_t cap, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    *len = fread(out, 1, cap, f);
    fclose(f);
    return 0;
}

TEST(outputs_byte_identical_for_a_seed) {
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a", test_tmpdir());
    snprintf(b, sizeof b, "%s/b", test_tmpdir());
    char args[2000];
    const char *common = "--model mixtral-8x7b --hw a100 --max-gpus 16 --samples 2 --seed 5";
    snprintf(args, sizeof args,
             "sweep %s --slo-ms 100 --slos 50,100 --batches 64,256 --out %s --no-cache", common, a);
    if (system(NULL)) {
        char mk[1400];
        snprintf(mk, sizeof mk, "mkdir -p '%s' '%s'", a, b);
        ASSERT_EQ(system(mk), 0);
    }
    ASSERT_EQ(run(args, g_out, sizeof g_out), 0);
    // Then twice through the cache: the first of these builds and writes the tables, the
    // second (into b) reads them back. All three must give the same bytes.
    snprintf(args, sizeof args, "sweep %s --slo-ms 100 --slos 50,100 --batches 64,256 --out %s",
             common, b);
    ASSERT_EQ(run(args, g_out, sizeof g_out), 0);
    ASSERT(strstr(g_out, "built in") != NULL);
    ASSERT_EQ(run(args, g_out, sizeof g_out), 0);
    ASSERT(strstr(g_out, "loaded from cache") != NULL);
    ASSERT(strstr(g_out, "built in") == NULL);
    const char *files[] = {
        "mixtral-8x7b-a100-batch-slo100.csv",  "mixtral-8x7b-a100-tpg-vs-batch-slo100.svg",
        "mixtral-8x7b-a100-slo-sweep.csv",     "mixtral-8x7b-a100-slo-sweep.svg",
        "mixtral-8x7b-a100-amax-vs-batch.csv", "mixtral-8x7b-a100-amax-vs-batch.svg"};
    for (int i = 0; i < 6; i++) {
        char pa[800], pb[800];
        size_t la, lb;
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        if (read_file(pa, g_out, sizeof g_out, &la) || read_file(pb, g_out2, sizeof g_out2, &lb))
            TEST_FAIL_("missing %s", files[i]);
        ASSERT(la > 100);
        ASSERT_EQ(la, lb);
        ASSERT_MEM_EQ(g_out, g_out2, la);
    }
    snprintf(
        args, sizeof args,
        "simulate %s --slo-ms 100 --trace diurnal --hours 6 --interval 15m --mean-rate 3000 --json",
        common);
    ASSERT_EQ(run(args, g_out, sizeof g_out), 0);
    ASSERT_EQ(run(args, g_out2, sizeof g_out2), 0);
    ASSERT_STR_EQ(strchr(g_out, '{'), strchr(g_out2, '{'));
    ASSERT(strstr(g_out, "\"gpu_hours\"") && strstr(g_out, "\"slo_attainment\"") &&
           strstr(g_out, "\"reconfigurations\""));
}

TEST(plan_writes_a_valid_layout) {
    char args[1200], path[700];
    snprintf(path, sizeof path, "%s/layout.json", test_tmpdir());
    snprintf(args, sizeof args,
             "plan --model mixtral-8x7b --hw a100 --slo-ms 100 --rate 5000 --max-gpus 16 "
             "--samples 2 --json --layout-out %s",
             path);
    ASSERT_EQ(run(args, g_out, sizeof g_out), 0);
    cJSON *j = cJSON_Parse(strchr(g_out, '{'));
    ASSERT(j != NULL);
    int ne = cJSON_GetObjectItem(j, "n_moe")->valueint;
    int slots = cJSON_GetObjectItem(j, "slots")->valueint;
    cJSON_Delete(j);
    struct layout l;
    char err[256];
    ASSERT_OK(layout_load_json(&l, path, err, sizeof err));
    ASSERT_OK(layout_check(&l, err, sizeof err));
    ASSERT_EQ(l.n_instances, ne);
    ASSERT_EQ(l.n_slots, slots);
    ASSERT_EQ(l.n_layers, 32);
    ASSERT_EQ(l.n_experts, 8);
    ASSERT_EQ(layout_n_moe_layers(&l), 32);
    layout_free(&l);
}

TEST(plan_with_measured_statistics) {
    // Statistics of a skewed 8-expert routing trace, as `janus place --save-stats` writes.
    struct trace_gen_params g;
    trace_gen_default_params(&g);
    g.n_experts = 8;
    g.top_k = 2;
    g.n_layers = 32;
    g.n_steps = 20;
    g.batch = 32;
    g.zipf = 1.2;
    struct trace tr = {0};
    char err[256];
    ASSERT_OK(trace_generate(&tr, &g, err, sizeof err));
    struct stats st;
    ASSERT_OK(stats_init(&st, 32, 8, 1.0));
    for (int64_t b = 0; b < tr.n_blocks; b++)
        ASSERT_OK(stats_record_routing(&st, tr.blocks[b].layer, trace_block_ids(&tr, b),
                                       tr.blocks[b].n_tok, tr.top_k));
    char path[700], args[1500];
    snprintf(path, sizeof path, "%s/stats.json", test_tmpdir());
    ASSERT_OK(stats_save_json(&st, path));
    stats_free(&st);
    trace_free(&tr);
    const char *common = "plan --model mixtral-8x7b --hw a100 --slo-ms 100 --rate 5000 "
                         "--max-gpus 16 --samples 2 --json";
    snprintf(args, sizeof args, "%s --stats %s --layout-out %s/l2.json", common, path,
             test_tmpdir());
    ASSERT_EQ(run(args, g_out, sizeof g_out), 0);
    ASSERT(strstr(g_out, "\"feasible\"") != NULL);
    ASSERT_EQ(run(common, g_out2, sizeof g_out2), 0);
    ASSERT(strcmp(strchr(g_out, '{'), strchr(g_out2, '{')) != 0); // the statistics matter
    snprintf(args, sizeof args,
             "plan --model deepseek-v2 --hw h100 --slo-ms 100 --rate 5 --stats %s", path);
    ASSERT_NE(run(args, g_out, sizeof g_out), 0);
    ASSERT(strstr(g_out, "statistics have 8 experts but deepseek-v2 has 160") != NULL);
}

// The monolithic baseline's default slowdown is what docs/PLANNER.md 5.1's procedure gives:
// its roofline on one 8-GPU H800 node, DeepSeek-V2 with FP8 weights and 6-bit KV, context
// 620, no latency limit, against the paper's 50 000 tokens/s. Fails when the model or the
// catalogue changes and the calibration was not redone.
TEST(mono_calibration_reproduces_the_default) {
    const char *root = getenv("JANUS_ROOT");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/data", root ? root : ".");
    struct latency_coef c;
    latency_coef_default(&c);
    c.mono_slowdown = 1; // the roofline
    struct planner_options o;
    planner_default_options(&o);
    o.max_gpus = 8;
    o.systems = 1u << BASELINES_MONO;
    char err[512];
    int rc = planner_load(&g_pl, dir, "deepseek-v2-fp8kv6", NULL, "h800", &c, &o, err, sizeof err);
    if (rc) TEST_FAIL_("%s", err);
    struct search_params p = {1000.0, 1.0, 620, 8};
    struct search_point pt;
    ASSERT_OK(planner_best_capacity(&g_pl, BASELINES_MONO, &p, &pt));
    ASSERT(pt.feasible);
    ASSERT_EQ(pt.n_gpus, 8);
    double x = pt.batch_cap / pt.tpot_cap;
    ASSERT_NEAR(x / 50000.0, LATENCY_MONO_SLOWDOWN, 5e-4);
    planner_free(&g_pl);
}
