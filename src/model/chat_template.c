// Chat templates (chat_template.h): one table row per template, with the markers that
// recognise it in tokenizer.chat_template and the text around each part of a conversation.
// A system text goes either before the first turn (sys_pre + sys + sys_post) or, where the
// family puts it inside the first user turn (Llama-2, Mistral), as user_sys_pre + sys +
// user_sys_mid + user text + user_post.
// SPDX-License-Identifier: MIT
#include "model/chat_template.h"

#include "base/status.h"

#include <string.h>

#define FW_BAR "\xef\xbd\x9c" // "｜" (fullwidth vertical bar)
#define EOS_DS "<" FW_BAR "end\xe2\x96\x81of\xe2\x96\x81sentence" FW_BAR ">"

struct chat_template_row {
    const char *name;
    const char *marker, *marker2;   // both must occur (marker2 NULL: not needed)
    const char *sys_pre, *sys_post; // NULL sys_pre: the system text goes in the first user turn
    const char *user_sys_pre, *user_sys_mid; // the first user turn with a system text
    const char *user_first_pre, *user_pre, *user_post;
    const char *asst_pre, *asst_post;
    const char *tail; // after the last turn: the assistant's prompt
};

// Detection order matters: the first row whose markers all occur wins.
static const struct chat_template_row rows[CHAT_TEMPLATE_COUNT] = {
    [CHAT_TEMPLATE_CHATML] = {"chatml", "<|im_start|>", NULL, "<|im_start|>system\n",
                              "<|im_end|>\n", NULL, NULL, "<|im_start|>user\n",
                              "<|im_start|>user\n", "<|im_end|>\n", "<|im_start|>assistant\n",
                              "<|im_end|>\n", "<|im_start|>assistant\n"},
    [CHAT_TEMPLATE_LLAMA2] = {"llama2", "[INST]", "<<SYS>>", NULL, NULL, "[INST] <<SYS>>\n",
                              "\n<</SYS>>\n\n", "[INST] ", "<s>[INST] ", " [/INST]", " ", " </s>",
                              ""},
    [CHAT_TEMPLATE_MISTRAL] = {"mistral", "[INST]", NULL, NULL, NULL, "[INST] ", "\n\n", "[INST] ",
                               "[INST] ", " [/INST]", "", "</s>", ""},
    [CHAT_TEMPLATE_DEEPSEEK3] = {"deepseek3", "<" FW_BAR "User" FW_BAR ">", NULL, "", "", NULL,
                                 NULL, "<" FW_BAR "User" FW_BAR ">", "<" FW_BAR "User" FW_BAR ">",
                                 "", "<" FW_BAR "Assistant" FW_BAR ">", EOS_DS,
                                 "<" FW_BAR "Assistant" FW_BAR ">"},
    [CHAT_TEMPLATE_DEEPSEEK2] = {"deepseek2", "User: ", "Assistant:", "", "\n\n", NULL, NULL,
                                 "User: ", "User: ", "\n\n", "Assistant: ", EOS_DS, "Assistant:"},
    [CHAT_TEMPLATE_DEFAULT] = {"default", NULL, NULL, "", "\n\n", NULL, NULL,
                               "User: ", "User: ", "\n\n", "Assistant: ", "\n\n", "Assistant:"},
};

static int has(const char *t, size_t len, const char *m) {
    return !m || memmem(t, len, m, strlen(m)) != NULL;
}

enum chat_template chat_template_detect(const char *t, size_t len) {
    if (!t || !len) return CHAT_TEMPLATE_DEFAULT;
    for (int k = 0; k < CHAT_TEMPLATE_COUNT; k++)
        if (rows[k].marker && has(t, len, rows[k].marker) && has(t, len, rows[k].marker2))
            return (enum chat_template)k;
    return CHAT_TEMPLATE_DEFAULT;
}

const char *chat_template_name(enum chat_template t) {
    return (unsigned)t < CHAT_TEMPLATE_COUNT ? rows[t].name : "?";
}

static int put(struct buf *b, const char *s, size_t n) {
    return n ? buf_append(b, s, n) : JANUS_OK;
}
#define PUTS(b, s) put(b, s, strlen(s))

// Appends content (message text) and records where it landed.
static int put_content(struct buf *b, const char *s, size_t n, struct chat_span *spans,
                       int *n_spans) {
    size_t at = b->len;
    int rc = put(b, s, n);
    if (!rc && n && spans) spans[(*n_spans)++] = (struct chat_span){at, n};
    return rc;
}

int chat_template_render(enum chat_template t, const char *sys, const struct chat_turn *turns,
                         int n, struct buf *b, struct chat_span *spans, int *n_spans) {
    const struct chat_template_row *r = &rows[(unsigned)t < CHAT_TEMPLATE_COUNT ? t : 0];
    int have_sys = sys && *sys, rc = JANUS_OK, first_user = 1, ns = 0;
    if (have_sys && r->sys_pre) {
        rc |= PUTS(b, r->sys_pre);
        rc |= put_content(b, sys, strlen(sys), spans, &ns);
        rc |= PUTS(b, r->sys_post);
    }
    for (int i = 0; i < n && rc == JANUS_OK; i++) {
        const struct chat_turn *c = &turns[i];
        if (c->user && first_user && have_sys && !r->sys_pre) {
            rc |= PUTS(b, r->user_sys_pre);
            rc |= put_content(b, sys, strlen(sys), spans, &ns);
            rc |= PUTS(b, r->user_sys_mid);
        } else {
            rc |= PUTS(b, c->user ? (first_user ? r->user_first_pre : r->user_pre) : r->asst_pre);
        }
        rc |= put_content(b, c->text, c->len, spans, &ns);
        rc |= PUTS(b, c->user ? r->user_post : r->asst_post);
        if (c->user) first_user = 0;
    }
    if (rc == JANUS_OK) rc = PUTS(b, r->tail);
    if (n_spans) *n_spans = ns;
    return rc ? JANUS_ELIMIT : JANUS_OK;
}
