// Writes the seed corpus tests/fuzz/corpus_gguf/*.gguf with the GGUF writer (tiny files:
// no keys; every key type; one tensor of each computable type; an unsupported iq2_xxs tensor;
// alignment 2).
// Build and run from the repository root after `make`:
//   cc -Isrc tests/fuzz/gen_corpus_gguf.c build/libjanus.a -lm -o /tmp/gen && /tmp/gen
// SPDX-License-Identifier: MIT
#include "model/gguf.h"
#include "kernels/types.h"
#include <stdio.h>
#include <string.h>
static void save(struct gguf_writer *w, const char *name) {
    char p[256];
    snprintf(p, 256, "tests/fuzz/corpus_gguf/%s", name);
    if (gguf_writer_write(w, p)) printf("fail %s\n", name);
    gguf_writer_destroy(&w);
}
int main(void);
int main(void) {
    float x[256];
    for (int i = 0; i < 256; i++)
        x[i] = (float)i / 64.f - 2.f;
    uint16_t h[256];
    types_f32_to_f16_row(h, x, 256);
    uint16_t bf[256];
    types_f32_to_bf16_row(bf, x, 256);
    struct block_q8_0 q[8];
    q8_0_quantize_row(q, x, 256);
    const char *toks[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81the", "a"};
    float sc[] = {0, 0, 0, -1, -2};
    int32_t tt[] = {2, 3, 3, 1, 1};
    struct gguf_writer *w;
    // 1: empty
    w = gguf_writer_create();
    save(w, "empty.gguf");
    // 2: keys of every writer type
    w = gguf_writer_create();
    (void)!gguf_writer_add_str(w, "general.architecture", "llama");
    (void)!gguf_writer_add_u32(w, "llama.block_count", 2);
    (void)!gguf_writer_add_f32(w, "llama.rope.freq_base", 10000.f);
    (void)!gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", 1);
    (void)!gguf_writer_add_u64(w, "x.u64", 1ull << 40);
    (void)!gguf_writer_add_i32(w, "x.i32", -7);
    (void)!gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 5);
    (void)!gguf_writer_add_arr_f32(w, "tokenizer.ggml.scores", sc, 5);
    (void)!gguf_writer_add_arr_i32(w, "tokenizer.ggml.token_type", tt, 5);
    save(w, "keys.gguf");
    // 3: tensors of each type
    w = gguf_writer_create();
    (void)!gguf_writer_add_str(w, "general.architecture", "llama");
    int64_t ne1[1] = {16}, ne2[2] = {32, 2}, ne3[3] = {32, 2, 2}, nek[1] = {256};
    (void)!gguf_writer_add_tensor(w, "norm.weight", 1, ne1, GGML_TYPE_F32, x, 64);
    (void)!gguf_writer_add_tensor(w, "a.f16", 2, ne2, GGML_TYPE_F16, h, 128);
    (void)!gguf_writer_add_tensor(w, "a.bf16", 2, ne2, GGML_TYPE_BF16, bf, 128);
    (void)!gguf_writer_add_tensor(w, "a.q8", 3, ne3, GGML_TYPE_Q8_0, q, 136);
    save(w, "tensors.gguf");
    // 4: alignment key + unsupported type
    w = gguf_writer_create();
    (void)!gguf_writer_add_u32(w, "general.alignment", 32);
    unsigned char k4[66];
    memset(k4, 3, 66);
    (void)!gguf_writer_add_tensor(w, "blk.0.ffn_up_exps.weight", 1, nek, GGML_TYPE_IQ2_XXS, k4, 66);
    save(w, "iq2xxs.gguf");
    // 5: a non-default alignment (2) that moves the data section: a copy must keep the layout
    w = gguf_writer_create();
    (void)!gguf_writer_add_u32(w, "general.alignment", 2);
    (void)!gguf_writer_add_tensor(w, "blk.0.ffn_up_exps.weight", 1, nek, GGML_TYPE_IQ2_XXS, k4, 66);
    save(w, "align2.gguf");
    return 0;
}
