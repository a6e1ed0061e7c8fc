// linear(): every matrix product of the engine goes through here (linear.h).
// SPDX-License-Identifier: MIT
#include "engine/linear.h"

void linear_ctx_init(struct linear_ctx *c, const struct kern_ops *kern, int n_threads) {
    c->kern = kern ? kern : kern_best();
    c->n_threads = n_threads > 0 ? n_threads : 1;
    c->pool = NULL;
}

void linear(const struct linear_ctx *c, float *y, int64_t ldy, const struct wview *w,
            const float *x, int64_t n_tok) {
    JANUS_ASSERT(w->data && ldy >= w->n_out);
    if (n_tok <= 0 || w->n_out <= 0) return;
    c->kern->matmul[w->type](y, ldy, w->data, x, w->n_in, n_tok, 0, w->n_out);
}
