// janus generate: text generation with the monolithic engine through include/janus.h
// (SPEC §9, §10): janus_generate_tokens prefills the prompt in one step, then samples and
// feeds back one token per step (greedy or temperature/top-k/top-p from a seeded stream).
// Prints the generated text (streamed, UTF-8 safe); --ids adds the generated ids on the
// last line; --record-routing writes the experts each token chose as a routing trace.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "default_model.h"
#include "load_opts.h"
#include "opts.h"

#include "base/limits.h"
#include "base/mem.h"
#include "janus.h"
#include "place/trace.h"

#include <stdio.h>
#include <string.h>

#define CMD        "generate"
#define MAX_PROMPT 65536

// What the token callback writes to.
struct gen_out {
    int have_vocab;
    int32_t *ids; // (n_predict + 1) every sampled id, the stopping EOS included
    int64_t n_ids;
};

// Each sampled token: its text (or its id when the model has no vocabulary) to stdout.
static int on_token(void *user, int32_t id, const char *text, size_t len) {
    struct gen_out *g = user;
    if (id >= 0) g->ids[g->n_ids++] = id;
    if (!g->have_vocab && id >= 0)
        printf("%d ", id);
    else if (len > 0)
        fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

// Session routing observer -> trace writer (errors are sticky in the writer). The API feeds
// the last generated token back (one more step than the tokens need): steps from n_predict
// on are left out, so the trace holds exactly the steps that produced the output.
struct routing_rec {
    struct trace_writer w;
    int64_t n_steps;
};

static void on_routing(void *user, int64_t step, int64_t layer, const int32_t *ids, int64_t n_tok,
                       int64_t k) {
    struct routing_rec *r = user;
    if (step < r->n_steps)
        (void)!trace_writer_append_block(&r->w, step, (int32_t)layer, ids, n_tok, (int32_t)k);
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *ids_arg = NULL, *routing = NULL;
    int64_t n_predict = 16, top_k = 0, n_threads = 1, seed = 42;
    double temp = 0, top_p = 1.0;
    int print_ids = 0, ignore_eos = 0;
    struct load_opts lo;
    load_opts_init(&lo);
    int32_t kv_type = 0, matmul = 0;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("model", 'm', &model, "FILE",
                    "GGUF model (default: the embedded default model)"),
        CLI_OPT_STR("prompt", 'p', &prompt, "TEXT",
                    "prompt text (tokenized with the model's vocabulary, BOS added)"),
        CLI_OPT_STR("tokens", 't', &ids_arg, "IDS", "prompt as token ids, used exactly as given"),
        CLI_OPT_I64("n-predict", 'n', &n_predict, 0, LIMIT_MAX_CONTEXT, "N",
                    "tokens to generate (default 16)"),
        CLI_OPT_F64("temp", 0, &temp, 0, 100, "T", "temperature; 0 = greedy (default 0)"),
        CLI_OPT_I64("top-k", 0, &top_k, 0, LIMIT_MAX_VOCAB, "K",
                    "keep the K most likely tokens (0 = off, default)"),
        CLI_OPT_F64("top-p", 0, &top_p, 1e-9, 1, "P",
                    "nucleus sampling mass in (0, 1] (default 1 = off)"),
        CLI_OPT_I64("seed", 0, &seed, 0, 9e18, "S", "sampler seed (default 42)"),
        CLI_OPT_FLAG("ids", 0, &print_ids,
                     "also print the generated ids, space separated, on the last line"),
        CLI_OPT_FLAG("ignore-eos", 0, &ignore_eos,
                     "keep generating after the end-of-sequence token"),
        CLI_OPT_I64("threads", 0, &n_threads, 1, 1024, "N", "worker threads (default 1)"),
        CLI_OPT_FN("kv-type", 0, cli_opt_kv_type, &kv_type, "T",
                   "KV cache storage: f32 (default, exact), f16 or q8_0\n(docs/PERFORMANCE.md, KV "
                   "cache types)"),
        CLI_OPT_FN("matmul", 0, cli_opt_matmul, &matmul, CLI_MATMUL_ARG, CLI_MATMUL_HELP),
        CLI_OPT_STR("record-routing", 0, &routing, "FILE",
                    "write every MoE layer's top-k expert ids per step as a\n"
                    "routing trace (docs/FORMATS.md), for janus schedule/place"),
        CLI_OPT_TABLE(lo.table),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout, "generate [-m MODEL] (-p TEXT | -t ID,ID,...) -n N [options]", opts,
                      "Generation stops after N tokens or at the vocabulary's EOS token.\n");
        return 0;
    }
    if (cli_opts_parse(CMD, opts, argc, argv)) return 1;
    char default_path[4096];
    if (!model) {
        if (default_model_path(CMD, default_path, sizeof default_path)) return 1;
        model = default_path;
    }
    if (!prompt == !ids_arg) return cli_error(CMD, "give exactly one of -p TEXT or -t ID,ID,...");
    struct fmap_opts io;
    if (load_opts_finish(&lo, CMD, &io)) return 1;

    char err[JANUS_ERR_LEN];
    janus_model_t *m = NULL;
    janus_session_t *s = NULL;
    // -p needs the tokenizer: then a model without one fails to open, saying why.
    const struct janus_model_params mp = {
        .require_vocab = prompt != NULL, .mmap = io.mode, .mlock = io.lock, .progress = 1};
    if (janus_model_open(model, &mp, &m, err, sizeof err) != JANUS_OK)
        return cli_error(CMD, "%s", err);
    struct janus_model_info info;
    (void)!janus_model_info(m, &info);
    int ret = 1;
    int32_t *toks = mem_alloc(MEM_TAG_MISC, MAX_PROMPT * sizeof *toks);
    struct gen_out out = {info.has_vocab, mem_alloc(MEM_TAG_MISC, (size_t)(n_predict + 1) * 4), 0};
    struct routing_rec rec = {.n_steps = n_predict};
    if (!toks || !out.ids) {
        cli_error(CMD, "out of memory");
        goto out;
    }
    int n_prompt;
    if (prompt) {
        n_prompt = janus_tokenize(m, prompt, strlen(prompt), 1, 0, toks, MAX_PROMPT);
        if (n_prompt < 0) {
            cli_error(CMD, "tokenize: %s", janus_strerror(n_prompt));
            goto out;
        }
    } else {
        n_prompt = cli_parse_ids(ids_arg, toks, MAX_PROMPT);
        if (n_prompt < 0) {
            cli_error(CMD, "-t: malformed id list (comma separated ids, at most %d)", MAX_PROMPT);
            goto out;
        }
    }
    if (n_prompt == 0) {
        cli_error(CMD, "empty prompt");
        goto out;
    }
    for (int i = 0; i < n_prompt; i++)
        if (toks[i] >= info.n_vocab) {
            cli_error(CMD, "token id %d out of range (vocabulary has %lld tokens)", toks[i],
                      (long long)info.n_vocab);
            goto out;
        }
    const struct janus_session_params sp = {.n_seq = 1,
                                            .n_ctx = n_prompt + (int32_t)n_predict,
                                            .n_batch = n_prompt,
                                            .n_threads = (int32_t)n_threads,
                                            .kv_type = kv_type,
                                            .matmul = matmul};
    int rc = janus_session_create(m, &sp, &s);
    if (rc != JANUS_OK) {
        cli_error(CMD, "engine init: %s", janus_strerror(rc));
        goto out;
    }
    if (routing) {
        if (info.n_expert == 0) {
            cli_error(CMD, "--record-routing: %s has no experts", model);
            goto out;
        }
        if (trace_writer_open(&rec.w, routing) != JANUS_OK) {
            cli_error(CMD, "--record-routing: cannot write %s", routing);
            goto out;
        }
        janus_session_set_routing_fn(s, on_routing, &rec);
    }
    const struct janus_sampling_params smp = {.temperature = (float)temp,
                                              .top_k = (int32_t)top_k,
                                              .top_p = (float)top_p,
                                              .seed = (uint64_t)seed};
    rc = janus_generate_tokens(s, 0, toks, n_prompt, &smp, (int32_t)n_predict, ignore_eos, on_token,
                               &out, NULL);
    if (rc != JANUS_OK) {
        cli_error(CMD, "step failed: %s", janus_strerror(rc));
        goto out;
    }
    printf("\n");
    if (print_ids) {
        for (int64_t i = 0; i < out.n_ids; i++)
            printf(i ? " %d" : "%d", out.ids[i]);
        printf("\n");
    }
    ret = 0;
    if (routing && trace_writer_close(&rec.w) != JANUS_OK)
        ret = cli_error(CMD, "--record-routing: write to %s failed", routing);
out:
    if (rec.w.f && trace_writer_close(&rec.w) != JANUS_OK) ret = 1;
    janus_session_destroy(&s);
    janus_model_close(&m);
    mem_free(out.ids);
    mem_free(toks);
    return ret;
}
