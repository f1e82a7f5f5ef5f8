// attention_wgmma.cu — see attention_wgmma.h and docs/cuda.md ("Dense, sink + window and block path: wgmma").
//
// Per CTA: one query head, BM = 64·NWG query rows (positions pos0 .. pos0 + BM − 1), NWG
// warpgroups of 64 rows: NWG = 1 over BN = 64 keys (fine) or 128 keys (wide; d = 64 dense and windows >= 2048),
// NWG = 2 (d = 128) or 3 (d = 64) over BN = 128 keys (coarse). Key tiles of BN keys: the CTA visits
// the sink tiles, then the tiles from the window's start for its first row up to its last
// position (dense: every tile up to the diagonal); with block bits (p.bits), the tiles up to its
// last position in which one of its query blocks keeps a 64-block, listed first in shared memory
// (after V). Iteration i over the visited tiles (one barrier):
//   wait for every cp.async issued so far (K_i, V_{i−1}), fence to the async proxy, barrier;
//   wgmma S = Q K_i^T (group 1), wgmma O += P_{i−1} V_{i−1} (group 2);
//   then, while the tensor cores work, the cp.async loads of K_{i+1} and V_i (into the stages
//   iteration i − 1 read, done before the barrier);
//   wait for group 1; mask (tiles not wholly kept by the warp's 16 rows: the diagonal, the window's
//   lower edge, a partial sink tile), online softmax of S -> P_i (fp32); wait for group 2;
//   O *= alpha; P_i packed to bf16 A fragments.
// A last iteration issues only O += P V. Shared memory (1024-byte aligned): Q [BM][D],
// K [2][BN][D], V [2][BN][D], each as D/64 blocks of [rows][64] with the 128-byte swizzle of
// wgmma.cuh (+ 4 bytes per key tile for the block plans' list, <= 64 KiB): coarse 160 KB at D = 128,
// 88 KB at D = 64, one CTA per SM (registers); fine 80 KB at D = 128 (2 CTAs per SM), 40 KB at D = 64
// (4 per SM); wide 72 KB at D = 64 (3 per SM: wgmma_min_ctas).
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <mutex>

#include "kernels/cuda/attention_wgmma.h"
#include "kernels/cuda/attention_io.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/wgmma.cuh"

// ATTN_CUDA_FAULT == 3 (tests only: proves the test fails when this kernel is wrong): the causal
// mask off by one (row p also sees key p + 1)
#ifndef ATTN_CUDA_FAULT
#define ATTN_CUDA_FAULT 0
#endif

namespace {

constexpr int BN_COARSE = 128;  // keys per tile of the coarse (192- and 128-row) CTAs
constexpr float LOG2E = 1.4426950408889634f;

struct WParams {
    const __nv_bfloat16 *q, *k, *v;
    __nv_bfloat16 *o;
    int q_stride, o_stride, kv_cap, n_q, n_k, group, q_base, qt0, n_qt, n_heads;
    const int32_t *heads;  // NULL: query heads 0 .. n_run - 1; else the n_run heads heads[0 .. n_run)
    int n_run;
    int sink, window;  // kept: j <= p and (j < sink or p - j < window); dense: sink 0, window 2^30
    // block plans (NULL: none): additionally kept only if bit (j / 64) % 64 of word j / 4096 of row
    // (h · bits_rows + p / 64) of bits is set ([n_heads][bits_rows][bits_words]; rows >= bits_rows: none)
    const unsigned long long *bits;
    int bits_rows, bits_words;
    float scale_log2;
    int *empty;
};

// byte offset of 16-byte chunk ch (0 .. D/8 − 1) of row r in an R-row tile: block ch / 8 of
// [R][64], row r at r·128, chunk (ch % 8) ^ (r % 8)
template <int R> __device__ __forceinline__ uint32_t swz128(int r, int ch) {
    return (uint32_t)((ch >> 3) * R * 128 + r * 128 + (((ch & 7) ^ (r & 7)) << 4));
}

// CTAs resident per SM: one for the 192- and 128-row CTAs (registers); 64-row CTAs are small: over
// 64-key tiles 4 at d = 64 (<= 128 registers, 41 KB of shared memory each), 2 at d = 128 (81 KB
// each); over 128-key tiles (d = 64 only) 3 (<= 168 registers, 73 KB)
template <int D, int NWG, int BN> constexpr int wgmma_min_ctas() {
    return NWG > 1 ? 1 : BN == 64 ? (D == 64 ? 4 : 2) : 3;
}

// NWG warpgroups of 64 query rows each: BM = 64·NWG rows per CTA; key tiles of BN keys (128, or 64
// with NWG = 1: one query block × one key block per tile, the fine path of block plans)
template <int D, int NWG, int BN>
__global__ void __launch_bounds__(NWG * 128, (wgmma_min_ctas<D, NWG, BN>())) attn_fwd_wgmma(const WParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int BM = 64 * NWG, NTHREADS = NWG * 128;
    constexpr int KB = BN / 64, KMASK = (1 << KB) - 1;  // 64-key blocks per tile; all of them kept
    constexpr int CH = D / 8, NO = D / 2;  // 16-byte chunks per row; O accumulators per thread
    constexpr uint32_t Q_BYTES = BM * D * 2, KV_BYTES = BN * D * 2;
    extern __shared__ unsigned char smem_raw[];
    const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
    const uint32_t sQ = base, sK = base + Q_BYTES, sV = sK + 2 * KV_BYTES;

    const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
    const int qt = p.n_qt - 1 - (int)blockIdx.x / p.n_run, hr = (int)blockIdx.x % p.n_run;
    const int h = p.heads ? p.heads[hr] : hr, g = h / p.group;
    const int pos0 = (p.qt0 + qt) * BM;
    // key tiles visited: the sink tiles 0 .. ns - 1, then kt_lo .. kt_end - 1 (the window of the
    // first row up to the tile of the last position); visited tile i is tile_of(i)
    const int kt_end = (min(pos0 + BM, p.n_k) - 1) / BN + 1;
    const int kt_lo = max(0, pos0 - p.window + 1) / BN;
    const int ns = min((p.sink + BN - 1) / BN, kt_lo);
    int n_vis = ns + kt_end - kt_lo;
    // block plans: the visited tiles are listed in shared memory (after V), those 0 .. kt_end - 1 in
    // which a row of the CTA keeps a block: bits KB·kt .. KB·kt + KB − 1 of its query blocks' rows
    int *vis = reinterpret_cast<int *>(smem_raw + (base - smem_u32(smem_raw)) + Q_BYTES + 4 * KV_BYTES);
    if (p.bits) {
        const int qb_lo = max(pos0, p.q_base) / 64, qb_hi = min((min(pos0 + BM, p.n_k) - 1) / 64, p.bits_rows - 1);
        const unsigned long long *brow = p.bits + (size_t)h * p.bits_rows * p.bits_words;
        auto kept_tile = [&](int kt) {
            unsigned long long any = 0;
            for (int qb = qb_lo; qb <= qb_hi; qb++) any |= brow[(size_t)qb * p.bits_words + ((KB * kt) >> 6)];
            return (int)(any >> ((KB * kt) & 63)) & KMASK;
        };
        // each thread a contiguous range of tiles: count, exclusive scan over the CTA, list in order
        const int per = (kt_end + NTHREADS - 1) / NTHREADS, t0 = min(tid * per, kt_end), t1 = min(t0 + per, kt_end);
        int cnt = 0;
        for (int kt = t0; kt < t1; kt++) cnt += kept_tile(kt) != 0;
        __shared__ int wsum[NTHREADS / 32];
        int incl = cnt;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int x = __shfl_up_sync(0xffffffffu, incl, o);
            if (lane >= o) incl += x;
        }
        if (lane == 31) wsum[tid >> 5] = incl;
        __syncthreads();
        int before = incl - cnt, total = 0;
        for (int w = 0; w < NTHREADS / 32; w++) {
            if (w < (tid >> 5)) before += wsum[w];
            total += wsum[w];
        }
        for (int kt = t0; kt < t1; kt++)
            if (kept_tile(kt)) vis[before++] = kt;
        n_vis = total;
        __syncthreads();
    }
    auto tile_of = [&](int i) { return p.bits ? vis[i] : i < ns ? i : kt_lo + i - ns; };
    const int wrow = pos0 + 64 * wg + 16 * warp;             // first row (position) of this warp
    const int ra = wrow + (lane >> 2), rb = ra + 8;          // this thread's two rows
    const int cq = 2 * (lane & 3);                           // its first column in each 8-column block

    for (int i = tid; i < BM * CH && n_vis > 0; i += NTHREADS) {  // (nothing visited: no loads in flight)
        const int r = i / CH, ch = i % CH, t = pos0 + r - p.q_base;
        const bool valid = t >= 0 && t < p.n_q;
        const __nv_bfloat16 *src = valid ? p.q + (size_t)t * p.q_stride + (size_t)h * D + ch * 8 : p.q;
        cp_async16(sQ + swz128<BM>(r, ch), src, valid);
    }
    const __nv_bfloat16 *kh = p.k + (size_t)g * p.kv_cap * D, *vh = p.v + (size_t)g * p.kv_cap * D;
    // K / V tile loads: thread tid copies chunk tid % CH of rows tid / CH + m·RPP (RPP = rows per
    // pass, a multiple of 8, so the swizzle phase and the shared-memory offset step are constants)
    constexpr int RPP = NTHREADS / CH, PASSES = (BN + RPP - 1) / RPP;
    static_assert(RPP % 8 == 0, "rows per pass must keep the swizzle phase");
    const int lrow = tid / CH;
    const uint32_t lsoff = swz128<BN>(lrow, tid % CH);
    const size_t lgoff = (size_t)lrow * D + (tid % CH) * 8;
    auto load_tile = [&](uint32_t dst, const __nv_bfloat16 *src, int kt) {
        const __nv_bfloat16 *g0 = src + (size_t)kt * BN * D + lgoff;
        const int j0 = kt * BN + lrow;
#pragma unroll
        for (int m = 0; m < PASSES; m++) {
            if (BN % RPP != 0 && m == PASSES - 1 && lrow + m * RPP >= BN) break;
            const bool valid = j0 + m * RPP < p.n_k;
            cp_async16(dst + lsoff + m * RPP * 128, valid ? g0 + (size_t)m * RPP * D : src, valid);
        }
    };
    if (n_vis > 0) load_tile(sK, kh, tile_of(0));
    cp_async_commit();

    float s[BN / 2], o[NO];  // S / P of one tile: 2 rows × BN / 4 columns per thread
#pragma unroll
    for (int i = 0; i < BN / 2; i++) s[i] = 0.f;
    uint32_t pf[BN / 16][4];  // P of the previous tile: the A fragments of its 8 k-steps of 16 keys
#pragma unroll
    for (int i = 0; i < NO; i++) o[i] = 0.f;
#pragma unroll
    for (int i = 0; i < BN / 16; i++) pf[i][0] = pf[i][1] = pf[i][2] = pf[i][3] = 0u;
    float ma = -INFINITY, mb = -INFINITY, la = 0.f, lb = 0.f;  // running max (raw units), partial sums
    const uint32_t qrows = sQ + wg * 64 * 128;                // this warpgroup's 64 rows of Q

    // iteration i's first step (visited tile i): K_i and V_{i-1} (every cp.async so far) visible to
    // the tensor cores, and every warp done with iteration i - 1 (whose stages the next loads overwrite)
    auto sync = [&]() {
        cp_async_wait<0>();
        fence_proxy_async();
        __syncthreads();
    };
    // after the tile's GEMMs are issued: the loads of K_{i+1} and V_i, into the stages iteration
    // i - 1 read (the GEMMs in flight read K_i and V_{i-1}); stage = i % 2
    auto load_next = [&](int i) {
        if (i + 1 < n_vis) load_tile(sK + ((i + 1) & 1) * KV_BYTES, kh, tile_of(i + 1));
        if (i < n_vis) load_tile(sV + (i & 1) * KV_BYTES, vh, tile_of(i));
        cp_async_commit();
    };
    auto issue_s = [&](int i) {  // S = Q K_i^T
        const uint32_t kb = sK + (i & 1) * KV_BYTES;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            const uint64_t da = gmma_desc(qrows + (kk >> 2) * BM * 128 + (kk & 3) * 32, 16, 1024);
            const uint64_t db = gmma_desc(kb + (kk >> 2) * BN * 128 + (kk & 3) * 32, 16, 1024);
            if constexpr (BN == 64) wgmma_m64n64k16_ss(s, da, db, kk > 0);
            else wgmma_m64n128k16_ss(s, da, db, kk > 0);
        }
        wgmma_commit();
    };
    auto issue_pv = [&](int i) {  // O += P_i V_i
        const uint32_t vb = sV + (i & 1) * KV_BYTES;
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            if constexpr (D == 64) wgmma_m64n64k16_rs_tb(o, pf[kk], gmma_desc(vb + kk * 2048, BN * 128, 1024));
            else wgmma_m64n128k16_rs_tb(o, pf[kk], gmma_desc(vb + kk * 2048, BN * 128, 1024));
        }
        wgmma_commit();
    };
    // mask and online softmax of S (key tile kt): s becomes P (fp32); returns the factors
    // alpha = 2^((m_old − m_new)·scale_log2) of the two rows
    // block plans: the 64-key blocks of tile kt kept by the warp's query block (bit 0: the first)
    const int wqb = wrow / 64;
    auto keep_bits = [&](int kt) {
        if (!p.bits) return KMASK;
        if (wqb >= p.bits_rows) return 0;
        return (int)(p.bits[((size_t)h * p.bits_rows + wqb) * p.bits_words + ((KB * kt) >> 6)] >> ((KB * kt) & 63)) & KMASK;
    };
    auto softmax = [&](int kt, int keep, float &ala, float &alb) {
#pragma unroll
        for (int i = 0; i < BN / 2; i++) reg_fence(s[i]);
        // every pair of the tile kept for the warp's 16 rows: below the diagonal, every block kept,
        // and all sinks or all inside the window (warp-uniform); else per element
        const int j0 = kt * BN;
        if (!(keep == KMASK && j0 + BN - 1 <= wrow && (j0 + BN - 1 < p.sink || j0 >= wrow + 16 - p.window))) {
            constexpr int slack = ATTN_CUDA_FAULT == 3 ? 1 : 0;  // fault build: row p also sees p + 1
#pragma unroll
            for (int i = 0; i < BN / 8; i++)
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    const int j = j0 + 8 * i + cq + c;
                    const bool half = (keep >> (i >> 3)) & 1;  // key j's 64-key block kept (block i / 8 of the tile)
                    if (!(half && j <= ra + slack && (j < p.sink || ra - j < p.window))) s[4 * i + c] = -INFINITY;
                    if (!(half && j <= rb + slack && (j < p.sink || rb - j < p.window))) s[4 * i + 2 + c] = -INFINITY;
                }
        }
        // p = 2^(s·scale_log2 − m·scale_log2) on raw scores: one FFMA + one ex2 each
        float tma = -INFINITY, tmb = -INFINITY;
#pragma unroll
        for (int i = 0; i < BN / 8; i++) {
            tma = fmaxf(tma, fmaxf(s[4 * i], s[4 * i + 1]));
            tmb = fmaxf(tmb, fmaxf(s[4 * i + 2], s[4 * i + 3]));
        }
        tma = fmaxf(tma, __shfl_xor_sync(0xffffffffu, tma, 1));
        tma = fmaxf(tma, __shfl_xor_sync(0xffffffffu, tma, 2));
        tmb = fmaxf(tmb, __shfl_xor_sync(0xffffffffu, tmb, 1));
        tmb = fmaxf(tmb, __shfl_xor_sync(0xffffffffu, tmb, 2));
        const float mna = fmaxf(ma, tma), mnb = fmaxf(mb, tmb);
        const float mua = mna == -INFINITY ? 0.f : mna * p.scale_log2;  // no −inf − −inf
        const float mub = mnb == -INFINITY ? 0.f : mnb * p.scale_log2;
        // alpha exactly 1 when the maximum does not move (ex2(0) = 1; the FMA form m·c − round(m·c)
        // would leave a rounding residue): a tile a row keeps nothing in then changes nothing, so
        // the result of a row does not depend on how many such tiles its CTA visits (chunked
        // prefill equals one-shot bit for bit)
        ala = mna == -INFINITY ? 0.f : ex2((ma - mna) * p.scale_log2);
        alb = mnb == -INFINITY ? 0.f : ex2((mb - mnb) * p.scale_log2);
        float lsa = 0.f, lsb = 0.f;
#pragma unroll
        for (int i = 0; i < BN / 8; i++) {
            s[4 * i] = ex2(fmaf(s[4 * i], p.scale_log2, -mua));
            s[4 * i + 1] = ex2(fmaf(s[4 * i + 1], p.scale_log2, -mua));
            s[4 * i + 2] = ex2(fmaf(s[4 * i + 2], p.scale_log2, -mub));
            s[4 * i + 3] = ex2(fmaf(s[4 * i + 3], p.scale_log2, -mub));
            lsa += s[4 * i] + s[4 * i + 1];
            lsb += s[4 * i + 2] + s[4 * i + 3];
        }
        la = la * ala + lsa;
        lb = lb * alb + lsb;
        ma = mna;
        mb = mnb;
    };
    auto pack_p = [&]() {  // P (fp32 accumulator layout) -> bf16 A fragments, k-step kk = keys 16kk ..
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            pf[kk][0] = pack_bf16(s[8 * kk], s[8 * kk + 1]);
            pf[kk][1] = pack_bf16(s[8 * kk + 2], s[8 * kk + 3]);
            pf[kk][2] = pack_bf16(s[8 * kk + 4], s[8 * kk + 5]);
            pf[kk][3] = pack_bf16(s[8 * kk + 6], s[8 * kk + 7]);
        }
    };
    auto fence_o_pf = [&]() {
#pragma unroll
        for (int i = 0; i < NO; i++) reg_fence(o[i]);
#pragma unroll
        for (int i = 0; i < BN / 16; i++)
#pragma unroll
            for (int x = 0; x < 4; x++) reg_fence(pf[i][x]);
    };

    float ala, alb;
    if (n_vis > 0) {  // (a block plan may keep nothing in the CTA's rows: zeros)
    sync();  // first tile: S only
    wgmma_fence();
    issue_s(0);
    load_next(0);
    int keep = keep_bits(tile_of(0));
    wgmma_wait<0>();
    softmax(tile_of(0), keep, ala, alb);
    pack_p();
    for (int i = 1; i < n_vis; i++) {  // steady state: S_i and O += P_{i-1} V_{i-1} in flight together
        sync();
        wgmma_fence();
        issue_s(i);
        issue_pv(i - 1);
        load_next(i);
        keep = keep_bits(tile_of(i));
        wgmma_wait<1>();  // S_i done (groups complete in order)
        softmax(tile_of(i), keep, ala, alb);
        wgmma_wait<0>();  // P_{i-1} V_{i-1} done: o and pf are free
        fence_o_pf();
#pragma unroll
        for (int x = 0; x < NO / 4; x++) {  // O relative to the new maxima
            o[4 * x] *= ala;
            o[4 * x + 1] *= ala;
            o[4 * x + 2] *= alb;
            o[4 * x + 3] *= alb;
        }
        pack_p();
    }
    sync();  // last: O += P V of the last tile
    wgmma_fence();
    issue_pv(n_vis - 1);
    wgmma_wait<0>();
    fence_o_pf();
    }

    la += __shfl_xor_sync(0xffffffffu, la, 1);
    la += __shfl_xor_sync(0xffffffffu, la, 2);
    lb += __shfl_xor_sync(0xffffffffu, lb, 1);
    lb += __shfl_xor_sync(0xffffffffu, lb, 2);
    const int ta = ra - p.q_base, tb = rb - p.q_base;
    const float ia = la > 0.f ? 1.f / la : 0.f, ib = lb > 0.f ? 1.f / lb : 0.f;  // no key kept: zeros
    if (ta >= 0 && ta < p.n_q) {
        uint32_t *dst = reinterpret_cast<uint32_t *>(p.o + (size_t)ta * p.o_stride + (size_t)h * D + cq);
#pragma unroll
        for (int i = 0; i < NO / 4; i++) dst[i * 4] = pack_bf16(o[4 * i] * ia, o[4 * i + 1] * ia);
        if (la == 0.f && (lane & 3) == 0 && p.empty) atomicAdd(p.empty, 1);
    }
    if (tb >= 0 && tb < p.n_q) {
        uint32_t *dst = reinterpret_cast<uint32_t *>(p.o + (size_t)tb * p.o_stride + (size_t)h * D + cq);
#pragma unroll
        for (int i = 0; i < NO / 4; i++) dst[i * 4] = pack_bf16(o[4 * i + 2] * ib, o[4 * i + 3] * ib);
        if (lb == 0.f && (lane & 3) == 0 && p.empty) atomicAdd(p.empty, 1);
    }
#else
    __trap();  // built without sm_90a: the host never launches this (attn_cuda_wgmma_available)
#endif
}

template <int D, int NWG, int BN> void launch(WParams p, cudaStream_t stream) {
    constexpr int BM = 64 * NWG;
    p.qt0 = p.q_base / BM;
    p.n_qt = (p.n_k - 1) / BM - p.qt0 + 1;
    // + alignment slack; block plans: + the visited-tile list (one int per key tile)
    const size_t smem = (size_t)(BM * D + 4 * BN * D) * 2 + 1024 + (p.bits ? sizeof(int) * ((size_t)(p.n_k + BN - 1) / BN) : 0);
    static std::mutex lock;
    static size_t configured = 0;  // the dynamic shared memory limit set so far
    {
        std::lock_guard<std::mutex> guard(lock);
        if (smem > configured) {
            CUDA_CHECK(cudaFuncSetAttribute(attn_fwd_wgmma<D, NWG, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
            configured = smem;
        }
    }
    attn_fwd_wgmma<D, NWG, BN><<<p.n_qt * p.n_run, NWG * 128, smem, stream>>>(p);
    CUDA_LAUNCH_CHECK("attn_fwd_wgmma");
}

}  // namespace

extern "C" int attn_cuda_wgmma_available(int d) {
    static int cc = -1;  // compute capability major*10 + minor of the current device
    if (cc < 0) {
        int dev;
        cudaDeviceProp prop;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
        cc = prop.major * 10 + prop.minor;
    }
    return cc == 90 && (d == 64 || d == 128);
}

extern "C" void attn_cuda_wgmma(dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q,
                                const dam_bf16 *k, const dam_bf16 *v, int kv_cap, int n_k, int n_heads, int n_kv_heads,
                                int d, float scale, int n_sink, int window, int *d_empty, void *stream) {
    attn_cuda_wgmma_heads(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, n_heads, n_kv_heads, d, scale, n_sink,
                          window, NULL, n_heads, d_empty, stream);
}

static void run_wgmma(dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q, const dam_bf16 *k,
                      const dam_bf16 *v, int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale, int n_sink,
                      int window, const int32_t *d_heads, int n_run, const uint64_t *d_bits, int bits_rows,
                      int bits_words, int tiles, int *d_empty, void *stream) {
    if (!attn_cuda_wgmma_available(d)) {
        fprintf(stderr, "dam: attn_cuda_wgmma: needs compute capability 9.0 and d = 64 or 128 (d = %d)\n", d);
        exit(3);
    }
    if (n_sink < 0) {
        fprintf(stderr, "dam: attn_cuda_wgmma: n_sink = %d < 0\n", n_sink);
        exit(3);
    }
    if (n_run < 0 || n_run > n_heads || (d_heads == NULL && n_run != n_heads)) {
        fprintf(stderr, "dam: attn_cuda_wgmma: %d heads to run of %d\n", n_run, n_heads);
        exit(3);
    }
    if (n_q <= 0 || n_run == 0) return;
    WParams p;
    attn_io_set(p, out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, n_heads, n_kv_heads);
    p.n_heads = n_heads;
    p.heads = d_heads;
    p.n_run = n_run;
    p.sink = window > 0 ? n_sink : 0;
    p.window = window > 0 && window < (1 << 30) ? window : (1 << 30);
    p.scale_log2 = scale * LOG2E;
    p.empty = d_empty;
    p.bits = reinterpret_cast<const unsigned long long *>(d_bits);
    p.bits_rows = bits_rows;
    p.bits_words = bits_words;
    cudaStream_t s = (cudaStream_t)stream;
    // Tile shapes: fine = 64-row CTAs (one warpgroup) over 64-key tiles (4 CTAs per SM at d = 64, 2 at
    // d = 128); wide = 64-row CTAs over 128-key tiles (d = 64 only, 3 per SM); coarse = 3 warpgroups
    // (192 rows; run 14: +17-18 % over 2) at d = 64, 2 at d = 128 (3 would need more registers than an
    // SM has), over 128-key tiles, one CTA per SM. Block plans: fine or coarse as asked (`tiles`).
    // Dense and sinks + window (AUTO): d = 64 wide (run 61: dense 1.06 / 1.05 / 1.21x faster than fine
    // at 16K / 64K / 4K, 1.2-1.4x than coarse; windows of >= 2048 keys 1.04x), but fine for windows
    // below 2048 keys (w 1024: the 128-key tiles' edges cost more than they gain, 0.97x); d = 128
    // coarse (fine 0.87x, run 59). Benchmarks: DAM_CUDA_WGMMA_WG=1 (fine), 2 (128 x 128),
    // 3 (d = 64: 192 x 128) or 4 (d = 64: wide) overrides AUTO
    static int nwg_env = -1;
    if (nwg_env < 0) {
        const char *e = getenv("DAM_CUDA_WGMMA_WG");
        nwg_env = e ? atoi(e) : 0;
    }
    enum { FINE, WIDE, COARSE_2, COARSE_3 } shape;
    if (tiles == ATTN_CUDA_TILES_FINE) shape = FINE;
    else if (tiles == ATTN_CUDA_TILES_COARSE) shape = d == 64 ? COARSE_3 : COARSE_2;
    else if (nwg_env >= 1 && nwg_env <= 4)
        shape = nwg_env == 1 ? FINE : nwg_env == 2 ? COARSE_2 : d == 128 ? COARSE_2 : nwg_env == 3 ? COARSE_3 : WIDE;
    else if (d == 128) shape = COARSE_2;
    else shape = p.window < 2048 ? FINE : WIDE;
    if (d == 64) {
        if (shape == FINE) launch<64, 1, 64>(p, s);
        else if (shape == WIDE) launch<64, 1, 128>(p, s);
        else if (shape == COARSE_2) launch<64, 2, 128>(p, s);
        else launch<64, 3, 128>(p, s);
    } else {
        if (shape == FINE) launch<128, 1, 64>(p, s);
        else launch<128, 2, 128>(p, s);
    }
}

extern "C" void attn_cuda_wgmma_heads(dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q,
                                      const dam_bf16 *k, const dam_bf16 *v, int kv_cap, int n_k, int n_heads,
                                      int n_kv_heads, int d, float scale, int n_sink, int window, const int32_t *d_heads,
                                      int n_run, int *d_empty, void *stream) {
    run_wgmma(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, n_heads, n_kv_heads, d, scale, n_sink, window, d_heads,
              n_run, NULL, 0, 0, ATTN_CUDA_TILES_AUTO, d_empty, stream);
}

extern "C" void attn_cuda_wgmma_blocks(dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q,
                                       const dam_bf16 *k, const dam_bf16 *v, int kv_cap, int n_k, int n_heads,
                                       int n_kv_heads, int d, float scale, const uint64_t *d_bits, int bits_rows,
                                       int bits_words, int fine, int *d_empty, void *stream) {
    if (d_bits == NULL) {
        fprintf(stderr, "dam: attn_cuda_wgmma_blocks: no block bits\n");
        exit(3);
    }
    if (bits_rows < 0 || bits_words < (bits_rows + 63) / 64 || bits_words < (n_k + 4095) / 4096) {
        fprintf(stderr, "dam: attn_cuda_wgmma_blocks: %d words per bit row are too few for %d rows and %d keys\n",
                bits_words, bits_rows, n_k);
        exit(3);
    }
    const int bn = fine ? 64 : BN_COARSE;  // keys per tile of the shape run_wgmma takes
    if ((size_t)(n_k + bn - 1) / bn * sizeof(int) > ATTN_CUDA_WGMMA_MAX_LIST_BYTES) {
        fprintf(stderr, "dam: attn_cuda_wgmma_blocks: %d keys exceed the %d-byte visited-tile list (%d-key tiles)\n", n_k,
                (int)ATTN_CUDA_WGMMA_MAX_LIST_BYTES, bn);
        exit(3);
    }
    run_wgmma(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, n_heads, n_kv_heads, d, scale, 0, 0, NULL, n_heads,
              d_bits, bits_rows, bits_words, fine ? ATTN_CUDA_TILES_FINE : ATTN_CUDA_TILES_COARSE, d_empty, stream);
}
