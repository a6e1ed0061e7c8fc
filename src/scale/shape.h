// The inputs of the latency model (SPEC §7, §8): a model's shape (the published sizes of
// an MoE transformer) and a device's hardware profile, plus the sizes derived from a shape
// (parameter and byte counts per layer part, KV bytes per token, FLOPs per token). Pure.
// The catalogue loaders that fill these from data/ live in sim/models.h and sim/hw.h.
// SPDX-License-Identifier: MIT
#ifndef JANUS_SCALE_SHAPE_H
#define JANUS_SCALE_SHAPE_H

// Per-device numbers in SI units (FLOP/s, bytes/s, bytes, seconds).
struct hw_profile {
    char id[32]; // lower-case catalogue id: h100, h200, a100, b200, cpu-local
    char name[128];
    double peak_flops; // dense BF16 FLOP/s per device (no sparsity)
    double mem_bw;     // device memory bandwidth, bytes/s
    double mem_bytes;  // device memory capacity, bytes
    double intra_bw;   // bytes/s per device per direction inside a node
    double intra_lat;  // seconds per message inside a node
    double inter_bw;   // bytes/s per device per direction across nodes
    double inter_lat;  // seconds per message across nodes
    int devices_per_node;
    int leader_rails; // NICs a node's 2PC leader transfer can stripe over (1: one NIC, the
                      // single-leader funnel; devices_per_node: every rail of the node)
    char source[512];
};

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

// ---- derived sizes (parameters are counts; multiply by bytes_per_weight for bytes) ----
int shape_moe_layers(const struct models_shape *m);
double shape_attn_params(const struct models_shape *m);      // per layer: q/k/v/o (+ MLA LoRA)
double shape_expert_params(const struct models_shape *m);    // one routed expert: 3*d*ff
double shape_shared_params(const struct models_shape *m);    // all shared experts of one layer
double shape_dense_ffn_params(const struct models_shape *m); // one dense FFN layer
double shape_router_params(const struct models_shape *m);    // one gate: d*E
double shape_embed_params(const struct models_shape *m);     // embedding + output head
double shape_total_params(const struct models_shape *m);
double shape_routed_params(const struct models_shape *m); // all routed experts, all layers
// KV-cache bytes one token adds in one layer (MLA: latent + rope key; GQA: K and V).
double shape_kv_bytes_token_layer(const struct models_shape *m);
// Attention FLOPs of one decode token in one layer at context S: projections + scores.
double shape_attn_flops(const struct models_shape *m, double context);

#endif // JANUS_SCALE_SHAPE_H
