// estimate.cu — see estimate.h: the shared parts (estimate_common.cuh), MInference's probe-row sums
// and top-k, block means and FlexPrefill's steps; XAttention and dam_online have their own files
// (estimate_xattention.cu, estimate_dam_online.cu). Reference (CPU) definitions: baselines/estimate.c
// (est_last_rows, est_column_sums, est_diagonal_sums, est_top_k, est_block_means),
// baselines/minference.c and baselines/flexprefill.c (cover, steps 2-5).
#include "kernels/cuda/estimate.h"
#include "kernels/cuda/estimate_common.cuh"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <thrust/iterator/counting_iterator.h>

#include "core/error.h"
#include "core/timer.h"
#include "kernels/cuda/cublas_check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"
extern "C" {
#include "core/mem.h"
}


using namespace est;

void *est::grow(dbuf *b, size_t bytes, const char *what) {
    if (bytes > b->bytes) {
        dam_cuda_free(b->p);
        b->p = dam_cuda_malloc(bytes, what);
        b->bytes = bytes;
    }
    return b->p;
}

__global__ void est::row_means(const __nv_bfloat16 *x, long x_head, long stride, int r0, int n_rows, int d, int group,
                               double *out) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    const int groups = (n_rows + group - 1) / group;
    if (t >= (long)groups * d) return;
    x += blockIdx.y * x_head;
    out += (long)blockIdx.y * groups * d;
    const int g = (int)(t / d), c = (int)(t % d), i0 = g * group, i1 = min(i0 + group, n_rows);
    double a = 0;
    for (int i = i0; i < i1; i++) a += (double)__bfloat162float(x[(long)(r0 + i) * stride + c]);
    out[t] = a / (double)(i1 - i0);
}

__global__ void est::block_map(const double *qbar, const double *kbar, int y0, int group, int nb, int d, double scale,
                               double *keys, int *vals) {
    __shared__ double ks[32][65]; // a slice of 32 key blocks x 64 columns (+1: no bank conflicts)
    __shared__ double qs[MAP_QB][64];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, y = blockIdx.y;
    const int qb0 = blockIdx.x * MAP_QB, qb = qb0 + warp, kb_end = min(qb0 + MAP_QB, nb);
    const bool valid = qb < nb;
    const long cells = (long)nb * (nb + 1) / 2, base = (long)qb * (qb + 1) / 2 + (long)y * cells;
    qbar += (long)y * nb * d;
    kbar += (long)((y0 + y) / group) * nb * d;
    double m = -INFINITY;
    for (int kb0 = 0; kb0 < kb_end; kb0 += 32) {
        double z = 0;
        for (int c0 = 0; c0 < d; c0 += 64) {
            const int cw = min(64, d - c0);
            __syncthreads();
            for (int e = threadIdx.x; e < 32 * 64; e += blockDim.x) {
                const int i = e / 64, c = e % 64;
                ks[i][c] = kb0 + i < nb && c < cw ? kbar[(long)(kb0 + i) * d + c0 + c] : 0.0;
            }
            for (int e = threadIdx.x; e < MAP_QB * 64; e += blockDim.x) {
                const int i = e / 64, c = e % 64;
                qs[i][c] = qb0 + i < nb && c < cw ? qbar[(long)(qb0 + i) * d + c0 + c] : 0.0;
            }
            __syncthreads();
            for (int c = 0; c < cw; c++) z += qs[warp][c] * ks[lane][c];
        }
        const int kb = kb0 + lane;
        if (valid && kb <= qb) {
            keys[base + kb] = z * scale;
            m = fmax(m, z * scale);
        }
    }
    if (!valid) return; // whole warps: no block-wide barrier follows
    for (int o = 16; o > 0; o >>= 1) m = fmax(m, __shfl_xor_sync(0xffffffffu, m, o));
    double s = 0;
    for (int kb = lane; kb <= qb; kb += 32) s += keys[base + kb] = exp(keys[base + kb] - m);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    for (int kb = lane; kb <= qb; kb += 32) {
        keys[base + kb] /= s;
        vals[base + kb] = qb * nb + kb;
    }
}


__global__ void __launch_bounds__(ROW_THREADS) est::row_stats(const float *z, long ldz, long z_head, int n,
                                                                const int *w_head, double scale, double *mx,
                                                                double *inv_sum) {
    __shared__ double red[ROW_THREADS / 32];
    const int r = blockIdx.x, w = w_head[blockIdx.y], len = n - w + 1 + r;
    if (r >= w) return; // the whole CTA
    const float *zr = z + blockIdx.y * z_head + (long)r * ldz;
    const double m = block_max<ROW_THREADS>((double)strided_max<ROW_THREADS>(zr, len) * scale, red);
    // each thread's terms j, j + ROW_THREADS, ... added in that order
    double s = 0;
    for (int j0 = threadIdx.x; j0 < len; j0 += 4 * ROW_THREADS) {
        double e[4];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int j = j0 + u * ROW_THREADS;
            e[u] = j < len ? exp((double)zr[j] * scale - m) : 0.0;
        }
#pragma unroll
        for (int u = 0; u < 4; u++) s += e[u];
    }
    s = block_sum<ROW_THREADS>(s, red);
    if (threadIdx.x == 0) mx[(long)blockIdx.y * gridDim.x + r] = m, inv_sum[(long)blockIdx.y * gridDim.x + r] = 1.0 / s;
}

namespace {

// Per head y = blockIdx.y (w = w_head[y] probe rows, logits z[y · z_head + r · n + j], statistics
// mx[y · w_max + r], inv_sum[...]): threads 0 .. n-1: col[y][j] = sum over r of P[r][j]; threads n .. 2n-1:
// diag[y][o] = sum over r of P[r][i_r - o], i_r = n - w + r; P[r][j] = e^(s[r][j] · scale - mx[r]) ·
// inv_sum[r] for j <= i_r. Terms are added for r ascending, as est_column_sums / est_diagonal_sums add
// them; four are loaded and computed before they are added.
__global__ void vertical_slash_sums(const float *z, long z_head, int n, const int *w_head, int w_max, double scale,
                                    const double *mx_all, const double *inv_sum_all, double *col, double *diag) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= 2L * n) return;
    const int y = blockIdx.y, w = w_head[y], i0 = n - w;
    const float *s = z + y * z_head;
    const double *mx = mx_all + (long)y * w_max, *inv_sum = inv_sum_all + (long)y * w_max;
    const bool is_col = t < n;
    const int x = is_col ? (int)t : (int)(t - n); // column j or diagonal o
    // row r's term: column x, or column i0 + r - x of the diagonal; rows r >= r0 have it (causal)
    const int r0 = x > i0 ? x - i0 : 0, c0 = is_col ? x : i0 - x, dc = is_col ? 0 : 1;
    double acc = 0;
    int r = r0;
    for (; r + 4 <= w; r += 4) {
        double e[4];
#pragma unroll
        for (int u = 0; u < 4; u++)
            e[u] = exp((double)s[(long)(r + u) * n + c0 + (r + u) * dc] * scale - mx[r + u]) * inv_sum[r + u];
#pragma unroll
        for (int u = 0; u < 4; u++) acc += e[u];
    }
    for (; r < w; r++) acc += exp((double)s[(long)r * n + c0 + r * dc] * scale - mx[r]) * inv_sum[r];
    (is_col ? col : diag)[(long)y * n + x] = acc;
}

// keys[h][j] = j < forced[h] ? +inf : score[h][j]; vals[h][j] = j.
__global__ void top_k_keys(const double *score, int n, int n_heads, const int *forced, double *keys, int *vals) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long)n_heads * n) return;
    const int h = (int)(t / n), j = (int)(t % n);
    keys[t] = j < forced[h] ? INFINITY : score[t];
    vals[t] = j;
}

// FlexPrefill step 2's inputs: row 2h of x is col[h] / div, row 2h + 1 is diag[h] / div (the CPU's
// v and s of head h); vals = the index j.
__global__ void cover_keys(const double *col, const double *diag, int n, int n_heads, double div, double *x, int *vals) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= 2L * n_heads * n) return;
    const long r = t / n, j = t % n;
    x[t] = (r % 2 ? diag : col)[r / 2 * n + j] / div;
    vals[t] = (int)j;
}

// Block-wide maximum of one int per thread (blockDim.x == THREADS); the result is in thread 0.
// `red` is THREADS / 32 ints.
__device__ int block_max_int(int v, int *red) {
    v = __reduce_max_sync(0xffffffffu, v);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x < 32) v = __reduce_max_sync(0xffffffffu, threadIdx.x < THREADS / 32 ? red[threadIdx.x] : 0);
    return v;
}

// Entries per thread of cover_bounds.
enum { COVER_ITEMS = 8 };

// The covers from a parallel scan, exactly (flexprefill.c cover()): x = a row of n entries >= 0
// sorted descending, seq_i its sequential inclusive sums (the CPU's: x_0 + x_1 + ... + x_i, left to
// right, float64), S_i the exact sums, tree_i = cum[r][i], the same sums from CUB's segmented scan
// (some binary tree of additions over x_0 .. x_i). cover = 1 + #{i : seq_i <= g}; seq is
// nondecreasing (adding x >= 0 never lowers a rounded sum), so cover = c + 1 with c the first i with
// seq_i > g (n if none).
// Bound: in any binary tree over the i + 1 terms, each term passes through <= i roundings of
// relative error <= u = 2^-53 (exact when the result is subnormal), so with terms >= 0
// |tree_i - S_i| <= gamma_i S_i and |seq_i - S_i| <= gamma_i S_i, gamma_i = i u / (1 - i u)
// (Higham, Accuracy and Stability, Lemma 3.1 and section 4.2). Hence, with S_i <= tree_i / (1 - gamma_i)
// and i < 2^31, |seq_i - tree_i| <= 2 gamma_i / (1 - gamma_i) tree_i < 2.00001 i u tree_i. We take
// delta_i = 3 (i + 1) u tree_i + 2^-1020: the margin over that bound (more than 2 u tree_i) covers
// the rounding of tree_i +- delta_i (<= u (tree_i + delta_i)) and of delta_i itself (an FMA only
// makes it more accurate), 2^-1020 an underflow of the product. So fl(tree_i + delta_i) <= g proves seq_i <= g ("surely under") and
// fl(tree_i - delta_i) > g proves seq_i > g ("surely over"); a NaN or inf sum is neither.
// This kernel (grid: x over entries, y = row r, head r / 2 with g[r / 2]) stores
// bound[r][0] = n - (the first i not surely under) and bound[r][1] = n - (the first i surely over),
// each 0 if there is none (bound zeroed by the caller; atomicMax, one per CTA). Surely over implies
// not surely under, so the first of the two comes first; when they are equal, c is that index.
__global__ void cover_bounds(const double *cum, int n, const double *g, int *bound) {
    __shared__ int red[THREADS / 32];
    const int r = blockIdx.y;
    const double *t = cum + (long)r * n, lim = g[r / 2];
    int not_under = 0, over = 0;
    const long i0 = (long)blockIdx.x * THREADS * COVER_ITEMS + threadIdx.x;
    for (int k = 0; k < COVER_ITEMS; k++) {
        const long i = i0 + (long)k * THREADS;
        if (i >= n) break;
        const double delta = 3.0 * (double)(i + 1) * 0x1p-53 * t[i] + 0x1p-1020;
        if (!(t[i] + delta <= lim)) not_under = max(not_under, (int)(n - i));
        if (t[i] - delta > lim) over = max(over, (int)(n - i));
    }
    not_under = block_max_int(not_under, red);
    __syncthreads();
    over = block_max_int(over, red);
    if (threadIdx.x == 0 && not_under) atomicMax(bound + 2 * r, not_under);
    if (threadIdx.x == 0 && over) atomicMax(bound + 2 * r + 1, over);
}

// Tile of the exact walk (doubles in shared memory).
enum { WALK_TILE = 2048 };

// count[r] = cover of row r (one CTA per row): c + 1 when cover_bounds decided c (its two indices
// are equal); otherwise (a sum within the rounding bound of g: rare, e.g. g met exactly or a row
// whose total is ~g) the exact sequential walk of flexprefill.c cover(): thread 0 adds the sorted
// entries in order, tiles loaded into shared memory by the CTA, up to the first surely-over index
// (seq is > g there). Stopping at the first sum that is not <= g is exact: the sums never decrease
// (entries >= 0), and a NaN sum stays NaN, which cover() does not count either.
__global__ void cover_walk(const double *sorted, int n, const double *g, const int *bound, int *count) {
    __shared__ double tile[WALK_TILE];
    __shared__ int done;
    const int r = blockIdx.x, under = n - bound[2 * r], over = n - bound[2 * r + 1];
    if (under == over) {
        if (threadIdx.x == 0) count[r] = over + 1;
        return;
    }
    const double *x = sorted + (long)r * n, lim = g[r / 2];
    double cum = 0; // thread 0's
    if (threadIdx.x == 0) done = 0;
    for (int j0 = 0; j0 < over; j0 += WALK_TILE) {
        const int m = min(WALK_TILE, over - j0);
        __syncthreads(); // the previous tile is consumed; `done` is visible
        for (int k = threadIdx.x; k < m; k += THREADS) tile[k] = x[j0 + k];
        __syncthreads();
        if (threadIdx.x == 0) {
            int k = 0;
            while (k < m && (cum += tile[k]) <= lim) k++;
            if (k < m) count[r] = j0 + k + 1, done = 1;
        }
        __syncthreads();
        if (done) return;
    }
    if (threadIdx.x == 0) count[r] = over + 1;
}

// pool[r][b] = sum of x[r][j] over j in 64-block b, j ascending (flexprefill.c V and SL); pool [rows][nb].
__global__ void block_pool(const double *x, int n, int rows, int nb, double *pool) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long)rows * nb) return;
    const int r = (int)(t / nb), b = (int)(t % nb), j1 = min(n, (b + 1) * BLOCK);
    double a = 0;
    for (int j = b * BLOCK; j < j1; j++) a += x[(long)r * n + j];
    pool[t] = a;
}

// Grid (x over cells, y = head y of the chunk): m[y] = max over i < cells with cum[y][i] > lim[y] of
// cells - i, i.e. the first such i is cells - m[y] (cells if none); m zeroed by the caller.
__global__ void first_above(const double *cum, long cells, const double *lim, int *m) {
    __shared__ int red[THREADS / 32];
    const int y = blockIdx.y;
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    int v = i < cells && cum[y * cells + i] > lim[y] ? (int)(cells - i) : 0;
    v = block_max_int(v, red);
    if (threadIdx.x == 0 && v) atomicMax(m + y, v);
}

// Grid (x over cells, y = head y of the chunk, query head head[y]): sets the bits of the cells
// vals[y][0 .. cells - m[y]) and of cell (0, 0) in bits + head[y] · head_words ([nb][words] each).
__global__ void mark_cells(const int *vals, long cells, const int *m, const int *head, int nb, int words,
                           long head_words, unsigned long long *bits) {
    const int y = blockIdx.y;
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= cells) return;
    unsigned long long *b = bits + head[y] * head_words;
    if (i == 0) atomicOr(b, 1ull);
    if (i >= cells - m[y]) return;
    const int c = vals[y * cells + i], qb = c / nb, kb = c % nb;
    atomicOr(b + (long)qb * words + (kb >> 6), 1ull << (kb & 63));
}

// Keys of CUB's segmented scans: positions i, j are in the same segment iff i / len == j / len.
struct same_segment {
    long len;
    __host__ __device__ bool operator()(int i, int j) const { return i / len == j / len; }
};

} // namespace

static cublasHandle_t blas_of(est_cuda_ws *ws) {
    if (!ws->have_blas) {
        dam_cuda_pool_trim(); // (cuBLAS allocates its own memory, which the pool's free blocks cannot serve)
        CUBLAS_CHECK(cublasCreate(&ws->blas));
        CUBLAS_CHECK(cublasSetMathMode(ws->blas, CUBLAS_DEFAULT_MATH)); // fp32 accumulation, no TF32
        ws->have_blas = true;
    }
    return ws->blas;
}

void est::gemm_nt(est_cuda_ws *ws, float *C, long ldc, const void *A, long lda, const void *B, long ldb, int m, int n,
                  int kd, int batch, long stride_a, long stride_b, long stride_c) {
    // the column-major product C^T = B · A^T
    const float one = 1.0f, zero = 0.0f;
    if (batch == 1)
        CUBLAS_CHECK(cublasGemmEx(blas_of(ws), CUBLAS_OP_T, CUBLAS_OP_N, n, m, kd, &one, B, CUDA_R_16BF, (int)ldb, A,
                                  CUDA_R_16BF, (int)lda, &zero, C, CUDA_R_32F, (int)ldc, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT));
    else
        CUBLAS_CHECK(cublasGemmStridedBatchedEx(blas_of(ws), CUBLAS_OP_T, CUBLAS_OP_N, n, m, kd, &one, B, CUDA_R_16BF,
                                                (int)ldb, stride_b, A, CUDA_R_16BF, (int)lda, stride_a, &zero, C,
                                                CUDA_R_32F, (int)ldc, stride_c, batch, CUBLAS_COMPUTE_32F,
                                                CUBLAS_GEMM_DEFAULT));
}

void est::segmented_sort(est_cuda_ws *ws, long count, int segments) {
    if (count > 0x7fffffffL) dam_die(DAM_EXIT_RUNTIME, "estimation sort of %ld entries is too large", count);
    const double *k_in = (const double *)ws->keys.p;
    const int *v_in = (const int *)ws->vals.p, *off = (const int *)ws->offsets.p;
    double *k_out = (double *)grow(&ws->keys_out, sizeof(double) * (size_t)count, "estimation sort keys");
    int *v_out = (int *)grow(&ws->vals_out, sizeof(int) * (size_t)count, "estimation sort values");
    size_t bytes = 0;
    CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairsDescending(nullptr, bytes, k_in, k_out, v_in, v_out, (int)count,
                                                                   segments, off, off + 1));
    void *temp = grow(&ws->temp, bytes > 0 ? bytes : 1, "estimation sort scratch");
    CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairsDescending(temp, bytes, k_in, k_out, v_in, v_out, (int)count,
                                                                   segments, off, off + 1));
    CUDA_LAUNCH_CHECK("cub::DeviceSegmentedSort::StableSortPairsDescending");
}

// pos_seg[i] = pos[i] / seg_len (the segment of the entry now at i).
__global__ void segment_of(const int *pos, long count, int seg_len, int *pos_seg) {
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) pos_seg[i] = pos[i] / seg_len;
}

// keys_out[i] = keys[pos[i]], vals_out[i] = vals[pos[i]].
__global__ void gather_pairs(const double *keys, const int *vals, const int *pos, long count, double *keys_out,
                             int *vals_out) {
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) keys_out[i] = keys[pos[i]], vals_out[i] = vals[pos[i]];
}

__global__ void iota(int *x, long count) {
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) x[i] = (int)i;
}

// The same result as segmented_sort for segments of seg_len consecutive entries (the last may be
// shorter), for long segments (DeviceSegmentedSort gives each large segment to one CTA): a
// device-wide stable radix sort of the positions by key descending, then a stable one by segment
// number, then a gather. Ties keep the input order in both passes.
static void segmented_sort_long(est_cuda_ws *ws, long count, int seg_len) {
    if (count > 0x7fffffffL) dam_die(DAM_EXIT_RUNTIME, "estimation sort of %ld entries is too large", count);
    const int segments = (int)((count + seg_len - 1) / seg_len), c = (int)count;
    int seg_bits = 1;
    while ((1L << seg_bits) < segments) seg_bits++;
    const double *k_in = (const double *)ws->keys.p;
    const int *v_in = (const int *)ws->vals.p;
    double *k_tmp = (double *)grow(&ws->keys_tmp, sizeof(double) * (size_t)count, "estimation sort keys");
    int *pos = (int *)grow(&ws->pos, sizeof(int) * (size_t)count, "estimation sort positions");
    int *pos_tmp = (int *)grow(&ws->pos_tmp, sizeof(int) * (size_t)count, "estimation sort positions");
    int *seg = segments > 1 ? (int *)grow(&ws->seg, sizeof(int) * (size_t)count, "estimation sort segments") : NULL;
    int *seg_tmp = segments > 1 ? (int *)grow(&ws->seg_tmp, sizeof(int) * (size_t)count, "estimation sort segments") : NULL;
    double *k_out = (double *)grow(&ws->keys_out, sizeof(double) * (size_t)count, "estimation sort keys");
    int *v_out = (int *)grow(&ws->vals_out, sizeof(int) * (size_t)count, "estimation sort values");
    iota<<<blocks_for(count), THREADS>>>(pos, count);
    CUDA_LAUNCH_CHECK("iota");
    size_t b1 = 0, b2 = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(nullptr, b1, k_in, k_tmp, pos, pos_tmp, c));
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, b2, seg, seg_tmp, pos_tmp, pos, c, 0, seg_bits));
    void *temp = grow(&ws->temp, b1 > b2 ? b1 : b2, "estimation sort scratch");
    CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(temp, b1, k_in, k_tmp, pos, pos_tmp, c));
    const int *order = pos_tmp;
    if (segments > 1) {
        segment_of<<<blocks_for(count), THREADS>>>(pos_tmp, count, seg_len, seg);
        CUDA_LAUNCH_CHECK("segment_of");
        CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, b2, seg, seg_tmp, pos_tmp, pos, c, 0, seg_bits));
        order = pos;
    }
    gather_pairs<<<blocks_for(count), THREADS>>>(k_in, v_in, order, count, k_out, v_out);
    CUDA_LAUNCH_CHECK("gather_pairs");
}

// out = the inclusive sums of in within segments of seg_len consecutive entries (the last may be
// shorter), by CUB's scan by key (decoupled look-back): every out[i] is a sum of exactly the entries
// of i's segment up to i, added in some binary tree (cover_bounds relies on this).
static void segmented_inclusive_sum(est_cuda_ws *ws, const double *in, double *out, long count, long seg_len) {
    if (count > 0x7fffffffL) dam_die(DAM_EXIT_RUNTIME, "estimation scan of %ld entries is too large", count);
    const thrust::counting_iterator<int> pos(0);
    const same_segment seg = {seg_len};
    size_t bytes = 0;
    CUDA_CHECK(cub::DeviceScan::InclusiveSumByKey(nullptr, bytes, pos, in, out, (int)count, seg));
    void *temp = grow(&ws->temp, bytes > 0 ? bytes : 1, "estimation scan scratch");
    CUDA_CHECK(cub::DeviceScan::InclusiveSumByKey(temp, bytes, pos, in, out, (int)count, seg));
    CUDA_LAUNCH_CHECK("cub::DeviceScan::InclusiveSumByKey");
}

double est::chunk_bytes(void) {
    const char *e = getenv("DAM_CUDA_EST_CHUNK_BYTES");
    if (e == NULL) return 512.0 * 1024 * 1024;
    char *end;
    const double v = strtod(e, &end);
    if (end == e || *end != '\0' || !(v >= 1))
        dam_die(DAM_EXIT_INPUT, "DAM_CUDA_EST_CHUNK_BYTES=\"%s\": must be a number of bytes >= 1", e);
    return v;
}

void est::check_shape(const char *fn, int n, int n_heads, int n_kv_heads, int d) {
    if (n < 1 || n_heads < 1 || n_kv_heads < 1 || n_heads % n_kv_heads != 0 || d < 1)
        dam_die(DAM_EXIT_RUNTIME, "internal error: %s(n %d, heads %d / %d, d %d)", fn, n, n_heads, n_kv_heads, d);
}

extern "C" est_cuda_ws *est_cuda_ws_new(void) {
    est_cuda_ws *ws = (est_cuda_ws *)dam_calloc(1, sizeof(est_cuda_ws), "GPU estimation workspace");
    ws->phases.enqueue_ms = ws->phases.gpu_ms = ws->phases.wait_ms = NAN;
    return ws;
}

void est::phases_begin(est_cuda_ws *ws) {
    if (!ws->have_phase_ev) {
        for (int i = 0; i < 2; i++) CUDA_CHECK(cudaEventCreate(&ws->phase_ev[i]));
        ws->have_phase_ev = true;
    }
    ws->phase_t0 = now_ms();
    CUDA_CHECK(cudaEventRecord(ws->phase_ev[0], 0));
}

void est::phases_queued(est_cuda_ws *ws) {
    CUDA_CHECK(cudaEventRecord(ws->phase_ev[1], 0));
    ws->phase_t1 = now_ms();
}

void est::phases_end(est_cuda_ws *ws) {
    const double t2 = now_ms();
    float gpu = 0;
    CUDA_CHECK(cudaEventSynchronize(ws->phase_ev[1]));
    CUDA_CHECK(cudaEventElapsedTime(&gpu, ws->phase_ev[0], ws->phase_ev[1]));
    ws->phases.enqueue_ms = ws->phase_t1 - ws->phase_t0;
    ws->phases.gpu_ms = gpu;
    ws->phases.wait_ms = t2 - ws->phase_t1;
}

extern "C" est_cuda_phases est_cuda_last_phases(const est_cuda_ws *ws) { return ws->phases; }

extern "C" void est_cuda_ws_free(est_cuda_ws *ws) {
    if (ws == NULL) return;
    if (ws->have_blas) CUBLAS_CHECK(cublasDestroy(ws->blas));
    if (ws->have_phase_ev)
        for (int i = 0; i < 2; i++) CUDA_CHECK(cudaEventDestroy(ws->phase_ev[i]));
    dbuf *all[] = {&ws->z,    &ws->mx,   &ws->sum,      &ws->col,     &ws->keys, &ws->keys_out,
                   &ws->vals, &ws->vals_out, &ws->offsets, &ws->temp, &ws->forced, &ws->qr,   &ws->kr,
                   &ws->score, &ws->part, &ws->bits, &ws->means, &ws->kmeans, &ws->cum, &ws->gammas, &ws->counts, &ws->pools,
                   &ws->keys_tmp, &ws->pos, &ws->pos_tmp, &ws->seg, &ws->seg_tmp,
                   &ws->probe_w, &ws->sel, &ws->gate_base, &ws->gate_res, &ws->heads, &ws->inc, &ws->patbits, &ws->kept, &ws->hits};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dam_cuda_free(all[i]->p);
    if (ws->host) CUDA_CHECK(cudaFreeHost(ws->host));
    dam_free(ws);
}

extern "C" void *est_cuda_host_buffer(est_cuda_ws *ws, size_t bytes) {
    if (bytes > ws->host_bytes) {
        if (ws->host) CUDA_CHECK(cudaFreeHost(ws->host));
        ws->host = NULL;
        ws->host_bytes = 0;
        CUDA_CHECK(cudaMallocHost(&ws->host, bytes));
        ws->host_bytes = bytes;
    }
    return ws->host;
}

extern "C" void est_cuda_vertical_slash(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap,
                                        int n, int n_heads, int n_kv_heads, int d, const int *w, double **d_col,
                                        double **d_diag) {
    ws->map_n = 0; // ws->keys may be overwritten: dam_online's map is gone
    check_shape("est_cuda_vertical_slash", n, n_heads, n_kv_heads, d);
    int w_max = 1;
    for (int h = 0; h < n_heads; h++) {
        if (w[h] < 1 || w[h] > n) dam_die(DAM_EXIT_RUNTIME, "internal error: probe rows %d of head %d outside [1, %d]", w[h], h, n);
        w_max = w[h] > w_max ? w[h] : w_max;
    }
    // heads per chunk: their logits [hc][w_max][n] fp32 under the scratch budget
    const long z_head = (long)w_max * n;
    const int hc = (int)fmax(1.0, fmin((double)n_heads, chunk_bytes() / (4.0 * (double)z_head)));
    float *z = (float *)grow(&ws->z, sizeof(float) * (size_t)hc * z_head, "estimation logits");
    double *mx = (double *)grow(&ws->mx, sizeof(double) * (size_t)hc * w_max, "estimation row maxima");
    double *inv_sum = (double *)grow(&ws->sum, sizeof(double) * (size_t)hc * w_max, "estimation row sums");
    // column sums then diagonal sums in one buffer: one top-k call can select both (minference.c)
    double *col = (double *)grow(&ws->col, sizeof(double) * 2 * (size_t)n_heads * n, "estimation column and diagonal sums");
    double *diag = col + (size_t)n_heads * n;
    int *d_w = (int *)grow(&ws->probe_w, sizeof(int) * (size_t)n_heads, "estimation probe rows");
    CUDA_CHECK(cudaMemcpy(d_w, w, sizeof(int) * (size_t)n_heads, cudaMemcpyHostToDevice));
    const double scale = 1.0 / sqrt((double)d);
    const int group = n_heads / n_kv_heads;
    for (int h0 = 0; h0 < n_heads; h0 += hc) {
        const int hn = n_heads - h0 < hc ? n_heads - h0 : hc;
        for (int y = 0; y < hn;) { // one product per run of heads of one KV head with the same w
            const int h = h0 + y, wh = w[h];
            int run = 1;
            while (y + run < hn && (h + run) / group == h / group && w[h + run] == wh) run++;
            const uint16_t *qh = q + (long)(n - wh) * q_stride + (long)h * d, *kh = k + (long)(h / group) * kv_cap * d;
            gemm_nt(ws, z + y * z_head, n, qh, q_stride, kh, d, wh, n, d, run, d, 0, z_head);
            y += run;
        }
        row_stats<<<dim3(w_max, hn), ROW_THREADS>>>(z, n, z_head, n, d_w + h0, scale, mx, inv_sum);
        CUDA_LAUNCH_CHECK("row_stats");
        vertical_slash_sums<<<dim3(blocks_for(2L * n), hn), THREADS>>>(z, z_head, n, d_w + h0, w_max, scale, mx, inv_sum,
                                                                      col + (long)h0 * n, diag + (long)h0 * n);
        CUDA_LAUNCH_CHECK("vertical_slash_sums");
    }
    *d_col = col;
    *d_diag = diag;
}

extern "C" void est_cuda_top_k(est_cuda_ws *ws, const double *score, int n, int n_heads, const int *forced, const int *k,
                               int32_t *top, int top_stride) {
    ws->map_n = 0; // ws->keys may be overwritten: dam_online's map is gone
    int k_max = 1;
    for (int h = 0; h < n_heads; h++) {
        if (k[h] < 1 || k[h] > n || k[h] > top_stride || forced[h] < 0 || forced[h] > n)
            dam_die(DAM_EXIT_RUNTIME, "internal error: est_cuda_top_k head %d: k %d, forced %d, n %d, stride %d", h, k[h],
                    forced[h], n, top_stride);
        k_max = k[h] > k_max ? k[h] : k_max;
    }
    const int cap = n_heads <= TOP_K_MAX_ROWS ? top_k_rows_cap(k_max) : 0;
    if (cap > 0) { // radix select per row (estimate_top_k.cu): one launch, k_max indices a row come back
        top_k_rows_args a;
        for (int h = 0; h < n_heads; h++) a.k[h] = k[h], a.forced[h] = forced[h];
        int *d_top = (int *)grow(&ws->vals_out, sizeof(int) * (size_t)n_heads * k_max, "estimation top-k");
        top_k_rows_launch(score, n, n_heads, a, cap, d_top, k_max);
        CUDA_CHECK(cudaMemcpy2D(top, sizeof(int32_t) * (size_t)top_stride, d_top, sizeof(int) * (size_t)k_max,
                                sizeof(int32_t) * (size_t)k_max, (size_t)n_heads, cudaMemcpyDeviceToHost));
        return;
    }
    const long count = (long)n_heads * n;
    double *keys = (double *)grow(&ws->keys, sizeof(double) * (size_t)count, "estimation sort keys");
    int *vals = (int *)grow(&ws->vals, sizeof(int) * (size_t)count, "estimation sort values");
    int *d_forced = (int *)grow(&ws->forced, sizeof(int) * (size_t)n_heads, "estimation forced counts");
    CUDA_CHECK(cudaMemcpy(d_forced, forced, sizeof(int) * (size_t)n_heads, cudaMemcpyHostToDevice));
    top_k_keys<<<blocks_for(count), THREADS>>>(score, n, n_heads, d_forced, keys, vals);
    CUDA_LAUNCH_CHECK("top_k_keys");
    segmented_sort_long(ws, count, n);
    CUDA_CHECK(cudaMemcpy2D(top, sizeof(int32_t) * (size_t)top_stride, ws->vals_out.p, sizeof(int) * (size_t)n,
                            sizeof(int32_t) * (size_t)k_max, (size_t)n_heads, cudaMemcpyDeviceToHost));
}

extern "C" void est_cuda_row_means(est_cuda_ws *ws, const uint16_t *x, int heads, long x_head, long stride, int r0,
                                   int n_rows, int d, int group, double *out) {
    ws->map_n = 0; // ws->keys may be overwritten: dam_online's map is gone
    if (heads < 1 || heads > 65535 || n_rows < 1 || d < 1 || group < 1 || r0 < 0)
        dam_die(DAM_EXIT_RUNTIME, "internal error: est_cuda_row_means(heads %d, r0 %d, rows %d, d %d, group %d)", heads, r0,
                n_rows, d, group);
    const long count = (long)((n_rows + group - 1) / group) * d;
    double *dout = (double *)grow(&ws->means, sizeof(double) * (size_t)count * heads, "estimation row means");
    row_means<<<dim3(blocks_for(count), heads), THREADS>>>((const __nv_bfloat16 *)x, x_head, stride, r0, n_rows, d, group,
                                                           dout);
    CUDA_LAUNCH_CHECK("row_means");
    CUDA_CHECK(cudaMemcpy(out, dout, sizeof(double) * (size_t)count * heads, cudaMemcpyDeviceToHost));
}

extern "C" void est_cuda_cover_pool(est_cuda_ws *ws, const double *col, const double *diag, int n, int n_heads, double div,
                                    const double *g, int *count, double *pool) {
    ws->map_n = 0; // ws->keys may be overwritten: dam_online's map is gone
    if (n < 1 || n_heads < 1 || !(div > 0)) dam_die(DAM_EXIT_RUNTIME, "internal error: est_cuda_cover_pool(n %d, heads %d)", n, n_heads);
    const int rows = 2 * n_heads, nb = (n + BLOCK - 1) / BLOCK;
    const long count_all = (long)rows * n;
    double *x = (double *)grow(&ws->keys, sizeof(double) * (size_t)count_all, "flexprefill verticals and slashes");
    int *vals = (int *)grow(&ws->vals, sizeof(int) * (size_t)count_all, "flexprefill sort values");
    double *d_g = (double *)grow(&ws->gammas, sizeof(double) * (size_t)n_heads, "flexprefill gamma");
    int *d_bound = (int *)grow(&ws->counts, sizeof(int) * 3 * (size_t)rows, "flexprefill covers"), *d_count = d_bound + 2 * rows;
    double *d_pool = (double *)grow(&ws->pools, sizeof(double) * (size_t)rows * nb, "flexprefill block pools");
    CUDA_CHECK(cudaMemcpy(d_g, g, sizeof(double) * (size_t)n_heads, cudaMemcpyHostToDevice));
    cover_keys<<<blocks_for(count_all), THREADS>>>(col, diag, n, n_heads, div, x, vals);
    CUDA_LAUNCH_CHECK("cover_keys");
    block_pool<<<blocks_for((long)rows * nb), THREADS>>>(x, n, rows, nb, d_pool);
    CUDA_LAUNCH_CHECK("block_pool");
    segmented_sort_long(ws, count_all, n);
    const double *sorted = (const double *)ws->keys_out.p;
    double *cum = (double *)grow(&ws->cum, sizeof(double) * (size_t)count_all, "flexprefill cumulative sums");
    segmented_inclusive_sum(ws, sorted, cum, count_all, n);
    CUDA_CHECK(cudaMemsetAsync(d_bound, 0, sizeof(int) * 2 * (size_t)rows, 0));
    cover_bounds<<<dim3((unsigned)((n + THREADS * COVER_ITEMS - 1) / (THREADS * COVER_ITEMS)), rows), THREADS>>>(cum, n, d_g,
                                                                                                          d_bound);
    CUDA_LAUNCH_CHECK("cover_bounds");
    cover_walk<<<rows, THREADS>>>(sorted, n, d_g, d_bound, d_count);
    CUDA_LAUNCH_CHECK("cover_walk");
    CUDA_CHECK(cudaMemcpy(count, d_count, sizeof(int) * (size_t)rows, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(pool, d_pool, sizeof(double) * (size_t)rows * nb, cudaMemcpyDeviceToHost));
}

extern "C" void est_cuda_block_map_select(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap,
                                          int n, int n_heads, int n_kv_heads, int d, const uint8_t *which,
                                          const double *gamma, uint64_t *keep) {
    ws->map_n = 0; // ws->keys may be overwritten: dam_online's map is gone
    check_shape("est_cuda_block_map_select", n, n_heads, n_kv_heads, d);
    const int nb = (n + BLOCK - 1) / BLOCK, words = (nb + 63) / 64, group = n_heads / n_kv_heads;
    const long cells = (long)nb * (nb + 1) / 2, head_words = (long)nb * words;
    // the sort values are cell indices qb · nb + kb (int): nb² must fit, not only the causal cells
    if ((long)nb * nb > 0x7fffffffL) dam_die(DAM_EXIT_RUNTIME, "flexprefill block map of %d x %d blocks is too large", nb, nb);
    // the selected heads, their cumulative limits gamma · nb
    int *sel = (int *)dam_malloc(sizeof(int) * (size_t)n_heads, "flexprefill selected heads"), n_sel = 0;
    double *lim = (double *)dam_malloc(sizeof(double) * (size_t)n_heads, "flexprefill limits");
    for (int h = 0; h < n_heads; h++)
        if (which[h]) sel[n_sel] = h, lim[n_sel++] = gamma[h] * nb;
    unsigned long long *bits = (unsigned long long *)grow(&ws->bits, sizeof(uint64_t) * (size_t)head_words * n_heads,
                                                          "flexprefill keep bits");
    CUDA_CHECK(cudaMemsetAsync(bits, 0, sizeof(uint64_t) * (size_t)head_words * n_heads, 0));
    if (n_sel > 0) {
        int *d_sel = (int *)grow(&ws->forced, sizeof(int) * (size_t)n_sel, "flexprefill selected heads");
        double *d_lim = (double *)grow(&ws->gammas, sizeof(double) * (size_t)n_sel, "flexprefill limits");
        CUDA_CHECK(cudaMemcpy(d_sel, sel, sizeof(int) * (size_t)n_sel, cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(d_lim, lim, sizeof(double) * (size_t)n_sel, cudaMemcpyHostToDevice));
        // key block means of every KV head, once: [n_kv_heads][nb][d]
        const double scale = 1.0 / sqrt((double)d);
        double *kbar = (double *)grow(&ws->kmeans, sizeof(double) * (size_t)n_kv_heads * nb * d, "flexprefill key means");
        row_means<<<dim3(blocks_for((long)nb * d), n_kv_heads), THREADS>>>((const __nv_bfloat16 *)k, (long)kv_cap * d, d, 0,
                                                                          n, d, BLOCK, kbar);
        CUDA_LAUNCH_CHECK("row_means");
        // selected heads per chunk: the map, its two-pass sort (CUB's alternate buffers included) and the
        // scan (68 bytes a cell) and the query means under the scratch budget, the sort's entry count an int
        const double per_head = 68.0 * cells + 8.0 * nb * d;
        int chunk = (int)fmax(1.0, fmin((double)n_sel, chunk_bytes() / per_head));
        while (chunk > 1 && (long)chunk * cells > 0x7fffffffL) chunk--;
        for (int c0 = 0; c0 < n_sel; c0 += chunk) {
            const int hc = n_sel - c0 < chunk ? n_sel - c0 : chunk, a = sel[c0], span = sel[c0 + hc - 1] - a + 1;
            const long count = hc * cells;
            // query block means of the heads a .. a + span - 1 (those of the chunk and any between them)
            double *qbar = (double *)grow(&ws->means, sizeof(double) * (size_t)span * nb * d, "flexprefill query means");
            row_means<<<dim3(blocks_for((long)nb * d), span), THREADS>>>((const __nv_bfloat16 *)q + (long)a * d, d, q_stride,
                                                                        0, n, d, BLOCK, qbar);
            CUDA_LAUNCH_CHECK("row_means");
            // the maps of the chunk's heads, packed [hc][cells]: one launch per run of consecutive heads
            double *keys = (double *)grow(&ws->keys, sizeof(double) * (size_t)count, "flexprefill sort keys");
            int *vals = (int *)grow(&ws->vals, sizeof(int) * (size_t)count, "flexprefill sort values");
            for (int y = 0; y < hc;) {
                const int h = sel[c0 + y];
                int run = 1;
                while (y + run < hc && sel[c0 + y + run] == h + run) run++;
                block_map<<<dim3((nb + MAP_QB - 1) / MAP_QB, run), 32 * MAP_QB>>>(qbar + (long)(h - a) * nb * d, kbar, h, group, nb, d,
                                                                         scale, keys + y * cells, vals + y * cells);
                CUDA_LAUNCH_CHECK("block_map");
                y += run;
            }
            // per head: cells by A descending (ties: the lower cell index), inclusive sums, the cut
            segmented_sort_long(ws, count, (int)cells);
            double *cum = (double *)grow(&ws->cum, sizeof(double) * (size_t)count, "flexprefill cumulative sums");
            segmented_inclusive_sum(ws, (const double *)ws->keys_out.p, cum, count, cells);
            int *first = (int *)grow(&ws->counts, sizeof(int) * (size_t)hc, "flexprefill selection ends");
            CUDA_CHECK(cudaMemsetAsync(first, 0, sizeof(int) * (size_t)hc, 0));
            first_above<<<dim3(blocks_for(cells), hc), THREADS>>>(cum, cells, d_lim + c0, first);
            CUDA_LAUNCH_CHECK("first_above");
            mark_cells<<<dim3(blocks_for(cells), hc), THREADS>>>((const int *)ws->vals_out.p, cells, first, d_sel + c0, nb,
                                                                 words, head_words, bits);
            CUDA_LAUNCH_CHECK("mark_cells");
        }
    }
    CUDA_CHECK(cudaMemcpy(keep, bits, sizeof(uint64_t) * (size_t)head_words * n_heads, cudaMemcpyDeviceToHost));
    dam_free(lim);
    dam_free(sel);
}
