// janus: subcommand dispatch, top-level --help, one-line errors with non-zero exit.
// The only main() of the product (SPEC §10).
// SPDX-License-Identifier: MIT
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} commands[] = {
    {"generate", cmd_generate, "generate text from a model (monolithic engine)"},
    {"logits", cmd_logits, "print last-position logits for token ids (golden interface)"},
    {"perplexity", cmd_perplexity, "perplexity of a text, llama-perplexity's method"},
    {"trace", cmd_trace, "record a model's routing on a text as a routing trace"},
    {"tokenize", cmd_tokenize, "tokenize text with a model's (or vocab-only) GGUF"},
    {"info", cmd_info, "describe a GGUF model: architecture, shapes, experts, types"},
    {"gen-model", cmd_gen_model, "write a GGUF MoE model (random or exported weights)"},
    {"bench", cmd_bench, "decode/prefill throughput vs memory bandwidth; MoE layer curve"},
    {"schedule", cmd_schedule, "run the activation scheduler on a routing trace"},
    {"sched-bench", cmd_sched_bench, "a_max and ns per call of every scheduler policy"},
    {"place", cmd_place, "replica counts and placement from expert statistics"},
    {"place-eval", cmd_place_eval, "Monte Carlo a_max of a layout under each scheduler"},
    {"gen-routing", cmd_gen_routing,
     "write a synthetic routing trace (skew, co-activation, drift)"},
    {"run", cmd_run, "launch a disaggregated deployment over MPI and generate"},
    {"worker", cmd_worker, "(internal) one MPI rank of a deployment; started by run/serve"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server on a disaggregated deployment"},
    {"admin", cmd_admin, "a running server's administration: replace, rescale"},
    {"plan", cmd_plan, "SLO-aware deployment plan (n_attn, n_moe) vs baselines"},
    {"simulate", cmd_simulate, "replay a load trace with periodic re-planning per system"},
    {"xfer-bench", cmd_xfer_bench, "(under mpirun) one layer's exchange timed vs the cost model"},
    {"sweep", cmd_sweep, "TPOT/TPG vs batch size per system, and the SLO sweep"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: janus <command> [options]   (janus <command> --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    // A kernel table asked for by name that this build or CPU lacks falls back to the best
    // one (kernels/dispatch.c); say so rather than run something else silently.
    const char *want = getenv("JANUS_KERNELS");
    if (want && *want && strcmp(want, kern_best()->name) != 0)
        fprintf(stderr,
                "janus: JANUS_KERNELS=%s is not available here (ref, avx2, avx512); using %s\n",
                want, kern_best()->name);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "janus: unknown command '%s' (see janus --help)\n", argv[1]);
    return 2;
}
