// Unit tests for src/base: buf bounds, arena alignment, rng determinism, mem counters,
// whole-file read/write, the little-endian byte codec.
// Each test runs in its own process (tests/test.h).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hash.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"

#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

TEST(buf_bounded) {
    struct buf b;
    buf_init(&b, 8);
    ASSERT_OK(buf_append(&b, "abcd", 4));
    ASSERT_EQ(buf_append(&b, "efghi", 5), JANUS_ELIMIT);
    ASSERT_EQ(b.len, 4);
    ASSERT_OK(buf_appendf(&b, "%d", 1234));
    ASSERT_STR_EQ(b.data, "abcd1234");
    ASSERT_EQ(buf_appendf(&b, "x"), JANUS_ELIMIT);
    size_t n;
    char *d = buf_take(&b, &n);
    ASSERT_EQ(n, 8);
    ASSERT(b.data == NULL);
    mem_free(d);
}

TEST(arena_aligned_and_bounded) {
    struct arena a;
    ASSERT_OK(arena_init(&a, MEM_TAG_MISC, 1000));
    void *p = arena_alloc(&a, 3);
    void *q = arena_alloc(&a, 100);
    ASSERT(p && q);
    ASSERT_EQ((uintptr_t)p % 64, 0);
    ASSERT_EQ((uintptr_t)q % 64, 0);
    ASSERT(arena_alloc(&a, 100000) == NULL);
    arena_reset(&a);
    ASSERT(arena_alloc(&a, 1024) != NULL);
    arena_free(&a);
}

TEST(rng_deterministic) {
    struct rng a, b;
    rng_init3(&a, 1, 2, 3);
    rng_init3(&b, 1, 2, 3);
    for (int i = 0; i < 100; i++)
        ASSERT_EQ(rng_u64(&a), rng_u64(&b));
    rng_init3(&b, 1, 2, 4);
    ASSERT_NE(rng_u64(&a), rng_u64(&b));
    for (int i = 0; i < 1000; i++)
        ASSERT_LT(rng_below(&a, 7), 7);
}

TEST(mem_counts_and_fault_injection) {
    int64_t before = mem_live_bytes(MEM_TAG_SIM);
    void *p = mem_alloc(MEM_TAG_SIM, 100);
    ASSERT(p);
    ASSERT_EQ(mem_live_bytes(MEM_TAG_SIM) - before, 100);
    mem_free(p);
    ASSERT_EQ(mem_live_bytes(MEM_TAG_SIM), before);
    mem_fail_after(2);
    void *a = mem_alloc(MEM_TAG_SIM, 1);
    void *b = mem_alloc(MEM_TAG_SIM, 1);
    ASSERT(a != NULL);
    ASSERT(b == NULL);
    mem_free(a);
    ASSERT_NE(hash_fnv1a(HASH_FNV_INIT, "a", 1), hash_fnv1a(HASH_FNV_INIT, "b", 1));
}

TEST(file_write_then_read_all) {
    char dir[512], path[600], err[JANUS_ERR_LEN];
    snprintf(dir, sizeof dir, "%s/filedir", test_tmpdir());
    ASSERT_OK(mkdir(dir, 0700) == 0 ? JANUS_OK : JANUS_EIO);
    snprintf(path, sizeof path, "%s/a.txt", dir);
    ASSERT_OK(file_write_all(path, "hello", 5, err, sizeof err));
    ASSERT_OK(file_write_all(path, "world!", 6, err, sizeof err)); // replaces, not appends
    char *buf = NULL;
    size_t len = 0;
    ASSERT_OK(file_read_all(path, 6, &buf, &len, err, sizeof err)); // exactly the bound fits
    ASSERT_EQ(len, 6);
    ASSERT_STR_EQ(buf, "world!");
    mem_free(buf);
    // One byte over the bound: ELIMIT, message names the path, buffer untouched.
    buf = NULL;
    ASSERT_EQ(file_read_all(path, 5, &buf, &len, err, sizeof err), JANUS_ELIMIT);
    ASSERT(strstr(err, path) != NULL);
    ASSERT(buf == NULL);
    // Only the target remains in the directory (the temporary file was renamed).
    DIR *d = opendir(dir);
    ASSERT(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    ASSERT_EQ(n, 1);
    // Empty files read as "" and a big one grows past the first chunk.
    ASSERT_OK(file_write_all(path, "", 0, err, sizeof err));
    ASSERT_OK(file_read_all(path, 10, &buf, &len, err, sizeof err));
    ASSERT_EQ(len, 0);
    ASSERT_STR_EQ(buf, "");
    mem_free(buf);
    size_t big = 200000;
    char *src = mem_alloc(MEM_TAG_MISC, big);
    ASSERT(src);
    for (size_t i = 0; i < big; i++)
        src[i] = (char)('a' + i % 26);
    ASSERT_OK(file_write_all(path, src, big, err, sizeof err));
    ASSERT_OK(file_read_all(path, big, &buf, &len, err, sizeof err));
    ASSERT_EQ(len, big);
    ASSERT_MEM_EQ(buf, src, big);
    mem_free(buf);
    mem_free(src);
}

TEST(file_errors_name_the_path) {
    char path[600], err[JANUS_ERR_LEN];
    snprintf(path, sizeof path, "%s/missing/x.txt", test_tmpdir());
    char *buf = NULL;
    size_t len = 0;
    ASSERT_EQ(file_read_all(path, 100, &buf, &len, err, sizeof err), JANUS_EIO);
    ASSERT(strstr(err, path) != NULL);
    ASSERT_EQ(file_write_all(path, "x", 1, err, sizeof err), JANUS_EIO);
    ASSERT(strstr(err, path) != NULL);
    mem_fail_after(1);
    snprintf(path, sizeof path, "%s/oom.txt", test_tmpdir());
    ASSERT_OK(file_write_all(path, "abc", 3, err, sizeof err));
    mem_fail_after(1);
    ASSERT_EQ(file_read_all(path, 100, &buf, &len, err, sizeof err), JANUS_ENOMEM);
    mem_fail_after(0);
}

TEST(bytes_little_endian) {
    uint8_t b[8];
    bytes_put_u16(b, 0x1234);
    ASSERT_EQ(b[0], 0x34);
    ASSERT_EQ(b[1], 0x12);
    ASSERT_EQ(bytes_get_u16(b), 0x1234);
    bytes_put_u32(b, 0xA1B2C3D4u);
    ASSERT_EQ(b[0], 0xD4);
    ASSERT_EQ(b[3], 0xA1);
    ASSERT_EQ(bytes_get_u32(b), 0xA1B2C3D4u);
    bytes_put_u64(b, 0x0102030405060708ull);
    ASSERT_EQ(b[0], 0x08);
    ASSERT_EQ(b[7], 0x01);
    ASSERT_EQ(bytes_get_u64(b), 0x0102030405060708ull);
    bytes_put_i32(b, -2);
    ASSERT_EQ(bytes_get_i32(b), -2);
    ASSERT_EQ(b[0], 0xFE);
    bytes_put_i64(b, -3);
    ASSERT_EQ(bytes_get_i64(b), -3);
    bytes_put_f32(b, 1.5f);
    ASSERT_EQ(bytes_get_u32(b), 0x3FC00000u);
    ASSERT(bytes_get_f32(b) == 1.5f);
    bytes_put_f64(b, -0.25);
    ASSERT(bytes_get_f64(b) == -0.25);
}
