// GGUF reader (v2 and v3) over a file's bytes in memory (base/fmap.h: a read-only mmap, or
// anonymous memory filled by pread; only the ranges a caller loads become resident), and a
// small writer for gen-model.
// Every count, length, type, shape, offset and alignment is checked against the file
// size and limits.h before use; errors name the key or tensor and what was expected
// (written to the caller's err buffer). No input file can crash the reader (fuzzed).
// Lookups: gguf_find_* return -1/NULL when absent; gguf_get_* return a status.
// SPDX-License-Identifier: MIT
#ifndef JANUS_GGUF_H
#define JANUS_GGUF_H

#include "base/base.h"
#include "base/fmap.h"

#include <stddef.h>
#include <stdint.h>

// GGUF metadata value types (on-disk numbering; append-only).
enum gguf_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
};

// ggml tensor types (on-disk numbering). These fifteen are computed with (model/weights.c maps
// them to enum kern_wtype); every other known or unknown type is reported as unsupported by
// name/number when a tensor is used (docs/GGUF.md "Tensor types").
enum ggml_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_IQ2_XXS = 16, // refused (named for tests and messages)
    GGML_TYPE_IQ4_NL = 20,
    GGML_TYPE_IQ4_XS = 23,
    GGML_TYPE_BF16 = 30,
};

// A string inside the mapped file (not NUL-terminated).
struct gguf_str {
    const char *ptr;
    uint64_t len;
};

struct gguf_kv {
    struct gguf_str key;
    enum gguf_type type;
    enum gguf_type arr_type; // element type when type == ARRAY
    uint64_t arr_n;          // element count when type == ARRAY
    const uint8_t *data;     // scalar value, or first array element (strings: length-prefixed)
    const uint8_t **elems;   // (arr_n) when arr_type == STRING: element i's length prefix
                             // (reader-owned index for O(1) gguf_arr_str); NULL otherwise
};

struct gguf_tensor {
    struct gguf_str name;
    uint32_t n_dims;
    int64_t ne[4];    // ggml ne: ne[0] innermost; unused dims are 1
    uint32_t type;    // enum ggml_type value as stored (may be unsupported)
    uint64_t offset;  // from the start of the data section
    uint64_t n_bytes; // checked: data + offset + n_bytes <= file end
    const void *data; // points into the map
};

struct gguf {
    int fd;             // the file (-1: a caller's buffer)
    struct fmap fm;     // the file's bytes (zeroed for a caller's buffer)
    const uint8_t *map; // (size) bytes, read-only; tensor data resident once loaded
    size_t size;
    uint32_t version;
    uint32_t alignment;
    int64_t n_kv;
    struct gguf_kv *kv; // (n_kv)
    int64_t n_tensors;
    struct gguf_tensor *tensors; // (n_tensors)
    const uint8_t *data;         // start of the tensor data section (NULL: no tensors and
                                 // the file ends before the aligned data offset)
    size_t data_offset;          // file offset of the data section
    const uint8_t **str_index;   // reader-owned storage behind kv[].elems
    int64_t *key_sorted;         // (n_kv) kv indices in name order (NULL if n_kv <= 1)
    int64_t *tensor_sorted;      // (n_tensors) tensor indices in name order (NULL if <= 1)
};

// Opens and validates path (mmap mode: only the header pages are touched). On failure
// returns a negative status, writes a one-line reason naming the offending key/tensor into
// err (if non-NULL), and leaves *g zeroed.
JANUS_WUR int gguf_open(struct gguf *g, const char *path, char *err, size_t err_len);
// Same in memory mode o->mode (NULL: default). Read mode reads the header only; tensor
// bytes read as zeros until gguf_load_ranges loads them.
JANUS_WUR int gguf_open_ex(struct gguf *g, const char *path, const struct fmap_opts *o, char *err,
                           size_t err_len);
// Makes the file byte ranges r[0..n) resident (fmap_load: read, or populate the mapping;
// o->lock locks them; r is sorted and merged in place; mmap mode unmaps the rest of the
// data section again, which later accesses map back). A no-op for gguf_open_memory.
JANUS_WUR int gguf_load_ranges(struct gguf *g, struct fmap_range *r, int64_t n,
                               const struct fmap_opts *o, char *err, size_t err_len);
// Same over a caller-owned memory buffer (fuzzing, tests). The buffer must outlive g.
JANUS_WUR int gguf_open_memory(struct gguf *g, const void *buf, size_t size, char *err,
                               size_t err_len);
void gguf_close(struct gguf *g); // views into the map become invalid

// Lookup by exact name, O(log n) (binary search over the name-sorted index). Returns the
// index / tensor, or -1 / NULL when absent.
int64_t gguf_find_key(const struct gguf *g, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf *g, const char *name);

// Typed getters. Integer getters accept any integer type whose value fits the output
// (GGUF writers disagree on u32 vs i32 vs u64). Return JANUS_OK, JANUS_ENOTFOUND, or
// JANUS_EFORMAT (wrong type / out of range); on error write the reason into err.
JANUS_WUR int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out, char *err,
                           size_t err_len);
JANUS_WUR int gguf_get_f32(const struct gguf *g, const char *key, float *out, char *err,
                           size_t err_len); // accepts f32 or f64
JANUS_WUR int gguf_get_bool(const struct gguf *g, const char *key, int *out, char *err,
                            size_t err_len);
JANUS_WUR int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out, char *err,
                           size_t err_len);
// Array access: type and count of an array key; element i of a string array; element i of
// a numeric array converted to double / int64.
JANUS_WUR int gguf_get_arr(const struct gguf *g, const char *key, enum gguf_type *elem_type,
                           uint64_t *n, char *err, size_t err_len);
struct gguf_str gguf_arr_str(const struct gguf *g, int64_t kv_index, uint64_t i);
double gguf_arr_f64(const struct gguf *g, int64_t kv_index, uint64_t i);
int64_t gguf_arr_i64(const struct gguf *g, int64_t kv_index, uint64_t i);

// Bytes / elements per block of a ggml type the engine computes with (F32 4/1, F16 and BF16
// 2/1, Q8_0 34/32, q4_K 144/256, ...); 0 if the type is not computable.
size_t ggml_type_block_bytes(uint32_t type);
int64_t ggml_type_block_elems(uint32_t type);
const char *ggml_type_name(uint32_t type); // "f32", "q4_K", ... or "type#N"
// Storage layout of every ggml type known to ggml (incl. K-quants and IQ types), computable
// or not: elements per block and bytes per block. Returns 1 if known, 0 if unknown/removed.
int ggml_type_layout(uint32_t type, int64_t *block_elems, size_t *block_bytes);
const char *gguf_type_name(enum gguf_type t);

// ---- writer (gen-model, tests)
// Builds a GGUF v3 file (32-byte alignment unless a general.alignment key, an integer power of
// two up to LIMIT_GGUF_MAX_ALIGNMENT, says otherwise; refused if not): keys and tensor infos
// in memory, tensor data either copied (gguf_writer_add_tensor + gguf_writer_write) or
// streamed (see below). Keys and tensors keep insertion order; each tensor is padded to the
// alignment.
// add_* return JANUS_EINVAL for a duplicate/empty key or name, a shape/type/size mismatch,
// or a call after stream_begin; JANUS_ELIMIT over limits.h; JANUS_ENOMEM. Not thread-safe.
// destroy removes a partially streamed file.
struct gguf_writer;
struct gguf_writer *gguf_writer_create(void);
void gguf_writer_destroy(struct gguf_writer **w);
JANUS_WUR int gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v);
JANUS_WUR int gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v);
JANUS_WUR int gguf_writer_add_bool(struct gguf_writer *w, const char *key, int v);
JANUS_WUR int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *v);
JANUS_WUR int gguf_writer_add_arr_str(struct gguf_writer *w, const char *key, const char **v,
                                      uint64_t n);
JANUS_WUR int gguf_writer_add_arr_f32(struct gguf_writer *w, const char *key, const float *v,
                                      uint64_t n);
JANUS_WUR int gguf_writer_add_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v,
                                      uint64_t n);
// Adds a tensor; data (n_bytes, already in the stored type) is copied.
JANUS_WUR int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims,
                                     const int64_t *ne, uint32_t type, const void *data,
                                     size_t n_bytes);
JANUS_WUR int gguf_writer_write(struct gguf_writer *w, const char *path);
// Same, into a new buffer (out: *buf, owned by the caller, free with mem_free; *len bytes).
JANUS_WUR int gguf_writer_write_memory(struct gguf_writer *w, void **buf, size_t *len);
JANUS_WUR int gguf_writer_add_u64(struct gguf_writer *w, const char *key, uint64_t v);
JANUS_WUR int gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v);
// Adds a key holding a copy of any value type: scalar (data points at the value) or, with
// type == GGUF_TYPE_ARRAY, an array of n elements of arr_type (strings: data is a
// `const char **`). Used to copy keys between files (gen-model --vocab).
JANUS_WUR int gguf_writer_add_raw(struct gguf_writer *w, const char *key, enum gguf_type type,
                                  enum gguf_type arr_type, const void *data, uint64_t n);
// Copies key kv_index of an open file into the writer under the same name.
JANUS_WUR int gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf *g, int64_t kv_index);

// Streaming mode, for models larger than memory: declare every tensor with
// gguf_writer_add_tensor_info (shape and type only; n_bytes follows from them), call
// gguf_writer_stream_begin to write the header, then pass each tensor's bytes in declaration
// order with gguf_writer_stream_data (any chunking; padding is inserted automatically), and
// finish with gguf_writer_stream_end, which fails with JANUS_EINVAL if bytes are missing.
// Keys cannot be added after stream_begin. On any error the partial file is removed.
JANUS_WUR int gguf_writer_add_tensor_info(struct gguf_writer *w, const char *name, uint32_t n_dims,
                                          const int64_t *ne, uint32_t type);
JANUS_WUR int gguf_writer_stream_begin(struct gguf_writer *w, const char *path);
JANUS_WUR int gguf_writer_stream_data(struct gguf_writer *w, const void *data, size_t n);
JANUS_WUR int gguf_writer_stream_end(struct gguf_writer *w);
// Bytes a tensor of this shape and type occupies (0 if the type is unknown, a dim is < 1,
// ne[0] is not a multiple of the block size, or the size overflows).
size_t gguf_tensor_bytes(uint32_t n_dims, const int64_t *ne, uint32_t type);

#endif // JANUS_GGUF_H
