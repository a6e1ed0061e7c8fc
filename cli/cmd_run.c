// janus run: launches a whole disaggregated deployment on this host (or a hostfile's hosts)
// and generates (SPEC §2, §10). It is a client of the same front as `janus serve`
// (front/front.h): the front launches `mpirun ... janus worker` (front/launch.h) with the
// forwarded deployment options, this submits the prompts, prints the text as tokens
// arrive, then shuts the job down. --logits prints the
// last prompt position's logits exactly as `janus logits` does; --stats appends the per-layer
// time breakdown, a_max per layer and the message counters. A job that dies (a rank killed,
// a setup error) is reported as one line and a non-zero exit, never a hang.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "default_model.h"
#include "opts.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/vocab.h"
#include "base/clock.h"
#include "front/front.h"
#include "front/launch.h"
#include "requests/frontlink.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CMD        "run"
#define MAX_PROMPT 4096
#define MAX_REQ    16 // prompts per run (-p / -t may repeat)

// Worker options passed through to the job unchanged (the forwarding table); the job
// validates them (one error line, non-zero exit). arg NULL: a flag without a value.
static const struct cli_fwd_opt forwarded[] = {
    {"slots", "C", "expert slots per MoE instance (default: E if M = 1, else ceil(E/M)+1)"},
    {"layout", "FILE", "replica layout JSON (default: round-robin, replicas fill free slots)"},
    {"policy", "P", "greedy|optimal|random|round-robin|token-balanced|first (greedy)"},
    {"comm", "S", "1pc|2pc1|2pc2|auto (auto)"},
    {"dispatch", "D", "broadcast|selective|auto (auto)"},
    {"sums", "S", "fixed|grouped (fixed: expert-id order whatever the grouping)"},
    {"comm-cost", "SPEC", "cost overrides, e.g. cross_lat_us=50,cross_gbps=1"},
    {"node-size", "K", "emulated nodes of K ranks per role; 0 = real hosts (default 1)"},
    {"no-calibrate", NULL, "skip the start-up ping-pong (cost defaults + --comm-cost)"},
    {"check-schedule", NULL, "debug/test: MoE ranks compare the schedule digest every layer"},
    {"no-check-schedule", NULL, "leave that comparison off (the default)"},
    {"seed", "N", "seed of the random scheduler policy"},
    {"budget", "N", "per-step token budget per attention instance (256; prefill chunks)"},
    {"max-seqs", "N", "KV slots per attention instance (32)"},
    {"ctx", "N", "positions per request (default: the model's, at most 4096)"},
    {"kv-type", "T", "KV cache of the attention ranks: f32 (default), f16, q8_0"},
    {"matmul", CLI_MATMUL_ARG,
     "quantized-weight products: exact or int8 (default " LINEAR_PATH_DEFAULT_NAME ")"},
    {"expert-stats-out", "FILE", "write the expert activation statistics (janus place --stats)"},
    {"mmap", NULL, "map the weights (shared with the page cache and other ranks)"},
    {"no-mmap", NULL, "read each rank's share of the weights into anonymous memory"},
    {"mlock", NULL, "lock the weights in memory (fails if RLIMIT_MEMLOCK is too low)"},
};
#define N_FWD ((int)JANUS_ARRAY_SIZE(forwarded))

struct run_opts {
    const char *model;
    char default_path[4096];    // the embedded default model's file when no -m
    const char *texts[MAX_REQ]; // (n_req) prompts in the order given
    int is_ids[MAX_REQ];        // (n_req) 1: -t ID list, 0: -p text
    int n_req;
    int64_t n_attn, n_moe, n_predict, n_threads, timeout_s;
    int logits, stats, print_ids, ignore_eos;
    struct cli_fwd fwd;         // worker options as given
    struct cli_mpirun launcher; // --mpirun, --hostfile, --mpi-arg
};

// CLI_FN targets: the repeatable options.
static int add_prompt(struct run_opts *o, const char *v, int ids, const char *cmd) {
    if (o->n_req == MAX_REQ) return cli_error(cmd, "at most %d prompts", MAX_REQ);
    o->is_ids[o->n_req] = ids;
    o->texts[o->n_req++] = v;
    return 0;
}
static int add_text(void *t, const char *v, const char *cmd) { return add_prompt(t, v, 0, cmd); }
static int add_ids(void *t, const char *v, const char *cmd) { return add_prompt(t, v, 1, cmd); }

// Parses argv into o (or prints the help when help is set). 0 ok, 1 after an error line.
static int parse(int argc, char **argv, struct run_opts *o, int help) {
    memset(o, 0, sizeof *o);
    o->n_attn = o->n_moe = 1;
    o->n_predict = 16;
    o->n_threads = 1;
    o->timeout_s = 600;
    struct cli_opt opts[32 + N_FWD] = {
        CLI_OPT_STR("model", 'm', &o->model, "FILE",
                    "GGUF model (default: the embedded default model)"),
        CLI_OPT_FN("prompt", 'p', add_text, o, "TEXT",
                   "prompt text; -p/-t may repeat: the prompts run at once\n"
                   "(continuous batching), one output each"),
        CLI_OPT_FN("tokens", 't', add_ids, o, "ID,ID,...", "prompt token ids"),
        CLI_OPT_I64("n-predict", 'n', &o->n_predict, 1, LIMIT_MAX_CONTEXT, "T",
                    "tokens to generate per prompt (default 16)"),
        CLI_OPT_I64("attn", 0, &o->n_attn, 1, 1024, "N", "attention instances (default 1)"),
        CLI_OPT_I64("moe", 0, &o->n_moe, 1, 1024, "M", "MoE instances (default 1)"),
        CLI_OPT_FLAG("logits", 0, &o->logits,
                     "print the last prompt position's logits (%.9g per line)"),
        CLI_OPT_FLAG("stats", 0, &o->stats,
                     "print the per-layer time breakdown, a_max and message counters"),
        CLI_OPT_FLAG("print-ids", 0, &o->print_ids,
                     "also print the generated ids on a second line"),
        CLI_OPT_FLAG("ignore-eos", 0, &o->ignore_eos, "do not stop at the end-of-sequence token"),
        CLI_OPT_I64("threads", 0, &o->n_threads, 1, 1024, "N",
                    "engine threads per rank (default 1)"),
        CLI_OPT_I64("timeout", 0, &o->timeout_s, 1, 86400, "S",
                    "give up after S seconds (default 600)"),
    };
    cli_launcher_opts(&o->launcher, &o->fwd, forwarded, N_FWD, opts);
    if (help) {
        cli_opts_help(stdout,
                      "run [-m MODEL] --attn N --moe M (-p TEXT | -t ID,ID,...)... -n T "
                      "[options]",
                      opts,
                      "Launches N attention + M MoE instances as MPI ranks (mpirun) through the\n"
                      "front and generates T tokens per prompt.\n");
        return 0;
    }
    if (cli_opts_parse(CMD, opts, argc, argv)) return 1;
    cli_fwd_finish(&o->fwd);
    if (o->n_req == 0) return cli_error(CMD, "missing -p TEXT or -t ID,ID,...");
    if (!o->model) {
        if (default_model_path(CMD, o->default_path, sizeof o->default_path)) return 1;
        o->model = o->default_path;
    }
    if (o->logits && (o->n_req != 1 || !o->is_ids[0]))
        return cli_error(CMD, "--logits needs exactly one -t ID,ID,... (like janus logits)");
    return 0;
}

static void rm_dir(const char *dir) {
    const char *names[] = {"stats.txt", "logits.bin"};
    char p[4200];
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(names); k++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        unlink(p);
    }
    rmdir(dir);
}

static int print_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(f);
    return 0;
}

// Prints a request's output: its text (through a fresh detokenizer) and, if asked, its ids.
static void print_request(const struct run_opts *o, const struct vocab *voc, int have_vocab,
                          const int32_t *ids, int64_t n, char *piece, size_t cap) {
    struct vocab_detok det = {0};
    for (int64_t i = 0; i < n; i++) {
        if (!have_vocab) {
            printf("%d ", ids[i]);
            continue;
        }
        int nb = vocab_detok_push(voc, &det, ids[i], 0, piece, cap);
        if (nb > 0) fwrite(piece, 1, (size_t)nb, stdout);
    }
    (void)vocab_detok_end(&det); // an incomplete character at the end is dropped
    printf("\n");
    if (o->print_ids) {
        for (int64_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
}

// Stops the job (if it still runs) and describes how it ended ("exit status N", "signal
// N"); returns 1 if it exited with status 0.
static int job_end(struct front *f, char *why, size_t n) {
    front_stop(f);
    if (!f->job_exited) {
        snprintf(why, n, "connection lost");
        return 0;
    }
    launch_describe_exit(f->job_exit_status, why, n);
    return WIFEXITED(f->job_exit_status) && WEXITSTATUS(f->job_exit_status) == 0;
}

// Launches the job through the front, submits every prompt and collects the tokens
// (printing them as they arrive when stream). 0, or 1 after one error line.
static int generate(const struct run_opts *o, const char *dir, const int32_t *prompt,
                    const int *n_prompt, int32_t *out_ids, int64_t *n_out, int stream,
                    const struct vocab *voc, int have_vocab, char *piece, size_t piece_cap) {
    char att[24], moe[24], thr[24], stats[4200], logits[4200], err[512] = "", why[64];
    snprintf(att, sizeof att, "%lld", (long long)o->n_attn);
    snprintf(moe, sizeof moe, "%lld", (long long)o->n_moe);
    snprintf(thr, sizeof thr, "%lld", (long long)o->n_threads);
    snprintf(stats, sizeof stats, "%s/stats.txt", dir);
    snprintf(logits, sizeof logits, "%s/logits.bin", dir);
    const char *args[JANUS_ARRAY_SIZE(o->fwd.argv) + 16];
    int na = 0;
    const char *fixed[] = {"worker", "-m", o->model, "--attn", att, "--moe", moe, "--threads", thr};
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(fixed); k++)
        args[na++] = fixed[k];
    for (int k = 0; k < o->fwd.argc; k++)
        args[na++] = o->fwd.argv[k];
    if (o->stats) args[na++] = "--stats-out", args[na++] = stats;
    if (o->logits) args[na++] = "--logits-out", args[na++] = logits;
    struct launch_spec spec = {.mpi = 1,
                               .n_ranks = (int)(o->n_attn + o->n_moe),
                               .mpirun = o->launcher.mpirun,
                               .hostfile = o->launcher.hostfile,
                               .mpi_args = o->launcher.args,
                               .n_mpi_args = o->launcher.n_args,
                               .args = args,
                               .n_args = na};
    static struct launch_argv job;
    if (launch_build(&job, &spec, err, sizeof err)) return cli_error(CMD, "%s", err);
    struct front_params fp = {.job_argv = job.argv,
                              .mpi_env = 1,
                              .ready_timeout_s = (int)o->timeout_s + 5,
                              .stop_grace_ms = (int)o->timeout_s * 1000,
                              .quiet = 1};
    struct front f;
    front_init(&f, &fp);
    struct front_req *reqs[MAX_REQ] = {0};
    int32_t consumed[MAX_REQ] = {0};
    int ret = 1, n_req = o->n_req;
    struct vocab_detok det = {0};
    if (front_start(&f, err, sizeof err)) {
        cli_error(CMD, "%s", err);
        goto out;
    }
    int rc = front_wait_ready(&f, (int)o->timeout_s * 1000, err, sizeof err);
    if (rc != JANUS_OK) {
        int connected = f.connected;
        job_end(&f, why, sizeof why);
        if (rc == JANUS_EAGAIN)
            cli_error(CMD,
                      connected ? "timeout after %lld s"
                                : "the controller did not connect: "
                                  "timeout",
                      (long long)o->timeout_s);
        else if (!connected)
            cli_error(CMD, "the MPI job ended before its controller connected (%s)", why);
        else
            cli_error(CMD, "the MPI job failed (%s)", why);
        goto out;
    }
    for (int q = 0; q < n_req; q++) {
        struct frontlink_submit sub = {.max_tokens = (int32_t)o->n_predict};
        sub.sampling.temperature = 0;
        sub.sampling.top_p = 1;
        sub.flags = o->ignore_eos ? FRONTLINK_FLAG_IGNORE_EOS : 0;
        sub.n_prompt = n_prompt[q];
        sub.prompt = (int32_t *)prompt + (size_t)q * MAX_PROMPT;
        if (front_submit(&f, &sub, &reqs[q], err, sizeof err) != JANUS_OK) {
            cli_error(CMD, "cannot submit: %s", err);
            goto out;
        }
    }
    // Collect tokens until every request is done; a request error ends the run.
    int64_t idle_ns = 0, limit_ns = o->timeout_s * 1000000000;
    for (;;) {
        int all_done = 1, moved = 0, failed = -1;
        int64_t t0 = clock_now_ns();
        pthread_mutex_lock(&f.mu);
        for (int k = 0; k < n_req; k++) {
            struct front_req *r = reqs[k];
            int64_t from = n_out[k];
            while (consumed[k] < r->n_tokens && n_out[k] < o->n_predict)
                out_ids[(size_t)k * (size_t)o->n_predict + (size_t)n_out[k]++] =
                    r->tokens[consumed[k]++];
            moved |= n_out[k] > from;
            if (stream)
                for (int64_t i = from; i < n_out[k]; i++) {
                    int32_t tok = out_ids[i];
                    if (have_vocab) {
                        int nb = vocab_detok_push(voc, &det, tok, 0, piece, piece_cap);
                        if (nb > 0) fwrite(piece, 1, (size_t)nb, stdout);
                    } else {
                        printf("%d ", tok);
                    }
                    fflush(stdout);
                }
            if (r->done && r->err_code && failed < 0) failed = k;
            all_done &= r->done;
        }
        if (failed < 0 && !all_done)
            front_wait_locked(&f, reqs[0]->done ? reqs[n_req - 1] : reqs[0], 200);
        pthread_mutex_unlock(&f.mu);
        if (failed >= 0) {
            struct front_req *r = reqs[failed];
            if (r->err_code != FRONTLINK_ERR_JOB) {
                cli_error(CMD, "request %llu failed: %s", (unsigned long long)r->id, r->err_msg);
            } else {
                job_end(&f, why, sizeof why);
                if (f.job_message[0])
                    cli_error(CMD, "the deployment failed: %s", f.job_message);
                else
                    cli_error(CMD, "the MPI job failed (%s)", why);
            }
            goto out;
        }
        if (all_done) break;
        idle_ns = moved ? 0 : idle_ns + (clock_now_ns() - t0);
        if (idle_ns > limit_ns) {
            cli_error(CMD, "timeout after %lld s", (long long)o->timeout_s);
            goto out;
        }
    }
    if (f.job_message[0]) {
        cli_error(CMD, "the deployment failed: %s", f.job_message);
        goto out;
    }
    if (!job_end(&f, why, sizeof why)) {
        cli_error(CMD, "the MPI job failed at shutdown (%s)", why);
        goto out;
    }
    if (stream) (void)vocab_detok_end(&det); // an incomplete character at the end: dropped
    ret = 0;
out:
    for (int k = 0; k < n_req; k++)
        if (reqs[k]) front_release(&f, reqs[k]);
    front_stop(&f);
    front_destroy(&f);
    return ret;
}

int cmd_run(int argc, char **argv) {
    struct run_opts o;
    if (cli_wants_help(argc, argv)) return parse(argc, argv, &o, 1);
    if (parse(argc, argv, &o, 0)) return 1;
    signal(SIGPIPE, SIG_IGN);
    // Prompt ids (and the vocabulary for printing text).
    char err[JANUS_ERR_LEN] = "";
    struct gguf g;
    if (gguf_open(&g, o.model, err, sizeof err) != JANUS_OK) return cli_error(CMD, "%s", err);
    struct vocab voc = {0};
    int have_vocab = vocab_load(&voc, &g, err, sizeof err) == JANUS_OK;
    int n_req = o.n_req;
    int32_t *prompt = mem_alloc(MEM_TAG_MISC, (size_t)n_req * MAX_PROMPT * sizeof *prompt);
    int32_t *out_ids =
        mem_alloc(MEM_TAG_MISC, (size_t)n_req * (size_t)o.n_predict * sizeof *out_ids);
    size_t piece_cap = have_vocab ? vocab_detok_max_out(&voc) : 16;
    char *piece = mem_alloc(MEM_TAG_MISC, piece_cap);
    int ret = 1, n_prompt[MAX_REQ] = {0};
    int64_t n_out[MAX_REQ] = {0};
    char dir[64] = "";
    int stream = n_req == 1 && !o.logits; // one request: print tokens as they arrive
    if (!prompt || !out_ids || !piece) {
        cli_error(CMD, "out of memory");
        goto out;
    }
    for (int k = 0; k < n_req; k++) {
        int32_t *pk = prompt + (size_t)k * MAX_PROMPT;
        if (!o.is_ids[k]) {
            if (!have_vocab) {
                cli_error(CMD, "%s has no usable vocabulary for -p; use -t", o.model);
                goto out;
            }
            n_prompt[k] =
                vocab_tokenize(&voc, o.texts[k], strlen(o.texts[k]), 1, 0, pk, MAX_PROMPT);
        } else {
            n_prompt[k] = cli_parse_ids(o.texts[k], pk, MAX_PROMPT);
        }
        if (n_prompt[k] <= 0) {
            cli_error(CMD, "prompt %d: empty or malformed (at most %d tokens)", k + 1, MAX_PROMPT);
            goto out;
        }
    }
    // The job writes --stats-out / --logits-out files here.
    snprintf(dir, sizeof dir, "/tmp/janus-run-XXXXXX");
    if (!mkdtemp(dir)) {
        cli_error(CMD, "mkdtemp: %s", strerror(errno));
        dir[0] = 0;
        goto out;
    }
    if (generate(&o, dir, prompt, n_prompt, out_ids, n_out, stream, &voc, have_vocab, piece,
                 piece_cap))
        goto out;
    if (o.logits) {
        char path[4200];
        snprintf(path, sizeof path, "%s/logits.bin", dir);
        // The job writes exactly n_vocab float32 values.
        struct stat st;
        FILE *f = fopen(path, "rb");
        int64_t V = f && stat(path, &st) == 0 ? (int64_t)st.st_size / (int64_t)sizeof(float) : 0;
        float *lg = V > 0 ? mem_alloc(MEM_TAG_MISC, (size_t)V * sizeof(float)) : NULL;
        if (!f || !lg || fread(lg, sizeof(float), (size_t)V, f) != (size_t)V) {
            if (f) fclose(f);
            mem_free(lg);
            cli_error(CMD, "the job wrote no logits");
            goto out;
        }
        fclose(f);
        for (int64_t v = 0; v < V; v++)
            printf("%.9g\n", lg[v]);
        mem_free(lg);
    } else if (stream) {
        printf("\n");
        if (o.print_ids) {
            for (int64_t i = 0; i < n_out[0]; i++)
                printf(i ? " %d" : "%d", out_ids[i]);
            printf("\n");
        }
    } else {
        for (int k = 0; k < n_req; k++)
            print_request(&o, &voc, have_vocab, out_ids + (size_t)k * (size_t)o.n_predict, n_out[k],
                          piece, piece_cap);
    }
    if (o.stats) {
        char path[4200];
        snprintf(path, sizeof path, "%s/stats.txt", dir);
        if (print_file(path)) {
            cli_error(CMD, "the job wrote no statistics");
            goto out;
        }
    }
    fflush(stdout);
    ret = 0;
out:
    if (dir[0]) rm_dir(dir);
    vocab_free(&voc);
    gguf_close(&g);
    mem_free(prompt);
    mem_free(out_ids);
    mem_free(piece);
    return ret;
}
