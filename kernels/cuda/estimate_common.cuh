// estimate_common.cuh — what the GPU mask-estimation files share (internal to kernels/cuda/estimate*.cu;
// the public API is estimate.h): the workspace, its grow-only device buffers, the cuBLAS product, the
// segmented sort, block-wide float64 reductions and the block-mean kernels. Definitions in estimate.cu.
#ifndef DAM_KERNELS_CUDA_ESTIMATE_COMMON_CUH
#define DAM_KERNELS_CUDA_ESTIMATE_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>

#include "kernels/cuda/estimate.h"

namespace est {

enum { THREADS = 256, ROW_THREADS = 1024 /* row_stats, probe_stats: one CTA per long row */,
       BLOCK = 64 /* MaskPlan block */, XA_CHUNK = 1024 /* super-token rows per GEMM */,
       MAP_QB = 8 /* query blocks per CTA of block_map (one warp each) */ };

// A device buffer that only grows (dam_cuda_malloc, so the harness's peak counts it).
struct dbuf {
    void *p;
    size_t bytes;
};

// b->p with at least `bytes` bytes (the old contents are lost when it grows); `what` names it in
// the out-of-memory message.
void *grow(dbuf *b, size_t bytes, const char *what);

// CTAs of THREADS threads that cover `threads` threads.
inline int blocks_for(long threads) { return (int)((threads + THREADS - 1) / THREADS); }

// Block-wide reductions of one double per thread (blockDim.x == NT, a multiple of 32); a fixed tree,
// so the result does not depend on timing. Every thread gets the result. `red` is NT / 32 doubles.
template <int NT = THREADS>
__device__ inline double block_max(double v, double *red) {
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    v = red[0];
    for (int i = 1; i < NT / 32; i++) v = fmax(v, red[i]);
    return v;
}

template <int NT = THREADS>
__device__ inline double block_sum(double v, double *red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    v = red[0];
    for (int i = 1; i < NT / 32; i++) v += red[i];
    return v;
}

// The maximum of x[0 .. len) (fp32, any alignment) over the NT threads of the CTA, each thread its
// share x[t], x[t + NT], ...; eight loads in flight per thread (a plain loop keeps one: its latency).
// -inf for an empty share. (row_stats, probe_stats: the maximum is taken in fp32 and scaled once, the
// same value as the maximum of the scaled logits since scaling by scale > 0 is monotone.)
template <int NT>
__device__ inline float strided_max(const float *x, int len) {
    float m = -INFINITY;
    for (int j0 = threadIdx.x; j0 < len; j0 += 8 * NT) {
        float v[8];
#pragma unroll
        for (int u = 0; u < 8; u++) v[u] = j0 + u * NT < len ? x[j0 + u * NT] : -INFINITY;
#pragma unroll
        for (int u = 0; u < 8; u++) m = fmaxf(m, v[u]);
    }
    return m;
}

// A double's bits as an unsigned key in the same order, -0.0 as +0.0 (as the CPU's comparisons see
// them: est_top_k, est_order_desc), and back (order_value(order_key(x)) == x, -0.0 coming back as
// +0.0). NaN is not ordered by the CPU's comparisons; here +NaN sorts above +inf.
__device__ inline unsigned long long order_key(double x) {
    const unsigned long long u = (unsigned long long)__double_as_longlong(x == 0.0 ? 0.0 : x), sign = 1ull << 63;
    return u & sign ? ~u : u | sign;
}

__device__ inline double order_value(unsigned long long o) {
    return __longlong_as_double((long long)(o >> 63 ? o ^ (1ull << 63) : ~o));
}

// Bitonic sort of key[0 .. p) with val[0 .. p) (p a power of two; the CTA's shared memory or its own
// part of device memory) into the order "larger key first, equal keys by the smaller val" — a total
// order on distinct vals, so the result is that of a stable descending sort of the keys by val.
// Pad unused entries with a key below every real one. Every thread of the CTA calls it; it starts
// and ends with a barrier.
template <typename K, typename V>
__device__ void bitonic_sort_desc(K *key, V *val, int p) {
    for (int k = 2; k <= p; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            __syncthreads();
            for (int i = threadIdx.x; i < p / 2; i += blockDim.x) {
                const int a = 2 * i - (i & (j - 1)), b = a + j; // the pairs (a, a + j) with bit j of a clear
                const K ka = key[a], kb = key[b];
                const V va = val[a], vb = val[b];
                const bool a_first = ka > kb || (ka == kb && va < vb), up = (a & k) == 0; // up: this run descends
                if (a_first != up) key[a] = kb, key[b] = ka, val[a] = vb, val[b] = va;
            }
        }
    __syncthreads();
}

// Means of groups of `group` rows, one thread per (group g, column c), grid.y = head y:
// out[y][g][c] = mean of x[y · x_head + (r0 + i) · stride + c] over the rows i of group g (of n_rows),
// added in ascending order in float64 (est_block_means' order).
__global__ void row_means(const __nv_bfloat16 *x, long x_head, long stride, int r0, int n_rows, int d, int group,
                          double *out);

// The block map, grid ((nb + MAP_QB - 1) / MAP_QB, heads) x 32 · MAP_QB threads: one warp per query
// block qb, grid.y = head y (qbar: [y][nb][d] query block means;
// kbar: [kv][nb][d] key block means, head y reads kv = (y0 + y) / group; keys, vals: [y][nb (nb + 1) / 2]):
// A[qb][kb] = softmax over kb <= qb of qbar_qb · kbar_kb · scale (dot products
// in float64, c ascending as on the CPU, each term possibly fused into an FMA), written packed for the sort: keys[qb (qb + 1) / 2 + kb] = A,
// vals = qb · nb + kb (the cell's index in the nb x nb map). The key block means are staged in shared
// memory, 32 key blocks x 64 columns at a time, for the MAP_QB query blocks of a CTA; the softmax
// maximum and denominator are warp reductions.
__global__ void block_map(const double *qbar, const double *kbar, int y0, int group, int nb, int d, double scale,
                          double *keys, int *vals);

// Row statistics of the causal softmax of the probe rows, one CTA of ROW_THREADS threads per row r,
// grid.y = head y with w = w_head[y] rows (device array; CTAs with r >= w do nothing): row r of head
// y holds fp32 logits z[y · z_head + r · ldz + j], j < n - w + 1 + r (causal: the row is position
// n - w + r), scaled by `scale` in float64; mx[y · gridDim.x + r] = their maximum, inv_sum[...] = 1 /
// the sum of e^(x - max) (tree reduction; the reciprocal, so that the per-logit softmax terms are a
// multiplication, not a float64 division: the terms change by at most an ulp).
__global__ void row_stats(const float *z, long ldz, long z_head, int n, const int *w_head, double scale, double *mx,
                          double *inv_sum);

} // namespace est

// The workspace (opaque in estimate.h): device scratch that only grows, and the cuBLAS handle.
struct est_cuda_ws {
    cublasHandle_t blas;
    bool have_blas;
    est::dbuf z;                          // fp32 logits: [heads][w_max][n] (vertical-slash), [heads][w_max][n] (dam_online), [heads][R][ldz] (xattention)
    est::dbuf mx, sum;                    // double per probe row
    est::dbuf probe_w;                    // int [n_heads]: probe rows per head (vertical-slash)
    est::dbuf col;                        // double [2][n_heads][n]: column sums, then diagonal sums
    est::dbuf keys, keys_out, vals, vals_out, offsets, temp; // segmented sort
    est::dbuf keys_tmp, pos, pos_tmp, seg, seg_tmp;          // segmented_sort_long
    est::dbuf forced;                     // int [n_heads] (top-k's forced counts; FlexPrefill's selected heads)
    est::dbuf qr, kr;                     // bf16 strided copies
    est::dbuf score;                      // double [heads][query blocks of a row chunk][nb] (xattention)
    est::dbuf part;                       // double [CTAs][nb] partial block sums
    est::dbuf means, kmeans;              // double row means (queries, keys)
    est::dbuf cum;                        // double inclusive scan
    est::dbuf gammas, counts, pools;      // FlexPrefill step 2
    est::dbuf sel, gate_base, gate_res, heads, inc, patbits, kept, hits; // dam_online (hits: on-cell bits)
    est::dbuf bits;                       // uint64 [heads][nb][words]
    void *host;                           // page-locked host buffer (est_cuda_host_buffer), host_bytes bytes
    size_t host_bytes;
    cudaEvent_t phase_ev[2];              // est_cuda_last_phases: the first and last queued points
    bool have_phase_ev;
    double phase_t0, phase_t1;            // host times (ms): entry, end of queueing
    est_cuda_phases phases;               // the last recorded call's
    int map_n;                            // > 0: the last estimation call was est_cuda_dam_online for one head of
                                          // this many tokens, and its map is in keys (est_cuda_dam_online_map)
};

namespace est {

// Row-major C[m][n] (fp32, ld ldc) = A[m][kd] (bf16, ld lda) · B[n][kd]^T (bf16, ld ldb) through cuBLAS
// (fp32 accumulation); `batch` > 1 repeats it with A, B, C advanced by stride_a, stride_b, stride_c
// elements per product (stride_b 0: every product reads the same B).
void gemm_nt(est_cuda_ws *ws, float *C, long ldc, const void *A, long lda, const void *B, long ldb, int m, int n, int kd,
             int batch = 1, long stride_a = 0, long stride_b = 0, long stride_c = 0);

// Stable descending sort of `count` (key, value) pairs of ws->keys / ws->vals in `segments` segments
// (ws->offsets[s] .. ws->offsets[s + 1]); results in ws->keys_out / ws->vals_out.
void segmented_sort(est_cuda_ws *ws, long count, int segments);

// Per-row top-k by radix select (estimate_top_k.cu; est_cuda_top_k's path): one CTA per row of
// score (device, [rows][n] doubles), out[r · out_stride + i], i < k[r], = the indices of the k[r]
// largest scores (indices below forced[r] count as +inf), largest first, ties by index ascending
// (est_top_k's order); entries i >= k[r] of out are not written (est_cuda_top_k copies k_max a row back:
// the host's entries past k[r] are then undefined, as estimate.h allows). rows <= TOP_K_MAX_ROWS; cap from
// top_k_rows_cap. Launched on the default stream, no synchronisation.
enum { TOP_K_MAX_ROWS = 256, TOP_K_MAX_CAP = 8192 };
struct top_k_rows_args {
    int k[TOP_K_MAX_ROWS], forced[TOP_K_MAX_ROWS];
};
// The shared-memory sort size for k_max (the power of two >= k_max), or 0 when it exceeds
// TOP_K_MAX_CAP or the device's opt-in shared memory (then est_cuda_top_k sorts whole rows with CUB).
int top_k_rows_cap(int k_max);
void top_k_rows_launch(const double *score, int n, int rows, const top_k_rows_args &a, int cap, int *out, int out_stride);

// The phase marks of est_cuda_last_phases: phases_begin at a call's entry (host time, event 0 on the
// default stream), phases_queued after its last kernel is queued (host time, event 1), phases_end
// once its results are on the host (fills ws->phases; the events have completed by then).
void phases_begin(est_cuda_ws *ws);
void phases_queued(est_cuda_ws *ws);
void phases_end(est_cuda_ws *ws);

// Scratch budget (bytes) of one chunk of heads processed together by the estimation functions:
// 512 MiB, or the environment variable DAM_CUDA_EST_CHUNK_BYTES (tests: 1 = one head per chunk);
// a value that is not a number >= 1 exits with 2 naming it.
double chunk_bytes(void);

// Dies (exit 3, naming fn) unless 1 <= n, heads, d and n_heads % n_kv_heads == 0.
void check_shape(const char *fn, int n, int n_heads, int n_kv_heads, int d);

} // namespace est

#endif
