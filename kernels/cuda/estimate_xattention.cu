// estimate_xattention.cu — XAttention's estimate and selection on the GPU (estimate.h,
// est_cuda_xattention). Reference (CPU): baselines/xattention.c (xattention_head).
#include "kernels/cuda/estimate.h"
#include "kernels/cuda/estimate_common.cuh"

#include <math.h>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"

using namespace est;

namespace {

// XAttention's strided copies (xattention.c step 1) for query head h over KV head g, stride S:
// qr[u][m] = q row uS+S-1-m (head h), kr[t][m] = k row tS+m (KV head g), zero past n; [N][S][d] bf16.
__global__ void strided_copies(const __nv_bfloat16 *q, int q_stride, const __nv_bfloat16 *k, int n, int d, int S,
                               int N, __nv_bfloat16 *qr, __nv_bfloat16 *kr) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long)N * S * d) return;
    const int c = (int)(t % d), m = (int)(t / d % S), u = (int)(t / ((long)d * S));
    const int row = u * S + S - 1 - m, key = u * S + m;
    const __nv_bfloat16 zero = __float2bfloat16(0.0f);
    qr[t] = row < n ? q[(long)row * q_stride + c] : zero;
    kr[t] = key < n ? k[(long)key * d + c] : zero;
}

// XAttention steps 2-3 for the query blocks of one chunk of super-token rows u0 .. u0+rows-1: one CTA
// per query block qb (per_blk = 64 / S rows), rows u ascending. Per row: the maximum of the scaled
// logits z[u - u0][t] · scale (t <= u, float64); each key block kb (owned by one thread) sums
// e_t = e^(x_t - max) over its super-tokens t ascending into part[kb] (the CTA's scratch row); the
// row's softmax denominator is the sum of those partial sums; score[qb][kb] += part[kb] / denominator.
// One float64 exp per logit (the CPU adds e_t / denominator term by term: the scores agree to a few
// ulps).
__global__ void xattention_block_sums(const float *z, long ldz, int u0, int rows, int N, int per_blk, int nb,
                                      double scale, double *score, double *part_all) {
    __shared__ double red[THREADS / 32];
    const int qb = u0 / per_blk + blockIdx.x;
    double *srow = score + (long)qb * nb, *part = part_all + (long)blockIdx.x * nb;
    for (int r = 0; r < per_blk; r++) {
        const int u = qb * per_blk + r;
        if (u >= N || u >= u0 + rows) break;
        const float *zr = z + (long)(u - u0) * ldz;
        double m = -INFINITY;
        for (int t = threadIdx.x; t <= u; t += THREADS) m = fmax(m, (double)zr[t] * scale);
        m = block_max(m, red);
        double s = 0;
        for (int kb = threadIdx.x; kb * per_blk <= u; kb += THREADS) {
            double a = 0;
            const int t1 = min((kb + 1) * per_blk, u + 1);
            for (int t = kb * per_blk; t < t1; t++) a += exp((double)zr[t] * scale - m);
            part[kb] = a;
            s += a;
        }
        s = block_sum(s, red);
        for (int kb = threadIdx.x; kb * per_blk <= u; kb += THREADS) srow[kb] += part[kb] / s;
    }
}

// Segment qb of the sort holds key blocks 1 .. qb-1 of query block qb (qb - 1 entries for qb >= 1):
// off(qb) = (qb - 1)(qb - 2) / 2 for qb >= 2, else 0.
__host__ __device__ long seg_off(int qb) { return qb >= 2 ? (long)(qb - 1) * (qb - 2) / 2 : 0; }

__global__ void xattention_pack(const double *score, int nb, double *keys, int *vals, int *offsets) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t <= nb) offsets[t] = (int)seg_off((int)t);
    if (t >= (long)nb * nb) return;
    const int qb = (int)(t / nb), kb = (int)(t % nb);
    if (kb < 1 || kb >= qb) return;
    const long i = seg_off(qb) + kb - 1;
    keys[i] = score[t];
    vals[i] = kb;
}

// XAttention step 4, one warp per query block qb: keeps kb 0 and qb, then the first m sorted others,
// m = the fewest whose cumulative score (added after s[0] + s[qb]) reaches tau × the row total.
// The row total and the cumulative score are added in the CPU's order (kb ascending; sorted order):
// each lane loads one of 32 consecutive values, and every lane adds all 32 in order (shuffles), so
// the loads are coalesced and the sums are sequential. The warp then sets the m bits (atomicOr).
// bits[qb][w] bit b = key block 64 w + b kept; the row must be zero before.
__global__ void xattention_select(const double *score, int nb, int words, double tau, const double *keys,
                                  const int *vals, unsigned long long *bits) {
    const int qb = (int)(((long)blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (qb >= nb) return; // whole warps leave together
    const double *s = score + (long)qb * nb;
    double total = 0;
    for (int k0 = 0; k0 <= qb; k0 += 32) {
        const double x = k0 + lane <= qb ? s[k0 + lane] : 0.0;
        const int cnt = min(32, qb + 1 - k0);
        for (int j = 0; j < cnt; j++) total += __shfl_sync(0xffffffffu, x, j);
    }
    const double target = tau * total;
    double cum = s[0] + (qb > 0 ? s[qb] : 0.0);
    const long i0 = seg_off(qb);
    const int m_all = qb > 1 ? qb - 1 : 0;
    int m = 0; // kept among the sorted others
    for (int k0 = 0; k0 < m_all && cum < target; k0 += 32) {
        const double x = k0 + lane < m_all ? keys[i0 + k0 + lane] : 0.0;
        const int cnt = min(32, m_all - k0);
        for (int j = 0; j < cnt && cum < target; j++) {
            cum += __shfl_sync(0xffffffffu, x, j);
            m++;
        }
    }
    unsigned long long *row = bits + (long)qb * words;
    if (lane == 0) {
        atomicOr(row, 1ull);
        atomicOr(row + (qb >> 6), 1ull << (qb & 63));
    }
    for (int i = lane; i < m; i += 32) {
        const int kb = vals[i0 + i];
        atomicOr(row + (kb >> 6), 1ull << (kb & 63));
    }
}

} // namespace

extern "C" void est_cuda_xattention(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap,
                                    int n, int n_heads, int n_kv_heads, int d, const int *stride, const double *tau,
                                    uint64_t *keep, double *scores) {
    check_shape("est_cuda_xattention", n, n_heads, n_kv_heads, d);
    const int nb = (n + BLOCK - 1) / BLOCK, words = (nb + 63) / 64, group = n_heads / n_kv_heads;
    const size_t head_words = (size_t)nb * words;
    double *score = (double *)grow(&ws->score, sizeof(double) * (size_t)nb * nb, "xattention block scores");
    unsigned long long *bits = (unsigned long long *)grow(&ws->bits, sizeof(uint64_t) * head_words * n_heads,
                                                          "xattention keep bits");
    CUDA_CHECK(cudaMemsetAsync(bits, 0, sizeof(uint64_t) * head_words * n_heads, 0));
    const long m_sort = seg_off(nb); // entries of all segments: sum over qb of max(qb - 1, 0)
    for (int h = 0; h < n_heads; h++) { // queued back to back: no host round trip between heads
        const int S = stride[h];
        if (S < 1 || BLOCK % S != 0) dam_die(DAM_EXIT_RUNTIME, "internal error: xattention stride %d", S);
        const int N = (n + S - 1) / S, per_blk = BLOCK / S, SD = S * d;
        const int chunk = N < XA_CHUNK ? N : XA_CHUNK; // a multiple of per_blk when N >= XA_CHUNK
        __nv_bfloat16 *qr = (__nv_bfloat16 *)grow(&ws->qr, sizeof(uint16_t) * (size_t)N * SD, "xattention strided q");
        __nv_bfloat16 *kr = (__nv_bfloat16 *)grow(&ws->kr, sizeof(uint16_t) * (size_t)N * SD, "xattention strided k");
        float *z = (float *)grow(&ws->z, sizeof(float) * (size_t)chunk * N, "xattention strided logits");
        double *part = (double *)grow(&ws->part, sizeof(double) * (size_t)((chunk + per_blk - 1) / per_blk) * nb,
                                      "xattention partial sums");
        strided_copies<<<blocks_for((long)N * SD), THREADS>>>((const __nv_bfloat16 *)q + (long)h * d, q_stride,
                                                              (const __nv_bfloat16 *)k + (long)(h / group) * kv_cap * d,
                                                              n, d, S, N, qr, kr);
        CUDA_LAUNCH_CHECK("strided_copies");
        CUDA_CHECK(cudaMemsetAsync(score, 0, sizeof(double) * (size_t)nb * nb, 0));
        const double scale = 1.0 / (sqrt((double)d) * S);
        for (int u0 = 0; u0 < N; u0 += chunk) {
            const int rows = N - u0 < chunk ? N - u0 : chunk, cols = u0 + rows;
            gemm_nt(ws, z, cols, qr + (long)u0 * SD, SD, kr, SD, rows, cols, SD);
            xattention_block_sums<<<(rows + per_blk - 1) / per_blk, THREADS>>>(z, cols, u0, rows, N, per_blk, nb, scale,
                                                                               score, part);
            CUDA_LAUNCH_CHECK("xattention_block_sums");
        }
        double *keys = (double *)grow(&ws->keys, sizeof(double) * (size_t)(m_sort > 0 ? m_sort : 1), "xattention sort keys");
        int *vals = (int *)grow(&ws->vals, sizeof(int) * (size_t)(m_sort > 0 ? m_sort : 1), "xattention sort values");
        int *off = (int *)grow(&ws->offsets, sizeof(int) * (size_t)(nb + 1), "xattention sort segments");
        xattention_pack<<<blocks_for((long)nb * nb > nb + 1 ? (long)nb * nb : nb + 1), THREADS>>>(score, nb, keys, vals, off);
        CUDA_LAUNCH_CHECK("xattention_pack");
        const double *sk = keys;
        const int *sv = vals;
        if (m_sort > 0) {
            segmented_sort(ws, m_sort, nb);
            sk = (const double *)ws->keys_out.p;
            sv = (const int *)ws->vals_out.p;
        }
        xattention_select<<<blocks_for(32L * nb), THREADS>>>(score, nb, words, tau[h], sk, sv, bits + h * head_words);
        CUDA_LAUNCH_CHECK("xattention_select");
        if (scores)
            CUDA_CHECK(cudaMemcpy(scores + (size_t)h * nb * nb, score, sizeof(double) * (size_t)nb * nb, cudaMemcpyDeviceToHost));
    }
    CUDA_CHECK(cudaMemcpy(keep, bits, sizeof(uint64_t) * head_words * n_heads, cudaMemcpyDeviceToHost));
}
