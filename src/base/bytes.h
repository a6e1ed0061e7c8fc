// Little-endian byte codec: the one way src/ puts and gets fixed-width integers and floats
// in byte buffers (GGUF files, the MPI wire header, the front link). Callers check bounds;
// these only move bytes. Alignment-free (byte loads), so any offset is fine.
// SPDX-License-Identifier: MIT
#ifndef JANUS_BYTES_H
#define JANUS_BYTES_H

#include <stdint.h>
#include <string.h>

static inline void bytes_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void bytes_put_u32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}
static inline void bytes_put_u64(uint8_t *p, uint64_t v) {
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}
static inline void bytes_put_i32(uint8_t *p, int32_t v) { bytes_put_u32(p, (uint32_t)v); }
static inline void bytes_put_i64(uint8_t *p, int64_t v) { bytes_put_u64(p, (uint64_t)v); }
static inline void bytes_put_f32(uint8_t *p, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    bytes_put_u32(p, u);
}
static inline void bytes_put_f64(uint8_t *p, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    bytes_put_u64(p, u);
}

static inline uint16_t bytes_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t bytes_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t bytes_get_u64(const uint8_t *p) {
    return (uint64_t)bytes_get_u32(p) | (uint64_t)bytes_get_u32(p + 4) << 32;
}
static inline int32_t bytes_get_i32(const uint8_t *p) { return (int32_t)bytes_get_u32(p); }
static inline int64_t bytes_get_i64(const uint8_t *p) { return (int64_t)bytes_get_u64(p); }
static inline float bytes_get_f32(const uint8_t *p) {
    uint32_t u = bytes_get_u32(p);
    float v;
    memcpy(&v, &u, 4);
    return v;
}
static inline double bytes_get_f64(const uint8_t *p) {
    uint64_t u = bytes_get_u64(p);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

#endif // JANUS_BYTES_H
