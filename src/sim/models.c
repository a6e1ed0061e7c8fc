// Model shape catalogue loader (models.h, SPEC §8).
// Shapes are validated on load; errors name the file and the field.
// SPDX-License-Identifier: MIT
#include "sim/models.h"

#include "base/limits.h"
#include "base/status.h"
#include "base/json_field.h"
#include "sim/catalog.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#define GET_INT(key, lo, hi, field)                                                                \
    do {                                                                                           \
        double v_;                                                                                 \
        int rc_ = json_field_num(obj, path, key, lo, hi, 1, 1, &v_, err, err_len);                 \
        if (rc_) return rc_;                                                                       \
        field = (int)v_;                                                                           \
    } while (0)

int models_parse(const void *obj_, const char *path, struct models_shape *out, char *err,
                 size_t err_len) {
    const cJSON *obj = obj_;
    struct models_shape m = {0};
    int rc;
    char attn[16];
    if ((rc = json_field_str(obj, path, "id", m.id, sizeof m.id, err, err_len))) return rc;
    if (!catalog_valid_id(m.id))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: id \"%s\" must be lower-case [a-z0-9-_], 1-31 chars", path, m.id);
    if ((rc = json_field_str(obj, path, "name", m.name, sizeof m.name, err, err_len))) return rc;
    if ((rc = json_field_str(obj, path, "source", m.source, sizeof m.source, err, err_len)))
        return rc;
    GET_INT("layers", 1, LIMIT_MAX_LAYERS, m.n_layers);
    GET_INT("dense_layers", 0, LIMIT_MAX_LAYERS, m.n_dense_layers);
    GET_INT("hidden", 1, 1 << 20, m.d_model);
    GET_INT("vocab", 1, LIMIT_MAX_VOCAB, m.vocab);
    const cJSON *tied = cJSON_GetObjectItemCaseSensitive(obj, "tied_embeddings");
    if (tied && !cJSON_IsBool(tied))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: field \"tied_embeddings\" must be true or false", path);
    m.tied_embeddings = tied && cJSON_IsTrue(tied);
    if ((rc = json_field_str(obj, path, "attention", attn, sizeof attn, err, err_len))) return rc;
    if (!strcmp(attn, "gqa"))
        m.attn = MODELS_ATTN_GQA;
    else if (!strcmp(attn, "mla"))
        m.attn = MODELS_ATTN_MLA;
    else
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: field \"attention\" must be \"gqa\" or \"mla\" (got \"%s\")", path,
                           attn);
    GET_INT("heads", 1, 4096, m.n_heads);
    GET_INT("kv_heads", 1, 4096, m.n_kv_heads);
    GET_INT("head_dim", 1, 4096, m.head_dim);
    if (m.attn == MODELS_ATTN_MLA) {
        GET_INT("q_lora_rank", 0, 1 << 16, m.q_lora_rank);
        GET_INT("kv_lora_rank", 1, 1 << 16, m.kv_lora_rank);
        GET_INT("qk_rope_dim", 0, 4096, m.qk_rope_dim);
        GET_INT("qk_nope_dim", 1, 4096, m.qk_nope_dim);
        GET_INT("v_head_dim", 1, 4096, m.v_head_dim);
    } else if (m.n_heads % m.n_kv_heads)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: heads (%d) must be a multiple of kv_heads (%d)", path, m.n_heads,
                           m.n_kv_heads);
    GET_INT("experts", 1, LIMIT_MAX_EXPERTS, m.n_experts);
    GET_INT("top_k", 1, LIMIT_MAX_EXPERT_USED, m.top_k);
    GET_INT("shared_experts", 0, 64, m.n_shared);
    GET_INT("expert_ff", 1, 1 << 20, m.expert_ff);
    GET_INT("dense_ff", 0, 1 << 20, m.dense_ff);
    double v;
    if ((rc = json_field_num(obj, path, "bytes_per_weight", 0.25, 8, 0, 1, &v, err, err_len)))
        return rc;
    m.bytes_per_weight = v;
    if ((rc = json_field_num(obj, path, "kv_bytes_per_elem", 0.25, 8, 0, 1, &v, err, err_len)))
        return rc;
    m.kv_bytes_per_elem = v;
    if (m.top_k > m.n_experts)
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: top_k (%d) exceeds experts (%d)", path,
                           m.top_k, m.n_experts);
    if (m.n_dense_layers >= m.n_layers)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: dense_layers (%d) must be below layers (%d)", path,
                           m.n_dense_layers, m.n_layers);
    if (m.n_dense_layers > 0 && m.dense_ff == 0)
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: dense_layers > 0 needs dense_ff > 0",
                           path);
    *out = m;
    return JANUS_OK;
}

int models_load_file(const char *path, struct models_shape *out, char *err, size_t err_len) {
    cJSON *j;
    int rc = catalog_read_json(path, &j, err, err_len);
    if (rc) return rc;
    rc = models_parse(j, path, out, err, err_len);
    cJSON_Delete(j);
    return rc;
}

static const char *const known_models =
    "deepseek-v2, deepseek-v3, qwen3-235b-a22b, qwen3-30b-a3b, mixtral-8x7b, scaled-ds-1, "
    "scaled-ds-2";

int models_load(const char *data_dir, const char *id, struct models_shape *out, char *err,
                size_t err_len) {
    if (!catalog_valid_id(id))
        return status_errf(err, err_len, JANUS_ENOTFOUND, "unknown model \"%s\" (known: %s)", id,
                           known_models);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/models/%s.json", data_dir, id) >= (int)sizeof path)
        return status_errf(err, err_len, JANUS_ELIMIT, "data directory path too long");
    int rc = models_load_file(path, out, err, err_len);
    if (rc == JANUS_ENOTFOUND)
        status_errf(err, err_len, rc, "unknown model \"%s\" (known: %s)", id, known_models);
    else if (rc == JANUS_OK && strcmp(out->id, id))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: id \"%s\" does not match the file name", path, out->id);
    return rc;
}
