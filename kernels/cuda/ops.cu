// ops.cu — see ops.h. One thread block per row (token); rows are short (d_model <= 8192), so the
// kernels are bandwidth-bound and simple: coalesced loops over the row, one block reduction.
#include "kernels/cuda/ops.h"

#include <cuda_bf16.h>

#include "kernels/cuda/cuda_check.h"

namespace {

constexpr int THREADS = 256;

__device__ __forceinline__ dam_bf16 to_bf16(float x) {
    __nv_bfloat16 b = __float2bfloat16_rn(x);
    return *reinterpret_cast<dam_bf16 *>(&b);
}

__device__ __forceinline__ float from_bf16(dam_bf16 u) { return __uint_as_float((uint32_t)u << 16); }

__global__ void embed_kernel(float *x, const dam_bf16 *table, const int32_t *ids, int d, float scale) {
    const int t = blockIdx.x;
    const dam_bf16 *e = table + (size_t)ids[t] * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) x[(size_t)t * d + i] = from_bf16(e[i]) * scale;
}

// sum of v over the block (THREADS threads), broadcast to all
__device__ float block_sum(float v) {
    __shared__ float part[THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
    __syncthreads();
    float s = 0;
    for (int w = 0; w < THREADS / 32; w++) s += part[w];
    __syncthreads(); // part[] reused by the next call
    return s;
}

__global__ void rmsnorm_kernel(dam_bf16 *y, int y_stride, const float *x, const float *w, int d, float eps) {
    const int t = blockIdx.x;
    const float *xr = x + (size_t)t * d;
    float ss = 0;
    for (int i = threadIdx.x; i < d; i += THREADS) ss += xr[i] * xr[i];
    const float scale = rsqrtf(block_sum(ss) / d + eps);
    for (int i = threadIdx.x; i < d; i += THREADS) y[(size_t)t * y_stride + i] = to_bf16(xr[i] * scale * w[i]);
}

__global__ void qkv_rope_kernel(dam_bf16 *q, dam_bf16 *kc, dam_bf16 *vc, const float *qkv, const float *bias,
                                const float *cs, const float *sn, int H, int Hkv, int hd, int cap, int pos0,
                                float q_scale, int pairing) {
    const int t = blockIdx.x, half = hd / 2, dim = (H + 2 * Hkv) * hd;
    const float *row = qkv + (size_t)t * dim;
    const float *c = cs + (size_t)t * half, *s = sn + (size_t)t * half;
    const size_t pos = (size_t)pos0 + t;
    // rotated heads (Q then K): one thread per (head, pair)
    for (int j = threadIdx.x; j < (H + Hkv) * half; j += blockDim.x) {
        const int h = j / half, i = j % half;
        const int a = pairing == 0 ? 2 * i : i, b = pairing == 0 ? 2 * i + 1 : i + half;
        float x0 = row[h * hd + a], x1 = row[h * hd + b];
        if (bias) x0 += bias[h * hd + a], x1 += bias[h * hd + b];
        float y0 = x0 * c[i] - x1 * s[i], y1 = x0 * s[i] + x1 * c[i];
        if (h < H) {
            dam_bf16 *qo = q + (size_t)t * H * hd + (size_t)h * hd;
            qo[a] = to_bf16(y0 * q_scale);
            qo[b] = to_bf16(y1 * q_scale);
        } else {
            dam_bf16 *ko = kc + ((size_t)(h - H) * cap + pos) * hd;
            ko[a] = to_bf16(y0);
            ko[b] = to_bf16(y1);
        }
    }
    // V heads: copied
    for (int j = threadIdx.x; j < Hkv * hd; j += blockDim.x) {
        const int g = j / hd, i = j % hd, col = (H + Hkv) * hd + j;
        float v = row[col];
        if (bias) v += bias[col];
        vc[((size_t)g * cap + pos) * hd + i] = to_bf16(v);
    }
}

__global__ void swiglu_kernel(dam_bf16 *out, const float *gu, int d_ff) {
    const int t = blockIdx.x;
    const float *g = gu + (size_t)t * 2 * d_ff, *u = g + d_ff;
    for (int i = threadIdx.x; i < d_ff; i += THREADS) {
        const float z = g[i];
        out[(size_t)t * d_ff + i] = to_bf16(z / (1.0f + expf(-z)) * u[i]);
    }
}

__global__ void fill_kernel(dam_bf16 *x, size_t n, uint16_t bits) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) x[i] = bits;
}

} // namespace

extern "C" void cuda_embed(float *x, const dam_bf16 *table, const int32_t *ids, int n, int d, float scale) {
    if (n < 1) return;
    embed_kernel<<<n, THREADS>>>(x, table, ids, d, scale);
    CUDA_LAUNCH_CHECK("embed_kernel");
}

extern "C" void cuda_rmsnorm(dam_bf16 *y, int y_stride, const float *x, const float *w, int n, int d, float eps) {
    if (n < 1) return;
    rmsnorm_kernel<<<n, THREADS>>>(y, y_stride, x, w, d, eps);
    CUDA_LAUNCH_CHECK("rmsnorm_kernel");
}

extern "C" void cuda_qkv_rope(dam_bf16 *q, dam_bf16 *k_cache, dam_bf16 *v_cache, const float *qkv, const float *bias,
                              const float *cs, const float *sn, int n, int H, int Hkv, int hd, int cap, int pos0,
                              float q_scale, int pairing) {
    if (n < 1) return;
    qkv_rope_kernel<<<n, THREADS>>>(q, k_cache, v_cache, qkv, bias, cs, sn, H, Hkv, hd, cap, pos0, q_scale, pairing);
    CUDA_LAUNCH_CHECK("qkv_rope_kernel");
}

extern "C" void cuda_swiglu(dam_bf16 *out, const float *gu, int n, int d_ff) {
    if (n < 1) return;
    swiglu_kernel<<<n, THREADS>>>(out, gu, d_ff);
    CUDA_LAUNCH_CHECK("swiglu_kernel");
}

extern "C" void cuda_fill_bf16(dam_bf16 *x, size_t n, uint16_t bits) {
    if (n == 0) return;
    const size_t blocks = (n + THREADS - 1) / THREADS;
    fill_kernel<<<(unsigned)(blocks < 65535 ? blocks : 65535), THREADS>>>(x, n, bits);
    CUDA_LAUNCH_CHECK("fill_kernel");
}
