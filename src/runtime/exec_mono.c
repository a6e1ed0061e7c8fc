// The in-process monolithic executor (exec.h): one engine stepper (engine/stepper.h) runs
// every attention instance's local batch as one step — instance i's slot s is engine
// sequence i * max_seqs + s — with one MoE side holding every expert. Sampling per row
// with rng_init3(seed, pos, 0) (exec.h). Counts a_max per layer from the routing callback
// (one MoE instance: a_max = distinct experts activated). The reference the MPI executor is
// compared with. No allocation per step after create.
// SPDX-License-Identifier: MIT
#include "runtime/exec.h"

#include "base/clock.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "engine/stepper.h"
#include "model/sampler.h"
#include "model/weights.h"

#include <stdio.h>
#include <string.h>

struct exec_mono {
    struct exec base; // first member: (struct exec *) casts both ways
    struct model model;
    struct stepper st;
    struct batch batch;
    struct sampler smp;
    int64_t max_rows; // per instance per step
    struct exec_stats stats;
    uint8_t *seen; // (n_expert) scratch for counting distinct experts
    int64_t n_expert;
    int32_t *kv_len; // (n_attn * max_seqs) positions held per slot
};

static void on_routing(void *user, int64_t step, int64_t layer, const int32_t *ids, int64_t n_tok,
                       int64_t k) {
    struct exec_mono *x = user;
    (void)step;
    if (layer < 0 || layer >= EXEC_STATS_MAX_LAYERS) return;
    memset(x->seen, 0, (size_t)x->n_expert);
    int32_t a = 0;
    for (int64_t i = 0; i < n_tok * k; i++) {
        int32_t e = ids[i];
        if (e >= 0 && e < x->n_expert && !x->seen[e]) {
            x->seen[e] = 1;
            a++;
        }
    }
    if (n_tok > 0) x->stats.a_max_last[layer] = a; // the last step with tokens
    x->stats.a_max_sum[layer] += (uint64_t)a;
    x->stats.activated_last[0] += a;
    x->stats.activated_sum[0] += (uint64_t)a;
}

static void apply_slots(struct exec_mono *x, const struct exec_batch *batches) {
    int32_t ms = x->base.info.max_seqs;
    for (int32_t i = 0; i < x->base.info.n_attn; i++) {
        const struct exec_batch *b = &batches[i];
        for (int32_t k = 0; k < b->n_free; k++) {
            int32_t s = i * ms + b->free_slots[k];
            stepper_seq_free(&x->st, s);
            x->kv_len[s] = 0;
        }
        for (int32_t k = 0; k < b->n_start; k++) {
            int32_t s = i * ms + b->start_slots[k];
            stepper_seq_free(&x->st, s);
            x->kv_len[s] = 0;
        }
    }
}

static int run(struct exec_mono *x, const struct exec_batch *batches, struct exec_result *results,
               float *logits_out) {
    const struct exec_info *info = &x->base.info;
    int32_t ms = info->max_seqs;
    for (int32_t i = 0; i < info->n_attn; i++) {
        char err[256];
        if (exec_batch_check(&batches[i], info, err, sizeof err) != JANUS_OK) return JANUS_EINVAL;
        if (batches[i].n_rows > x->max_rows) return JANUS_EINVAL;
    }
    // Positions must continue each slot's KV exactly (after this step's frees/starts).
    for (int32_t i = 0; i < info->n_attn; i++) {
        const struct exec_batch *b = &batches[i];
        for (int32_t r = 0; r < b->n_rows; r++) {
            if (r > 0 && b->rows[r - 1].slot == b->rows[r].slot) continue; // checked above
            int32_t slot = b->rows[r].slot, held = x->kv_len[i * ms + slot];
            for (int32_t k = 0; k < b->n_free; k++)
                held = b->free_slots[k] == slot ? 0 : held;
            for (int32_t k = 0; k < b->n_start; k++)
                held = b->start_slots[k] == slot ? 0 : held;
            if (b->rows[r].pos != held) return JANUS_EINVAL; // a gap or a rewrite
        }
    }
    int64_t t0 = clock_now_ns();
    apply_slots(x, batches);
    batch_clear(&x->batch);
    for (int32_t i = 0; i < info->n_attn; i++) {
        const struct exec_batch *b = &batches[i];
        for (int32_t r = 0; r < b->n_rows; r++) {
            const struct exec_row *row = &b->rows[r];
            int32_t seq = i * ms + row->slot;
            int rc = batch_add(&x->batch, row->token, seq, row->pos, row->i_sample >= 0);
            if (rc) return rc;
        }
    }
    for (int k = 0; k < EXEC_STATS_MAX_MOE; k++)
        x->stats.activated_last[k] = 0;
    if (x->batch.n > 0) {
        int rc = stepper_step(&x->st, &x->batch);
        if (rc) return rc;
    }
    int64_t n_logits = 0;
    const float *lg = x->batch.n > 0 ? stepper_logits(&x->st, &n_logits) : NULL;
    // Logits rows come in batch order; samples may be listed in any order, so walk rows.
    int64_t li = 0, V = info->n_vocab;
    for (int32_t i = 0; i < info->n_attn; i++) {
        const struct exec_batch *b = &batches[i];
        results[i].n_sample = b->n_sample;
        for (int32_t r = 0; r < b->n_rows; r++) {
            const struct exec_row *row = &b->rows[r];
            x->kv_len[i * ms + row->slot] = row->pos + 1;
            if (row->i_sample < 0) continue;
            JANUS_ASSERT(li < n_logits);
            const float *l = lg + li * V;
            li++;
            const struct exec_sample *s = &b->samples[row->i_sample];
            int32_t tok;
            if (s->temperature <= 0.0f || logits_out) { // step_logits: greedy (exec.h)
                tok = sampler_greedy(l, V);
            } else {
                x->smp.p.temp = s->temperature;
                x->smp.p.top_k = s->top_k;
                x->smp.p.top_p = s->top_p;
                x->smp.p.seed = s->seed;
                rng_init3(&x->smp.rng, s->seed, (uint64_t)row->pos, 0);
                tok = sampler_sample(&x->smp, l);
            }
            results[i].tokens[row->i_sample] = tok;
        }
    }
    if (logits_out) {
        // k counts samples over instances in order (exec.h): instance i's sample j.
        int64_t base = 0, row_li = 0;
        for (int32_t i = 0; i < info->n_attn; i++) {
            const struct exec_batch *b = &batches[i];
            for (int32_t r = 0; r < b->n_rows; r++) {
                if (b->rows[r].i_sample < 0) continue;
                memcpy(logits_out + (base + b->rows[r].i_sample) * V, lg + row_li * V,
                       (size_t)V * sizeof(float));
                row_li++;
            }
            base += b->n_sample;
        }
    }
    x->stats.n_steps++;
    x->stats.step_ns_total += (uint64_t)(clock_now_ns() - t0);
    return JANUS_OK;
}

static int mono_step(struct exec *e, const struct exec_batch *b, struct exec_result *r) {
    return run((struct exec_mono *)e, b, r, NULL);
}

static int mono_step_logits(struct exec *e, const struct exec_batch *b, struct exec_result *r,
                            float *logits) {
    return run((struct exec_mono *)e, b, r, logits);
}

static int mono_stats(struct exec *e, struct exec_stats *out) {
    struct exec_mono *x = (struct exec_mono *)e;
    *out = x->stats;
    int32_t ms = e->info.max_seqs;
    for (int32_t i = 0; i < e->info.n_attn && i < EXEC_STATS_MAX_ATTN; i++) {
        int64_t used = 0;
        for (int32_t s = 0; s < ms; s++)
            used += x->kv_len[i * ms + s];
        out->kv_used_tokens[i] = used;
    }
    return JANUS_OK;
}

static void mono_destroy(struct exec *e) {
    struct exec_mono *x = (struct exec_mono *)e;
    sampler_free(&x->smp);
    batch_free(&x->batch);
    stepper_free(&x->st);
    model_free(&x->model);
    mem_free(x->seen);
    mem_free(x->kv_len);
    mem_free(x);
}

static const struct exec_ops mono_ops = {
    .step = mono_step,
    .step_logits = mono_step_logits,
    .stats = mono_stats,
    .destroy = mono_destroy,
};

int exec_mono_create(const struct exec_mono_params *p, struct exec **out, char *err,
                     size_t err_len) {
    *out = NULL;
    if (p->n_attn < 1 || p->n_attn > EXEC_STATS_MAX_ATTN || p->max_seqs < 1 ||
        p->max_seqs > EXEC_MAX_SEQS || p->max_rows < 1 || p->max_rows > EXEC_MAX_ROWS ||
        p->n_ctx < 0 || p->n_ctx > LIMIT_MAX_CONTEXT) {
        snprintf(err, err_len, "bad executor parameters (n_attn %d, max_seqs %d, max_rows %d)",
                 p->n_attn, p->max_seqs, p->max_rows);
        return JANUS_EINVAL;
    }
    struct exec_mono *x = mem_calloc(MEM_TAG_ENGINE, 1, sizeof *x);
    if (!x) {
        snprintf(err, err_len, "out of memory");
        return JANUS_ENOMEM;
    }
    int rc = model_load(&x->model, p->model_path, err, err_len);
    if (rc) {
        mem_free(x);
        return rc;
    }
    const struct hparams *hp = &x->model.hp;
    int32_t n_ctx = p->n_ctx;
    if (n_ctx == 0)
        n_ctx = hp->n_ctx_train > 0 && hp->n_ctx_train < 4096 ? (int32_t)hp->n_ctx_train : 4096;
    struct exec_info *info = &x->base.info;
    info->n_attn = p->n_attn;
    info->n_moe = 1;
    info->n_layer = (int32_t)hp->n_layer;
    info->n_vocab = (int32_t)hp->n_vocab;
    info->n_ctx = n_ctx;
    info->max_seqs = p->max_seqs;
    info->kv_tokens = (int64_t)p->max_seqs * n_ctx;
    model_display_name(&x->model, p->model_path, info->model_name, sizeof info->model_name);
    snprintf(info->kernels, sizeof info->kernels, "%s", kern_best()->name); // stepper's default
    x->max_rows = p->max_rows;
    x->n_expert = hp->n_expert > 0 ? hp->n_expert : 1;
    x->stats.n_layer = (int32_t)JANUS_MIN(hp->n_layer, (int64_t)EXEC_STATS_MAX_LAYERS);
    x->stats.n_moe = 1;
    x->stats.n_attn = p->n_attn;
    int64_t n_seq = (int64_t)p->n_attn * p->max_seqs;
    struct stepper_params sp = {.max_tokens = (int64_t)p->n_attn * p->max_rows,
                                .n_seq = n_seq,
                                .max_ctx = n_ctx,
                                .max_logits = n_seq,
                                .n_threads = p->n_threads > 0 ? p->n_threads : 1};
    struct sampler_params smp_p = {.temp = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 0};
    x->seen = mem_alloc(MEM_TAG_ENGINE, (size_t)x->n_expert);
    x->kv_len = mem_calloc(MEM_TAG_ENGINE, (size_t)n_seq, sizeof *x->kv_len);
    if (!x->seen || !x->kv_len) {
        rc = JANUS_ENOMEM;
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    rc = stepper_init(&x->st, &x->model, &sp);
    if (rc == JANUS_OK) rc = batch_init(&x->batch, sp.max_tokens);
    if (rc == JANUS_OK) rc = sampler_init(&x->smp, hp->n_vocab, &smp_p);
    if (rc) {
        snprintf(err, err_len, "engine init: %s", janus_strerror(rc));
        goto fail;
    }
    stepper_set_routing_cb(&x->st, on_routing, x);
    x->base.ops = &mono_ops;
    *out = &x->base;
    return JANUS_OK;
fail:
    mono_destroy(&x->base);
    return rc;
}
