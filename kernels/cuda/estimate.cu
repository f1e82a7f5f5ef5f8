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

#include "core/error.h"
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


__global__ void est::row_stats(const float *z, long ldz, long z_head, int n, const int *w_head, int w_one, double scale,
                               double *mx, double *sum) {
    __shared__ double red[THREADS / 32];
    const int r = blockIdx.x, w = w_head ? w_head[blockIdx.y] : w_one, len = n - w + 1 + r;
    if (r >= w) return; // the whole CTA
    const float *zr = z + blockIdx.y * z_head + (long)r * ldz;
    double m = -INFINITY;
    for (int j = threadIdx.x; j < len; j += THREADS) m = fmax(m, (double)zr[j] * scale);
    m = block_max(m, red);
    double s = 0;
    for (int j = threadIdx.x; j < len; j += THREADS) s += exp((double)zr[j] * scale - m);
    s = block_sum(s, red);
    if (threadIdx.x == 0) mx[(long)blockIdx.y * gridDim.x + r] = m, sum[(long)blockIdx.y * gridDim.x + r] = s;
}

namespace {

// Threads 0 .. n-1: col[j] = sum over r of P[r][j]; threads n .. 2n-1: diag[o] = sum over r of
// P[r][i_r - o], i_r = n - w + r; P[r][j] = e^(s[r][j] · scale - mx[r]) / sum[r] for j <= i_r. Terms are
// added for r ascending, as est_column_sums / est_diagonal_sums add them.
__global__ void vertical_slash_sums(const float *s, int n, int w, double scale, const double *mx, const double *sum,
                                    double *col, double *diag) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= 2L * n) return;
    const int i0 = n - w;
    double acc = 0;
    if (t < n) {
        const int j = (int)t;
        for (int r = (j > i0 ? j - i0 : 0); r < w; r++)
            acc += exp((double)s[(long)r * n + j] * scale - mx[r]) / sum[r];
        col[j] = acc;
    } else {
        const int o = (int)(t - n);
        for (int r = (o > i0 ? o - i0 : 0); r < w; r++)
            acc += exp((double)s[(long)r * n + (i0 + r - o)] * scale - mx[r]) / sum[r];
        diag[o] = acc;
    }
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

// One warp per row r of sorted x (descending): count[r] = 1 + the number of entries whose inclusive
// cumulative sum, added in sorted order (every lane adds the 32 loaded values in order), is <= g of
// the row's head r / 2 (flexprefill.c cover()).
__global__ void cover_count(const double *sorted, int n, int rows, const double *g, int *count) {
    const int r = (int)(((long)blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (r >= rows) return;
    const double *x = sorted + (long)r * n, limit = g[r / 2];
    double cum = 0;
    int cnt = 0;
    bool over = false;
    for (int k0 = 0; k0 < n && !over; k0 += 32) {
        const double v = k0 + lane < n ? x[k0 + lane] : 0.0;
        const int m = min(32, n - k0);
        for (int j = 0; j < m; j++) {
            cum += __shfl_sync(0xffffffffu, v, j);
            if (cum > limit) { // entries are >= 0: the sum only grows
                over = true;
                break;
            }
            cnt++;
        }
    }
    if (lane == 0) count[r] = cnt + 1;
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

// *first = the smallest i < count with cum[i] > limit (count if none); *first starts at count.
__global__ void first_above(const double *cum, long count, double limit, int *first) {
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count && cum[i] > limit) atomicMin(first, (int)i);
}

// Sets the bits of the cells vals[0 .. *first) and of cell (0, 0); bits [nb][words].
__global__ void mark_cells(const int *vals, const int *first, int nb, int words, unsigned long long *bits) {
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i == 0) atomicOr(bits, 1ull);
    if (i >= *first) return;
    const int qb = vals[i] / nb, kb = vals[i] % nb;
    atomicOr(bits + (long)qb * words + (kb >> 6), 1ull << (kb & 63));
}

} // namespace

static cublasHandle_t blas_of(est_cuda_ws *ws) {
    if (!ws->have_blas) {
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

void est::check_shape(const char *fn, int n, int n_heads, int n_kv_heads, int d) {
    if (n < 1 || n_heads < 1 || n_kv_heads < 1 || n_heads % n_kv_heads != 0 || d < 1)
        dam_die(DAM_EXIT_RUNTIME, "internal error: %s(n %d, heads %d / %d, d %d)", fn, n, n_heads, n_kv_heads, d);
}

extern "C" est_cuda_ws *est_cuda_ws_new(void) { return (est_cuda_ws *)dam_calloc(1, sizeof(est_cuda_ws), "GPU estimation workspace"); }

extern "C" void est_cuda_ws_free(est_cuda_ws *ws) {
    if (ws == NULL) return;
    if (ws->have_blas) CUBLAS_CHECK(cublasDestroy(ws->blas));
    dbuf *all[] = {&ws->z,    &ws->mx,   &ws->sum,      &ws->col,     &ws->diag,  &ws->keys, &ws->keys_out,
                   &ws->vals, &ws->vals_out, &ws->offsets, &ws->temp, &ws->forced, &ws->qr,   &ws->kr,
                   &ws->score, &ws->part, &ws->bits, &ws->means, &ws->kmeans, &ws->cum, &ws->gammas, &ws->counts, &ws->pools,
                   &ws->keys_tmp, &ws->pos, &ws->pos_tmp, &ws->seg, &ws->seg_tmp,
                   &ws->sel, &ws->gate_base, &ws->gate_res, &ws->heads, &ws->inc, &ws->patbits, &ws->kept};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dam_cuda_free(all[i]->p);
    dam_free(ws);
}

extern "C" void est_cuda_vertical_slash(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap,
                                        int n, int n_heads, int n_kv_heads, int d, const int *w, double **d_col,
                                        double **d_diag) {
    check_shape("est_cuda_vertical_slash", n, n_heads, n_kv_heads, d);
    int w_max = 1;
    for (int h = 0; h < n_heads; h++) {
        if (w[h] < 1 || w[h] > n) dam_die(DAM_EXIT_RUNTIME, "internal error: probe rows %d of head %d outside [1, %d]", w[h], h, n);
        w_max = w[h] > w_max ? w[h] : w_max;
    }
    float *z = (float *)grow(&ws->z, sizeof(float) * (size_t)w_max * n, "estimation logits");
    double *mx = (double *)grow(&ws->mx, sizeof(double) * (size_t)w_max, "estimation row maxima");
    double *sum = (double *)grow(&ws->sum, sizeof(double) * (size_t)w_max, "estimation row sums");
    double *col = (double *)grow(&ws->col, sizeof(double) * (size_t)n_heads * n, "estimation column sums");
    double *diag = (double *)grow(&ws->diag, sizeof(double) * (size_t)n_heads * n, "estimation diagonal sums");
    const double scale = 1.0 / sqrt((double)d);
    const int group = n_heads / n_kv_heads;
    for (int h = 0; h < n_heads; h++) {
        const int wh = w[h];
        const uint16_t *qh = q + (long)(n - wh) * q_stride + (long)h * d, *kh = k + (long)(h / group) * kv_cap * d;
        gemm_nt(ws, z, n, qh, q_stride, kh, d, wh, n, d);
        row_stats<<<wh, THREADS>>>(z, n, 0, n, nullptr, wh, scale, mx, sum);
        CUDA_LAUNCH_CHECK("row_stats");
        vertical_slash_sums<<<blocks_for(2L * n), THREADS>>>(z, n, wh, scale, mx, sum, col + (long)h * n, diag + (long)h * n);
        CUDA_LAUNCH_CHECK("vertical_slash_sums");
    }
    *d_col = col;
    *d_diag = diag;
}

extern "C" void est_cuda_top_k(est_cuda_ws *ws, const double *score, int n, int n_heads, const int *forced, const int *k,
                               int32_t *top, int top_stride) {
    int k_max = 1;
    for (int h = 0; h < n_heads; h++) {
        if (k[h] < 1 || k[h] > n || k[h] > top_stride || forced[h] < 0 || forced[h] > n)
            dam_die(DAM_EXIT_RUNTIME, "internal error: est_cuda_top_k head %d: k %d, forced %d, n %d, stride %d", h, k[h],
                    forced[h], n, top_stride);
        k_max = k[h] > k_max ? k[h] : k_max;
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

extern "C" void est_cuda_row_means(est_cuda_ws *ws, const uint16_t *x, long stride, int r0, int n_rows, int d, int group,
                                   double *out) {
    if (n_rows < 1 || d < 1 || group < 1 || r0 < 0)
        dam_die(DAM_EXIT_RUNTIME, "internal error: est_cuda_row_means(r0 %d, rows %d, d %d, group %d)", r0, n_rows, d, group);
    const long count = (long)((n_rows + group - 1) / group) * d;
    double *dout = (double *)grow(&ws->means, sizeof(double) * (size_t)count, "estimation row means");
    row_means<<<blocks_for(count), THREADS>>>((const __nv_bfloat16 *)x, 0, stride, r0, n_rows, d, group, dout);
    CUDA_LAUNCH_CHECK("row_means");
    CUDA_CHECK(cudaMemcpy(out, dout, sizeof(double) * (size_t)count, cudaMemcpyDeviceToHost));
}

extern "C" void est_cuda_cover_pool(est_cuda_ws *ws, const double *col, const double *diag, int n, int n_heads, double div,
                                    const double *g, int *count, double *pool) {
    if (n < 1 || n_heads < 1 || !(div > 0)) dam_die(DAM_EXIT_RUNTIME, "internal error: est_cuda_cover_pool(n %d, heads %d)", n, n_heads);
    const int rows = 2 * n_heads, nb = (n + BLOCK - 1) / BLOCK;
    const long count_all = (long)rows * n;
    double *x = (double *)grow(&ws->keys, sizeof(double) * (size_t)count_all, "flexprefill verticals and slashes");
    int *vals = (int *)grow(&ws->vals, sizeof(int) * (size_t)count_all, "flexprefill sort values");
    double *d_g = (double *)grow(&ws->gammas, sizeof(double) * (size_t)n_heads, "flexprefill gamma");
    int *d_count = (int *)grow(&ws->counts, sizeof(int) * (size_t)rows, "flexprefill covers");
    double *d_pool = (double *)grow(&ws->pools, sizeof(double) * (size_t)rows * nb, "flexprefill block pools");
    CUDA_CHECK(cudaMemcpy(d_g, g, sizeof(double) * (size_t)n_heads, cudaMemcpyHostToDevice));
    cover_keys<<<blocks_for(count_all), THREADS>>>(col, diag, n, n_heads, div, x, vals);
    CUDA_LAUNCH_CHECK("cover_keys");
    block_pool<<<blocks_for((long)rows * nb), THREADS>>>(x, n, rows, nb, d_pool);
    CUDA_LAUNCH_CHECK("block_pool");
    segmented_sort_long(ws, count_all, n);
    cover_count<<<blocks_for(32L * rows), THREADS>>>((const double *)ws->keys_out.p, n, rows, d_g, d_count);
    CUDA_LAUNCH_CHECK("cover_count");
    CUDA_CHECK(cudaMemcpy(count, d_count, sizeof(int) * (size_t)rows, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(pool, d_pool, sizeof(double) * (size_t)rows * nb, cudaMemcpyDeviceToHost));
}

extern "C" void est_cuda_block_map_select(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap,
                                          int n, int n_heads, int n_kv_heads, int d, const uint8_t *which,
                                          const double *gamma, uint64_t *keep) {
    check_shape("est_cuda_block_map_select", n, n_heads, n_kv_heads, d);
    const int nb = (n + BLOCK - 1) / BLOCK, words = (nb + 63) / 64, group = n_heads / n_kv_heads;
    const long cells = (long)nb * (nb + 1) / 2, head_words = (long)nb * words;
    // the sort values are cell indices qb · nb + kb (int): nb² must fit, not only the causal cells
    if ((long)nb * nb > 0x7fffffffL) dam_die(DAM_EXIT_RUNTIME, "flexprefill block map of %d x %d blocks is too large", nb, nb);
    double *qbar = (double *)grow(&ws->means, sizeof(double) * (size_t)nb * d, "flexprefill query means");
    double *kbar = (double *)grow(&ws->kmeans, sizeof(double) * (size_t)nb * d, "flexprefill key means");
    double *keys = (double *)grow(&ws->keys, sizeof(double) * (size_t)cells, "flexprefill sort keys");
    int *vals = (int *)grow(&ws->vals, sizeof(int) * (size_t)cells, "flexprefill sort values");
    int *first = (int *)grow(&ws->counts, sizeof(int), "flexprefill selection end");
    double *cum = (double *)grow(&ws->cum, sizeof(double) * (size_t)cells, "flexprefill cumulative sums");
    unsigned long long *bits = (unsigned long long *)grow(&ws->bits, sizeof(uint64_t) * (size_t)head_words * n_heads,
                                                          "flexprefill keep bits");
    CUDA_CHECK(cudaMemsetAsync(bits, 0, sizeof(uint64_t) * (size_t)head_words * n_heads, 0));
    const double scale = 1.0 / sqrt((double)d);
    const long groups = (long)nb * d;
    for (int h = 0; h < n_heads; h++) {
        if (!which[h]) continue;
        row_means<<<blocks_for(groups), THREADS>>>((const __nv_bfloat16 *)q + (long)h * d, 0, q_stride, 0, n, d, BLOCK, qbar);
        CUDA_LAUNCH_CHECK("row_means");
        row_means<<<blocks_for(groups), THREADS>>>((const __nv_bfloat16 *)k + (long)(h / group) * kv_cap * d, 0, d, 0, n, d,
                                                    BLOCK, kbar);
        CUDA_LAUNCH_CHECK("row_means");
        block_map<<<(nb + MAP_QB - 1) / MAP_QB, 32 * MAP_QB>>>(qbar, kbar, 0, 1, nb, d, scale, keys, vals);
        CUDA_LAUNCH_CHECK("block_map");
        segmented_sort_long(ws, cells, (int)cells);
        const double *sorted = (const double *)ws->keys_out.p;
        size_t bytes = 0;
        CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, bytes, sorted, cum, (int)cells));
        void *temp = grow(&ws->temp, bytes > 0 ? bytes : 1, "flexprefill scan scratch");
        CUDA_CHECK(cub::DeviceScan::InclusiveSum(temp, bytes, sorted, cum, (int)cells));
        const int all = (int)cells;
        CUDA_CHECK(cudaMemcpyAsync(first, &all, sizeof(int), cudaMemcpyHostToDevice, 0));
        first_above<<<blocks_for(cells), THREADS>>>(cum, cells, gamma[h] * nb, first);
        CUDA_LAUNCH_CHECK("first_above");
        mark_cells<<<blocks_for(cells), THREADS>>>((const int *)ws->vals_out.p, first, nb, words, bits + h * head_words);
        CUDA_LAUNCH_CHECK("mark_cells");
    }
    CUDA_CHECK(cudaMemcpy(keep, bits, sizeof(uint64_t) * (size_t)head_words * n_heads, cudaMemcpyDeviceToHost));
}
