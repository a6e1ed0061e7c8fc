// janus gen-model: writes a random-weight GGUF MoE model in the fixtures' layout
// (src/model/genmodel.h; docs/GGUF.md "gen-model"). Parse flags -> genmodel_check ->
// genmodel_write (streamed) -> one summary line on stdout. Errors: one line, exit 1.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "opts.h"

#include "base/status.h"
#include "model/genmodel.h"
#include "model/gguf.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// --type: the matrices' ggml type, uniform or an _M mix (genmodel.h).
static int set_type(void *target, const char *v, const char *cmd) {
    struct genmodel_params *p = target;
    if (!genmodel_type_parse(v, &p->type, &p->mix)) return 0;
    return cli_error(cmd, "--type must be one of " GENMODEL_TYPE_NAMES ", not '%s'", v);
}

// A positive float field (--weights-scale, --rope-base, --rms-eps).
static int set_f32(void *target, const char *v, const char *cmd) {
    double x;
    (void)cmd;
    if (cli_parse_f64(v, 1e-30, 1e30, &x)) return -1;
    *(float *)target = (float)x;
    return 0;
}

// --rope-scaling none|linear|yarn.
static int set_rope_scaling(void *target, const char *v, const char *cmd) {
    static const char *const names[] = {"none", "linear", "yarn"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(v, names[i])) {
            *(enum genmodel_rope_scaling *)target = (enum genmodel_rope_scaling)i;
            return 0;
        }
    return cli_error(cmd, "--rope-scaling must be none, linear or yarn, not '%s'", v);
}

// A non-negative float field (--yarn-log-mul: 0 writes a 0 key).
static int set_f32_nonneg(void *target, const char *v, const char *cmd) {
    double x;
    (void)cmd;
    if (cli_parse_f64(v, 0.0, 1e30, &x)) return -1;
    *(float *)target = (float)x;
    return 0;
}

// int fields: --norm-topk 0|1, --threads 1..256.
static int set_int_in(int *target, const char *v, int lo, int hi) {
    int64_t x;
    if (cli_parse_i64(v, lo, hi, &x)) return -1;
    *target = (int)x;
    return 0;
}
static int set_norm_topk(void *t, const char *v, const char *cmd) {
    (void)cmd;
    return set_int_in(t, v, 0, 1);
}
static int set_threads(void *t, const char *v, const char *cmd) {
    (void)cmd;
    return set_int_in(t, v, 1, 256);
}

int cmd_gen_model(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *arch_s = NULL, *gating_s = NULL, *out = NULL;
    struct genmodel_params p;
    memset(&p, 0, sizeof p);
#define DIM(nm, field, lo, hi, h) CLI_OPT_I64(nm, 0, &p.field, lo, hi, "N", h)
    const struct cli_opt opts[] = {
        CLI_OPT_STR("arch", 0, &arch_s, "A",
                    "llama (Mixtral-style), qwen2moe, qwen3moe, deepseek2, olmoe\n"
                    "(required)"),
        CLI_OPT_FN("type", 0, set_type, &p, "T",
                   "matrices' type (norms, routers, biases stay f32): f32\n"
                   "(default), f16, bf16, q8_0; uniform q4_0 q4_1 q5_0 q5_1\n"
                   "q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs (round-to-nearest);\n"
                   "q3_k_m q4_k_m q5_k_m (llama-quantize's _M mixes; docs/GGUF.md)"),
        CLI_OPT_I64("seed", 0, &p.seed, 0, 9e18, "S", "random seed (default 1234)"),
        CLI_OPT_STR("output", 'o', &out, "FILE", "output path (required)"),
        CLI_OPT_STR("vocab", 0, &p.vocab_path, "FILE",
                    "copy the tokenizer.ggml.* keys of this GGUF (its size sets\n"
                    "n_vocab); default: built-in SentencePiece-style vocabulary"),
        CLI_OPT_STR("tokenizer-json", 0, &p.tokenizer_json, "FILE",
                    "the tokenizer of a trained model (SentencePiece pieces, scores,\n"
                    "types, special ids, chat template; scripts/train/export.py)"),
        CLI_OPT_STR("weights", 0, &p.weights_dir, "DIR",
                    "tensor values from DIR/NAME.f32 (raw little-endian F32 in ggml\n"
                    "order, one file per tensor) instead of random ones; the matrices\n"
                    "are then converted to --type"),
        DIM("n-vocab", n_vocab, 1, 1 << 30,
            "built-in vocabulary size: truncated or padded with <unused_N>\n"
            "(default: its natural size; ignored with --vocab)"),
        CLI_OPT_STR("name", 0, &p.name, "NAME", "general.name (default janus-gen-<arch>-<type>)"),
        CLI_OPT_FN("threads", 0, set_threads, &p.n_threads, "N",
                   "generation threads (default: the online CPUs, at most 16; the\n"
                   "file does not depend on it)"),
        DIM("n-embd", n_embd, 1, 1 << 20, "64"),
        DIM("n-layer", n_layer, 1, 1 << 20, "2 / 2 / 2 / 3 / 2"),
        DIM("n-head", n_head, 1, 1 << 20, "4"),
        DIM("n-head-kv", n_head_kv, 1, 1 << 20,
            "2 / 2 / 2 / = n_head / = n_head (must equal n_head for deepseek2\n"
            "and olmoe)"),
        DIM("head-dim", head_dim, 1, 1 << 20,
            "n_embd/n_head (fixed for llama, qwen2moe); qwen3moe: 16"),
        DIM("n-expert", n_expert, 1, 1 << 20, "8 / 8 / 8 / 16 / 8"),
        DIM("n-expert-used", n_expert_used, 1, 1 << 20, "2 / 4 / 2 / 4 / 2"),
        DIM("n-ff-exp", n_ff_exp, 1, 1 << 24, "routed expert width: 128 / 64 / 64 / 32 / 64"),
        DIM("n-ff", n_ff, 1, 1 << 24,
            "llama, olmoe: none; qwen2moe: shared expert width 128; qwen3moe:\n"
            "feed_forward_length 128 (unused); deepseek2: dense width 192"),
        DIM("n-expert-shared", n_expert_shared, 0, 1 << 20,
            "deepseek2: shared experts of width n_ff_exp, 2 (V3-style: 1);\n"
            "qwen2moe: exactly 1"),
        DIM("n-dense-lead", n_dense_lead, 0, 1 << 20, "deepseek2: leading dense layers, 1"),
        DIM("q-lora", q_lora, 0, 1 << 24, "deepseek2: 32 (0: no q compression, attn_q)"),
        DIM("kv-lora", kv_lora, 1, 1 << 24, "deepseek2: 32"),
        DIM("qk-nope", qk_nope, 1, 1 << 24, "deepseek2: 16"),
        DIM("qk-rope", qk_rope, 1, 1 << 24, "deepseek2: 8"),
        DIM("v-head", v_head, 1, 1 << 24, "deepseek2: 16"),
        CLI_OPT_FLAG("mla-split", 0, &p.mla_split,
                     "deepseek2: write attn_kv_b split into attn_k_b / attn_v_b as\n"
                     "current llama.cpp converters do (same values as without it)"),
        CLI_OPT_STR("gating", 0, &gating_s, "G",
                    "deepseek2: softmax (V2-style, default) or sigmoid (V3-style:\n"
                    "adds exp_probs_b; defaults norm-topk 1, weights-scale 2.5,\n"
                    "n-expert-shared 1)"),
        DIM("expert-groups", n_group, 0, 1 << 20, "deepseek2: expert groups (0 = none, default)"),
        DIM("expert-groups-used", n_group_used, 0, 1 << 20, "deepseek2: groups kept per token"),
        CLI_OPT_FN("weights-scale", 0, set_f32, &p.weights_scale, "X",
                   "deepseek2: expert_weights_scale, 2.0 (V3-style 2.5)"),
        CLI_OPT_FN("norm-topk", 0, set_norm_topk, &p.norm_topk, "0|1",
                   "deepseek2: expert_weights_norm, 0 (V3-style 1)"),
        DIM("context", context, 1, 1 << 30, "context_length, 2048"),
        CLI_OPT_FN("rope-base", 0, set_f32, &p.rope_base, "B",
                   "rope.freq_base, 10000 (qwen3moe 1e6)"),
        CLI_OPT_FN("rms-eps", 0, set_f32, &p.rms_eps, "E",
                   "layer_norm_rms_epsilon, 1e-5 (qwen3moe 1e-6)"),
        CLI_OPT_FN("rope-scaling", 0, set_rope_scaling, &p.rope_scaling, "S",
                   "rope.scaling.type: none (default: no keys), linear, yarn"),
        CLI_OPT_FN("rope-factor", 0, set_f32, &p.rope_factor, "F",
                   "rope.scaling.factor (needed with --rope-scaling)"),
        DIM("rope-orig-ctx", rope_orig_ctx, 1, 1 << 30,
            "yarn: rope.scaling.original_context_length (default --context)"),
        CLI_OPT_FN("yarn-beta-fast", 0, set_f32, &p.yarn_beta_fast, "B",
                   "yarn: rope.scaling.yarn_beta_fast (default: key absent = 32)"),
        CLI_OPT_FN("yarn-beta-slow", 0, set_f32, &p.yarn_beta_slow, "B",
                   "yarn: rope.scaling.yarn_beta_slow (default: key absent = 1)"),
        CLI_OPT_FN("yarn-log-mul", 0, set_f32_nonneg, &p.yarn_log_mul, "X",
                   "deepseek2: rope.scaling.yarn_log_multiplier as written, 0.1\n"
                   "(= 0.1 x mscale_all_dim; DeepSeek-V2-Lite: 0.0707)"),
        CLI_OPT_END};
#undef DIM
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(
            stdout,
            "gen-model --arch llama|qwen2moe|qwen3moe|deepseek2|olmoe [dims] [--type T]\n"
            "                       [--seed S] [--vocab VOCAB.gguf] -o FILE\n\n"
            "Writes a random-weight GGUF v3 model in exactly the layout of the shared fixtures\n"
            "(same keys, tensor names, shapes and init scales), deterministic from the seed.\n"
            "Defaults are the fixture dimensions of each architecture; the dimensions' help\n"
            "gives them per architecture (llama / qwen2moe / qwen3moe / deepseek2 / olmoe).\n",
            opts,
            "\nexample (1.6 GB): janus gen-model --arch qwen3moe --n-layer 8 --n-embd 1024 \\\n"
            "    --n-expert 16 --n-expert-used 4 --n-ff-exp 2048 --type f16 -o big.gguf\n");
        return 0;
    }
    // Pass 1 checks every flag and finds the architecture and gating, which choose the
    // defaults; pass 2 lets the other flags override those defaults.
    if (cli_opts_parse(cmd, opts, argc, argv)) return 1;
    if (!arch_s)
        return cli_error(cmd, "--arch is required (llama, qwen2moe, qwen3moe, deepseek2, olmoe)");
    enum genmodel_arch arch;
    if (genmodel_arch_parse(arch_s, &arch))
        return cli_error(cmd, "unknown --arch '%s' (llama, qwen2moe, qwen3moe, deepseek2, olmoe)",
                         arch_s);
    genmodel_default_params(&p, arch);
    if (gating_s) {
        if (!strcmp(gating_s, "sigmoid")) {
            if (arch != GENMODEL_ARCH_DEEPSEEK2)
                return cli_error(cmd, "--gating applies to deepseek2 only (%s uses softmax)",
                                 arch_s);
            genmodel_params_v3(&p);
        } else if (strcmp(gating_s, "softmax") != 0) {
            return cli_error(cmd, "--gating must be softmax or sigmoid, not '%s'", gating_s);
        }
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 1;
    if (!out) return cli_error(cmd, "-o FILE is required");
    if (p.n_threads == 0) {
        const long n = sysconf(_SC_NPROCESSORS_ONLN);
        p.n_threads = n < 1 ? 1 : n > 16 ? 16 : (int)n;
    }
    char err[JANUS_ERR_LEN];
    if (genmodel_check(&p, err, sizeof err)) return cli_error(cmd, "%s", err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = genmodel_write(&p, out, err, sizeof err);
    if (rc) return cli_error(cmd, "%s", err[0] ? err : janus_strerror(rc));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct stat st;
    long long bytes = stat(out, &st) == 0 ? (long long)st.st_size : -1;
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("wrote %s: %s %s, %lld bytes in %.2f s (%.0f MB/s)\n", out, arch_s,
           genmodel_type_name(p.type, p.mix), bytes, s, s > 0 ? (double)bytes / s / 1e6 : 0.0);
    return 0;
}
