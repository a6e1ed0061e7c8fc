// Executor-independent helpers of the executor interface (exec.h): batch validation and
// reset. Pure; no allocation.
// SPDX-License-Identifier: MIT
#include "runtime/exec.h"

#include "base/status.h"

#include <stdio.h>

void exec_batch_clear(struct exec_batch *b) {
    b->n_rows = 0;
    b->n_sample = 0;
    b->n_free = 0;
    b->n_start = 0;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        if (err && err_len) snprintf(err, err_len, __VA_ARGS__);                                   \
        return JANUS_EINVAL;                                                                       \
    } while (0)

int exec_batch_check(const struct exec_batch *b, const struct exec_info *info, char *err,
                     size_t err_len) {
    int32_t max_seqs = info->max_seqs;
    if (b->n_rows < 0 || b->n_rows > EXEC_MAX_ROWS) FAIL("n_rows %d out of range", b->n_rows);
    if (b->n_sample < 0 || b->n_sample > EXEC_MAX_SEQS)
        FAIL("n_sample %d out of range", b->n_sample);
    if (b->n_free < 0 || b->n_free > EXEC_MAX_SEQS) FAIL("n_free %d out of range", b->n_free);
    if (b->n_start < 0 || b->n_start > EXEC_MAX_SEQS) FAIL("n_start %d out of range", b->n_start);
    for (int32_t i = 0; i < b->n_free; i++)
        if (b->free_slots[i] < 0 || b->free_slots[i] >= max_seqs)
            FAIL("free_slots[%d] = %d out of range [0, %d)", i, b->free_slots[i], max_seqs);
    for (int32_t i = 0; i < b->n_start; i++)
        if (b->start_slots[i] < 0 || b->start_slots[i] >= max_seqs)
            FAIL("start_slots[%d] = %d out of range [0, %d)", i, b->start_slots[i], max_seqs);
    int32_t n_sampling_rows = 0;
    for (int32_t r = 0; r < b->n_rows; r++) {
        const struct exec_row *row = &b->rows[r];
        if (row->token < 0 || row->token >= info->n_vocab)
            FAIL("row %d: token %d out of range [0, %d)", r, row->token, info->n_vocab);
        if (row->slot < 0 || row->slot >= max_seqs)
            FAIL("row %d: slot %d out of range [0, %d)", r, row->slot, max_seqs);
        if (row->pos < 0 || row->pos >= info->n_ctx)
            FAIL("row %d: pos %d out of range [0, %d)", r, row->pos, info->n_ctx);
        if (r > 0 && b->rows[r - 1].slot == row->slot && b->rows[r - 1].pos + 1 != row->pos)
            FAIL("row %d: slot %d positions not consecutive (%d after %d)", r, row->slot, row->pos,
                 b->rows[r - 1].pos);
        // A slot's rows must be one consecutive run.
        if (r > 0 && b->rows[r - 1].slot != row->slot)
            for (int32_t q = 0; q < r - 1; q++)
                if (b->rows[q].slot == row->slot)
                    FAIL("row %d: slot %d appears in two runs", r, row->slot);
        if (row->i_sample != -1) {
            if (row->i_sample < 0 || row->i_sample >= b->n_sample)
                FAIL("row %d: i_sample %d out of range [0, %d)", r, row->i_sample, b->n_sample);
            if (b->samples[row->i_sample].row != r)
                FAIL("row %d: samples[%d].row is %d", r, row->i_sample,
                     b->samples[row->i_sample].row);
            n_sampling_rows++;
        }
    }
    if (n_sampling_rows != b->n_sample)
        FAIL("%d samples but %d rows reference one", b->n_sample, n_sampling_rows);
    for (int32_t k = 0; k < b->n_sample; k++) {
        const struct exec_sample *s = &b->samples[k];
        if (s->row < 0 || s->row >= b->n_rows) FAIL("samples[%d].row %d out of range", k, s->row);
        if (!(s->temperature >= 0.0f) || s->temperature > 100.0f)
            FAIL("samples[%d].temperature %g out of range [0, 100]", k, (double)s->temperature);
        if (!(s->top_p > 0.0f && s->top_p <= 1.0f))
            FAIL("samples[%d].top_p %g out of range (0, 1]", k, (double)s->top_p);
        if (s->top_k < 0) FAIL("samples[%d].top_k %d < 0", k, s->top_k);
    }
    return JANUS_OK;
}
