// Replica layout (layout.h): construction from slots or host lists, invariant checks,
// physical replica ids (SPEC §5), digest, and the "janus-layout" JSON format (cJSON).
// Pure except layout_load_json/layout_save_json.
// SPDX-License-Identifier: MIT
#include "place/layout.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "base/limits.h"
#include "base/file.h"
#include "base/json_field.h"
#include "base/mem.h"
#include "base/status.h"

// ---- lifetime

static void layer_release(struct layout_layer *ly) {
    mem_free(ly->host_off);
    mem_free(ly->hosts);
    mem_free(ly->replica);
    mem_free(ly->n_held);
    ly->host_off = ly->hosts = ly->replica = ly->n_held = NULL;
    ly->n_experts = 0;
}

int layout_init(struct layout *l, int32_t n_layers, int32_t n_instances, int32_t n_slots,
                int32_t n_experts) {
    memset(l, 0, sizeof *l);
    if (n_layers < 1 || n_layers > LIMIT_MAX_LAYERS || n_instances < 1 ||
        n_instances > LIMIT_MAX_INSTANCES || n_slots < 1 || n_slots > LIMIT_MAX_SLOTS ||
        n_experts < 1 || n_experts > LIMIT_MAX_EXPERTS)
        return JANUS_EINVAL;
    l->layers = mem_calloc(MEM_TAG_SCHED, (size_t)n_layers, sizeof *l->layers);
    if (!l->layers) return JANUS_ENOMEM;
    l->n_layers = n_layers;
    l->n_instances = n_instances;
    l->n_slots = n_slots;
    l->n_experts = n_experts;
    for (int32_t i = 0; i < n_layers; i++) {
        l->layers[i].n_instances = n_instances;
        l->layers[i].n_slots = n_slots;
    }
    return JANUS_OK;
}

void layout_free(struct layout *l) {
    if (l->layers)
        for (int32_t i = 0; i < l->n_layers; i++)
            layer_release(&l->layers[i]);
    mem_free(l->layers);
    memset(l, 0, sizeof *l);
}

void layout_set_dense(struct layout *l, int32_t i) {
    JANUS_ASSERT(i >= 0 && i < l->n_layers);
    layer_release(&l->layers[i]);
}

// Builds a layer's arrays from validated CSR host lists (hosts strictly ascending per
// expert, in range, n_held <= C checked by the caller or here).
static int layer_build(const struct layout *l, struct layout_layer *out, const int32_t *host_off,
                       const int32_t *hosts, char *err, size_t err_len) {
    int32_t E = l->n_experts, n = l->n_instances, C = l->n_slots;
    if (host_off[0] != 0)
        return status_errf(err, err_len, JANUS_EINVAL, "host offsets must start at 0");
    for (int32_t e = 0; e < E; e++) {
        int32_t r = host_off[e + 1] - host_off[e];
        if (r < 1) return status_errf(err, err_len, JANUS_EINVAL, "expert %d has no replica", e);
        if (r > n)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "expert %d has %d replicas but only %d instances", e, r, n);
        for (int32_t j = host_off[e]; j < host_off[e + 1]; j++) {
            if (hosts[j] < 0 || hosts[j] >= n)
                return status_errf(err, err_len, JANUS_EINVAL,
                                   "expert %d: instance %d out of range [0, %d)", e, hosts[j], n);
            if (j > host_off[e] && hosts[j] <= hosts[j - 1])
                return status_errf(err, err_len, JANUS_EINVAL,
                                   "expert %d: hosts not strictly ascending (%d after %d)", e,
                                   hosts[j], hosts[j - 1]);
        }
    }
    int32_t nr = host_off[E];
    struct layout_layer ly = {.n_experts = E, .n_instances = n, .n_slots = C};
    ly.host_off = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)(E + 1));
    ly.hosts = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)(nr ? nr : 1));
    ly.replica = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)(nr ? nr : 1));
    ly.n_held = mem_calloc(MEM_TAG_SCHED, (size_t)n, sizeof(int32_t));
    if (!ly.host_off || !ly.hosts || !ly.replica || !ly.n_held) {
        layer_release(&ly);
        return JANUS_ENOMEM;
    }
    memcpy(ly.host_off, host_off, sizeof(int32_t) * (size_t)(E + 1));
    memcpy(ly.hosts, hosts, sizeof(int32_t) * (size_t)nr);
    // Experts ascending: the running count of instance g is e's position on g (SPEC §5).
    for (int32_t e = 0; e < E; e++)
        for (int32_t j = host_off[e]; j < host_off[e + 1]; j++) {
            int32_t g = hosts[j];
            ly.replica[j] = g * C + ly.n_held[g];
            ly.n_held[g]++;
        }
    for (int32_t g = 0; g < n; g++)
        if (ly.n_held[g] > C) {
            status_errf(err, err_len, JANUS_EINVAL, "instance %d holds %d experts but has %d slots",
                        g, ly.n_held[g], C);
            layer_release(&ly);
            return JANUS_EINVAL;
        }
    *out = ly;
    return JANUS_OK;
}

int layout_set_layer_hosts(struct layout *l, int32_t i, const int32_t *host_off,
                           const int32_t *hosts, char *err, size_t err_len) {
    if (i < 0 || i >= l->n_layers)
        return status_errf(err, err_len, JANUS_EINVAL, "layer %d out of range [0, %d)", i,
                           l->n_layers);
    struct layout_layer ly;
    int rc = layer_build(l, &ly, host_off, hosts, err, err_len);
    if (rc) return rc;
    layer_release(&l->layers[i]);
    l->layers[i] = ly;
    return JANUS_OK;
}

int layout_set_layer_slots(struct layout *l, int32_t i, const int32_t *slots, int32_t *n_dup,
                           char *err, size_t err_len) {
    int32_t E = l->n_experts, n = l->n_instances, C = l->n_slots;
    if (i < 0 || i >= l->n_layers)
        return status_errf(err, err_len, JANUS_EINVAL, "layer %d out of range [0, %d)", i,
                           l->n_layers);
    int32_t *off = mem_calloc(MEM_TAG_SCHED, (size_t)E + 1, sizeof(int32_t));
    int32_t *last = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)E);
    int32_t *hosts = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)n * (size_t)C);
    int rc = JANUS_OK;
    if (!off || !last || !hosts) {
        rc = JANUS_ENOMEM;
        goto done;
    }
    int32_t dup = 0;
    for (int32_t e = 0; e < E; e++)
        last[e] = -1;
    // Count distinct (expert, instance) pairs; instances visited in ascending order, so
    // "last[e] == g" detects a second replica of e on g.
    for (int32_t g = 0; g < n; g++)
        for (int32_t s = 0; s < C; s++) {
            int32_t e = slots[(size_t)g * C + s];
            if (e == -1) continue;
            if (e < 0 || e >= E) {
                rc = status_errf(err, err_len, JANUS_EINVAL,
                                 "instance %d slot %d: expert %d out of range", g, s, e);
                goto done;
            }
            if (last[e] == g) {
                if (!n_dup) {
                    rc = status_errf(err, err_len, JANUS_EINVAL,
                                     "instance %d holds expert %d twice", g, e);
                    goto done;
                }
                dup++;
                continue;
            }
            last[e] = g;
            off[e + 1]++;
        }
    for (int32_t e = 0; e < E; e++) {
        if (off[e + 1] == 0) {
            rc = status_errf(err, err_len, JANUS_EINVAL, "expert %d has no replica", e);
            goto done;
        }
        off[e + 1] += off[e];
    }
    for (int32_t e = 0; e < E; e++)
        last[e] = off[e]; // reuse as fill cursor
    for (int32_t g = 0; g < n; g++)
        for (int32_t s = 0; s < C; s++) {
            int32_t e = slots[(size_t)g * C + s];
            if (e == -1) continue;
            if (last[e] > off[e] && hosts[last[e] - 1] == g) continue; // duplicate
            hosts[last[e]++] = g;
        }
    rc = layout_set_layer_hosts(l, i, off, hosts, err, err_len);
    if (rc == JANUS_OK && n_dup) *n_dup = dup;
done:
    mem_free(off);
    mem_free(last);
    mem_free(hosts);
    return rc;
}

int layout_copy(struct layout *dst, const struct layout *src) {
    int rc = layout_init(dst, src->n_layers, src->n_instances, src->n_slots, src->n_experts);
    if (rc) return rc;
    for (int32_t i = 0; i < src->n_layers; i++) {
        const struct layout_layer *ly = &src->layers[i];
        if (ly->n_experts == 0) continue;
        rc = layout_set_layer_hosts(dst, i, ly->host_off, ly->hosts, NULL, 0);
        if (rc) {
            layout_free(dst);
            return rc;
        }
    }
    return JANUS_OK;
}

// ---- queries

int32_t layout_replica_id(const struct layout_layer *ly, int32_t e, int32_t g) {
    for (int32_t j = ly->host_off[e]; j < ly->host_off[e + 1]; j++)
        if (ly->hosts[j] == g) return ly->replica[j];
    return -1;
}

int32_t layout_instance_experts(const struct layout_layer *ly, int32_t g, int32_t *out) {
    int32_t m = 0;
    for (int32_t e = 0; e < ly->n_experts; e++)
        if (layout_replica_id(ly, e, g) >= 0) out[m++] = e;
    return m;
}

int32_t layout_n_moe_layers(const struct layout *l) {
    int32_t m = 0;
    for (int32_t i = 0; i < l->n_layers; i++)
        m += l->layers[i].n_experts > 0;
    return m;
}

// ---- invariants

int layout_layer_check(const struct layout_layer *ly, char *err, size_t err_len) {
    int32_t E = ly->n_experts, n = ly->n_instances, C = ly->n_slots;
    if (E == 0) return JANUS_OK;
    if (E < 0 || n < 1 || C < 1 || !ly->host_off || !ly->hosts || !ly->replica || !ly->n_held)
        return status_errf(err, err_len, JANUS_EINVAL, "layer struct incomplete");
    if (ly->host_off[0] != 0)
        return status_errf(err, err_len, JANUS_EINVAL, "host offsets must start at 0");
    // held[g] recomputed from the host lists; the position check needs experts ascending.
    int32_t held_total = 0;
    for (int32_t g = 0; g < n; g++)
        held_total += ly->n_held[g];
    if (held_total != ly->host_off[E])
        return status_errf(err, err_len, JANUS_EINVAL,
                           "n_held sums to %d but there are %d replicas", held_total,
                           ly->host_off[E]);
    for (int32_t e = 0; e < E; e++) {
        int32_t r = ly->host_off[e + 1] - ly->host_off[e];
        if (r < 1 || r > n)
            return status_errf(err, err_len, JANUS_EINVAL, "expert %d has %d replicas (need 1..%d)",
                               e, r, n);
        for (int32_t j = ly->host_off[e]; j < ly->host_off[e + 1]; j++) {
            int32_t g = ly->hosts[j];
            if (g < 0 || g >= n || (j > ly->host_off[e] && g <= ly->hosts[j - 1]))
                return status_errf(err, err_len, JANUS_EINVAL, "expert %d: bad or unsorted host %d",
                                   e, g);
            int32_t pos = ly->replica[j] - g * C;
            if (pos < 0 || pos >= ly->n_held[g] || pos >= C)
                return status_errf(err, err_len, JANUS_EINVAL,
                                   "expert %d on instance %d: replica id %d invalid", e, g,
                                   ly->replica[j]);
            // Position must equal the number of lower experts held by g.
            int32_t lower = 0;
            for (int32_t e2 = 0; e2 < e; e2++)
                for (int32_t j2 = ly->host_off[e2]; j2 < ly->host_off[e2 + 1]; j2++)
                    lower += ly->hosts[j2] == g;
            if (lower != pos)
                return status_errf(err, err_len, JANUS_EINVAL,
                                   "expert %d on instance %d: position %d, expected %d", e, g, pos,
                                   lower);
        }
    }
    for (int32_t g = 0; g < n; g++)
        if (ly->n_held[g] > C)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "instance %d holds %d experts, more than %d slots", g, ly->n_held[g],
                               C);
    return JANUS_OK;
}

int layout_check(const struct layout *l, char *err, size_t err_len) {
    if (l->n_layers < 1 || !l->layers)
        return status_errf(err, err_len, JANUS_EINVAL, "layout has no layers");
    for (int32_t i = 0; i < l->n_layers; i++) {
        const struct layout_layer *ly = &l->layers[i];
        if (ly->n_experts == 0) continue;
        if (ly->n_experts != l->n_experts || ly->n_instances != l->n_instances ||
            ly->n_slots != l->n_slots)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "layer %d: sizes differ from the layout's", i);
        char sub[JANUS_ERR_LEN];
        if (layout_layer_check(ly, sub, sizeof sub))
            return status_errf(err, err_len, JANUS_EINVAL, "layer %d: %s", i, sub);
    }
    return JANUS_OK;
}

uint64_t layout_digest(const struct layout *l) {
    int32_t hdr[4] = {l->n_instances, l->n_slots, l->n_experts, l->n_layers};
    uint64_t h = hash_fnv1a(HASH_FNV_INIT, hdr, sizeof hdr);
    for (int32_t i = 0; i < l->n_layers; i++) {
        const struct layout_layer *ly = &l->layers[i];
        h = hash_fnv1a(h, &ly->n_experts, sizeof ly->n_experts);
        if (ly->n_experts == 0) continue;
        h = hash_fnv1a(h, ly->host_off, sizeof(int32_t) * (size_t)(ly->n_experts + 1));
        h = hash_fnv1a(h, ly->hosts, sizeof(int32_t) * (size_t)ly->host_off[ly->n_experts]);
    }
    return h;
}

// ---- JSON

int layout_parse_json(struct layout *l, const char *text, size_t len, char *err, size_t err_len) {
    memset(l, 0, sizeof *l);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return status_errf(err, err_len, JANUS_EFORMAT, "layout: not valid JSON");
    int rc = JANUS_EFORMAT;
    int32_t *off = NULL, *hosts = NULL;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsObject(root) || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "janus-layout")) {
        status_errf(err, err_len, rc, "layout: \"format\" must be \"janus-layout\"");
        goto done;
    }
    int64_t ver, n, C, E;
    if (!json_field_int(cJSON_GetObjectItemCaseSensitive(root, "version"), 1, 1, &ver)) {
        status_errf(err, err_len, rc, "layout: \"version\" must be 1");
        goto done;
    }
    const struct {
        const char *key;
        int64_t hi;
        int64_t *out;
    } ints[] = {{"n_instances", LIMIT_MAX_INSTANCES, &n},
                {"slots", LIMIT_MAX_SLOTS, &C},
                {"n_experts", LIMIT_MAX_EXPERTS, &E}};
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(ints); k++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, ints[k].key);
        if (!json_field_int(it, 1, INT32_MAX, ints[k].out)) {
            status_errf(err, err_len, rc, "layout: \"%s\" must be a positive integer", ints[k].key);
            goto done;
        }
        if (*ints[k].out > ints[k].hi) {
            rc = status_errf(err, err_len, JANUS_ELIMIT,
                             "layout: \"%s\" = %lld exceeds the limit %lld", ints[k].key,
                             (long long)*ints[k].out, (long long)ints[k].hi);
            goto done;
        }
    }
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) < 1) {
        status_errf(err, err_len, rc, "layout: \"layers\" must be a non-empty array");
        goto done;
    }
    int nl = cJSON_GetArraySize(layers);
    if (nl > LIMIT_MAX_LAYERS) {
        rc = status_errf(err, err_len, JANUS_ELIMIT, "layout: %d layers exceed the limit %d", nl,
                         LIMIT_MAX_LAYERS);
        goto done;
    }
    if (n * C < E) {
        status_errf(err, err_len, rc,
                    "layout: %lld instances x %lld slots cannot hold %lld experts", (long long)n,
                    (long long)C, (long long)E);
        goto done;
    }
    off = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)(E + 1));
    hosts = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)(n * C));
    if (!off || !hosts) {
        rc = JANUS_ENOMEM;
        goto done;
    }
    int irc = layout_init(l, nl, (int32_t)n, (int32_t)C, (int32_t)E);
    if (irc) {
        rc = irc;
        goto done;
    }
    int li = 0;
    const cJSON *layer;
    cJSON_ArrayForEach(layer, layers) {
        if (!cJSON_IsArray(layer)) {
            status_errf(err, err_len, rc, "layout: layers[%d] must be an array", li);
            goto fail;
        }
        int ne = cJSON_GetArraySize(layer);
        if (ne == 0) { // dense layer
            li++;
            continue;
        }
        if (ne != E) {
            status_errf(err, err_len, rc,
                        "layout: layers[%d] has %d experts, expected %lld (or [] "
                        "for a dense layer)",
                        li, ne, (long long)E);
            goto fail;
        }
        int32_t nr = 0, e = 0;
        off[0] = 0;
        const cJSON *hl;
        cJSON_ArrayForEach(hl, layer) {
            if (!cJSON_IsArray(hl) || cJSON_GetArraySize(hl) < 1) {
                status_errf(err, err_len, rc,
                            "layout: layers[%d][%d] must be a non-empty array of instance ids", li,
                            e);
                goto fail;
            }
            const cJSON *h;
            cJSON_ArrayForEach(h, hl) {
                int64_t g;
                if (!json_field_int(h, 0, n - 1, &g)) {
                    status_errf(err, err_len, rc,
                                "layout: layers[%d][%d]: host must be an integer in [0, %lld)", li,
                                e, (long long)n);
                    goto fail;
                }
                if (nr >= n * C) {
                    status_errf(err, err_len, rc,
                                "layout: layers[%d] has more replicas than %lld slots", li,
                                (long long)(n * C));
                    goto fail;
                }
                hosts[nr++] = (int32_t)g;
            }
            off[++e] = nr;
        }
        char sub[JANUS_ERR_LEN];
        if (layout_set_layer_hosts(l, li, off, hosts, sub, sizeof sub)) {
            status_errf(err, err_len, rc, "layout: layers[%d]: %s", li, sub);
            goto fail;
        }
        li++;
    }
    rc = JANUS_OK;
    goto done;
fail:
    layout_free(l);
done:
    mem_free(off);
    mem_free(hosts);
    cJSON_Delete(root);
    if (rc) layout_free(l);
    return rc;
}

int layout_load_json(struct layout *l, const char *path, char *err, size_t err_len) {
    memset(l, 0, sizeof *l);
    char *text;
    size_t len;
    int rc = file_read_all(path, (size_t)256 << 20, &text, &len, err, err_len);
    if (rc) return rc;
    rc = layout_parse_json(l, text, len, err, err_len);
    mem_free(text);
    return rc;
}

// Compact hand-written form: one layer per line, readable and diff-friendly. Only
// integers, so no float formatting questions.
char *layout_to_json(const struct layout *l) {
    cJSON *root = cJSON_CreateObject(), *layers = NULL;
    int bad = !root || !cJSON_AddStringToObject(root, "format", "janus-layout") ||
              !cJSON_AddNumberToObject(root, "version", 1) ||
              !cJSON_AddNumberToObject(root, "n_instances", l->n_instances) ||
              !cJSON_AddNumberToObject(root, "slots", l->n_slots) ||
              !cJSON_AddNumberToObject(root, "n_experts", l->n_experts) ||
              !(layers = cJSON_AddArrayToObject(root, "layers"));
    for (int32_t i = 0; i < l->n_layers && !bad; i++) {
        const struct layout_layer *ly = &l->layers[i];
        cJSON *la = cJSON_CreateArray();
        bad = !cJSON_AddItemToArray(layers, la);
        for (int32_t e = 0; e < ly->n_experts && !bad; e++) {
            int32_t a = ly->host_off[e], n = ly->host_off[e + 1] - a;
            bad = !cJSON_AddItemToArray(la, cJSON_CreateIntArray(ly->hosts + a, n));
        }
    }
    char *text = bad ? NULL : cJSON_PrintUnformatted(root);
    char *out = text ? mem_strdup(MEM_TAG_SCHED, text) : NULL;
    cJSON_free(text);
    cJSON_Delete(root);
    return out;
}

int layout_save_json(const struct layout *l, const char *path) {
    char *s = layout_to_json(l);
    if (!s) return JANUS_ENOMEM;
    int rc = file_write_all(path, s, strlen(s), NULL, 0);
    mem_free(s);
    return rc;
}
