// bench_attention_decode_cuda.cu — times attn_cuda_decode over a whole model's KV cache: one decode
// step = one call per layer, each layer with its own K and V buffers (so at 32K tokens and beyond the
// 50 MB L2 cannot serve the cache), and reports the achieved HBM bandwidth (bytes of K and V read
// / time) beside two ceilings measured in the same run: a device-to-device cudaMemcpy (read + write
// bytes / time, the usual "copy bandwidth") and a read-only kernel streaming the same number of
// bytes (16-byte loads, grid-stride). Sparse decode: per-head lists of kept keys (DAM-like: 4 sinks,
// 12 columns, the last 1024 keys; and a random 10 % of the keys), timed the same way.
// Timing: CUDA events around the whole step (all layers), 3 warm-up steps, median of 20.
// Shapes: smollm2 (30 layers, 9/3 heads, d 64) and llama3-8b (32 layers, 32/8 heads, d 128,
// synthetic weights: latency only).
// Usage: bench_attention_decode_cuda [n_k ...]   (default 32768 131072)
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/cuda_check.h"
#include "tests/cuda/bench_util.h"

// Reads n 16-byte words and folds them into one word per block (so the loads are not removed).
__global__ void read_only(const uint4 *x, size_t n, uint4 *sink) {
    uint4 a = make_uint4(0, 0, 0, 0);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const uint4 w = __ldg(x + i);
        a.x ^= w.x, a.y ^= w.y, a.z ^= w.z, a.w ^= w.w;
    }
    if ((a.x & a.y & a.z & a.w) == 0x12345678u) sink[blockIdx.x] = a;  // practically never true
}

typedef struct {
    const char *name;
    int layers, H, Hkv, d;
} shape;

static float time_steps(const shape *s, int n_k, dam_bf16 **k, dam_bf16 **v, dam_bf16 *q, dam_bf16 *o, const int32_t *ptr,
                        const int32_t *idx, int max_list, attn_cuda_decode_ws *ws) {
    cudaEvent_t a, b;
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
    float ms[20];
    for (int r = -3; r < 20; r++) {
        CUDA_CHECK(cudaEventRecord(a, 0));
        for (int l = 0; l < s->layers; l++)
            attn_cuda_decode(o, q, k[l], v[l], n_k, n_k, s->H, s->Hkv, s->d, 1.0f / sqrtf((float)s->d), ptr, idx, max_list, 0, ws);
        CUDA_CHECK(cudaEventRecord(b, 0));
        CUDA_CHECK(cudaEventSynchronize(b));
        if (r >= 0) CUDA_CHECK(cudaEventElapsedTime(&ms[r], a, b));
    }
    CUDA_CHECK(cudaEventDestroy(a));
    CUDA_CHECK(cudaEventDestroy(b));
    return bench_median(ms, 20);
}

// Per-head lists on the device: kind 0 = DAM-like (sinks, columns, last 1024), 1 = random 10 %.
static int make_lists(int kind, int H, int n_k, int32_t **dptr, int32_t **didx, long *total) {
    int32_t *ptr = (int32_t *)malloc(sizeof(int32_t) * (H + 1));
    int32_t *idx = (int32_t *)malloc(sizeof(int32_t) * (size_t)H * n_k);
    uint64_t z = 12345;
    int max_list = 0;
    ptr[0] = 0;
    for (int h = 0; h < H; h++) {
        int n = 0;
        for (int j = 0; j < n_k; j++) {
            z = z * 6364136223846793005ull + 1442695040888963407ull;
            const int keep = kind == 0 ? (j < 4 || j >= n_k - 1024 || j % (n_k / 12) == 100 + h) : (int)((z >> 33) % 10) == 0;
            if (keep) idx[ptr[h] + n++] = j;
        }
        ptr[h + 1] = ptr[h] + n;
        if (n > max_list) max_list = n;
    }
    *total = ptr[H];
    CUDA_CHECK(cudaMalloc(dptr, sizeof(int32_t) * (H + 1)));
    CUDA_CHECK(cudaMalloc(didx, sizeof(int32_t) * (size_t)ptr[H]));
    CUDA_CHECK(cudaMemcpy(*dptr, ptr, sizeof(int32_t) * (H + 1), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(*didx, idx, sizeof(int32_t) * (size_t)ptr[H], cudaMemcpyHostToDevice));
    free(ptr), free(idx);
    return max_list;
}

int main(int argc, char **argv) {
    int dev;
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
    int lens[8] = {32768, 131072}, n_lens = 2;
    if (argc > 1) {
        n_lens = 0;
        for (int i = 1; i < argc && n_lens < 8; i++) lens[n_lens++] = atoi(argv[i]);
    }
    // ceilings: 2 GiB copy and read-only stream
    const size_t cbytes = (size_t)2 << 30;
    void *src, *dst;
    CUDA_CHECK(cudaMalloc(&src, cbytes));
    CUDA_CHECK(cudaMalloc(&dst, cbytes));
    fill_bf16<<<1024, 256>>>((uint16_t *)src, cbytes / 2, 7);
    CUDA_LAUNCH_CHECK("fill_bf16");
    cudaEvent_t a, b;
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
    float cm[20], rm[20];
    for (int r = -3; r < 20; r++) {
        CUDA_CHECK(cudaEventRecord(a, 0));
        CUDA_CHECK(cudaMemcpyAsync(dst, src, cbytes, cudaMemcpyDeviceToDevice, 0));
        CUDA_CHECK(cudaEventRecord(b, 0));
        CUDA_CHECK(cudaEventSynchronize(b));
        if (r >= 0) CUDA_CHECK(cudaEventElapsedTime(&cm[r], a, b));
        CUDA_CHECK(cudaEventRecord(a, 0));
        read_only<<<prop.multiProcessorCount * 8, 256>>>((const uint4 *)src, cbytes / 16, (uint4 *)dst);
        CUDA_CHECK(cudaEventRecord(b, 0));
        CUDA_CHECK(cudaEventSynchronize(b));
        if (r >= 0) CUDA_CHECK(cudaEventElapsedTime(&rm[r], a, b));
    }
    const double copy_tbs = 2.0 * cbytes / (bench_median(cm, 20) * 1e-3) / 1e12;
    const double read_tbs = (double)cbytes / (bench_median(rm, 20) * 1e-3) / 1e12;
    printf("ceilings: cudaMemcpy D2D %.2f TB/s (read + write), read-only kernel %.2f TB/s (2 GiB)\n", copy_tbs, read_tbs);
    CUDA_CHECK(cudaFree(src));
    CUDA_CHECK(cudaFree(dst));

    const shape shapes[2] = {{"smollm2", 30, 9, 3, 64}, {"llama3-8b", 32, 32, 8, 128}};
    printf("%-10s %7s %9s %9s %8s %7s %7s | %-26s\n", "shape", "n_k", "KV MB", "step ms", "TB/s", "/copy", "/read",
           "sparse: DAM-like ms (keys) | random 10% ms");
    for (int si = 0; si < 2; si++)
        for (int li = 0; li < n_lens; li++) {
            const shape *s = &shapes[si];
            const int n = lens[li];
            const size_t per = (size_t)s->Hkv * n * s->d;
            dam_bf16 *k[64], *v[64], *q, *o;
            for (int l = 0; l < s->layers; l++) {
                CUDA_CHECK(cudaMalloc(&k[l], per * 2));
                CUDA_CHECK(cudaMalloc(&v[l], per * 2));
                fill_bf16<<<1024, 256>>>(k[l], per, 2 * l + 1);
                fill_bf16<<<1024, 256>>>(v[l], per, 2 * l + 2);
                CUDA_LAUNCH_CHECK("fill_bf16");
            }
            CUDA_CHECK(cudaMalloc(&q, sizeof(dam_bf16) * s->H * s->d));
            CUDA_CHECK(cudaMalloc(&o, sizeof(dam_bf16) * s->H * s->d));
            fill_bf16<<<16, 256>>>(q, (size_t)s->H * s->d, 99);
            attn_cuda_decode_ws *ws = attn_cuda_decode_ws_new(s->H, s->d, 0);
            const double bytes = (double)s->layers * 2 * per * 2;
            const float ms = time_steps(s, n, k, v, q, o, NULL, NULL, 0, ws);
            const double tbs = bytes / (ms * 1e-3) / 1e12;
            int32_t *dptr, *didx;
            long total;
            int ml = make_lists(0, s->H, n, &dptr, &didx, &total);
            const float ms_dam = time_steps(s, n, k, v, q, o, dptr, didx, ml, ws);
            const long dam_keys = total;
            CUDA_CHECK(cudaFree(dptr));
            CUDA_CHECK(cudaFree(didx));
            ml = make_lists(1, s->H, n, &dptr, &didx, &total);
            const float ms_rand = time_steps(s, n, k, v, q, o, dptr, didx, ml, ws);
            CUDA_CHECK(cudaFree(dptr));
            CUDA_CHECK(cudaFree(didx));
            printf("%-10s %7d %9.0f %9.3f %8.2f %6.0f%% %6.0f%% | %8.3f (%ld keys/head) | %8.3f\n", s->name, n, bytes / 1e6, ms, tbs,
                   100 * tbs / copy_tbs, 100 * tbs / read_tbs, ms_dam, dam_keys / s->H, ms_rand);
            attn_cuda_decode_ws_free(ws);
            for (int l = 0; l < s->layers; l++) {
                CUDA_CHECK(cudaFree(k[l]));
                CUDA_CHECK(cudaFree(v[l]));
            }
            CUDA_CHECK(cudaFree(q));
            CUDA_CHECK(cudaFree(o));
        }
    return 0;
}
