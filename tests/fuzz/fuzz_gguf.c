// libFuzzer target for the GGUF reader (gguf_open_memory): any input must give either a
// clean error with a message or a file whose every accessor stays inside the buffer; an
// accepted file must also survive a writer round trip (copy every key and tensor, write,
// reopen) with the same keys and tensor bytes. Seeds: tests/fuzz/corpus_gguf/ (writer-made).
// SPDX-License-Identifier: MIT
#include "base/limits.h"
#include "base/mem.h"
#include "model/gguf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_gguf: invariant failed: %s\n", what);
        abort();
    }
}

static void walk(const struct gguf *g) {
    char err[256];
    for (int64_t i = 0; i < g->n_kv; i++) {
        const struct gguf_kv *kv = &g->kv[i];
        char key[128];
        size_t kl = kv->key.len < sizeof key - 1 ? (size_t)kv->key.len : sizeof key - 1;
        memcpy(key, kv->key.ptr, kl);
        key[kl] = 0;
        uint32_t u;
        float f;
        int b;
        struct gguf_str s;
        enum gguf_type et;
        uint64_t n;
        (void)!gguf_get_u32(g, key, &u, err, sizeof err);
        (void)!gguf_get_f32(g, key, &f, err, sizeof err);
        (void)!gguf_get_bool(g, key, &b, err, sizeof err);
        if (gguf_get_str(g, key, &s, err, sizeof err) == 0 && kl == kv->key.len)
            check((const uint8_t *)s.ptr + s.len <= g->map + g->size, "string inside buffer");
        (void)!gguf_get_arr(g, key, &et, &n, err, sizeof err);
        if (kv->type != GGUF_TYPE_ARRAY) continue;
        for (uint64_t j = 0; j < kv->arr_n; j++) {
            if (kv->arr_type == GGUF_TYPE_STRING) {
                struct gguf_str e = gguf_arr_str(g, i, j);
                check((const uint8_t *)e.ptr + e.len <= g->map + g->size, "element inside buffer");
            } else {
                (void)gguf_arr_f64(g, i, j);
                (void)gguf_arr_i64(g, i, j);
            }
        }
    }
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->tensors[i];
        check((const uint8_t *)t->data >= g->map, "tensor after start");
        check(t->n_bytes <= (uint64_t)(g->map + g->size - (const uint8_t *)t->data),
              "tensor inside buffer");
        check(t->n_bytes == gguf_tensor_bytes(t->n_dims, t->ne, t->type), "tensor size");
    }
}

static void roundtrip(const struct gguf *g) {
    struct gguf_writer *w = gguf_writer_create();
    if (!w) return;
    for (int64_t i = 0; i < g->n_kv; i++)
        check(gguf_writer_copy_kv(w, g, i) == 0, "copy kv");
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->tensors[i];
        char name[LIMIT_GGUF_MAX_NAME + 1];
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = 0;
        check(gguf_writer_add_tensor(w, name, t->n_dims, t->ne, t->type, t->data, t->n_bytes) == 0,
              "add tensor");
    }
    void *buf = NULL;
    size_t len = 0;
    check(gguf_writer_write_memory(w, &buf, &len) == 0, "write memory");
    gguf_writer_destroy(&w);
    struct gguf g2;
    char err[512];
    int rc = gguf_open_memory(&g2, buf, len, err, sizeof err);
    if (rc) fprintf(stderr, "fuzz_gguf: rewritten file rejected: %s\n", err);
    check(rc == 0, "rewritten file opens");
    check(g2.n_kv == g->n_kv && g2.n_tensors == g->n_tensors, "same counts");
    for (int64_t i = 0; i < g->n_kv; i++)
        check(g2.kv[i].key.len == g->kv[i].key.len && g2.kv[i].type == g->kv[i].type, "same keys");
    for (int64_t i = 0; i < g->n_tensors; i++)
        check(g2.tensors[i].n_bytes == g->tensors[i].n_bytes &&
                  memcmp(g2.tensors[i].data, g->tensors[i].data, g->tensors[i].n_bytes) == 0,
              "same tensor bytes");
    gguf_close(&g2);
    mem_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct gguf g;
    char err[512];
    err[0] = 0;
    int rc = gguf_open_memory(&g, data, size, err, sizeof err);
    if (rc) {
        check(err[0] != 0 && strchr(err, '\n') == NULL, "one-line error message");
        return 0;
    }
    walk(&g);
    roundtrip(&g);
    gguf_close(&g);
    return 0;
}
