// The front's private socket directory (issue 15 item 6): $TMPDIR/janus-UID/front-PID-XXXXXX,
// under a per-user parent of mode 0700. The owning pid in the name lets the next front reap
// the directory of one that was killed (kill -9) before it could remove its own.
// SPDX-License-Identifier: MIT
#ifndef JANUS_SOCKDIR_H
#define JANUS_SOCKDIR_H

#include "base/base.h"

#include <stddef.h>

// Creates the parent if needed (mode 0700; refused unless it is a real directory, ours, not
// accessible to others), reaps the directories of dead fronts in it (sockdir_reap), then
// creates a new directory for this process; its path goes to dir (n bytes). JANUS_OK, or
// JANUS_EIO with err filled.
JANUS_WUR int sockdir_create(char *dir, size_t n, char *err, size_t err_len);
// Removes what a front leaves in the parent: for each entry front-PID-* that is a directory
// (never a symlink) owned by this user whose PID is not alive (kill(PID, 0) fails with
// ESRCH), the non-directory entries in it, then the directory. Returns how many were
// removed; -1 if the parent cannot be opened. parent: NULL for the default
// ($TMPDIR or /tmp, then janus-UID).
int sockdir_reap(const char *parent);
// Removes dir and the entries in it (not following symlinks); silent.
void sockdir_remove(const char *dir);
// Writes the default parent path into out.
void sockdir_parent(char *out, size_t n);

#endif // JANUS_SOCKDIR_H
