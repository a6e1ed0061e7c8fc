// Executor-independent parts of the executor interface (exec.h): batch validation against
// the deployment, and the KV-position mirror both executors check every step against.
// SPDX-License-Identifier: MIT
#include "runtime/exec.h"

#include "base/mem.h"
#include "base/status.h"

#include <string.h>

int exec_batch_check(const struct batch *b, const struct exec_info *info, char *err,
                     size_t err_len) {
    int rc = batch_check(b, info->max_seqs, info->n_vocab, info->n_ctx, err, err_len);
    if (rc) return rc;
    if (b->n_free > info->max_seqs || b->n_start > info->max_seqs)
        return status_errf(err, err_len, JANUS_EINVAL, "%d frees and %d starts for %d slots",
                           b->n_free, b->n_start, info->max_seqs);
    if (b->n_logits > info->max_seqs)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "%lld rows with logits (at most one per slot, %d)",
                           (long long)b->n_logits, info->max_seqs);
    return JANUS_OK;
}

int exec_kv_init(struct exec_kv *kv, const struct exec_info *info, int32_t max_rows) {
    memset(kv, 0, sizeof *kv);
    kv->len =
        mem_calloc(MEM_TAG_ENGINE, (size_t)info->n_attn * (size_t)info->max_seqs, sizeof *kv->len);
    if (!kv->len) return JANUS_ENOMEM;
    kv->n_attn = info->n_attn;
    kv->max_seqs = info->max_seqs;
    kv->max_rows = max_rows;
    return JANUS_OK;
}

void exec_kv_free(struct exec_kv *kv) {
    mem_free(kv->len);
    memset(kv, 0, sizeof *kv);
}

// Positions slot holds once b's frees and starts are applied.
static int32_t held_after_lists(const struct exec_kv *kv, int32_t i, const struct batch *b,
                                int32_t slot) {
    int32_t held = kv->len[i * kv->max_seqs + slot];
    for (int32_t k = 0; k < b->n_free; k++)
        held = b->free_seq[k] == slot ? 0 : held;
    for (int32_t k = 0; k < b->n_start; k++)
        held = b->start_seq[k] == slot ? 0 : held;
    return held;
}

int exec_kv_check(const struct exec_kv *kv, const struct exec_info *info,
                  const struct batch *batches, char *err, size_t err_len) {
    for (int32_t i = 0; i < kv->n_attn; i++) {
        const struct batch *b = &batches[i];
        int rc = exec_batch_check(b, info, err, err_len);
        if (rc) return rc;
        if (b->n > kv->max_rows)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "instance %d: %lld rows, more than the per-step budget %d", i,
                               (long long)b->n, kv->max_rows);
        // Within a run positions are consecutive (batch_check); each run must continue
        // its slot's KV exactly.
        for (int64_t r = 0; r < b->n; r++) {
            if (r > 0 && b->seq[r - 1] == b->seq[r]) continue;
            int32_t held = held_after_lists(kv, i, b, b->seq[r]);
            if (b->pos[r] != held)
                return status_errf(err, err_len, JANUS_EINVAL,
                                   "instance %d slot %d: position %d but the KV holds %d (a gap "
                                   "or a rewrite)",
                                   i, b->seq[r], b->pos[r], held);
        }
    }
    return JANUS_OK;
}

void exec_kv_commit(struct exec_kv *kv, const struct batch *batches) {
    for (int32_t i = 0; i < kv->n_attn; i++) {
        const struct batch *b = &batches[i];
        int32_t *len = kv->len + (size_t)i * (size_t)kv->max_seqs;
        for (int32_t k = 0; k < b->n_free; k++)
            len[b->free_seq[k]] = 0;
        for (int32_t k = 0; k < b->n_start; k++)
            len[b->start_seq[k]] = 0;
        for (int64_t r = 0; r < b->n; r++)
            len[b->seq[r]] = b->pos[r] + 1;
    }
}

int64_t exec_kv_used(const struct exec_kv *kv, int32_t i) {
    int64_t used = 0;
    for (int32_t s = 0; s < kv->max_seqs; s++)
        used += kv->len[i * kv->max_seqs + s];
    return used;
}
