// attention_masked.cu — see attention_masked.h and docs/cuda.md.
//
// Kernel: FlashAttention-2 style forward pass with mma.sync m16n8k16 (bf16 in, fp32 accumulate)
// and ldmatrix. One CTA = (HC query heads, 64-row query tile aligned to the plan's 64-token
// blocks); by default HC = 1 (per-head lists), with ATTN_CUDA_PACK_GQA up to 3 heads of one GQA
// group share each K/V tile. 4 / MT warps per head, each warp owning MT 16-row m-tiles (MT = 1 by
// default, DAM_CUDA_MT=2 at d = 64). The CTA walks its list of key tiles (contiguous or gathered;
// on the dense path every causal tile), loading K and V of the next tile with cp.async (two
// shared-memory stages) while computing the current one. Shared memory rows are 16-byte-chunk
// XOR-swizzled (chunk ^ (row & 7)), so ldmatrix is conflict-free.
#include <algorithm>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "kernels/cuda/attention_masked.h"
#include "kernels/cuda/attention_plan.h"
#include "kernels/cuda/attention_plan_gpu.h"
#include "kernels/cuda/attention_wgmma.h"
#include "kernels/cuda/attention_io.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/wgmma.cuh"

// ATTN_CUDA_FAULT (tests only: proves the test fails when the kernel is wrong):
//   1 = causal mask off by one (row p also sees key p + 1); 2 = the last listed tile is skipped.
#ifndef ATTN_CUDA_FAULT
#define ATTN_CUDA_FAULT 0
#endif

namespace {

constexpr int T = ATTN_CUDA_TILE;  // 64 rows / keys per tile
constexpr int MODE_FULL = ATTN_PLAN_MODE_FULL;  // every causal pair of the tile is kept (causality applied in-kernel)
constexpr int MODE_NONE = ATTN_PLAN_MODE_NONE;  // this head keeps nothing in the tile
constexpr int MODE_BITS = ATTN_PLAN_MODE_BITS;  // row words from the plan's column / diagonal bits (GPU lists)
constexpr float LOG2E = 1.4426950408889634f;
constexpr int MT_DEFAULT_64 = 1;     // m-tiles per warp at d = 64 (DAM_CUDA_MT overrides)

struct Params {
    const __nv_bfloat16 *q, *k, *v;
    __nv_bfloat16 *o;
    int q_stride, o_stride, kv_cap, n_q, n_k, group, q_base, qb0, n_qt, entry_ints, dense;
    int hc_plan, split;  // heads per plan chunk; CTAs per chunk (each takes HC = hc_plan / split heads)
    float scale_log2;
    const int32_t *tile_ptr, *entries, *gather, *order;
    int n_chunks;
    const unsigned long long *words;
    const unsigned long long *parts;  // GPU lists: [heads][2][nkw] column words, diagonal words
    int nkw;
    int *empty;
};

// Row r of query block qb over key tile kt (MODE_BITS): the kept keys as bits (bit s = key 64 kt + s),
// from the tile's column word and the diagonal words lo = qb - kt - 1 (0 on the diagonal tile) and
// hi = qb - kt, i.e. the 128 offsets 64 (qb - kt - 1) + x, x = 0 .. 127: key s has x = 64 + r - s, so
// the row's word is bits r + 1 .. r + 64 of (hi:lo) in reverse order. lim = p - 64 kt (the last causal
// key slot of the row, may be < 0 or > 63).
__device__ __forceinline__ unsigned long long bits_row(unsigned long long lo, unsigned long long hi,
                                                       unsigned long long col, int r, int lim) {
    const unsigned long long x = ((lo >> r) >> 1) | (hi << (63 - r));  // bits r + 1 .. r + 64 of hi:lo
    unsigned long long w = __brevll(x) | col;
#if ATTN_CUDA_FAULT == 1
    lim++;
#endif
    if (lim < 63) w &= lim < 0 ? 0ull : (2ull << lim) - 1ull;
    return w;
}

// HC query heads per CTA, MT 16-row m-tiles per warp (4 / MT warps per head): with MT = 2 each K/V
// fragment read from shared memory feeds two m-tiles, halving shared-memory traffic per FLOP.
// d = 64, one head, MT = 1 (the default): at most 168 registers, so 3 CTAs (12 warps) fit an SM (run 27:
// 172 registers gave 2 and cost 20 %).
// WG (d = 64, one head, MT = 1, sm_90a): the same kernel with its two products on the warpgroup's
// tensor-core instructions instead of per-warp mma.sync: S = Q K^T by wgmma.m64n64k16 with Q and K read
// from shared memory (the tiles' 16-byte-chunk swizzle at d = 64 is wgmma's 128-byte swizzle, so the
// layout is unchanged; the tiles are 1024-byte aligned), O += P V by wgmma with P from registers and
// V read N-major. The accumulators have mma.sync's m16n8 layout per 8 columns, so masks, softmax,
// bias and stores are shared. The CTA's 4 warps are one warpgroup and one head: a tile's mode is
// CTA-uniform, as wgmma needs.
template <int D, int HC, int MT, bool WG = false>
__global__ void __launch_bounds__(HC * 128 / MT, (D == 64 && HC == 1 && MT == 1) ? (WG ? 4 : 3) : 1) attn_fwd(const Params p) {
    static_assert(!WG || (D == 64 && HC == 1 && MT == 1), "the wgmma products: d = 64, one head per CTA, MT = 1");
    constexpr int WPH = 4 / MT;  // warps per head
    constexpr int NT = HC * WPH * 32, CH = D / 8;
    extern __shared__ __align__(128) unsigned char smem_raw[];
    // (WG: 1024-byte aligned for the wgmma descriptors; the launch adds the slack)
    unsigned char *smem = WG ? smem_raw + ((1024u - (smem_u32(smem_raw) & 1023u)) & 1023u) : smem_raw;
    __nv_bfloat16 *sQ = reinterpret_cast<__nv_bfloat16 *>(smem);  // [HC*64][D]
    __nv_bfloat16 *sK = sQ + HC * T * D;                               // [2][64][D]
    __nv_bfloat16 *sV = sK + 2 * T * D;                                // [2][64][D]

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int hi = warp / WPH, ws = warp % WPH;  // head in the chunk, 16*MT-row slab of the tile
    // work item: dense, the longest query tiles first; lists, the order the host sorted by list length
    // (one 16-byte descriptor: item, first entry, end entry, first key tile, so the first K/V loads
    // wait for one global read only)
    int chunk, qt, e_begin, e_end, kt_first;
    bool dense = p.dense;  // all items, or (GPU lists) this item's head: key tiles 0 .. qb, no entries
    if (p.dense) {
        qt = p.n_qt - 1 - (int)blockIdx.x / p.n_chunks;
        chunk = (int)blockIdx.x % p.n_chunks;
        e_begin = 0;
        e_end = p.qb0 + qt + 1;  // key tiles 0 .. qb
        kt_first = 0;
    } else {
        const int4 dsc = reinterpret_cast<const int4 *>(p.order)[blockIdx.x];
        dense = (dsc.x & ATTN_PLAN_DENSE_ITEM) != 0;
        const int item = dsc.x & ~ATTN_PLAN_DENSE_ITEM;
        chunk = item / p.n_qt;
        qt = item % p.n_qt;
        e_begin = dsc.y;
        e_end = dsc.z;
        kt_first = dsc.w;
    }
    const int sub = blockIdx.y;
    const int h0 = chunk * p.hc_plan + sub * HC, h = h0 + hi, g = h0 / p.group;
    const int qb = p.qb0 + qt, pos0 = qb * T;

    const int rbase = ws * 16 * MT;                 // first row of this warp's slab
    const int r0 = rbase + (lane >> 2);             // this thread's rows r0 + 16 mt and r0 + 16 mt + 8
    const int cq = 2 * (lane & 3);                  // this thread's first column within each 8-wide n-tile
#if ATTN_CUDA_FAULT == 2
    if (e_end > e_begin + 1) e_end--;
#endif
    // Per entry: the key tile kt (>= 0: keys kt*64 .. kt*64+63; < 0: gathered tile -kt-1, keys
    // p.gather[(-kt-1)*64 + r], -1 = empty slot) and this head's mode, bias mask and bias. The
    // next entry's fields and mask words are loaded one iteration ahead (registers), so their
    // latency hides behind the current tile's products.
    struct Ent {
        int kt, mode, bmode;
        float bias;  // in raw score units (divided by the scale)
        unsigned long long wa[MT], wb[MT], ba[MT], bb[MT];
    };
    // MT = 2 has no registers to spare for the next tile's mask words: they are loaded at use
    constexpr bool PREFETCH_WORDS = MT == 1;
    auto load_words = [&](Ent &x) {
        if (x.mode == MODE_BITS) {  // the GPU build's contiguous tiles: words from the parts
            const unsigned long long *cw = p.parts + (size_t)h * 2 * p.nkw, *dw = cw + p.nkw;
            const int dq = qb - x.kt;
            const unsigned long long col = cw[x.kt], hi = dw[dq], lo = dq > 0 ? dw[dq - 1] : 0ull;
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const int ra = r0 + 16 * mt, lim = pos0 + ra - x.kt * T;
                x.wa[mt] = bits_row(lo, hi, col, ra, lim);
                x.wb[mt] = bits_row(lo, hi, col, ra + 8, lim + 8);
            }
            return;
        }
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            if (x.mode >= 0) {
                x.wa[mt] = p.words[(size_t)x.mode * T + r0 + 16 * mt];
                x.wb[mt] = p.words[(size_t)x.mode * T + r0 + 16 * mt + 8];
            }
            if (x.bmode >= 0) {
                x.ba[mt] = p.words[(size_t)x.bmode * T + r0 + 16 * mt];
                x.bb[mt] = p.words[(size_t)x.bmode * T + r0 + 16 * mt + 8];
            }
        }
    };
    const int eoff = 1 + 3 * (sub * HC + hi);
    const float inv_scale = 1.f / p.scale_log2;
    auto entry_kt = [&](int e) { return dense ? e : p.entries[(size_t)e * p.entry_ints]; };
    auto load_ent = [&](int e, int kt) {
        Ent x;
        x.kt = kt;
        x.mode = MODE_FULL;
        x.bmode = -1;
        x.bias = 0.f;
#pragma unroll
        for (int mt = 0; mt < MT; mt++) x.wa[mt] = x.wb[mt] = x.ba[mt] = x.bb[mt] = 0ull;
        if (!dense) {
            const int32_t *en = p.entries + (size_t)e * p.entry_ints + eoff;
            x.mode = en[0];
            x.bmode = en[1];
            x.bias = __int_as_float(en[2]) * LOG2E * inv_scale;
            if (PREFETCH_WORDS) load_words(x);
        }
        return x;
    };

    // Q tile: rows (head hh, token rr), zero rows outside the step's queries
    for (int i = tid; i < HC * T * CH; i += NT) {
        const int r = i / CH, c = i % CH, rr = r % T, hh = r / T;
        const int t = pos0 + rr - p.q_base;
        const bool valid = t >= 0 && t < p.n_q;
        const __nv_bfloat16 *src = valid ? p.q + (size_t)t * p.q_stride + (size_t)(h0 + hh) * D + c * 8 : p.q;
        cp_async16(smem_u32(sQ + swz<D>(r, c)), src, valid);
    }
    const __nv_bfloat16 *kh = p.k + (size_t)g * p.kv_cap * D, *vh = p.v + (size_t)g * p.kv_cap * D;
    auto load_kv = [&](int stage, int kt) {
        const int32_t *gidx = kt < 0 ? p.gather + (size_t)(-kt - 1) * T : nullptr;
        for (int i = tid; i < T * CH; i += NT) {
            const int r = i / CH, c = i % CH, j = gidx ? gidx[r] : kt * T + r;
            const bool valid = j >= 0 && j < p.n_k;
            const size_t off = valid ? (size_t)j * D + c * 8 : 0;
            cp_async16(smem_u32(sK + stage * T * D + swz<D>(r, c)), kh + off, valid);
            cp_async16(smem_u32(sV + stage * T * D + swz<D>(r, c)), vh + off, valid);
        }
    };
    int kt_next = 0;
    Ent cur;
    cur.kt = 0;
    cur.mode = MODE_NONE;
    cur.bmode = -1;
    cur.bias = 0.f;
    if (e_begin < e_end) {
        load_kv(0, kt_first);
        cur = load_ent(e_begin, kt_first);
        if (e_begin + 1 < e_end) kt_next = entry_kt(e_begin + 1);
    }
    cp_async_commit();

    // Q fragments: kept in registers (MT = 1), or re-read from shared memory each tile (MT = 2: no
    // registers to spare; FlashAttention-2's default too)
    constexpr bool Q_IN_REGS = MT == 1;
    uint32_t qf[Q_IN_REGS ? MT : 1][Q_IN_REGS ? D / 16 : 1][4];
    float oacc[MT][D / 8][4];
    float m0[MT], m1[MT], l0[MT], l1[MT];  // running max (raw score units) and sum of rows r0 + 16 mt (+ 8)
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int i = 0; i < D / 8; i++) oacc[mt][i][0] = oacc[mt][i][1] = oacc[mt][i][2] = oacc[mt][i][3] = 0.f;
        m0[mt] = m1[mt] = -INFINITY;
        l0[mt] = l1[mt] = 0.f;
    }

    for (int e = e_begin; e < e_end; e++) {
        const int st = (e - e_begin) & 1;
        Ent nxt = cur;
        if (e + 1 < e_end) {
            load_kv(st ^ 1, kt_next);
            cp_async_commit();
            nxt = load_ent(e + 1, kt_next);                 // consumed next iteration
            kt_next = e + 2 < e_end ? entry_kt(e + 2) : 0;  // consumed next iteration
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
        if constexpr (WG) fence_proxy_async();  // the tile's cp.async writes, visible to wgmma
#endif
        __syncthreads();
        if (!WG && Q_IN_REGS && e == e_begin) {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int kk = 0; kk < D / 16; kk++)
                    ldsm_x4(qf[Q_IN_REGS ? mt : 0][Q_IN_REGS ? kk : 0],
                            smem_u32(sQ + swz<D>(hi * T + rbase + 16 * mt + (lane & 15), kk * 2 + (lane >> 4))));
        }
        const int kt = cur.kt;
        if (!PREFETCH_WORDS && !dense) load_words(cur);
        if (cur.mode != MODE_NONE) {  // warp-uniform
            float s[MT][8][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int i = 0; i < 8; i++) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.f;
            const __nv_bfloat16 *ks = sK + st * T * D;
            if constexpr (WG) {  // S = Q K^T on the warpgroup: 4 k-steps of 16
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
                float(&sf)[32] = *reinterpret_cast<float(*)[32]>(&s[0][0][0]);
                wgmma_fence();
#pragma unroll
                for (int kk = 0; kk < D / 16; kk++)
                    wgmma_m64n64k16_ss(sf, gmma_desc(smem_u32(sQ) + kk * 32, 16, 1024),
                                       gmma_desc(smem_u32(ks) + kk * 32, 16, 1024), kk > 0);
                wgmma_commit();
                wgmma_wait<0>();
#pragma unroll
                for (int i = 0; i < 32; i++) reg_fence(sf[i]);
#else
                __trap();  // built without sm_90a: the host never launches WG (attn_cuda_wgmma_available)
#endif
            }
#pragma unroll
            for (int kk = 0; kk < (WG ? 0 : D / 16); kk++) {
                uint32_t qa[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    if (Q_IN_REGS) {
#pragma unroll
                        for (int x = 0; x < 4; x++) qa[mt][x] = qf[Q_IN_REGS ? mt : 0][Q_IN_REGS ? kk : 0][x];
                    } else {
                        ldsm_x4(qa[mt], smem_u32(sQ + swz<D>(hi * T + rbase + 16 * mt + (lane & 15), kk * 2 + (lane >> 4))));
                    }
                }
#pragma unroll
                for (int np = 0; np < 4; np++) {
                    uint32_t b[4];
                    ldsm_x4(b, smem_u32(ks + swz<D>(np * 16 + (lane & 7) + ((lane >> 4) << 3),
                                                     kk * 2 + ((lane >> 3) & 1))));
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma16816(s[mt][2 * np], qa[mt], b[0], b[1]);
                        mma16816(s[mt][2 * np + 1], qa[mt], b[2], b[3]);
                    }
                }
            }
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const int pa = pos0 + r0 + 16 * mt, pb = pa + 8;
                if (cur.bmode >= 0) {  // soft masks: the block bias on the flagged pairs
#pragma unroll
                    for (int i = 0; i < 8; i++)
#pragma unroll
                        for (int c = 0; c < 2; c++) {
                            const int bit = i * 8 + cq + c;
                            if ((cur.ba[mt] >> bit) & 1ull) s[mt][i][c] += cur.bias;
                            if ((cur.bb[mt] >> bit) & 1ull) s[mt][i][2 + c] += cur.bias;
                        }
                }
                if (cur.mode == MODE_FULL) {
                    if (kt * T + T - 1 > pos0 + rbase + 16 * mt) {  // the tile crosses this m-tile's diagonal
#pragma unroll
                        for (int i = 0; i < 8; i++)
#pragma unroll
                            for (int c = 0; c < 2; c++) {
                                const int j = kt * T + i * 8 + cq + c;
#if ATTN_CUDA_FAULT == 1
                                if (j > pa + 1) s[mt][i][c] = -INFINITY;
                                if (j > pb + 1) s[mt][i][2 + c] = -INFINITY;
#else
                                if (j > pa) s[mt][i][c] = -INFINITY;
                                if (j > pb) s[mt][i][2 + c] = -INFINITY;
#endif
                            }
                    }
                } else {
#pragma unroll
                    for (int i = 0; i < 8; i++)
#pragma unroll
                        for (int c = 0; c < 2; c++) {
                            const int bit = i * 8 + cq + c;
                            if (!((cur.wa[mt] >> bit) & 1ull)) s[mt][i][c] = -INFINITY;
                            if (!((cur.wb[mt] >> bit) & 1ull)) s[mt][i][2 + c] = -INFINITY;
                        }
                }
                // online softmax on raw scores (the scale > 0 commutes with the max):
                // p = 2^(s * scale_log2 - m * scale_log2), one FFMA + one ex2 per score
                float tm0 = -INFINITY, tm1 = -INFINITY;
#pragma unroll
                for (int i = 0; i < 8; i++) {
                    tm0 = fmaxf(tm0, fmaxf(s[mt][i][0], s[mt][i][1]));
                    tm1 = fmaxf(tm1, fmaxf(s[mt][i][2], s[mt][i][3]));
                }
                tm0 = fmaxf(tm0, __shfl_xor_sync(0xffffffffu, tm0, 1));
                tm0 = fmaxf(tm0, __shfl_xor_sync(0xffffffffu, tm0, 2));
                tm1 = fmaxf(tm1, __shfl_xor_sync(0xffffffffu, tm1, 1));
                tm1 = fmaxf(tm1, __shfl_xor_sync(0xffffffffu, tm1, 2));
                const float mn0 = fmaxf(m0[mt], tm0), mn1 = fmaxf(m1[mt], tm1);
                // no -inf - -inf: a row with nothing kept so far uses 0 as its offset
                const float mu0 = mn0 == -INFINITY ? 0.f : mn0 * p.scale_log2;
                const float mu1 = mn1 == -INFINITY ? 0.f : mn1 * p.scale_log2;
                const float al0 = ex2(fmaf(m0[mt], p.scale_log2, -mu0)), al1 = ex2(fmaf(m1[mt], p.scale_log2, -mu1));
                float ls0 = 0.f, ls1 = 0.f;
#pragma unroll
                for (int i = 0; i < 8; i++) {
                    s[mt][i][0] = ex2(fmaf(s[mt][i][0], p.scale_log2, -mu0));
                    s[mt][i][1] = ex2(fmaf(s[mt][i][1], p.scale_log2, -mu0));
                    s[mt][i][2] = ex2(fmaf(s[mt][i][2], p.scale_log2, -mu1));
                    s[mt][i][3] = ex2(fmaf(s[mt][i][3], p.scale_log2, -mu1));
                    ls0 += s[mt][i][0] + s[mt][i][1];
                    ls1 += s[mt][i][2] + s[mt][i][3];
                }
                l0[mt] = l0[mt] * al0 + ls0;
                l1[mt] = l1[mt] * al1 + ls1;
                m0[mt] = mn0;
                m1[mt] = mn1;
#pragma unroll
                for (int i = 0; i < D / 8; i++) {
                    oacc[mt][i][0] *= al0;
                    oacc[mt][i][1] *= al0;
                    oacc[mt][i][2] *= al1;
                    oacc[mt][i][3] *= al1;
                }
            }
            // O += P V: P from the score registers (C layout -> A layout), V^T via ldmatrix.trans
            const __nv_bfloat16 *vs = sV + st * T * D;
            if constexpr (WG) {  // on the warpgroup: P as A fragments (4 k-steps of 16 keys), V N-major
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
                uint32_t pf[4][4];
#pragma unroll
                for (int kk = 0; kk < 4; kk++) {
                    pf[kk][0] = pack_bf16(s[0][2 * kk][0], s[0][2 * kk][1]);
                    pf[kk][1] = pack_bf16(s[0][2 * kk][2], s[0][2 * kk][3]);
                    pf[kk][2] = pack_bf16(s[0][2 * kk + 1][0], s[0][2 * kk + 1][1]);
                    pf[kk][3] = pack_bf16(s[0][2 * kk + 1][2], s[0][2 * kk + 1][3]);
                }
                float(&of)[32] = *reinterpret_cast<float(*)[32]>(&oacc[0][0][0]);
                wgmma_fence();
#pragma unroll
                for (int kk = 0; kk < 4; kk++) wgmma_m64n64k16_rs_tb(of, pf[kk], gmma_desc(smem_u32(vs) + kk * 2048, T * 128, 1024));
                wgmma_commit();
                wgmma_wait<0>();
#pragma unroll
                for (int i = 0; i < 32; i++) reg_fence(of[i]);
#endif
            }
#pragma unroll
            for (int kk = 0; kk < (WG ? 0 : 4); kk++) {
                uint32_t a[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    a[mt][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                    a[mt][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                    a[mt][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                    a[mt][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
                }
#pragma unroll
                for (int dp = 0; dp < D / 16; dp++) {
                    uint32_t b[4];
                    ldsm_x4_t(b, smem_u32(vs + swz<D>(kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                                       dp * 2 + (lane >> 4))));
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma16816(oacc[mt][2 * dp], a[mt], b[0], b[1]);
                        mma16816(oacc[mt][2 * dp + 1], a[mt], b[2], b[3]);
                    }
                }
            }
        }
        cur = nxt;
        __syncthreads();  // the stage just read is overwritten by the next iteration's prefetch
    }
    cp_async_wait<0>();

#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        float la = l0[mt], lb = l1[mt];
        la += __shfl_xor_sync(0xffffffffu, la, 1);
        la += __shfl_xor_sync(0xffffffffu, la, 2);
        lb += __shfl_xor_sync(0xffffffffu, lb, 1);
        lb += __shfl_xor_sync(0xffffffffu, lb, 2);
        const int ta = pos0 + r0 + 16 * mt - p.q_base, tb = ta + 8;
        const bool va = ta >= 0 && ta < p.n_q, vb = tb >= 0 && tb < p.n_q;
        const float ia = la > 0.f ? 1.f / la : 0.f, ib = lb > 0.f ? 1.f / lb : 0.f;  // no kept key: zeros
        if (va) {
            uint32_t *dst = reinterpret_cast<uint32_t *>(p.o + (size_t)ta * p.o_stride + (size_t)h * D + cq);
#pragma unroll
            for (int i = 0; i < D / 8; i++) dst[i * 4] = pack_bf16(oacc[mt][i][0] * ia, oacc[mt][i][1] * ia);
            if (la == 0.f && (lane & 3) == 0 && p.empty) atomicAdd(p.empty, 1);
        }
        if (vb) {
            uint32_t *dst = reinterpret_cast<uint32_t *>(p.o + (size_t)tb * p.o_stride + (size_t)h * D + cq);
#pragma unroll
            for (int i = 0; i < D / 8; i++) dst[i * 4] = pack_bf16(oacc[mt][i][2] * ib, oacc[mt][i][3] * ib);
            if (lb == 0.f && (lane & 3) == 0 && p.empty) atomicAdd(p.empty, 1);
        }
    }
}

template <int D, int HC, int MT, bool WG = false> void launch(Params p, int n_chunks, int n_ctas, cudaStream_t stream) {
    p.split = p.hc_plan / HC;
    const size_t smem = (size_t)(HC * T * D + 4 * T * D) * sizeof(__nv_bfloat16) + (WG ? 1024 : 0);
    static bool configured = false;  // per instantiation
    if (!configured) {
        CUDA_CHECK(cudaFuncSetAttribute(attn_fwd<D, HC, MT, WG>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        configured = true;
    }
    p.n_chunks = n_chunks;
    if (n_ctas == 0) return;
    attn_fwd<D, HC, MT, WG><<<dim3(n_ctas, p.split), HC * 128 / MT, smem, stream>>>(p);
    CUDA_LAUNCH_CHECK("attn_fwd");
}

// ---- host: plan conversion (attention_plan.c) and upload ----

template <typename X> X *upload(const X *src, size_t n) {  // n elements (at least 1 allocated)
    X *d = (X *)dam_cuda_malloc(sizeof(X) * (n ? n : 1), "attention plan");
    if (n) CUDA_CHECK(cudaMemcpy(d, src, sizeof(X) * n, cudaMemcpyHostToDevice));
    return d;
}

}  // namespace

// Whether every head's plan is "columns 0 .. S-1 and diagonals 0 .. W-1" with the same S >= 0 and
// W >= 1 (sinks + sliding window; no blocks, no bitmap): then *sink = S, *window = W.
static bool plans_sink_window(const maskplan *const *plans, int n_heads, int *sink, int *window) {
    for (int h = 0; h < n_heads; h++) {
        const maskplan *m = plans[h];
        if (m->dense || m->n_qblocks > 0 || m->bitmap_L > 0 || m->n_diags < 1 || m->diags[m->n_diags - 1] != m->n_diags - 1 ||
            (m->n_cols > 0 && m->cols[m->n_cols - 1] != m->n_cols - 1))
            return false;
        if (h > 0 && (m->n_cols != *sink || m->n_diags != *window)) return false;
        *sink = m->n_cols;
        *window = m->n_diags;
    }
    return n_heads > 0;
}

// A block_bits plan: the heads' blocks as bits (attn_plan_block_bits, OpenMP) in a host array kept
// across builds (attn_plan_bits_take: fresh memory costs page faults, ~1 ms per MB here), uploaded,
// with the tiles asked for in `flags` (ATTN_CUDA_BLOCK_FINE, ATTN_CUDA_BLOCK_BITS, else by head_dim
// at launch: attn_cuda_block_fine) and the 128 x 128 tiles' efficiency.
static void block_bits_build(attn_cuda_plan *p, const maskplan *const *plans, int flags) {
    const size_t n_words = attn_plan_block_bits_words(p->n_k) * p->n_heads;
    p->qb0 = (p->n_k - p->n_q) / T;
    p->n_qt = (p->n_k - 1) / T - p->qb0 + 1;
    p->bits_rows = (p->n_k + 63) / 64;
    p->bits_words = (p->bits_rows + 63) / 64;
    size_t cap = 0;
    uint64_t *buf = attn_plan_bits_take(n_words, &cap);
    const double t0 = now_ms();
    int64_t wgmma_tiles = 0;
    attn_plan_block_bits(plans, p->n_heads, p->n_k, p->qb0, buf, 0, &p->head_tiles, &p->causal_tiles, &wgmma_tiles);
    p->host_ms = now_ms() - t0;
    p->d_bits = upload(buf, n_words);
    p->block_bits = 1;
    p->block_tiles = (flags & ATTN_CUDA_BLOCK_FINE) ? ATTN_CUDA_TILES_FINE
                     : (flags & ATTN_CUDA_BLOCK_BITS) ? ATTN_CUDA_TILES_COARSE
                                                      : ATTN_CUDA_TILES_AUTO;
    p->block_efficiency = wgmma_tiles > 0 ? (double)p->head_tiles / (4.0 * (double)wgmma_tiles) : 1.0;
    p->device_bytes = sizeof(uint64_t) * n_words;
    p->hc = 1;
    p->n_chunks = p->n_heads;
    attn_plan_bits_give(buf, cap);
}

// The statistics of a sink + window plan, counted as for list plans: per 64-row query tile, the
// 64-key tiles some row keeps a key in (sink tiles and the window's), and the causal tiles.
static void sink_window_stats(attn_cuda_plan *p, int sink, int window) {
    const int q_base = p->n_k - p->n_q;
    p->qb0 = q_base / T;
    p->n_qt = (p->n_k - 1) / T - p->qb0 + 1;
    const int64_t sink_tiles = (sink + T - 1) / T;
    for (int qt = 0; qt < p->n_qt; qt++) {
        const int64_t qb = p->qb0 + qt, p0 = std::max<int64_t>(qb * T, q_base);
        const int64_t lo = std::max<int64_t>(0, p0 - window + 1) / T;  // first window tile
        p->head_tiles += (int64_t)p->n_heads * (std::min(sink_tiles, lo) + qb + 1 - lo);
        p->causal_tiles += (int64_t)p->n_heads * (qb + 1);
    }
}

// A zeroed plan of this shape (exits with 3 when out of memory).
static attn_cuda_plan *plan_new(int n_q, int n_k, int n_heads, int n_kv_heads) {
    attn_cuda_plan *p = (attn_cuda_plan *)calloc(1, sizeof *p);
    if (!p) { fprintf(stderr, "dam: out of memory (attention plan)\n"); exit(3); }
    p->n_q = n_q;
    p->n_k = n_k;
    p->n_heads = n_heads;
    p->n_kv_heads = n_kv_heads;
    return p;
}

// Which build a plan set takes (attn_cuda_plan_build_ex, in this order): sinks + window on Hopper
// (*sink, *window set), blocks only on Hopper (bits), lists built on the GPU, the host build.
enum build_path { PATH_SINK_WINDOW, PATH_BLOCK_BITS, PATH_GPU_LISTS, PATH_HOST };
static build_path choose_path(const maskplan *const *plans, int n_q, int n_k, int n_heads, int flags, int *sink,
                              int *window) {
    if (plans && !(flags & (ATTN_CUDA_FORCE_LISTS | ATTN_CUDA_NO_GATHER | ATTN_CUDA_PACK_GQA | ATTN_CUDA_NO_WGMMA)) &&
        plans_sink_window(plans, n_heads, sink, window) && attn_cuda_wgmma_available(64))
        return PATH_SINK_WINDOW;
    // (a step of fewer than 128 queries: lists, unless forced; one decode row would use 1/64 of a
    // 64-row CTA)
    if (plans && !(flags & (ATTN_CUDA_FORCE_LISTS | ATTN_CUDA_NO_GATHER | ATTN_CUDA_PACK_GQA | ATTN_CUDA_NO_WGMMA |
                            ATTN_CUDA_HOST_LISTS | ATTN_CUDA_GPU_LISTS | ATTN_PLAN_NO_SHORTCUT)) &&
        (n_q >= 128 || (flags & (ATTN_CUDA_BLOCK_BITS | ATTN_CUDA_BLOCK_FINE))) &&
        attn_plan_blocks_only(plans, n_heads, n_k) && attn_cuda_wgmma_available(64))
        return PATH_BLOCK_BITS;
    // columns, diagonals, blocks: lists built on the GPU (ATTN_CUDA_NO_WGMMA with ATTN_CUDA_GPU_LISTS:
    // its dense heads stay on the list kernel)
    if (!(flags & (ATTN_CUDA_FORCE_LISTS | ATTN_CUDA_NO_GATHER | ATTN_CUDA_PACK_GQA | ATTN_CUDA_HOST_LISTS |
                   ATTN_PLAN_NO_SHORTCUT)) &&
        (!(flags & ATTN_CUDA_NO_WGMMA) || (flags & ATTN_CUDA_GPU_LISTS)) &&
        (n_q >= 128 || (flags & ATTN_CUDA_GPU_LISTS)) && attn_cuda_plan_gpu_eligible(plans, n_heads))
        return PATH_GPU_LISTS;
    return PATH_HOST;
}

// Exits with 3 unless 1 <= n_q <= n_k and n_heads is a positive multiple of n_kv_heads (as the host build).
static void check_shape(int n_q, int n_k, int n_heads, int n_kv_heads) {
    if (n_q < 1 || n_q > n_k || n_kv_heads < 1 || n_heads < 1 || n_heads % n_kv_heads != 0) {
        fprintf(stderr, "dam: attn_cuda_plan_build: bad shape n_q=%d n_k=%d heads=%d/%d\n", n_q, n_k, n_heads, n_kv_heads);
        exit(3);
    }
}

extern "C" attn_cuda_plan *attn_cuda_plan_build_ex(const maskplan *const *plans, int n_q, int n_k, int n_heads,
                                                   int n_kv_heads, int flags) {
    const double t0 = now_ms();
    check_shape(n_q, n_k, n_heads, n_kv_heads);
    int sink = 0, window = 0;
    const build_path path = choose_path(plans, n_q, n_k, n_heads, flags, &sink, &window);
    if (path == PATH_SINK_WINDOW) {
        // sinks + window on Hopper: the wgmma kernel computes the mask itself, no lists
        attn_cuda_plan *p = plan_new(n_q, n_k, n_heads, n_kv_heads);
        p->hc = 1;
        p->n_chunks = n_heads;
        p->sink_window = 1;
        p->sink = sink;
        p->window = window;
        p->wgmma = 1;
        sink_window_stats(p, sink, window);
        p->build_ms = now_ms() - t0;
        return p;
    }
    if (path == PATH_BLOCK_BITS) {
        // blocks only on Hopper: the wgmma kernel reads the bits, no lists
        attn_cuda_plan *p = plan_new(n_q, n_k, n_heads, n_kv_heads);
        block_bits_build(p, plans, flags);
        p->build_ms = now_ms() - t0;
        return p;
    }
    if (path == PATH_GPU_LISTS) {
        attn_cuda_plan *p = plan_new(n_q, n_k, n_heads, n_kv_heads);
        attn_cuda_plan_gpu_build(p, plans, !(flags & ATTN_CUDA_NO_WGMMA));
        p->list_mma = (flags & ATTN_CUDA_NO_WGMMA) != 0;
        p->build_ms = now_ms() - t0;
        return p;
    }
    attn_plan_host *hp = attn_cuda_plan_host_build(plans, n_q, n_k, n_heads, n_kv_heads, flags, 0);
    attn_cuda_plan *p = plan_new(hp->n_q, hp->n_k, hp->n_heads, hp->n_kv_heads);
    p->hc = hp->hc;
    p->n_chunks = hp->n_chunks;
    p->qb0 = hp->qb0;
    p->n_qt = hp->n_qt;
    p->dense = hp->dense;
    p->wgmma = hp->dense && !(flags & ATTN_CUDA_NO_WGMMA);
    p->list_mma = (flags & (ATTN_CUDA_NO_WGMMA | ATTN_CUDA_PACK_GQA)) != 0;
    p->entry_ints = hp->entry_ints;
    p->n_entries = hp->n_entries;
    p->n_masks = hp->n_masks;
    p->n_gathered = hp->n_gathered;
    p->head_tiles = hp->head_tiles;
    p->causal_tiles = hp->causal_tiles;
    p->host_ms = hp->build_ms;
    p->threads = hp->threads;
    if (!hp->dense) {
        const size_t n_items = (size_t)p->n_chunks * p->n_qt;
        p->d_tile_ptr = upload(hp->tile_ptr, n_items + 1);
        p->d_entries = upload(hp->entries, (size_t)p->n_entries * p->entry_ints);
        p->d_words = upload(hp->words, (size_t)p->n_masks * T);
        p->d_gather = upload(hp->gather, (size_t)p->n_gathered * T);
        p->d_order = upload(hp->order, 4 * n_items);
        p->device_bytes = sizeof(int32_t) * (n_items + 1) + sizeof(int32_t) * std::max<size_t>((size_t)p->n_entries * p->entry_ints, 1) +
                          sizeof(uint64_t) * T * std::max<size_t>((size_t)p->n_masks, 1) +
                          sizeof(int32_t) * T * std::max<size_t>((size_t)p->n_gathered, 1) + sizeof(int32_t) * 4 * n_items;
    }
    attn_cuda_plan_host_free(hp);
    p->build_ms = now_ms() - t0;
    return p;
}

// attn_cuda_plan_build's flags: DAM_CUDA_HOST_LISTS=1 gives the host build for every plan (A/B runs).
static int default_flags(void) {
    static int host_lists = -1;
    if (host_lists < 0) {
        const char *e = getenv("DAM_CUDA_HOST_LISTS");
        host_lists = e && strcmp(e, "1") == 0;
    }
    return host_lists ? ATTN_CUDA_HOST_LISTS : 0;
}

extern "C" attn_cuda_plan *attn_cuda_plan_build(const maskplan *const *plans, int n_q, int n_k, int n_heads,
                                                int n_kv_heads) {
    return attn_cuda_plan_build_ex(plans, n_q, n_k, n_heads, n_kv_heads, default_flags());
}

extern "C" void attn_cuda_plan_build_layers(const maskplan *const *const *plans, int count, int n_q, int n_k,
                                            int n_heads, int n_kv_heads, attn_cuda_plan **out) {
    check_shape(n_q, n_k, n_heads, n_kv_heads);
    const int flags = default_flags();
    std::vector<attn_cuda_plan *> gpu;
    std::vector<const maskplan *const *> gpu_plans;
    for (int i = 0; i < count; i++) {
        int sink = 0, window = 0;
        if (plans[i] == NULL) {
            out[i] = NULL;
        } else if (choose_path(plans[i], n_q, n_k, n_heads, flags, &sink, &window) == PATH_GPU_LISTS) {
            out[i] = plan_new(n_q, n_k, n_heads, n_kv_heads);
            gpu.push_back(out[i]);
            gpu_plans.push_back(plans[i]);
        } else {
            out[i] = attn_cuda_plan_build_ex(plans[i], n_q, n_k, n_heads, n_kv_heads, flags);
        }
    }
    if (gpu.empty()) return;
    const double t0 = now_ms();
    attn_cuda_plan_gpu_build_many(gpu.data(), gpu_plans.data(), (int)gpu.size(), true);
    const double share = (now_ms() - t0) / (double)gpu.size();
    for (attn_cuda_plan *p : gpu) p->build_ms = share;  // (list_mma stays 0: the default flags)
}

extern "C" int attn_cuda_block_fine(const attn_cuda_plan *p, int d) {
    if (!p->block_bits) return 0;
    if (p->block_tiles != ATTN_CUDA_TILES_AUTO) return p->block_tiles == ATTN_CUDA_TILES_FINE;
    return d == 64 || p->block_efficiency < ATTN_PLAN_BLOCK_BITS_MIN_EFFICIENCY;
}

extern "C" void attn_cuda_plan_free(attn_cuda_plan *p) {
    if (!p) return;
    if (p->d_lists) {  // the GPU build: its arrays are parts of one allocation
        dam_cuda_free(p->d_lists);
    } else {
        dam_cuda_free(p->d_tile_ptr);
        dam_cuda_free(p->d_entries);
        dam_cuda_free(p->d_words);
        dam_cuda_free(p->d_gather);
        dam_cuda_free(p->d_order);
        dam_cuda_free(p->d_wgmma_heads);
    }
    dam_cuda_free(p->d_parts);
    dam_cuda_free(p->d_bits);
    free(p);
}

// The list kernel's shape for plan p at head_dim d: heads per CTA (*hc), m-tiles per warp (*mt), and
// whether its products run on wgmma (the return value).
static bool list_shape(const attn_cuda_plan *plan, int d, int *hc_out, int *mt_out) {
    // heads per CTA: the plan's chunk, split where the registers would spill (ptxas -v: d=64 with
    // 4 heads and d=128 with 3 or 4 heads spill)
    int hc = plan->hc == 4 ? 2 : (d == 128 && plan->hc == 3) ? 1 : plan->hc;
    // benchmarks only: DAM_CUDA_HEADS_PER_CTA=1|2|3 overrides, where it divides the plan's chunk
    static int hpc_env = -1;
    if (hpc_env < 0) {
        const char *e = getenv("DAM_CUDA_HEADS_PER_CTA");
        hpc_env = e ? atoi(e) : 0;
    }
    if (hpc_env >= 1 && hpc_env <= (d == 64 ? 3 : 2) && plan->hc % hpc_env == 0) hc = hpc_env;
    // m-tiles per warp: DAM_CUDA_MT=1|2 (d = 64 only; default MT_DEFAULT)
    static int mt_env = -1;
    if (mt_env < 0) {
        const char *e = getenv("DAM_CUDA_MT");
        mt_env = e ? atoi(e) : MT_DEFAULT_64;
    }
    // the list kernel's products on wgmma (d = 64, one head per CTA, MT = 1, compute capability 9.0)
    // unless the plan asks for mma.sync (ATTN_CUDA_NO_WGMMA, ATTN_CUDA_PACK_GQA) or, for A/B benchmarks,
    // DAM_CUDA_LIST_MMA=1
    static int list_mma_env = -1;
    if (list_mma_env < 0) {
        const char *e = getenv("DAM_CUDA_LIST_MMA");
        list_mma_env = e && strcmp(e, "1") == 0;
    }
    *hc_out = hc;
    *mt_out = d == 64 && mt_env == 2 ? 2 : 1;
    return d == 64 && hc == 1 && *mt_out == 1 && !plan->list_mma && !list_mma_env && attn_cuda_wgmma_available(64);
}

extern "C" int attn_cuda_list_wgmma(const attn_cuda_plan *plan, int d) {
    if (plan->block_bits || plan->sink_window || (plan->wgmma && attn_cuda_wgmma_available(d))) return 0;
    int hc, mt;
    return list_shape(plan, d, &hc, &mt);
}

extern "C" void attn_cuda_masked(dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q,
                                 const dam_bf16 *k, const dam_bf16 *v, int kv_cap, int n_k, int n_heads,
                                 int n_kv_heads, int d, float scale, const attn_cuda_plan *plan, int *d_empty,
                                 void *stream) {
    if (!plan || plan->n_q != n_q || plan->n_k != n_k || plan->n_heads != n_heads || plan->n_kv_heads != n_kv_heads) {
        fprintf(stderr, "dam: attn_cuda_masked: the plan was built for another shape\n");
        exit(3);
    }
    if ((d != 64 && d != 128) || q_stride % 8 || out_stride % 8 || kv_cap % 8 || kv_cap < n_k ||
        ((uintptr_t)q | (uintptr_t)k | (uintptr_t)v | (uintptr_t)out) % 16) {
        fprintf(stderr, "dam: attn_cuda_masked: unsupported d=%d or unaligned strides/pointers\n", d);
        exit(3);
    }
    if (plan->block_bits) {  // built so only where the device runs the wgmma kernel
        attn_cuda_wgmma_blocks(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, n_heads, n_kv_heads, d, scale,
                               plan->d_bits, plan->bits_rows, plan->bits_words, attn_cuda_block_fine(plan, d), d_empty,
                               stream);
        return;
    }
    if (plan->sink_window || (plan->wgmma && attn_cuda_wgmma_available(d))) {  // Hopper: the wgmma kernel
        attn_cuda_wgmma(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, n_heads, n_kv_heads, d, scale, plan->sink,
                        plan->sink_window ? plan->window : 0, d_empty, stream);
        return;
    }
    Params pr;
    attn_io_set(pr, out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, n_heads, n_kv_heads);
    pr.qb0 = plan->qb0;
    pr.n_qt = plan->n_qt;
    pr.entry_ints = plan->entry_ints;
    pr.dense = plan->dense;
    pr.scale_log2 = scale * LOG2E;
    pr.tile_ptr = plan->d_tile_ptr;
    pr.entries = plan->d_entries;
    pr.gather = plan->d_gather;
    pr.order = plan->d_order;
    pr.words = reinterpret_cast<const unsigned long long *>(plan->d_words);
    pr.parts = reinterpret_cast<const unsigned long long *>(plan->d_parts);
    pr.nkw = plan->nkw;
    pr.empty = d_empty;
    pr.hc_plan = plan->hc;
    pr.split = 1;
    cudaStream_t s = (cudaStream_t)stream;
    const int nc = plan->n_chunks;
    int ctas = nc * plan->n_qt;  // every item (dense: every query tile of every chunk)
    if (plan->n_wgmma_heads > 0 && attn_cuda_wgmma_available(d)) {  // a plan's dense heads on the wgmma kernel
        attn_cuda_wgmma_heads(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, n_heads, n_kv_heads, d, scale, 0, 0,
                              plan->d_wgmma_heads, plan->n_wgmma_heads, d_empty, stream);
        ctas = plan->list_ctas;
    }
    int hc, mt;
    const bool list_wgmma = list_shape(plan, d, &hc, &mt);
    if (list_wgmma) {
        launch<64, 1, 1, true>(pr, nc, ctas, s);
    } else if (d == 64 && mt == 2) {
        if (hc == 1) launch<64, 1, 2>(pr, nc, ctas, s);
        else if (hc == 2) launch<64, 2, 2>(pr, nc, ctas, s);
        else launch<64, 3, 2>(pr, nc, ctas, s);
    } else if (d == 64) {
        if (hc == 1) launch<64, 1, 1>(pr, nc, ctas, s);
        else if (hc == 2) launch<64, 2, 1>(pr, nc, ctas, s);
        else launch<64, 3, 1>(pr, nc, ctas, s);
    } else {
        if (hc == 1) launch<128, 1, 1>(pr, nc, ctas, s);
        else launch<128, 2, 1>(pr, nc, ctas, s);
    }
}
