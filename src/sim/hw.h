// Hardware profiles for the planner and simulator (SPEC §8): per-device peak dense BF16
// FLOP/s, memory bandwidth and size, intra-node (NVLink) and inter-node (NIC) bandwidth and
// per-message latency, devices per node. Loaded from data/hw/<id>.json (documented with
// sources in docs/PLANNER.md) and validated; `cpu-local` is measured on this machine by
// hw_measure_local() and written with hw_write_json(). All numbers in SI units here
// (FLOP/s, bytes/s, bytes, seconds); the JSON uses TFLOP/s, GB/s, GB and microseconds.
// SPDX-License-Identifier: MIT
#ifndef JANUS_SIM_HW_H
#define JANUS_SIM_HW_H

#include "base/base.h"
#include "scale/shape.h"

#include <stddef.h>

// Parses one profile object (already read); path is used in error messages.
JANUS_WUR int hw_parse(const void *cjson_obj, const char *path, struct hw_profile *out, char *err,
                       size_t err_len);
JANUS_WUR int hw_load_file(const char *path, struct hw_profile *out, char *err, size_t err_len);
// Loads <data_dir>/hw/<id>.json; unknown id -> JANUS_ENOTFOUND with the list of known ids.
JANUS_WUR int hw_load(const char *data_dir, const char *id, struct hw_profile *out, char *err,
                      size_t err_len);
// Writes a profile as catalogue JSON (the cpu-local writer).
JANUS_WUR int hw_write_json(const struct hw_profile *hw, const char *path);

// Measures this machine (not pure: uses the clock and about 1-2 s of CPU): read bandwidth
// (the kernels/membw.h read test) over a buffer of buf_mib MiB using nthreads threads, and FMA
// FLOP/s of one core times nthreads. Fills peak_flops, mem_bw, mem_bytes (physical memory); message
// costs are left to the caller (MPI ping-pong), defaulting to shared-memory guesses.
JANUS_WUR int hw_measure_local(struct hw_profile *out, int buf_mib, int nthreads);

#endif // JANUS_SIM_HW_H
