/* rng.h — a small, fast, seedable PRNG (SplitMix64, Steele et al. 2014) for workload
 * generation. Every random choice of a workload comes from a generator seeded by
 * rng_seed(run seed, stream id), so examples are rebuilt bit for bit from the seed. */
#ifndef DAM_CORE_RNG_H
#define DAM_CORE_RNG_H

#include <stdint.h>

/* Generator state: one 64-bit counter (SplitMix64 advances it by a fixed odd constant). */
typedef struct {
    uint64_t s;
} rng_t;

/* Next 64 random bits. */
static inline uint64_t rng_next(rng_t *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A generator for (seed, stream): distinct streams give independent sequences. */
static inline rng_t rng_seed(uint64_t seed, uint64_t stream) {
    rng_t r = {seed ^ (stream * 0xD1B54A32D192ED03ull)};
    rng_next(&r);
    return r;
}

/* Uniform integer in [lo, hi] (inclusive), without modulo bias. */
static inline int64_t rng_range(rng_t *r, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)(hi - lo) + 1, limit = UINT64_MAX - UINT64_MAX % span, x;
    do x = rng_next(r);
    while (x >= limit);
    return lo + (int64_t)(x % span);
}

#endif
