// Front <-> controller protocol: encoding, bounds-checked decoding and the Unix-socket
// plumbing (frontlink.h). Every length is checked before it is used or allocated.
// SPDX-License-Identifier: MIT
#include "requests/frontlink.h"

#include "base/bytes.h"
#include "base/mem.h"
#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

// ---- little-endian writer

struct wr {
    uint8_t *p;
    size_t n;
};

#define PUT(kind, bytes, v)                                                                        \
    do {                                                                                           \
        bytes_put_##kind(w->p + w->n, v);                                                          \
        w->n += bytes;                                                                             \
    } while (0)
static void put_u16(struct wr *w, uint16_t v) { PUT(u16, 2, v); }
static void put_u32(struct wr *w, uint32_t v) { PUT(u32, 4, v); }
static void put_u64(struct wr *w, uint64_t v) { PUT(u64, 8, v); }
static void put_i32(struct wr *w, int32_t v) { PUT(i32, 4, v); }
static void put_i64(struct wr *w, int64_t v) { PUT(i64, 8, v); }
static void put_f32(struct wr *w, float v) { PUT(f32, 4, v); }
static void put_f64(struct wr *w, double v) { PUT(f64, 8, v); }
#undef PUT
static void put_str(struct wr *w, const char *s, size_t max) {
    size_t n = strnlen(s, max);
    put_u32(w, (uint32_t)n);
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

// ---- little-endian reader (every get checks the remaining length)

struct rd {
    const uint8_t *p;
    size_t n, off;
    int bad;
};

static int need(struct rd *r, size_t k) {
    if (r->bad || r->n - r->off < k) {
        r->bad = 1;
        return 0;
    }
    return 1;
}
// The next k bytes, or k zero bytes once the input is short (r->bad set), so every get
// returns 0 after an overrun and decoding can run to the end before checking r->bad.
static const uint8_t *take(struct rd *r, size_t k) {
    static const uint8_t zeros[8];
    if (!need(r, k)) return zeros;
    r->off += k;
    return r->p + r->off - k;
}
static uint16_t get_u16(struct rd *r) { return bytes_get_u16(take(r, 2)); }
static uint32_t get_u32(struct rd *r) { return bytes_get_u32(take(r, 4)); }
static uint64_t get_u64(struct rd *r) { return bytes_get_u64(take(r, 8)); }
static int32_t get_i32(struct rd *r) { return bytes_get_i32(take(r, 4)); }
static int64_t get_i64(struct rd *r) { return bytes_get_i64(take(r, 8)); }
static float get_f32(struct rd *r) { return bytes_get_f32(take(r, 4)); }
static double get_f64(struct rd *r) { return bytes_get_f64(take(r, 8)); }
// Reads a u32-length string of at most max bytes into out (max+1 bytes), NUL-terminated.
static void get_str(struct rd *r, char *out, size_t max) {
    uint32_t n = get_u32(r);
    if (r->bad || n > max || !need(r, n)) {
        r->bad = 1;
        out[0] = 0;
        return;
    }
    memcpy(out, r->p + r->off, n);
    out[n] = 0;
    r->off += n;
}
// Reads a u32 count <= max.
static uint32_t get_count(struct rd *r, uint32_t max) {
    uint32_t n = get_u32(r);
    if (n > max) r->bad = 1;
    return r->bad ? 0 : n;
}

// ---- encode

static size_t payload_bound(const struct frontlink_msg *m) {
    switch (m->type) {
    case FRONTLINK_SUBMIT:
        return 64 + 4 * (size_t)FRONTLINK_MAX_STOP + 4 * (size_t)m->u.submit.n_prompt;
    case FRONTLINK_STATS: return sizeof(struct frontlink_stats) + 256;
    default: return 2048;
    }
}

static int check_msg(const struct frontlink_msg *m) {
    switch (m->type) {
    case FRONTLINK_SUBMIT: {
        const struct frontlink_submit *s = &m->u.submit;
        if (s->n_prompt < 1 || s->n_prompt > FRONTLINK_MAX_PROMPT || !s->prompt) return 0;
        if (s->n_stop < 0 || s->n_stop > FRONTLINK_MAX_STOP) return 0;
        return 1;
    }
    case FRONTLINK_STATS: {
        const struct frontlink_stats *s = &m->u.stats;
        return s->n_attn <= FRONTLINK_MAX_INST && s->n_moe <= FRONTLINK_MAX_INST &&
               s->n_layer <= FRONTLINK_MAX_LAYERS;
    }
    case FRONTLINK_READY:
    case FRONTLINK_CANCEL:
    case FRONTLINK_TOKEN:
    case FRONTLINK_FINISH:
    case FRONTLINK_ERROR:
    case FRONTLINK_REPLACE:
    case FRONTLINK_REPLACED:
    case FRONTLINK_SHUTDOWN: return 1;
    default: return 0;
    }
}

int frontlink_encode(struct buf *out, const struct frontlink_msg *m) {
    if (!check_msg(m)) return JANUS_EINVAL;
    size_t cap = FRONTLINK_HEADER_BYTES + payload_bound(m);
    uint8_t *tmp = mem_alloc(MEM_TAG_SERVER, cap);
    if (!tmp) return JANUS_ENOMEM;
    struct wr w = {tmp, FRONTLINK_HEADER_BYTES};
    switch (m->type) {
    case FRONTLINK_READY: {
        const struct frontlink_ready *r = &m->u.ready;
        put_u32(&w, r->n_vocab);
        put_u32(&w, r->n_attn);
        put_u32(&w, r->n_moe);
        put_u32(&w, r->n_layer);
        put_u32(&w, r->n_ctx);
        put_u32(&w, r->max_seqs);
        put_i64(&w, r->kv_tokens);
        put_u32(&w, r->token_budget);
        put_u32(&w, r->max_waiting);
        put_str(&w, r->model_name, FRONTLINK_MAX_NAME);
        break;
    }
    case FRONTLINK_SUBMIT: {
        const struct frontlink_submit *s = &m->u.submit;
        put_u64(&w, s->id);
        put_i32(&w, s->max_tokens);
        put_f32(&w, s->sampling.temperature);
        put_f32(&w, s->sampling.top_p);
        put_i32(&w, s->sampling.top_k);
        put_u64(&w, s->sampling.seed);
        put_u32(&w, s->flags);
        put_u32(&w, (uint32_t)s->n_stop);
        for (int32_t i = 0; i < s->n_stop; i++)
            put_i32(&w, s->stop_ids[i]);
        put_u32(&w, (uint32_t)s->n_prompt);
        for (int32_t i = 0; i < s->n_prompt; i++)
            put_i32(&w, s->prompt[i]);
        break;
    }
    case FRONTLINK_CANCEL: put_u64(&w, m->u.cancel_id); break;
    case FRONTLINK_TOKEN:
        put_u64(&w, m->u.token.id);
        put_i32(&w, m->u.token.token);
        break;
    case FRONTLINK_FINISH:
        put_u64(&w, m->u.finish.id);
        put_u32(&w, m->u.finish.reason);
        put_i32(&w, m->u.finish.n_prompt);
        put_i32(&w, m->u.finish.n_completion);
        break;
    case FRONTLINK_ERROR:
        put_u64(&w, m->u.error.id);
        put_i32(&w, m->u.error.code);
        put_str(&w, m->u.error.message, FRONTLINK_MAX_TEXT);
        break;
    case FRONTLINK_STATS: {
        const struct frontlink_stats *s = &m->u.stats;
        put_u64(&w, s->n_steps);
        put_u64(&w, s->step_ns_total);
        put_u32(&w, s->n_running);
        put_u32(&w, s->n_waiting);
        put_u64(&w, s->n_rejected);
        put_i64(&w, s->kv_capacity);
        put_u32(&w, s->n_attn);
        for (uint32_t i = 0; i < s->n_attn; i++)
            put_i64(&w, s->kv_used[i]);
        put_u32(&w, s->n_layer);
        for (uint32_t i = 0; i < s->n_layer; i++)
            put_i32(&w, s->a_max_last[i]);
        for (uint32_t i = 0; i < s->n_layer; i++)
            put_u64(&w, s->a_max_sum[i]);
        put_u32(&w, s->n_moe);
        for (uint32_t i = 0; i < s->n_moe; i++)
            put_u64(&w, s->activated_sum[i]);
        for (uint32_t i = 0; i < s->n_moe; i++)
            put_i32(&w, s->activated_last[i]);
        put_u32(&w, FRONTLINK_N_SCHEMES);
        for (int i = 0; i < FRONTLINK_N_SCHEMES; i++)
            put_u64(&w, s->scheme_steps[i]);
        for (int i = 0; i < FRONTLINK_N_SCHEMES; i++)
            put_u64(&w, s->scheme_msgs[i]);
        for (int i = 0; i < FRONTLINK_N_SCHEMES; i++)
            put_u64(&w, s->scheme_bytes[i]);
        put_u64(&w, s->rows_total);
        put_u32(&w, FRONTLINK_N_MODES);
        for (int i = 0; i < FRONTLINK_N_MODES; i++)
            put_u64(&w, s->mode_steps[i]);
        for (int i = 0; i < FRONTLINK_N_MODES; i++)
            put_u64(&w, s->mode_msgs[i]);
        for (int i = 0; i < FRONTLINK_N_MODES; i++)
            put_u64(&w, s->mode_bytes[i]);
        break;
    }
    case FRONTLINK_REPLACE:
        put_u64(&w, m->u.replace.tag);
        put_u32(&w, m->u.replace.flags);
        break;
    case FRONTLINK_REPLACED: {
        const struct frontlink_replaced *q = &m->u.replaced;
        put_u64(&w, q->tag);
        put_i32(&w, q->code);
        put_u32(&w, q->trigger);
        put_u32(&w, q->switched);
        put_u64(&w, q->switch_step);
        put_f64(&w, q->amax_before);
        put_f64(&w, q->amax_after);
        put_u32(&w, q->layers_changed);
        put_u32(&w, q->n_moe_layers);
        put_f64(&w, q->plan_ms);
        put_f64(&w, q->total_ms);
        put_u64(&w, q->load_bytes);
        put_str(&w, q->message, FRONTLINK_MAX_TEXT);
        break;
    }
    case FRONTLINK_SHUTDOWN: break;
    }
    JANUS_ASSERT(w.n <= cap);
    size_t len = w.n - FRONTLINK_HEADER_BYTES;
    struct wr h = {tmp, 0};
    put_u32(&h, FRONTLINK_MAGIC);
    put_u16(&h, FRONTLINK_VERSION);
    put_u16(&h, m->type);
    put_u32(&h, (uint32_t)len);
    int rc = buf_append(out, tmp, w.n);
    mem_free(tmp);
    return rc;
}

// ---- decode

#define PROTO(...)                                                                                 \
    do {                                                                                           \
        return status_errf(err, err_len, JANUS_EPROTO, __VA_ARGS__);                               \
    } while (0)

int frontlink_decode(const uint8_t *data, size_t len, struct frontlink_msg *m, size_t *consumed,
                     char *err, size_t err_len) {
    if (len < FRONTLINK_HEADER_BYTES) return JANUS_EAGAIN;
    struct rd h = {data, FRONTLINK_HEADER_BYTES, 0, 0};
    uint32_t magic = get_u32(&h);
    uint16_t version = get_u16(&h);
    uint16_t type = get_u16(&h);
    uint32_t plen = get_u32(&h);
    if (magic != FRONTLINK_MAGIC) PROTO("frontlink: bad magic 0x%08x", magic);
    if (version != FRONTLINK_VERSION)
        PROTO("frontlink: version %u, expected %u", version, FRONTLINK_VERSION);
    if (plen > FRONTLINK_MAX_PAYLOAD)
        PROTO("frontlink: %s payload of %u bytes exceeds %zu", frontlink_type_name(type), plen,
              FRONTLINK_MAX_PAYLOAD);
    if (len - FRONTLINK_HEADER_BYTES < plen) return JANUS_EAGAIN;

    struct frontlink_msg t;
    memset(&t, 0, sizeof t);
    t.type = type;
    struct rd r = {data + FRONTLINK_HEADER_BYTES, plen, 0, 0};
    switch (type) {
    case FRONTLINK_READY: {
        struct frontlink_ready *q = &t.u.ready;
        q->n_vocab = get_u32(&r);
        q->n_attn = get_u32(&r);
        q->n_moe = get_u32(&r);
        q->n_layer = get_u32(&r);
        q->n_ctx = get_u32(&r);
        q->max_seqs = get_u32(&r);
        q->kv_tokens = get_i64(&r);
        q->token_budget = get_u32(&r);
        q->max_waiting = get_u32(&r);
        get_str(&r, q->model_name, FRONTLINK_MAX_NAME);
        break;
    }
    case FRONTLINK_SUBMIT: {
        struct frontlink_submit *s = &t.u.submit;
        s->id = get_u64(&r);
        s->max_tokens = get_i32(&r);
        s->sampling.temperature = get_f32(&r);
        s->sampling.top_p = get_f32(&r);
        s->sampling.top_k = get_i32(&r);
        s->sampling.seed = get_u64(&r);
        s->flags = get_u32(&r);
        s->n_stop = (int32_t)get_count(&r, FRONTLINK_MAX_STOP);
        for (int32_t i = 0; i < s->n_stop && !r.bad; i++)
            s->stop_ids[i] = get_i32(&r);
        uint32_t np = get_u32(&r);
        if (r.bad) break;
        if (np < 1 || np > FRONTLINK_MAX_PROMPT)
            PROTO("frontlink: SUBMIT with %u prompt tokens", np);
        if (!need(&r, (size_t)np * 4)) break;
        s->prompt = mem_alloc(MEM_TAG_SERVER, (size_t)np * 4);
        if (!s->prompt) return JANUS_ENOMEM;
        s->n_prompt = (int32_t)np;
        for (uint32_t i = 0; i < np; i++)
            s->prompt[i] = get_i32(&r);
        break;
    }
    case FRONTLINK_CANCEL: t.u.cancel_id = get_u64(&r); break;
    case FRONTLINK_TOKEN:
        t.u.token.id = get_u64(&r);
        t.u.token.token = get_i32(&r);
        break;
    case FRONTLINK_FINISH:
        t.u.finish.id = get_u64(&r);
        t.u.finish.reason = get_u32(&r);
        t.u.finish.n_prompt = get_i32(&r);
        t.u.finish.n_completion = get_i32(&r);
        break;
    case FRONTLINK_ERROR:
        t.u.error.id = get_u64(&r);
        t.u.error.code = get_i32(&r);
        get_str(&r, t.u.error.message, FRONTLINK_MAX_TEXT);
        break;
    case FRONTLINK_STATS: {
        struct frontlink_stats *s = &t.u.stats;
        s->n_steps = get_u64(&r);
        s->step_ns_total = get_u64(&r);
        s->n_running = get_u32(&r);
        s->n_waiting = get_u32(&r);
        s->n_rejected = get_u64(&r);
        s->kv_capacity = get_i64(&r);
        s->n_attn = get_count(&r, FRONTLINK_MAX_INST);
        for (uint32_t i = 0; i < s->n_attn; i++)
            s->kv_used[i] = get_i64(&r);
        s->n_layer = get_count(&r, FRONTLINK_MAX_LAYERS);
        for (uint32_t i = 0; i < s->n_layer; i++)
            s->a_max_last[i] = get_i32(&r);
        for (uint32_t i = 0; i < s->n_layer; i++)
            s->a_max_sum[i] = get_u64(&r);
        s->n_moe = get_count(&r, FRONTLINK_MAX_INST);
        for (uint32_t i = 0; i < s->n_moe; i++)
            s->activated_sum[i] = get_u64(&r);
        for (uint32_t i = 0; i < s->n_moe; i++)
            s->activated_last[i] = get_i32(&r);
        uint32_t ns = get_u32(&r);
        // A newer sender may count more schemes; keep the ones we know, skip the rest.
        if (ns > 64) r.bad = 1;
        for (int a = 0; a < 3 && !r.bad; a++) {
            uint64_t *dst = a == 0 ? s->scheme_steps : a == 1 ? s->scheme_msgs : s->scheme_bytes;
            for (uint32_t i = 0; i < ns; i++) {
                uint64_t v = get_u64(&r);
                if (i < FRONTLINK_N_SCHEMES) dst[i] = v;
            }
        }
        if (!r.bad && r.n - r.off >= 8) s->rows_total = get_u64(&r); // (appended field)
        // Dispatch modes (absent from an older sender: zeros); unknown ones skipped.
        uint32_t nm = !r.bad && r.n - r.off >= 4 ? get_u32(&r) : 0;
        if (nm > 64) r.bad = 1;
        for (int a = 0; a < 3 && !r.bad && nm > 0; a++) {
            uint64_t *dst = a == 0 ? s->mode_steps : a == 1 ? s->mode_msgs : s->mode_bytes;
            for (uint32_t i = 0; i < nm; i++) {
                uint64_t v = get_u64(&r);
                if (i < FRONTLINK_N_MODES) dst[i] = v;
            }
        }
        break;
    }
    case FRONTLINK_REPLACE:
        t.u.replace.tag = get_u64(&r);
        t.u.replace.flags = get_u32(&r);
        break;
    case FRONTLINK_REPLACED: {
        struct frontlink_replaced *q = &t.u.replaced;
        q->tag = get_u64(&r);
        q->code = get_i32(&r);
        q->trigger = get_u32(&r);
        q->switched = get_u32(&r);
        q->switch_step = get_u64(&r);
        q->amax_before = get_f64(&r);
        q->amax_after = get_f64(&r);
        q->layers_changed = get_u32(&r);
        q->n_moe_layers = get_u32(&r);
        q->plan_ms = get_f64(&r);
        q->total_ms = get_f64(&r);
        q->load_bytes = get_u64(&r);
        get_str(&r, q->message, FRONTLINK_MAX_TEXT);
        break;
    }
    case FRONTLINK_SHUTDOWN: break;
    default: break; // unknown type: caller skips it
    }
    if (r.bad) {
        frontlink_msg_free(&t);
        PROTO("frontlink: truncated or oversized %s payload (%u bytes)", frontlink_type_name(type),
              plen);
    }
    *m = t;
    *consumed = FRONTLINK_HEADER_BYTES + (size_t)plen;
    return JANUS_OK;
}

void frontlink_msg_free(struct frontlink_msg *m) {
    if (m->type == FRONTLINK_SUBMIT && m->u.submit.prompt) {
        mem_free(m->u.submit.prompt);
        m->u.submit.prompt = NULL;
        m->u.submit.n_prompt = 0;
    }
}

const char *frontlink_type_name(uint16_t type) {
    switch (type) {
    case FRONTLINK_READY: return "READY";
    case FRONTLINK_SUBMIT: return "SUBMIT";
    case FRONTLINK_CANCEL: return "CANCEL";
    case FRONTLINK_TOKEN: return "TOKEN";
    case FRONTLINK_FINISH: return "FINISH";
    case FRONTLINK_ERROR: return "ERROR";
    case FRONTLINK_STATS: return "STATS";
    case FRONTLINK_SHUTDOWN: return "SHUTDOWN";
    case FRONTLINK_REPLACE: return "REPLACE";
    case FRONTLINK_REPLACED: return "REPLACED";
    default: return "unknown";
    }
}

const char *frontlink_reason_name(uint32_t reason) {
    switch (reason) {
    case FRONTLINK_REASON_STOP: return "stop";
    case FRONTLINK_REASON_LENGTH: return "length";
    case FRONTLINK_REASON_CANCELLED: return "cancelled";
    case FRONTLINK_REASON_ERROR: return "error";
    default: return "unknown";
    }
}

// ---- sockets

static int make_addr(const char *path, struct sockaddr_un *a) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof a->sun_path) return JANUS_EINVAL;
    memcpy(a->sun_path, path, n + 1);
    return JANUS_OK;
}

static void conn_init(struct frontlink_conn *c, int fd) {
    memset(c, 0, sizeof *c);
    c->fd = fd;
}

int frontlink_listen(const char *path, int *fd_out) {
    struct sockaddr_un a;
    int rc = make_addr(path, &a);
    if (rc) return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return JANUS_EIO;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0) {
        close(fd);
        return JANUS_EIO;
    }
    *fd_out = fd;
    return JANUS_OK;
}

int frontlink_accept(int listen_fd, int timeout_ms, struct frontlink_conn *c) {
    struct pollfd p = {listen_fd, POLLIN, 0};
    int n;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n < 0) return JANUS_EIO;
    if (n == 0) return JANUS_EAGAIN;
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return errno == EAGAIN || errno == EINTR ? JANUS_EAGAIN : JANUS_EIO;
    conn_init(c, fd);
    return JANUS_OK;
}

int frontlink_connect(const char *path, struct frontlink_conn *c) {
    struct sockaddr_un a;
    int rc = make_addr(path, &a);
    if (rc) return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return JANUS_EIO;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return JANUS_EIO;
    }
    conn_init(c, fd);
    return JANUS_OK;
}

void frontlink_conn_close(struct frontlink_conn *c) {
    if (c->fd >= 0) close(c->fd);
    mem_free(c->rbuf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

int frontlink_send(struct frontlink_conn *c, const struct frontlink_msg *m) {
    if (c->fd < 0) return JANUS_ECOMM;
    struct buf b;
    buf_init(&b, FRONTLINK_HEADER_BYTES + FRONTLINK_MAX_PAYLOAD);
    int rc = frontlink_encode(&b, m);
    if (rc) {
        buf_free(&b);
        return rc;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t k = send(c->fd, b.data + off, b.len - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {c->fd, POLLOUT, 0};
            (void)poll(&p, 1, 1000);
            continue;
        }
        if (k <= 0) {
            buf_free(&b);
            return JANUS_ECOMM;
        }
        off += (size_t)k;
    }
    buf_free(&b);
    return JANUS_OK;
}

int frontlink_recv(struct frontlink_conn *c, int timeout_ms, struct frontlink_msg *m, char *err,
                   size_t err_len) {
    if (c->fd < 0) return JANUS_ECOMM;
    for (;;) {
        size_t used = 0;
        int rc =
            c->rlen ? frontlink_decode(c->rbuf, c->rlen, m, &used, err, err_len) : JANUS_EAGAIN;
        if (rc == JANUS_OK) {
            memmove(c->rbuf, c->rbuf + used, c->rlen - used);
            c->rlen -= used;
            return JANUS_OK;
        }
        if (rc != JANUS_EAGAIN) return rc;
        struct pollfd p = {c->fd, POLLIN, 0};
        int n = poll(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return JANUS_ECOMM;
        if (n == 0) return JANUS_EAGAIN;
        if (c->rcap - c->rlen < 65536) {
            size_t ncap = c->rcap ? c->rcap * 2 : 131072;
            if (ncap > FRONTLINK_HEADER_BYTES + FRONTLINK_MAX_PAYLOAD + 131072)
                ncap = FRONTLINK_HEADER_BYTES + FRONTLINK_MAX_PAYLOAD + 131072;
            if (ncap <= c->rcap) return JANUS_EPROTO; // cannot happen: decode bounds plen
            uint8_t *nb = mem_realloc(MEM_TAG_SERVER, c->rbuf, ncap);
            if (!nb) return JANUS_ENOMEM;
            c->rbuf = nb;
            c->rcap = ncap;
        }
        ssize_t k = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (k <= 0) return JANUS_ECOMM;
        c->rlen += (size_t)k;
    }
}
