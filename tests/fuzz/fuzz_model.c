// libFuzzer target for model binding and one engine step (weights.c, hparams.c, attn/moe):
// the input patches the header (metadata + tensor infos) of a small valid gen-model model
// of one of the four architectures, so mutations reach hyper-parameter validation and
// tensor shape/type checks instead of dying in the GGUF parser. Any input must give a
// clean error with a message, or a model that runs one 3-token step with finite-or-not
// logits but without a crash, leak or out-of-bounds access.
// Input: byte 0 selects the architecture; then triples (offset lo, offset hi, value) each
// overwrite one header byte.
// SPDX-License-Identifier: MIT
#include "base/status.h"
#include "engine/stepper.h"
#include "model/genmodel.h"
#include "model/gguf.h"
#include "model/weights.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static uint8_t *base[4];
static size_t base_size[4], header_size[4];
static uint8_t *work;

static void make_base(int a) {
    struct genmodel_params p;
    genmodel_default_params(&p, (enum genmodel_arch)a);
    p.type = GGML_TYPE_F32; // f16 conversion under coverage instrumentation is slow
    p.n_vocab = 259 + 8;
    // Small dimensions: the step runs under coverage instrumentation for every input.
    p.n_layer = a == GENMODEL_ARCH_DEEPSEEK2 ? 2 : 1;
    p.n_embd = 32;
    p.n_head = 2;
    p.n_head_kv = a == GENMODEL_ARCH_DEEPSEEK2 ? 2 : 1;
    if (a == GENMODEL_ARCH_LLAMA || a == GENMODEL_ARCH_QWEN2MOE) p.head_dim = 16;
    p.n_ff_exp = 16;
    if (a == GENMODEL_ARCH_QWEN2MOE || a == GENMODEL_ARCH_DEEPSEEK2) p.n_ff = 32;
    if (a == GENMODEL_ARCH_DEEPSEEK2) {
        p.n_expert = 8;
        p.n_group = 4;
        p.n_group_used = 2;
        p.q_lora = 16;
        p.kv_lora = 16;
    }
    char path[128], err[256];
    snprintf(path, sizeof path, "/tmp/fuzz_model_%d_%d.gguf", (int)getpid(), a);
    if (genmodel_write(&p, path, err, sizeof err) != JANUS_OK) {
        fprintf(stderr, "fuzz_model: genmodel: %s\n", err);
        abort();
    }
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    base_size[a] = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    base[a] = malloc(base_size[a]);
    if (fread(base[a], 1, base_size[a], f) != base_size[a]) abort();
    fclose(f);
    unlink(path);
    struct gguf g;
    if (gguf_open_memory(&g, base[a], base_size[a], err, sizeof err) != JANUS_OK) abort();
    header_size[a] = (size_t)(g.data - g.map);
    gguf_close(&g);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    size_t mx = 0;
    for (int a = 0; a < 4; a++) {
        make_base(a);
        if (base_size[a] > mx) mx = base_size[a];
    }
    work = malloc(mx);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int a = data[0] % 4;
    memcpy(work, base[a], base_size[a]);
    for (size_t i = 1; i + 3 <= size; i += 3) {
        const size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8) % header_size[a];
        work[off] = data[i + 2];
    }
    struct model m;
    char err[256] = "";
    int rc = model_load_memory(&m, work, base_size[a], err, sizeof err);
    if (rc != JANUS_OK) {
        if (!err[0]) {
            fprintf(stderr, "fuzz_model: error %d without a message\n", rc);
            abort();
        }
        return 0;
    }
    struct stepper st;
    struct stepper_params sp = {.max_tokens = 3, .n_seq = 1, .max_ctx = 3, .max_logits = 1};
    if (stepper_init(&st, &m, &sp) == JANUS_OK) {
        struct batch b;
        if (batch_init(&b, 3) == JANUS_OK) {
            for (int i = 0; i < 3; i++)
                (void)!batch_add(&b, (int32_t)((i * 7 + 1) % m.hp.n_vocab), 0, i, i == 2);
            (void)!stepper_step(&st, &b);
            batch_free(&b);
        }
        stepper_free(&st);
    }
    model_free(&m);
    return 0;
}
