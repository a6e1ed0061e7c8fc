// janus logits -m MODEL -t ID,...: runs the ids as one sequence through the monolithic
// engine (through include/janus.h) and prints the last position's logits, one per line,
// "%.9g". The golden interface (fixtures README §1): keep the output format stable.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "load_opts.h"
#include "opts.h"

#include "base/mem.h"
#include "janus.h"

#include <stdio.h>

#define CMD     "logits"
#define MAX_IDS 65536

int cmd_logits(int argc, char **argv) {
    const char *model_path = NULL, *ids_arg = NULL;
    int64_t n_threads = 1;
    struct load_opts lo;
    load_opts_init(&lo);
    int32_t kv_type = 0, matmul = 0;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("model", 'm', &model_path, "FILE", "GGUF model"),
        CLI_OPT_STR("tokens", 't', &ids_arg, "IDS", "token ids, comma or space separated"),
        CLI_OPT_I64("threads", 0, &n_threads, 1, 1024, "N", "worker threads (default 1)"),
        CLI_OPT_FN("kv-type", 0, cli_opt_kv_type, &kv_type, "T",
                   "KV cache storage: f32 (default, exact), f16 or q8_0\n(docs/PERFORMANCE.md, KV "
                   "cache types)"),
        CLI_OPT_FN("matmul", 0, cli_opt_matmul, &matmul, CLI_MATMUL_ARG, CLI_MATMUL_HELP),
        CLI_OPT_TABLE(lo.table),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout,
                      "logits -m MODEL -t ID,ID,... [--threads N] [--kv-type T] [--matmul P]\n"
                      "  Runs the token ids as one sequence (positions 0..n-1, no BOS added) and\n"
                      "  prints the logits of the last position, one value per line (%.9g).",
                      opts, NULL);
        return 0;
    }
    if (cli_opts_parse(CMD, opts, argc, argv)) return 1;
    if (!model_path) return cli_error(CMD, "missing -m MODEL");
    if (!ids_arg) return cli_error(CMD, "missing -t ID,ID,...");
    struct fmap_opts io;
    if (load_opts_finish(&lo, CMD, &io)) return 1;
    const struct janus_model_params mp = {.mmap = io.mode, .mlock = io.lock, .progress = 1};
    int32_t *ids = mem_alloc(MEM_TAG_MISC, MAX_IDS * sizeof *ids);
    if (!ids) return cli_error(CMD, "out of memory");
    const int n = cli_parse_ids(ids_arg, ids, MAX_IDS);
    if (n <= 0) {
        mem_free(ids);
        return cli_error(CMD, "-t: expected a non-empty list of token ids (at most %d)", MAX_IDS);
    }
    char err[JANUS_ERR_LEN];
    janus_model_t *m = NULL;
    janus_session_t *s = NULL;
    struct janus_model_info info;
    int ret = 1;
    if (janus_model_open(model_path, &mp, &m, err, sizeof err) != JANUS_OK) {
        cli_error(CMD, "%s", err);
        goto out;
    }
    if (janus_model_info(m, &info) != JANUS_OK) goto out;
    for (int i = 0; i < n; i++)
        if (ids[i] >= info.n_vocab) {
            cli_error(CMD, "token id %d out of range (vocabulary has %lld tokens)", ids[i],
                      (long long)info.n_vocab);
            goto out;
        }
    struct janus_session_params sp = {.n_seq = 1,
                                      .n_ctx = n,
                                      .n_batch = n,
                                      .n_threads = (int)n_threads,
                                      .kv_type = kv_type,
                                      .matmul = matmul};
    int rc = janus_session_create(m, &sp, &s);
    if (rc != JANUS_OK) {
        cli_error(CMD, "engine init: %s", janus_strerror(rc));
        goto out;
    }
    const float *lg = NULL;
    rc = janus_session_decode(s, 0, ids, n, &lg);
    if (rc != JANUS_OK) {
        cli_error(CMD, "step failed: %s", janus_strerror(rc));
        goto out;
    }
    for (int64_t v = 0; v < info.n_vocab; v++)
        printf("%.9g\n", lg[v]);
    ret = 0;
out:
    janus_session_destroy(&s);
    janus_model_close(&m);
    mem_free(ids);
    return ret;
}
