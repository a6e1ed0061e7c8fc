// Replica layout (SPEC §2, §5, §6): per MoE layer, which instances hold a replica of which
// logical expert. Identical on every MoE instance. Physical replica id of expert e on
// instance g = g * C + position, position = rank of e among g's experts in ascending id.
// Invariants (layout_check): hosts of each expert non-empty, ascending, distinct, in
// [0, n); no instance holds more than C experts. JSON file format: docs/FORMATS.md.
// File I/O only in layout_load_json / layout_save_json.
// SPDX-License-Identifier: MIT
#ifndef JANUS_LAYOUT_H
#define JANUS_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

// ---- data
// One layer. A dense layer (no experts; JSON entry []) has n_experts == 0 and NULL arrays.
// CSR form: the replicas of expert e are entries host_off[e] .. host_off[e+1]-1.
struct layout_layer {
    int32_t n_experts;   // E (0 for a dense layer)
    int32_t n_instances; // n (copied from the layout)
    int32_t n_slots;     // C (copied from the layout)
    int32_t *host_off;   // (E + 1) offsets; host_off[0] == 0; R(e) = host_off[e+1] - host_off[e]
    int32_t *hosts;      // (host_off[E]) instance ids holding e, strictly ascending per expert
    int32_t *replica;    // (host_off[E]) physical replica id of that (expert, host) pair
    int32_t *n_held;     // (n) number of experts held by each instance (<= C)
};

struct layout {
    int32_t n_instances;         // n, MoE instances, 1..LIMIT_MAX_INSTANCES
    int32_t n_slots;             // C, expert slots per instance per layer, 1..LIMIT_MAX_SLOTS
    int32_t n_experts;           // E, logical experts per MoE layer, 1..LIMIT_MAX_EXPERTS
    int32_t n_layers;            // model layers (dense ones included), 1..LIMIT_MAX_LAYERS
    struct layout_layer *layers; // (n_layers); each starts dense until set
};

// ---- lifetime
// Allocates a layout whose layers are all dense. JANUS_OK; JANUS_EINVAL (a size out of
// range); JANUS_ENOMEM. On failure *l is left zeroed.
JANUS_WUR int layout_init(struct layout *l, int32_t n_layers, int32_t n_instances, int32_t n_slots,
                          int32_t n_experts);
// Frees everything the layout owns and zeroes it. Safe on a zeroed layout.
void layout_free(struct layout *l);
// Deep copy. JANUS_OK or JANUS_ENOMEM (dst left zeroed). dst must not be initialised.
JANUS_WUR int layout_copy(struct layout *dst, const struct layout *src);

// ---- building a layer
// Sets layer `i` from per-instance slot contents: slots[g * C + s] is the logical expert
// in slot s of instance g, or -1 for an empty slot (slot order does not matter; physical
// ids are recomputed canonically). Every expert 0..E-1 must appear at least once.
// Two replicas of one expert on one instance are an error (JANUS_EINVAL) unless n_dup is
// non-NULL: then they are merged into one (the extra slot is wasted) and *n_dup receives
// how many were merged — this is how the EPLB baseline's duplicates are counted (SPEC §6).
// Returns JANUS_OK, JANUS_EINVAL (bad index, expert out of range or missing; err says
// which), JANUS_ENOMEM. On failure the layer is unchanged.
JANUS_WUR int layout_set_layer_slots(struct layout *l, int32_t i, const int32_t *slots,
                                     int32_t *n_dup, char *err, size_t err_len);
// Sets layer `i` from CSR host lists (host_off (E+1), hosts (host_off[E]); each expert's
// hosts strictly ascending). Validates like layout_check. JANUS_OK, JANUS_EINVAL (err
// says why), JANUS_ENOMEM; on failure the layer is unchanged.
JANUS_WUR int layout_set_layer_hosts(struct layout *l, int32_t i, const int32_t *host_off,
                                     const int32_t *hosts, char *err, size_t err_len);
// Makes layer `i` dense (frees its arrays). i must be in range (asserted).
void layout_set_dense(struct layout *l, int32_t i);

// ---- queries (all O(1) or O(R(e)) and allocation-free)
// Number of replicas of e (0 on a dense layer).
static inline int32_t layout_n_replicas(const struct layout_layer *ly, int32_t e) {
    return ly->host_off[e + 1] - ly->host_off[e];
}
// Physical replica id of expert e on instance g, or -1 if g holds no replica of e.
int32_t layout_replica_id(const struct layout_layer *ly, int32_t e, int32_t g);
// Writes the experts held by instance g in ascending id order (its slot contents by
// position) to out (capacity >= C); returns their number.
int32_t layout_instance_experts(const struct layout_layer *ly, int32_t g, int32_t *out);
// Number of MoE (non-dense) layers.
int32_t layout_n_moe_layers(const struct layout *l);

// ---- invariants
// Checks every invariant of one layer / the whole layout, including that replica[] and
// n_held[] match the host lists (physical ids per SPEC §5). JANUS_OK or JANUS_EINVAL with
// a one-line reason naming layer, expert or instance in err (if non-NULL).
JANUS_WUR int layout_layer_check(const struct layout_layer *ly, char *err, size_t err_len);
JANUS_WUR int layout_check(const struct layout *l, char *err, size_t err_len);

// FNV-1a digest of sizes and host lists, to compare layouts across ranks.
uint64_t layout_digest(const struct layout *l);

// ---- JSON ("format": "janus-layout", version 1; docs/FORMATS.md)
// Parses a layout document (text, len bytes, need not be NUL-terminated). Bounded by
// limits.h before allocation; every field validated, then layout_check.
// JANUS_OK; JANUS_EFORMAT (malformed or invalid: err names the field/layer/expert);
// JANUS_ELIMIT (a size over limits.h); JANUS_ENOMEM. *l must not be initialised; on
// failure it is left zeroed.
JANUS_WUR int layout_parse_json(struct layout *l, const char *text, size_t len, char *err,
                                size_t err_len);
// Reads and parses a file (at most 256 MiB). Also JANUS_EIO (open/read failed).
JANUS_WUR int layout_load_json(struct layout *l, const char *path, char *err, size_t err_len);
// Serializes to a NUL-terminated JSON string (mem_free it). NULL on ENOMEM.
char *layout_to_json(const struct layout *l);
// Writes layout_to_json to a file. JANUS_OK, JANUS_ENOMEM, JANUS_EIO.
JANUS_WUR int layout_save_json(const struct layout *l, const char *path);

#endif // JANUS_LAYOUT_H
