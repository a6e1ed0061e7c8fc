// Explicit-state PRNG (xoshiro256** seeded by splitmix64); the C library rand is banned (STYLE).
// Identical sequences on every platform for the same seed, so sampled batches, random
// scheduling and generated models are reproducible across ranks and runs.
// SPDX-License-Identifier: MIT
#ifndef JANUS_RNG_H
#define JANUS_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

void rng_init(struct rng *r, uint64_t seed);
// Seed from several words (e.g. seed, step, layer): deterministic mix of all of them.
void rng_init3(struct rng *r, uint64_t a, uint64_t b, uint64_t c);
uint64_t rng_u64(struct rng *r);
uint32_t rng_below(struct rng *r, uint32_t n); // uniform in [0, n), n > 0, unbiased
double rng_uniform(struct rng *r);             // [0, 1), 53 bits
float rng_uniform_f(struct rng *r);            // [0, 1), 24 bits
double rng_normal(struct rng *r);              // standard normal (Box-Muller)

#endif // JANUS_RNG_H
