// janus logits -m MODEL -t ID,...: runs the ids as one sequence through the monolithic
// engine and prints the last position's logits, one per line, "%.9g". The golden interface
// (fixtures README §1): keep the output format stable.
// SPDX-License-Identifier: MIT
#include "cli.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "engine/stepper.h"
#include "model/weights.h"

#include <stdio.h>
#include <string.h>

#define CMD     "logits"
#define MAX_IDS 65536

static void usage(FILE *f) {
    fprintf(f, "usage: janus logits -m MODEL -t ID,ID,... [--threads N]\n"
               "  Runs the token ids as one sequence (positions 0..n-1, no BOS added) and\n"
               "  prints the logits of the last position, one value per line (%%.9g).\n"
               "  -m, --model FILE   GGUF model\n"
               "  -t, --tokens IDS   token ids, comma or space separated\n"
               "  --threads N        worker threads (default 1)\n");
}

int cmd_logits(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *model_path = NULL, *ids_arg = NULL;
    int64_t n_threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!v) return cli_error(CMD, "%s needs a value", a);
            model_path = v;
            i++;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--tokens")) {
            if (!v) return cli_error(CMD, "%s needs a value", a);
            ids_arg = v;
            i++;
        } else if (!strcmp(a, "--threads")) {
            if (!v || cli_parse_i64(v, 1, 1024, &n_threads))
                return cli_error(CMD, "--threads needs an integer in [1, 1024]");
            i++;
        } else {
            return cli_error(CMD, "unknown argument '%s' (see --help)", a);
        }
    }
    if (!model_path) return cli_error(CMD, "missing -m MODEL");
    if (!ids_arg) return cli_error(CMD, "missing -t ID,ID,...");
    int32_t *ids = mem_alloc(MEM_TAG_MISC, MAX_IDS * sizeof *ids);
    if (!ids) return cli_error(CMD, "out of memory");
    const int n = cli_parse_ids(ids_arg, ids, MAX_IDS);
    if (n <= 0) {
        mem_free(ids);
        return cli_error(CMD, "-t: expected a non-empty list of token ids (at most %d)", MAX_IDS);
    }
    char err[512];
    struct model m;
    int rc = model_load(&m, model_path, err, sizeof err);
    if (rc != JANUS_OK) {
        mem_free(ids);
        if (!err[0]) snprintf(err, sizeof err, "%s", janus_strerror(rc));
        // The GGUF reader's messages already start with the path.
        if (!strncmp(err, model_path, strlen(model_path))) return cli_error(CMD, "%s", err);
        return cli_error(CMD, "%s: %s", model_path, err);
    }
    int ret = 1;
    for (int i = 0; i < n; i++)
        if (ids[i] >= m.hp.n_vocab) {
            cli_error(CMD, "token id %d out of range (vocabulary has %lld tokens)", ids[i],
                      (long long)m.hp.n_vocab);
            goto out_model;
        }
    struct stepper_params sp = {
        .max_tokens = n, .n_seq = 1, .max_ctx = n, .max_logits = 1, .n_threads = (int)n_threads};
    struct stepper st;
    rc = stepper_init(&st, &m, &sp);
    if (rc != JANUS_OK) {
        cli_error(CMD, "engine init: %s", janus_strerror(rc));
        goto out_model;
    }
    struct batch b;
    rc = batch_init(&b, n);
    if (rc == JANUS_OK) {
        for (int i = 0; i < n && rc == JANUS_OK; i++)
            rc = batch_add(&b, ids[i], 0, i, i == n - 1);
        if (rc == JANUS_OK) rc = stepper_step(&st, &b);
        if (rc == JANUS_OK) {
            const float *lg = stepper_logits(&st, NULL);
            for (int64_t v = 0; v < m.hp.n_vocab; v++)
                printf("%.9g\n", lg[v]);
            ret = 0;
        } else {
            cli_error(CMD, "step failed: %s", janus_strerror(rc));
        }
        batch_free(&b);
    } else {
        cli_error(CMD, "batch: %s", janus_strerror(rc));
    }
    stepper_free(&st);
out_model:
    model_free(&m);
    mem_free(ids);
    return ret;
}
