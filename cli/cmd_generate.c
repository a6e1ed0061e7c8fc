// janus generate: text generation with the monolithic engine (SPEC §9, §10). Prefills the
// prompt in one step, then decodes one token per step, sampling greedy or with
// temperature/top-k/top-p from a seeded rng. Prints the generated text (streamed, UTF-8
// safe); --ids adds the generated ids on the last line.
// SPDX-License-Identifier: MIT
#include "cli.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "engine/stepper.h"
#include "model/sampler.h"
#include "model/vocab.h"
#include "model/weights.h"
#include "place/trace.h"

#include <stdio.h>
#include <string.h>

#define CMD        "generate"
#define MAX_PROMPT 65536

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: janus generate -m MODEL (-p TEXT | -t ID,ID,...) -n N [options]\n"
        "  -m, --model FILE     GGUF model\n"
        "  -p, --prompt TEXT    prompt text (tokenized with the model's vocabulary, BOS added)\n"
        "  -t, --tokens IDS     prompt as token ids, used exactly as given\n"
        "  -n, --n-predict N    tokens to generate (default 16)\n"
        "  --temp T             temperature; 0 = greedy (default 0)\n"
        "  --top-k K            keep the K most likely tokens (0 = off, default)\n"
        "  --top-p P            nucleus sampling mass in (0, 1] (default 1 = off)\n"
        "  --seed S             sampler seed (default 42)\n"
        "  --ids                also print the generated ids, space separated, on the last line\n"
        "  --ignore-eos         keep generating after the end-of-sequence token\n"
        "  --threads N          worker threads (default 1)\n"
        "  --record-routing FILE  write every MoE layer's top-k expert ids per step as a\n"
        "                       routing trace (docs/FORMATS.md), for janus schedule/place\n"
        "Generation stops after N tokens or at the vocabulary's EOS token.\n");
}

struct gen_args {
    const char *model, *prompt, *ids, *routing;
    int64_t n_predict, top_k, n_threads;
    double temp, top_p;
    int64_t seed;
    int print_ids, ignore_eos;
};

static int parse(int argc, char **argv, struct gen_args *g) {
    *g = (struct gen_args){.n_predict = 16, .top_p = 1.0, .seed = 42, .n_threads = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--ids")) {
            g->print_ids = 1;
            takes = 0;
        } else if (!strcmp(a, "--ignore-eos")) {
            g->ignore_eos = 1;
            takes = 0;
        } else if (!v) {
            return cli_error(CMD, "unknown argument '%s' or missing value (see --help)", a);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            g->model = v;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            g->prompt = v;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--tokens")) {
            g->ids = v;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            if (cli_parse_i64(v, 0, LIMIT_MAX_CONTEXT, &g->n_predict))
                return cli_error(CMD, "-n needs an integer in [0, %d]", LIMIT_MAX_CONTEXT);
        } else if (!strcmp(a, "--temp")) {
            if (cli_parse_f64(v, 0, 100, &g->temp))
                return cli_error(CMD, "--temp needs a number in [0, 100]");
        } else if (!strcmp(a, "--top-p")) {
            if (cli_parse_f64(v, 1e-9, 1, &g->top_p))
                return cli_error(CMD, "--top-p needs a number in (0, 1]");
        } else if (!strcmp(a, "--top-k")) {
            if (cli_parse_i64(v, 0, LIMIT_MAX_VOCAB, &g->top_k))
                return cli_error(CMD, "--top-k needs an integer >= 0");
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_i64(v, 0, INT64_MAX, &g->seed))
                return cli_error(CMD, "--seed needs an integer >= 0");
        } else if (!strcmp(a, "--record-routing")) {
            g->routing = v;
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_i64(v, 1, 1024, &g->n_threads))
                return cli_error(CMD, "--threads needs an integer in [1, 1024]");
        } else {
            return cli_error(CMD, "unknown argument '%s' (see --help)", a);
        }
        i += takes;
    }
    if (!g->model) return cli_error(CMD, "missing -m MODEL");
    if (!g->prompt == !g->ids) return cli_error(CMD, "give exactly one of -p TEXT or -t ID,ID,...");
    return 0;
}

// Writes a token's text to stdout (through the streaming detokenizer) or its id when the
// model has no vocabulary.
static void emit(const struct vocab *v, struct vocab_detok *d, char *buf, size_t cap, int32_t id) {
    if (!v) {
        printf("%d ", id);
    } else {
        int nb = vocab_detok_push(v, d, id, 0, buf, cap);
        if (nb > 0) fwrite(buf, 1, (size_t)nb, stdout);
    }
    fflush(stdout);
}

// Stepper routing callback → trace writer (errors are sticky in the writer).
static void on_routing(void *user, int64_t step, int64_t layer, const int32_t *ids, int64_t n_tok,
                       int64_t k) {
    struct trace_writer *w = user;
    if (trace_writer_append_block(w, step, (int32_t)layer, ids, n_tok, (int32_t)k) != JANUS_OK)
        return; // reported at close
}

int cmd_generate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct gen_args g;
    if (parse(argc, argv, &g)) return 1;

    char err[512];
    struct model m;
    int rc = model_load(&m, g.model, err, sizeof err);
    if (rc != JANUS_OK) {
        if (!err[0]) snprintf(err, sizeof err, "%s", janus_strerror(rc));
        // The GGUF reader's messages already start with the path.
        if (!strncmp(err, g.model, strlen(g.model))) return cli_error(CMD, "%s", err);
        return cli_error(CMD, "%s: %s", g.model, err);
    }
    int ret = 1;
    struct vocab voc = {0};
    int have_vocab = vocab_load(&voc, &m.gguf, err, sizeof err) == JANUS_OK;
    int32_t *prompt = mem_alloc(MEM_TAG_MISC, MAX_PROMPT * sizeof *prompt);
    int32_t *out_ids = mem_alloc(MEM_TAG_MISC, (size_t)(g.n_predict + 1) * sizeof *out_ids);
    char *piece = NULL;
    size_t piece_cap = have_vocab ? vocab_detok_max_out(&voc) : 16;
    piece = mem_alloc(MEM_TAG_MISC, piece_cap);
    struct stepper st = {0};
    struct batch b = {0};
    struct sampler smp = {0};
    struct trace_writer tw = {0};
    if (!prompt || !out_ids || !piece) {
        cli_error(CMD, "out of memory");
        goto out;
    }
    int n_prompt;
    if (g.prompt) {
        if (!have_vocab) {
            cli_error(CMD, "%s has no usable vocabulary for -p (%s); use -t", g.model, err);
            goto out;
        }
        n_prompt = vocab_tokenize(&voc, g.prompt, strlen(g.prompt), 1, 0, prompt, MAX_PROMPT);
        if (n_prompt < 0) {
            cli_error(CMD, "tokenize: %s", janus_strerror(n_prompt));
            goto out;
        }
    } else {
        n_prompt = cli_parse_ids(g.ids, prompt, MAX_PROMPT);
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
        if (prompt[i] >= m.hp.n_vocab) {
            cli_error(CMD, "token id %d out of range (vocabulary has %lld tokens)", prompt[i],
                      (long long)m.hp.n_vocab);
            goto out;
        }
    struct stepper_params sp = {.max_tokens = n_prompt,
                                .n_seq = 1,
                                .max_ctx = n_prompt + g.n_predict,
                                .max_logits = 1,
                                .n_threads = (int)g.n_threads};
    rc = stepper_init(&st, &m, &sp);
    if (rc == JANUS_OK) rc = batch_init(&b, n_prompt);
    struct sampler_params smp_p = {
        .temp = (float)g.temp, .top_k = g.top_k, .top_p = (float)g.top_p, .seed = (uint64_t)g.seed};
    if (rc == JANUS_OK) rc = sampler_init(&smp, m.hp.n_vocab, &smp_p);
    if (rc != JANUS_OK) {
        cli_error(CMD, "engine init: %s", janus_strerror(rc));
        goto out;
    }
    if (g.routing) {
        if (m.hp.n_expert == 0) {
            cli_error(CMD, "--record-routing: %s has no experts", g.model);
            goto out;
        }
        if (trace_writer_open(&tw, g.routing) != JANUS_OK) {
            cli_error(CMD, "--record-routing: cannot write %s", g.routing);
            goto out;
        }
        stepper_set_routing_cb(&st, on_routing, &tw);
    }
    for (int i = 0; i < n_prompt && rc == JANUS_OK; i++)
        rc = batch_add(&b, prompt[i], 0, i, i == n_prompt - 1);
    if (rc == JANUS_OK && g.n_predict > 0) rc = stepper_step(&st, &b);
    int64_t n_out = 0;
    struct vocab_detok det = {0};
    while (rc == JANUS_OK && n_out < g.n_predict) {
        const int32_t id = sampler_sample(&smp, stepper_logits(&st, NULL));
        out_ids[n_out++] = id;
        if (have_vocab && !g.ignore_eos && id == voc.eos) break;
        emit(have_vocab ? &voc : NULL, &det, piece, piece_cap, id);
        if (n_out == g.n_predict) break;
        batch_clear(&b);
        rc = batch_add(&b, id, 0, n_prompt + (int32_t)n_out - 1, 1);
        if (rc == JANUS_OK) rc = stepper_step(&st, &b);
    }
    if (rc != JANUS_OK) {
        cli_error(CMD, "step failed: %s", janus_strerror(rc));
        goto out;
    }
    if (have_vocab) {
        int nb = vocab_detok_flush(&det, piece, piece_cap);
        if (nb > 0) fwrite(piece, 1, (size_t)nb, stdout);
    }
    printf("\n");
    if (g.print_ids) {
        for (int64_t i = 0; i < n_out; i++)
            printf(i ? " %d" : "%d", out_ids[i]);
        printf("\n");
    }
    ret = 0;
    if (g.routing && trace_writer_close(&tw) != JANUS_OK)
        ret = cli_error(CMD, "--record-routing: write to %s failed", g.routing);
out:
    if (tw.f && trace_writer_close(&tw) != JANUS_OK) ret = 1;
    sampler_free(&smp);
    batch_free(&b);
    stepper_free(&st);
    mem_free(piece);
    mem_free(out_ids);
    mem_free(prompt);
    vocab_free(&voc);
    model_free(&m);
    return ret;
}
