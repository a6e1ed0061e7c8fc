// Catalogue file helpers shared by hw.c and models.c (SPEC §8): locate the data directory
// and read a bounded JSON file (fields are then read with base/json_field.h, whose errors
// name the file and the field). The only I/O of src/sim/ besides report writers.
// SPDX-License-Identifier: MIT
#ifndef JANUS_SIM_CATALOG_H
#define JANUS_SIM_CATALOG_H

#include "base/base.h"

#include <stddef.h>

struct cJSON;

// Largest catalogue file we accept (they are < 2 KiB).
#define CATALOG_MAX_FILE (64 * 1024)

// Data directory: $JANUS_DATA_DIR, else "data" if it holds hw/, else <exe dir>/../data.
// Writes into out (cap bytes). Returns JANUS_OK or JANUS_ENOTFOUND.
JANUS_WUR int catalog_data_dir(char *out, size_t cap);
// Reads and parses a JSON object from path. On error writes a message into err.
JANUS_WUR int catalog_read_json(const char *path, struct cJSON **out, char *err, size_t err_len);
// Ids are lower-case [a-z0-9-], 1..31 chars (so they are safe in file names).
int catalog_valid_id(const char *id);

#endif // JANUS_SIM_CATALOG_H
