// The in-process monolithic executor (exec.h): one engine stepper (engine/stepper.h) runs
// every attention instance's local batch as one step — instance i's slot s is engine
// sequence i * max_seqs + s — with one MoE side holding every expert. Sampling per row
// through sampler_sample_at. Counts a_max per layer from the routing callback
// (one MoE instance: a_max = distinct experts activated). The reference the MPI executor is
// compared with. No allocation per step after create.
// SPDX-License-Identifier: MIT
#include "runtime/exec.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
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
    struct batch batch; // every instance's batch, instance i's slot s as sequence i*max_seqs+s
    struct sampler smp;
    struct exec_kv kv;
    struct exec_stats stats;
    uint8_t *seen; // (n_expert) scratch for counting distinct experts
    int64_t n_expert;
};

static void on_routing(void *user, int64_t step, int64_t layer, const int32_t *ids, int64_t n_tok,
                       int64_t k) {
    struct exec_mono *x = user;
    (void)step;
    if (layer < 0 || layer >= LIMIT_MAX_LAYERS) return;
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

static int run(struct exec_mono *x, const struct batch *batches, struct batch_result *results,
               float *logits_out) {
    const struct exec_info *info = &x->base.info;
    char why[JANUS_ERR_LEN];
    if (exec_kv_check(&x->kv, info, batches, why, sizeof why) != JANUS_OK) {
        LOG_WARN("monolithic executor: batch refused: %s", why);
        return JANUS_EINVAL;
    }
    int64_t t0 = clock_now_ns();
    batch_clear(&x->batch);
    for (int32_t i = 0; i < info->n_attn; i++) {
        int rc = batch_append(&x->batch, &batches[i], i * info->max_seqs);
        if (rc) return rc;
    }
    for (int32_t k = 0; k < x->batch.n_free; k++)
        stepper_seq_free(&x->st, x->batch.free_seq[k]);
    for (int32_t k = 0; k < x->batch.n_start; k++)
        stepper_seq_free(&x->st, x->batch.start_seq[k]);
    x->stats.activated_last[0] = 0;
    if (x->batch.n > 0) {
        int rc = stepper_step(&x->st, &x->batch);
        if (rc) return rc;
    }
    exec_kv_commit(&x->kv, batches);
    int64_t n_logits = 0, V = info->n_vocab;
    const float *lg = x->batch.n > 0 ? stepper_logits(&x->st, &n_logits) : NULL;
    JANUS_ASSERT(n_logits == x->batch.n_logits);
    // Logits rows come in batch order: instance 0's rows with logits, then instance 1's, ...
    int64_t k = 0;
    for (int32_t i = 0; i < info->n_attn; i++) {
        const struct batch *b = &batches[i];
        results[i].n_sample = (int32_t)b->n_logits;
        for (int64_t r = 0, j = 0; r < b->n; r++) {
            if (!b->logits[r]) continue;
            results[i].tokens[j] = sampler_sample_at(&x->smp, lg + k * V, &b->sample[j], b->pos[r]);
            j++;
            k++;
        }
    }
    if (logits_out && n_logits > 0) memcpy(logits_out, lg, (size_t)(n_logits * V) * sizeof(float));
    x->stats.n_steps++;
    x->stats.step_ns_total += (uint64_t)(clock_now_ns() - t0);
    return JANUS_OK;
}

static int mono_step(struct exec *e, const struct batch *b, struct batch_result *r) {
    return run((struct exec_mono *)e, b, r, NULL);
}

static int mono_step_logits(struct exec *e, const struct batch *b, struct batch_result *r,
                            float *logits) {
    return run((struct exec_mono *)e, b, r, logits);
}

static int mono_stats(struct exec *e, struct exec_stats *out) {
    struct exec_mono *x = (struct exec_mono *)e;
    *out = x->stats;
    for (int32_t i = 0; i < e->info.n_attn; i++)
        out->kv_used_tokens[i] = exec_kv_used(&x->kv, i);
    return JANUS_OK;
}

static void mono_destroy(struct exec *e) {
    struct exec_mono *x = (struct exec_mono *)e;
    sampler_free(&x->smp);
    batch_free(&x->batch);
    stepper_free(&x->st);
    model_free(&x->model);
    exec_kv_free(&x->kv);
    mem_free(x->seen);
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
    if (p->n_attn < 1 || p->n_attn > LIMIT_MAX_INSTANCES || p->max_seqs < 1 ||
        p->max_seqs > LIMIT_MAX_SEQS || p->max_rows < 1 || p->max_rows > LIMIT_MAX_STEP_ROWS ||
        p->n_ctx < 0 || p->n_ctx > LIMIT_MAX_CONTEXT)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "bad executor parameters (n_attn %d, max_seqs %d, max_rows %d)",
                           p->n_attn, p->max_seqs, p->max_rows);
    if (!linear_path_name(p->matmul))
        return status_errf(err, err_len, JANUS_EINVAL,
                           "bad numeric path %d (matmul: exact or int8)", p->matmul);
    struct exec_mono *x = mem_calloc(MEM_TAG_ENGINE, 1, sizeof *x);
    if (!x) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    int rc = model_load_ex(&x->model, p->model_path, &p->io, err, err_len);
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
    snprintf(info->matmul, sizeof info->matmul, "%s", linear_path_name(p->matmul));
    x->n_expert = hp->n_expert > 0 ? hp->n_expert : 1;
    x->stats.n_layer = (int32_t)hp->n_layer; // <= LIMIT_MAX_LAYERS (hparams)
    x->stats.n_moe = 1;
    x->stats.n_attn = p->n_attn;
    int64_t n_seq = (int64_t)p->n_attn * p->max_seqs;
    struct stepper_params sp = {.max_tokens = (int64_t)p->n_attn * p->max_rows,
                                .n_seq = n_seq,
                                .max_ctx = n_ctx,
                                .max_logits = n_seq,
                                .kv_type = p->kv_type,
                                .matmul = p->matmul,
                                .n_threads = p->n_threads > 0 ? p->n_threads : 1};
    struct sampler_params smp_p = {.temp = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 0};
    x->seen = mem_alloc(MEM_TAG_ENGINE, (size_t)x->n_expert);
    if (!x->seen || exec_kv_init(&x->kv, info, p->max_rows) != JANUS_OK) {
        rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
        goto fail;
    }
    rc = stepper_init(&x->st, &x->model, &sp);
    if (rc == JANUS_OK) rc = batch_init(&x->batch, JANUS_MAX(sp.max_tokens, n_seq));
    if (rc == JANUS_OK) rc = sampler_init(&x->smp, hp->n_vocab, &smp_p);
    if (rc) {
        status_errf(err, err_len, rc, "engine init: %s", janus_strerror(rc));
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
