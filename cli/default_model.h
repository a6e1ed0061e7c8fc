// The embedded default model (issue 14): the small MoE trained by scripts/train, compiled
// into the janus binary (models/DEFAULT, assembled in with .incbin) and written once to the
// cache directory so that every process of a deployment can open it by path. Used by
// serve, generate and run when no -m is given.
// SPDX-License-Identifier: MIT
#ifndef JANUS_CLI_DEFAULT_MODEL_H
#define JANUS_CLI_DEFAULT_MODEL_H

#include <stddef.h>

// Writes the path of the default model's file to path (n bytes): the embedded GGUF, written
// to $XDG_CACHE_HOME/janus (else ~/.cache/janus) on first use under a name that carries a
// hash of its bytes (a new build never reuses an old model). 0, or 1 after one error line
// ("janus <cmd>: ...").
int default_model_path(const char *cmd, char *path, size_t n);

#endif // JANUS_CLI_DEFAULT_MODEL_H
