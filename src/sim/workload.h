// Request workloads for the simulator (SPEC §8), all deterministic in their seed:
// ShareGPT-like lengths, bursty (gamma) arrivals, a 24-hour diurnal trace and trace files.
// A trace is a rate per bin of fixed width (output tokens/s).
// Generators allocate only the trace; files are bounded and validated on load.
// SPDX-License-Identifier: MIT
//  - ShareGPT-like lengths: log-normal input and output token counts (means 161 and 338,
//    the ShareGPT averages reported in the vLLM paper, sigma 1.0), and the token-weighted
//    mean decode context they imply (the planner's default --context);
//  - bursty arrivals: request inter-arrival times drawn from a gamma distribution (shape
//    < 1 = burstier than Poisson), turned into a decode-token rate per time bin;
//  - a 24-hour diurnal trace: a daily swing plus bursts, scaled so that its peak is
//    `peak_to_mean` times its mean (7.5 by default, as the publication's production trace);
//  - a trace file: lines "<time_s> <rate>" (ascending time, rate in output tokens/s, the
//    rate holds until the next line; '#' comments), resampled to the bin width.
#ifndef JANUS_SIM_WORKLOAD_H
#define JANUS_SIM_WORKLOAD_H

#include "base/base.h"
#include "base/rng.h"

#include <stddef.h>

struct workload_lengths {
    double in_mean, out_mean;   // tokens
    double in_sigma, out_sigma; // log-normal sigma
};
void workload_sharegpt(struct workload_lengths *l);
// One request's (input, output) lengths, each >= 1.
void workload_sample_lengths(const struct workload_lengths *l, struct rng *r, int *in, int *out);
// Token-weighted mean context during decode: E[in] + E[out^2] / (2 E[out]).
double workload_mean_context(const struct workload_lengths *l);

struct workload_trace {
    int n;        // bins
    double bin_s; // bin width, seconds
    double *rate; // (n) output tokens/s in each bin
};
void workload_trace_free(struct workload_trace *t);
double workload_trace_mean(const struct workload_trace *t);
double workload_trace_peak(const struct workload_trace *t);

struct workload_diurnal_params {
    double hours;        // length (24)
    double bin_s;        // bin width (60 s)
    double mean_rate;    // output tokens/s averaged over the trace
    double peak_to_mean; // 7.5
    int bursts_per_day;  // 8
    uint64_t seed;
};
void workload_diurnal_default(struct workload_diurnal_params *p);
JANUS_WUR int workload_diurnal(struct workload_trace *t, const struct workload_diurnal_params *p);

struct workload_bursty_params {
    double hours, bin_s;
    double mean_rate;   // output tokens/s on average
    double gamma_shape; // inter-arrival gamma shape (0.25: CV^2 = 4)
    uint64_t seed;
};
void workload_bursty_default(struct workload_bursty_params *p);
JANUS_WUR int workload_bursty(struct workload_trace *t, const struct workload_bursty_params *p,
                              const struct workload_lengths *l);

// Parses a trace file's text (see above) into bins of bin_s covering its last time stamp
// plus one bin (at most `max_bins`). JANUS_EFORMAT with "line N: reason" in err.
JANUS_WUR int workload_parse(struct workload_trace *t, const char *text, size_t len, double bin_s,
                             int max_bins, char *err, size_t err_len);
JANUS_WUR int workload_load(struct workload_trace *t, const char *path, double bin_s, int max_bins,
                            char *err, size_t err_len);

// Gamma(shape, 1) variate (Marsaglia-Tsang; shape < 1 by boosting).
double workload_gamma(struct rng *r, double shape);

#endif // JANUS_SIM_WORKLOAD_H
