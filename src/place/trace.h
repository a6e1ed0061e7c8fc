// Routing traces (SPEC §6, docs/FORMATS.md): the top-k logical experts of every token of
// every (step, layer), in memory and as a text file ("step S layer L" starts a block,
// then one line per token with its k expert ids; blank lines and '#' comments ignored).
// Also: a streaming writer for the engine (--record-routing), a seeded synthetic
// generator (Zipf skew, co-activation groups, drift) and a sampler for Monte Carlo.
// File I/O only in trace_load/trace_save and the trace_writer_* functions.
// SPDX-License-Identifier: MIT
#ifndef JANUS_TRACE_H
#define JANUS_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "base/rng.h"

// ---- in memory
struct trace_block {
    int64_t step;  // step number as written (>= 0)
    int32_t layer; // layer index (>= 0)
    int64_t n_tok; // tokens in the block (may be 0)
    int64_t off;   // first token of the block in trace.ids (in tokens; ids + off * top_k)
};

struct trace {
    int32_t top_k;      // k, same for every token of the trace (0 while empty)
    int32_t max_expert; // largest expert id seen (-1 while empty)
    int64_t n_blocks, cap_blocks;
    struct trace_block *blocks; // (n_blocks) in file order
    int64_t n_tok, cap_tok;     // tokens over all blocks
    int32_t *ids;               // (n_tok, top_k) logical expert ids
};

// A zeroed struct trace is empty and valid. trace_free releases it and zeroes it.
void trace_free(struct trace *t);
// Appends a block (copies ids (n_tok, k)). The first block fixes top_k; later blocks must
// match. JANUS_OK; JANUS_EINVAL (k mismatch or < 1, negative step/layer/id: nothing
// appended); JANUS_ELIMIT (n_tok > LIMIT_MAX_BATCH, k > LIMIT_MAX_EXPERT_USED, or the
// trace would exceed 2^31 ids); JANUS_ENOMEM.
JANUS_WUR int trace_append_block(struct trace *t, int64_t step, int32_t layer, const int32_t *ids,
                                 int64_t n_tok, int32_t top_k);
// ids of block i ((n_tok, top_k)); i asserted in range. Valid until the trace changes.
static inline const int32_t *trace_block_ids(const struct trace *t, int64_t i) {
    return t->ids + t->blocks[i].off * t->top_k;
}
// Largest layer index in the trace, -1 if empty.
int32_t trace_max_layer(const struct trace *t);

// ---- text format
// Parses text (len bytes). Every problem is JANUS_EFORMAT with "line N: reason" in err
// (bad header, non-integer or negative id, token line before any header, k differing from
// the first token line, id > LIMIT_MAX_EXPERTS); JANUS_ELIMIT (a block over
// LIMIT_MAX_BATCH tokens); JANUS_ENOMEM. *t must be empty; on failure it is left empty.
JANUS_WUR int trace_parse(struct trace *t, const char *text, size_t len, char *err, size_t err_len);
// Reads and parses a file (at most 1 GiB). Also JANUS_EIO.
JANUS_WUR int trace_load(struct trace *t, const char *path, char *err, size_t err_len);
// Writes the whole trace in the text format. JANUS_OK or JANUS_EIO.
JANUS_WUR int trace_save(const struct trace *t, const char *path);

// ---- streaming writer (engine: janus generate --record-routing FILE)
struct trace_writer {
    FILE *f;       // open output (NULL when closed)
    int32_t top_k; // fixed by the first block (0 before)
    int status;    // first error seen (sticky), JANUS_OK otherwise
};
// Creates/truncates path and writes a header comment. JANUS_OK or JANUS_EIO (w zeroed).
JANUS_WUR int trace_writer_open(struct trace_writer *w, const char *path);
// Appends "step S layer L" and n_tok lines of k ids. Not thread-safe (one writer per
// process; call from the thread that owns the step). JANUS_OK; JANUS_EINVAL (k differs
// from the first block, or a negative id); JANUS_EIO (sticky: later calls fail too).
JANUS_WUR int trace_writer_append_block(struct trace_writer *w, int64_t step, int32_t layer,
                                        const int32_t *ids, int64_t n_tok, int32_t top_k);
// Appends "# text" as one comment line (text must not contain a newline: JANUS_EINVAL).
// JANUS_OK or JANUS_EIO (sticky, as above).
JANUS_WUR int trace_writer_comment(struct trace_writer *w, const char *text);
// Flushes and closes; returns the first error of the writer's life (JANUS_OK, JANUS_EIO).
// Safe on a zeroed or already closed writer.
JANUS_WUR int trace_writer_close(struct trace_writer *w);

// ---- synthetic generator
struct trace_gen_params {
    int32_t n_experts;   // E (default 64)
    int32_t top_k;       // k (default 6), <= E
    int32_t n_layers;    // MoE layers per step, written as layers 0..n_layers-1 (default 1)
    int64_t n_steps;     // steps (default 100)
    int64_t batch;       // tokens per step (default 64)
    double zipf;         // Zipf exponent s of expert popularity; 0 = uniform (default 1.0)
    int32_t group_size;  // co-activation group size; 0 or 1 = no groups (default 0)
    double p_group;      // probability a choice is drawn from the token's group (default 0.5)
    int32_t hot_groups;  // groups active in one step; each token picks one of them (default 2)
    double drift;        // popularity rank shift per step (0.01 = one rank per 100 steps)
    uint64_t model_seed; // the "model": popularity permutation per layer (default 1); keep it
                         // fixed and vary seed to get train/test traces of the same model
    uint64_t seed;       // sampling of hot groups and tokens (default 1)
};
void trace_gen_default_params(struct trace_gen_params *p);
// Generates a trace (appends to *t, which must be empty). Deterministic in the params.
// Model: per layer a random permutation (from model_seed) maps popularity rank -> expert; at step s
// the expert of rank r is perm[(r + floor(drift * s)) mod E]; Zipf weight (r+1)^-zipf.
// Experts are split into groups of group_size consecutive ranks; each step draws
// hot_groups groups (Zipf over groups' total weight), each token picks one of them, and
// each of its k distinct choices comes from that group with probability p_group (by
// Zipf weight within the group) or else from all experts.
// JANUS_OK; JANUS_EINVAL (a parameter out of range: err says which); JANUS_ELIMIT;
// JANUS_ENOMEM.
JANUS_WUR int trace_generate(struct trace *t, const struct trace_gen_params *p, char *err,
                             size_t err_len);

// Samples n_tok tokens of k distinct experts each, expert e drawn with probability
// proportional to w[e] (w: (E), non-negative, at least k positive), without replacement
// within a token. cdf: scratch (E). out: (n_tok, k). For Monte Carlo a_max (SPEC §7).
// JANUS_OK or JANUS_EINVAL (fewer than k positive weights, bad sizes). No allocation.
JANUS_WUR int trace_sample_tokens(struct rng *r, const double *w, int32_t n_experts, int32_t top_k,
                                  int64_t n_tok, double *cdf, int32_t *out);

#endif // JANUS_TRACE_H
