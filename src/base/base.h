// Foundation macros used everywhere: always-on assertions, attributes, array size.
// JANUS_ASSERT is compiled into release builds too (STYLE: bugs are not errors); it
// logs file:line and the expression, then calls the installed abort hook (MPI_Abort
// under MPI, abort() otherwise).
// SPDX-License-Identifier: MIT
#ifndef JANUS_BASE_H
#define JANUS_BASE_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define JANUS_WUR               __attribute__((warn_unused_result))
#define JANUS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define JANUS_NORETURN          __attribute__((noreturn))
#define JANUS_LIKELY(x)         __builtin_expect(!!(x), 1)
#define JANUS_UNLIKELY(x)       __builtin_expect(!!(x), 0)
#else
#define JANUS_WUR
#define JANUS_PRINTF(fmt, args)
#define JANUS_NORETURN
#define JANUS_LIKELY(x)   (x)
#define JANUS_UNLIKELY(x) (x)
#endif

#define JANUS_UNUSED(x)     ((void)(x))
#define JANUS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define JANUS_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define JANUS_MAX(a, b)     ((a) > (b) ? (a) : (b))

typedef void (*base_abort_fn)(int code);

// Installs the hook JANUS_PANIC/JANUS_ASSERT call after logging (default: abort()).
// Process-wide; set once at start-up (the MPI worker installs MPI_Abort).
void base_set_abort_hook(base_abort_fn fn);

// Logs "file:line msg" at error level and calls the abort hook. Never returns.
JANUS_NORETURN void base_panic(const char *file, int line, const char *fmt, ...) JANUS_PRINTF(3, 4);

#define JANUS_PANIC(...) base_panic(__FILE__, __LINE__, __VA_ARGS__)
#define JANUS_ASSERT(cond)                                                                         \
    do {                                                                                           \
        if (JANUS_UNLIKELY(!(cond)))                                                               \
            base_panic(__FILE__, __LINE__, "assertion failed: %s", #cond);                         \
    } while (0)

#endif // JANUS_BASE_H
