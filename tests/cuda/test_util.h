// test_util.h — what the CUDA tests share on the host: a seeded xorshift64* stream (each test sets
// its own seed in TEST_RNG_SEED before including this header), uniform draws, and bf16 <-> float
// conversion with round-to-nearest-even (the reference works on the same bf16 values the GPU
// reads). Header-only (included by tests/cuda/test_*.cu; not a program itself).
#ifndef DAM_TESTS_CUDA_TEST_UTIL_H
#define DAM_TESTS_CUDA_TEST_UTIL_H

#include <stdint.h>
#include <string.h>

#ifndef TEST_RNG_SEED
#define TEST_RNG_SEED 0x9E3779B97F4A7C15ull
#endif

static uint64_t rng = TEST_RNG_SEED;
static uint64_t next_u64(void) {  // xorshift64*
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static double urand(void) { return (double)(next_u64() >> 11) / (double)(1ull << 53) * 2.0 - 1.0; }  // [-1, 1)
static int irand(int n) { return n <= 0 ? 0 : (int)((next_u64() >> 33) % (uint64_t)n); }

static uint16_t f2bf(float f) {  // round to nearest even; NaN stays NaN
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static float bf2f(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#endif
