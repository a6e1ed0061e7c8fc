// Workloads: ShareGPT-like lengths, gamma arrivals, diurnal trace, trace files (workload.h).
// Generated traces are deterministic for a seed; trace files are bounded and validated.
// SPDX-License-Identifier: MIT
#include "sim/workload.h"

#include "base/file.h"
#include "base/mem.h"
#include "base/status.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586

void workload_sharegpt(struct workload_lengths *l) {
    l->in_mean = 161;
    l->out_mean = 338;
    l->in_sigma = 1.0;
    l->out_sigma = 1.0;
}

static double lognormal(struct rng *r, double mean, double sigma) {
    double mu = log(mean) - 0.5 * sigma * sigma; // so that E[X] = mean
    return exp(mu + sigma * rng_normal(r));
}

void workload_sample_lengths(const struct workload_lengths *l, struct rng *r, int *in, int *out) {
    double a = lognormal(r, l->in_mean, l->in_sigma), b = lognormal(r, l->out_mean, l->out_sigma);
    *in = a < 1 ? 1 : (a > 1e6 ? 1000000 : (int)a);
    *out = b < 1 ? 1 : (b > 1e6 ? 1000000 : (int)b);
}

double workload_mean_context(const struct workload_lengths *l) {
    // Log-normal: E[X^2] / E[X] = E[X] * exp(sigma^2).
    return l->in_mean + 0.5 * l->out_mean * exp(l->out_sigma * l->out_sigma);
}

void workload_trace_free(struct workload_trace *t) {
    mem_free(t->rate);
    t->rate = NULL;
    t->n = 0;
}

double workload_trace_mean(const struct workload_trace *t) {
    double s = 0;
    for (int i = 0; i < t->n; i++)
        s += t->rate[i];
    return t->n ? s / t->n : 0;
}

double workload_trace_peak(const struct workload_trace *t) {
    double m = 0;
    for (int i = 0; i < t->n; i++)
        if (t->rate[i] > m) m = t->rate[i];
    return m;
}

static int trace_alloc(struct workload_trace *t, double hours, double bin_s) {
    t->rate = NULL;
    t->n = 0;
    if (!(hours > 0) || !(bin_s > 0) || hours * 3600 / bin_s > 1e7) return JANUS_EINVAL;
    int n = (int)ceil(hours * 3600 / bin_s - 1e-9);
    t->rate = mem_calloc(MEM_TAG_SIM, (size_t)n, sizeof *t->rate);
    if (!t->rate) return JANUS_ENOMEM;
    t->n = n;
    t->bin_s = bin_s;
    return JANUS_OK;
}

void workload_diurnal_default(struct workload_diurnal_params *p) {
    p->hours = 24;
    p->bin_s = 60;
    p->mean_rate = 1000;
    p->peak_to_mean = 7.5;
    p->bursts_per_day = 8;
    p->seed = 1;
}

// Shape of the day: a night trough and an afternoon peak, sharpened by the exponent q,
// plus bursts (fixed by the seed). The exponent is chosen by bisection so that the
// trace's peak-to-mean ratio is the requested one.
static void diurnal_shape(const struct workload_diurnal_params *p, double q, const double *bt,
                          const double *bd, const double *ba, int nb, double *out, int n) {
    for (int i = 0; i < n; i++) {
        double t = (i + 0.5) * p->bin_s / 3600.0;                    // hours
        double phase = (1.0 - cos(TWO_PI * (t - 4.0) / 24.0)) / 2.0; // 0 at 4:00, 1 at 16:00
        double v = 0.02 + pow(phase, q);
        double burst = 1.0;
        for (int b = 0; b < nb; b++) {
            double x = (t - bt[b]) / bd[b];
            if (x >= 0 && x < 1) burst += ba[b] * sin(3.141592653589793 * x);
        }
        out[i] = v * burst;
    }
}

int workload_diurnal(struct workload_trace *t, const struct workload_diurnal_params *p) {
    if (!(p->mean_rate > 0) || !(p->peak_to_mean > 1) || p->bursts_per_day < 0 ||
        p->bursts_per_day > 1000)
        return JANUS_EINVAL;
    int rc = trace_alloc(t, p->hours, p->bin_s);
    if (rc) return rc;
    int nb = (int)ceil(p->bursts_per_day * p->hours / 24.0);
    double bt[1024], bd[1024], ba[1024];
    struct rng r;
    rng_init(&r, p->seed);
    for (int b = 0; b < nb && b < 1024; b++) {
        bt[b] = rng_uniform(&r) * p->hours;         // start, hours
        bd[b] = (10 + 50 * rng_uniform(&r)) / 60.0; // 10-60 minutes
        ba[b] = 0.2 + 0.6 * rng_uniform(&r);        // +20..80 % at the burst's top
    }
    if (nb > 1024) nb = 1024;
    // Bisection on q: peak/mean grows with q.
    double lo = 0.05, hi = 200;
    for (int it = 0; it < 80; it++) {
        double q = sqrt(lo * hi);
        diurnal_shape(p, q, bt, bd, ba, nb, t->rate, t->n);
        double ratio = workload_trace_peak(t) / workload_trace_mean(t);
        if (ratio < p->peak_to_mean)
            lo = q;
        else
            hi = q;
    }
    diurnal_shape(p, sqrt(lo * hi), bt, bd, ba, nb, t->rate, t->n);
    double m = workload_trace_mean(t);
    for (int i = 0; i < t->n; i++)
        t->rate[i] *= p->mean_rate / m;
    return JANUS_OK;
}

void workload_bursty_default(struct workload_bursty_params *p) {
    p->hours = 24;
    p->bin_s = 60;
    p->mean_rate = 1000;
    p->gamma_shape = 0.25;
    p->seed = 1;
}

double workload_gamma(struct rng *r, double shape) {
    if (shape < 1) {
        double u = rng_uniform(r);
        return workload_gamma(r, shape + 1) * pow(u > 0 ? u : 1e-300, 1.0 / shape);
    }
    double d = shape - 1.0 / 3, c = 1.0 / sqrt(9 * d);
    for (;;) {
        double x = rng_normal(r), v = 1 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = rng_uniform(r);
        if (u < 1 - 0.0331 * x * x * x * x) return d * v;
        if (log(u > 0 ? u : 1e-300) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
    }
}

int workload_bursty(struct workload_trace *t, const struct workload_bursty_params *p,
                    const struct workload_lengths *l) {
    if (!(p->mean_rate > 0) || !(p->gamma_shape > 0) || !l) return JANUS_EINVAL;
    int rc = trace_alloc(t, p->hours, p->bin_s);
    if (rc) return rc;
    // Requests per second so that output tokens/s averages mean_rate; each request's
    // output tokens are spread over the bins of its decode at the trace's mean TPOT-free
    // granularity: attributed to its arrival bin (bins are >= a minute, decodes shorter).
    double req_rate = p->mean_rate / l->out_mean;
    double mean_gap = 1.0 / req_rate;
    struct rng r;
    rng_init(&r, p->seed);
    double now = 0, end = t->n * p->bin_s;
    while (1) {
        now += mean_gap * workload_gamma(&r, p->gamma_shape) / p->gamma_shape;
        if (now >= end) break;
        int in, out;
        workload_sample_lengths(l, &r, &in, &out);
        int bin = (int)(now / p->bin_s);
        if (bin >= t->n) bin = t->n - 1;
        t->rate[bin] += out / p->bin_s;
    }
    return JANUS_OK;
}

int workload_parse(struct workload_trace *t, const char *text, size_t len, double bin_s,
                   int max_bins, char *err, size_t err_len) {
    t->rate = NULL;
    t->n = 0;
    if (!(bin_s > 0) || max_bins < 1) return JANUS_EINVAL;
    // Pass 1: collect points.
    size_t cap = 1024, np = 0;
    double *pt = mem_alloc(MEM_TAG_SIM, cap * 2 * sizeof *pt);
    if (!pt) return JANUS_ENOMEM;
    size_t i = 0;
    int line = 0, rc = JANUS_OK;
    while (i < len) {
        line++;
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        char buf[256];
        size_t l = j - i;
        if (l >= sizeof buf) {
            rc = status_errf(err, err_len, JANUS_EFORMAT, "line %d: longer than %zu bytes", line,
                             sizeof buf - 1);
            break;
        }
        memcpy(buf, text + i, l);
        buf[l] = 0;
        i = j + 1;
        char *h = strchr(buf, '#');
        if (h) *h = 0;
        char *s = buf;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (!*s) continue;
        char *e1, *e2;
        errno = 0;
        double ts = strtod(s, &e1);
        double rt = strtod(e1, &e2);
        while (*e2 == ' ' || *e2 == '\t' || *e2 == '\r')
            e2++;
        if (e1 == s || e2 == e1 || *e2 || errno || !isfinite(ts) || !isfinite(rt)) {
            rc = status_errf(err, err_len, JANUS_EFORMAT, "line %d: expected \"<time_s> <rate>\"",
                             line);
            break;
        }
        if (ts < 0 || rt < 0) {
            rc = status_errf(err, err_len, JANUS_EFORMAT, "line %d: negative time or rate", line);
            break;
        }
        if (np && ts <= pt[2 * (np - 1)]) {
            rc = status_errf(err, err_len, JANUS_EFORMAT,
                             "line %d: time %g not after the previous line's", line, ts);
            break;
        }
        if (np == cap) {
            if (cap > (1u << 24)) {
                rc = status_errf(err, err_len, JANUS_ELIMIT, "line %d: too many points", line);
                break;
            }
            double *q = mem_realloc(MEM_TAG_SIM, pt, cap * 4 * sizeof *pt);
            if (!q) {
                rc = JANUS_ENOMEM;
                break;
            }
            pt = q;
            cap *= 2;
        }
        pt[2 * np] = ts;
        pt[2 * np + 1] = rt;
        np++;
    }
    if (!rc && np == 0) {
        rc = status_errf(err, err_len, JANUS_EFORMAT, "trace has no points");
    }
    if (!rc) {
        double last = pt[2 * (np - 1)];
        double nbins = floor(last / bin_s) + 1;
        if (nbins > max_bins) {
            rc = status_errf(err, err_len, JANUS_ELIMIT,
                             "trace spans %.0f bins of %g s (at most %d)", nbins, bin_s, max_bins);
        } else {
            t->rate = mem_calloc(MEM_TAG_SIM, (size_t)nbins, sizeof *t->rate);
            if (!t->rate)
                rc = JANUS_ENOMEM;
            else {
                t->n = (int)nbins;
                t->bin_s = bin_s;
                size_t k = 0;
                for (int b = 0; b < t->n; b++) {
                    double mid = (b + 0.5) * bin_s;
                    while (k + 1 < np && pt[2 * (k + 1)] <= mid)
                        k++;
                    t->rate[b] = pt[2 * k] <= mid ? pt[2 * k + 1] : 0;
                }
            }
        }
    }
    mem_free(pt);
    return rc;
}

int workload_load(struct workload_trace *t, const char *path, double bin_s, int max_bins, char *err,
                  size_t err_len) {
    char *buf;
    size_t n;
    int rc = file_read_all(path, (size_t)64 << 20, &buf, &n, err, err_len);
    if (rc) return rc;
    char e2[JANUS_ERR_LEN];
    rc = workload_parse(t, buf, n, bin_s, max_bins, e2, sizeof e2);
    mem_free(buf);
    if (rc) status_errf(err, err_len, rc, "%s: %s", path, e2);
    return rc;
}
