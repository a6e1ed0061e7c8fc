// Model shape catalogue (SPEC §8): the published shapes of DeepSeek-V2/V3, Qwen3-235B-A22B,
// Qwen3-30B-A3B, Mixtral-8x7B and the publication's Scaled-DS-1/2, loaded from
// data/models/<id>.json and validated into struct models_shape (scale/shape.h, which also
// holds the sizes derived from a shape).
// SPDX-License-Identifier: MIT
#ifndef JANUS_SIM_MODELS_H
#define JANUS_SIM_MODELS_H

#include "base/base.h"
#include "scale/shape.h"

#include <stddef.h>

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
