// Sizes derived from a model shape (shape.h, SPEC §8): parameters, KV bytes, FLOPs.
// SPDX-License-Identifier: MIT
#include "scale/shape.h"

int shape_moe_layers(const struct models_shape *m) { return m->n_layers - m->n_dense_layers; }

double shape_attn_params(const struct models_shape *m) {
    double d = m->d_model, h = m->n_heads;
    if (m->attn == MODELS_ATTN_GQA) {
        double hd = m->head_dim;
        return d * h * hd + 2 * d * m->n_kv_heads * hd + h * hd * d;
    }
    double qk = m->qk_nope_dim + m->qk_rope_dim;
    double q =
        m->q_lora_rank > 0 ? d * m->q_lora_rank + (double)m->q_lora_rank * h * qk : d * h * qk;
    double kv = d * (m->kv_lora_rank + m->qk_rope_dim) +
                (double)m->kv_lora_rank * h * (m->qk_nope_dim + m->v_head_dim);
    double o = h * m->v_head_dim * d;
    return q + kv + o;
}

double shape_expert_params(const struct models_shape *m) { return 3.0 * m->d_model * m->expert_ff; }
double shape_shared_params(const struct models_shape *m) {
    return m->n_shared * shape_expert_params(m);
}
double shape_dense_ffn_params(const struct models_shape *m) {
    return 3.0 * m->d_model * m->dense_ff;
}
double shape_router_params(const struct models_shape *m) {
    return (double)m->d_model * m->n_experts;
}
double shape_embed_params(const struct models_shape *m) {
    return (double)m->vocab * m->d_model * (m->tied_embeddings ? 1 : 2);
}
double shape_routed_params(const struct models_shape *m) {
    return shape_moe_layers(m) * m->n_experts * shape_expert_params(m);
}
double shape_total_params(const struct models_shape *m) {
    int moe = shape_moe_layers(m);
    return m->n_layers * shape_attn_params(m) + m->n_dense_layers * shape_dense_ffn_params(m) +
           moe * (shape_shared_params(m) + shape_router_params(m)) + shape_routed_params(m) +
           shape_embed_params(m);
}

double shape_kv_bytes_token_layer(const struct models_shape *m) {
    if (m->attn == MODELS_ATTN_MLA)
        return (double)(m->kv_lora_rank + m->qk_rope_dim) * m->kv_bytes_per_elem;
    return 2.0 * m->n_kv_heads * m->head_dim * m->kv_bytes_per_elem;
}

double shape_attn_flops(const struct models_shape *m, double context) {
    double proj = 2.0 * shape_attn_params(m);
    double score;
    if (m->attn == MODELS_ATTN_MLA) // absorbed decode: QK over latent+rope, AV over latent
        score = 2.0 * m->n_heads * context * (2.0 * m->kv_lora_rank + m->qk_rope_dim);
    else
        score = 4.0 * m->n_heads * context * m->head_dim;
    return proj + score;
}
