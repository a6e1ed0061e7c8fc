// Architecture table and hyper-parameters (model/arch.h, model/hparams.h): names as
// llama.cpp writes them, features per architecture, and the values read from the fixtures.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "model/gguf_keys.h"
#include "model/weights.h"

TEST(arch_names_and_features) {
    char buf[96];
    ASSERT_STR_EQ(arch_tensor_name(buf, sizeof buf, ARCH_T_FFN_GATE_EXPS, 3),
                  "blk.3.ffn_gate_exps.weight");
    ASSERT_STR_EQ(arch_tensor_name(buf, sizeof buf, ARCH_T_EXP_PROBS_B, 12),
                  "blk.12.exp_probs_b.bias");
    ASSERT_STR_EQ(arch_tensor_name(buf, sizeof buf, ARCH_T_ATTN_KV_A_MQA, 0),
                  "blk.0.attn_kv_a_mqa.weight");
    ASSERT_STR_EQ(arch_tensor_name(buf, sizeof buf, ARCH_T_OUTPUT, 5), "output.weight");
    ASSERT_STR_EQ(arch_tensor_name(buf, sizeof buf, ARCH_T_ATTN_Q_NORM, 1),
                  "blk.1.attn_q_norm.weight");
    ASSERT_STR_EQ(arch_tensor_name(buf, sizeof buf, ARCH_T_FFN_GATE_INP_SHEXP, 2),
                  "blk.2.ffn_gate_inp_shexp.weight");
    const struct arch_info *a = arch_find("qwen3moe", 8);
    ASSERT(a && a->id == ARCH_QWEN3MOE && a->rope_neox && a->qk_norm && a->topk_norm_always);
    ASSERT(arch_find("qwen3", 5) == NULL);
    ASSERT(arch_find("deepseek2x", 10) == NULL);
    a = arch_find("deepseek2", 9);
    ASSERT(a && a->mla && !a->rope_neox && a->shared == ARCH_SHARED_PLAIN);
    ASSERT_STR_EQ(gguf_key(buf, sizeof buf, a->name, GGUF_KEY_EXPERT_GROUP_COUNT),
                  "deepseek2.expert_group_count");
    a = arch_find("qwen2moe", 8);
    ASSERT(a && a->qkv_bias && a->shared == ARCH_SHARED_SIGMOID && !a->topk_norm_always);
}

static void load(const char *name, struct model *m) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/models/%s.gguf", test_fixtures_dir(), name);
    int rc = model_load(m, path, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    JANUS_ASSERT(rc == JANUS_OK);
}

TEST(hparams_fixtures) {
    struct model m;
    load("llama-moe-q8_0", &m);
    ASSERT_EQ(m.hp.n_embd, 64);
    ASSERT_EQ(m.hp.n_head_kv, 2);
    ASSERT_EQ(m.hp.n_ff_exp, 128);
    ASSERT_EQ(m.hp.weights_norm, 1);
    ASSERT_EQ(m.layers[0].gate_exps.mat.type, KERN_W_Q8_0);
    ASSERT_EQ(m.layers[0].router.type, KERN_W_F32);
    ASSERT_EQ(m.output_tied, 0);
    model_free(&m);

    load("qwen2moe-f32", &m);
    ASSERT_EQ(m.hp.n_ff_exp, 64);
    ASSERT_EQ(m.hp.n_ff_shexp, 128);
    ASSERT_EQ(m.hp.weights_norm, 0);
    ASSERT_EQ(m.hp.rope_neox, 1);
    ASSERT(m.layers[1].bq && m.layers[1].gate_inp_shexp);
    model_free(&m);

    load("qwen3moe-f32", &m);
    ASSERT_EQ(m.hp.head_dim_k, 16);
    ASSERT_NEAR(m.hp.rope_base, 1e6, 1);
    ASSERT_NEAR(m.hp.rms_eps, 1e-6, 1e-12);
    ASSERT(m.layers[0].q_norm && m.layers[0].k_norm && !m.layers[0].gate_shexp.data);
    model_free(&m);

    load("deepseek2-v2g-f32", &m);
    ASSERT_EQ(m.hp.n_dense_lead, 1);
    ASSERT_EQ(m.layers[0].is_moe, 0);
    ASSERT_EQ(m.layers[1].is_moe, 1);
    ASSERT_EQ(m.hp.qk_nope, 16);
    ASSERT_EQ(m.hp.qk_rope, 8);
    ASSERT_EQ(m.hp.n_ff_shexp, 64);
    ASSERT_EQ(m.hp.gating, HPARAMS_GATING_SOFTMAX);
    ASSERT_NEAR(m.hp.weights_scale, 2.0, 0);
    ASSERT_EQ(m.hp.has_exp_probs_b, 0);
    ASSERT_EQ(m.hp.n_group, 4);
    model_free(&m);

    load("deepseek2-v3-f32", &m);
    ASSERT_EQ(m.hp.gating, HPARAMS_GATING_SIGMOID);
    ASSERT_EQ(m.hp.weights_norm, 1);
    ASSERT_EQ(m.hp.has_exp_probs_b, 1);
    ASSERT_EQ(m.hp.n_group, 0);
    ASSERT_EQ(m.hp.n_ff_shexp, 32);
    model_free(&m);
}
