/* xattention_fixed.h — XAttention's fixed point for its cumulative threshold (baselines/xattention.c
 * step 4 on the CPU, kernels/cuda/estimate_xattention.cu on the GPU): a block score s >= 0 becomes the
 * unsigned integer trunc(s · 2^56), so that every sum of scores is exact whatever the order of its
 * terms: the CPU adds in sequence, the GPU in parallel, and both keep the same blocks. A score is at
 * most the softmax mass of a query block's B / S <= 64 rows (64 plus rounding), so it and a row's total
 * stay below 2^63; the resolution, 2^-56 ~ 1.4e-17, is far below a float64 score's own rounding at the
 * scale of a row total. One definition for both compilers (C and CUDA C++). */
#ifndef DAM_BASELINES_XATTENTION_FIXED_H
#define DAM_BASELINES_XATTENTION_FIXED_H

#include <stdint.h>

#ifdef __CUDACC__
#define XA_FIXED_HD __host__ __device__
#else
#define XA_FIXED_HD
#endif

/* trunc(s · 2^56) for a score s >= 0 (the multiplication by a power of two is exact). */
static inline XA_FIXED_HD uint64_t est_xattention_fixed(double s) { return (uint64_t)(s * 0x1p56); }

#endif
