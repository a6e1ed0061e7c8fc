// The memory-mode options every command that loads weights shares (issue 12 item 1):
// --mmap, --no-mmap and --mlock, one table spliced into each command's option table
// (CLI_OPT_TABLE(lo.table)) so they read and check the same everywhere.
// SPDX-License-Identifier: MIT
#ifndef JANUS_LOAD_OPTS_H
#define JANUS_LOAD_OPTS_H

#include "opts.h"

#include "base/fmap.h"

struct load_opts {
    int mmap, no_mmap, mlock;
    struct cli_opt table[4]; // the rows, writing into this struct
};

// Fills lo->table; no option given = the default mode, no lock.
void load_opts_init(struct load_opts *lo);
// After parsing: *io from the options (progress line on). Returns 0, or 1 after printing
// "janus <cmd>: --mmap and --no-mmap exclude each other".
int load_opts_finish(const struct load_opts *lo, const char *cmd, struct fmap_opts *io);

#endif // JANUS_LOAD_OPTS_H
