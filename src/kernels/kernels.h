// The kernel API: pure compute (no malloc, no I/O, no logging); outputs first, then inputs,
// then sizes. ref.c holds the scalar reference implementations (the specification);
// avx2.c holds AVX2/FMA versions with the same signatures, avx512.c AVX-512 matrix
// products; dispatch.c picks one table at init from cpuid (JANUS_KERNELS=ref|avx2|avx512).
// Threading is the caller's: matmul computes only output rows [r0, r1), so a pool splits rows
// across workers and the value of every output element is independent of the thread count (SPEC §3:
// the gate must be bit-identical on every MoE instance). SPDX-License-Identifier: MIT
#ifndef JANUS_KERNELS_H
#define JANUS_KERNELS_H

#include <stdint.h>

// Weight storage types the kernels compute with (index into kern_ops.matmul). The block
// layouts of Q8_0 and of the types after it are ggml's (kernels/types.h, kernels/quant.h).
enum kern_wtype {
    KERN_W_F32 = 0,
    KERN_W_F16,
    KERN_W_BF16,
    KERN_W_Q8_0,
    KERN_W_Q4_0,
    KERN_W_Q4_1,
    KERN_W_Q5_0,
    KERN_W_Q5_1,
    KERN_W_Q2_K,
    KERN_W_Q3_K,
    KERN_W_Q4_K,
    KERN_W_Q5_K,
    KERN_W_Q6_K,
    KERN_W_IQ4_NL,
    KERN_W_IQ4_XS,
    KERN_W_COUNT
};

// y (n_tok rows of n_out) = x (n_tok rows of n_in) · Wᵀ, where W is n_out rows of n_in
// elements stored in the weight type (block types: n_in a multiple of the block size, rows
// of whole blocks). Writes y[t*ldy + r] for r in [r0, r1) and every t < n_tok. ldy >= n_out.
// The exact path: F32 activations, each weight decoded exactly (quant_dequantize_row's value).
typedef void (*kern_matmul_fn)(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                               int64_t n_tok, int64_t r0, int64_t r1);
// The integer path (issue 13 item 2): the same product with the activations already
// quantised per block of 32 (xq: n_tok rows of n_in/32 struct block_q8_act, quant.h), integer
// dot products inside each block and F32 across blocks. Block-quantized types only.
struct block_q8_act;
typedef void (*kern_matmul_q8_fn)(float *y, int64_t ldy, const void *w,
                                  const struct block_q8_act *xq, int64_t n_in, int64_t n_tok,
                                  int64_t r0, int64_t r1);

// KV cache storage types (issue 12 item 3). A cached vector of n values (one head's key or
// value; MLA: the whole latent row) is stored as n F32, n F16, or ceil(n/32) Q8_0 blocks in
// ggml's layout (value i = fp16_to_fp32(b[i/32].d) * b[i/32].qs[i%32]; a last partial block
// holds n%32 values quantised as in ggml, its remaining qs zero). The attention kernels read
// the stored values widened exactly to F32: attention over an F16/Q8_0 cache is F32
// attention over the dequantised vectors.
enum kern_kvtype { KERN_KV_F32 = 0, KERN_KV_F16 = 1, KERN_KV_Q8_0 = 2, KERN_KV_COUNT };

// Bytes of one stored vector of n values.
static inline int64_t kern_kv_bytes(int type, int64_t n) {
    if (type == KERN_KV_F16) return n * 2;
    if (type == KERN_KV_Q8_0) return (n + 31) / 32 * 34;
    return n * 4;
}
// Stores n F32 values x as one vector of the type (F16 rounds to nearest even; Q8_0 quantises
// per block as q8_0_quantize_row), and back (exact). Scalar; shared by every table.
void kern_kv_store(int type, void *dst, const float *x, int64_t n);
void kern_kv_load(int type, float *y, const void *src, int64_t n);
// "f32", "f16", "q8_0"; NULL for an unknown type. kern_kvtype_parse: the type, or -1.
const char *kern_kvtype_name(int type);
int kern_kvtype_parse(const char *name);

// A paged KV cache seen from one attention head (the layout of engine/kvcache.h): position
// j's key is the stored vector (of d_k values) at byte k + (pages[j / page_size]·page_size +
// j % page_size)·k_row, its value the vector of d_v values at the same place in v with v_row.
// Offset k and v by the head (in bytes).
struct kern_kv {
    const void *k, *v;    // layer base of the key / value page pools (+ head offset)
    const int32_t *pages; // (ceil(n_kv / page_size)) page ids of the sequence, in order
    int64_t page_size;    // positions per page
    int64_t k_row, v_row; // bytes between consecutive positions of a page
    int type;             // enum kern_kvtype of keys and values
};

static inline const void *kern_kv_k(const struct kern_kv *kv, int64_t j) {
    return (const char *)kv->k +
           ((int64_t)kv->pages[j / kv->page_size] * kv->page_size + j % kv->page_size) * kv->k_row;
}
static inline const void *kern_kv_v(const struct kern_kv *kv, int64_t j) {
    return (const char *)kv->v +
           ((int64_t)kv->pages[j / kv->page_size] * kv->page_size + j % kv->page_size) * kv->v_row;
}

struct kern_ops {
    const char *name; // "ref", "avx2" or "avx512"
    kern_matmul_fn matmul[KERN_W_COUNT];
    // Integer path: NULL for F32/F16/BF16 (always exact). quantize_act gives quant_act_row's
    // bits (n % 32 == 0).
    kern_matmul_q8_fn matmul_q8[KERN_W_COUNT];
    void (*quantize_act)(struct block_q8_act *y, const float *x, int64_t n);
    // y = x / sqrt(mean(x²) + eps) ⊙ w   (y may alias x)
    void (*rmsnorm)(float *y, const float *x, const float *w, int64_t n, float eps);
    // in-place softmax over n values (max-subtracted)
    void (*softmax)(float *x, int64_t n);
    // y = silu(g) ⊙ u   (y may alias g or u)
    void (*swiglu)(float *y, const float *g, const float *u, int64_t n);
    float (*dot)(const float *a, const float *b, int64_t n);
    // y += a·x
    void (*axpy)(float *y, float a, const float *x, int64_t n);
    // Attention of one query head over n_kv >= 1 cached positions (grouped-query: call once
    // per query head with its KV head's offsets): s_j = scale·(q·k_j), p = softmax(s),
    // out (d_v) = Σ_j p_j·v_j. scores: scratch of n_kv floats (holds p on return).
    // Latent (MLA, absorbed): q = [q_lat | q_pe], keys = the cached [c_kv | k_pe] rows
    // (d_k = kv_lora + rope), values = the same rows' c_kv (v = k, d_v = kv_lora).
    // Every kv->type: k_j, v_j are the stored vectors widened exactly (kern_kv_load).
    void (*attn)(float *out, float *scores, const float *q, const struct kern_kv *kv, int64_t n_kv,
                 int64_t d_k, int64_t d_v, float scale);
    // RoPE with kern_rope's contract (below), the angles from a kern_rope_angles table
    // (computed once per position, reused by every layer and head). The reference gives
    // kern_rope's bits; the AVX2 version rotates 8 lanes at a time.
    void (*rope_apply)(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot, const float *cs,
                       const float *sn, int neox);
};

const struct kern_ops *kern_ref(void);
const struct kern_ops *kern_avx2(void); // NULL when built with JANUS_NO_AVX2
// avx512.c's matrix products (NULL when built with JANUS_NO_AVX2 / JANUS_NO_AVX512); the
// table that uses them comes from kern_by_name("avx512") once cpuid says it may run.
const kern_matmul_fn *kern_avx512_matmul(void);
// The best table for this CPU (avx512 if cpuid has AVX-512 F/BW/VL, else avx2 if it has
// AVX2+FMA+F16C, else ref), unless the environment variable JANUS_KERNELS names another
// available one. Cached after the first call.
const struct kern_ops *kern_best(void);
// The table called name ("ref", "avx2", "avx512"); NULL if unknown, compiled out or not
// supported by this CPU.
const struct kern_ops *kern_by_name(const char *name);
// Tables are ordered ref (0) < avx2 (1) < avx512 (2): kern_level(k) is k's place, and
// kern_at_most(l) the best available table at level <= l. Processes that must compute
// bit-identical results (the MPI ranks: SPEC §3) agree on the minimum level and use that.
int kern_level(const struct kern_ops *k);
const struct kern_ops *kern_at_most(int level);

// RoPE on n_head heads of head_dim values each (head h at x + h*head_dim), rotating the
// first n_rot dims. NORM pairs (2i, 2i+1); NEOX pairs (i, i + n_rot/2).
// θ_i = pos · base^(−2i/n_rot). Scalar: the specification rope_apply is tested against.
void kern_rope(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos, float base,
               int neox);
// The angles kern_rope uses at position pos, (float) cos and sin of θ_i, laid out for
// rope_apply: NEOX cs[i], sn[i] for i < n_rot/2; NORM once per lane of each pair,
// cs[2i] = cs[2i+1] (n_rot values). Scalar; shared by every table.
void kern_rope_angles(float *cs, float *sn, int64_t n_rot, int64_t pos, float base, int neox);

// RoPE frequency scaling as ggml's rope_yarn computes it (issue 12 item 6): pair i's angle
// θ_e = pos · base^(−2i/n_rot) becomes θ = θ_i·(1 − r_i) + θ_e·r_i with θ_i = freq_scale·θ_e
// and r_i = ext_factor · (1 − clamp((i − corr_lo) / max(0.001, corr_hi − corr_lo), 0, 1)),
// and cos/sin are multiplied by mscale. Linear scaling: ext_factor 0. The identity
// (freq_scale 1, ext_factor 0, mscale 1) gives exactly kern_rope's bits.
struct kern_rope_scaling {
    double freq_scale; // 1 / rope.scaling.factor (1: none)
    double ext_factor; // YaRN extrapolation mix (0: none)
    double corr_lo;    // YaRN ramp start and end (pair indices, ggml_rope_yarn_corr_dims)
    double corr_hi;
    double mscale; // magnitude applied to cos and sin
};
// The identity scaling (no scaling).
struct kern_rope_scaling kern_rope_scaling_none(void);
// kern_rope / kern_rope_angles with a scaling (rs NULL: none).
void kern_rope_ext(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos,
                   float base, int neox, const struct kern_rope_scaling *rs);
void kern_rope_angles_ext(float *cs, float *sn, int64_t n_rot, int64_t pos, float base, int neox,
                          const struct kern_rope_scaling *rs);

#endif // JANUS_KERNELS_H
