// Minimal test API (libuv task.h style): TEST(name) registers a test; ASSERT_* print both
// sides with file:line and end the test as failed. Never compiled out. Each test binary
// links tests/test_main.c, which runs every registered test (or those named on the
// command line) and exits non-zero if any failed. CTest runs each binary in its own
// process with a timeout (see Makefile: ctest file generation).
// SPDX-License-Identifier: MIT
#ifndef JANUS_TEST_H
#define JANUS_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Directory of ../shared/fixtures (env JANUS_FIXTURES overrides). Fails the test if absent.
const char *test_fixtures_dir(void);
// Path of the janus binary under test (env JANUS_BIN, default build/janus).
const char *test_janus_bin(void);
// A fresh temporary directory for this test binary (removed at exit).
const char *test_tmpdir(void);
// Reads a whole file into a malloc'd buffer with a NUL byte after the content (release with
// free). *len, when len is not NULL, gets the size. NULL if the file cannot be read.
void *test_read_file(const char *path, size_t *len);
// Reads up to cap whitespace-separated integers (the fixtures' .tokens and .greedy files).
// Returns how many were read, or -1 if the file cannot be opened.
int test_read_ints(const char *path, int32_t *out, int cap);
// Reads whitespace-separated numbers (the fixtures' .logits files, one %.9g per line) as
// floats. Returns how many were read, or -1 if the file cannot be opened or holds more than
// cap.
int64_t test_read_floats(const char *path, float *out, int64_t cap);

extern int test_current_failed;

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void test_reg_##name(void) {                               \
        test_register(#name, test_##name);                                                         \
    }                                                                                              \
    static void test_##name(void)

#define TEST_FAIL_(...)                                                                            \
    do {                                                                                           \
        test_fail(__FILE__, __LINE__, __VA_ARGS__);                                                \
        return;                                                                                    \
    } while (0)

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) TEST_FAIL_("ASSERT(%s)", #c);                                                    \
    } while (0)
#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) TEST_FAIL_("ASSERT_EQ(%s, %s): %lld != %lld", #a, #b, a_, b_);               \
    } while (0)
#define ASSERT_NE(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_) TEST_FAIL_("ASSERT_NE(%s, %s): both %lld", #a, #b, a_);                      \
    } while (0)
#define ASSERT_LT(a, b)                                                                            \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(a_ < b_)) TEST_FAIL_("ASSERT_LT(%s, %s): %.9g >= %.9g", #a, #b, a_, b_);             \
    } while (0)
#define ASSERT_LE(a, b)                                                                            \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(a_ <= b_)) TEST_FAIL_("ASSERT_LE(%s, %s): %.9g > %.9g", #a, #b, a_, b_);             \
    } while (0)
#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                                             \
            TEST_FAIL_("ASSERT_NEAR(%s, %s, %s): %.9g vs %.9g (diff %.3g)", #a, #b, #tol, a_, b_,  \
                       fabs(a_ - b_));                                                             \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            TEST_FAIL_("ASSERT_STR_EQ(%s, %s): \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",      \
                       b_ ? b_ : "(null)");                                                        \
    } while (0)
#define ASSERT_MEM_EQ(a, b, n)                                                                     \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0) TEST_FAIL_("ASSERT_MEM_EQ(%s, %s, %s)", #a, #b, #n);       \
    } while (0)
// Status assertions: prints the janus_strerror text.
#define ASSERT_OK(expr)                                                                            \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) TEST_FAIL_("ASSERT_OK(%s): status %d", #expr, rc_);                          \
    } while (0)

#endif // JANUS_TEST_H
