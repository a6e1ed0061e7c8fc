// janus run: launches a whole disaggregated deployment on this host (or a hostfile's hosts)
// and generates (SPEC §2, §10). It is the front: it listens on a Unix socket in a private
// temporary directory, starts `mpirun ... janus worker` (setting what Open MPI needs to run
// as root and oversubscribed), forwards its deployment options, submits the prompt to the
// controller, prints the text as tokens arrive, then shuts the job down. --logits prints the
// last prompt position's logits exactly as `janus logits` does; --stats appends the per-layer
// time breakdown, a_max per layer and the message counters. A job that dies (a rank killed,
// a setup error) is reported as one line and a non-zero exit, never a hang.
// SPDX-License-Identifier: MIT
#include "cli.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/vocab.h"
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
#define MAX_ARGS   96
#define MAX_REQ    16 // prompts per run (-p / -t may repeat)

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: janus run -m MODEL --attn N --moe M (-p TEXT | -t ID,ID,...)... -n T [options]\n"
        "  Launches N attention + M MoE instances as MPI ranks (mpirun) and generates T tokens.\n"
        "  -p/-t may repeat: the prompts run at once (continuous batching), one output each.\n"
        "  --slots C            expert slots per MoE instance (default: E if M = 1, else "
        "ceil(E/M)+1)\n"
        "  --layout FILE        replica layout JSON (default: round-robin, replicas fill free "
        "slots)\n"
        "  --policy P           greedy|optimal|random|round-robin|token-balanced|first (greedy)\n"
        "  --comm S             1pc|2pc1|2pc2|auto (auto)\n"
        "  --comm-cost SPEC     cost overrides, e.g. cross_lat_us=50,cross_gbps=1\n"
        "  --node-size K        emulated nodes of K ranks per role; 0 = real hosts (default 1)\n"
        "  --no-calibrate       skip the start-up ping-pong (cost defaults + --comm-cost)\n"
        "  --no-check-schedule  skip the per-layer schedule digest comparison of MoE ranks\n"
        "  --logits             print the last prompt position's logits (%%.9g per line)\n"
        "  --stats              print the per-layer time breakdown, a_max and message counters\n"
        "  --print-ids          also print the generated ids on a second line\n"
        "  --ignore-eos         do not stop at the end-of-sequence token\n"
        "  --threads N          engine threads per rank (default 1)\n"
        "  --seed N             seed of the random scheduler policy\n"
        "  --budget N           per-step token budget per attention instance (256; prefill "
        "chunks)\n"
        "  --max-seqs N         KV slots per attention instance (32)\n"
        "  --ctx N              positions per request (default: the model's, at most 4096)\n"
        "  --expert-stats-out FILE  write the expert activation statistics (janus place --stats)\n"
        "  --hostfile FILE      run on the hosts of an Open MPI hostfile (docs/PROTOCOL.md)\n"
        "  --mpirun PATH        the mpirun to use (default: mpirun from PATH)\n"
        "  --mpi-arg ARG        extra argument for mpirun (repeatable)\n"
        "  --timeout S          give up after S seconds (default 600)\n");
}

struct run_opts {
    const char *model, *hostfile, *mpirun;
    const char *texts[MAX_REQ]; // (n_req) prompts in the order given
    int is_ids[MAX_REQ];        // (n_req) 1: -t ID list, 0: -p text
    int n_req;
    int64_t n_attn, n_moe, n_predict, n_threads, timeout_s;
    int logits, stats, print_ids, ignore_eos;
    const char *fwd[32]; // worker options forwarded as given (pairs)
    int n_fwd;
    const char *mpi_args[16];
    int n_mpi_args;
};

static int parse(int argc, char **argv, struct run_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_attn = o->n_moe = 1;
    o->n_predict = 16;
    o->n_threads = 1;
    o->timeout_s = 600;
    o->mpirun = "mpirun";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--logits"))
            o->logits = 1, takes = 0;
        else if (!strcmp(a, "--stats"))
            o->stats = 1, takes = 0;
        else if (!strcmp(a, "--print-ids"))
            o->print_ids = 1, takes = 0;
        else if (!strcmp(a, "--ignore-eos"))
            o->ignore_eos = 1, takes = 0;
        else if (!strcmp(a, "--no-calibrate") || !strcmp(a, "--no-check-schedule")) {
            if (o->n_fwd + 1 > (int)JANUS_ARRAY_SIZE(o->fwd))
                return cli_error(CMD, "too many options");
            o->fwd[o->n_fwd++] = a; // worker flags without a value
            takes = 0;
        } else if (!v)
            return cli_error(CMD, "unknown argument '%s' or missing value (see --help)", a);
        else if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt") || !strcmp(a, "-t") ||
                 !strcmp(a, "--tokens")) {
            if (o->n_req == MAX_REQ) return cli_error(CMD, "at most %d prompts", MAX_REQ);
            o->is_ids[o->n_req] = a[1] == 't' || a[2] == 't';
            o->texts[o->n_req++] = v;
        } else if (!strcmp(a, "--hostfile"))
            o->hostfile = v;
        else if (!strcmp(a, "--mpirun"))
            o->mpirun = v;
        else if (!strcmp(a, "--mpi-arg")) {
            if (o->n_mpi_args == (int)JANUS_ARRAY_SIZE(o->mpi_args))
                return cli_error(CMD, "too many --mpi-arg");
            o->mpi_args[o->n_mpi_args++] = v;
        } else if (!strcmp(a, "--attn") || !strcmp(a, "--moe") || !strcmp(a, "-n") ||
                   !strcmp(a, "--threads") || !strcmp(a, "--timeout")) {
            int64_t *dst = !strcmp(a, "--attn")      ? &o->n_attn
                           : !strcmp(a, "--moe")     ? &o->n_moe
                           : !strcmp(a, "-n")        ? &o->n_predict
                           : !strcmp(a, "--threads") ? &o->n_threads
                                                     : &o->timeout_s;
            int64_t hi = !strcmp(a, "-n")          ? LIMIT_MAX_CONTEXT
                         : !strcmp(a, "--timeout") ? 86400
                                                   : 1024;
            if (cli_parse_i64(v, 1, hi, dst))
                return cli_error(CMD, "%s needs an integer in [1, %lld]", a, (long long)hi);
        } else if (!strcmp(a, "--slots") || !strcmp(a, "--layout") || !strcmp(a, "--policy") ||
                   !strcmp(a, "--comm") || !strcmp(a, "--comm-cost") || !strcmp(a, "--node-size") ||
                   !strcmp(a, "--seed") || !strcmp(a, "--budget") || !strcmp(a, "--max-seqs") ||
                   !strcmp(a, "--ctx") || !strcmp(a, "--expert-stats-out")) {
            if (o->n_fwd + 2 > (int)JANUS_ARRAY_SIZE(o->fwd))
                return cli_error(CMD, "too many options");
            o->fwd[o->n_fwd++] = a; // validated by the worker (one error line, non-zero exit)
            o->fwd[o->n_fwd++] = v;
        } else {
            return cli_error(CMD, "unknown argument '%s' (see --help)", a);
        }
        i += takes;
    }
    if (!o->model) return cli_error(CMD, "missing -m MODEL");
    if (o->n_req == 0) return cli_error(CMD, "missing -p TEXT or -t ID,ID,...");
    if (o->logits && (o->n_req != 1 || !o->is_ids[0]))
        return cli_error(CMD, "--logits needs exactly one -t ID,ID,... (like janus logits)");
    return 0;
}

// Path of this executable (so mpirun starts the same janus).
static int self_exe(char *buf, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0) return -1;
    buf[n] = 0;
    return 0;
}

static pid_t launch(const struct run_opts *o, const char *dir, const char *sock) {
    char exe[4096], np[32], att[32], moe[32], thr[32], stats[4200], logits[4200];
    if (self_exe(exe, sizeof exe)) return -1;
    snprintf(np, sizeof np, "%lld", (long long)(o->n_attn + o->n_moe));
    snprintf(att, sizeof att, "%lld", (long long)o->n_attn);
    snprintf(moe, sizeof moe, "%lld", (long long)o->n_moe);
    snprintf(thr, sizeof thr, "%lld", (long long)o->n_threads);
    snprintf(stats, sizeof stats, "%s/stats.txt", dir);
    snprintf(logits, sizeof logits, "%s/logits.bin", dir);
    const char *av[MAX_ARGS];
    int n = 0;
    av[n++] = o->mpirun;
    av[n++] = "--oversubscribe";
    av[n++] = "--bind-to";
    av[n++] = "none";
    av[n++] = "-n";
    av[n++] = np;
    if (o->hostfile) {
        av[n++] = "--hostfile";
        av[n++] = o->hostfile;
    }
    for (int k = 0; k < o->n_mpi_args; k++)
        av[n++] = o->mpi_args[k];
    av[n++] = exe;
    av[n++] = "worker";
    av[n++] = "-m";
    av[n++] = o->model;
    av[n++] = "--socket";
    av[n++] = sock;
    av[n++] = "--attn";
    av[n++] = att;
    av[n++] = "--moe";
    av[n++] = moe;
    av[n++] = "--threads";
    av[n++] = thr;
    for (int k = 0; k < o->n_fwd; k++)
        av[n++] = o->fwd[k];
    if (o->stats) {
        av[n++] = "--stats-out";
        av[n++] = stats;
    }
    if (o->logits) {
        av[n++] = "--logits-out";
        av[n++] = logits;
    }
    av[n] = NULL;
    pid_t pid = fork();
    if (pid != 0) return pid;
    // Child: what Open MPI needs to run as root, oversubscribed, on few cores.
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 1);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    execvp(av[0], (char *const *)av);
    fprintf(stderr, "janus run: cannot start %s: %s\n", av[0], strerror(errno));
    _exit(127);
}

// Reaps the job if it has ended; returns 1 and its status description when it has.
static int job_ended(pid_t pid, int block, char *why, size_t cap) {
    int st = 0;
    pid_t r = waitpid(pid, &st, block ? 0 : WNOHANG);
    if (r != pid) return 0;
    if (WIFEXITED(st))
        snprintf(why, cap, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(why, cap, "signal %d", WTERMSIG(st));
    else
        snprintf(why, cap, "status %d", st);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 1 : 2;
}

static void rm_dir(const char *dir) {
    const char *names[] = {"ctl.sock", "stats.txt", "logits.bin"};
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

// Prints request k's output: its text (through a fresh detokenizer) and, if asked, its ids.
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
    if (have_vocab) {
        int nb = vocab_detok_flush(&det, piece, cap);
        if (nb > 0) fwrite(piece, 1, (size_t)nb, stdout);
    }
    printf("\n");
    if (o->print_ids) {
        for (int64_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
}

int cmd_run(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct run_opts o;
    if (parse(argc, argv, &o)) return 1;
    signal(SIGPIPE, SIG_IGN);
    // Prompt ids (and the vocabulary for printing text).
    char err[512] = "";
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
    int ret = 1, listen_fd = -1, n_prompt[MAX_REQ] = {0}, done[MAX_REQ] = {0};
    int64_t n_out[MAX_REQ] = {0};
    pid_t pid = -1;
    char dir[64] = "", sock[128], why[64] = "";
    struct frontlink_conn c = {.fd = -1};
    int stream = n_req == 1 && !o.logits; // one request: print tokens as they arrive
    struct vocab_detok det = {0};
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
    snprintf(dir, sizeof dir, "/tmp/janus-run-XXXXXX");
    if (!mkdtemp(dir)) {
        cli_error(CMD, "mkdtemp: %s", strerror(errno));
        dir[0] = 0;
        goto out;
    }
    snprintf(sock, sizeof sock, "%s/ctl.sock", dir);
    if (frontlink_listen(sock, &listen_fd) != JANUS_OK) {
        cli_error(CMD, "cannot listen on %s", sock);
        goto out;
    }
    pid = launch(&o, dir, sock);
    if (pid < 0) {
        cli_error(CMD, "cannot start mpirun");
        goto out;
    }
    // Wait for the controller (rank 0) to connect, or the job to end.
    int64_t waited_ms = 0, limit_ms = o.timeout_s * 1000;
    for (;;) {
        int rc = frontlink_accept(listen_fd, 200, &c);
        if (rc == JANUS_OK) break;
        waited_ms += 200;
        if (job_ended(pid, 0, why, sizeof why)) {
            pid = -1;
            cli_error(CMD, "the MPI job ended before its controller connected (%s)", why);
            goto out;
        }
        if (rc != JANUS_EAGAIN || waited_ms > limit_ms) {
            cli_error(CMD, "the controller did not connect: %s",
                      rc == JANUS_EAGAIN ? "timeout" : janus_strerror(rc));
            goto out;
        }
    }
    struct frontlink_msg m;
    int ready = 0, n_done = 0;
    waited_ms = 0;
    while (n_done < n_req) {
        int rc = frontlink_recv(&c, 200, &m, err, sizeof err);
        if (rc == JANUS_EAGAIN) {
            waited_ms += 200;
            if (waited_ms > limit_ms) {
                cli_error(CMD, "timeout after %lld s", (long long)o.timeout_s);
                goto out;
            }
            continue;
        }
        if (rc != JANUS_OK) {
            // The controller went away: the job failed. Report how it ended.
            int ended = job_ended(pid, 1, why, sizeof why);
            pid = -1;
            cli_error(CMD, "the MPI job failed (%s)", ended ? why : "connection lost");
            goto out;
        }
        uint64_t id = m.type == FRONTLINK_TOKEN    ? m.u.token.id
                      : m.type == FRONTLINK_FINISH ? m.u.finish.id
                                                   : 0;
        int k = id >= 1 && id <= (uint64_t)n_req ? (int)id - 1 : -1;
        if (m.type == FRONTLINK_READY && !ready) {
            ready = 1;
            for (int q = 0; q < n_req; q++) {
                struct frontlink_msg s = {.type = FRONTLINK_SUBMIT};
                s.u.submit.id = (uint64_t)q + 1;
                s.u.submit.max_tokens = (int32_t)o.n_predict;
                s.u.submit.sampling.temperature = 0;
                s.u.submit.sampling.top_p = 1;
                s.u.submit.flags = o.ignore_eos ? FRONTLINK_FLAG_IGNORE_EOS : 0;
                s.u.submit.n_prompt = n_prompt[q];
                s.u.submit.prompt = prompt + (size_t)q * MAX_PROMPT;
                if (frontlink_send(&c, &s) != JANUS_OK) {
                    cli_error(CMD, "lost the controller while submitting");
                    frontlink_msg_free(&m);
                    goto out;
                }
            }
        } else if (m.type == FRONTLINK_TOKEN && k >= 0 && n_out[k] < o.n_predict) {
            int32_t tok = m.u.token.token;
            out_ids[(size_t)k * (size_t)o.n_predict + (size_t)n_out[k]++] = tok;
            if (stream) {
                if (have_vocab) {
                    int nb = vocab_detok_push(&voc, &det, tok, 0, piece, piece_cap);
                    if (nb > 0) fwrite(piece, 1, (size_t)nb, stdout);
                } else {
                    printf("%d ", tok);
                }
                fflush(stdout);
            }
        } else if (m.type == FRONTLINK_FINISH && k >= 0 && !done[k]) {
            done[k] = 1;
            n_done++;
        } else if (m.type == FRONTLINK_ERROR) {
            if (m.u.error.id)
                cli_error(CMD, "request %llu failed: %s", (unsigned long long)m.u.error.id,
                          m.u.error.message);
            else
                cli_error(CMD, "the deployment failed: %s", m.u.error.message);
            frontlink_msg_free(&m);
            goto out;
        }
        frontlink_msg_free(&m);
    }
    struct frontlink_msg sd = {.type = FRONTLINK_SHUTDOWN};
    if (frontlink_send(&c, &sd) != JANUS_OK) {
        cli_error(CMD, "lost the controller at shutdown");
        goto out;
    }
    int ended = job_ended(pid, 1, why, sizeof why);
    pid = -1;
    if (ended != 1) {
        cli_error(CMD, "the MPI job failed at shutdown (%s)", why);
        goto out;
    }
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
        if (have_vocab) {
            int nb = vocab_detok_flush(&det, piece, piece_cap);
            if (nb > 0) fwrite(piece, 1, (size_t)nb, stdout);
        }
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
    frontlink_conn_close(&c);
    if (listen_fd >= 0) close(listen_fd);
    if (pid > 0) { // still running after an error: end it
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    if (dir[0]) rm_dir(dir);
    vocab_free(&voc);
    gguf_close(&g);
    mem_free(prompt);
    mem_free(out_ids);
    mem_free(piece);
    return ret;
}
