// Tests for the catalogues (sim/models, sim/hw): every shipped model and hardware file
// loads and validates; derived sizes match the published totals; validation errors name
// the file and the field.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "sim/catalog.h"
#include "sim/hw.h"
#include "sim/models.h"

#include <stdlib.h>

static const char *data_dir(void) {
    static char d[4096];
    const char *root = getenv("JANUS_ROOT");
    snprintf(d, sizeof d, "%s/data", root ? root : ".");
    return d;
}

TEST(models_load_and_published_totals) {
    static const struct {
        const char *id;
        double total_b, lo_moe, hi_moe; // total parameters (billions), MoE share range
    } want[] = {
        {"deepseek-v2", 236, 0.89, 0.97},
        {"deepseek-v3", 671, 0.89, 0.98},
        {"qwen3-235b-a22b", 235, 0.89, 0.97},
        {"qwen3-30b-a3b", 30.5, 0.80, 0.97},
        {"mixtral-8x7b", 46.7, 0.80, 0.97},
        {"scaled-ds-1", 0, 0.5, 1},
        {"scaled-ds-2", 0, 0.5, 1},
        {"janus-moe-kjv", 0.01456, 0.75, 0.87}, // train.py prints "params 14.56 M"
    };
    char err[512];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct models_shape m;
        int rc = models_load(data_dir(), want[i].id, &m, err, sizeof err);
        if (rc) TEST_FAIL_("%s: %s", want[i].id, err);
        double tot = shape_total_params(&m) / 1e9, moe = shape_routed_params(&m) / 1e9 / tot;
        fprintf(stderr, "%-16s %7.1f B params, routed experts %.1f %%\n", m.id, tot, moe * 100);
        if (want[i].total_b > 0) ASSERT_NEAR(tot, want[i].total_b, 0.03 * want[i].total_b);
        ASSERT(moe >= want[i].lo_moe && moe <= want[i].hi_moe);
    }
    struct models_shape m;
    ASSERT_OK(models_load(data_dir(), "deepseek-v2", &m, err, sizeof err));
    ASSERT_NEAR(shape_kv_bytes_token_layer(&m), (512 + 64) * 2, 0); // MLA latent + rope key
    ASSERT_EQ(shape_moe_layers(&m), 59);
    ASSERT_OK(models_load(data_dir(), "qwen3-235b-a22b", &m, err, sizeof err));
    ASSERT_NEAR(shape_kv_bytes_token_layer(&m), 2 * 4 * 128 * 2, 0);
    ASSERT_EQ(models_load(data_dir(), "gpt-5", &m, err, sizeof err), JANUS_ENOTFOUND);
    ASSERT(strstr(err, "unknown model") && strstr(err, "deepseek-v2"));
    ASSERT_EQ(models_load(data_dir(), "../etc", &m, err, sizeof err), JANUS_ENOTFOUND);
}

TEST(hw_load) {
    const char *ids[] = {"h100", "h200", "a100", "b200"};
    char err[512];
    for (int i = 0; i < 4; i++) {
        struct hw_profile h;
        int rc = hw_load(data_dir(), ids[i], &h, err, sizeof err);
        if (rc) TEST_FAIL_("%s: %s", ids[i], err);
        ASSERT(h.peak_flops > 1e14 && h.mem_bw > 1e12 && h.mem_bytes >= 80e9);
        ASSERT(h.devices_per_node == 8);
        ASSERT(h.intra_bw > h.inter_bw);
    }
    struct hw_profile h;
    ASSERT_OK(hw_load(data_dir(), "h100", &h, err, sizeof err));
    ASSERT_NEAR(h.peak_flops, 989.4e12, 1e9);
    ASSERT_NEAR(h.mem_bw, 3.35e12, 1e6);
    // The publication's testbed: one 400 Gb/s NIC per GPU, 2PC over all of a node's rails.
    ASSERT_EQ(h.leader_rails, 8);
    ASSERT_NEAR(h.inter_bw, 50e9, 1e3);
    ASSERT_OK(hw_load(data_dir(), "h200", &h, err, sizeof err));
    ASSERT_EQ(h.leader_rails, 8);
    ASSERT_OK(hw_load(data_dir(), "a100", &h, err, sizeof err));
    ASSERT_EQ(h.leader_rails, 1); // absent: the single-leader funnel
    // The calibration entries (docs/PLANNER.md 5.1): H800's NVLink, FP8 weights, 6-bit KV.
    ASSERT_OK(hw_load(data_dir(), "h800", &h, err, sizeof err));
    ASSERT_NEAR(h.intra_bw, 200e9, 1e3);
    struct models_shape m8, m2;
    ASSERT_OK(models_load(data_dir(), "deepseek-v2-fp8kv6", &m8, err, sizeof err));
    ASSERT_OK(models_load(data_dir(), "deepseek-v2", &m2, err, sizeof err));
    ASSERT_NEAR(m8.bytes_per_weight, 1, 0);
    ASSERT_NEAR(shape_kv_bytes_token_layer(&m8), shape_kv_bytes_token_layer(&m2) * 0.375, 1e-9);
    ASSERT_NEAR(shape_total_params(&m8), shape_total_params(&m2), 0);
    ASSERT_EQ(hw_load(data_dir(), "tpu", &h, err, sizeof err), JANUS_ENOTFOUND);
    ASSERT(strstr(err, "h100") != NULL);
}

static int parse_model_text(const char *text, char *err, size_t err_len) {
    char path[700];
    snprintf(path, sizeof path, "%s/m.json", test_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) return -100;
    fputs(text, f);
    fclose(f);
    struct models_shape m;
    return models_load_file(path, &m, err, err_len);
}

#define MODEL_BASE                                                                                 \
    "\"id\": \"x\", \"name\": \"x\", \"source\": \"s\", \"layers\": 4, \"dense_layers\": 0, "      \
    "\"hidden\": 64, \"vocab\": 100, \"attention\": \"gqa\", \"heads\": 4, \"kv_heads\": 2, "      \
    "\"head_dim\": 16, \"shared_experts\": 0, \"expert_ff\": 32, \"dense_ff\": 0, "                \
    "\"bytes_per_weight\": 2, \"kv_bytes_per_elem\": 2"

TEST(catalogue_validation_errors) {
    char err[512];
    ASSERT_OK(parse_model_text("{" MODEL_BASE ", \"experts\": 8, \"top_k\": 2}", err, sizeof err));
    struct {
        const char *text, *want;
    } cases[] = {
        {"{" MODEL_BASE ", \"experts\": 8}", "missing field \"top_k\""},
        {"{" MODEL_BASE ", \"experts\": 8, \"top_k\": 9}", "top_k (9) exceeds experts (8)"},
        {"{" MODEL_BASE ", \"experts\": 8.5, \"top_k\": 2}", "\"experts\" must be an integer"},
        {"{" MODEL_BASE ", \"experts\": \"8\", \"top_k\": 2}", "\"experts\" must be a number"},
        {"{" MODEL_BASE ", \"experts\": 100000, \"top_k\": 2}", "out of range"},
        {"[1, 2]", "not a JSON object"},
        {"{\"id\": \"X Y\"}", "must be lower-case"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        ASSERT_EQ(parse_model_text(cases[i].text, err, sizeof err), JANUS_EFORMAT);
        if (!strstr(err, cases[i].want))
            TEST_FAIL_("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
        ASSERT(strstr(err, "m.json") != NULL); // names the file
    }
    // Hardware: a negative bandwidth names the field.
    char path[700];
    snprintf(path, sizeof path, "%s/h.json", test_tmpdir());
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs("{\"id\": \"h\", \"name\": \"h\", \"source\": \"s\", \"peak_tflops\": 1, \"mem_bw_gbs\": "
          "-5, \"mem_gb\": 1, \"intra_bw_gbs\": 1, \"intra_lat_us\": 1, \"inter_bw_gbs\": 1, "
          "\"inter_lat_us\": 1, \"devices_per_node\": 1}",
          f);
    fclose(f);
    struct hw_profile h;
    ASSERT_EQ(hw_load_file(path, &h, err, sizeof err), JANUS_EFORMAT);
    ASSERT(strstr(err, "mem_bw_gbs") != NULL);
    // leader_rails above devices_per_node, or not an integer, names the field.
    const char *bad[] = {"\"leader_rails\": 9", "\"leader_rails\": 1.5", "\"leader_rails\": 0"};
    for (int i = 0; i < 3; i++) {
        f = fopen(path, "w");
        ASSERT(f != NULL);
        fprintf(f,
                "{\"id\": \"h\", \"name\": \"h\", \"source\": \"s\", \"peak_tflops\": 1, "
                "\"mem_bw_gbs\": 5, \"mem_gb\": 1, \"intra_bw_gbs\": 1, \"intra_lat_us\": 1, "
                "\"inter_bw_gbs\": 1, \"inter_lat_us\": 1, \"devices_per_node\": 8, %s}",
                bad[i]);
        fclose(f);
        err[0] = 0;
        ASSERT_EQ(hw_load_file(path, &h, err, sizeof err), JANUS_EFORMAT);
        if (!strstr(err, "leader_rails")) TEST_FAIL_("case %d: \"%s\"", i, err);
    }
}

TEST(hw_write_round_trip) {
    char err[512], path[700];
    struct hw_profile h, g;
    ASSERT_OK(hw_load(data_dir(), "b200", &h, err, sizeof err));
    snprintf(h.id, sizeof h.id, "copy");
    snprintf(path, sizeof path, "%s/copy.json", test_tmpdir());
    ASSERT_OK(hw_write_json(&h, path));
    ASSERT_OK(hw_load_file(path, &g, err, sizeof err));
    ASSERT_NEAR(g.peak_flops, h.peak_flops, 1e-6 * h.peak_flops);
    ASSERT_NEAR(g.inter_lat, h.inter_lat, 1e-12);
    ASSERT_EQ(g.devices_per_node, h.devices_per_node);
    ASSERT_EQ(g.leader_rails, h.leader_rails);
    h.leader_rails = 4;
    ASSERT_OK(hw_write_json(&h, path));
    ASSERT_OK(hw_load_file(path, &g, err, sizeof err));
    ASSERT_EQ(g.leader_rails, 4);
}
