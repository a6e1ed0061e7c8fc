// The loaded model: hyper-parameters plus zero-copy views of every weight inside the
// read-only GGUF mmap (SPEC §9; fixtures README §3 tensor list). Every tensor is looked up
// by name and its shape and type are checked at load time; errors name the tensor and say
// what was expected and what was found. Stacked 3-D expert tensors are views whose expert
// e is one contiguous slab. Views stay valid until model_free.
// SPDX-License-Identifier: MIT
#ifndef JANUS_WEIGHTS_H
#define JANUS_WEIGHTS_H

#include "base/base.h"
#include "kernels/kernels.h"
#include "model/gguf.h"
#include "model/hparams.h"

#include <stddef.h>
#include <stdint.h>

// A 2-D weight matrix: n_out rows of n_in elements in one storage type, rows contiguous
// (ggml ne = {n_in, n_out}). Computes y = W·x via kern matmul (engine/linear.h).
struct wview {
    const void *data;     // (n_out, row_bytes) bytes inside the map; NULL = absent
    enum kern_wtype type; // storage type
    int64_t n_in;         // ne[0]: input width (block types: a multiple of the block size)
    int64_t n_out;        // ne[1]: output rows
    size_t row_bytes;     // bytes per row
};

// A stack of n_mat matrices (ggml ne = {n_in, n_out, n_mat}); matrix e at data + e·mat_bytes.
struct wview3 {
    struct wview mat; // shape and type of one matrix; mat.data = matrix 0
    int64_t n_mat;    // ne[2]
    size_t mat_bytes; // n_out · row_bytes
};

// Matrix e of a stack (no bounds check beyond JANUS_ASSERT).
struct wview wview3_mat(const struct wview3 *w, int64_t e);
// Rows [r0, r0+n) of w as their own view.
struct wview wview_rows(const struct wview *w, int64_t r0, int64_t n);
// Row r of w converted to F32 (n_in values) into out.
void wview_row_f32(const struct wview *w, int64_t r, float *out);

// One transformer block. Pointers are NULL / views have data == NULL where the
// architecture or the layer kind has no such tensor.
struct model_layer {
    int is_moe;             // router + routed experts (else dense FFN)
    const float *attn_norm; // (E)
    // llama / qwen2moe / qwen3moe attention
    struct wview wq;              // (H·hd_k, E)   deepseek2 without q_lora: (H·(nope+rope), E)
    struct wview wk, wv;          // (Hkv·hd, E)
    const float *bq, *bk, *bv;    // (H·hd), (Hkv·hd), (Hkv·hd)   qwen2moe
    const float *q_norm, *k_norm; // (hd)   qwen3moe per-head RMSNorm weights;
                                  // olmoe (H·hd), (Hkv·hd) over the whole projection
    // deepseek2 MLA
    struct wview wq_a;      // (q_lora, E)
    const float *q_a_norm;  // (q_lora)
    struct wview wq_b;      // (H·(nope+rope), q_lora)
    struct wview wkv_a_mqa; // (kv_lora+rope, E)
    const float *kv_a_norm; // (kv_lora)
    struct wview wkv_b;     // (H·(nope+v), kv_lora)   legacy files (data NULL when split)
    struct wview3 wk_b;     // H × (kv_lora, nope)   attn_k_b (hp.mla_split): head h's k-rows
                            // of kv_b transposed
    struct wview3 wv_b;     // H × (v, kv_lora)      attn_v_b (hp.mla_split): head h's v-rows
    struct wview wo;        // (E, H·hd_v)
    const float *ffn_norm;  // (E)
    // dense FFN (deepseek2 leading layers, dense llama)
    struct wview ffn_gate, ffn_up; // (n_ff, E)
    struct wview ffn_down;         // (E, n_ff)
    // MoE
    struct wview router;              // (n_expert, E)
    struct wview3 gate_exps, up_exps; // n_expert × (n_ff_exp, E)
    struct wview3 down_exps;          // n_expert × (E, n_ff_exp)
    const float *exp_probs_b;         // (n_expert) deepseek2 V3 selection bias, or NULL
    // shared expert(s)
    const float *gate_inp_shexp;       // (E) qwen2moe shared-expert gate
    struct wview gate_shexp, up_shexp; // (n_ff_shexp, E)
    struct wview down_shexp;           // (E, n_ff_shexp)
};

// A bound tensor and what it is (loading shares: model_load_share).
struct model_tensor {
    const struct gguf_tensor *t;
    int16_t kind;  // enum arch_tensor
    int16_t layer; // -1: not a layer's
};

struct model {
    struct gguf gguf; // owns the map
    struct hparams hp;
    struct wview token_embd;    // (V, E)
    const float *output_norm;   // (E)
    struct wview output;        // (V, E); == token_embd when tied
    int output_tied;            // output.weight absent
    struct model_layer *layers; // (n_layer)
    uint64_t n_bytes_weights;   // bytes of all tensors used
    struct model_tensor *bound; // (n_bound) every tensor bound, in binding order
    int64_t n_bound, bound_cap;
    struct fmap_opts io;     // memory mode the model was opened with (mode resolved)
    uint64_t n_bytes_loaded; // bytes made resident by model_load_share (header excluded)
};

// What one rank holds (issue 12 item 2). An attention rank: dense = 1 (every tensor that is
// neither a router nor a routed-expert slab: embeddings, attention, norms, dense FFNs,
// shared experts, output). A MoE rank: router = 1 (routers and selection biases) and the
// slabs of its layout's experts. Everything: a NULL share.
struct model_share {
    int dense;
    int router;
    const uint8_t *experts; // (n_layer · n_expert) row-major: 1 = expert e of layer l (its gate,
                            // up and down slabs); NULL: no routed expert
    int all_experts;        // 1: every routed expert (experts ignored)
};

// Opens path, reads hyper-parameters and binds every tensor. Strict: a tensor of the file
// that the binding does not use (a block beyond block_count, a name the architecture does
// not have, a tensor the keys leave unused) is refused too (docs/GGUF.md "What we refuse").
// On failure returns a negative status with a one-line reason in err (e.g. "tensor
// blk.0.attn_q.weight: expected shape {64, 64}, got {64, 32}" or "tensor token_embd.weight:
// unsupported type iq2_xxs (computable: f32, ...)"; type errors come after every name and shape
// passed), and leaves *m zeroed (nothing to free). Loads everything in the default memory mode, no
// progress line, no lock.
JANUS_WUR int model_load(struct model *m, const char *path, char *err, size_t err_len);
// Same in memory mode io (NULL: defaults): model_open + model_load_share(everything).
JANUS_WUR int model_load_ex(struct model *m, const char *path, const struct fmap_opts *io,
                            char *err, size_t err_len);
// The first half: opens path in memory mode io, reads the hyper-parameters and binds every
// tensor (all checks done), but loads no tensor bytes (read mode: they read as zeros until
// loaded). Errors as model_load.
JANUS_WUR int model_open(struct model *m, const char *path, const struct fmap_opts *io, char *err,
                         size_t err_len);
// The second half: makes the tensors of share sh resident (NULL: everything) — read mode
// reads exactly their byte ranges, mmap mode populates exactly their pages; with io.lock
// they are locked. May be called again with another share. On failure the model stays
// open (the caller frees it). Errors: fmap_load's (JANUS_EIO, JANUS_ELIMIT for --mlock).
JANUS_WUR int model_load_share(struct model *m, const struct model_share *sh, char *err,
                               size_t err_len);
// Live re-placement (issue 16 item 2), while another thread computes with the model: makes
// the routed-expert slabs of mask (n_layer · n_expert, as model_share.experts) resident
// without touching any other byte or page mapping (no trim: the slabs in use stay mapped).
// Paced for a background thread: batches of about 256 KiB, 1 ms of sleep between them.
// Errors as model_load_share. *bytes (may be NULL): the slab bytes loaded.
JANUS_WUR int model_load_experts(struct model *m, const uint8_t *mask, uint64_t *bytes, char *err,
                                 size_t err_len);
// Gives back the memory of the slabs of mask (whole pages inside each run of neighbouring
// slabs only, so a neighbour's bytes stay; read mode: they read as zeros again). Unlocks
// them first. Paced for a background thread: 1 ms of sleep after every 16 madvise calls.
void model_drop_experts(struct model *m, const uint8_t *mask);
// Bytes of share sh (tensor bytes; what model_load_share would load).
uint64_t model_share_bytes(const struct model *m, const struct model_share *sh);
// Same over a caller-owned buffer that must outlive the model.
JANUS_WUR int model_load_memory(struct model *m, const void *buf, size_t size, char *err,
                                size_t err_len);
void model_free(struct model *m);
// The name a server reports for the model: general.name if present and non-empty, else
// the base name of path. Always NUL-terminates out (truncating). Not fallible.
void model_display_name(const struct model *m, const char *path, char *out, size_t cap);

// ggml type → kernel weight type (enum kern_wtype); returns -1 when the engine cannot compute
// with it (docs/GGUF.md "Tensor types").
int weights_kern_type(uint32_t ggml_type);
// The inverse: the ggml type number of kernel weight type kt (0 <= kt < KERN_W_COUNT).
uint32_t weights_ggml_type(int kt);
// Writes "f32, f16, bf16, q8_0, q4_0, ..." (every computable type, in enum kern_wtype order;
// 256 bytes hold it) into buf and returns buf.
const char *weights_computable_list(char *buf, size_t cap);

#endif // JANUS_WEIGHTS_H
