// Monolithic step (stepper.h).
// The single-process reference the disaggregated run must match (SPEC §3).
// SPDX-License-Identifier: MIT
#include "engine/stepper.h"

#include "base/clock.h"
#include "base/mem.h"
#include "base/status.h"

#include <string.h>

int stepper_init(struct stepper *st, const struct model *m, const struct stepper_params *p) {
    memset(st, 0, sizeof *st);
    const struct hparams *hp = &m->hp;
    if (p->max_tokens < 1 || p->n_seq < 1 || p->max_ctx < 1 || p->max_logits < 0)
        return JANUS_EINVAL;
    st->m = m;
    linear_ctx_init(&st->lin, p->kern, p->n_threads);
    int rc = linear_ctx_set_path(&st->lin, p->matmul);
    if (rc != JANUS_OK) goto fail;
    st->max_logits = p->max_logits ? p->max_logits : p->max_tokens;
    struct attn_params ap = {.max_tokens = p->max_tokens,
                             .n_seq = p->n_seq,
                             .max_ctx = p->max_ctx,
                             .page_size = p->page_size,
                             .n_pages = p->n_pages,
                             .kv_type = p->kv_type};
    rc = attn_init(&st->attn, m, &st->lin, &ap);
    if (rc != JANUS_OK) goto fail;
    if (hp->n_expert > 0) {
        rc = moe_init(&st->moe, m, &st->lin, p->max_tokens);
        if (rc == JANUS_OK) rc = moe_routing_init(&st->routing, m, p->max_tokens);
        if (rc != JANUS_OK) goto fail;
    }
    rc = JANUS_ENOMEM;
    st->moe_out = mem_alloc(MEM_TAG_ENGINE, (size_t)(p->max_tokens * hp->n_embd) * sizeof(float));
    st->logits = mem_alloc(MEM_TAG_ENGINE, (size_t)(st->max_logits * hp->n_vocab) * sizeof(float));
    if (!st->moe_out || !st->logits) goto fail;
    return JANUS_OK;
fail:
    stepper_free(st);
    return rc;
}

void stepper_free(struct stepper *st) {
    attn_free(&st->attn);
    moe_free(&st->moe);
    moe_routing_free(&st->routing);
    mem_free(st->moe_out);
    mem_free(st->logits);
    linear_ctx_free(&st->lin);
    memset(st, 0, sizeof *st);
}

void stepper_set_routing_cb(struct stepper *st, stepper_routing_fn fn, void *user) {
    st->on_routing = fn;
    st->on_routing_user = user;
}

int stepper_step(struct stepper *st, const struct batch *b) {
    const struct model *m = st->m;
    const int64_t nl = batch_n_logits(b);
    if (nl > st->max_logits) return JANUS_ELIMIT;
    int rc = attn_step_begin(&st->attn, b);
    if (rc != JANUS_OK) return rc;
    for (int64_t l = 0; l < m->hp.n_layer; l++) {
        if (!attn_layer_begin(&st->attn, l)) continue;
        const float *x = attn_x(&st->attn);
        const int64_t t0 = clock_now_ns();
        moe_gate(&st->moe, l, x, b->n, &st->routing);
        if (st->on_routing)
            st->on_routing(st->on_routing_user, st->step, l, st->routing.ids, b->n, st->routing.k);
        const int64_t t1 = clock_now_ns();
        attn_layer_shared(&st->attn, l);
        const int64_t t2 = clock_now_ns();
        moe_experts(&st->moe, l, x, b->n, &st->routing, NULL, st->moe_out);
        st->moe_ns += (t1 - t0) + (clock_now_ns() - t2);
        attn_layer_end(&st->attn, l, st->moe_out);
    }
    attn_logits(&st->attn, st->logits);
    attn_step_end(&st->attn);
    st->n_logits = nl;
    st->step++;
    return JANUS_OK;
}

const float *stepper_logits(const struct stepper *st, int64_t *n_out) {
    if (n_out) *n_out = st->n_logits;
    return st->logits;
}

void stepper_seq_free(struct stepper *st, int64_t seq) { attn_seq_free(&st->attn, seq); }
