// Attention-instance side of one step (attn.h). Formulas: fixtures README §4.
// MLA uses the absorbed form over the cached latent: per head, the query's nope part is
// mapped into latent space through the k-rows of attn_kv_b (q_lat = W_kᵀ q_nope), scored
// against the cached normed c_kv plus the rope part against the cached k_pe, and the
// softmax-weighted latent is decompressed once through the v-rows of attn_kv_b. This equals
// the plain (decompressed) form up to the order of F32 sums (docs/internals/engine.md).
// Files of current converters carry kv_b split (attn_k_b / attn_v_b): the same products
// per head; RoPE scaling (linear, YaRN; issue 12 item 6) enters through the angle table and,
// for deepseek2, the score scale (hparams.attn_scale_mul). Numeric paths (issue 13 item 2):
// every product through linear() follows the context's path; the two per-head absorbed
// products of MLA (W_k_b·q_nope, W_v_b·latent: nope·kv_lora and kv_lora·v_head multiply-adds
// per head, a few percent of a layer) always take the exact path (mla_head).
// SPDX-License-Identifier: MIT
#include "engine/attn.h"

#include "base/limits.h"
#include "base/pool.h"
#include "base/status.h"

#include <math.h>
#include <string.h>

// ---- init

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

int attn_init(struct attn *a, const struct model *m, const struct linear_ctx *lin,
              const struct attn_params *p) {
    memset(a, 0, sizeof *a);
    const struct hparams *hp = &m->hp;
    if (p->max_tokens < 1 || p->n_seq < 1 || p->max_ctx < 1 || p->max_tokens > LIMIT_MAX_BATCH ||
        p->n_seq > LIMIT_MAX_BATCH || p->max_ctx > LIMIT_MAX_CONTEXT)
        return JANUS_EINVAL;
    a->m = m;
    a->lin = lin;
    a->max_tokens = p->max_tokens;
    a->max_ctx = p->max_ctx;
    // Attention over (token, head) pairs runs on the linear pool: one scratch set per thread.
    const int64_t nth = JANUS_MAX(lin->n_threads, 1);
    a->n_thread_scratch = nth;
    const int64_t T = p->max_tokens, E = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv;
    const int mla = hp->arch->mla;
    const int64_t n_q = mla ? H * (hp->qk_nope + hp->qk_rope) : H * hp->head_dim_k;
    const int64_t n_k = mla ? hp->kv_lora + hp->qk_rope : Hkv * hp->head_dim_k;
    const int64_t n_v = mla ? 0 : Hkv * hp->head_dim_v;
    a->n_rope = mla ? hp->qk_rope : hp->n_rot;
    int64_t ff = hp->n_ff_shexp;
    for (int64_t l = 0; l < hp->n_layer; l++)
        if (!m->layers[l].is_moe) ff = max64(ff, hp->n_ff);
    const int64_t sizes[] = {T * E,
                             T * E,
                             T * n_q,
                             T * n_k,
                             T * max64(n_v, 1),
                             T * H * hp->head_dim_v,
                             T * max64(E, hp->q_lora),
                             T * max64(ff, 1),
                             T * max64(ff, 1),
                             T * E,
                             nth * p->max_ctx,
                             nth * max64(hp->kv_lora + hp->qk_rope, 1),
                             nth * max64(hp->kv_lora, 1),
                             nth * max64(hp->kv_lora, 1),
                             T * max64(a->n_rope, 1),
                             T * max64(a->n_rope, 1)};
    size_t cap = 0;
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(sizes); i++)
        cap += ((size_t)sizes[i] * sizeof(float) + 63) & ~(size_t)63;
    cap += (((size_t)p->n_seq * sizeof(int64_t)) + 63) & ~(size_t)63;
    int rc = arena_init(&a->arena, MEM_TAG_ENGINE, cap);
    if (rc != JANUS_OK) {
        memset(a, 0, sizeof *a);
        return rc;
    }
    float **bufs[] = {&a->h,     &a->x,       &a->q,       &a->k,      &a->v,      &a->att,
                      &a->tmp,   &a->ff_g,    &a->ff_u,    &a->shared, &a->scores, &a->lat_q,
                      &a->lat_o, &a->lat_row, &a->rope_cs, &a->rope_sn};
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(bufs); i++) {
        *bufs[i] = arena_floats(&a->arena, sizes[i]);
        JANUS_ASSERT(*bufs[i]);
    }
    a->next_pos = arena_alloc(&a->arena, (size_t)p->n_seq * sizeof(int64_t));
    JANUS_ASSERT(a->next_pos);
    struct kvcache_params kp = {.n_layer = hp->n_layer,
                                .n_k = n_k,
                                .n_v = n_v,
                                .k_seg = mla ? n_k : hp->head_dim_k,
                                .v_seg = mla ? 0 : hp->head_dim_v,
                                .type = p->kv_type,
                                .n_seq = p->n_seq,
                                .max_ctx = p->max_ctx,
                                .page_size = p->page_size,
                                .n_pages = p->n_pages};
    rc = kvcache_init(&a->kv, &kp);
    if (rc != JANUS_OK) {
        arena_free(&a->arena);
        memset(a, 0, sizeof *a);
        return rc;
    }
    // int8 path: every product here has one activation matrix per run, at most T rows of
    // the widest input (E, q_lora, the attention output, a dense / shared FFN's n_ff).
    const int64_t widest = max64(max64(E, hp->q_lora), max64(H * hp->head_dim_v, ff));
    rc = linear_reserve(lin, T * widest);
    if (rc != JANUS_OK) {
        attn_free(a);
        return rc;
    }
    return JANUS_OK;
}

void attn_free(struct attn *a) {
    kvcache_free(&a->kv);
    arena_free(&a->arena);
    memset(a, 0, sizeof *a);
}

// ---- step begin / end

int attn_step_begin(struct attn *a, const struct batch *b) {
    const struct hparams *hp = &a->m->hp;
    if (b->n < 0 || b->n > a->max_tokens) return JANUS_EINVAL;
    for (int64_t i = 0; i < b->n; i++) {
        if (b->seq[i] < 0 || b->seq[i] >= a->kv.n_seq) return JANUS_EINVAL;
        if (b->token[i] < 0 || b->token[i] >= hp->n_vocab) return JANUS_EINVAL;
        a->next_pos[b->seq[i]] = kvcache_seq_len(&a->kv, b->seq[i]);
    }
    for (int64_t i = 0; i < b->n; i++) {
        int64_t *np = &a->next_pos[b->seq[i]];
        if (b->pos[i] != *np) return JANUS_EINVAL; // positions must continue the sequence
        (*np)++;
        if (*np > a->max_ctx) return JANUS_ELIMIT;
    }
    for (int64_t i = 0; i < b->n; i++) {
        int rc = kvcache_seq_reserve(&a->kv, b->seq[i], a->next_pos[b->seq[i]]);
        if (rc != JANUS_OK) return rc;
    }
    a->batch = b;
    const int64_t E = hp->n_embd;
    const int neox = hp->arch->mla ? 0 : hp->rope_neox;
    for (int64_t i = 0; i < b->n; i++) {
        wview_row_f32(&a->m->token_embd, b->token[i], a->h + i * E);
        // One angle table per row for every layer and head (RoPE of q and k alike).
        kern_rope_angles_ext(a->rope_cs + i * a->n_rope, a->rope_sn + i * a->n_rope, a->n_rope,
                             b->pos[i], hp->rope_base, neox,
                             hp->rope_scaled ? &hp->rope_scaling : NULL);
    }
    return JANUS_OK;
}

void attn_step_end(struct attn *a) {
    const struct batch *b = a->batch;
    if (!b) return;
    for (int64_t i = 0; i < b->n; i++)
        kvcache_seq_set_len(&a->kv, b->seq[i], a->next_pos[b->seq[i]]);
    a->batch = NULL;
}

void attn_seq_free(struct attn *a, int64_t seq) { kvcache_seq_free(&a->kv, seq); }

// ---- attention variants

static void attn_heads_run(struct attn *a, int64_t l, int64_t width);

// llama / qwen2moe / qwen3moe: x (n, E) → a->att (n, H·hd_v).
static void attn_gqa(struct attn *a, int64_t l) {
    const struct model *m = a->m;
    const struct hparams *hp = &m->hp;
    const struct model_layer *L = &m->layers[l];
    const struct kern_ops *K = a->lin->kern;
    const struct batch *b = a->batch;
    const int64_t n = b->n, H = hp->n_head, Hkv = hp->n_head_kv;
    const int64_t hd = hp->head_dim_k, hdv = hp->head_dim_v;
    const int64_t nq = H * hd, nk = Hkv * hd, nv = Hkv * hdv;
    const struct linear_op qkv[3] = {{.y = a->q, .ldy = nq, .w = &L->wq, .x = a->x, .n_tok = n},
                                     {.y = a->k, .ldy = nk, .w = &L->wk, .x = a->x, .n_tok = n},
                                     {.y = a->v, .ldy = nv, .w = &L->wv, .x = a->x, .n_tok = n}};
    linear_many(a->lin, qkv, 3);
    for (int64_t i = 0; i < n; i++) {
        float *q = a->q + i * nq, *k = a->k + i * nk, *v = a->v + i * nv;
        if (L->bq) {
            for (int64_t j = 0; j < nq; j++)
                q[j] += L->bq[j];
            for (int64_t j = 0; j < nk; j++)
                k[j] += L->bk[j];
            for (int64_t j = 0; j < nv; j++)
                v[j] += L->bv[j];
        }
        if (L->q_norm && hp->arch->qk_norm_full) { // olmoe: over the whole projection
            K->rmsnorm(q, q, L->q_norm, nq, hp->rms_eps);
            K->rmsnorm(k, k, L->k_norm, nk, hp->rms_eps);
        } else if (L->q_norm) {
            for (int64_t h = 0; h < H; h++)
                K->rmsnorm(q + h * hd, q + h * hd, L->q_norm, hd, hp->rms_eps);
            for (int64_t h = 0; h < Hkv; h++)
                K->rmsnorm(k + h * hd, k + h * hd, L->k_norm, hd, hp->rms_eps);
        }
        const float *cs = a->rope_cs + i * a->n_rope, *sn = a->rope_sn + i * a->n_rope;
        K->rope_apply(q, H, hd, hp->n_rot, cs, sn, hp->rope_neox);
        K->rope_apply(k, Hkv, hd, hp->n_rot, cs, sn, hp->rope_neox);
        kvcache_store_k(&a->kv, l, b->seq[i], b->pos[i], k);
        kvcache_store_v(&a->kv, l, b->seq[i], b->pos[i], v);
    }
    attn_heads_run(a, l, H * hd);
}

// Attention of (token i, head h) for GQA; scores: this thread's scratch.
static void gqa_head(struct attn *a, int64_t l, int64_t i, int64_t h, float *scores) {
    const struct hparams *hp = &a->m->hp;
    const struct batch *b = a->batch;
    const struct kvcache *kv = &a->kv;
    const int64_t H = hp->n_head, hd = hp->head_dim_k, hdv = hp->head_dim_v;
    const int64_t kh = h / (H / hp->n_head_kv), seq = b->seq[i];
    const int64_t layer_off = l * kv->n_pages * kv->page_size;
    const struct kern_kv kvh = {
        .k = kv->k + layer_off * kv->k_row + kh * kern_kv_bytes(kv->type, hd),
        .v = kv->v + layer_off * kv->v_row + kh * kern_kv_bytes(kv->type, hdv),
        .pages = kv->seq_pages + seq * kv->max_pages_seq,
        .page_size = kv->page_size,
        .k_row = kv->k_row,
        .v_row = kv->v_row,
        .type = kv->type};
    a->lin->kern->attn(a->att + i * H * hdv + h * hdv, scores, a->q + i * H * hd + h * hd, &kvh,
                       b->pos[i] + 1, hd, hdv, 1.0f / sqrtf((float)hd));
}

// deepseek2 MLA, absorbed form over the compressed cache: x (n, E) → a->att (n, H·v).
static void attn_mla(struct attn *a, int64_t l) {
    const struct model *m = a->m;
    const struct hparams *hp = &m->hp;
    const struct model_layer *L = &m->layers[l];
    const struct kern_ops *K = a->lin->kern;
    const struct batch *b = a->batch;
    const int64_t n = b->n, H = hp->n_head, nope = hp->qk_nope, rope = hp->qk_rope;
    const int64_t R = hp->kv_lora, qk = nope + rope, nq = H * qk, nk = R + rope;
    if (hp->q_lora > 0) {
        linear(a->lin, a->tmp, hp->q_lora, &L->wq_a, a->x, n);
        for (int64_t i = 0; i < n; i++)
            K->rmsnorm(a->tmp + i * hp->q_lora, a->tmp + i * hp->q_lora, L->q_a_norm, hp->q_lora,
                       hp->rms_eps);
        linear(a->lin, a->q, nq, &L->wq_b, a->tmp, n);
    } else {
        linear(a->lin, a->q, nq, &L->wq, a->x, n);
    }
    linear(a->lin, a->k, nk, &L->wkv_a_mqa, a->x, n);
    for (int64_t i = 0; i < n; i++) {
        float *c = a->k + i * nk;
        K->rmsnorm(c, c, L->kv_a_norm, R, hp->rms_eps); // c_kv
        const float *cs = a->rope_cs + i * a->n_rope, *sn = a->rope_sn + i * a->n_rope;
        K->rope_apply(c + R, 1, rope, rope, cs, sn, 0);              // k_pe
        K->rope_apply(a->q + i * nq + nope, H, qk, rope, cs, sn, 0); // q_pe
        kvcache_store_k(&a->kv, l, b->seq[i], b->pos[i], c);
    }
    attn_heads_run(a, l, H * (R + rope));
}

// Attention of (token i, head h) for MLA (absorbed form); t: this thread's scratch index.
static void mla_head(struct attn *a, int64_t l, int64_t i, int64_t h, int64_t t) {
    const struct hparams *hp = &a->m->hp;
    const struct model_layer *L = &a->m->layers[l];
    const struct kern_ops *K = a->lin->kern;
    const struct kvcache *kv = &a->kv;
    const int64_t H = hp->n_head, nope = hp->qk_nope, rope = hp->qk_rope, dv = hp->v_head;
    const int64_t R = hp->kv_lora, qk = nope + rope, seq = a->batch->seq[i];
    float *lat_q = a->lat_q + t * (R + rope), *lat_o = a->lat_o + t * R;
    float *lat_row = a->lat_row + t * R, *scores = a->scores + t * a->max_ctx;
    const float *qn = a->q + i * H * qk + h * qk, *qp = qn + nope;
    // q_lat = Σ_d q_nope[d] · W_kv_b[h·(nope+v) + d, :]; with the split tensors the same
    // product is W_k_b[h] · q_nope (attn_k_b holds those rows transposed). Both absorbed
    // products of a head are exact on either numeric path: they are small (one token, one
    // head), run inside a pool job (no shared int8 scratch there), and nope need not be a
    // multiple of the 32-value activation block.
    if (hp->mla_split) {
        const struct wview wkb = wview3_mat(&L->wk_b, h);
        K->matmul[wkb.type](lat_q, R, wkb.data, qn, nope, 1, 0, R);
    } else {
        memset(lat_q, 0, (size_t)R * sizeof(float));
        for (int64_t d = 0; d < nope; d++) {
            wview_row_f32(&L->wkv_b, h * (nope + dv) + d, lat_row);
            K->axpy(lat_q, qn[d], lat_row, R);
        }
    }
    // Latent attention kernel: q = [q_lat | q_pe] against the cached [c_kv | k_pe] rows;
    // values are the rows' c_kv (kernels.h).
    memcpy(lat_q + R, qp, (size_t)rope * sizeof(float));
    const struct kern_kv kvl = {.k = kv->k + l * kv->n_pages * kv->page_size * kv->k_row,
                                .v = kv->k + l * kv->n_pages * kv->page_size * kv->k_row,
                                .pages = kv->seq_pages + seq * kv->max_pages_seq,
                                .page_size = kv->page_size,
                                .k_row = kv->k_row,
                                .v_row = kv->k_row,
                                .type = kv->type};
    // deepseek2's YaRN mscale² (attn_scale_mul, 1 without scaling) multiplies the scale.
    K->attn(lat_o, scores, lat_q, &kvl, a->batch->pos[i] + 1, R + rope, R,
            hp->attn_scale_mul * (1.0f / sqrtf((float)qk)));
    // Decompress through the v-rows of head h. A direct kernel call, not linear(): this
    // runs inside a pool job and the pool is not reentrant.
    const struct wview wvb =
        hp->mla_split ? wview3_mat(&L->wv_b, h) : wview_rows(&L->wkv_b, h * (nope + dv) + nope, dv);
    K->matmul[wvb.type](a->att + i * H * dv + h * dv, dv, wvb.data, lat_o, R, 1, 0, dv);
}

struct heads_job {
    struct attn *a;
    int64_t l;
};

// Splits the n·H (token, head) pairs into contiguous ranges, one per thread. Every pair is
// computed by one thread with the same code, so the result does not depend on the split.
static void heads_worker(void *vjob, int ith, int nth) {
    const struct heads_job *j = vjob;
    struct attn *a = j->a;
    const int64_t H = a->m->hp.n_head;
    int64_t lo, hi;
    pool_split(a->batch->n * H, ith, nth, &lo, &hi);
    for (int64_t p = lo; p < hi; p++) {
        if (a->m->hp.arch->mla)
            mla_head(a, j->l, p / H, p % H, ith);
        else
            gqa_head(a, j->l, p / H, p % H, a->scores + ith * a->max_ctx);
    }
}

// Runs the attention of every (token, head) of the batch for layer l, on the linear pool
// when the work (≈ Σ context × per-head width) is worth waking it.
static void attn_heads_run(struct attn *a, int64_t l, int64_t width) {
    struct heads_job job = {a, l};
    int64_t work = 0;
    for (int64_t i = 0; i < a->batch->n; i++)
        work += (a->batch->pos[i] + 1) * width;
    // Scratch exists for n_thread_scratch threads (the pool size at attn_init).
    if (a->lin->pool && pool_n_threads(a->lin->pool) <= a->n_thread_scratch &&
        a->n_thread_scratch > 1 && work >= a->lin->min_parallel)
        pool_run(a->lin->pool, heads_worker, &job);
    else
        heads_worker(&job, 0, 1);
}

// ---- FFN helpers

// out (n, E) = down · (silu(gate·x) ⊙ (up·x)); uses ff_g/ff_u.
static void ffn(struct attn *a, float *out, const struct wview *wg, const struct wview *wu,
                const struct wview *wd, const float *x, int64_t n) {
    const int64_t F = wg->n_out;
    const struct linear_op gu = {
        .y = a->ff_g, .ldy = F, .w = wg, .x = x, .n_tok = n, .wu = wu, .u = a->ff_u};
    linear_many(a->lin, &gu, 1);
    linear(a->lin, out, wd->n_out, wd, a->ff_g, n);
}

// ---- layer

int attn_layer_begin(struct attn *a, int64_t l) {
    const struct model *m = a->m;
    const struct hparams *hp = &m->hp;
    const struct model_layer *L = &m->layers[l];
    const struct kern_ops *K = a->lin->kern;
    const int64_t n = a->batch->n, E = hp->n_embd;
    a->shared_valid = 0;
    if (n == 0) return L->is_moe;
    for (int64_t i = 0; i < n; i++)
        K->rmsnorm(a->x + i * E, a->h + i * E, L->attn_norm, E, hp->rms_eps);
    if (hp->arch->mla)
        attn_mla(a, l);
    else
        attn_gqa(a, l);
    linear(a->lin, a->tmp, E, &L->wo, a->att, n);
    for (int64_t i = 0; i < n * E; i++)
        a->h[i] += a->tmp[i];
    for (int64_t i = 0; i < n; i++)
        K->rmsnorm(a->x + i * E, a->h + i * E, L->ffn_norm, E, hp->rms_eps);
    if (L->is_moe) return 1;
    ffn(a, a->tmp, &L->ffn_gate, &L->ffn_up, &L->ffn_down, a->x, n);
    for (int64_t i = 0; i < n * E; i++)
        a->h[i] += a->tmp[i];
    return 0;
}

void attn_layer_shared(struct attn *a, int64_t l) {
    const struct model *m = a->m;
    const struct model_layer *L = &m->layers[l];
    const int64_t n = a->batch->n, E = m->hp.n_embd;
    a->shared_valid = 1;
    if (!L->gate_shexp.data || n == 0) {
        memset(a->shared, 0, (size_t)(n * E) * sizeof(float));
        return;
    }
    ffn(a, a->shared, &L->gate_shexp, &L->up_shexp, &L->down_shexp, a->x, n);
    if (L->gate_inp_shexp) { // qwen2moe: sigmoid-gated shared expert
        for (int64_t i = 0; i < n; i++) {
            const float g = a->lin->kern->dot(L->gate_inp_shexp, a->x + i * E, E);
            const float s = 1.0f / (1.0f + expf(-g));
            for (int64_t j = 0; j < E; j++)
                a->shared[i * E + j] *= s;
        }
    }
}

void attn_layer_end(struct attn *a, int64_t l, const float *moe_out) {
    const int64_t n = a->batch->n, E = a->m->hp.n_embd;
    if (!a->shared_valid) attn_layer_shared(a, l);
    for (int64_t i = 0; i < n * E; i++)
        a->h[i] += moe_out[i] + a->shared[i];
    a->shared_valid = 0;
}

void attn_logits(struct attn *a, float *out) {
    const struct model *m = a->m;
    const struct hparams *hp = &m->hp;
    const struct batch *b = a->batch;
    const int64_t E = hp->n_embd;
    int64_t nl = 0;
    for (int64_t i = 0; i < b->n; i++)
        if (b->logits[i]) {
            a->lin->kern->rmsnorm(a->x + nl * E, a->h + i * E, m->output_norm, E, hp->rms_eps);
            nl++;
        }
    linear(a->lin, out, hp->n_vocab, &m->output, a->x, nl);
}
