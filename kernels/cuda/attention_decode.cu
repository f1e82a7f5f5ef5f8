// attention_decode.cu — see attention_decode.h. Split-K decode attention: one CTA per (split, head
// group); online softmax per lane group; partials merged by the last CTA of each head group.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/cuda_check.h"

namespace {

constexpr int THREADS = 256;  // 8 warps
constexpr int MAXG = 8;    // query heads per CTA (the GQA group), at most
constexpr int UNROLL = 4;     // keys per lane group in flight
constexpr int MAX_SPLITS = 1024;  // splits per head, at most
constexpr float LOG2E = 1.4426950408889634f;

// 8 bf16 values (16 bytes) to fp32.
__device__ __forceinline__ void unpack8(const uint4 &w, float f[8]) {
    const uint32_t u[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        f[2 * i] = __uint_as_float(u[i] << 16);
        f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
    }
}

// The max (MAX) or the sum of v over the CTA, returned to every thread; red: THREADS / 32 floats of
// shared scratch, free again on return.
template <bool MAX>
__device__ __forceinline__ float block_reduce(float v, float *red) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
        const float o = __shfl_xor_sync(0xffffffffu, v, off);
        v = MAX ? fmaxf(v, o) : v + o;
    }
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float r = red[0];
#pragma unroll
    for (int i = 1; i < THREADS / 32; i++) r = MAX ? fmaxf(r, red[i]) : r + red[i];
    __syncthreads();
    return r;
}

__device__ __forceinline__ uint4 load_nc(const dam_bf16 *p) { return __ldg(reinterpret_cast<const uint4 *>(p)); }

// D: head dim (64 or 128); G: query heads per CTA (the GQA group dense, 1 sparse). LPK = D / 8
// lanes per key row; KPW = 32 / LPK key rows per warp step.
template <int D, int G>
__global__ void __launch_bounds__(THREADS, G <= 4 ? 2 : 1) decode_kernel(__nv_bfloat16 *__restrict__ out, const dam_bf16 *__restrict__ q,
                                                         const dam_bf16 *__restrict__ k, const dam_bf16 *__restrict__ v,
                                                         int kv_cap, int n_k, int group, float scale_log2,
                                                         const int32_t *__restrict__ idx_ptr, const int32_t *__restrict__ idx,
                                                         int chunk, float *__restrict__ part, unsigned *__restrict__ ticket,
                                                         int max_splits) {
    constexpr int LPK = D / 8, KPW = 32 / LPK, GROUPS = THREADS / LPK;
    const int split = blockIdx.x, n_splits = gridDim.x;
    const int h0 = blockIdx.y * G;               // first query head of this CTA
    const int kvh = h0 / group;                  // its KV head
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int sub = lane / LPK, part_lane = lane % LPK;  // key row within the warp step, 16-byte chunk within the row
    const int grp = warp * KPW + sub;                    // lane group id, 0 .. GROUPS-1

    // key range of this split: [lo, hi) positions in the head's key sequence (dense: keys; sparse: list)
    int list0 = 0, n_items = n_k;
    if (idx_ptr) list0 = idx_ptr[h0], n_items = idx_ptr[h0 + 1] - list0;
    const int lo = min(split * chunk, n_items), hi = min(lo + chunk, n_items);

    float qf[G][8];
#pragma unroll
    for (int g = 0; g < G; g++) {
        float t[8];
        unpack8(load_nc(q + (size_t)(h0 + g) * D + part_lane * 8), t);
#pragma unroll
        for (int i = 0; i < 8; i++) qf[g][i] = t[i] * scale_log2;  // scores in base 2
    }
    float m[G], l[G], acc[G][8];
#pragma unroll
    for (int g = 0; g < G; g++) {
        m[g] = -INFINITY, l[g] = 0.f;
#pragma unroll
        for (int i = 0; i < 8; i++) acc[g][i] = 0.f;
    }
    const dam_bf16 *kb = k + (size_t)kvh * kv_cap * D + part_lane * 8;
    const dam_bf16 *vb = v + (size_t)kvh * kv_cap * D + part_lane * 8;

    for (int base = lo + grp; base < hi; base += GROUPS * UNROLL) {
        uint4 kw[UNROLL], vw[UNROLL];
        bool ok[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            const int i = base + u * GROUPS;
            ok[u] = i < hi;
            if (ok[u]) {
                const int key = idx ? idx[list0 + i] : i;
                kw[u] = load_nc(kb + (size_t)key * D);
                vw[u] = load_nc(vb + (size_t)key * D);
            }
        }
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            // every lane of a lane group has the same ok[u] (same key), so the shuffles below stay
            // within fully active groups; inactive groups skip them together
            if (!ok[u]) continue;
            float kf[8], vf[8];
            unpack8(kw[u], kf);
            unpack8(vw[u], vf);
#pragma unroll
            for (int g = 0; g < G; g++) {
                float s = 0.f;
#pragma unroll
                for (int i = 0; i < 8; i++) s = fmaf(qf[g][i], kf[i], s);
#pragma unroll
                for (int off = LPK / 2; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu >> (32 - LPK) << (sub * LPK), s, off, LPK);
                const float mn = fmaxf(m[g], s), f = exp2f(m[g] - mn), p = exp2f(s - mn);
                l[g] = l[g] * f + p;
#pragma unroll
                for (int i = 0; i < 8; i++) acc[g][i] = fmaf(acc[g][i], f, p * vf[i]);
                m[g] = mn;
            }
        }
    }

    // merge the lane groups of the CTA: through shared memory, one head at a time
    __shared__ float s_m[GROUPS], s_l[GROUPS];
    __shared__ float s_acc[GROUPS][D + 1];
    float *pout = part + ((size_t)h0 * max_splits + split) * (D + 2);
#pragma unroll
    for (int g = 0; g < G; g++) {
        if (part_lane == 0) s_m[grp] = m[g], s_l[grp] = l[g];
#pragma unroll
        for (int i = 0; i < 8; i++) s_acc[grp][part_lane * 8 + i] = acc[g][i];
        __syncthreads();
        // thread t < D merges dimension t over the groups; thread D merges the sums
        if (threadIdx.x <= D) {
            float M = -INFINITY;
            for (int j = 0; j < GROUPS; j++) M = fmaxf(M, s_m[j]);
            float a = 0.f, L = 0.f;
            if (M != -INFINITY)
                for (int j = 0; j < GROUPS; j++) {
                    const float f = exp2f(s_m[j] - M);  // exp2(-inf) = 0 for empty groups
                    if (threadIdx.x < D) a += f * s_acc[j][threadIdx.x];
                    else L += f * s_l[j];
                }
            float *pg = pout + (size_t)g * max_splits * (D + 2);
            if (threadIdx.x < D) pg[threadIdx.x] = a;
            else pg[D] = M, pg[D + 1] = L;
        }
        __syncthreads();
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
    // per head: the max over the splits, the weights exp2(m_s - M) (shared), the total sum, then
    // THREADS / D threads per output dimension sum the weighted accumulators of interleaved splits
    __shared__ float s_w[MAX_SPLITS], s_red[THREADS / 32], s_sum[THREADS];
    constexpr int PARTS = THREADS / D;
    for (int g = 0; g < G; g++) {
        const float *pg = part + (size_t)(h0 + g) * max_splits * (D + 2);
        float mx = -INFINITY;
        for (int s = threadIdx.x; s < n_splits; s += THREADS) {
            s_w[s] = __ldcg(pg + (size_t)s * (D + 2) + D);
            mx = fmaxf(mx, s_w[s]);
        }
        mx = block_reduce<true>(mx, s_red);
        float lsum = 0.f;
        for (int s = threadIdx.x; s < n_splits; s += THREADS) {
            const float w = mx == -INFINITY ? 0.f : exp2f(s_w[s] - mx);  // empty splits weigh 0
            s_w[s] = w;
            lsum += w * __ldcg(pg + (size_t)s * (D + 2) + D + 1);
        }
        const float L = block_reduce<false>(lsum, s_red);  // its barriers publish s_w
        const int dim = threadIdx.x % D, p = threadIdx.x / D;
        float a = 0.f;
#pragma unroll 4
        for (int s = p; s < n_splits; s += PARTS) a += s_w[s] * __ldcg(pg + (size_t)s * (D + 2) + dim);
        s_sum[threadIdx.x] = a;
        __syncthreads();
        if (threadIdx.x < D) {
            float t = 0.f;
#pragma unroll
            for (int j = 0; j < PARTS; j++) t += s_sum[j * D + threadIdx.x];
            out[(size_t)(h0 + g) * D + threadIdx.x] = __float2bfloat16(L > 0.f ? t / L : 0.f);  // empty list: zeros
        }
        __syncthreads();
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

}  // namespace

extern "C" attn_cuda_decode_ws *attn_cuda_decode_ws_new(int n_heads, int d, int max_splits) {
    if (n_heads < 1) bad_arg("n_heads", n_heads);
    if (d != 64 && d != 128) bad_arg("d", d);
    if (max_splits < 0 || max_splits > MAX_SPLITS) bad_arg("max_splits", max_splits);
    if (max_splits == 0) max_splits = MAX_SPLITS;
    attn_cuda_decode_ws *ws = (attn_cuda_decode_ws *)calloc(1, sizeof *ws);
    if (ws == NULL) bad_arg("workspace allocation, bytes", (long)sizeof *ws);
    ws->n_heads = n_heads, ws->d = d, ws->max_splits = max_splits;
    const size_t part = sizeof(float) * (size_t)n_heads * max_splits * (d + 2), tick = sizeof(unsigned) * n_heads;
    CUDA_CHECK(cudaMalloc(&ws->d_part, part));
    CUDA_CHECK(cudaMalloc(&ws->d_ticket, tick));
    CUDA_CHECK(cudaMemset(ws->d_ticket, 0, tick));
    ws->device_bytes = part + tick;
    return ws;
}

extern "C" void attn_cuda_decode_ws_free(attn_cuda_decode_ws *ws) {
    if (ws == NULL) return;
    CUDA_CHECK(cudaFree(ws->d_part));
    CUDA_CHECK(cudaFree(ws->d_ticket));
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
    const int chunk = (items + n_splits - 1) / n_splits;
    const dim3 grid(n_splits, n_groups);
    const float scale_log2 = scale * LOG2E;
    __nv_bfloat16 *o = reinterpret_cast<__nv_bfloat16 *>(out);
#define DAM_DECODE_CASE(DD, GG)                                                                                  \
    case DD * 16 + GG:                                                                                           \
        decode_kernel<DD, GG><<<grid, THREADS>>>(o, q, k, v, kv_cap, n_k, group, scale_log2, idx_ptr, idx, chunk, \
                                                 ws->d_part, ws->d_ticket, ws->max_splits);                       \
        break;
    switch (d * 16 + hc) {
        DAM_DECODE_CASE(64, 1) DAM_DECODE_CASE(64, 2) DAM_DECODE_CASE(64, 3) DAM_DECODE_CASE(64, 4)
        DAM_DECODE_CASE(64, 5) DAM_DECODE_CASE(64, 6) DAM_DECODE_CASE(64, 7) DAM_DECODE_CASE(64, 8)
        DAM_DECODE_CASE(128, 1) DAM_DECODE_CASE(128, 2) DAM_DECODE_CASE(128, 3) DAM_DECODE_CASE(128, 4)
        DAM_DECODE_CASE(128, 5) DAM_DECODE_CASE(128, 6) DAM_DECODE_CASE(128, 7) DAM_DECODE_CASE(128, 8)
    default: bad_arg("n_heads / n_kv_heads", group);
    }
#undef DAM_DECODE_CASE
    CUDA_LAUNCH_CHECK("decode_kernel");
}
