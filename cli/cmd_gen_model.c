// janus gen-model: writes a random-weight GGUF MoE model in the fixtures' layout
// (src/model/genmodel.h; docs/GGUF.md "gen-model"). Parse flags -> genmodel_check ->
// genmodel_write (streamed) -> one summary line on stdout. Errors: one line, exit 1.
// SPDX-License-Identifier: MIT
#include "cli.h"

#include "base/status.h"
#include "model/genmodel.h"
#include "model/gguf.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(
        f, "usage: janus gen-model --arch llama|qwen2moe|qwen3moe|deepseek2 [dims] [--type T]\n"
           "                       [--seed S] [--vocab VOCAB.gguf] -o FILE\n"
           "\n"
           "Writes a random-weight GGUF v3 model in exactly the layout of the shared fixtures\n"
           "(same keys, tensor names, shapes and init scales), deterministic from the seed.\n"
           "Defaults are the fixture dimensions of each architecture.\n"
           "\n"
           "  --arch A            llama (Mixtral-style), qwen2moe, qwen3moe, deepseek2 (required)\n"
           "  --type T            f32 (default), f16, bf16, q8_0 (matrices; norms etc. stay f32)\n"
           "  --seed S            random seed (default 1234)\n"
           "  -o, --output FILE   output path (required)\n"
           "  --vocab FILE        copy the tokenizer.ggml.* keys of this GGUF (its size sets\n"
           "                      n_vocab); default: built-in SentencePiece-style vocabulary\n"
           "  --n-vocab N         built-in vocabulary size: truncated or padded with <unused_N>\n"
           "                      (default: its natural size; ignored with --vocab)\n"
           "  --name NAME         general.name (default janus-gen-<arch>-<type>)\n"
           "\n"
           "dimensions (default llama / qwen2moe / qwen3moe / deepseek2):\n"
           "  --n-embd N          64\n"
           "  --n-layer N         2 / 2 / 2 / 3\n"
           "  --n-head N          4\n"
           "  --n-head-kv N       2 / 2 / 2 / = n_head (must equal n_head for deepseek2)\n"
           "  --head-dim N        n_embd/n_head (fixed for llama, qwen2moe); qwen3moe: 16\n"
           "  --n-expert N        8 / 8 / 8 / 16\n"
           "  --n-expert-used N   2 / 4 / 2 / 4\n"
           "  --n-ff-exp N        routed expert width: 128 / 64 / 64 / 32\n"
           "  --n-ff N            llama: none; qwen2moe: shared expert width 128; qwen3moe:\n"
           "                      feed_forward_length 128 (unused); deepseek2: dense width 192\n"
           "  --n-expert-shared N deepseek2: shared experts of width n_ff_exp, 2 (V3-style: 1);\n"
           "                      qwen2moe: exactly 1\n"
           "  --n-dense-lead N    deepseek2: leading dense layers, 1\n"
           "  --q-lora N          deepseek2: 32        --kv-lora N   deepseek2: 32\n"
           "  --qk-nope N         deepseek2: 16        --qk-rope N   deepseek2: 8\n"
           "  --v-head N          deepseek2: 16\n"
           "  --gating G          deepseek2: softmax (V2-style, default) or sigmoid (V3-style:\n"
           "                      adds exp_probs_b; defaults norm-topk 1, weights-scale 2.5,\n"
           "                      n-expert-shared 1)\n"
           "  --expert-groups G   deepseek2: expert groups (0 = none, default)\n"
           "  --expert-groups-used Gu  deepseek2: groups kept per token\n"
           "  --weights-scale X   deepseek2: expert_weights_scale, 2.0 (V3-style 2.5)\n"
           "  --norm-topk 0|1     deepseek2: expert_weights_norm, 0 (V3-style 1)\n"
           "  --context N         context_length, 2048\n"
           "  --rope-base B       rope.freq_base, 10000 (qwen3moe 1e6)\n"
           "  --rms-eps E         layer_norm_rms_epsilon, 1e-5 (qwen3moe 1e-6)\n"
           "\n"
           "example (1.6 GB): janus gen-model --arch qwen3moe --n-layer 8 --n-embd 1024 \\\n"
           "    --n-expert 16 --n-expert-used 4 --n-ff-exp 2048 --type f16 -o big.gguf\n");
}

static int parse_type(const char *s, uint32_t *out) {
    static const struct {
        const char *name;
        uint32_t type;
    } k[] = {{"f32", GGML_TYPE_F32},
             {"f16", GGML_TYPE_F16},
             {"bf16", GGML_TYPE_BF16},
             {"q8_0", GGML_TYPE_Q8_0}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        if (!strcmp(s, k[i].name)) {
            *out = k[i].type;
            return 0;
        }
    }
    return -1;
}

int cmd_gen_model(int argc, char **argv) {
    const char *cmd = argv[0];
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    // pass 1: architecture and gating choose the defaults the other flags override
    const char *arch_s = NULL, *gating_s = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--arch")) arch_s = argv[i + 1];
        if (!strcmp(argv[i], "--gating")) gating_s = argv[i + 1];
    }
    if (!arch_s) return cli_error(cmd, "--arch is required (llama, qwen2moe, qwen3moe, deepseek2)");
    enum genmodel_arch arch;
    if (genmodel_arch_parse(arch_s, &arch))
        return cli_error(cmd, "unknown --arch '%s' (llama, qwen2moe, qwen3moe, deepseek2)", arch_s);
    struct genmodel_params p;
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
    const char *out = NULL;
    // pass 2: every flag
    static const struct {
        const char *flag;
        size_t off;
        int64_t lo, hi;
    } k_ints[] = {
#define F(flag, field, lo, hi) {flag, offsetof(struct genmodel_params, field), lo, hi}
        F("--n-embd", n_embd, 1, 1 << 20),
        F("--n-layer", n_layer, 1, 1 << 20),
        F("--n-head", n_head, 1, 1 << 20),
        F("--n-head-kv", n_head_kv, 1, 1 << 20),
        F("--head-dim", head_dim, 1, 1 << 20),
        F("--n-vocab", n_vocab, 1, 1 << 30),
        F("--n-expert", n_expert, 1, 1 << 20),
        F("--n-expert-used", n_expert_used, 1, 1 << 20),
        F("--n-ff-exp", n_ff_exp, 1, 1 << 24),
        F("--n-ff", n_ff, 1, 1 << 24),
        F("--n-expert-shared", n_expert_shared, 0, 1 << 20),
        F("--n-dense-lead", n_dense_lead, 0, 1 << 20),
        F("--q-lora", q_lora, 1, 1 << 24),
        F("--kv-lora", kv_lora, 1, 1 << 24),
        F("--qk-nope", qk_nope, 1, 1 << 24),
        F("--qk-rope", qk_rope, 1, 1 << 24),
        F("--v-head", v_head, 1, 1 << 24),
        F("--expert-groups", n_group, 0, 1 << 20),
        F("--expert-groups-used", n_group_used, 0, 1 << 20),
        F("--context", context, 1, 1 << 30),
#undef F
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return cli_error(cmd, "%s: missing value (see --help)", a);
        const char *v = argv[++i];
        int done = 0;
        for (size_t k = 0; k < sizeof k_ints / sizeof k_ints[0] && !done; k++) {
            if (strcmp(a, k_ints[k].flag) != 0) continue;
            int64_t x;
            if (cli_parse_i64(v, k_ints[k].lo, k_ints[k].hi, &x))
                return cli_error(cmd, "%s: '%s' is not an integer in [%lld, %lld]", a, v,
                                 (long long)k_ints[k].lo, (long long)k_ints[k].hi);
            *(int64_t *)((char *)&p + k_ints[k].off) = x;
            done = 1;
        }
        if (done) continue;
        if (!strcmp(a, "--arch") || !strcmp(a, "--gating")) {
            continue;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out = v;
        } else if (!strcmp(a, "--type")) {
            if (parse_type(v, &p.type))
                return cli_error(cmd, "--type must be f32, f16, bf16 or q8_0, not '%s'", v);
        } else if (!strcmp(a, "--seed")) {
            int64_t x;
            if (cli_parse_i64(v, 0, INT64_MAX, &x))
                return cli_error(cmd, "--seed: '%s' is not a non-negative integer", v);
            p.seed = (uint64_t)x;
        } else if (!strcmp(a, "--threads")) {
            int64_t x;
            if (cli_parse_i64(v, 1, 256, &x))
                return cli_error(cmd, "--threads: '%s' is not an integer in [1, 256]", v);
            p.n_threads = (int)x;
        } else if (!strcmp(a, "--vocab")) {
            p.vocab_path = v;
        } else if (!strcmp(a, "--name")) {
            p.name = v;
        } else if (!strcmp(a, "--norm-topk")) {
            if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                return cli_error(cmd, "--norm-topk must be 0 or 1, not '%s'", v);
            p.norm_topk = v[0] == '1';
        } else if (!strcmp(a, "--weights-scale") || !strcmp(a, "--rope-base") ||
                   !strcmp(a, "--rms-eps")) {
            double x;
            if (cli_parse_f64(v, 1e-30, 1e30, &x))
                return cli_error(cmd, "%s: '%s' is not a positive number", a, v);
            float *dst = !strcmp(a, "--weights-scale") ? &p.weights_scale
                         : !strcmp(a, "--rope-base")   ? &p.rope_base
                                                       : &p.rms_eps;
            *dst = (float)x;
        } else {
            return cli_error(cmd, "unknown option '%s' (see --help)", a);
        }
    }
    if (!out) return cli_error(cmd, "-o FILE is required");
    char err[512];
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
           ggml_type_name(p.type), bytes, s, s > 0 ? (double)bytes / s / 1e6 : 0.0);
    return 0;
}
