// bench_util.h — what the CUDA benchmarks share: random bf16 inputs generated on the device and the
// median of timed repeats. Header-only (included by tests/cuda/bench_*.cu; not a program itself).
#ifndef DAM_TESTS_CUDA_BENCH_UTIL_H
#define DAM_TESTS_CUDA_BENCH_UTIL_H

#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>

// x[0 .. n) = bf16 of uniform values in [-1, 1), a SplitMix64 hash of (index, seed), round to nearest even.
__global__ void fill_bf16(uint16_t *x, size_t n, uint64_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        const float f = (float)((double)(z >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
        uint32_t u = __float_as_uint(f);
        u += 0x7fffu + ((u >> 16) & 1u);
        x[i] = (uint16_t)(u >> 16);
    }
}

static int bench_cmp_f(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Median of ms[0 .. n) (sorts ms in place).
static float bench_median(float *ms, int n) {
    qsort(ms, n, sizeof(float), bench_cmp_f);
    return n % 2 ? ms[n / 2] : 0.5f * (ms[n / 2 - 1] + ms[n / 2]);
}

#endif
