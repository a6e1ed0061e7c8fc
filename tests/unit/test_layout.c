// Layout tests (SPEC §5/§6, docs/FORMATS.md): physical replica ids, building from slots
// (with and without duplicates), invariant checks, JSON round trip and every validation
// error of the loader, digest.
// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/mem.h"
#include "base/status.h"
#include "place/layout.h"

static const char *good_json =
    "{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 3, \"slots\": 3, "
    "\"n_experts\": 4, \"layers\": [[], [[0,2],[1],[0],[1,2]], []]}";

TEST(replica_ids_follow_spec) {
    struct layout l;
    char err[200];
    ASSERT_OK(layout_parse_json(&l, good_json, strlen(good_json), err, sizeof err));
    ASSERT_EQ(l.n_layers, 3);
    ASSERT_EQ(layout_n_moe_layers(&l), 1);
    ASSERT_EQ(l.layers[0].n_experts, 0);
    const struct layout_layer *ly = &l.layers[1];
    // instance 0 holds {0, 2}: e0 pos 0, e2 pos 1; instance 1 {1, 3}; instance 2 {0, 3}.
    ASSERT_EQ(layout_replica_id(ly, 0, 0), 0);
    ASSERT_EQ(layout_replica_id(ly, 2, 0), 1);
    ASSERT_EQ(layout_replica_id(ly, 1, 1), 3);
    ASSERT_EQ(layout_replica_id(ly, 3, 1), 4);
    ASSERT_EQ(layout_replica_id(ly, 0, 2), 6);
    ASSERT_EQ(layout_replica_id(ly, 3, 2), 7);
    ASSERT_EQ(layout_replica_id(ly, 1, 0), -1);
    int32_t ex[3];
    ASSERT_EQ(layout_instance_experts(ly, 2, ex), 2);
    ASSERT_EQ(ex[0], 0);
    ASSERT_EQ(ex[1], 3);
    ASSERT_EQ(ly->n_held[0], 2);
    ASSERT_OK(layout_check(&l, err, sizeof err));
    layout_free(&l);
}

TEST(json_round_trip_and_digest) {
    struct layout l, l2, l3;
    char err[200];
    ASSERT_OK(layout_parse_json(&l, good_json, strlen(good_json), err, sizeof err));
    char *s = layout_to_json(&l);
    ASSERT(s != NULL);
    ASSERT_OK(layout_parse_json(&l2, s, strlen(s), err, sizeof err));
    ASSERT_EQ(layout_digest(&l), layout_digest(&l2));
    char *s2 = layout_to_json(&l2);
    ASSERT_STR_EQ(s, s2);
    char path[512];
    snprintf(path, sizeof path, "%s/l.json", test_tmpdir());
    ASSERT_OK(layout_save_json(&l, path));
    ASSERT_OK(layout_load_json(&l3, path, err, sizeof err));
    ASSERT_EQ(layout_digest(&l3), layout_digest(&l));
    layout_free(&l3);
    ASSERT_OK(layout_copy(&l3, &l));
    ASSERT_EQ(layout_digest(&l3), layout_digest(&l));
    // A different layout has a different digest.
    // e0 on {1, 2} instead of {0, 2}: a different layout has a different digest.
    int32_t off[5] = {0, 2, 3, 4, 6}, hosts[6] = {1, 2, 1, 0, 1, 2};
    ASSERT_OK(layout_set_layer_hosts(&l2, 1, off, hosts, err, sizeof err));
    ASSERT_NE(layout_digest(&l2), layout_digest(&l));
    mem_free(s);
    mem_free(s2);
    layout_free(&l);
    layout_free(&l2);
    layout_free(&l3);
}

TEST(from_slots_and_duplicates) {
    struct layout l;
    ASSERT_OK(layout_init(&l, 1, 2, 3, 3));
    char err[200] = "";
    int32_t slots[6] = {2, 0, -1, 1, 2, 0};
    ASSERT_OK(layout_set_layer_slots(&l, 0, slots, NULL, err, sizeof err));
    ASSERT_EQ(layout_n_replicas(&l.layers[0], 0), 2);
    ASSERT_EQ(layout_replica_id(&l.layers[0], 2, 0), 1); // {0, 2} on instance 0
    ASSERT_EQ(layout_replica_id(&l.layers[0], 2, 1), 5); // {0, 1, 2} on instance 1
    int32_t dup_slots[6] = {1, 1, 0, 2, 2, -1};
    ASSERT_EQ(layout_set_layer_slots(&l, 0, dup_slots, NULL, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "twice") != NULL);
    int32_t n_dup = -1;
    ASSERT_OK(layout_set_layer_slots(&l, 0, dup_slots, &n_dup, err, sizeof err));
    ASSERT_EQ(n_dup, 2);
    ASSERT_EQ(layout_n_replicas(&l.layers[0], 1), 1);
    ASSERT_OK(layout_check(&l, err, sizeof err));
    int32_t missing[6] = {0, 0, -1, 1, -1, -1};
    ASSERT_EQ(layout_set_layer_slots(&l, 0, missing, &n_dup, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "expert 2 has no replica") != NULL);
    layout_free(&l);
}

TEST(check_catches_corruption) {
    struct layout l;
    char err[200] = "";
    ASSERT_OK(layout_parse_json(&l, good_json, strlen(good_json), err, sizeof err));
    l.layers[1].replica[0] = 1; // wrong position for expert 0 on instance 0
    ASSERT_EQ(layout_check(&l, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "layer 1") != NULL);
    layout_free(&l);
}

static void expect_bad(const char *json, int code, const char *needle) {
    struct layout l;
    char err[256] = "";
    int rc = layout_parse_json(&l, json, strlen(json), err, sizeof err);
    if (rc != code || !strstr(err, needle)) {
        test_fail(__FILE__, __LINE__, "json %s: rc %d err '%s', want %d '%s'", json, rc, err, code,
                  needle);
    }
    ASSERT_EQ(l.layers == NULL, 1); // left zeroed
}

TEST(loader_rejects_bad_documents) {
    expect_bad("not json", JANUS_EFORMAT, "not valid JSON");
    expect_bad("{\"format\": \"x\"}", JANUS_EFORMAT, "format");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 2}", JANUS_EFORMAT, "version");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 0, \"slots\": 1, "
               "\"n_experts\": 1, \"layers\": [[]]}",
               JANUS_EFORMAT, "n_instances");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 99999, \"slots\": "
               "1, \"n_experts\": 1, \"layers\": [[]]}",
               JANUS_ELIMIT, "n_instances");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 2, \"slots\": 1, "
               "\"n_experts\": 3, \"layers\": [[]]}",
               JANUS_EFORMAT, "cannot hold");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 2, \"slots\": 2, "
               "\"n_experts\": 2, \"layers\": [[[0],[1],[1]]]}",
               JANUS_EFORMAT, "has 3 experts");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 2, \"slots\": 2, "
               "\"n_experts\": 2, \"layers\": [[[0],[2]]]}",
               JANUS_EFORMAT, "host must be an integer in [0, 2)");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 2, \"slots\": 2, "
               "\"n_experts\": 2, \"layers\": [[[1,0],[1]]]}",
               JANUS_EFORMAT, "ascending");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 2, \"slots\": 2, "
               "\"n_experts\": 2, \"layers\": [[[0],[]]]}",
               JANUS_EFORMAT, "non-empty");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 2, \"slots\": 1, "
               "\"n_experts\": 2, \"layers\": [[[0],[0]]]}",
               JANUS_EFORMAT, "slots");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 2, \"slots\": 2, "
               "\"n_experts\": 2, \"layers\": [[[0.5],[1]]]}",
               JANUS_EFORMAT, "integer");
    expect_bad("{\"format\": \"janus-layout\", \"version\": 1, \"n_instances\": 2, \"slots\": 2, "
               "\"n_experts\": 2, \"layers\": []}",
               JANUS_EFORMAT, "layers");
    struct layout l;
    char err[256] = "";
    ASSERT_EQ(layout_load_json(&l, "/nonexistent/x.json", err, sizeof err), JANUS_EIO);
    ASSERT(strstr(err, "cannot open") != NULL);
}

TEST(loader_survives_allocation_failures) {
    // Fail the n-th allocation for every n: always an error or success, never a leak/crash.
    for (uint64_t n = 1; n < 40; n++) {
        struct layout l;
        char err[200];
        int64_t before = mem_live_bytes(MEM_TAG_SCHED);
        mem_fail_after(n);
        int rc = layout_parse_json(&l, good_json, strlen(good_json), err, sizeof err);
        mem_fail_after(0);
        if (rc == JANUS_OK) layout_free(&l);
        ASSERT_EQ(mem_live_bytes(MEM_TAG_SCHED), before);
    }
}
