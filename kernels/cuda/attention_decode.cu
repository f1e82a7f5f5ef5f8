// attention_decode.cu — see attention_decode.h. Split-K decode attention on tensor cores: one CTA
// per (split, head group), the group's query heads as the rows of a 16-row mma.sync tile; online
// softmax per warp; warps merged in shared memory; splits merged by the last CTA of each head group.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"
#include "kernels/cuda/mma.cuh"

namespace {

constexpr int WARPS = 4, THREADS = 32 * WARPS;
constexpr int TILE = 64;    // keys per shared-memory stage (16 per warp)
// cp.async ring depth for head dim D and G query heads per CTA: STAGES - 1 tiles in flight while one
// is computed. Three at d = 128 with G <= 5: 100 KB of dynamic shared memory plus the static s_o
// (2 KB per query head) leave room for two CTAs per SM (228 KB), where four stages' 132 KB left one, which
// could not keep enough bytes in flight (run 85: 77 % of the copy bandwidth at 32K for the
// Llama-3-8B shape, G = 4, against 69 % with four stages and the splits in two waves; with one CTA per
// SM, 54 %). Four otherwise: at d = 64 (64 KB of K/V, two or three CTAs per SM), and at d = 128 with
// G >= 6, where even three stages fit only one CTA per SM, so the deeper ring is kept.
template <int D, int G>
__host__ __device__ constexpr int stages() { return D == 128 && G <= 5 ? 3 : 4; }
constexpr int MAXG = 8;     // query heads per CTA (the GQA group), at most (rows of the 16-row mma tile)
constexpr int MAX_SPLITS = 1024;  // splits per head, at most
constexpr int MERGE_BATCH = 16;   // the split merge's 16-byte reads in flight per thread
constexpr float LOG2E = 1.4426950408889634f;

// D: head dim (64 or 128); G: query heads per CTA (the GQA group dense, 1 sparse), the rows 0..G-1
// of one 16-row mma tile (rows G..15 are zero queries whose results are dropped). Each of the 4
// warps takes keys 16w .. 16w+15 of every 64-key tile: S = Q K^T (m16 x n16, D/16 k-steps), an
// online softmax per row over its keys, O += P V (m16 x D, one k-step of 16 keys). K and V tiles
// come through a stages<D, G>()-deep cp.async ring of shared memory (rows gathered by index when sparse).
template <int D, int G>
__global__ void __launch_bounds__(THREADS) decode_kernel(__nv_bfloat16 *__restrict__ out, const dam_bf16 *__restrict__ q,
                                                         const dam_bf16 *__restrict__ k, const dam_bf16 *__restrict__ v,
                                                         int kv_cap, int n_k, int group, float scale_log2,
                                                         const int32_t *__restrict__ idx_ptr, const int32_t *__restrict__ idx,
                                                         int chunk, float *__restrict__ part, unsigned *__restrict__ ticket,
                                                         int max_splits) {
    constexpr int CH = D / 8;   // 16-byte chunks per row
    constexpr int PS = D + 4;   // floats per split partial: D accumulators, max, sum, 2 pad (16-byte rows)
    extern __shared__ __align__(128) unsigned char smem_raw[];
    __nv_bfloat16 *sQ = reinterpret_cast<__nv_bfloat16 *>(smem_raw);  // [16][D]
    constexpr int STAGES = stages<D, G>();
    __nv_bfloat16 *sK = sQ + 16 * D;                                   // [STAGES][64][D]
    __nv_bfloat16 *sV = sK + STAGES * TILE * D;                        // [STAGES][64][D]
    const int split = blockIdx.x, n_splits = gridDim.x;
    const int h0 = blockIdx.y * G;  // first query head of this CTA
    const int kvh = h0 / group;     // its KV head
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    // key range of this split: [lo, hi) positions in the head's key sequence (dense: keys; sparse: list)
    int list0 = 0, n_items = n_k;
    if (idx_ptr) list0 = idx_ptr[h0], n_items = idx_ptr[h0 + 1] - list0;
    const int lo = min(split * chunk, n_items), hi = min(lo + chunk, n_items);
    const int n_tiles = (hi - lo + TILE - 1) / TILE;

    const __nv_bfloat16 *kb = reinterpret_cast<const __nv_bfloat16 *>(k) + (size_t)kvh * kv_cap * D;
    const __nv_bfloat16 *vb = reinterpret_cast<const __nv_bfloat16 *>(v) + (size_t)kvh * kv_cap * D;
    auto load_tile = [&](int t, int st) {  // keys lo + 64t .. +63 into stage st; rows past hi zero-filled
        for (int e = tid; e < TILE * CH; e += THREADS) {
            const int r = e / CH, c = e % CH, i = lo + t * TILE + r;
            const bool ok = i < hi;
            const int key = ok ? (idx ? idx[list0 + i] : i) : 0;
            cp_async16(smem_u32(sK + st * TILE * D + swz<D>(r, c)), kb + (size_t)key * D + c * 8, ok);
            cp_async16(smem_u32(sV + st * TILE * D + swz<D>(r, c)), vb + (size_t)key * D + c * 8, ok);
        }
    };
#pragma unroll
    for (int st = 0; st < STAGES - 1; st++) {
        if (st < n_tiles) load_tile(st, st);
        cp_async_commit();
    }
    // Q rows 0..G-1 (the heads), rows G..15 zero
    for (int e = tid; e < 16 * CH; e += THREADS) {
        const int r = e / CH, c = e % CH;
        uint4 w = make_uint4(0, 0, 0, 0);
        if (r < G) w = *reinterpret_cast<const uint4 *>(q + (size_t)(h0 + r) * D + c * 8);
        *reinterpret_cast<uint4 *>(sQ + swz<D>(r, c)) = w;
    }
    __syncthreads();
    uint32_t qa[D / 16][4];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) ldsm_x4(qa[kk], smem_u32(sQ + swz<D>(lane & 15, kk * 2 + (lane >> 4))));

    // per warp: rows r0 = lane / 4 (a head when < G) and r0 + 8 (padding), online softmax on raw
    // scores (the scale > 0 commutes with the max)
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
    float oacc[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; i++) oacc[i][0] = oacc[i][1] = oacc[i][2] = oacc[i][3] = 0.f;
    const int cq = 2 * (lane & 3);  // this lane's first key column within an n8 tile

    for (int t = 0; t < n_tiles; t++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();  // tile t landed for every thread; stage (t - 1) % STAGES is free again
        if (t + STAGES - 1 < n_tiles) load_tile(t + STAGES - 1, (t + STAGES - 1) % STAGES);
        cp_async_commit();
        const int st = t % STAGES;
        const __nv_bfloat16 *ks = sK + st * TILE * D, *vs = sV + st * TILE * D;
        float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t b[4];
            ldsm_x4(b, smem_u32(ks + swz<D>(warp * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1))));
            mma16816(s[0], qa[kk], b[0], b[1]);
            mma16816(s[1], qa[kk], b[2], b[3]);
        }
        const int kbase = lo + t * TILE + warp * 16;  // key position of this warp's column 0
        float tm0 = -INFINITY, tm1 = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < 2; nt++)
#pragma unroll
            for (int c = 0; c < 2; c++) {
                if (kbase + nt * 8 + cq + c >= hi) s[nt][c] = s[nt][2 + c] = -INFINITY;  // past the split
                tm0 = fmaxf(tm0, s[nt][c]);
                tm1 = fmaxf(tm1, s[nt][2 + c]);
            }
        tm0 = fmaxf(tm0, __shfl_xor_sync(0xffffffffu, tm0, 1));
        tm0 = fmaxf(tm0, __shfl_xor_sync(0xffffffffu, tm0, 2));
        tm1 = fmaxf(tm1, __shfl_xor_sync(0xffffffffu, tm1, 1));
        tm1 = fmaxf(tm1, __shfl_xor_sync(0xffffffffu, tm1, 2));
        const float mn0 = fmaxf(m0, tm0), mn1 = fmaxf(m1, tm1);
        const float mu0 = mn0 == -INFINITY ? 0.f : mn0 * scale_log2, mu1 = mn1 == -INFINITY ? 0.f : mn1 * scale_log2;
        const float al0 = ex2(fmaf(m0, scale_log2, -mu0)), al1 = ex2(fmaf(m1, scale_log2, -mu1));
        float ls0 = 0.f, ls1 = 0.f;
#pragma unroll
        for (int nt = 0; nt < 2; nt++)
#pragma unroll
            for (int c = 0; c < 2; c++) {
                s[nt][c] = ex2(fmaf(s[nt][c], scale_log2, -mu0));
                s[nt][2 + c] = ex2(fmaf(s[nt][2 + c], scale_log2, -mu1));
                ls0 += s[nt][c];
                ls1 += s[nt][2 + c];
            }
        l0 = l0 * al0 + ls0, l1 = l1 * al1 + ls1;
        m0 = mn0, m1 = mn1;
        uint32_t a[4] = {pack_bf16(s[0][0], s[0][1]), pack_bf16(s[0][2], s[0][3]), pack_bf16(s[1][0], s[1][1]),
                         pack_bf16(s[1][2], s[1][3])};
#pragma unroll
        for (int dp = 0; dp < D / 16; dp++) {
            uint32_t b[4];
            ldsm_x4_t(b, smem_u32(vs + swz<D>(warp * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), dp * 2 + (lane >> 4))));
#pragma unroll
            for (int x = 0; x < 2; x++) {
                float *o = oacc[2 * dp + x];
                o[0] *= al0, o[1] *= al0, o[2] *= al1, o[3] *= al1;
                mma16816(oacc[2 * dp + x], a, b[2 * x], b[2 * x + 1]);
            }
        }
    }
    cp_async_wait<0>();

    // merge the 4 warps (rows 0..G-1 only) through shared memory, then write this split's partial
    // (accumulators, max in base-2 units, sum) per head
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    __shared__ float s_m[WARPS][G], s_l[WARPS][G];
    __shared__ float s_o[WARPS][G][D];
    const int r0 = lane >> 2;
    if (r0 < G) {
        if ((lane & 3) == 0) s_m[warp][r0] = m0 == -INFINITY ? -INFINITY : m0 * scale_log2, s_l[warp][r0] = l0;
#pragma unroll
        for (int i = 0; i < D / 8; i++) s_o[warp][r0][i * 8 + cq] = oacc[i][0], s_o[warp][r0][i * 8 + cq + 1] = oacc[i][1];
    }
    __syncthreads();
    for (int e = tid; e < G * (D + 1); e += THREADS) {
        const int g = e / (D + 1), dim = e % (D + 1);  // dim == D: the sum
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < WARPS; w++) M = fmaxf(M, s_m[w][g]);
        float a = 0.f;
        if (M != -INFINITY)
#pragma unroll
            for (int w = 0; w < WARPS; w++) a += exp2f(s_m[w][g] - M) * (dim < D ? s_o[w][g][dim] : s_l[w][g]);
        float *pg = part + ((size_t)(h0 + g) * max_splits + split) * PS;
        if (dim < D) pg[dim] = a;
        else pg[D] = M, pg[D + 1] = a;
    }

    // the last CTA of this head group to finish merges the splits
    __shared__ bool s_last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        const unsigned done = atomicAdd(&ticket[h0], 1u);
        s_last = done == (unsigned)n_splits - 1;
    }
    __syncthreads();
    if (!s_last) return;
    __threadfence();
    // merge the splits of all G heads at once; the K/V ring's shared memory is free now. The chain of
    // dependent global reads is what a short cache's decode call waits on (run 85: ~8 us a call at 1K
    // keys), so each phase issues its reads together: A. every split's (max, sum) -> sw[g][s], sl[g][s]
    // (one 8-byte read each); B. one warp per head: M_g, weights sw = exp2(m - M_g), the total sum L_g
    // (shared memory only); C. each (head, 4 dims) slot sums weight x accumulators (16-byte reads,
    // MERGE_BATCH in flight per thread, splits shared among THREADS / slots threads, partial sums
    // combined through shared memory)
    float *sw = reinterpret_cast<float *>(sK), *sl = sw + G * n_splits;  // [G][n_splits] each
    __shared__ float s_L[G];
    __shared__ float4 s_part[THREADS];
#pragma unroll 4
    for (int e = tid; e < G * n_splits; e += THREADS) {
        const float2 ml = __ldcg(reinterpret_cast<const float2 *>(part + ((size_t)(h0 + e / n_splits) * max_splits + e % n_splits) * PS + D));
        sw[e] = ml.x, sl[e] = ml.y;
    }
    __syncthreads();
    for (int g = warp; g < G; g += WARPS) {
        float mx = -INFINITY;
        for (int s = lane; s < n_splits; s += 32) mx = fmaxf(mx, sw[g * n_splits + s]);
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
        float lsum = 0.f;
        for (int s = lane; s < n_splits; s += 32) {
            const float w = mx == -INFINITY ? 0.f : exp2f(sw[g * n_splits + s] - mx);  // empty splits weigh 0
            sw[g * n_splits + s] = w;
            lsum += w * sl[g * n_splits + s];
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) lsum += __shfl_xor_sync(0xffffffffu, lsum, off);
        if (lane == 0) s_L[g] = lsum;
    }
    __syncthreads();
    constexpr int SLOTS = G * D / 4, PARTS = SLOTS < THREADS ? THREADS / SLOTS : 1;
    auto store = [&](int slot, float4 a) {  // output dims 4c .. 4c+3 of head g, normalised
        const int g = slot / (D / 4), c = slot % (D / 4);
        const float inv = s_L[g] > 0.f ? 1.f / s_L[g] : 0.f;  // empty list: zeros
        __nv_bfloat162 *o2 = reinterpret_cast<__nv_bfloat162 *>(out + (size_t)(h0 + g) * D + 4 * c);
        o2[0] = __floats2bfloat162_rn(a.x * inv, a.y * inv);
        o2[1] = __floats2bfloat162_rn(a.z * inv, a.w * inv);
    };
    for (int e = tid; e < SLOTS * PARTS; e += THREADS) {
        const int slot = e % SLOTS, p = e / SLOTS, g = slot / (D / 4), c = slot % (D / 4);
        const float4 *pg = reinterpret_cast<const float4 *>(part + (size_t)(h0 + g) * max_splits * PS) + c;
        float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int s0 = p; s0 < n_splits; s0 += MERGE_BATCH * PARTS) {  // MERGE_BATCH reads, then their sums
            float4 x[MERGE_BATCH];
#pragma unroll
            for (int j = 0; j < MERGE_BATCH; j++) {
                const int s2 = s0 + j * PARTS;
                x[j] = s2 < n_splits ? __ldcg(pg + (size_t)s2 * (PS / 4)) : make_float4(0.f, 0.f, 0.f, 0.f);
            }
#pragma unroll
            for (int j = 0; j < MERGE_BATCH; j++) {
                const int s2 = s0 + j * PARTS;
                const float w = s2 < n_splits ? sw[g * n_splits + s2] : 0.f;
                a.x += w * x[j].x, a.y += w * x[j].y, a.z += w * x[j].z, a.w += w * x[j].w;
            }
        }
        if (PARTS == 1) store(slot, a);
        else s_part[e] = a;
    }
    if (PARTS > 1) {
        __syncthreads();
        for (int slot = tid; slot < SLOTS; slot += THREADS) {
            float4 a = s_part[slot];
            for (int p = 1; p < PARTS; p++) {
                const float4 x = s_part[p * SLOTS + slot];
                a.x += x.x, a.y += x.y, a.z += x.z, a.w += x.w;
            }
            store(slot, a);
        }
    }
    if (threadIdx.x == 0) ticket[h0] = 0;  // ready for the next call
}

int sm_count() {
    static int n = 0;
    if (n == 0) {
        int dev;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
    }
    return n;
}

[[noreturn]] void bad_arg(const char *what, long value) {
    fflush(stdout);
    fprintf(stderr, "dam: attn_cuda_decode: %s = %ld is not supported\n", what, value);
    exit(2);
}

// Launches decode_kernel<D, G> with its dynamic shared memory (Q tile + the K/V ring), raising the
// kernel's shared-memory limit on first use.
template <int D, int G>
void launch(dim3 grid, __nv_bfloat16 *o, const dam_bf16 *q, const dam_bf16 *k, const dam_bf16 *v, int kv_cap, int n_k, int group,
            float scale_log2, const int32_t *idx_ptr, const int32_t *idx, int chunk, attn_cuda_decode_ws *ws) {
    const size_t smem = sizeof(__nv_bfloat16) * (size_t)(16 * D + 2 * stages<D, G>() * TILE * D);
    static_assert(2 * stages<D, G>() * TILE * D * sizeof(__nv_bfloat16) >= 2 * sizeof(float) * MAXG * MAX_SPLITS,
                  "the split merge reuses the K and V ring as float scratch [2][G][n_splits]");
    static bool configured = false;  // per instantiation
    if (!configured) {
        CUDA_CHECK(cudaFuncSetAttribute(decode_kernel<D, G>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        configured = true;
    }
    decode_kernel<D, G><<<grid, THREADS, smem>>>(o, q, k, v, kv_cap, n_k, group, scale_log2, idx_ptr, idx, chunk, ws->d_part,
                                                 ws->d_ticket, ws->max_splits);
    CUDA_LAUNCH_CHECK("decode_kernel");
}

}  // namespace

extern "C" attn_cuda_decode_ws *attn_cuda_decode_ws_new(int n_heads, int d, int max_splits) {
    if (n_heads < 1) bad_arg("n_heads", n_heads);
    if (d != 64 && d != 128) bad_arg("d", d);
    if (max_splits < 0 || max_splits > MAX_SPLITS) bad_arg("max_splits", max_splits);
    if (max_splits == 0) max_splits = MAX_SPLITS;
    attn_cuda_decode_ws *ws = (attn_cuda_decode_ws *)calloc(1, sizeof *ws);
    if (ws == NULL) bad_arg("workspace allocation, bytes", (long)sizeof *ws);
    ws->n_heads = n_heads, ws->d = d, ws->max_splits = max_splits;
    const size_t part = sizeof(float) * (size_t)n_heads * max_splits * (d + 4), tick = sizeof(unsigned) * n_heads;
    ws->d_part = (float *)dam_cuda_malloc(part, "decode split partials");
    ws->d_ticket = (unsigned *)dam_cuda_malloc(tick, "decode tickets");
    CUDA_CHECK(cudaMemset(ws->d_ticket, 0, tick));
    ws->device_bytes = part + tick;
    return ws;
}

extern "C" void attn_cuda_decode_ws_free(attn_cuda_decode_ws *ws) {
    if (ws == NULL) return;
    dam_cuda_free(ws->d_part);
    dam_cuda_free(ws->d_ticket);
    free(ws);
}

extern "C" void attn_cuda_decode(dam_bf16 *out, const dam_bf16 *q, const dam_bf16 *k, const dam_bf16 *v, int kv_cap, int n_k,
                                 int n_heads, int n_kv_heads, int d, float scale, const int32_t *idx_ptr, const int32_t *idx,
                                 int max_list, int n_splits, attn_cuda_decode_ws *ws) {
    if (d != 64 && d != 128) bad_arg("d", d);
    if (ws == NULL || ws->d != d || ws->n_heads < n_heads) bad_arg("workspace heads (n_heads)", n_heads);
    if (n_kv_heads < 1 || n_heads % n_kv_heads != 0) bad_arg("n_kv_heads", n_kv_heads);
    const int group = n_heads / n_kv_heads;
    if (group > MAXG) bad_arg("n_heads / n_kv_heads", group);
    if (n_k < 1 || n_k > kv_cap) bad_arg("n_k", n_k);
    if ((idx_ptr == NULL) != (idx == NULL)) bad_arg("idx_ptr given without idx (or the reverse), idx_ptr", idx_ptr != NULL);
    const bool sparse = idx_ptr != NULL;
    if (sparse && max_list < 0) bad_arg("max_list", max_list);
    const int hc = sparse ? 1 : group, n_groups = n_heads / hc, items = sparse ? max_list : n_k;
    if (n_splits <= 0) {
        // one wave (2 resident CTAs per SM) over all head groups, each split at least 256 keys
        n_splits = (2 * sm_count() + n_groups - 1) / n_groups;
        const int by_len = (items + 255) / 256;
        if (n_splits > by_len) n_splits = by_len;
    }
    if (n_splits < 1) n_splits = 1;
    if (n_splits > ws->max_splits) n_splits = ws->max_splits;
    // whole 64-key tiles per split (the last split takes the rest); splits beyond the keys are dropped
    int chunk = (items + n_splits - 1) / n_splits;
    chunk = (chunk + TILE - 1) / TILE * TILE;
    if (chunk < TILE) chunk = TILE;
    if (items > 0 && (items + chunk - 1) / chunk < n_splits) n_splits = (items + chunk - 1) / chunk;
    const dim3 grid(n_splits, n_groups);
    const float scale_log2 = scale * LOG2E;
    __nv_bfloat16 *o = reinterpret_cast<__nv_bfloat16 *>(out);
#define DAM_DECODE_CASE(DD, GG)                                                                              \
    case DD * 16 + GG:                                                                                       \
        launch<DD, GG>(grid, o, q, k, v, kv_cap, n_k, group, scale_log2, idx_ptr, idx, chunk, ws);           \
        break;
    switch (d * 16 + hc) {
        DAM_DECODE_CASE(64, 1) DAM_DECODE_CASE(64, 2) DAM_DECODE_CASE(64, 3) DAM_DECODE_CASE(64, 4)
        DAM_DECODE_CASE(64, 5) DAM_DECODE_CASE(64, 6) DAM_DECODE_CASE(64, 7) DAM_DECODE_CASE(64, 8)
        DAM_DECODE_CASE(128, 1) DAM_DECODE_CASE(128, 2) DAM_DECODE_CASE(128, 3) DAM_DECODE_CASE(128, 4)
        DAM_DECODE_CASE(128, 5) DAM_DECODE_CASE(128, 6) DAM_DECODE_CASE(128, 7) DAM_DECODE_CASE(128, 8)
    default: bad_arg("n_heads / n_kv_heads", group);
    }
#undef DAM_DECODE_CASE
}
