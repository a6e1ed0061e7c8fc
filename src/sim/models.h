// Model shape catalogue (SPEC §8): the published shapes of DeepSeek-V2/V3, Qwen3-235B-A22B,
// Qwen3-30B-A3B, Mixtral-8x7B and the publication's Scaled-DS-1/2, loaded from
// data/models/<id>.json and validated into struct models_shape (scale/shape.h, which also
// holds the sizes derived from a shape).
// SPDX-License-Identifier: MIT
#ifndef JANUS_SIM_MODELS_H
#define JANUS_SIM_MODELS_H

#include "base/base.h"
#include "scale/shape.h"

#include <stddef.h>

JANUS_WUR int models_parse(const void *cjson_obj, const char *path, struct models_shape *out,
                           char *err, size_t err_len);
JANUS_WUR int models_load_file(const char *path, struct models_shape *out, char *err,
                               size_t err_len);
// Loads <data_dir>/models/<id>.json; unknown id -> JANUS_ENOTFOUND naming the known ones.
JANUS_WUR int models_load(const char *data_dir, const char *id, struct models_shape *out, char *err,
                          size_t err_len);

#endif // JANUS_SIM_MODELS_H
