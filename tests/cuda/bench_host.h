/* bench_host.h — what the GPU benchmarks written in C (bench_estimate.c, bench_plan_build.c) share:
 * the median of timed repeats, the --repeats range check and the skip without a device. Header-only
 * (not a program itself). */
#ifndef DAM_TESTS_CUDA_BENCH_HOST_H
#define DAM_TESTS_CUDA_BENCH_HOST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime_api.h>

#include "kernels/cuda/cuda_mem.h"

static int bench_cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0 .. n) (n >= 1; sorts v in place). */
static inline double bench_median_d(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Whether --repeats is in 1 .. 16 (the benchmarks' arrays); else prints "<prog>: --repeats must be in
 * 1 .. 16" and returns false (the caller exits with 2). */
static inline bool bench_repeats_ok(const char *prog, int reps) {
    if (reps >= 1 && reps <= 16) return true;
    fprintf(stderr, "%s: --repeats must be in 1 .. 16\n", prog);
    return false;
}

/* Whether a CUDA device is there (then checked as dam_cuda_require_device does); without one prints
 * "skip: <prog>: no CUDA device" and returns false (the caller exits with 0). */
static inline bool bench_device_ok(const char *prog) {
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        printf("skip: %s: no CUDA device\n", prog);
        return false;
    }
    dam_cuda_require_device();
    return true;
}

#endif
