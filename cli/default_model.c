// The embedded default model (cli/default_model.h): the bytes of JANUS_DEFAULT_MODEL_FILE
// (set by the Makefile, models/janus-moe-kjv-q8_0.gguf) placed in .rodata by the assembler,
// and their one-time copy to the cache directory (written to a temporary name, then renamed,
// so concurrent first uses never see a partial file).
// SPDX-License-Identifier: MIT
#include "default_model.h"

#include "cli.h"

#include "base/hash.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef JANUS_DEFAULT_MODEL_FILE
#error "JANUS_DEFAULT_MODEL_FILE must name the GGUF to embed (the Makefile sets it)"
#endif

__asm__(".pushsection .rodata.janus_default_model, \"a\", @progbits\n"
        ".balign 64\n"
        ".globl janus_default_model_begin\n"
        "janus_default_model_begin:\n"
        ".incbin \"" JANUS_DEFAULT_MODEL_FILE "\"\n"
        ".globl janus_default_model_end\n"
        "janus_default_model_end:\n"
        ".popsection\n");
extern const unsigned char janus_default_model_begin[], janus_default_model_end[];

// The file's base name without ".gguf" (e.g. "janus-moe-kjv-q8_0").
static void stem(char *out, size_t n) {
    const char *f = JANUS_DEFAULT_MODEL_FILE, *b = strrchr(f, '/');
    b = b ? b + 1 : f;
    size_t len = strlen(b);
    if (len > 5 && !strcmp(b + len - 5, ".gguf")) len -= 5;
    snprintf(out, n, "%.*s", (int)len, b);
}

// mkdir -p dir (mode 0755).
static int make_dirs(const char *dir) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return errno;
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return errno;
    return 0;
}

int default_model_path(const char *cmd, char *path, size_t n) {
    const unsigned char *bytes = janus_default_model_begin;
    const size_t size = (size_t)(janus_default_model_end - janus_default_model_begin);
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX - 128], name[96];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/janus", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/janus", home);
    else
        return cli_error(cmd, "no -m MODEL and neither XDG_CACHE_HOME nor HOME is set");
    stem(name, sizeof name);
    const uint64_t h = hash_fnv1a(HASH_FNV_INIT, bytes, size);
    if (snprintf(path, n, "%s/%s-%08llx.gguf", dir, name, (unsigned long long)(h >> 32)) >= (int)n)
        return cli_error(cmd, "the cache path %s is too long", dir);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == size) return 0;
    int e = make_dirs(dir);
    if (e) return cli_error(cmd, "cannot create the cache directory %s: %s", dir, strerror(e));
    char part[PATH_MAX + 32];
    snprintf(part, sizeof part, "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(part, "wb");
    if (!f) return cli_error(cmd, "cannot write %s: %s", part, strerror(errno));
    const int bad = fwrite(bytes, 1, size, f) != size;
    if (fclose(f) != 0 || bad) {
        e = errno;
        unlink(part);
        return cli_error(cmd, "cannot write %s: %s", part, strerror(e ? e : EIO));
    }
    if (rename(part, path) != 0) {
        e = errno;
        unlink(part);
        return cli_error(cmd, "cannot move the default model to %s: %s", path, strerror(e));
    }
    fprintf(stderr, "janus %s: the default model (%s, %.1f MB) written to %s\n", cmd, name,
            size / 1e6, path);
    return 0;
}
