// janus admin URL VERB: the client of a running `janus serve`'s administration endpoints
// (issue 16 items 2 and 3; docs/HTTP.md "Administration"). `replace` posts to /admin/replace
// (live expert re-placement), `rescale --attn N --moe M` to /admin/rescale (live change of
// the deployment's shape). HTTP through libcurl; the key from --api-key or JANUS_API_KEY.
// Prints the reply's JSON on stdout; an error reply: its message on stderr, exit 1.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "opts.h"

#include "base/buf.h"
#include "base/status.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_MAX_REPLY (1u << 20)

static size_t on_data(char *p, size_t size, size_t n, void *cookie) {
    struct buf *b = cookie;
    return buf_append(b, p, size * n) == JANUS_OK ? size * n : 0; // 0: curl aborts (too long)
}

// POSTs body to url; *http: the status (0 if none). Reply in *reply. 0, or -1 after an error
// line (transport failure).
static int admin_post(const char *cmd, const char *url, const char *key, const char *body,
                      long timeout_s, long *http, struct buf *reply) {
    CURL *c = curl_easy_init();
    if (!c) return cli_error(cmd, "libcurl could not start"), -1;
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[1024];
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        hdr = curl_slist_append(hdr, auth);
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    *http = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return cli_error(cmd, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc)), -1;
    return 0;
}

int cmd_admin(int argc, char **argv) {
    const char *cmd = argv[0];
    static const char synopsis[] =
        "admin URL replace [--dry-run] [--api-key KEY]\n"
        "       janus admin URL rescale --attn N --moe M [--api-key KEY]";
    const char *key = getenv("JANUS_API_KEY");
    int dry_run = 0;
    int32_t n_attn = 0, n_moe = 0, timeout_s = 600;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("api-key", 0, &key, "KEY", "the server's key (default: $JANUS_API_KEY)"),
        CLI_OPT_FLAG("dry-run", 0, &dry_run, "replace: compute the new layout, do not switch"),
        CLI_OPT_I32("attn", 0, &n_attn, 1, 1024, "N", "rescale: attention instances"),
        CLI_OPT_I32("moe", 0, &n_moe, 1, 1024, "M", "rescale: MoE instances"),
        CLI_OPT_I32("timeout", 0, &timeout_s, 1, 86400, "S",
                    "give up after S seconds (default 600)"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout, synopsis, opts,
                      "URL: the server, e.g. http://127.0.0.1:8080 (docs/HTTP.md "
                      "\"Administration\")\n");
        return 0;
    }
    if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        cli_opts_help(stderr, synopsis, opts, NULL);
        return 2;
    }
    const char *base = argv[1], *verb = argv[2];
    argv[2] = argv[0]; // the options after VERB, with the subcommand in front
    if (cli_opts_parse(cmd, opts, argc - 2, argv + 2)) return 2;
    cJSON *body = cJSON_CreateObject();
    if (!body) return cli_error(cmd, "out of memory");
    if (!strcmp(verb, "replace")) {
        if (n_attn || n_moe) {
            cJSON_Delete(body);
            return cli_error(cmd, "replace takes no --attn/--moe (that is rescale)"), 2;
        }
        if (dry_run) cJSON_AddNumberToObject(body, "dry_run", 1);
    } else if (!strcmp(verb, "rescale")) {
        if (!n_attn || !n_moe || dry_run) {
            cJSON_Delete(body);
            return cli_error(cmd, "rescale needs --attn N and --moe M (and no --dry-run)"), 2;
        }
        cJSON_AddNumberToObject(body, "n_attn", n_attn);
        cJSON_AddNumberToObject(body, "n_moe", n_moe);
    } else {
        cJSON_Delete(body);
        return cli_error(cmd, "unknown verb '%s' (replace, rescale)", verb), 2;
    }
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    char url[2048];
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    if (!text || n + 32 > sizeof url) {
        free(text);
        return cli_error(cmd, text ? "URL too long" : "out of memory");
    }
    snprintf(url, sizeof url, "%.*s/admin/%s", (int)n, base, verb);
    struct buf reply;
    buf_init(&reply, ADMIN_MAX_REPLY);
    long http = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = admin_post(cmd, url, key, text, timeout_s, &http, &reply);
    curl_global_cleanup();
    free(text);
    if (rc) {
        buf_free(&reply);
        return 1;
    }
    if (http >= 200 && http < 300) {
        printf("%.*s\n", (int)reply.len, reply.data);
        buf_free(&reply);
        return 0;
    }
    // An error reply: {"error":{"message":...}} when it is ours; else the raw text.
    cJSON *doc = cJSON_ParseWithLength(reply.data ? reply.data : "", reply.len);
    const cJSON *msg =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "error"), "message");
    if (cJSON_IsString(msg))
        cli_error(cmd, "%s: HTTP %ld: %s", verb, http, msg->valuestring);
    else
        cli_error(cmd, "%s: HTTP %ld: %.*s", verb, http, (int)(reply.len > 300 ? 300 : reply.len),
                  reply.data ? reply.data : "");
    cJSON_Delete(doc);
    buf_free(&reply);
    return 1;
}
