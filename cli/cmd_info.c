// janus info: describes a GGUF file — architecture, name, file type, every non-tokenizer
// metadata key with its value, vocabulary size, tensors (count and bytes per type and whether
// it is computable, and by which path; total),
// and an MoE summary (experts, top-k, shared experts, groups, expert vs non-expert bytes;
// tensors whose names contain "_exps" are expert weights). Read-only; output on stdout.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "opts.h"

#include "base/bytes.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/gguf_keys.h"
#include "model/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *file_type_name(uint32_t ft) {
    switch (ft) {
    case 0: return "all F32";
    case 1: return "mostly F16";
    case 2: return "mostly Q4_0";
    case 3: return "mostly Q4_1";
    case 7: return "mostly Q8_0";
    case 8: return "mostly Q5_0";
    case 9: return "mostly Q5_1";
    case 10: return "mostly Q2_K";
    case 11: return "mostly Q3_K_S";
    case 12: return "mostly Q3_K_M";
    case 13: return "mostly Q3_K_L";
    case 14: return "mostly Q4_K_S";
    case 15: return "mostly Q4_K_M";
    case 16: return "mostly Q5_K_S";
    case 17: return "mostly Q5_K_M";
    case 18: return "mostly Q6_K";
    case 19: return "mostly IQ2_XXS";
    case 20: return "mostly IQ2_XS";
    case 21: return "mostly Q2_K_S";
    case 22: return "mostly IQ3_XS";
    case 23: return "mostly IQ3_XXS";
    case 24: return "mostly IQ1_S";
    case 25: return "mostly IQ4_NL";
    case 26: return "mostly IQ3_S";
    case 27: return "mostly IQ3_M";
    case 28: return "mostly IQ2_S";
    case 29: return "mostly IQ2_M";
    case 30: return "mostly IQ4_XS";
    case 31: return "mostly IQ1_M";
    case 32: return "mostly BF16";
    case 36: return "mostly TQ1_0";
    case 37: return "mostly TQ2_0";
    }
    return "other";
}

// Prints a file string with control bytes escaped, cut at max bytes.
static void print_str(struct gguf_str s, uint64_t max) {
    uint64_t n = s.len < max ? s.len : max;
    putchar('"');
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('"');
    if (n < s.len) printf("... (%llu bytes)", (unsigned long long)s.len);
}

static void print_scalar(enum gguf_type t, const uint8_t *p) {
    switch (t) {
    case GGUF_TYPE_UINT8: printf("%u", p[0]); break;
    case GGUF_TYPE_INT8: printf("%d", (int8_t)p[0]); break;
    case GGUF_TYPE_BOOL: printf("%s", p[0] ? "true" : "false"); break;
    case GGUF_TYPE_UINT16: printf("%u", bytes_get_u16(p)); break;
    case GGUF_TYPE_INT16: printf("%d", (int16_t)bytes_get_u16(p)); break;
    case GGUF_TYPE_UINT32: printf("%u", bytes_get_u32(p)); break;
    case GGUF_TYPE_INT32: printf("%d", bytes_get_i32(p)); break;
    case GGUF_TYPE_FLOAT32: printf("%g", bytes_get_f32(p)); break;
    case GGUF_TYPE_UINT64: printf("%llu", (unsigned long long)bytes_get_u64(p)); break;
    case GGUF_TYPE_INT64: printf("%lld", (long long)bytes_get_i64(p)); break;
    case GGUF_TYPE_FLOAT64: printf("%g", bytes_get_f64(p)); break;
    default: printf("?"); break;
    }
}

static void print_value(const struct gguf *g, int64_t i) {
    const struct gguf_kv *kv = &g->kv[i];
    if (kv->type == GGUF_TYPE_STRING) {
        print_str((struct gguf_str){(const char *)kv->data + 8, bytes_get_u64(kv->data)}, 200);
        return;
    }
    if (kv->type != GGUF_TYPE_ARRAY) {
        print_scalar(kv->type, kv->data);
        return;
    }
    printf("[%s x %llu]", gguf_type_name(kv->arr_type), (unsigned long long)kv->arr_n);
    uint64_t show = kv->arr_n < 8 ? kv->arr_n : 8;
    for (uint64_t j = 0; j < show; j++) {
        putchar(j ? ',' : ' ');
        putchar(' ');
        if (kv->arr_type == GGUF_TYPE_STRING) {
            print_str(gguf_arr_str(g, i, j), 40);
        } else {
            size_t sz = kv->arr_type == GGUF_TYPE_UINT8 || kv->arr_type == GGUF_TYPE_INT8 ||
                                kv->arr_type == GGUF_TYPE_BOOL
                            ? 1
                        : kv->arr_type == GGUF_TYPE_UINT16 || kv->arr_type == GGUF_TYPE_INT16 ? 2
                        : kv->arr_type == GGUF_TYPE_UINT64 || kv->arr_type == GGUF_TYPE_INT64 ||
                                kv->arr_type == GGUF_TYPE_FLOAT64
                            ? 8
                            : 4;
            print_scalar(kv->arr_type, kv->data + j * sz);
        }
    }
    if (show < kv->arr_n) printf(", ...");
}

static int has_prefix(struct gguf_str s, const char *p) {
    size_t n = strlen(p);
    return s.len >= n && !memcmp(s.ptr, p, n);
}

static int contains(struct gguf_str s, const char *p) {
    size_t n = strlen(p);
    for (uint64_t i = 0; i + n <= s.len; i++)
        if (!memcmp(s.ptr + i, p, n)) return 1;
    return 0;
}

static void human(char *out, size_t n, uint64_t b) {
    if (b >= (1ull << 30))
        snprintf(out, n, "%.2f GiB", (double)b / (double)(1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(out, n, "%.2f MiB", (double)b / (double)(1ull << 20));
    else if (b >= 1024)
        snprintf(out, n, "%.1f KiB", (double)b / 1024.0);
    else
        snprintf(out, n, "%llu B", (unsigned long long)b);
}

// Optional u32 {arch}.suffix; returns 1 and sets *v if present and an integer.
static int arch_u32(const struct gguf *g, const char *arch, enum gguf_key k, uint32_t *v) {
    char key[256];
    return gguf_get_u32(g, gguf_key(key, sizeof key, arch, k), v, NULL, 0) == JANUS_OK;
}

int cmd_info(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *path = NULL;
    int list = 0;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("model", 'm', &path, "FILE", "the GGUF file (required)"),
        CLI_OPT_FLAG("tensors", 0, &list, "also list every tensor: name, type, shape, bytes"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(
            stdout,
            "info -m MODEL.gguf [--tensors]\n\n"
            "Describes a GGUF model (or vocab-only GGUF): architecture, name, file type, every\n"
            "non-tokenizer metadata key, vocabulary size, tensor count, count and bytes per\n"
            "tensor type with whether janus computes with it (the exact path for every\n"
            "computable type, the integer path besides it for block types; other types are\n"
            "refused at load), total bytes, and an MoE summary (experts, top-k, expert bytes\n"
            "vs non-expert bytes; expert weights are the tensors whose names contain\n"
            "\"_exps\").\n",
            opts, NULL);
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 1;
    if (!path) return cli_error(cmd, "-m MODEL is required");
    struct gguf g;
    char err[JANUS_ERR_LEN];
    if (gguf_open(&g, path, err, sizeof err)) return cli_error(cmd, "%s", err);

    struct gguf_str arch = {"", 0}, name = {"", 0};
    (void)!gguf_get_str(&g, gguf_key_name(GGUF_KEY_GENERAL_ARCHITECTURE), &arch, NULL, 0);
    (void)!gguf_get_str(&g, gguf_key_name(GGUF_KEY_GENERAL_NAME), &name, NULL, 0);
    char arch_c[128];
    snprintf(arch_c, sizeof arch_c, "%.*s", (int)(arch.len < 127 ? arch.len : 127), arch.ptr);
    printf("file:          %s (%zu bytes, GGUF v%u, alignment %u, data at %zu)\n", path, g.size,
           g.version, g.alignment, g.data_offset);
    printf("architecture:  %s\n", arch.len ? arch_c : "(none)");
    printf("name:          %.*s\n", (int)(name.len < 200 ? name.len : 200), name.ptr);
    uint32_t ft;
    if (gguf_get_u32(&g, gguf_key_name(GGUF_KEY_GENERAL_FILE_TYPE), &ft, NULL, 0) == JANUS_OK)
        printf("file type:     %u (%s)\n", ft, file_type_name(ft));
    enum gguf_type et;
    uint64_t n_vocab = 0;
    if (gguf_get_arr(&g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_TOKENS), &et, &n_vocab, NULL, 0) ==
        JANUS_OK) {
        struct gguf_str tm = {"?", 1};
        (void)!gguf_get_str(&g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_MODEL), &tm, NULL, 0);
        uint64_t n_merges = 0;
        int has_merges = gguf_get_arr(&g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_MERGES), &et,
                                      &n_merges, NULL, 0) == 0;
        printf("vocab:         %llu tokens (tokenizer.ggml.model %.*s", (unsigned long long)n_vocab,
               (int)(tm.len < 64 ? tm.len : 64), tm.ptr);
        if (has_merges) printf(", %llu merges", (unsigned long long)n_merges);
        printf(")\n");
    } else {
        printf("vocab:         (no tokenizer.ggml.tokens)\n");
    }

    printf("\nmetadata (%lld keys; tokenizer.ggml.* not shown):\n", (long long)g.n_kv);
    for (int64_t i = 0; i < g.n_kv; i++) {
        if (has_prefix(g.kv[i].key, "tokenizer.")) continue;
        printf("  %-48.*s ", (int)(g.kv[i].key.len < 200 ? g.kv[i].key.len : 200), g.kv[i].key.ptr);
        print_value(&g, i);
        putchar('\n');
    }

    // tensors by type
    uint64_t total = 0, expert = 0;
    int64_t n_by_type[64] = {0};
    uint64_t bytes_by_type[64] = {0};
    int64_t n_expert_tensors = 0, moe_layers = 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const struct gguf_tensor *t = &g.tensors[i];
        total += t->n_bytes;
        uint32_t ty = t->type < 64 ? t->type : 63;
        n_by_type[ty]++;
        bytes_by_type[ty] += t->n_bytes;
        if (contains(t->name, "_exps")) {
            expert += t->n_bytes;
            n_expert_tensors++;
            if (contains(t->name, "ffn_gate_exps")) moe_layers++;
        }
    }
    char h1[32], h2[32];
    human(h1, sizeof h1, total);
    printf("\ntensors:       %lld, %llu bytes (%s)\n", (long long)g.n_tensors,
           (unsigned long long)total, h1);
    // One line per type present: count, bytes, and whether janus computes with it — the
    // exact path (F32 activations, exact decoding) for every computable type, the integer
    // path (int8 activation blocks) besides it for the block types (docs/GGUF.md).
    for (int ty = 0; ty < 64; ty++) {
        if (!n_by_type[ty]) continue;
        human(h1, sizeof h1, bytes_by_type[ty]);
        const int kt = weights_kern_type((uint32_t)ty);
        const char *how = kt < 0              ? "no (refused at load)"
                          : kt <= KERN_W_BF16 ? "yes, exact path"
                                              : "yes, exact path and integer path";
        printf("  %-8s %6lld tensors %14llu bytes (%s)  computable: %s\n",
               ty == 63 ? "type>=63" : ggml_type_name((uint32_t)ty), (long long)n_by_type[ty],
               (unsigned long long)bytes_by_type[ty], h1, how);
    }
    {
        int any_refused = 0;
        for (int ty = 0; ty < 64; ty++)
            any_refused |= n_by_type[ty] && weights_kern_type((uint32_t)ty) < 0;
        if (any_refused) {
            char types[256];
            printf("  (computable types: %s)\n", weights_computable_list(types, sizeof types));
        }
    }
    if (list) {
        printf("\n  %-40s %-6s %-28s %12s\n", "name", "type", "ne", "bytes");
        for (int64_t i = 0; i < g.n_tensors; i++) {
            const struct gguf_tensor *t = &g.tensors[i];
            char shape[96];
            int o = snprintf(shape, sizeof shape, "{");
            for (uint32_t d = 0; d < t->n_dims && o < (int)sizeof shape; d++)
                o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%lld", d ? ", " : "",
                              (long long)t->ne[d]);
            if (o < (int)sizeof shape) snprintf(shape + o, sizeof shape - (size_t)o, "}");
            printf("  %-40.*s %-6s %-28s %12llu\n", (int)(t->name.len < 200 ? t->name.len : 200),
                   t->name.ptr, ggml_type_name(t->type), shape, (unsigned long long)t->n_bytes);
        }
    }

    uint32_t n_expert = 0, n_used = 0;
    if (arch.len && arch_u32(&g, arch_c, GGUF_KEY_EXPERT_COUNT, &n_expert) && n_expert > 0) {
        (void)!arch_u32(&g, arch_c, GGUF_KEY_EXPERT_USED_COUNT, &n_used);
        printf("\nMoE:\n");
        printf("  experts:           %u, top-%u per token\n", n_expert, n_used);
        uint32_t v;
        if (arch_u32(&g, arch_c, GGUF_KEY_EXPERT_SHARED_COUNT, &v))
            printf("  shared experts:    %u\n", v);
        else if (gguf_find_tensor(&g, "blk.0.ffn_gate_shexp.weight") ||
                 gguf_find_tensor(&g, "blk.1.ffn_gate_shexp.weight"))
            printf("  shared experts:    1 (ffn_*_shexp)\n");
        if (arch_u32(&g, arch_c, GGUF_KEY_EXPERT_GROUP_COUNT, &v) && v > 0) {
            uint32_t gu = 0;
            (void)!arch_u32(&g, arch_c, GGUF_KEY_EXPERT_GROUP_USED_COUNT, &gu);
            printf("  expert groups:     %u, %u kept per token\n", v, gu);
        }
        if (arch_u32(&g, arch_c, GGUF_KEY_EXPERT_GATING_FUNC, &v))
            printf("  gating:            %s\n", v == 2   ? "sigmoid"
                                                : v == 3 ? "softmax_weight"
                                                         : "softmax");
        if (arch_u32(&g, arch_c, GGUF_KEY_LEADING_DENSE_BLOCK_COUNT, &v))
            printf("  dense layers:      %u leading\n", v);
        printf("  expert tensors:    %lld (in %lld MoE layers)\n", (long long)n_expert_tensors,
               (long long)moe_layers);
        human(h1, sizeof h1, expert);
        human(h2, sizeof h2, total - expert);
        printf("  expert bytes:      %llu (%s, %.1f%%)\n", (unsigned long long)expert, h1,
               total ? 100.0 * (double)expert / (double)total : 0.0);
        printf("  non-expert bytes:  %llu (%s, %.1f%%)\n", (unsigned long long)(total - expert), h2,
               total ? 100.0 * (double)(total - expert) / (double)total : 0.0);
        if (moe_layers > 0) {
            human(h1, sizeof h1, expert / (uint64_t)moe_layers / n_expert);
            printf("  one expert:        %llu bytes (%s) per layer\n",
                   (unsigned long long)(expert / (uint64_t)moe_layers / n_expert), h1);
        }
    }
    gguf_close(&g);
    return 0;
}
