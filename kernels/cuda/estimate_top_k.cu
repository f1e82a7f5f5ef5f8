// estimate_top_k.cu — the top-k of each row of device scores by radix select, one CTA per row
// (est_cuda_top_k's path when k fits shared memory; its CUB sort of whole rows is the fallback).
// Reference (CPU): est_top_k in baselines/estimate.c (the same order: forced indices first, then
// score descending, ties by index ascending).
#include "kernels/cuda/estimate_common.cuh"

#include <stdint.h>

#include "kernels/cuda/cuda_check.h"

namespace est {
namespace {

constexpr int NT = 1024;          // threads per row
constexpr int DIGIT = 11;         // radix select digit width (bits): 2,048 bins, six passes at most
constexpr int BINS = 1 << DIGIT;
constexpr int U = 8;              // elements per thread loaded together in each pass over the row
static_assert(BINS == 2 * NT, "the bin search gives each thread two bins");

// The key of element j of a row: +inf's for the forced indices (est_cuda_top_k's contract).
__device__ inline uint64_t row_key(const double *row, int j, int forced) {
    return order_key(j < forced ? (double)INFINITY : row[j]);
}

// Block-wide inclusive scan of one int per thread (NT threads); `warp_tot` is NT / 32 ints of shared
// memory; *total receives the sum. Starts and ends with a barrier.
__device__ inline int block_scan_incl(int v, int *warp_tot, int *total) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 1; o < 32; o <<= 1) {
        const int t = __shfl_up_sync(0xffffffffu, v, o);
        if (lane >= o) v += t;
    }
    __syncthreads();
    if (lane == 31) warp_tot[warp] = v;
    __syncthreads();
    if (warp == 0) {
        int w = warp_tot[lane]; // NT / 32 == 32 warps
        for (int o = 1; o < 32; o <<= 1) {
            const int t = __shfl_up_sync(0xffffffffu, w, o);
            if (lane >= o) w += t;
        }
        warp_tot[lane] = w;
    }
    __syncthreads();
    const int r = v + (warp > 0 ? warp_tot[warp - 1] : 0);
    *total = warp_tot[31];
    __syncthreads();
    return r;
}

// Row r = blockIdx.x of score (row stride n): out[r · out_stride + i], i < k, = the indices of the
// k largest keys (row_key), largest first, equal keys by index ascending. Shared memory (dynamic):
// cap keys (uint64) and cap indices (int), cap a power of two >= k. Radix select finds the k-th key
// prefix digit by digit (only elements whose higher digits match the prefix are counted, warp-
// aggregated shared atomics); one ordered pass then gathers the elements above the prefix and the
// first (by index) of those equal to it, and a bitonic sort orders them.
__global__ void __launch_bounds__(NT) top_k_rows(const double *score, int n, top_k_rows_args a, int cap, int *out,
                                                  int out_stride) {
    extern __shared__ __align__(16) unsigned char smem[];
    uint64_t *skey = reinterpret_cast<uint64_t *>(smem);
    int *sidx = reinterpret_cast<int *>(skey + cap);
    __shared__ int hist[BINS];
    __shared__ int warp_tot[NT / 32];
    __shared__ int s_bin, s_above;
    const int r = blockIdx.x, k = a.k[r], forced = a.forced[r];
    const double *row = score + (long)r * n;

    // 1. radix select: prefix (the top `done` bits of the k-th key) and need = how many of the
    //    elements whose top `done` bits equal it are selected (those above it are all selected)
    uint64_t prefix = 0;
    int done = 0, need = k, eq_count = n;
    while (done < 64 && need < eq_count) {
        const int width = 64 - done < DIGIT ? 64 - done : DIGIT, shift = 64 - done - width;
        const uint64_t hi_mask = done == 0 ? 0 : ~0ull << (64 - done);
        for (int b = threadIdx.x; b < BINS; b += NT) hist[b] = 0;
        __syncthreads();
        for (int j0 = 0; j0 < n; j0 += U * NT) {
            uint64_t key[U];
#pragma unroll
            for (int u = 0; u < U; u++) { // U loads in flight (a loop of single loads waits on each)
                const int j = j0 + u * NT + threadIdx.x;
                key[u] = j < n ? row_key(row, j, forced) : 0;
            }
#pragma unroll
            for (int u = 0; u < U; u++) {
                const bool in = j0 + u * NT + (int)threadIdx.x < n && (key[u] & hi_mask) == prefix;
                const int digit = in ? (int)(key[u] >> shift & (BINS - 1)) : -1;
                const unsigned active = __ballot_sync(0xffffffffu, in);
                if (in) { // one shared atomic per distinct digit in the warp
                    const unsigned peers = __match_any_sync(active, digit);
                    if ((threadIdx.x & 31) == __ffs(peers) - 1) atomicAdd(&hist[digit], __popc(peers));
                }
            }
        }
        __syncthreads();
        // the bin holding the need-th largest: suffix sums over bins, two bins per thread (high first)
        const int b_hi = BINS - 1 - 2 * threadIdx.x, c_hi = hist[b_hi], c_lo = hist[b_hi - 1];
        int total;
        const int incl = block_scan_incl(c_hi + c_lo, warp_tot, &total); // elements in bins >= b_hi - 1
        const int excl = incl - c_hi - c_lo;                               // elements in bins > b_hi
        if (excl < need && need <= excl + c_hi) s_bin = b_hi, s_above = excl;
        else if (excl + c_hi < need && need <= incl) s_bin = b_hi - 1, s_above = excl + c_hi;
        __syncthreads();
        const int bin = s_bin;
        need -= s_above;
        eq_count = hist[bin];
        prefix |= (uint64_t)bin << shift;
        done += width;
        __syncthreads(); // hist and s_bin are rewritten by the next pass
    }
    const uint64_t hi_mask = done == 0 ? 0 : ~0ull << (64 - done);

    // 2. gather in index order: every element above the prefix, the first `need` equal to it
    int gt_run = 0, eq_run = 0; // counts before this tile
    for (int j00 = 0; j00 < n; j00 += U * NT) {
        uint64_t key[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = j00 + u * NT + threadIdx.x;
            key[u] = j < n ? row_key(row, j, forced) : 0;
        }
#pragma unroll
        for (int u = 0; u < U; u++) { // tiles of NT elements in index order
            const int j = j00 + u * NT + threadIdx.x;
            const uint64_t top = key[u] & hi_mask;
            const bool gt = j < n && top > prefix, eq = j < n && top == prefix;
            int total;
            const int incl = block_scan_incl((gt ? 1 : 0) | (eq ? 1 << 16 : 0), warp_tot, &total);
            const int gt_before = gt_run + (incl & 0xffff) - (gt ? 1 : 0), eq_before = eq_run + (incl >> 16) - (eq ? 1 : 0);
            if (gt || (eq && eq_before < need)) {
                const int pos = gt_before + min(eq_before, need);
                skey[pos] = key[u], sidx[pos] = j;
            }
            gt_run += total & 0xffff, eq_run += total >> 16;
        }
    }
    for (int i = k + threadIdx.x; i < cap; i += NT) skey[i] = 0, sidx[i] = 0x7fffffff; // below every real key
    bitonic_sort_desc(skey, sidx, cap); // starts with a barrier: the gather's writes are visible
    for (int i = threadIdx.x; i < k; i += NT) out[(long)r * out_stride + i] = sidx[i];
}

} // namespace

int top_k_rows_cap(int k_max) {
    static int optin = -1;
    if (optin < 0) {
        int dev = 0;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    }
    const int fixed = (int)(sizeof(int) * (BINS + NT / 32 + 2)) + 1024; // static shared memory + slack
    int cap = 1;
    while (cap < k_max) cap <<= 1;
    if (cap > TOP_K_MAX_CAP || fixed + (int)(sizeof(uint64_t) + sizeof(int)) * cap > optin) return 0;
    return cap;
}

void top_k_rows_launch(const double *score, int n, int rows, const top_k_rows_args &a, int cap, int *out,
                       int out_stride) {
    const int smem = (int)(sizeof(uint64_t) + sizeof(int)) * cap;
    static int smem_set = 0; // the opt-in is per kernel: raise it once to the largest size asked
    if (smem > smem_set) {
        CUDA_CHECK(cudaFuncSetAttribute(top_k_rows, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
        smem_set = smem;
    }
    top_k_rows<<<rows, NT, smem>>>(score, n, a, cap, out, out_stride);
    CUDA_LAUNCH_CHECK("top_k_rows");
}

} // namespace est
