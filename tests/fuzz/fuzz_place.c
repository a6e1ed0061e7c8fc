// libFuzzer target for the scheduler/placement file parsers (docs/FORMATS.md): the first
// byte picks routing trace text, janus-layout JSON or janus-stats JSON. A layout that
// parses must pass layout_check, round-trip through layout_to_json to the same digest,
// and schedule a few tokens under every policy with a valid result; a stats document
// that parses must round-trip through stats_to_json. No input may crash, hang or leak.
// SPDX-License-Identifier: MIT
#include "actsched/actsched.h"
#include "base/mem.h"
#include "place/layout.h"
#include "place/stats.h"
#include "place/trace.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_layout(const struct layout *l) {
    char err[256];
    if (layout_check(l, err, sizeof err)) __builtin_trap();
    char *s = layout_to_json(l);
    if (!s) return;
    struct layout l2;
    if (layout_parse_json(&l2, s, strlen(s), err, sizeof err)) __builtin_trap();
    if (layout_digest(&l2) != layout_digest(l)) __builtin_trap();
    layout_free(&l2);
    mem_free(s);
    struct actsched_limits lim = {4, l->n_experts, l->n_instances, 2};
    struct actsched_ws ws = {0};
    struct actsched_output out = {0};
    if (actsched_init(&ws, &lim) == 0 && actsched_output_init(&out, &lim) == 0) {
        for (int32_t i = 0; i < l->n_layers; i++) {
            if (!l->layers[i].n_experts) continue;
            int32_t ids[8];
            for (int j = 0; j < 8; j++)
                ids[j] = (j * 7 + i) % l->n_experts;
            struct actsched_input in = {&l->layers[i], ids, 4, 2, 1, i, 0};
            for (int p = 0; p < ACTSCHED_POLICY_COUNT; p++)
                if (actsched_run(&ws, (enum actsched_policy)p, &in, &out) == 0 &&
                    actsched_check(&in, &out, err, sizeof err))
                    __builtin_trap();
        }
    }
    actsched_free(&ws);
    actsched_output_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    char err[256];
    switch (data[0] % 3) {
    case 0: {
        struct trace t;
        if (trace_parse(&t, text, n, err, sizeof err) == 0) trace_free(&t);
        break;
    }
    case 1: {
        struct layout l;
        if (layout_parse_json(&l, text, n, err, sizeof err) == 0) {
            check_layout(&l);
            layout_free(&l);
        }
        break;
    }
    default: {
        struct stats s, s2;
        if (stats_parse_json(&s, text, n, err, sizeof err) == 0) {
            char *j = stats_to_json(&s);
            if (j) {
                if (stats_parse_json(&s2, j, strlen(j), err, sizeof err)) __builtin_trap();
                stats_free(&s2);
                mem_free(j);
            }
            stats_free(&s);
        }
        break;
    }
    }
    return 0;
}
