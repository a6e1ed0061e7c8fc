// Model shape catalogue (SPEC §8): the published shapes of DeepSeek-V2/V3, Qwen3-235B-A22B,
// Qwen3-30B-A3B, Mixtral-8x7B and the publication's Scaled-DS-1/2, loaded from
// data/models/<id>.json and validated, plus the derived sizes the latency model needs
// (parameter and byte counts per layer part, KV bytes per token, FLOPs per token).
// Pure functions of the shape except the loaders.
// SPDX-License-Identifier: MIT
#ifndef JANUS_SIM_MODELS_H
#define JANUS_SIM_MODELS_H

#include "base/base.h"

#include <stddef.h>

enum models_attn { MODELS_ATTN_GQA = 0, MODELS_ATTN_MLA = 1 };

struct models_shape {
    char id[32];
    char name[128];
    char source[768];
    int n_layers;       // transformer blocks
    int n_dense_layers; // leading blocks with a dense FFN instead of MoE
    int d_model;        // hidden size
    int vocab;
    int tied_embeddings; // output head shares the embedding matrix
    enum models_attn attn;
    int n_heads, n_kv_heads, head_dim; // GQA (n_heads also used by MLA)
    int q_lora_rank, kv_lora_rank, qk_rope_dim, qk_nope_dim, v_head_dim; // MLA only
    int n_experts; // routed experts per MoE layer
    int top_k;
    int n_shared;  // shared experts (each of width expert_ff)
    int expert_ff; // routed expert intermediate size
    int dense_ff;  // dense FFN intermediate size of the leading dense layers
    double bytes_per_weight;
    double kv_bytes_per_elem;
};

JANUS_WUR int models_parse(const void *cjson_obj, const char *path, struct models_shape *out,
                           char *err, size_t err_len);
JANUS_WUR int models_load_file(const char *path, struct models_shape *out, char *err,
                               size_t err_len);
// Loads <data_dir>/models/<id>.json; unknown id -> JANUS_ENOTFOUND naming the known ones.
JANUS_WUR int models_load(const char *data_dir, const char *id, struct models_shape *out, char *err,
                          size_t err_len);

// ---- derived sizes (parameters are counts; multiply by bytes_per_weight for bytes) ----
int models_moe_layers(const struct models_shape *m);
double models_attn_params(const struct models_shape *m);      // per layer: q/k/v/o (+ MLA LoRA)
double models_expert_params(const struct models_shape *m);    // one routed expert: 3*d*ff
double models_shared_params(const struct models_shape *m);    // all shared experts of one layer
double models_dense_ffn_params(const struct models_shape *m); // one dense FFN layer
double models_router_params(const struct models_shape *m);    // one gate: d*E
double models_embed_params(const struct models_shape *m);     // embedding + output head
double models_total_params(const struct models_shape *m);
double models_routed_params(const struct models_shape *m); // all routed experts, all layers
// KV-cache bytes one token adds in one layer (MLA: latent + rope key; GQA: K and V).
double models_kv_bytes_token_layer(const struct models_shape *m);
// Attention FLOPs of one decode token in one layer at context S: projections + scores.
double models_attn_flops(const struct models_shape *m, double context);

#endif // JANUS_SIM_MODELS_H
