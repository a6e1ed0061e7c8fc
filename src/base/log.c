// Leveled stderr logger and the panic/abort hook (base.h). The only process-wide state
// besides the abort hook: the level and the "[rank role]" prefix.
// SPDX-License-Identifier: MIT
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_level = -1;
static int g_rank = -1;
static char g_role[16];
static base_abort_fn g_abort_hook;

static void init_level(void) {
    if (g_level >= 0) return;
    const char *e = getenv("JANUS_LOG");
    g_level = LOG_LEVEL_WARN;
    if (!e) return;
    if (!strcmp(e, "error"))
        g_level = LOG_LEVEL_ERROR;
    else if (!strcmp(e, "info"))
        g_level = LOG_LEVEL_INFO;
    else if (!strcmp(e, "debug"))
        g_level = LOG_LEVEL_DEBUG;
}

void log_set_level(enum log_level level) { g_level = (int)level; }

enum log_level log_get_level(void) {
    init_level();
    return (enum log_level)g_level;
}

void log_set_identity(int rank, const char *role) {
    g_rank = rank;
    snprintf(g_role, sizeof g_role, "%s", role ? role : "");
}

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...) {
    init_level();
    if ((int)level > g_level) return;
    static const char *names[] = {"error", "warn", "info", "debug"};
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (g_rank >= 0)
        fprintf(stderr, "janus[%d %s] %s: %s (%s:%d)\n", g_rank, g_role, names[level], msg, base,
                line);
    else
        fprintf(stderr, "janus: %s: %s (%s:%d)\n", names[level], msg, base, line);
}

void base_set_abort_hook(base_abort_fn fn) { g_abort_hook = fn; }

void base_panic(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_write(LOG_LEVEL_ERROR, file, line, "PANIC rank=%d role=%s: %s", g_rank, g_role, msg);
    fflush(stderr);
    if (g_abort_hook) g_abort_hook(134);
    abort();
}
