// examples/simple.c: the smallest complete use of the embeddable API (include/janus.h only):
// open a model, create a session, generate greedily, print the text as it streams.
// Build: make (→ build/examples/simple); run: build/examples/simple MODEL.gguf "PROMPT" [N]
// SPDX-License-Identifier: MIT
#include <janus.h>

#include <stdio.h>
#include <stdlib.h>

static int print_piece(void *user, const char *text, size_t len) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0; // non-zero would stop generation
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.gguf PROMPT [N_TOKENS]\n", argv[0]);
        return 2;
    }
    const int n = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 32;
    char err[256];
    janus_model_t *model = NULL;
    int rc = janus_model_open(argv[1], NULL, &model, err, sizeof err);
    if (rc != JANUS_OK) {
        fprintf(stderr, "simple: %s\n", err);
        return 1;
    }
    janus_session_t *session = NULL;
    rc = janus_session_create(model, NULL, &session);
    if (rc == JANUS_OK) rc = janus_generate(session, 0, argv[2], NULL, n, print_piece, NULL, NULL);
    printf("\n");
    if (rc != JANUS_OK) fprintf(stderr, "simple: %s\n", janus_strerror(rc));
    janus_session_destroy(&session);
    janus_model_close(&model);
    return rc == JANUS_OK ? 0 : 1;
}
