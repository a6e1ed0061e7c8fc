// Hardware profile catalogue and local measurement (hw.h, SPEC §8).
// Profiles are validated on load; the measurement runs worker threads for bandwidth and FLOP/s.
// SPDX-License-Identifier: MIT
#include "sim/hw.h"

#include "base/file.h"
#include "base/mem.h"
#include "base/pool.h"
#include "kernels/membw.h"
#include "base/status.h"
#include "base/json_field.h"
#include "sim/catalog.h"

#include <cJSON.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int hw_parse(const void *obj_, const char *path, struct hw_profile *out, char *err,
             size_t err_len) {
    const cJSON *obj = obj_;
    struct hw_profile h = {0};
    double v;
    int rc;
    if ((rc = json_field_str(obj, path, "id", h.id, sizeof h.id, err, err_len))) return rc;
    if (!catalog_valid_id(h.id))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: id \"%s\" must be lower-case [a-z0-9-_], 1-31 chars", path, h.id);
    if ((rc = json_field_str(obj, path, "name", h.name, sizeof h.name, err, err_len))) return rc;
    if ((rc = json_field_str(obj, path, "source", h.source, sizeof h.source, err, err_len)))
        return rc;
    if ((rc = json_field_num(obj, path, "peak_tflops", 1e-4, 1e6, 0, 1, &v, err, err_len)))
        return rc;
    h.peak_flops = v * 1e12;
    if ((rc = json_field_num(obj, path, "mem_bw_gbs", 1e-3, 1e6, 0, 1, &v, err, err_len)))
        return rc;
    h.mem_bw = v * 1e9;
    if ((rc = json_field_num(obj, path, "mem_gb", 1e-3, 1e6, 0, 1, &v, err, err_len))) return rc;
    h.mem_bytes = v * 1e9;
    if ((rc = json_field_num(obj, path, "intra_bw_gbs", 1e-4, 1e6, 0, 1, &v, err, err_len)))
        return rc;
    h.intra_bw = v * 1e9;
    if ((rc = json_field_num(obj, path, "intra_lat_us", 0, 1e6, 0, 1, &v, err, err_len))) return rc;
    h.intra_lat = v * 1e-6;
    if ((rc = json_field_num(obj, path, "inter_bw_gbs", 1e-4, 1e6, 0, 1, &v, err, err_len)))
        return rc;
    h.inter_bw = v * 1e9;
    if ((rc = json_field_num(obj, path, "inter_lat_us", 0, 1e6, 0, 1, &v, err, err_len))) return rc;
    h.inter_lat = v * 1e-6;
    if ((rc = json_field_num(obj, path, "devices_per_node", 1, 1024, 1, 1, &v, err, err_len)))
        return rc;
    h.devices_per_node = (int)v;
    v = 1; // optional: absent means the single-leader funnel (one NIC per node leader)
    if ((rc = json_field_num(obj, path, "leader_rails", 1, 1024, 1, 0, &v, err, err_len)))
        return rc;
    if (v > h.devices_per_node)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: leader_rails (%d) exceeds devices_per_node (%d)", path, (int)v,
                           h.devices_per_node);
    h.leader_rails = (int)v;
    *out = h;
    return JANUS_OK;
}

int hw_load_file(const char *path, struct hw_profile *out, char *err, size_t err_len) {
    cJSON *j;
    int rc = catalog_read_json(path, &j, err, err_len);
    if (rc) return rc;
    rc = hw_parse(j, path, out, err, err_len);
    cJSON_Delete(j);
    return rc;
}

static void list_ids(const char *dir, char *out, size_t cap) {
    out[0] = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    // Sorted insertion into a small fixed list so the message is deterministic.
    char names[32][32];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 32) {
        size_t l = strlen(e->d_name);
        if (l < 6 || l > 36 || strcmp(e->d_name + l - 5, ".json")) continue;
        snprintf(names[n], sizeof names[n], "%.*s", (int)(l - 5), e->d_name);
        for (int i = n; i > 0 && strcmp(names[i - 1], names[i]) > 0; i--) {
            char t[32];
            memcpy(t, names[i], 32);
            memcpy(names[i], names[i - 1], 32);
            memcpy(names[i - 1], t, 32);
        }
        n++;
    }
    closedir(d);
    size_t used = 0;
    for (int i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", names[i]);
}

int hw_load(const char *data_dir, const char *id, struct hw_profile *out, char *err,
            size_t err_len) {
    char path[4096], dir[4096];
    snprintf(dir, sizeof dir, "%s/hw", data_dir);
    if (!catalog_valid_id(id)) {
        char known[512];
        list_ids(dir, known, sizeof known);
        return status_errf(err, err_len, JANUS_ENOTFOUND, "unknown hardware \"%s\" (known: %s)", id,
                           known);
    }
    if (snprintf(path, sizeof path, "%s/%s.json", dir, id) >= (int)sizeof path)
        return status_errf(err, err_len, JANUS_ELIMIT, "data directory path too long");
    int rc = hw_load_file(path, out, err, err_len);
    if (rc == JANUS_ENOTFOUND) {
        char known[512];
        list_ids(dir, known, sizeof known);
        if (!strcmp(id, "cpu-local"))
            status_errf(err, err_len, rc,
                        "hardware \"cpu-local\" not measured yet: run `janus plan --measure-local` "
                        "(known: %s)",
                        known);
        else
            status_errf(err, err_len, rc, "unknown hardware \"%s\" (known: %s)", id, known);
    } else if (rc == JANUS_OK && strcmp(out->id, id))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: id \"%s\" does not match the file name", path, out->id);
    return rc;
}

int hw_write_json(const struct hw_profile *h, const char *path) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return JANUS_ENOMEM;
    cJSON_AddStringToObject(o, "id", h->id);
    cJSON_AddStringToObject(o, "name", h->name);
    cJSON_AddNumberToObject(o, "peak_tflops", h->peak_flops / 1e12);
    cJSON_AddNumberToObject(o, "mem_bw_gbs", h->mem_bw / 1e9);
    cJSON_AddNumberToObject(o, "mem_gb", h->mem_bytes / 1e9);
    cJSON_AddNumberToObject(o, "intra_bw_gbs", h->intra_bw / 1e9);
    cJSON_AddNumberToObject(o, "intra_lat_us", h->intra_lat * 1e6);
    cJSON_AddNumberToObject(o, "inter_bw_gbs", h->inter_bw / 1e9);
    cJSON_AddNumberToObject(o, "inter_lat_us", h->inter_lat * 1e6);
    cJSON_AddNumberToObject(o, "devices_per_node", h->devices_per_node);
    cJSON_AddNumberToObject(o, "leader_rails", h->leader_rails < 1 ? 1 : h->leader_rails);
    cJSON_AddStringToObject(o, "source", h->source);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return JANUS_ENOMEM;
    size_t n = strlen(s);
    char *t = mem_alloc(MEM_TAG_SIM, n + 2);
    int rc = JANUS_ENOMEM;
    if (t) {
        memcpy(t, s, n);
        t[n] = '\n';
        rc = file_write_all(path, t, n + 1, NULL, 0);
        mem_free(t);
    }
    cJSON_free(s);
    return rc;
}

// ---- local measurement -------------------------------------------------------------------

// FLOP rates are per CPU-second of each thread (CLOCK_THREAD_CPUTIME_ID), summed over threads,
// so that a machine shared with other jobs still measures its own hardware rather than its
// share of the time slices.
static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct fma_job {
    long iters;
    float seed;
    float out;
    double cpu_s;
};

// 8 independent accumulators x 8 lanes written so the compiler vectorises (gcc -O2 with
// vector extensions); counts 2 FLOP per multiply-add.
typedef float v8f __attribute__((vector_size(32)));

// The loop body, compiled twice: for the baseline ISA and, where the CPU has them, with
// AVX2+FMA (the ISA the engine's kernels use), so "peak" is what this core can do.
#define FMA_LOOP(j)                                                                                \
    do {                                                                                           \
        double t0 = thread_cpu_s();                                                                \
        v8f a[8], m, c;                                                                            \
        for (int k = 0; k < 8; k++)                                                                \
            for (int l = 0; l < 8; l++)                                                            \
                a[k][l] = (j)->seed + (float)(k + l) * 1e-3f;                                      \
        for (int l = 0; l < 8; l++) {                                                              \
            m[l] = 0.9999f;                                                                        \
            c[l] = 1e-4f;                                                                          \
        }                                                                                          \
        for (long i = 0; i < (j)->iters; i++)                                                      \
            for (int k = 0; k < 8; k++)                                                            \
                a[k] = a[k] * m + c;                                                               \
        float s = 0;                                                                               \
        for (int k = 0; k < 8; k++)                                                                \
            for (int l = 0; l < 8; l++)                                                            \
                s += a[k][l];                                                                      \
        (j)->out = s;                                                                              \
        (j)->cpu_s = thread_cpu_s() - t0;                                                          \
    } while (0)

static void *fma_thread(void *arg) {
    struct fma_job *j = arg;
    FMA_LOOP(j);
    return NULL;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
// Same loop with explicit FMA intrinsics (8 independent chains of 8 lanes).
__attribute__((target("avx2,fma"))) static void *fma_thread_avx2(void *arg) {
    struct fma_job *j = arg;
    double t0 = thread_cpu_s();
    __m256 a[8];
    for (int k = 0; k < 8; k++)
        a[k] = _mm256_set1_ps(j->seed + (float)k * 1e-3f);
    const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    for (long i = 0; i < j->iters; i++)
        for (int k = 0; k < 8; k++)
            a[k] = _mm256_fmadd_ps(a[k], m, c);
    float s = 0, lanes[8];
    for (int k = 0; k < 8; k++) {
        _mm256_storeu_ps(lanes, a[k]);
        for (int l = 0; l < 8; l++)
            s += lanes[l];
    }
    j->out = s;
    j->cpu_s = thread_cpu_s() - t0;
    return NULL;
}
#define HAVE_FMA_AVX2 1
#endif

int hw_measure_local(struct hw_profile *out, int buf_mib, int nthreads) {
    if (buf_mib < 16 || nthreads < 1 || nthreads > 64) return JANUS_EINVAL;
    struct hw_profile h = {0};
    snprintf(h.id, sizeof h.id, "cpu-local");
    // Bandwidth: the read test of kernels/membw.h (the one bandwidth test), best of 3.
    struct pool *pool = NULL;
    struct membw_result bw;
    int rc = pool_create(&pool, nthreads);
    if (rc == JANUS_OK) rc = membw_measure(pool, (size_t)buf_mib << 20, 3, &bw);
    pool_destroy(&pool);
    if (rc) return rc;
    double best_bw = bw.read_gb_s_max * 1e9;
    pthread_t th[64];
    struct fma_job fj[64];
    double best_fl = 0;
    long iters = 20 * 1000 * 1000;
    for (int trial = 0; trial < 2; trial++) {
        for (int t = 0; t < nthreads; t++) {
            fj[t] = (struct fma_job){iters, 1.0f + (float)t, 0, 0};
            void *(*fn)(void *) = fma_thread;
#ifdef HAVE_FMA_AVX2
            if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
                fn = fma_thread_avx2;
#endif
            if (pthread_create(&th[t], NULL, fn, &fj[t])) return JANUS_EIO;
        }
        double fl = 0;
        for (int t = 0; t < nthreads; t++) {
            pthread_join(th[t], NULL);
            if (fj[t].cpu_s > 0) fl += (double)iters * 8 * 8 * 2 / fj[t].cpu_s;
        }
        if (fl > best_fl) best_fl = fl;
    }
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    h.peak_flops = best_fl;
    h.mem_bw = best_bw;
    h.mem_bytes = (pages > 0 && psz > 0) ? (double)pages * (double)psz : 8e9;
    // Defaults until an MPI ping-pong replaces them (shared-memory transport on one host).
    h.intra_bw = 5e9;
    h.intra_lat = 1e-6;
    h.inter_bw = 5e9;
    h.inter_lat = 1e-6;
    h.devices_per_node = nthreads;
    h.leader_rails = 1;
    snprintf(h.name, sizeof h.name, "this machine: %d thread(s), measured", nthreads);
    snprintf(h.source, sizeof h.source,
             "measured by janus plan --measure-local: streaming read of %d MiB with %d threads "
             "(best of 3), fp32 multiply-add loop (best of 2, per thread CPU-second)",
             buf_mib, nthreads);
    *out = h;
    return JANUS_OK;
}
