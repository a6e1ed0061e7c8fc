// Leveled logging to stderr, prefixed with "[rank role]" once set (STYLE: logging).
// Library code never prints to stdout; stdout belongs to cli/.
// The level comes from log_set_level() or the JANUS_LOG environment variable
// (error|warn|info|debug); default warn. Thread-safe (one fprintf per line).
// SPDX-License-Identifier: MIT
#ifndef JANUS_LOG_H
#define JANUS_LOG_H

#include "base/base.h"

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN = 1, LOG_LEVEL_INFO = 2, LOG_LEVEL_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
// Sets the prefix printed before every line, e.g. rank 3, role "moe". rank < 0: none.
void log_set_identity(int rank, const char *role);
void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
    JANUS_PRINTF(4, 5);

#define LOG_ERROR(...) log_write(LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_WARN(...)  log_write(LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_INFO(...)                                                                              \
    do {                                                                                           \
        if (log_get_level() >= LOG_LEVEL_INFO)                                                     \
            log_write(LOG_LEVEL_INFO, __FILE__, __LINE__, __VA_ARGS__);                            \
    } while (0)
#define LOG_DEBUG(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() >= LOG_LEVEL_DEBUG)                                                    \
            log_write(LOG_LEVEL_DEBUG, __FILE__, __LINE__, __VA_ARGS__);                           \
    } while (0)

#endif // JANUS_LOG_H
