// Scalar reference kernels: the specification every optimised table is tested against
// (kernels.h). F32 activations and F32 accumulation; F16/BF16/Q8_0 weights are converted
// to F32 element by element (Q8_0: per block, d · Σ q·x), never the activations to the
// weight type, so F16/BF16 models meet the 1e-3 golden tolerance (fixtures README §6).
// KV caches in F16/Q8_0 are read the same way (kern_kv_store/load, issue 12 item 3).
// Pure: no allocation, no I/O. Each output element is one sequential dot product, so its
// value does not depend on how rows are split across threads.
// SPDX-License-Identifier: MIT
#include "kernels/kernels.h"

#include "kernels/quant.h"
#include "kernels/types.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

// ---- matmul, one function per weight type

static void matmul_f32(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                       int64_t n_tok, int64_t r0, int64_t r1) {
    const float *wf = w;
    for (int64_t r = r0; r < r1; r++) {
        const float *row = wf + r * n_in;
        for (int64_t t = 0; t < n_tok; t++) {
            const float *xt = x + t * n_in;
            float s = 0.0f;
            for (int64_t i = 0; i < n_in; i++)
                s += row[i] * xt[i];
            y[t * ldy + r] = s;
        }
    }
}

static void matmul_f16(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                       int64_t n_tok, int64_t r0, int64_t r1) {
    const uint16_t *wh = w;
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *row = wh + r * n_in;
        for (int64_t t = 0; t < n_tok; t++) {
            const float *xt = x + t * n_in;
            float s = 0.0f;
            for (int64_t i = 0; i < n_in; i++)
                s += fp16_to_fp32(row[i]) * xt[i];
            y[t * ldy + r] = s;
        }
    }
}

static void matmul_bf16(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                        int64_t n_tok, int64_t r0, int64_t r1) {
    const uint16_t *wh = w;
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *row = wh + r * n_in;
        for (int64_t t = 0; t < n_tok; t++) {
            const float *xt = x + t * n_in;
            float s = 0.0f;
            for (int64_t i = 0; i < n_in; i++)
                s += bf16_to_fp32(row[i]) * xt[i];
            y[t * ldy + r] = s;
        }
    }
}

static void matmul_q8_0(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                        int64_t n_tok, int64_t r0, int64_t r1) {
    const struct block_q8_0 *wb = w;
    const int64_t nb = n_in / TYPES_Q8_0_BLOCK;
    for (int64_t r = r0; r < r1; r++) {
        const struct block_q8_0 *row = wb + r * nb;
        for (int64_t t = 0; t < n_tok; t++) {
            const float *xt = x + t * n_in;
            float s = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const float *xb = xt + b * TYPES_Q8_0_BLOCK;
                float sb = 0.0f;
                for (int i = 0; i < TYPES_Q8_0_BLOCK; i++)
                    sb += (float)row[b].qs[i] * xb[i];
                s += fp16_to_fp32(row[b].d) * sb;
            }
            y[t * ldy + r] = s;
        }
    }
}

// Block-quantized types (quant.h): each block decoded exactly, then one sequential F32 dot.
static void matmul_blocks(int type, float *y, int64_t ldy, const void *w, const float *x,
                          int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {
    const struct kern_wtype_info *ti = kern_wtype_info(type);
    const size_t rb = kern_row_bytes(type, n_in);
    float buf[QK_K];
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        for (int64_t t = 0; t < n_tok; t++) {
            const float *xt = x + t * n_in;
            float s = 0.0f;
            for (int64_t b = 0; b < n_in / ti->block_elems; b++) {
                quant_dequantize_row(type, buf, row + b * ti->block_bytes, ti->block_elems);
                const float *xb = xt + b * ti->block_elems;
                for (int i = 0; i < ti->block_elems; i++)
                    s += buf[i] * xb[i];
            }
            y[t * ldy + r] = s;
        }
    }
}

#define BLOCK_MATMUL(T)                                                                            \
    static void matmul_##T(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,     \
                           int64_t n_tok, int64_t r0, int64_t r1) {                                \
        matmul_blocks(KERN_W_##T, y, ldy, w, x, n_in, n_tok, r0, r1);                              \
    }
BLOCK_MATMUL(Q4_0)
BLOCK_MATMUL(Q4_1)
BLOCK_MATMUL(Q5_0)
BLOCK_MATMUL(Q5_1)
BLOCK_MATMUL(Q2_K)
BLOCK_MATMUL(Q3_K)
BLOCK_MATMUL(Q4_K)
BLOCK_MATMUL(Q5_K)
BLOCK_MATMUL(Q6_K)
BLOCK_MATMUL(IQ4_NL)
BLOCK_MATMUL(IQ4_XS)

// ---- vector ops

static void ref_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    const float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * scale * w[i];
}

static void ref_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    float mx = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > mx) mx = x[i];
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

static void ref_swiglu(float *y, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float z = g[i];
        y[i] = z / (1.0f + expf(-z)) * u[i];
    }
}

static float ref_dot(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void ref_axpy(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

// Value i of a stored KV vector, widened exactly (kern_kv_load's value).
static inline float kv_value(int type, const void *row, int64_t i) {
    if (type == KERN_KV_F16) return fp16_to_fp32(((const uint16_t *)row)[i]);
    if (type == KERN_KV_Q8_0) {
        const struct block_q8_0 *b = (const struct block_q8_0 *)row + i / TYPES_Q8_0_BLOCK;
        return fp16_to_fp32(b->d) * (float)b->qs[i % TYPES_Q8_0_BLOCK];
    }
    return ((const float *)row)[i];
}

// Attention over a paged cache (kernels.h): sequential dots, the reference softmax, then the
// p-weighted sum of values in position order. An F16/Q8_0 cache gives exactly the bits of
// an F32 cache holding its dequantised vectors.
static void ref_attn(float *out, float *scores, const float *q, const struct kern_kv *kv,
                     int64_t n_kv, int64_t d_k, int64_t d_v, float scale) {
    const int type = kv->type;
    for (int64_t j = 0; j < n_kv; j++) {
        const void *row = kern_kv_k(kv, j);
        float s = 0.0f;
        if (type == KERN_KV_F32) {
            s = ref_dot(q, row, d_k);
        } else {
            for (int64_t i = 0; i < d_k; i++)
                s += q[i] * kv_value(type, row, i);
        }
        scores[j] = s * scale;
    }
    ref_softmax(scores, n_kv);
    for (int64_t i = 0; i < d_v; i++)
        out[i] = 0.0f;
    for (int64_t j = 0; j < n_kv; j++) {
        const void *row = kern_kv_v(kv, j);
        if (type == KERN_KV_F32) {
            ref_axpy(out, scores[j], row, d_v);
        } else {
            for (int64_t i = 0; i < d_v; i++)
                out[i] += scores[j] * kv_value(type, row, i);
        }
    }
}

static void kern_rope_apply_ref(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot,
                                const float *cs, const float *sn, int neox);

static const struct kern_ops ref_ops = {
    .name = "ref",
    .matmul = {[KERN_W_F32] = matmul_f32,
               [KERN_W_F16] = matmul_f16,
               [KERN_W_BF16] = matmul_bf16,
               [KERN_W_Q8_0] = matmul_q8_0,
               [KERN_W_Q4_0] = matmul_Q4_0,
               [KERN_W_Q4_1] = matmul_Q4_1,
               [KERN_W_Q5_0] = matmul_Q5_0,
               [KERN_W_Q5_1] = matmul_Q5_1,
               [KERN_W_Q2_K] = matmul_Q2_K,
               [KERN_W_Q3_K] = matmul_Q3_K,
               [KERN_W_Q4_K] = matmul_Q4_K,
               [KERN_W_Q5_K] = matmul_Q5_K,
               [KERN_W_Q6_K] = matmul_Q6_K,
               [KERN_W_IQ4_NL] = matmul_IQ4_NL,
               [KERN_W_IQ4_XS] = matmul_IQ4_XS},
    .quantize_act = quant_act_row,
    .rmsnorm = ref_rmsnorm,
    .softmax = ref_softmax,
    .swiglu = ref_swiglu,
    .dot = ref_dot,
    .axpy = ref_axpy,
    .attn = ref_attn,
    .rope_apply = kern_rope_apply_ref,
};

const struct kern_ops *kern_ref(void) { return &ref_ops; }

// ---- KV storage (shared by every table)

void kern_kv_store(int type, void *dst, const float *x, int64_t n) {
    if (type == KERN_KV_F16) {
        types_f32_to_f16_row(dst, x, n);
    } else if (type == KERN_KV_Q8_0) {
        const int64_t nf = n / TYPES_Q8_0_BLOCK * TYPES_Q8_0_BLOCK;
        struct block_q8_0 *b = dst;
        q8_0_quantize_row(b, x, nf);
        if (nf < n) { // last partial block: the values, zero-padded
            float t[TYPES_Q8_0_BLOCK] = {0};
            memcpy(t, x + nf, (size_t)(n - nf) * sizeof(float));
            q8_0_quantize_row(b + nf / TYPES_Q8_0_BLOCK, t, TYPES_Q8_0_BLOCK);
        }
    } else {
        memcpy(dst, x, (size_t)n * sizeof(float));
    }
}

void kern_kv_load(int type, float *y, const void *src, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = kv_value(type, src, i);
}

static const char *const kvtype_names[KERN_KV_COUNT] = {"f32", "f16", "q8_0"};

const char *kern_kvtype_name(int type) {
    return type >= 0 && type < KERN_KV_COUNT ? kvtype_names[type] : NULL;
}

int kern_kvtype_parse(const char *name) {
    for (int t = 0; name && t < KERN_KV_COUNT; t++)
        if (!strcmp(name, kvtype_names[t])) return t;
    return -1;
}

// ---- RoPE (shared by every table)

struct kern_rope_scaling kern_rope_scaling_none(void) {
    return (struct kern_rope_scaling){.freq_scale = 1.0, .ext_factor = 0.0, .mscale = 1.0};
}

// θ_i = pos · base^(−2i/n_rot), in double so the angle is exact to F32 precision; with a
// scaling (rs), ggml's rope_yarn mix of the interpolated and extrapolated angle and the
// magnitude mscale, also in double. c, s are the cosine and sine rounded to F32. Without
// scaling (rs NULL) the computation is exactly the unscaled one.
static void rope_angle(int64_t i, int64_t n_rot, int64_t pos, float base,
                       const struct kern_rope_scaling *rs, float *c, float *s) {
    const double theta_e = (double)pos * pow((double)base, -2.0 * (double)i / (double)n_rot);
    if (!rs) {
        *c = (float)cos(theta_e), *s = (float)sin(theta_e);
        return;
    }
    double theta = rs->freq_scale * theta_e;
    if (rs->ext_factor != 0.0) {
        const double span = rs->corr_hi - rs->corr_lo;
        double y = ((double)i - rs->corr_lo) / (span > 0.001 ? span : 0.001);
        y = y < 0.0 ? 0.0 : y > 1.0 ? 1.0 : y;
        const double mix = (1.0 - y) * rs->ext_factor;
        theta = theta * (1.0 - mix) + theta_e * mix;
    }
    *c = (float)(cos(theta) * rs->mscale), *s = (float)(sin(theta) * rs->mscale);
}

// Rotates pair i of every head by (c, s).
static void rope_rotate(float *x, int64_t n_head, int64_t head_dim, int64_t half, int64_t i,
                        float c, float s, int neox) {
    for (int64_t h = 0; h < n_head; h++) {
        float *xh = x + h * head_dim;
        const int64_t i0 = neox ? i : 2 * i;
        const int64_t i1 = neox ? i + half : 2 * i + 1;
        const float a = xh[i0], b = xh[i1];
        xh[i0] = a * c - b * s;
        xh[i1] = a * s + b * c;
    }
}

void kern_rope_ext(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos,
                   float base, int neox, const struct kern_rope_scaling *rs) {
    for (int64_t i = 0; i < n_rot / 2; i++) {
        float c, s;
        rope_angle(i, n_rot, pos, base, rs, &c, &s);
        rope_rotate(x, n_head, head_dim, n_rot / 2, i, c, s, neox);
    }
}

void kern_rope(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos, float base,
               int neox) {
    kern_rope_ext(x, n_head, head_dim, n_rot, pos, base, neox, NULL);
}

void kern_rope_angles_ext(float *cs, float *sn, int64_t n_rot, int64_t pos, float base, int neox,
                          const struct kern_rope_scaling *rs) {
    for (int64_t i = 0; i < n_rot / 2; i++) {
        float c, s;
        rope_angle(i, n_rot, pos, base, rs, &c, &s);
        if (neox) {
            cs[i] = c, sn[i] = s;
        } else {
            cs[2 * i] = cs[2 * i + 1] = c;
            sn[2 * i] = sn[2 * i + 1] = s;
        }
    }
}

void kern_rope_angles(float *cs, float *sn, int64_t n_rot, int64_t pos, float base, int neox) {
    kern_rope_angles_ext(cs, sn, n_rot, pos, base, neox, NULL);
}

static void kern_rope_apply_ref(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot,
                                const float *cs, const float *sn, int neox) {
    for (int64_t i = 0; i < n_rot / 2; i++)
        rope_rotate(x, n_head, head_dim, n_rot / 2, i, neox ? cs[i] : cs[2 * i],
                    neox ? sn[i] : sn[2 * i], neox);
}
