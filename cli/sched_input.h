// Loads the two inputs that janus schedule and janus place-eval replay: a replica layout
// (janus-layout JSON) and a routing trace (SPEC §5, §6). Errors are one line on stderr
// naming the file ("janus <cmd>: <path>: <why>").
// SPDX-License-Identifier: MIT
#ifndef JANUS_SCHED_INPUT_H
#define JANUS_SCHED_INPUT_H

#include "place/layout.h"
#include "place/trace.h"

// Loads *l from layout_path and *t from routing_path. Returns 0 (caller frees both with
// layout_free and trace_free), or 1 after printing the error, with nothing left allocated.
int sched_input_load(const char *cmd, const char *layout_path, const char *routing_path,
                     struct layout *l, struct trace *t);

#endif // JANUS_SCHED_INPUT_H
