// The embeddable C API (include/janus.h) over the monolithic engine: a model handle wraps
// struct model + struct vocab; a session wraps one stepper (KV cache for n_seq sequences),
// one batch, each sequence's last logits and its own sampler. Everything is allocated at
// open/create; decode, sample and generate allocate only per-call prompt/piece buffers in
// janus_generate. No partial effects: failures roll back sequence length and logits.
// SPEC §9 (models), §10 (generation).
// SPDX-License-Identifier: MIT
#include "base/limits.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/gguf_keys.h"
#include "engine/stepper.h"
#include "kernels/kernels.h"
#include "model/sampler.h"
#include "model/vocab.h"
#include "model/weights.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

// ---- status codes: janus.h carries a copy of enum janus_status (it cannot include src/).
// Read that copy under other names and check each value against base/status.h.
#define janus_status       JANUS_COPY_status
#define JANUS_OK           JANUS_COPY_OK
#define JANUS_ENOMEM       JANUS_COPY_ENOMEM
#define JANUS_EINVAL       JANUS_COPY_EINVAL
#define JANUS_EFORMAT      JANUS_COPY_EFORMAT
#define JANUS_EPROTO       JANUS_COPY_EPROTO
#define JANUS_ELIMIT       JANUS_COPY_ELIMIT
#define JANUS_EIO          JANUS_COPY_EIO
#define JANUS_ECOMM        JANUS_COPY_ECOMM
#define JANUS_EAGAIN       JANUS_COPY_EAGAIN
#define JANUS_ECANCELED    JANUS_COPY_ECANCELED
#define JANUS_EUNSUPPORTED JANUS_COPY_EUNSUPPORTED
#define JANUS_ENOTFOUND    JANUS_COPY_ENOTFOUND
#undef JANUS_STATUS_H
#include "janus.h"
#undef janus_status
#undef JANUS_OK
#undef JANUS_ENOMEM
#undef JANUS_EINVAL
#undef JANUS_EFORMAT
#undef JANUS_EPROTO
#undef JANUS_ELIMIT
#undef JANUS_EIO
#undef JANUS_ECOMM
#undef JANUS_EAGAIN
#undef JANUS_ECANCELED
#undef JANUS_EUNSUPPORTED
#undef JANUS_ENOTFOUND

#define JANUS_SAME(x) _Static_assert((int)JANUS_COPY_##x == (int)JANUS_##x, "janus.h: " #x)
JANUS_SAME(OK);
JANUS_SAME(ENOMEM);
JANUS_SAME(EINVAL);
JANUS_SAME(EFORMAT);
JANUS_SAME(EPROTO);
JANUS_SAME(ELIMIT);
JANUS_SAME(EIO);
JANUS_SAME(ECOMM);
JANUS_SAME(EAGAIN);
JANUS_SAME(ECANCELED);
JANUS_SAME(EUNSUPPORTED);
JANUS_SAME(ENOTFOUND);
_Static_assert(JANUS_ENOTFOUND == -11, "new status codes must be added to include/janus.h");
_Static_assert((int)JANUS_KV_F32 == (int)KERN_KV_F32 && (int)JANUS_KV_F16 == (int)KERN_KV_F16 &&
                   (int)JANUS_KV_Q8_0 == (int)KERN_KV_Q8_0 && KERN_KV_COUNT == 3,
               "enum janus_kv_type must match enum kern_kvtype");
_Static_assert((int)JANUS_MATMUL_DEFAULT == (int)LINEAR_PATH_DEFAULT &&
                   (int)JANUS_MATMUL_EXACT == (int)LINEAR_EXACT &&
                   (int)JANUS_MATMUL_INT8 == (int)LINEAR_INT8 && LINEAR_PATH_COUNT == 3,
               "enum janus_matmul must match enum linear_path");
_Static_assert(JANUS_MAX_TEXT == VOCAB_MAX_TEXT, "janus.h's text limit is the tokenizer's");

// ---- handles
struct janus_model {
    struct model m;
    struct vocab voc; // zeroed when has_vocab == 0
    int has_vocab;
    int vocab_only;        // only voc is loaded (janus_model_params.vocab_only)
    char name[128];        // general.name, NUL-terminated
    atomic_int n_sessions; // live sessions (closing with any is a bug)
};

struct janus_session {
    struct janus_model *model;
    int32_t n_seq, n_ctx, n_batch;
    int64_t n_vocab;
    int all_logits; // janus_session_decode_all allowed (stepper keeps n_batch logits rows)
    struct stepper st;
    struct batch b;
    float *logits;                       // (n_seq, n_vocab) last logits of each sequence
    uint8_t *has_logits;                 // (n_seq)
    struct sampler *smp;                 // (n_seq) one sampler (rng stream) per sequence
    struct janus_sampling_params *smp_p; // (n_seq) params the stream was started with
    uint8_t *smp_live;                   // (n_seq) stream started since create / reset
};

// ---- model
_Static_assert(JANUS_MMAP_DEFAULT == FMAP_DEFAULT && JANUS_MMAP_ON == FMAP_MMAP &&
                   JANUS_MMAP_OFF == FMAP_READ,
               "janus.h memory modes are base/fmap.h's");

struct janus_model_params janus_model_default_params(void) {
    return (struct janus_model_params){.require_vocab = 0};
}

// "<path>: <why>" unless why already starts with the path (the GGUF reader's messages do).
static int open_err(char *err, size_t err_len, int rc, const char *path, const char *why) {
    if (!why[0]) why = janus_strerror(rc);
    if (!strncmp(why, path, strlen(path))) return status_errf(err, err_len, rc, "%s", why);
    return status_errf(err, err_len, rc, "%s: %s", path, why);
}

// Only the tokenizer: the GGUF is closed again once the vocab holds its copies.
static int open_vocab_only(struct janus_model *jm, const char *path, char *msg, size_t msg_len) {
    struct gguf g;
    int rc = gguf_open(&g, path, msg, msg_len);
    if (rc != JANUS_OK) return rc;
    rc = vocab_load(&jm->voc, &g, msg, msg_len);
    gguf_close(&g);
    jm->has_vocab = rc == JANUS_OK;
    jm->vocab_only = 1;
    return rc;
}

int janus_model_open(const char *path, const struct janus_model_params *params,
                     janus_model_t **model, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!path || !model)
        return status_errf(err, err_len, JANUS_EINVAL, "%s",
                           !path ? "model path is NULL" : "model out-parameter is NULL");
    const struct janus_model_params p = params ? *params : janus_model_default_params();
    struct janus_model *jm = mem_calloc(MEM_TAG_MODEL, 1, sizeof *jm);
    if (!jm) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    char msg[JANUS_ERR_LEN] = "";
    if (p.vocab_only) {
        int rc = open_vocab_only(jm, path, msg, sizeof msg);
        if (rc != JANUS_OK) {
            mem_free(jm);
            return open_err(err, err_len, rc, path, msg);
        }
        atomic_init(&jm->n_sessions, 0);
        *model = jm;
        return JANUS_OK;
    }
    if (p.mmap < JANUS_MMAP_DEFAULT || p.mmap > JANUS_MMAP_OFF) {
        mem_free(jm);
        return status_errf(err, err_len, JANUS_EINVAL,
                           "janus_model_params.mmap is %d (expected 0 default, 1 on, 2 off)",
                           (int)p.mmap);
    }
    const struct fmap_opts io = {.mode = p.mmap, .lock = p.mlock != 0, .progress = p.progress != 0};
    int rc = model_load_ex(&jm->m, path, &io, msg, sizeof msg);
    if (rc != JANUS_OK) {
        mem_free(jm);
        return open_err(err, err_len, rc, path, msg);
    }
    rc = vocab_load(&jm->voc, &jm->m.gguf, msg, sizeof msg);
    if (rc == JANUS_OK) {
        jm->has_vocab = 1;
    } else if (p.require_vocab || rc == JANUS_ENOMEM) {
        model_free(&jm->m);
        mem_free(jm);
        return status_errf(err, err_len, rc, "%s: tokenizer: %s", path, msg);
    }
    struct gguf_str s;
    if (gguf_get_str(&jm->m.gguf, gguf_key_name(GGUF_KEY_GENERAL_NAME), &s, msg, sizeof msg) ==
        JANUS_OK) {
        const size_t n = s.len < sizeof jm->name ? (size_t)s.len : sizeof jm->name - 1;
        memcpy(jm->name, s.ptr, n);
        jm->name[n] = '\0';
    }
    atomic_init(&jm->n_sessions, 0);
    *model = jm;
    return JANUS_OK;
}

void janus_model_close(janus_model_t **model) {
    if (!model || !*model) return;
    struct janus_model *jm = *model;
    const int live = atomic_load(&jm->n_sessions);
    if (live != 0) JANUS_PANIC("janus_model_close: %d session(s) still use the model", live);
    vocab_free(&jm->voc);
    if (!jm->vocab_only) model_free(&jm->m);
    mem_free(jm);
    *model = NULL;
}

int janus_model_info(const janus_model_t *model, struct janus_model_info *info) {
    if (!model || !info) return JANUS_EINVAL;
    if (model->vocab_only) {
        *info = (struct janus_model_info){.arch = "",
                                          .name = "",
                                          .n_vocab = model->voc.n_tokens,
                                          .has_vocab = 1,
                                          .token_bos = model->voc.bos,
                                          .token_eos = model->voc.eos};
        return JANUS_OK;
    }
    const struct hparams *hp = &model->m.hp;
    *info = (struct janus_model_info){
        .arch = hp->arch->name,
        .name = model->name,
        .n_vocab = hp->n_vocab,
        .n_ctx_train = hp->n_ctx_train,
        .n_embd = hp->n_embd,
        .n_layer = hp->n_layer,
        .n_head = hp->n_head,
        .n_head_kv = hp->n_head_kv,
        .n_expert = hp->n_expert,
        .n_expert_used = hp->n_expert_used,
        .n_expert_shared = hp->n_expert_shared,
        .n_layer_dense = hp->n_expert > 0 ? hp->n_dense_lead : hp->n_layer,
        .n_bytes = model->m.n_bytes_weights,
        .has_vocab = model->has_vocab,
        .token_bos = model->has_vocab ? model->voc.bos : -1,
        .token_eos = model->has_vocab ? model->voc.eos : -1,
    };
    return JANUS_OK;
}

// ---- tokenizer
int janus_tokenize(const janus_model_t *model, const char *text, size_t len, int add_special,
                   int parse_special, int32_t *tokens, int32_t cap) {
    if (!model || (!text && len > 0) || (!tokens && cap > 0) || cap < 0) return JANUS_EINVAL;
    if (!model->has_vocab) return JANUS_EUNSUPPORTED;
    if (len > VOCAB_MAX_TEXT) return JANUS_ELIMIT;
    int32_t dummy;
    return vocab_tokenize(&model->voc, text ? text : "", len, add_special != 0, parse_special != 0,
                          tokens ? tokens : &dummy, cap);
}

int janus_token_to_piece(const janus_model_t *model, int32_t token, int special, char *buf,
                         size_t cap) {
    if (!model || (!buf && cap > 0)) return JANUS_EINVAL;
    if (!model->has_vocab) return JANUS_EUNSUPPORTED;
    char dummy;
    return vocab_token_to_piece(&model->voc, token, special != 0, buf ? buf : &dummy, cap);
}

// ---- session
struct janus_session_params janus_session_default_params(void) {
    return (struct janus_session_params){.n_seq = 1, .n_ctx = 2048, .n_batch = 512, .n_threads = 1};
}

const char *janus_kv_type_name(int32_t kv_type) { return kern_kvtype_name(kv_type); }

const char *janus_matmul_name(int32_t matmul) { return linear_path_name(matmul); }

struct janus_sampling_params janus_sampling_default_params(void) {
    return (struct janus_sampling_params){
        .temperature = 0.0f, .top_k = 0, .top_p = 1.0f, .seed = 42};
}

static void session_free(struct janus_session *s) {
    if (s->smp)
        for (int32_t i = 0; i < s->n_seq; i++)
            sampler_free(&s->smp[i]);
    mem_free(s->smp);
    mem_free(s->smp_p);
    mem_free(s->smp_live);
    mem_free(s->has_logits);
    mem_free(s->logits);
    batch_free(&s->b);
    stepper_free(&s->st);
    mem_free(s);
}

int janus_session_create(janus_model_t *model, const struct janus_session_params *params,
                         janus_session_t **session) {
    if (!model || !session) return JANUS_EINVAL;
    if (model->vocab_only) return JANUS_EUNSUPPORTED;
    const struct janus_session_params p = params ? *params : janus_session_default_params();
    if (p.n_seq < 1 || p.n_seq > LIMIT_MAX_BATCH || p.n_ctx < 1 || p.n_ctx > LIMIT_MAX_CONTEXT ||
        p.n_batch < 1 || p.n_batch > LIMIT_MAX_BATCH || p.n_threads < 1 || p.n_threads > 1024 ||
        !kern_kvtype_name(p.kv_type) || !linear_path_name(p.matmul))
        return JANUS_EINVAL;
    struct janus_session *s = mem_calloc(MEM_TAG_ENGINE, 1, sizeof *s);
    if (!s) return JANUS_ENOMEM;
    s->model = model;
    s->n_seq = p.n_seq;
    s->n_ctx = p.n_ctx;
    s->n_batch = p.n_batch;
    s->n_vocab = model->m.hp.n_vocab;
    s->all_logits = p.all_logits != 0;
    const struct stepper_params sp = {.max_tokens = p.n_batch,
                                      .n_seq = p.n_seq,
                                      .max_ctx = p.n_ctx,
                                      .max_logits = s->all_logits ? p.n_batch : 1,
                                      .kv_type = p.kv_type,
                                      .matmul = p.matmul,
                                      .n_threads = p.n_threads};
    int rc = stepper_init(&s->st, &model->m, &sp);
    if (rc == JANUS_OK) rc = batch_init(&s->b, p.n_batch);
    if (rc != JANUS_OK) goto fail;
    rc = JANUS_ENOMEM;
    s->logits = mem_calloc(MEM_TAG_ENGINE, (size_t)p.n_seq * (size_t)s->n_vocab, sizeof(float));
    s->has_logits = mem_calloc(MEM_TAG_ENGINE, (size_t)p.n_seq, 1);
    s->smp_live = mem_calloc(MEM_TAG_ENGINE, (size_t)p.n_seq, 1);
    s->smp_p = mem_calloc(MEM_TAG_ENGINE, (size_t)p.n_seq, sizeof *s->smp_p);
    s->smp = mem_calloc(MEM_TAG_ENGINE, (size_t)p.n_seq, sizeof *s->smp);
    if (!s->logits || !s->has_logits || !s->smp_live || !s->smp_p || !s->smp) goto fail;
    const struct sampler_params greedy = {.temp = 0.0f, .top_k = 0, .top_p = 1.0f, .seed = 42};
    for (int32_t i = 0; i < p.n_seq; i++) {
        rc = sampler_init(&s->smp[i], s->n_vocab, &greedy);
        if (rc != JANUS_OK) goto fail;
    }
    atomic_fetch_add(&model->n_sessions, 1);
    *session = s;
    return JANUS_OK;
fail:
    session_free(s);
    return rc;
}

void janus_session_destroy(janus_session_t **session) {
    if (!session || !*session) return;
    struct janus_session *s = *session;
    atomic_fetch_sub(&s->model->n_sessions, 1);
    session_free(s);
    *session = NULL;
}

static int64_t seq_len(const struct janus_session *s, int32_t seq) {
    return kvcache_seq_len(&s->st.attn.kv, seq);
}

// Feeds tokens to seq in steps of n_batch; logits of the last token into the sequence's row,
// and (all: not NULL) every token's logits into all (n · n_vocab). Arguments already
// checked. On failure the sequence is rolled back to its old length and keeps its old
// logits (the row is written only after the last step succeeded).
static int seq_decode(struct janus_session *s, int32_t seq, const int32_t *tokens, int64_t n,
                      float *all) {
    const int64_t n_past = seq_len(s, seq);
    if (n > s->n_ctx - n_past) return JANUS_ELIMIT;
    int rc = JANUS_OK;
    for (int64_t off = 0; off < n && rc == JANUS_OK; off += s->n_batch) {
        const int64_t m = JANUS_MIN((int64_t)s->n_batch, n - off);
        batch_clear(&s->b);
        for (int64_t i = 0; i < m && rc == JANUS_OK; i++)
            rc = batch_add(&s->b, tokens[off + i], seq, (int32_t)(n_past + off + i),
                           all || off + i == n - 1);
        if (rc == JANUS_OK) rc = stepper_step(&s->st, &s->b);
        if (rc == JANUS_OK && all)
            memcpy(all + (size_t)off * (size_t)s->n_vocab, stepper_logits(&s->st, NULL),
                   (size_t)m * (size_t)s->n_vocab * sizeof(float));
    }
    if (rc != JANUS_OK) {
        kvcache_seq_set_len(&s->st.attn.kv, seq, n_past);
        return rc;
    }
    int64_t n_rows = 0;
    const float *lg = stepper_logits(&s->st, &n_rows);
    memcpy(s->logits + (size_t)seq * (size_t)s->n_vocab, lg + (size_t)(n_rows - 1) * s->n_vocab,
           (size_t)s->n_vocab * sizeof(float));
    s->has_logits[seq] = 1;
    return JANUS_OK;
}

int janus_session_decode(janus_session_t *session, int32_t seq, const int32_t *tokens,
                         int32_t n_tokens, const float **logits) {
    struct janus_session *s = session;
    if (!s || !tokens || seq < 0 || seq >= s->n_seq || n_tokens < 1) return JANUS_EINVAL;
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= s->n_vocab) return JANUS_EINVAL;
    const int rc = seq_decode(s, seq, tokens, n_tokens, NULL);
    if (rc == JANUS_OK && logits) *logits = s->logits + (size_t)seq * (size_t)s->n_vocab;
    return rc;
}

int janus_session_decode_all(janus_session_t *session, int32_t seq, const int32_t *tokens,
                             int32_t n_tokens, float *out) {
    struct janus_session *s = session;
    if (!s || !s->all_logits || !tokens || !out || seq < 0 || seq >= s->n_seq || n_tokens < 1)
        return JANUS_EINVAL;
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= s->n_vocab) return JANUS_EINVAL;
    return seq_decode(s, seq, tokens, n_tokens, out);
}

static int sampling_check(const struct janus_sampling_params *p) {
    if (p->top_k < 0 || !(p->top_p > 0.0f && p->top_p <= 1.0f) || isnan(p->temperature))
        return JANUS_EINVAL;
    return JANUS_OK;
}

static int sampling_same(const struct janus_sampling_params *a,
                         const struct janus_sampling_params *b) {
    return a->temperature == b->temperature && a->top_k == b->top_k && a->top_p == b->top_p &&
           a->seed == b->seed;
}

// Samples from seq's logits with its stream, (re)started from p when new or changed.
// Arguments already checked; seq has logits.
static int32_t seq_sample(struct janus_session *s, int32_t seq,
                          const struct janus_sampling_params *p) {
    struct sampler *smp = &s->smp[seq];
    if (!s->smp_live[seq] || !sampling_same(&s->smp_p[seq], p)) {
        smp->p = (struct sampler_params){
            .temp = p->temperature, .top_k = p->top_k, .top_p = p->top_p, .seed = p->seed};
        rng_init(&smp->rng, p->seed);
        s->smp_p[seq] = *p;
        s->smp_live[seq] = 1;
    }
    return sampler_sample(smp, s->logits + (size_t)seq * (size_t)s->n_vocab);
}

int janus_session_sample(janus_session_t *session, int32_t seq,
                         const struct janus_sampling_params *params, int32_t *token) {
    struct janus_session *s = session;
    if (!s || !token || seq < 0 || seq >= s->n_seq || !s->has_logits[seq]) return JANUS_EINVAL;
    const struct janus_sampling_params p = params ? *params : janus_sampling_default_params();
    if (sampling_check(&p) != JANUS_OK) return JANUS_EINVAL;
    *token = seq_sample(s, seq, &p);
    return JANUS_OK;
}

void janus_session_set_routing_fn(janus_session_t *session, janus_routing_fn fn, void *user) {
    if (session) stepper_set_routing_cb(&session->st, fn, user);
}

int32_t janus_seq_length(const janus_session_t *session, int32_t seq) {
    if (!session || seq < 0 || seq >= session->n_seq) return JANUS_EINVAL;
    return (int32_t)seq_len(session, seq);
}

int janus_seq_reset(janus_session_t *session, int32_t seq) {
    struct janus_session *s = session;
    if (!s || seq < 0 || seq >= s->n_seq) return JANUS_EINVAL;
    stepper_seq_free(&s->st, seq);
    s->has_logits[seq] = 0;
    s->smp_live[seq] = 0;
    return JANUS_OK;
}

// ---- generation
// Sequence state janus_generate restores on an engine failure midway.
struct seq_saved {
    int64_t len;
    int has_logits, smp_live;
    struct janus_sampling_params smp_p;
    struct sampler smp; // p and rng only (cand is shared scratch)
};

// The generation loop, on checked arguments: toks[0 .. n_prompt) are appended to seq, then up
// to max_tokens tokens sampled, passed to on_token and fed back. piece: scratch of piece_cap
// bytes (detokenizer output). Everything that can fail on the caller's input was checked.
static int generate(struct janus_session *s, int32_t seq, const int32_t *toks, int n_prompt,
                    const struct janus_sampling_params *sp, int32_t max_tokens, int ignore_eos,
                    janus_token_fn on_token, void *user, int32_t *n_generated, char *piece,
                    size_t piece_cap, float *saved_logits) {
    const struct janus_model *jm = s->model;
    const int32_t eos = jm->has_vocab && !ignore_eos ? jm->voc.eos : -1;
    float *row = s->logits + (size_t)seq * (size_t)s->n_vocab;
    struct seq_saved sv = {.len = seq_len(s, seq),
                           .has_logits = s->has_logits[seq],
                           .smp_live = s->smp_live[seq],
                           .smp_p = s->smp_p[seq],
                           .smp = s->smp[seq]};
    memcpy(saved_logits, row, (size_t)s->n_vocab * sizeof(float));
    int rc = n_prompt > 0 ? seq_decode(s, seq, toks, n_prompt, NULL) : JANUS_OK;
    int32_t n_out = 0;
    struct vocab_detok det = {0};
    int stop = 0;
    while (rc == JANUS_OK) {
        const int32_t id = seq_sample(s, seq, sp);
        if (id == eos) {
            if (on_token) (void)on_token(user, id, piece, 0);
            break;
        }
        n_out++;
        int nb = jm->has_vocab ? vocab_detok_push(&jm->voc, &det, id, 0, piece, piece_cap) : 0;
        if (nb < 0) {
            rc = nb;
            break;
        }
        if (on_token && on_token(user, id, piece, (size_t)nb) != 0) stop = 1;
        // Fed back even when it is the last: the sequence then holds all the text emitted.
        rc = seq_decode(s, seq, &id, 1, NULL);
        if (stop || n_out == max_tokens) break;
    }
    if (rc != JANUS_OK) {
        // Not expected after the checks; restore the sequence as documented.
        kvcache_seq_set_len(&s->st.attn.kv, seq, sv.len);
        memcpy(row, saved_logits, (size_t)s->n_vocab * sizeof(float));
        s->has_logits[seq] = (uint8_t)sv.has_logits;
        s->smp_live[seq] = (uint8_t)sv.smp_live;
        s->smp_p[seq] = sv.smp_p;
        s->smp[seq].p = sv.smp.p;
        s->smp[seq].rng = sv.smp.rng;
        return rc;
    }
    (void)vocab_detok_end(&det); // an incomplete character at the end is dropped
    if (n_generated) *n_generated = n_out;
    return stop ? JANUS_ECANCELED : JANUS_OK;
}

// The checks janus_generate and janus_generate_tokens share once the prompt is in tokens,
// then the loop. toks may be NULL when n_prompt is 0.
static int generate_checked(struct janus_session *s, int32_t seq, const int32_t *toks, int n_prompt,
                            const struct janus_sampling_params *sp, int32_t max_tokens,
                            int ignore_eos, janus_token_fn on_token, void *user,
                            int32_t *n_generated) {
    if (n_prompt == 0 && !s->has_logits[seq]) return JANUS_EINVAL;
    if (seq_len(s, seq) + n_prompt + max_tokens > s->n_ctx) return JANUS_ELIMIT;
    if (max_tokens == 0) {
        if (n_generated) *n_generated = 0;
        return JANUS_OK;
    }
    const size_t piece_cap = s->model->has_vocab ? vocab_detok_max_out(&s->model->voc) : 1;
    char *piece = mem_alloc(MEM_TAG_ENGINE, piece_cap);
    float *saved_logits = mem_alloc(MEM_TAG_ENGINE, (size_t)s->n_vocab * sizeof(float));
    int rc = JANUS_ENOMEM;
    if (piece && saved_logits)
        rc = generate(s, seq, toks, n_prompt, sp, max_tokens, ignore_eos, on_token, user,
                      n_generated, piece, piece_cap, saved_logits);
    mem_free(saved_logits);
    mem_free(piece);
    return rc;
}

int janus_generate_tokens(janus_session_t *session, int32_t seq, const int32_t *prompt,
                          int32_t n_prompt, const struct janus_sampling_params *sampling,
                          int32_t max_tokens, int ignore_eos, janus_token_fn on_token, void *user,
                          int32_t *n_generated) {
    struct janus_session *s = session;
    if (!s || (!prompt && n_prompt > 0) || n_prompt < 0 || seq < 0 || seq >= s->n_seq ||
        max_tokens < 0)
        return JANUS_EINVAL;
    const struct janus_sampling_params sp = sampling ? *sampling : janus_sampling_default_params();
    if (sampling_check(&sp) != JANUS_OK) return JANUS_EINVAL;
    for (int32_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= s->n_vocab) return JANUS_EINVAL;
    return generate_checked(s, seq, prompt, n_prompt, &sp, max_tokens, ignore_eos, on_token, user,
                            n_generated);
}

// janus_generate's on_piece behind a janus_token_fn: only text reaches it.
struct piece_relay {
    janus_piece_fn on_piece;
    void *user;
};

static int relay_piece(void *user, int32_t token, const char *text, size_t len) {
    const struct piece_relay *r = user;
    (void)token;
    return len > 0 && r->on_piece ? r->on_piece(r->user, text, len) : 0;
}

int janus_generate(janus_session_t *session, int32_t seq, const char *prompt,
                   const struct janus_sampling_params *sampling, int32_t max_tokens,
                   janus_piece_fn on_piece, void *user, int32_t *n_generated) {
    struct janus_session *s = session;
    if (!s || !prompt || seq < 0 || seq >= s->n_seq || max_tokens < 0) return JANUS_EINVAL;
    const struct janus_sampling_params sp = sampling ? *sampling : janus_sampling_default_params();
    if (sampling_check(&sp) != JANUS_OK) return JANUS_EINVAL;
    const struct janus_model *jm = s->model;
    if (!jm->has_vocab) return JANUS_EUNSUPPORTED;
    const size_t len = strlen(prompt);
    if (len > VOCAB_MAX_TEXT) return JANUS_ELIMIT;
    const size_t cap = len + 3;
    int32_t *toks = mem_alloc(MEM_TAG_ENGINE, cap * sizeof *toks);
    if (!toks) return JANUS_ENOMEM;
    int rc = vocab_tokenize(&jm->voc, prompt, len, seq_len(s, seq) == 0, 0, toks, (int)cap);
    struct piece_relay relay = {on_piece, user};
    if (rc >= 0)
        rc = generate_checked(s, seq, toks, rc, &sp, max_tokens, 0, relay_piece, &relay,
                              n_generated);
    mem_free(toks);
    return rc;
}
