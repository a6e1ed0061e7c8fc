// Chat templates (SPEC §10, docs/HTTP.md): the prompt formats a model's
// tokenizer.chat_template can name, recognised by marker strings (there is no general Jinja
// engine), and the rendering of a conversation with each. One row of a table per template:
// adding a family is adding a row. Pure; no allocation beyond the output buffer.
// SPDX-License-Identifier: MIT
#ifndef JANUS_CHAT_TEMPLATE_H
#define JANUS_CHAT_TEMPLATE_H

#include "base/base.h"
#include "base/buf.h"

#include <stddef.h>

enum chat_template {
    CHAT_TEMPLATE_DEFAULT = 0, // sys\n\nUser: u\n\nAssistant: a\n\nUser: ...\n\nAssistant:
    CHAT_TEMPLATE_CHATML,      // <|im_start|>role\ncontent<|im_end|>\n ... (Qwen)
    CHAT_TEMPLATE_LLAMA2,      // [INST] <<SYS>>\nsys\n<</SYS>>\n\nu [/INST] a </s><s>[INST] ...
    CHAT_TEMPLATE_MISTRAL,     // [INST] u [/INST]a</s>[INST] ...
    CHAT_TEMPLATE_DEEPSEEK3,   // sys<｜User｜>u<｜Assistant｜>a<｜end▁of▁sentence｜>...
    CHAT_TEMPLATE_DEEPSEEK2,   // sys\n\nUser: u\n\nAssistant: a<｜end▁of▁sentence｜>User: ...
    CHAT_TEMPLATE_COUNT,
};

// One turn of a conversation (system messages are passed separately).
struct chat_turn {
    int user;         // 1 user, 0 assistant
    const char *text; // (len) bytes, not NUL-terminated
    size_t len;
};

// The template a tokenizer.chat_template text names (by its markers); the default for
// NULL, empty or unrecognised text.
enum chat_template chat_template_detect(const char *tmpl, size_t len);
// A short name ("chatml", "llama2", ...).
const char *chat_template_name(enum chat_template t);
// A byte range of the rendered text that holds message content, not template text.
struct chat_span {
    size_t off, len;
};
// Renders sys (the system text, "" or NULL for none) and turns[0..n) with template t,
// ending with the prompt for the assistant's answer, appended to out. JANUS_OK, or
// JANUS_ELIMIT when out's cap is reached (out then holds a prefix). spans (NULL, or room for
// n + 1): where the content (sys and each turn's text) landed in out, in order, non-empty
// ranges only; *n_spans their number (issue 15 item 4: content is never parsed for
// special tokens).
JANUS_WUR int chat_template_render(enum chat_template t, const char *sys,
                                   const struct chat_turn *turns, int n, struct buf *out,
                                   struct chat_span *spans, int *n_spans);

#endif // JANUS_CHAT_TEMPLATE_H
