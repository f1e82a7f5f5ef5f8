// estimate_xattention.cu — XAttention's estimate and selection on the GPU (estimate.h,
// est_cuda_xattention). Reference (CPU): baselines/xattention.c (xattention_head).
// Heads go in chunks of consecutive heads with the same stride (as many as the scratch budget
// allows), the rows of a chunk in row chunks of whole query blocks; per row chunk, all on the default
// stream: the strided logits (cuBLAS, one strided-batched product per run of heads of one KV head)
// -> causal softmax and key block sums (one CTA per query block and head) -> per query block the
// sort of its other key blocks and the cumulative walk (one CTA per query block and head) -> keep
// bits. The bits of all heads come back in one copy at the end.
#include "kernels/cuda/estimate.h"
#include "kernels/cuda/estimate_common.cuh"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/xattention_fixed.h"
#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"

using namespace est;

namespace {

enum {
    XA_MAX_HEADS = 32,   // heads per chunk (their thresholds travel as a kernel argument)
    XA_SMEM_SORT = 4096, // longest sort (padded to a power of two) done in shared memory: 48 KiB (opted in)
};

// Test-only DAM_CUDA_XA_SMALL=1: at most 2 heads per chunk, one query block of rows per row chunk,
// the sorts in device memory and the strided copies one bf16 at a time, so that small prompts take
// the paths of long ones (chunks that split a KV head's query heads, many row chunks, sorts longer
// than XA_SMEM_SORT) and of unaligned rows.
bool small_chunks(void) {
    const char *e = getenv("DAM_CUDA_XA_SMALL");
    if (e == NULL || strcmp(e, "0") == 0) return false;
    if (strcmp(e, "1") != 0) dam_die(DAM_EXIT_INPUT, "DAM_CUDA_XA_SMALL=\"%s\": must be 0 or 1", e);
    return true;
}

// XAttention's strided copies (xattention.c step 1) for the heads y of a chunk, stride S, [y][N][S][d]
// bf16: dst[y][u][m][c] = src[y · src_head + row · src_stride + c] with row = uS+S-1-m (queries,
// reverse) or uS+m (keys), zero for rows >= n. One T per thread: uint16_t (one bf16) or uint4 (eight:
// d, src_stride, src_head multiples of 8 and src 16-byte aligned). N · S · d < 2^31 (checked by the
// caller).
template <typename T>
__global__ void strided_copy(const uint16_t *src, long src_stride, long src_head, int n, int d, int S, int N,
                             bool reverse, uint16_t *dst) {
    const int V = (int)(sizeof(T) / sizeof(uint16_t)), SD = S * d;
    const long e_long = ((long)blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (e_long >= (long)N * SD) return;
    const int e = (int)e_long, c = e % d, um = e / d, u = um / S, m = um - u * S, row = reverse ? u * S + S - 1 - m : um;
    T v = T(); // zeros
    if (row < n) v = *(const T *)(src + blockIdx.y * src_head + (long)row * src_stride + c);
    *(T *)(dst + (long)blockIdx.y * N * SD + e) = v;
}

// The maximum of x[0 .. len) (fp32, x 16-byte aligned) over the CTA's threads (each thread's share;
// -inf for none): four float4 loads in flight per thread (the plain loop, which nvcc does not unroll,
// had one scalar load in flight).
__device__ inline float row_max(const float *x, int len) {
    const float4 *x4 = (const float4 *)x;
    const int n4 = len / 4;
    float m = -INFINITY;
    for (int c0 = threadIdx.x; c0 < n4; c0 += 4 * THREADS) {
        float4 v[4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int c = c0 + i * THREADS;
            v[i] = c < n4 ? x4[c] : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
        }
#pragma unroll
        for (int i = 0; i < 4; i++) m = fmaxf(m, fmaxf(fmaxf(v[i].x, v[i].y), fmaxf(v[i].z, v[i].w)));
    }
    const int t = 4 * n4 + (int)threadIdx.x;
    return t < len ? fmaxf(m, x[t]) : m;
}

// XAttention steps 2-3 for the query blocks of one row chunk (super-token rows u0 .. , u0 a multiple of
// per_blk), one CTA per query block qb and head y (grid (nq, heads); the last query blocks, the
// longest rows, first), rows u of the block ascending. Head y's logits: z[y · z_head + (u - u0) · ldz
// + t] (fp32). Per row: the maximum of the scaled logits z · scale (t <= u, float64: the fp32 maximum
// scaled, the same value since scaling by scale > 0 is monotone); each key block kb (owned by one
// thread) sums e_t = e^(x_t - max) over its super-tokens t ascending into part[kb] (the CTA's scratch
// row); the row's softmax denominator is the sum of those partial sums (tree); score[kb] +=
// part[kb] / denominator. score and part rows: [y][ql][nb] (ql = qb - u0 / per_blk); score zeroed
// before. One float64 exp per logit (the CPU adds e_t / denominator term by term: the scores agree to
// a few ulps). The exps of U consecutive super-tokens are computed before they are added (in order),
// U exps and loads in flight per thread; U divides per_blk (both powers of two); terms past the row
// end are e^-inf = +0.0, which changes no sum of non-negative terms. The kernel is bound by latency
// (ncu, run 33: issue slots ~50 % busy, warps waiting on loads): at 32K, 491 us a layer (run 31) -> 473
// with U = 8 (run 32) -> 395 with row_max's loads in flight too (run 35).
template <int U>
__global__ void __launch_bounds__(THREADS, 3)
    xattention_block_sums(const float *z, long ldz, long z_head, int u0, int N, int per_blk, int nb, double scale,
                          double *score, double *part_all) {
    __shared__ double red[THREADS / 32];
    const int y = blockIdx.y, nq = gridDim.x, ql = nq - 1 - blockIdx.x, qb = u0 / per_blk + ql;
    const long row = (long)y * nq + ql;
    double *srow = score + row * nb, *part = part_all + row * nb;
    z += y * z_head;
    for (int r = 0; r < per_blk; r++) {
        const int u = qb * per_blk + r;
        if (u >= N) break;
        const float *zr = z + (long)(u - u0) * ldz;
        const double m = block_max((double)row_max(zr, u + 1) * scale, red);
        double s = 0;
        for (int kb = threadIdx.x; kb * per_blk <= u; kb += THREADS) {
            double a = 0;
            const int t1 = min((kb + 1) * per_blk, u + 1);
            for (int t0 = kb * per_blk; t0 < t1; t0 += U) {
                double e[U];
#pragma unroll
                for (int j = 0; j < U; j++) e[j] = exp((t0 + j < t1 ? (double)zr[t0 + j] : -INFINITY) * scale - m);
#pragma unroll
                for (int j = 0; j < U; j++) a += e[j];
            }
            part[kb] = a;
            s += a;
        }
        s = block_sum(s, red);
        for (int kb = threadIdx.x; kb * per_blk <= u; kb += THREADS) srow[kb] += part[kb] / s;
    }
}

// A double's bits as an unsigned key in the same order (CUB's radix order; -0 below +0), and back.
__device__ inline unsigned long long order_key(double x) {
    const unsigned long long b = (unsigned long long)__double_as_longlong(x);
    return b ^ (b >> 63 ? ~0ull : 0x8000000000000000ull);
}

__device__ inline double order_value(unsigned long long o) {
    return __longlong_as_double((long long)(o ^ (o >> 63 ? 0x8000000000000000ull : ~0ull)));
}

// The sum over the CTA of one value per thread (integers: exact in any order). red: THREADS / 32.
__device__ inline unsigned long long block_sum_u64(unsigned long long v, unsigned long long *red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    v = 0;
    for (int i = 0; i < THREADS / 32; i++) v += red[i];
    return v;
}

// Per-head thresholds of a chunk (a kernel argument).
struct xa_taus {
    double v[XA_MAX_HEADS];
};

// XAttention step 4 for the query blocks of one row chunk, one CTA per query block qb = qb0 + ql and
// head y (grid (nq, heads); the longest rows first). The other key blocks kb = 1 .. qb-1 are sorted by
// score descending, ties to the lower kb (est_order_desc's order; a bitonic sort of (key, kb) over p
// entries, p the power of two >= qb - 1, sentinels last) in shared memory (dynamic, p_max entries of
// 12 bytes) or, with sort_global, in key[y][ql][p_max], val[...] (device memory). Then kb 0 and qb are
// kept and the first m sorted others, m = the fewest whose cumulative score (after s[0] + s[qb])
// reaches tau × the row total, all in XAttention's fixed point (baselines/xattention_fixed.h), where sums are
// exact in any order: the total is a CTA reduction; the cumulative score before sorted entry i is
// base + P_i (P the exclusive prefix sum over the sorted order, a CTA scan over contiguous per-thread
// ranges), non-decreasing in i, so m = #{i < L : base + P_i < target}, the same m as the CPU's
// sequential walk (est_xattention_cut). bits[y][qb][w] bit b = key block 64 w + b kept (atomicOr; the row
// must be zero before). score: [y][ql][nb] as xattention_block_sums writes it.
__global__ void xattention_select(const double *score, int nb, int words, int qb0, xa_taus tau, bool sort_global,
                                  int p_max, unsigned long long *gkey, int *gval, unsigned long long *bits) {
    extern __shared__ unsigned long long smem[];
    __shared__ unsigned long long red[THREADS / 32];
    const int y = blockIdx.y, nq = gridDim.x, ql = nq - 1 - blockIdx.x, qb = qb0 + ql, L = qb > 1 ? qb - 1 : 0;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const long row = (long)y * nq + ql;
    const double *s = score + row * nb;
    unsigned long long *key = sort_global ? gkey + row * p_max : smem;
    int *val = sort_global ? gval + row * p_max : (int *)(smem + p_max);
    int p = 1;
    while (p < L) p <<= 1;
    unsigned long long own = 0; // this thread's share of the row total
    for (int kb = threadIdx.x; kb <= qb; kb += THREADS) own += est_xattention_fixed(s[kb]);
    for (int i = threadIdx.x; i < p; i += blockDim.x) {
        key[i] = i < L ? order_key(s[1 + i]) : 0ull; // real keys are > 0 (scores >= +0)
        val[i] = i < L ? 1 + i : INT_MAX;
    }
    const unsigned long long total = block_sum_u64(own, red);
    const double t = tau.v[y] * (double)total; // keep while cum < t = fl(tau · total), i.e. cum < ceil(t) (integers)
    const unsigned long long target = (unsigned long long)ceil(t), base = est_xattention_fixed(s[0]) + (qb > 0 ? est_xattention_fixed(s[qb]) : 0ull);
    bitonic_sort_desc(key, val, p);
    // thread j's sorted entries: [j · per, (j + 1) · per) ∩ [0, L)
    const int per = (L + THREADS - 1) / THREADS, i0 = min(L, (int)threadIdx.x * per), i1 = min(L, i0 + per);
    unsigned long long mine = 0;
    for (int i = i0; i < i1; i++) mine += est_xattention_fixed(order_value(key[i]));
    unsigned long long incl = mine; // inclusive scan over the warp, then over the warps
    for (int o = 1; o < 32; o <<= 1) {
        const unsigned long long v = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += v;
    }
    if (lane == 31) red[warp] = incl; // red is free: bitonic_sort_desc ended with a barrier
    __syncthreads();
    unsigned long long cum = base + incl - mine; // base + P_i0
    for (int w = 0; w < warp; w++) cum += red[w];
    int count = 0;
    for (int i = i0; i < i1 && cum < target; i++) count++, cum += est_xattention_fixed(order_value(key[i]));
    const int m = (int)block_sum_u64((unsigned long long)count, red); // starts with a barrier: red is read
    unsigned long long *brow = bits + ((long)y * nb + qb) * words;
    if (threadIdx.x == 0) {
        atomicOr(brow, 1ull);
        atomicOr(brow + (qb >> 6), 1ull << (qb & 63));
    }
    for (int i = threadIdx.x; i < m; i += THREADS) {
        const int kb = val[i];
        atomicOr(brow + (kb >> 6), 1ull << (kb & 63));
    }
}

int pow2_at_least(int x) {
    int p = 1;
    while (p < x) p <<= 1;
    return p;
}

} // namespace

extern "C" void est_cuda_xattention(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap,
                                    int n, int n_heads, int n_kv_heads, int d, const int *stride, const double *tau,
                                    uint64_t *keep, double *scores) {
    check_shape("est_cuda_xattention", n, n_heads, n_kv_heads, d);
    const int nb = (n + BLOCK - 1) / BLOCK, words = (nb + 63) / 64, group = n_heads / n_kv_heads;
    const size_t head_words = (size_t)nb * words;
    unsigned long long *bits = (unsigned long long *)grow(&ws->bits, sizeof(uint64_t) * head_words * n_heads,
                                                          "xattention keep bits");
    CUDA_CHECK(cudaMemsetAsync(bits, 0, sizeof(uint64_t) * head_words * n_heads, 0));
    ws->map_n = 0; // ws->keys may be overwritten (the global sort): dam_online's map is gone
    const double budget = chunk_bytes();
    const bool small = small_chunks();
    const int p_all = pow2_at_least(nb - 2); // the longest sort: query block nb - 1
    // strided copies eight bf16 at a time when every row starts 16-byte aligned (scalar with DAM_CUDA_XA_SMALL)
    const bool vec8 = !small && d % 8 == 0 && q_stride % 8 == 0 && (long)kv_cap * d % 8 == 0 && (uintptr_t)q % 16 == 0 &&
                      (uintptr_t)k % 16 == 0;
    if (!small && p_all <= XA_SMEM_SORT) // 48 KiB of sort entries beside the kernel's static shared memory
        CUDA_CHECK(cudaFuncSetAttribute(xattention_select, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        (int)((sizeof(uint64_t) + sizeof(int)) * XA_SMEM_SORT)));
    for (int h0 = 0; h0 < n_heads;) {
        const int S = stride[h0];
        if (S < 1 || BLOCK % S != 0) dam_die(DAM_EXIT_RUNTIME, "internal error: xattention stride %d", S);
        const int N = (n + S - 1) / S, per_blk = BLOCK / S, SD = S * d, ldz_max = (N + 3) & ~3;
        if ((long)N * SD > INT_MAX) dam_die(DAM_EXIT_RUNTIME, "xattention: %d tokens x d %d is too large", n, d);
        int run = 1; // heads h0 .. h0 + run - 1 have stride S
        while (h0 + run < n_heads && stride[h0 + run] == S && run < (small ? 2 : XA_MAX_HEADS)) run++;
        // rows per chunk R: XA_CHUNK super-token rows (whole query blocks) or all N; heads per chunk from
        // the per-head scratch under the budget: strided q and k, logits [R][ldz], block sums and their
        // scratch [R / per_blk][nb], the sorts in device memory [R / per_blk][p_all] (when the longest
        // does not fit shared memory). One head may need more than the budget (about 1 GB at 1M tokens,
        // d 128): fewer rows per chunk would re-read the strided keys once per chunk.
        const bool sort_global = small || p_all > XA_SMEM_SORT;
        const double row_bytes = 4.0 * ldz_max + (16.0 * nb + (sort_global ? 12.0 * p_all : 0)) / per_blk;
        const double fixed = 4.0 * N * SD;
        long R = small ? per_blk : N < XA_CHUNK ? N : XA_CHUNK;
        if (R > N) R = N;
        const int hc = (int)fmax(1.0, fmin((double)run, budget / (fixed + row_bytes * R)));
        const int nq_max = (int)((R + per_blk - 1) / per_blk);
        const int g0 = h0 / group, gc = (h0 + hc - 1) / group - g0 + 1; // KV heads g0 .. g0 + gc - 1
        const long q_head = (long)N * SD;
        uint16_t *qr = (uint16_t *)grow(&ws->qr, sizeof(uint16_t) * (size_t)hc * q_head, "xattention strided q");
        uint16_t *kr = (uint16_t *)grow(&ws->kr, sizeof(uint16_t) * (size_t)gc * q_head, "xattention strided k");
        float *z = (float *)grow(&ws->z, sizeof(float) * (size_t)hc * R * ldz_max, "xattention strided logits");
        double *score = (double *)grow(&ws->score, sizeof(double) * (size_t)hc * nq_max * nb, "xattention block scores");
        double *part = (double *)grow(&ws->part, sizeof(double) * (size_t)hc * nq_max * nb, "xattention partial sums");
        unsigned long long *gkey = NULL;
        int *gval = NULL;
        if (sort_global) {
            gkey = (unsigned long long *)grow(&ws->keys, sizeof(uint64_t) * (size_t)hc * nq_max * p_all, "xattention sort keys");
            gval = (int *)grow(&ws->vals, sizeof(int) * (size_t)hc * nq_max * p_all, "xattention sort values");
        }
        xa_taus taus;
        for (int y = 0; y < XA_MAX_HEADS; y++) taus.v[y] = y < hc ? tau[h0 + y] : 0.0;
        const uint16_t *qh = q + (long)h0 * d, *kh = k + (long)g0 * kv_cap * d;
        if (vec8) {
            strided_copy<uint4><<<dim3(blocks_for(q_head / 8), hc), THREADS>>>(qh, q_stride, d, n, d, S, N, true, qr);
            CUDA_LAUNCH_CHECK("strided_copy (q)");
            strided_copy<uint4><<<dim3(blocks_for(q_head / 8), gc), THREADS>>>(kh, d, (long)kv_cap * d, n, d, S, N, false, kr);
            CUDA_LAUNCH_CHECK("strided_copy (k)");
        } else {
            strided_copy<uint16_t><<<dim3(blocks_for(q_head), hc), THREADS>>>(qh, q_stride, d, n, d, S, N, true, qr);
            CUDA_LAUNCH_CHECK("strided_copy (q)");
            strided_copy<uint16_t><<<dim3(blocks_for(q_head), gc), THREADS>>>(kh, d, (long)kv_cap * d, n, d, S, N, false, kr);
            CUDA_LAUNCH_CHECK("strided_copy (k)");
        }
        const double scale = 1.0 / (sqrt((double)d) * S);
        for (long u0 = 0; u0 < N; u0 += R) {
            // ldz a multiple of 4 floats: every logit row starts 16-byte aligned (row_max's float4 loads)
            const int rows = (int)(N - u0 < R ? N - u0 : R), cols = (int)u0 + rows, ldz = (cols + 3) & ~3;
            const long z_head = (long)rows * ldz;
            for (int ya = 0; ya < hc;) { // one product per run of heads of one KV head (they share kr)
                const int g = (h0 + ya) / group;
                int yb = ya + 1;
                while (yb < hc && (h0 + yb) / group == g) yb++;
                gemm_nt(ws, z + ya * z_head, ldz, qr + ya * q_head + u0 * SD, SD, kr + (g - g0) * q_head, SD, rows, cols, SD,
                        yb - ya, q_head, 0, z_head);
                ya = yb;
            }
            const int nq = (rows + per_blk - 1) / per_blk, qb0 = (int)(u0 / per_blk);
            CUDA_CHECK(cudaMemsetAsync(score, 0, sizeof(double) * (size_t)hc * nq * nb, 0));
            const dim3 grid(nq, hc);
            if (per_blk >= 8) xattention_block_sums<8><<<grid, THREADS>>>(z, ldz, z_head, (int)u0, N, per_blk, nb, scale, score, part);
            else if (per_blk >= 4) xattention_block_sums<4><<<grid, THREADS>>>(z, ldz, z_head, (int)u0, N, per_blk, nb, scale, score, part);
            else if (per_blk >= 2) xattention_block_sums<2><<<grid, THREADS>>>(z, ldz, z_head, (int)u0, N, per_blk, nb, scale, score, part);
            else xattention_block_sums<1><<<grid, THREADS>>>(z, ldz, z_head, (int)u0, N, per_blk, nb, scale, score, part);
            CUDA_LAUNCH_CHECK("xattention_block_sums");
            const int p = pow2_at_least(qb0 + nq - 2); // the chunk's longest sort
            const size_t smem = sort_global ? 0 : (sizeof(uint64_t) + sizeof(int)) * (size_t)p;
            xattention_select<<<dim3(nq, hc), THREADS, smem>>>(score, nb, words, qb0, taus, sort_global, p, gkey, gval,
                                                               bits + h0 * head_words);
            CUDA_LAUNCH_CHECK("xattention_select");
            for (int y = 0; y < hc && scores; y++)
                CUDA_CHECK(cudaMemcpy(scores + ((size_t)(h0 + y) * nb + qb0) * nb, score + (size_t)y * nq * nb,
                                      sizeof(double) * (size_t)nq * nb, cudaMemcpyDeviceToHost));
        }
        h0 += hc;
    }
    CUDA_CHECK(cudaMemcpy(keep, bits, sizeof(uint64_t) * head_words * n_heads, cudaMemcpyDeviceToHost));
}
