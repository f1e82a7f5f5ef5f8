// estimate_xattention.cu — XAttention's estimate and selection on the GPU (estimate.h,
// est_cuda_xattention). Reference (CPU): baselines/xattention.c (xattention_head).
// Heads go in chunks of consecutive heads with the same stride (as many as the scratch budget
// allows), the rows of a chunk in row chunks of whole query blocks; per row chunk, all on the default
// stream: the strided logits (cuBLAS, one strided-batched product over the chunk's heads)
// -> causal softmax and key block sums (one CTA per query block and head) -> per query block the
// sort of its other key blocks and the cumulative walk -> keep bits. The select: up to 514 query
// blocks (n <= 32,896), one warp per query block in one launch after the chunk's row chunks; else
// (and with DAM_CUDA_XA_SMALL) one CTA per query block and head per row chunk. The bits of all heads
// come back in one copy at the end.
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
    XA_WARP_ROWS = 4096, // longest head (super-tokens) whose block sums take the warp kernel (warp_rows)
    XA_WARP_SORT_E = 16, // longest sort of the warp select: 32 · 16 = 512 entries (nb <= 514: n <= 32,896; at 64K
                         // the 1,024-entry sorts' 250 registers left one CTA per SM, slower than the CTA select: run 86)
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
// bf16: dst[y][u][m][c] = src[((y + y_off) / src_group) · src_head + row · src_stride + c] with row =
// uS+S-1-m (queries, reverse) or uS+m (keys), zero for rows >= n (queries: src_group 1, y_off 0;
// keys: each query head's copy of its KV head, src_group = the GQA group, y_off = h0 mod group). One T per thread: uint16_t (one bf16) or uint4 (eight:
// d, src_stride, src_head multiples of 8 and src 16-byte aligned). N · S · d < 2^31 (checked by the
// caller).
template <typename T>
__global__ void strided_copy(const uint16_t *src, long src_stride, long src_head, int src_group, int y_off, int n, int d,
                             int S, int N, bool reverse, uint16_t *dst) {
    const int V = (int)(sizeof(T) / sizeof(uint16_t)), SD = S * d;
    const long e_long = ((long)blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (e_long >= (long)N * SD) return;
    const int e = (int)e_long, c = e % d, um = e / d, u = um / S, m = um - u * S, row = reverse ? u * S + S - 1 - m : um;
    T v = T(); // zeros
    if (row < n) v = *(const T *)(src + (long)((blockIdx.y + y_off) / src_group) * src_head + (long)row * src_stride + c);
    *(T *)(dst + (long)blockIdx.y * N * SD + e) = v;
}

// The maximum of x[0 .. len) (fp32, x 16-byte aligned) over the threads that call it with lanes
// 0 .. STRIDE - 1 (each its share; -inf for none): four float4 loads in flight per thread (the plain
// loop, which nvcc does not unroll, had one scalar load in flight). STRIDE = THREADS: the CTA's share
// of each thread; STRIDE = 32: a warp's.
template <int STRIDE>
__device__ inline float share_max(const float *x, int len, int lane) {
    const float4 *x4 = (const float4 *)x;
    const int n4 = len / 4;
    float m = -INFINITY;
    for (int c0 = lane; c0 < n4; c0 += 4 * STRIDE) {
        float4 v[4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int c = c0 + i * STRIDE;
            v[i] = c < n4 ? x4[c] : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
        }
#pragma unroll
        for (int i = 0; i < 4; i++) m = fmaxf(m, fmaxf(fmaxf(v[i].x, v[i].y), fmaxf(v[i].z, v[i].w)));
    }
    return 4 * n4 + lane < len ? fmaxf(m, x[4 * n4 + lane]) : m;
}

// Key block kb's share of row u: the sum of e_t = e^(zr[t] · scale - m) over its super-tokens t <=
// u, t ascending; the exps of U consecutive super-tokens are computed before they are added (in
// order: U does not change the sum), U exps and loads in flight (U = 4: one float4 load, which needs
// zr 16-byte aligned and its row padded to a multiple of 4 floats, as est_cuda_xattention's ldz is;
// it may read the row's padding past the GEMM's columns, never written, whose terms are masked);
// U divides per_blk (both powers of two); terms past the row end are e^-inf = +0.0, which changes no
// sum of non-negative terms.
template <int U>
__device__ inline double key_block_sum(const float *zr, int kb, int per_blk, int u, double scale, double m) {
    double a = 0;
    const int t1 = min((kb + 1) * per_blk, u + 1);
    for (int t0 = kb * per_blk; t0 < t1; t0 += U) {
        float z[U];
        if constexpr (U == 4) { // one 16-byte load (t0 a multiple of 4, zr 16-byte aligned; t0 + 3 < ldz)
            const float4 v = *(const float4 *)(zr + t0);
            z[0] = v.x, z[1] = v.y, z[2] = v.z, z[3] = v.w;
        } else {
#pragma unroll
            for (int j = 0; j < U; j++) z[j] = t0 + j < t1 ? zr[t0 + j] : 0.0f;
        }
        double e[U];
#pragma unroll
        for (int j = 0; j < U; j++) e[j] = exp((t0 + j < t1 ? (double)z[j] : -INFINITY) * scale - m);
#pragma unroll
        for (int j = 0; j < U; j++) a += e[j];
    }
    return a;
}

// XAttention steps 2-3 for the query blocks of one row chunk (super-token rows u0 .. , u0 a multiple of
// per_blk), one CTA of THREADS threads per query block qb and head y (grid (nq, heads); the last query
// blocks, the longest rows, first). Head y's logits: z[y · z_head + (u - u0) · ldz + t] (fp32). Per row
// u: m = the maximum of the scaled logits z · scale (t <= u; float64: the fp32 maximum scaled, the same
// value since scaling by scale > 0 is monotone); each key block kb <= u / per_blk sums its terms
// (key_block_sum) into a_kb; the row's softmax denominator s is the sum of the a_kb in CTA-tree order:
// thread t adds a_kb for kb = t, t + THREADS, ... ascending, a butterfly over each warp's 32 threads,
// then the 8 warps' sums in warp order; score[kb] = sum over the block's rows ascending of a_kb / s
// (from 0; every row of query block qb reaches every kb <= qb). score rows: [y][ql][nb] (ql = qb -
// u0 / per_blk; s_rows rows per head). One float64 exp per logit (the CPU adds e_t / denominator term by term: the scores
// agree to a few ulps). Two kernels compute exactly this, bit for bit (the same operations in the same
// order), and est_cuda_xattention picks one per head (warp_rows):
//   xattention_block_sums_cta: rows one at a time, each over the whole CTA (a_kb in part[y][ql][nb],
//     four barriers a row). Best for long rows; on short ones half its cycles are barrier waits and,
//     below 2,048 super-tokens (256 key blocks at stride 8), most threads idle (ncu, run 66: 69 us for the first 1,024-row chunk at
//     32K, 129 for the last).
//   xattention_block_sums_warp: warp w takes the rows r = w, w + 8, ... (eight in flight per CTA, no
//     barrier per row); lane L owns kb = L + 32 j and keeps the eight CTA-tree shares (j mod 8) apart;
//     a_kb in part[y][ql][r][nb] (per_blk times the CTA kernel's scratch); one barrier, then the scores
//     (run 70: 28 us for that first chunk, 124 for the last).
template <int U>
__global__ void __launch_bounds__(THREADS, 3)
    xattention_block_sums_cta(const float *z, long ldz, long z_head, int u0, int N, int per_blk, int nb, double scale,
                              int s_rows, double *score, double *part_all) {
    __shared__ double red[THREADS / 32];
    const int y = blockIdx.y, nq = gridDim.x, ql = nq - 1 - blockIdx.x, qb = u0 / per_blk + ql;
    const long row = (long)y * nq + ql;
    double *srow = score + ((long)y * s_rows + ql) * nb, *part = part_all + row * nb;
    z += y * z_head;
    for (int r = 0; r < per_blk; r++) {
        const int u = qb * per_blk + r;
        if (u >= N) break;
        const float *zr = z + (long)(u - u0) * ldz;
        const double m = block_max((double)share_max<THREADS>(zr, u + 1, threadIdx.x) * scale, red);
        double s = 0;
        for (int kb = threadIdx.x; kb * per_blk <= u; kb += THREADS) s += part[kb] = key_block_sum<U>(zr, kb, per_blk, u, scale, m);
        s = block_sum(s, red);
        for (int kb = threadIdx.x; kb * per_blk <= u; kb += THREADS) srow[kb] += part[kb] / s;
    }
}

template <int U>
__global__ void __launch_bounds__(THREADS, 3)
    xattention_block_sums_warp(const float *z, long ldz, long z_head, int u0, int N, int per_blk, int nb, double scale,
                               int s_rows, double *score, double *part_all) {
    constexpr int WARPS = THREADS / 32;
    __shared__ double row_sum[BLOCK]; // s of each row of the block, per_blk <= BLOCK
    const int y = blockIdx.y, nq = gridDim.x, ql = nq - 1 - blockIdx.x, qb = u0 / per_blk + ql;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const long row = (long)y * nq + ql;
    double *srow = score + ((long)y * s_rows + ql) * nb, *part = part_all + row * per_blk * nb;
    z += y * z_head;
    for (int r = warp; r < per_blk; r += WARPS) {
        const int u = qb * per_blk + r;
        if (u >= N) break;
        const float *zr = z + (long)(u - u0) * ldz;
        float mf = share_max<32>(zr, u + 1, lane);
        for (int o = 16; o > 0; o >>= 1) mf = fmaxf(mf, __shfl_xor_sync(0xffffffffu, mf, o));
        const double m = (double)mf * scale;
        double share[WARPS] = {}; // CTA thread 32 w + lane's share: kb = lane + 32 w + THREADS i
        for (int kb0 = lane; kb0 * per_blk <= u; kb0 += THREADS)
#pragma unroll
            for (int w = 0; w < WARPS; w++) {
                const int kb = kb0 + 32 * w;
                if (kb * per_blk <= u) share[w] += part[(long)r * nb + kb] = key_block_sum<U>(zr, kb, per_blk, u, scale, m);
            }
        double s = 0;
#pragma unroll
        for (int w = 0; w < WARPS; w++) {
            double v = share[w];
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            s = w == 0 ? v : s + v;
        }
        if (lane == 0) row_sum[r] = s;
    }
    __syncthreads();
    const int rows = min(per_blk, N - qb * per_blk);
    for (int kb = threadIdx.x; kb <= qb; kb += THREADS) {
        double v = 0;
        for (int r = 0; r < rows; r++) v += part[(long)r * nb + kb] / row_sum[r];
        srow[kb] = v;
    }
}

// The block-sums kernel for per_blk rows per query block: exps in flight per thread U = min(per_blk,
// 8) on the CTA kernel, min(per_blk, 4) on the warp kernel (eight would spill there).
typedef void (*block_sums_fn)(const float *, long, long, int, int, int, int, double, int, double *, double *);
block_sums_fn block_sums_kernel(bool warp, int per_blk) {
    if (warp)
        return per_blk >= 4 ? xattention_block_sums_warp<4> : per_blk >= 2 ? xattention_block_sums_warp<2> : xattention_block_sums_warp<1>;
    return per_blk >= 8   ? xattention_block_sums_cta<8>
           : per_blk >= 4 ? xattention_block_sums_cta<4>
           : per_blk >= 2 ? xattention_block_sums_cta<2>
                          : xattention_block_sums_cta<1>;
}

// Which block-sums kernel the rows of a head with N super-tokens (per_blk rows per query block) take:
// the warp kernel when N <= XA_WARP_ROWS and per_blk >= 8 (stride <= 8: every warp of the CTA has a
// row; at stride 8, prompts up to 32K tokens; runs 66-70: 2.5x faster on the first 1,024-row chunk at
// 32K, about equal on the last), else the CTA kernel, for all rows of the head (run 70: with the warp
// kernel on a long head's first chunks, its per_blk times larger scratch left fewer heads per chunk
// under the budget at 128K, and the estimate was 9 % slower). Only stride 8 was measured. Test-only
// DAM_CUDA_XA_ROWS_KERNEL=cta|warp forces one (the results are the same bit for bit); warp for a head
// of more than XA_WARP_ROWS super-tokens exits with 2.
bool warp_rows(long n_super, int per_blk) {
    const char *e = getenv("DAM_CUDA_XA_ROWS_KERNEL");
    if (e == NULL || *e == 0) return n_super <= XA_WARP_ROWS && per_blk >= 8;
    if (strcmp(e, "cta") == 0) return false;
    if (strcmp(e, "warp") != 0) dam_die(DAM_EXIT_INPUT, "DAM_CUDA_XA_ROWS_KERNEL=\"%s\": must be cta or warp", e);
    if (n_super > XA_WARP_ROWS)
        dam_die(DAM_EXIT_INPUT, "DAM_CUDA_XA_ROWS_KERNEL=warp: %ld super-tokens exceed the warp kernel's %d", n_super,
                XA_WARP_ROWS);
    return true;
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

// The least power of two >= x (1 for x <= 1); host and device.
__host__ __device__ inline int pow2_at_least(int x) {
    int p = 1;
    while (p < x) p <<= 1;
    return p;
}

// The order of the sorts: (ka, va) before (kb, vb) when the key is larger, equal keys by the smaller
// val (bitonic_sort_desc's order).
__device__ inline bool sorts_before(unsigned long long ka, int va, unsigned long long kb, int vb) {
    return ka > kb || (ka == kb && va < vb);
}

// One step (k, j) of the bitonic network for the pairs within a lane's registers (j = J < E): entry i
// = E · lane + r pairs with i + J (r with bit J clear), ordered "first" when bit k of i is clear.
template <int E, int J>
__device__ inline void sort_step_registers(unsigned long long (&key)[E], int (&val)[E], int lane, int k) {
#pragma unroll
    for (int r = 0; r < E; r++)
        if ((r & J) == 0) {
            const bool up = ((E * lane + r) & k) == 0;
            if (sorts_before(key[r], val[r], key[r | J], val[r | J]) != up) {
                const unsigned long long tk = key[r];
                const int tv = val[r];
                key[r] = key[r | J], val[r] = val[r | J], key[r | J] = tk, val[r | J] = tv;
            }
        }
}

// Bitonic sort of the 32 · E entries a warp holds in registers (E per lane, any placement) into
// sorts_before's order, entry i = E · lane + r in key[r], val[r] of lane i / E: the same network as
// bitonic_sort_desc (pairs (a, a + j), a with bit j clear, ordered "first" when bit k of a is clear),
// the pairs j < E within a lane's registers (sort_step_registers), the others between lanes (lane
// distance j / E, one shuffle per register). No shared memory, no barrier. The loops over k and j
// stay loops (only the register index r is unrolled), for code size: fully unrolled (with global
// atomics for the bits) the one-launch select took 89.6 us at 32K, as loops (with ballots) 90.8 (run
// 86 c2, c4: no difference measured). Every lane of the warp calls it.
template <int E>
__device__ inline void warp_bitonic_sort_desc(unsigned long long (&key)[E], int (&val)[E], int lane) {
#pragma unroll 1
    for (int k = 2; k <= 32 * E; k <<= 1)
#pragma unroll 1
        for (int j = k >> 1; j > 0; j >>= 1) {
            if (j >= E) {
                const int lj = j / E;
                const bool lower = (lane & lj) == 0;
#pragma unroll
                for (int r = 0; r < E; r++) {
                    const unsigned long long ko = __shfl_xor_sync(0xffffffffu, key[r], lj);
                    const int vo = __shfl_xor_sync(0xffffffffu, val[r], lj);
                    const bool up = ((E * (lane & ~lj) + r) & k) == 0; // bit k of the pair's lower index
                    const bool lower_first = lower ? sorts_before(key[r], val[r], ko, vo) : sorts_before(ko, vo, key[r], val[r]);
                    if (lower_first != up) key[r] = ko, val[r] = vo; // the pair swaps: each lane takes the other's entry
                }
            } else if constexpr (E > 1) {
                switch (j) {
                case 1: sort_step_registers<E, 1>(key, val, lane, k); break;
                case 2: if constexpr (E > 2) sort_step_registers<E, 2>(key, val, lane, k); break;
                case 4: if constexpr (E > 4) sort_step_registers<E, 4>(key, val, lane, k); break;
                case 8: if constexpr (E > 8) sort_step_registers<E, 8>(key, val, lane, k); break;
                } // (E <= XA_WARP_SORT_E = 16: j < E is at most 8)
            }
        }
}

// The sum over a warp of one integer per lane (exact in any order).
__device__ inline unsigned long long warp_sum_u64(unsigned long long v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// xattention_select's cut for query block qb (row scores s, threshold tau) by one warp, its L = qb - 1
// other key blocks (L <= 32 · E) sorted in registers (E per lane): the same keys, order, fixed-point
// sums and m as the CTA kernel (so the same bits); the row's words built from ballots against the
// last kept entry and stored into brow[0 .. words), not or-ed into memory. Every lane calls it.
template <int E>
__device__ inline void select_row_warp(const double *s, int qb, int L, double tau, int words, unsigned long long *brow,
                                       int lane) {
    unsigned long long own = 0; // this lane's share of the row total
    for (int kb = lane; kb <= qb; kb += 32) own += est_xattention_fixed(s[kb]);
    const unsigned long long total = warp_sum_u64(own);
    unsigned long long key[E];
    int val[E];
#pragma unroll
    for (int r = 0; r < E; r++) { // coalesced loads: entry r · 32 + lane is key block 1 + r · 32 + lane
        const int i = r * 32 + lane;
        key[r] = i < L ? order_key(s[1 + i]) : 0ull; // real keys are > 0 (scores >= +0)
        val[r] = i < L ? 1 + i : INT_MAX;
    }
    const double t = tau * (double)total; // as xattention_select: keep while cum < ceil(t)
    const unsigned long long target = (unsigned long long)ceil(t),
                             base = est_xattention_fixed(s[0]) + (qb > 0 ? est_xattention_fixed(s[qb]) : 0ull);
    warp_bitonic_sort_desc<E>(key, val, lane);
    // this lane's sorted entries: i = E · lane + r (contiguous), i < L
    unsigned long long f[E], mine = 0;
#pragma unroll
    for (int r = 0; r < E; r++) mine += f[r] = E * lane + r < L ? est_xattention_fixed(order_value(key[r])) : 0ull;
    unsigned long long incl = mine;
    for (int o = 1; o < 32; o <<= 1) {
        const unsigned long long v = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += v;
    }
    unsigned long long cum = base + incl - mine; // base + P_i at i = E · lane
    int count = 0;
#pragma unroll
    for (int r = 0; r < E; r++) {
        count += E * lane + r < L && cum < target;
        cum += f[r];
    }
    const int m = (int)warp_sum_u64((unsigned long long)count);
    // the pivot: sorted entry m - 1, the last one kept (lane (m - 1) / E, register (m - 1) % E); another
    // key block is kept iff the pivot does not sort before it
    unsigned long long pk = 0, ck = 0;
    int pv = 0, cv = 0;
#pragma unroll
    for (int r = 0; r < E; r++) { // (selects, not an indexed read: key[] stays in registers)
        const bool is_pivot = E * lane + r == m - 1;
        ck = is_pivot ? key[r] : ck, cv = is_pivot ? val[r] : cv;
    }
    if (m > 0) pk = __shfl_sync(0xffffffffu, ck, (m - 1) / E), pv = __shfl_sync(0xffffffffu, cv, (m - 1) / E);
    // the row's words from ballots over 32 key blocks at a time (kb = 32 c + lane; qb <= 32 E + 1): lane
    // c / 2 holds word c / 2; no atomics, the whole row stored (one warp a row)
    unsigned long long word = 0;
#pragma unroll
    for (int c = 0; c < E + 2; c++) {
        const int kb = 32 * c + lane;
        const bool other = kb >= 1 && kb < qb;
        const bool keep = kb == 0 || kb == qb || (other && m > 0 && !sorts_before(pk, pv, order_key(s[kb]), kb));
        const unsigned b = __ballot_sync(0xffffffffu, keep && kb <= qb);
        if (lane == c / 2) word |= (unsigned long long)b << (32 * (c % 2));
    }
    static_assert((32 * XA_WARP_SORT_E + 2 + 63) / 64 <= 32, "a row's words are one per lane");
    if (lane < words) brow[lane] = word;
}

// The warp select: one warp per query block qb = qb0 + ql (score rows [y][nq][nb]), each row's sort
// sized to the row (E = max(1, p / 32), p the power of two >= qb - 1: the short rows of a launch over
// all query blocks do not pay the longest row's network), for rows up to EMAX. CTAs of THREADS threads
// take WARPS query blocks each, the longest rows first (grid (ceil(nq / WARPS), heads)). The CTA
// kernel spends most of its time at the barriers and shared-memory passes of its sort's 45 steps (512
// entries); here the steps are register exchanges and shuffles (run 86: 73 us for the 4,608 rows of
// SmolLM2's nine heads at 32K in one launch, against 127 us for the CTA select's four launches).
template <int EMAX>
__global__ void __launch_bounds__(THREADS)
    xattention_select_warp(const double *score, int nb, int words, int qb0, int nq, xa_taus tau, unsigned long long *bits) {
    constexpr int WARPS = THREADS / 32;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, y = blockIdx.y, ql = nq - 1 - (blockIdx.x * WARPS + warp);
    if (ql < 0) return;
    const int qb = qb0 + ql, L = qb > 1 ? qb - 1 : 0;
    const double *s = score + ((long)y * nq + ql) * nb;
    unsigned long long *brow = bits + ((long)y * nb + qb) * words;
    const int e = L <= 32 ? 1 : pow2_at_least(L) / 32; // warp-uniform
    switch (e) {
    case 1: select_row_warp<1>(s, qb, L, tau.v[y], words, brow, lane); break;
    case 2: if constexpr (EMAX >= 2) select_row_warp<2>(s, qb, L, tau.v[y], words, brow, lane); else __trap(); break;
    case 4: if constexpr (EMAX >= 4) select_row_warp<4>(s, qb, L, tau.v[y], words, brow, lane); else __trap(); break;
    case 8: if constexpr (EMAX >= 8) select_row_warp<8>(s, qb, L, tau.v[y], words, brow, lane); else __trap(); break;
    case 16: if constexpr (EMAX >= 16) select_row_warp<16>(s, qb, L, tau.v[y], words, brow, lane); else __trap(); break;
    default: __trap(); // longer than the launch's EMAX: the host sized it from the longest row
    }
}

typedef void (*select_warp_fn)(const double *, int, int, int, int, xa_taus, unsigned long long *);

// Test-only DAM_CUDA_XA_SELECT: unset or empty 0 (the default: the warp select when the head's
// longest sort has at most 32 · XA_WARP_SORT_E entries, nb <= 514, and not DAM_CUDA_XA_SMALL), cta
// 1 (the CTA select), warp 2 (also with DAM_CUDA_XA_SMALL; longer sorts exit with 2). The bits are
// the same.
int select_knob(void) {
    const char *e = getenv("DAM_CUDA_XA_SELECT");
    if (e == NULL || *e == 0) return 0;
    if (strcmp(e, "cta") == 0) return 1;
    if (strcmp(e, "warp") == 0) return 2;
    dam_die(DAM_EXIT_INPUT, "DAM_CUDA_XA_SELECT=\"%s\": must be cta or warp", e);
}

// The warp select for sorts of p <= 32 · XA_WARP_SORT_E entries (p a power of two): E = max(1, p / 32).
select_warp_fn select_warp_for(int p) {
    switch (p <= 32 ? 1 : p / 32) {
    case 1: return xattention_select_warp<1>;
    case 2: return xattention_select_warp<2>;
    case 4: return xattention_select_warp<4>;
    case 8: return xattention_select_warp<8>;
    case 16: return xattention_select_warp<16>;
    default: dam_die(DAM_EXIT_RUNTIME, "internal error: warp select for a sort of %d entries", p);
    }
}

// Launches a warp select over nq query blocks (from qb0) of hc heads, WARPS query blocks a CTA.
void launch_select_warp(select_warp_fn fn, const double *score, int nb, int words, int qb0, int nq, int hc, xa_taus taus,
                        unsigned long long *bits) {
    const int warps = THREADS / 32;
    fn<<<dim3((nq + warps - 1) / warps, hc), THREADS>>>(score, nb, words, qb0, nq, taus, bits);
    CUDA_LAUNCH_CHECK("xattention_select_warp");
}

// Super-token rows per row chunk: XA_CHUNK, or test / bench-only DAM_CUDA_XA_CHUNK_ROWS (a positive
// multiple of 64, so whole query blocks at every stride). The results do not depend on it.
long chunk_rows(void) {
    const char *e = getenv("DAM_CUDA_XA_CHUNK_ROWS");
    if (e == NULL || *e == 0) return XA_CHUNK;
    char *end;
    const long v = strtol(e, &end, 10);
    if (end == e || *end != '\0' || v < 64 || v % 64 != 0 || v > (1L << 24))
        dam_die(DAM_EXIT_INPUT, "DAM_CUDA_XA_CHUNK_ROWS=\"%s\": must be a positive multiple of 64 (at most 2^24)", e);
    return v;
}

} // namespace

extern "C" void est_cuda_xattention(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap,
                                    int n, int n_heads, int n_kv_heads, int d, const int *stride, const double *tau,
                                    uint64_t *keep, double *scores) {
    check_shape("est_cuda_xattention", n, n_heads, n_kv_heads, d);
    phases_begin(ws);
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
        // scratch [R / per_blk][nb] (the warp kernel's: [R][nb]), the block scores [R / per_blk][nb] (with
        // the one-launch select below [nb][nb], kept for all rows), the sorts in device memory
        // [R / per_blk][p_all] (when the longest does not fit shared memory). One head may need more than
        // the budget (about 1 GB at 1M tokens, d 128): fewer rows per chunk would re-read the strided keys
        // once per chunk.
        const bool sort_global = small || p_all > XA_SMEM_SORT;
        const bool warp = warp_rows(N, per_blk); // the warp kernel keeps per_blk rows of partial sums per query block
        // the select: when the warp kernel takes the longest sort, one launch over all nb query blocks of
        // the chunk's heads after the row chunks (the block scores of every row kept: 8 nb² bytes a head),
        // four times the warps of one row chunk's launch at 32K (a warp's sort is a chain of dependent
        // steps: run 86, 44 us for a row chunk's 1,152 warps); else one per row chunk
        const int knob = select_knob();
        if (knob == 2 && p_all > 32 * XA_WARP_SORT_E)
            dam_die(DAM_EXIT_INPUT, "DAM_CUDA_XA_SELECT=warp: sorts of %d entries exceed the warp kernel's %d", p_all,
                    32 * XA_WARP_SORT_E);
        const bool warp_select = knob == 2 || (knob == 0 && !small && p_all <= 32 * XA_WARP_SORT_E);
        const select_warp_fn select_all = warp_select && !small ? select_warp_for(p_all) : NULL;
        const double row_bytes = 4.0 * ldz_max + 8.0 * nb / (warp ? 1 : per_blk) + // logits, block sums' scratch
                                 ((select_all ? 0.0 : 8.0) * nb + (sort_global ? 12.0 * p_all : 0)) / per_blk;
        const double fixed = 4.0 * N * SD + (select_all ? 8.0 * nb * nb : 0);
        const long rows_cap = chunk_rows();
        long R = small ? per_blk : N < rows_cap ? N : rows_cap;
        if (R > N) R = N;
        const int hc = (int)fmax(1.0, fmin((double)run, budget / (fixed + row_bytes * R)));
        const int nq_max = (int)((R + per_blk - 1) / per_blk);
        // strided keys: one copy per query head (of KV head (h0 + y) / group), so that one product launch
        // covers the chunk's heads (run 84: 200 us of products per estimate at 32K against 234 with one
        // launch per KV head's query heads)
        const int g0 = h0 / group, k_off = h0 - g0 * group;
        const long q_head = (long)N * SD;
        uint16_t *qr = (uint16_t *)grow(&ws->qr, sizeof(uint16_t) * (size_t)hc * q_head, "xattention strided q");
        uint16_t *kr = (uint16_t *)grow(&ws->kr, sizeof(uint16_t) * (size_t)hc * q_head, "xattention strided k");
        float *z = (float *)grow(&ws->z, sizeof(float) * (size_t)hc * R * ldz_max, "xattention strided logits");
        const int s_rows = select_all ? nb : nq_max; // score rows per head
        double *score = (double *)grow(&ws->score, sizeof(double) * (size_t)hc * s_rows * nb, "xattention block scores");
        double *part = (double *)grow(&ws->part, sizeof(double) * (size_t)hc * nq_max * (warp ? per_blk : 1) * nb,
                                      "xattention partial sums");
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
            strided_copy<uint4><<<dim3(blocks_for(q_head / 8), hc), THREADS>>>(qh, q_stride, d, 1, 0, n, d, S, N, true, qr);
            CUDA_LAUNCH_CHECK("strided_copy (q)");
            strided_copy<uint4><<<dim3(blocks_for(q_head / 8), hc), THREADS>>>(kh, d, (long)kv_cap * d, group, k_off, n, d,
                                                                              S, N, false, kr);
            CUDA_LAUNCH_CHECK("strided_copy (k)");
        } else {
            strided_copy<uint16_t><<<dim3(blocks_for(q_head), hc), THREADS>>>(qh, q_stride, d, 1, 0, n, d, S, N, true, qr);
            CUDA_LAUNCH_CHECK("strided_copy (q)");
            strided_copy<uint16_t><<<dim3(blocks_for(q_head), hc), THREADS>>>(kh, d, (long)kv_cap * d, group, k_off, n, d,
                                                                             S, N, false, kr);
            CUDA_LAUNCH_CHECK("strided_copy (k)");
        }
        const double scale = 1.0 / (sqrt((double)d) * S);
        // the CTA kernel adds into the scores; the warp kernel writes kb <= qb, all that the select
        // reads (the rest is zero only for the copy to `scores`)
        const bool zero_scores = !warp || scores;
        if (select_all && zero_scores) CUDA_CHECK(cudaMemsetAsync(score, 0, sizeof(double) * (size_t)hc * nb * nb, 0));
        for (long u0 = 0; u0 < N; u0 += R) {
            // ldz a multiple of 4 floats: every logit row starts 16-byte aligned (share_max's float4 loads)
            const int rows = (int)(N - u0 < R ? N - u0 : R), cols = (int)u0 + rows, ldz = (cols + 3) & ~3;
            const long z_head = (long)rows * ldz;
            // every head of the chunk in one product (each has its own copy of its keys)
            gemm_nt(ws, z, ldz, qr + u0 * SD, SD, kr, SD, rows, cols, SD, hc, q_head, q_head, z_head);
            const int nq = (rows + per_blk - 1) / per_blk, qb0 = (int)(u0 / per_blk);
            if (!select_all && zero_scores) CUDA_CHECK(cudaMemsetAsync(score, 0, sizeof(double) * (size_t)hc * nq * nb, 0));
            const dim3 grid(nq, hc);
            block_sums_kernel(warp, per_blk)<<<grid, THREADS>>>(z, ldz, z_head, (int)u0, N, per_blk, nb, scale,
                                                                 select_all ? nb : nq, score + (select_all ? (size_t)qb0 * nb : 0),
                                                                 part);
            CUDA_LAUNCH_CHECK("xattention_block_sums");
            if (select_all) continue;
            const int p = pow2_at_least(qb0 + nq - 2); // the chunk's longest sort
            if (warp_select) { // (DAM_CUDA_XA_SMALL)
                launch_select_warp(select_warp_for(p), score, nb, words, qb0, nq, hc, taus, bits + h0 * head_words);
            } else {
                const size_t smem = sort_global ? 0 : (sizeof(uint64_t) + sizeof(int)) * (size_t)p;
                xattention_select<<<dim3(nq, hc), THREADS, smem>>>(score, nb, words, qb0, taus, sort_global, p, gkey,
                                                                   gval, bits + h0 * head_words);
                CUDA_LAUNCH_CHECK("xattention_select");
            }
            for (int y = 0; y < hc && scores; y++)
                CUDA_CHECK(cudaMemcpy(scores + ((size_t)(h0 + y) * nb + qb0) * nb, score + (size_t)y * nq * nb,
                                      sizeof(double) * (size_t)nq * nb, cudaMemcpyDeviceToHost));
        }
        if (select_all) {
            launch_select_warp(select_all, score, nb, words, 0, nb, hc, taus, bits + h0 * head_words);
            if (scores) // heads h0 .. h0 + hc - 1: contiguous on both sides
                CUDA_CHECK(cudaMemcpy(scores + (size_t)h0 * nb * nb, score, sizeof(double) * (size_t)hc * nb * nb,
                                      cudaMemcpyDeviceToHost));
        }
        h0 += hc;
    }
    phases_queued(ws);
    CUDA_CHECK(cudaMemcpy(keep, bits, sizeof(uint64_t) * head_words * n_heads, cudaMemcpyDeviceToHost));
    phases_end(ws);
}
