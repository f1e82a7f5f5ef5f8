// estimate_xattention.cu — XAttention's estimate and selection on the GPU (estimate.h,
// est_cuda_xattention). Reference (CPU): baselines/xattention.c (xattention_head).
// Heads go in chunks of consecutive heads with the same stride (as many as the scratch budget
// allows), the rows of a chunk in row chunks of up to XA_CHUNK super-token rows; per head chunk the
// strided copies of q and k, then per row chunk, all on the default stream: the strided logits, causal
// softmax and key block sums fused (xattention_scores: mma.sync, the logits stay in registers; one
// CTA per 128 rows and head) -> per query block the sort of its other key blocks and the cumulative
// walk (one CTA per query block and head) -> keep bits. The bits of all heads come back in one copy
// at the end.
#include "kernels/cuda/estimate.h"
#include "kernels/cuda/estimate_common.cuh"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"
#include "kernels/cuda/mma.cuh"

using namespace est;

namespace {

enum {
    XA_MAX_HEADS = 32,   // heads per chunk (their thresholds travel as a kernel argument)
    XA_SMEM_SORT = 4096, // longest sort (padded to a power of two) done in shared memory: 48 KiB
};

// Test-only DAM_CUDA_XA_SMALL=1: at most 2 heads per chunk, 128 super-token rows (one CTA of
// xattention_scores) per row chunk, the query rows streamed through shared memory, the sorts in device
// memory and the strided copies one bf16 at a time, so that small prompts take the paths of long ones
// (chunks that split a KV head's query heads, many row chunks, inner dimensions above XF_Q_RESIDENT,
// sorts longer than XA_SMEM_SORT) and of unaligned rows.
bool small_chunks(void) {
    const char *e = getenv("DAM_CUDA_XA_SMALL");
    if (e == NULL || strcmp(e, "0") == 0) return false;
    if (strcmp(e, "1") != 0) dam_die(DAM_EXIT_INPUT, "DAM_CUDA_XA_SMALL=\"%s\": must be 0 or 1", e);
    return true;
}

// XAttention's strided copies (xattention.c step 1) for the heads y of a chunk, stride S, rows of SDp >=
// S · d bf16 (the padding is not written: the caller zeroes it): dst[y][u][m · d + c] = src[y ·
// src_head + row · src_stride + c] with row = uS+S-1-m (queries, reverse) or uS+m (keys), zero for rows
// >= n. One T per thread: uint16_t (one bf16) or uint4 (eight: d, src_stride, src_head multiples of 8
// and src 16-byte aligned). N · SDp < 2^31 (checked by the caller).
template <typename T>
__global__ void strided_copy(const uint16_t *src, long src_stride, long src_head, int n, int d, int S, int N, int SDp,
                             bool reverse, uint16_t *dst) {
    const int V = (int)(sizeof(T) / sizeof(uint16_t)), SD = S * d;
    const long e_long = ((long)blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (e_long >= (long)N * SD) return;
    const int e = (int)e_long, c = e % d, um = e / d, u = um / S, m = um - u * S, row = reverse ? u * S + S - 1 - m : um;
    T v = T(); // zeros
    if (row < n) v = *(const T *)(src + blockIdx.y * src_head + (long)row * src_stride + c);
    *(T *)(dst + (long)blockIdx.y * N * SDp + (long)u * SDp + m * d + c) = v;
}

// e^x for x <= 0 (or -inf) in float64 without a branch, so that many can be in flight (libm's exp
// takes a branch per call): x = k ln 2 + r, |r| <= ln(2) / 2 (ln 2 split in two as fdlibm does, the
// high part with trailing zeros so that k · ln2_hi is exact), e^r by its Taylor polynomial of degree
// 13 (truncation below 5e-18 relative) in Horner form, times 2^k built in the exponent bits. Within
// 2 ulp of e^x for x >= -707; below that, where e^x < 1.1e-307, it returns +0 (a term that small
// changes no score by more than the tests' 1e-300 absolute slack: every row sum is >= 1).
__device__ __forceinline__ double exp_nonpos(double x) {
    const double xc = fmax(x, -745.0), shifter = 6755399441055744.0; // 1.5 · 2^52: rounds to an integer
    const double t = fma(xc, 1.4426950408889634074, shifter), kd = t - shifter;
    double r = fma(-kd, 6.93147180369123816490e-01, xc);
    r = fma(-kd, 1.90821492927058770002e-10, r);
    double p = 1.0 / 6227020800.0;
    p = fma(p, r, 1.0 / 479001600.0);
    p = fma(p, r, 1.0 / 39916800.0);
    p = fma(p, r, 1.0 / 3628800.0);
    p = fma(p, r, 1.0 / 362880.0);
    p = fma(p, r, 1.0 / 40320.0);
    p = fma(p, r, 1.0 / 5040.0);
    p = fma(p, r, 1.0 / 720.0);
    p = fma(p, r, 1.0 / 120.0);
    p = fma(p, r, 1.0 / 24.0);
    p = fma(p, r, 1.0 / 6.0);
    p = fma(p, r, 0.5);
    p = fma(p, r, 1.0);
    p = fma(p, r, 1.0);
    const int k = __double2loint(t); // kd as an integer (the low word of the shifted sum)
    const double e = p * __hiloint2double((k + 1023) << 20, 0);
    return x >= -707.0 ? e : 0.0;
}

// The fused product and block sums (xattention_scores): tile shapes.
enum {
    XF_BM = 128,     // super-token rows per CTA at most (8 warps of 16 rows); row chunks are multiples of it
    XF_BN = 64,      // key super-tokens per tile
    XF_BK = 64,      // bf16 of the inner dimension per pipeline step (one 128-byte row of a tile)
    XF_STAGES = 4,   // cp.async pipeline depth (steps in flight: XF_STAGES - 1)
    XF_Q_RESIDENT = 640, // inner dimensions (S·d padded) up to which a CTA's 128 query rows stay in shared
                         // memory (160 KiB) instead of being re-read for every key tile
};

// The arguments of xattention_scores for one row chunk (super-token rows u0 .. u0 + rows - 1) and the
// heads y = 0 .. gridDim.y - 1 of a head chunk (query head h0 + y, KV head (h0 + y) / group).
struct xf_args {
    const uint16_t *qr, *kr; // strided copies [y][N][SDp] (queries), [KV head - g0][N][SDp] (keys), bf16
    long q_head;             // N · SDp: one head's strided copy
    int SDp, N, u0, rows;    // SDp = S · d rounded up to XF_BK (zero padding)
    int h0, group, g0;
    int per_blk, nb, tiles;  // per_blk = 64 / S super-tokens per key block; tiles = (N + 63) / 64
    int R, nq, qb0;          // part / fac rows per head (>= rows), query blocks of the chunk, the first one
    bool q_res;              // the CTA's query rows resident in shared memory (SDp <= XF_Q_RESIDENT)
    double scale;            // 1 / (sqrt(d) · S)
    double *part;            // [y][R][nb] per-row key block sums, each relative to its tile's running maximum
    double *fac;             // [y][R][tiles] the running maximum after each tile, then e^(that - max) / sum
    double *score;           // [y][nq][nb] the block scores (zero above the diagonal)
};

// XAttention steps 2-3 (xattention.c) for one row chunk, fused: the strided logits z[u][t] = qr[u] ·
// kr[t] (mma.sync m16n8k16, bf16 -> fp32 accumulation in a fixed order, so a logit does not depend
// on the tiling, the chunking or the head grouping) never leave registers. One CTA per 128 rows and
// head (grid (heads, ceil(rows / 128)), the longest rows of every head first); each warp owns 16 rows and walks the
// key tiles t = 64 kt .. 64 kt + 63 up to its last causal one, with an online softmax per row: after
// tile kt the running maximum m_kt of x = z · scale (t <= u; float64, the fp32 maximum scaled) and the
// running sum s; each key block's sum of e^(x_t - m_kt) over its super-tokens goes to part (the four
// lanes of a row add their values with two butterfly steps, a fixed order), m_kt to fac. After the
// last tile fac[kt] becomes e^(m_kt - m) / s, and the CTA adds, per query block qb and key block kb
// <= qb, score = sum over the block's rows (ascending) of part · fac. Against xattention.c's
// e^(x - m) / s term by term the scores agree to a few ulps (the test allows 1e-11). One float64 exp
// (exp_nonpos, no branch) per logit of a visited tile, masked ones as e^-inf. Shared memory: XF_STAGES key tiles [64][64] bf16 and the
// query rows, either resident ([128][SDp]) or per stage ([128][64]), 16-byte chunks XOR-swizzled
// (mma.cuh's swz) so that ldmatrix is conflict-free. Replaces a cuBLAS product whose fp32 logits
// (377 MB a layer at 32K tokens for SmolLM2) were written and read back twice.
template <int PB, int W> // PB = per_blk (a compile-time constant: the block sums' loops unroll), W warps
__global__ void __launch_bounds__(32 * W, 1) xattention_scores(xf_args a) {
    constexpr int BM = 16 * W, NT = 32 * W;
    extern __shared__ __align__(16) uint16_t xf_smem[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, y = blockIdx.x;
    const int cu0 = a.u0 + (gridDim.y - 1 - blockIdx.y) * BM, cu1 = min(cu0 + BM, a.u0 + a.rows);
    const int KC = a.SDp / XF_BK, steps = ((cu1 - 1) / XF_BN + 1) * KC;
    const uint16_t *qy = a.qr + y * a.q_head, *kg = a.kr + (long)((a.h0 + y) / a.group - a.g0) * a.q_head;
    uint16_t *sQ = xf_smem, *sK = sQ + (a.q_res ? BM * a.SDp : XF_STAGES * BM * XF_BK);
    // element offset in sQ of 16-byte chunk `unit` (0..7) of inner chunk kc of row r, pipeline stage st
    auto q_at = [&](int st, int r, int kc, int unit) {
        return a.q_res ? r * a.SDp + ((kc * 8 + (unit ^ (r & 7))) << 3) : st * BM * XF_BK + swz<XF_BK>(r, unit);
    };
    auto load = [&](int st, int kt, int kc) { // key tile kt's inner chunk kc (and q's) into stage st
        for (int i = tid; i < XF_BN * 8; i += NT) {
            const int r = i >> 3, unit = i & 7, t = kt * XF_BN + r;
            const bool ok = t < a.N;
            cp_async16(smem_u32(sK + st * XF_BN * XF_BK + swz<XF_BK>(r, unit)),
                       kg + (ok ? (long)t * a.SDp + kc * XF_BK + unit * 8 : 0), ok);
        }
        for (int i = tid; !a.q_res && i < BM * 8; i += NT) {
            const int r = i >> 3, unit = i & 7, u = cu0 + r;
            const bool ok = u < a.N;
            cp_async16(smem_u32(sQ + q_at(st, r, kc, unit)), qy + (ok ? (long)u * a.SDp + kc * XF_BK + unit * 8 : 0), ok);
        }
    };
    if (a.q_res) { // the CTA's query rows once (the first group: complete before step 0's)
        const int units = a.SDp / 8;
        for (int i = tid; i < BM * units; i += NT) {
            const int r = i / units, cu = i % units, u = cu0 + r;
            const bool ok = u < a.N;
            cp_async16(smem_u32(sQ + q_at(0, r, cu >> 3, cu & 7)), qy + (ok ? (long)u * a.SDp + cu * 8 : 0), ok);
        }
        cp_async_commit();
    }
    // pipeline steps s = kt · KC + kc; (lst, lkt, lkc): the next step to load
    int lst = 0, lkt = 0, lkc = 0, ls = 0;
    auto load_next = [&]() {
        if (ls < steps) load(lst, lkt, lkc);
        cp_async_commit();
        ls++, lst = lst + 1 == XF_STAGES ? 0 : lst + 1;
        if (++lkc == KC) lkc = 0, lkt++;
    };
#pragma unroll
    for (int s = 0; s < XF_STAGES - 1; s++) load_next();

    const int wr0 = cu0 + warp * 16, wlast = wr0 < cu1 ? min(wr0 + 15, cu1 - 1) / XF_BN : -1; // the warp's last tile
    const int cq = 2 * (lane & 3);
    // ldmatrix byte addresses of this lane (mma.cuh's swizzle; the low 3 bits of a row are those of the lane)
    uint32_t q_addr[XF_BK / 16], k_addr[XF_BK / 16];
    {
        const int qrow = warp * 16 + (lane & 15), krow = (lane & 7) + ((lane >> 4) << 3);
#pragma unroll
        for (int kk = 0; kk < XF_BK / 16; kk++) {
            const int qu = (kk * 2 + (lane >> 4)) ^ (qrow & 7), ku = (kk * 2 + ((lane >> 3) & 1)) ^ (krow & 7);
            q_addr[kk] = smem_u32(sQ) + 2 * ((a.q_res ? qrow * a.SDp : qrow * XF_BK) + (qu << 3));
            k_addr[kk] = smem_u32(sK) + 2 * (krow * XF_BK + (ku << 3));
        }
    }
    double m_run[2] = {-INFINITY, -INFINITY}, s_run[2] = {0.0, 0.0}; // rows wr0 + lane / 4 (+ 8)
    float acc[8][4];
    int st = 0, kt = 0, kc = 0;
    for (int s = 0; s < steps; s++, st = st + 1 == XF_STAGES ? 0 : st + 1, kc = kc + 1 == KC ? 0 : kc + 1, kt += kc == 0) {
        cp_async_wait<XF_STAGES - 2>();
        __syncthreads(); // step s is in; everyone is done with the stage that step s + XF_STAGES - 1 overwrites
        load_next();
        if (kt > wlast) continue; // warp-uniform: no causal logit of this warp's rows in the tile
        if (kc == 0)
#pragma unroll
            for (int i = 0; i < 8; i++) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.0f;
        const uint32_t q_step = 2 * (a.q_res ? kc * XF_BK : st * BM * XF_BK), k_step = 2 * st * XF_BN * XF_BK;
#pragma unroll
        for (int kk = 0; kk < XF_BK / 16; kk++) {
            uint32_t qa[4];
            ldsm_x4(qa, q_addr[kk] + q_step);
#pragma unroll
            for (int np = 0; np < 4; np++) {
                uint32_t b[4];
                ldsm_x4(b, k_addr[kk] + k_step + 2 * np * 16 * XF_BK);
                mma16816(acc[2 * np], qa, b[0], b[1]);
                mma16816(acc[2 * np + 1], qa, b[2], b[3]);
            }
        }
        if (kc != KC - 1) continue;
        // tile kt done: acc[i][2h + c] = z[u][t], u = wr0 + lane / 4 + 8h, t = 64 kt + 8i + cq + c
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int u = wr0 + (lane >> 2) + 8 * h, t0 = kt * XF_BN + cq;
            const bool rv = u < cu1;
            float mt = -INFINITY;
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int c = 0; c < 2; c++)
                    if (rv && t0 + 8 * i + c <= u) mt = fmaxf(mt, acc[i][2 * h + c]);
            mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
            mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 2));
            const double m_new = fmax(m_run[h], (double)mt * a.scale); // -inf only for rows past the chunk
            double e[8][2], ts = 0;
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    e[i][c] = exp_nonpos(rv && t0 + 8 * i + c <= u ? (double)acc[i][2 * h + c] * a.scale - m_new : -INFINITY);
                    ts += e[i][c];
                }
            ts += __shfl_xor_sync(0xffffffffu, ts, 1);
            ts += __shfl_xor_sync(0xffffffffu, ts, 2);
            s_run[h] = (m_run[h] == -INFINITY ? 0.0 : s_run[h] * exp_nonpos(m_run[h] - m_new)) + ts;
            m_run[h] = m_new;
            const long rl = (long)y * a.R + (u - a.u0);
            double *prow = a.part + rl * a.nb;
            if (rv && (lane & 3) == 0) a.fac[rl * a.tiles + kt] = m_new;
            // key block sums (kb <= u / PB only: the causal ones), by the lane holding the block's first term
            if constexpr (PB == 1) {
#pragma unroll
                for (int i = 0; i < 8; i++)
#pragma unroll
                    for (int c = 0; c < 2; c++)
                        if (rv && t0 + 8 * i + c <= u) prow[t0 + 8 * i + c] = e[i][c];
            } else {
                double p[8];
#pragma unroll
                for (int i = 0; i < 8; i++) p[i] = e[i][0] + e[i][1];
                if constexpr (PB == 2) {
#pragma unroll
                    for (int i = 0; i < 8; i++)
                        if (rv && t0 + 8 * i <= u) prow[(t0 + 8 * i) / 2] = p[i];
                } else {
#pragma unroll
                    for (int i = 0; i < 8; i++) p[i] += __shfl_xor_sync(0xffffffffu, p[i], 1);
                    if constexpr (PB == 4) {
#pragma unroll
                        for (int i = 0; i < 8; i++)
                            if (rv && (lane & 1) == 0 && t0 + 8 * i <= u) prow[(t0 + 8 * i) / 4] = p[i];
                    } else {
#pragma unroll
                        for (int i = 0; i < 8; i++) p[i] += __shfl_xor_sync(0xffffffffu, p[i], 2);
                        if (rv && (lane & 3) == 0) // PB = 8 g: g = 1 .. 8 n8-tiles per key block
#pragma unroll
                            for (int i = 0; i < 8; i += PB / 8) {
                                double b = p[i];
#pragma unroll
                                for (int j = 1; j < PB / 8; j++) b += p[i + j];
                                if (kt * XF_BN + 8 * i <= u) prow[(kt * XF_BN + 8 * i) / PB] = b;
                            }
                    }
                }
            }
        }
    }
    cp_async_wait<0>();
    if (wr0 < cu1) { // fac[kt] = e^(m_kt - m) / s for the tiles of each of the warp's rows
        __syncwarp(); // the maxima were written by lane 4 j of this warp
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int u = wr0 + (lane >> 2) + 8 * h;
            if (u >= cu1) continue;
            double *f = a.fac + ((long)y * a.R + (u - a.u0)) * a.tiles;
            for (int kt = lane & 3; kt <= u / XF_BN; kt += 4) f[kt] = exp_nonpos(f[kt] - m_run[h]) / s_run[h];
        }
    }
    __syncthreads(); // part and fac of all the CTA's rows written (global memory, visible within the CTA)
    const int qb_lo = cu0 / PB, nqc = (cu1 - 1) / PB - qb_lo + 1;
    for (int i = tid; i < nqc * a.nb; i += NT) {
        const int qb = qb_lo + i / a.nb, kb = i % a.nb, tile = kb * PB / XF_BN, nr = min(PB, cu1 - qb * PB);
        const long r0 = (long)y * a.R + qb * PB - a.u0;
        double v = 0;
        if (kb <= qb) {
            double pf[PB < 8 ? PB : 8][2]; // up to 8 rows' loads in flight, then added in row order
            for (int j0 = 0; j0 < nr; j0 += 8) {
#pragma unroll
                for (int j = 0; j < (PB < 8 ? PB : 8); j++) {
                    const bool ok = j0 + j < nr;
                    pf[j][0] = ok ? a.part[(r0 + j0 + j) * a.nb + kb] : 0.0;
                    pf[j][1] = ok ? a.fac[(r0 + j0 + j) * a.tiles + tile] : 0.0;
                }
#pragma unroll
                for (int j = 0; j < (PB < 8 ? PB : 8); j++) v += pf[j][0] * pf[j][1];
            }
        }
        a.score[((long)y * a.nq + qb - a.qb0) * a.nb + kb] = v;
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

// Per-head thresholds of a chunk (a kernel argument).
struct xa_taus {
    double v[XA_MAX_HEADS];
};

// XAttention step 4 for the query blocks of one row chunk, one CTA per query block qb = qb0 + ql and
// head y (grid (nq, heads); the longest rows first). The other key blocks kb = 1 .. qb-1 are sorted by
// score descending, ties to the lower kb (est_order_desc's order; a bitonic sort of (key, kb) over p
// entries, p the power of two >= qb - 1, sentinels last) in shared memory (dynamic, p_max entries of
// 12 bytes) or, with sort_global, in key[y][ql][p_max], val[...] (device memory). Then warp 0 keeps kb 0
// and qb and the first m sorted others, m = the fewest whose cumulative score (added after s[0] +
// s[qb]) reaches tau × the row total. The row total and the cumulative score are added in the CPU's
// order (kb ascending; sorted order): each lane loads one of 32 consecutive values, and every lane adds
// all 32 in order (shuffles; +0.0 past the end changes no sum of non-negative terms), so the loads are
// coalesced and the sums sequential. bits[y][qb][w] bit b = key block 64 w + b kept (atomicOr; the row
// must be zero before). score: [y][ql][nb] as xattention_scores writes it.
__global__ void xattention_select(const double *score, int nb, int words, int qb0, xa_taus tau, bool sort_global,
                                  int p_max, unsigned long long *gkey, int *gval, unsigned long long *bits) {
    extern __shared__ unsigned long long smem[];
    const int y = blockIdx.y, nq = gridDim.x, ql = nq - 1 - blockIdx.x, qb = qb0 + ql, L = qb > 1 ? qb - 1 : 0;
    const long row = (long)y * nq + ql;
    const double *s = score + row * nb;
    unsigned long long *key = sort_global ? gkey + row * p_max : smem;
    int *val = sort_global ? gval + row * p_max : (int *)(smem + p_max);
    int p = 1;
    while (p < L) p <<= 1;
    for (int i = threadIdx.x; i < p; i += blockDim.x) {
        key[i] = i < L ? order_key(s[1 + i]) : 0ull; // real keys are > 0 (scores >= +0)
        val[i] = i < L ? 1 + i : INT_MAX;
    }
    bitonic_sort_desc(key, val, p);
    if (threadIdx.x >= 32) return;
    const int lane = threadIdx.x;
    double total = 0;
    for (int k0 = 0; k0 <= qb; k0 += 32) {
        const double x = k0 + lane <= qb ? s[k0 + lane] : 0.0;
#pragma unroll
        for (int j = 0; j < 32; j++) total += __shfl_sync(0xffffffffu, x, j);
    }
    const double target = tau.v[y] * total;
    double cum = s[0] + (qb > 0 ? s[qb] : 0.0);
    int m = 0; // kept among the sorted others
    for (int k0 = 0; k0 < L && cum < target; k0 += 32) {
        const double x = k0 + lane < L ? order_value(key[k0 + lane]) : 0.0;
        const int cnt = min(32, L - k0);
#pragma unroll
        for (int j = 0; j < 32; j++) {
            const double v = __shfl_sync(0xffffffffu, x, j);
            if (j < cnt && cum < target) cum += v, m++;
        }
    }
    unsigned long long *brow = bits + ((long)y * nb + qb) * words;
    if (lane == 0) {
        atomicOr(brow, 1ull);
        atomicOr(brow + (qb >> 6), 1ull << (qb & 63));
    }
    for (int i = lane; i < m; i += 32) {
        const int kb = val[i];
        atomicOr(brow + (kb >> 6), 1ull << (kb & 63));
    }
}

// xattention_scores<per_blk> on grid with smem bytes of dynamic shared memory (the limit raised once
// per instantiation to the largest the host code asks for: 184 KiB).
template <int PB, int W> void launch_scores_pb(int rows, int heads, size_t smem, const xf_args &a) {
    static bool raised = false;
    if (!raised) {
        CUDA_CHECK(cudaFuncSetAttribute(xattention_scores<PB, W>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        (int)sizeof(uint16_t) * (XF_BM * XF_Q_RESIDENT + XF_STAGES * XF_BN * XF_BK)));
        raised = true;
    }
    xattention_scores<PB, W><<<dim3(heads, (rows + 16 * W - 1) / (16 * W)), 32 * W, smem>>>(a);
    CUDA_LAUNCH_CHECK("xattention_scores");
}

template <int W> void launch_scores_w(int per_blk, int rows, int heads, size_t smem, const xf_args &a) {
    switch (per_blk) {
    case 1: launch_scores_pb<1, W>(rows, heads, smem, a); break;
    case 2: launch_scores_pb<2, W>(rows, heads, smem, a); break;
    case 4: launch_scores_pb<4, W>(rows, heads, smem, a); break;
    case 8: launch_scores_pb<8, W>(rows, heads, smem, a); break;
    case 16: launch_scores_pb<16, W>(rows, heads, smem, a); break;
    case 32: launch_scores_pb<32, W>(rows, heads, smem, a); break;
    case 64: launch_scores_pb<64, W>(rows, heads, smem, a); break;
    default: dam_die(DAM_EXIT_RUNTIME, "internal error: xattention %d super-tokens per block", per_blk);
    }
}

int xf_warps(void) { // TEMP experiment: DAM_XF_WARPS=4 or 8
    const char *e = getenv("DAM_XF_WARPS");
    return e && strcmp(e, "4") == 0 ? 4 : 8;
}

void launch_scores(int per_blk, int rows, int heads, size_t smem, const xf_args &a) {
    if (xf_warps() == 4) launch_scores_w<4>(per_blk, rows, heads, smem, a);
    else launch_scores_w<8>(per_blk, rows, heads, smem, a);
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
    for (int h0 = 0; h0 < n_heads;) {
        const int S = stride[h0];
        if (S < 1 || BLOCK % S != 0) dam_die(DAM_EXIT_RUNTIME, "internal error: xattention stride %d", S);
        const int N = (n + S - 1) / S, per_blk = BLOCK / S, SD = S * d, SDp = (SD + XF_BK - 1) / XF_BK * XF_BK;
        const int tiles = (N + XF_BN - 1) / XF_BN;
        if ((long)N * SDp > INT_MAX) dam_die(DAM_EXIT_RUNTIME, "xattention: %d tokens x d %d is too large", n, d);
        int run = 1; // heads h0 .. h0 + run - 1 have stride S
        while (h0 + run < n_heads && stride[h0 + run] == S && run < (small ? 2 : XA_MAX_HEADS)) run++;
        // rows per chunk R: all N up to XA_CHUNK super-token rows, else XA_CHUNK (a multiple of XF_BM), fewer
        // when one head's scratch would pass the budget (not below XF_BM); heads per chunk from the per-head
        // scratch under the budget: strided q and k, per row its key block sums and tile factors, per
        // query block its scores and the sorts in device memory (when the longest does not fit shared memory)
        const bool sort_global = small || p_all > XA_SMEM_SORT;
        const double row_bytes = 8.0 * nb + 8.0 * tiles + (8.0 * nb + (sort_global ? 12.0 * p_all : 0)) / per_blk;
        const double fixed = 4.0 * N * SDp;
        long R = small ? (long)XF_BM : N <= XA_CHUNK ? N : (long)XA_CHUNK;
        if (!small && fixed + row_bytes * R > budget) { // one head over the budget: fewer rows, a multiple of XF_BM
            const long fit = (long)((budget - fixed) / row_bytes) / XF_BM * XF_BM;
            if (fit < R) R = fit > (long)XF_BM ? fit : (long)XF_BM;
        }
        if (R > N) R = N;
        const int hc = (int)fmax(1.0, fmin((double)run, budget / (fixed + row_bytes * R)));
        const int nq_max = (int)((R + per_blk - 1) / per_blk);
        const int g0 = h0 / group, gc = (h0 + hc - 1) / group - g0 + 1; // KV heads g0 .. g0 + gc - 1
        const long q_head = (long)N * SDp;
        uint16_t *qr = (uint16_t *)grow(&ws->qr, sizeof(uint16_t) * (size_t)hc * q_head, "xattention strided q");
        uint16_t *kr = (uint16_t *)grow(&ws->kr, sizeof(uint16_t) * (size_t)gc * q_head, "xattention strided k");
        double *part = (double *)grow(&ws->part, sizeof(double) * (size_t)hc * R * nb, "xattention key block sums");
        double *fac = (double *)grow(&ws->mx, sizeof(double) * (size_t)hc * R * tiles, "xattention tile factors");
        double *score = (double *)grow(&ws->score, sizeof(double) * (size_t)hc * nq_max * nb, "xattention block scores");
        unsigned long long *gkey = NULL;
        int *gval = NULL;
        if (sort_global) {
            gkey = (unsigned long long *)grow(&ws->keys, sizeof(uint64_t) * (size_t)hc * nq_max * p_all, "xattention sort keys");
            gval = (int *)grow(&ws->vals, sizeof(int) * (size_t)hc * nq_max * p_all, "xattention sort values");
        }
        xa_taus taus;
        for (int y = 0; y < XA_MAX_HEADS; y++) taus.v[y] = y < hc ? tau[h0 + y] : 0.0;
        if (SDp != SD) { // the padding columns: zeros (they add nothing to a logit)
            CUDA_CHECK(cudaMemsetAsync(qr, 0, sizeof(uint16_t) * (size_t)hc * q_head, 0));
            CUDA_CHECK(cudaMemsetAsync(kr, 0, sizeof(uint16_t) * (size_t)gc * q_head, 0));
        }
        const uint16_t *qh = q + (long)h0 * d, *kh = k + (long)g0 * kv_cap * d;
        const long copy_n = (long)N * SD;
        if (vec8) {
            strided_copy<uint4><<<dim3(blocks_for(copy_n / 8), hc), THREADS>>>(qh, q_stride, d, n, d, S, N, SDp, true, qr);
            CUDA_LAUNCH_CHECK("strided_copy (q)");
            strided_copy<uint4><<<dim3(blocks_for(copy_n / 8), gc), THREADS>>>(kh, d, (long)kv_cap * d, n, d, S, N, SDp, false, kr);
            CUDA_LAUNCH_CHECK("strided_copy (k)");
        } else {
            strided_copy<uint16_t><<<dim3(blocks_for(copy_n), hc), THREADS>>>(qh, q_stride, d, n, d, S, N, SDp, true, qr);
            CUDA_LAUNCH_CHECK("strided_copy (q)");
            strided_copy<uint16_t><<<dim3(blocks_for(copy_n), gc), THREADS>>>(kh, d, (long)kv_cap * d, n, d, S, N, SDp, false, kr);
            CUDA_LAUNCH_CHECK("strided_copy (k)");
        }
        // the query rows resident in shared memory when they fit (DAM_CUDA_XA_SMALL: always streamed)
        const bool q_res = !small && SDp <= XF_Q_RESIDENT;
        const int bm = 16 * xf_warps();
        const size_t smem = sizeof(uint16_t) * ((q_res ? (size_t)bm * SDp : (size_t)XF_STAGES * bm * XF_BK) +
                                                (size_t)XF_STAGES * XF_BN * XF_BK);
        for (long u0 = 0; u0 < N; u0 += R) {
            const int rows = (int)(N - u0 < R ? N - u0 : R);
            const int nq = (rows + per_blk - 1) / per_blk, qb0 = (int)(u0 / per_blk);
            xf_args a = {qr, kr, q_head, SDp, N, (int)u0, rows, h0, group, g0, per_blk, nb, tiles, (int)R, nq, qb0, q_res,
                         1.0 / (sqrt((double)d) * S), part, fac, score};
            launch_scores(per_blk, rows, hc, smem, a);
            const int p = pow2_at_least(qb0 + nq - 2); // the chunk's longest sort
            const size_t sort_smem = sort_global ? 0 : (sizeof(uint64_t) + sizeof(int)) * (size_t)p;
            xattention_select<<<dim3(nq, hc), THREADS, sort_smem>>>(score, nb, words, qb0, taus, sort_global, p, gkey, gval,
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
