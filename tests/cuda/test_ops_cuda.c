/* test_ops_cuda.c — the GPU element-wise kernels (kernels/cuda/ops.h) against their CPU references
 * (kernels/cpu/ops.h) on fresh random inputs: embedding, RMSNorm, bias + RoPE (both pairings) +
 * q_scale with the scatter into the KV cache, SwiGLU. Outputs are poisoned with NaN before each
 * kernel so an unwritten element fails. Tolerance: the GPU output is bf16, so |gpu - ref| <=
 * 2^-8 |ref| (rounding) + 1e-5 (fp32 summation order); the rest of the KV cache must stay NaN.
 * Needs an NVIDIA GPU (tests/cuda/run.sh; make test-cuda). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "core/mem.h"
#include "core/rng.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/cuda_mem.h"
#include "kernels/cuda/ops.h"
#include "tests/test.h"

static const uint16_t NAN_BF16 = 0x7FC0;

static void fill_uniform(float *x, size_t n, float lo, float hi, rng_t *s) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)((rng_next(s) >> 40) * (1.0 / 16777216.0));
}

static void *to_device(const void *h, size_t bytes) {
    void *d = dam_cuda_malloc(bytes, "test input");
    cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}

/* fp32 -> bf16 bits, round to nearest even (host) */
static uint16_t bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* Compares device bf16 y[rows][cols] (stride) with ref; counts NaNs as failures. */
static void compare(const char *what, const uint16_t *d_y, size_t rows, size_t cols, size_t stride, const float *ref) {
    float *y = dam_malloc(sizeof(float) * rows * cols, "test output");
    dam_cuda_download_bf16(y, d_y, rows, cols, stride);
    double worst = 0;
    int bad = 0;
    for (size_t i = 0; i < rows * cols; i++) {
        const double err = fabs((double)y[i] - ref[i]), tol = ldexp(fabs(ref[i]), -8) + 1e-5;
        if (!(err <= tol)) bad++;
        if (err > worst || isnan(y[i])) worst = isnan(y[i]) ? INFINITY : err;
    }
    CHECK(bad == 0, "%s: %d of %zu elements outside 2^-8 rel (worst abs %.3g)", what, bad, rows * cols, worst);
    printf("  %-34s %zu x %zu  worst abs error %.3g\n", what, rows, cols, worst);
    dam_free(y);
}

static void test_embed_rmsnorm(rng_t *s) {
    const int V = 1000, d = 576, n = 37;
    float *table = dam_malloc(sizeof(float) * V * d, "t"), *w = dam_malloc(sizeof(float) * d, "t");
    fill_uniform(table, (size_t)V * d, -1, 1, s);
    fill_uniform(w, d, 0.5f, 1.5f, s);
    uint16_t *tb = dam_malloc(sizeof(uint16_t) * V * d, "t");
    for (size_t i = 0; i < (size_t)V * d; i++) tb[i] = bf16(table[i]), table[i] = 0; /* table[] now: bf16 values */
    for (size_t i = 0; i < (size_t)V * d; i++) { uint32_t u = (uint32_t)tb[i] << 16; memcpy(&table[i], &u, 4); }
    int32_t ids[37];
    for (int t = 0; t < n; t++) ids[t] = (int32_t)(rng_next(s) % V);
    /* reference: x = 1.7 table[id]; y = RMSNorm(x) */
    float *x = dam_malloc(sizeof(float) * n * d, "t"), *y = dam_malloc(sizeof(float) * n * d, "t");
    for (int t = 0; t < n; t++)
        for (int i = 0; i < d; i++) x[(size_t)t * d + i] = 1.7f * table[(size_t)ids[t] * d + i];
    op_rmsnorm(y, x, w, n, d, 1e-5f);

    uint16_t *d_table = to_device(tb, sizeof(uint16_t) * V * d);
    int32_t *d_ids = to_device(ids, sizeof ids);
    float *d_w = to_device(w, sizeof(float) * d);
    float *d_x = dam_cuda_malloc(sizeof(float) * n * d, "x");
    uint16_t *d_y = dam_cuda_malloc(sizeof(uint16_t) * n * (d + 8), "y");
    cuda_fill_bf16(d_y, (size_t)n * (d + 8), NAN_BF16);
    cuda_embed(d_x, d_table, d_ids, n, d, 1.7f);
    cuda_rmsnorm(d_y, d + 8, d_x, d_w, n, d, 1e-5f);
    float *gx = dam_malloc(sizeof(float) * n * d, "t");
    cudaMemcpy(gx, d_x, sizeof(float) * n * d, cudaMemcpyDeviceToHost);
    int exact = 0;
    for (size_t i = 0; i < (size_t)n * d; i++) exact += gx[i] == x[i];
    CHECK(exact == n * d, "embedding: %d of %d values equal the reference exactly", exact, n * d);
    compare("rmsnorm (d 576, row stride 584)", d_y, n, d, d + 8, y);
    dam_cuda_free(d_table); dam_cuda_free(d_ids); dam_cuda_free(d_w); dam_cuda_free(d_x); dam_cuda_free(d_y);
    dam_free(table); dam_free(w); dam_free(tb); dam_free(x); dam_free(y); dam_free(gx);
}

static void test_qkv_rope(rng_t *s, int H, int Hkv, int hd, int pairing, bool bias) {
    const int n = 45, cap = 128, pos0 = 70, dim = (H + 2 * Hkv) * hd;
    const float q_scale = 0.75f;
    float *qkv = dam_malloc(sizeof(float) * n * dim, "t"), *b = dam_malloc(sizeof(float) * dim, "t");
    fill_uniform(qkv, (size_t)n * dim, -2, 2, s);
    fill_uniform(b, dim, -0.5f, 0.5f, s);
    double inv_freq[128];
    for (int i = 0; i < hd / 2; i++) inv_freq[i] = pow(10000.0, -2.0 * i / hd);
    float *cs = dam_malloc(sizeof(float) * n * hd / 2, "t"), *sn = dam_malloc(sizeof(float) * n * hd / 2, "t");
    op_rope_table(cs, sn, pos0, n, hd, inv_freq, 1.0);
    /* reference: bias, RoPE on Q and K heads, q_scale */
    float *ref = dam_malloc(sizeof(float) * n * dim, "t");
    for (int t = 0; t < n; t++)
        for (int i = 0; i < dim; i++) ref[(size_t)t * dim + i] = qkv[(size_t)t * dim + i] + (bias ? b[i] : 0);
    op_rope(ref, n, dim, H + Hkv, hd, cs, sn, (rope_pairing)pairing);
    for (int t = 0; t < n; t++) op_scale(ref + (size_t)t * dim, q_scale, (int64_t)H * hd);

    float *d_qkv = to_device(qkv, sizeof(float) * n * dim), *d_b = to_device(b, sizeof(float) * dim);
    float *d_cs = to_device(cs, sizeof(float) * n * hd / 2), *d_sn = to_device(sn, sizeof(float) * n * hd / 2);
    uint16_t *d_q = dam_cuda_malloc(sizeof(uint16_t) * n * H * hd, "q");
    uint16_t *d_k = dam_cuda_malloc(sizeof(uint16_t) * Hkv * cap * hd, "k"), *d_v = dam_cuda_malloc(sizeof(uint16_t) * Hkv * cap * hd, "v");
    cuda_fill_bf16(d_q, (size_t)n * H * hd, NAN_BF16);
    cuda_fill_bf16(d_k, (size_t)Hkv * cap * hd, NAN_BF16);
    cuda_fill_bf16(d_v, (size_t)Hkv * cap * hd, NAN_BF16);
    cuda_qkv_rope(d_q, d_k, d_v, d_qkv, bias ? d_b : NULL, d_cs, d_sn, n, H, Hkv, hd, cap, pos0, q_scale, pairing);
    char what[96];
    float *rq = dam_malloc(sizeof(float) * n * H * hd, "t"), *rk = dam_malloc(sizeof(float) * n * hd, "t"), *rv = dam_malloc(sizeof(float) * n * hd, "t");
    for (int t = 0; t < n; t++) memcpy(rq + (size_t)t * H * hd, ref + (size_t)t * dim, sizeof(float) * H * hd);
    snprintf(what, sizeof what, "q (H %d, hd %d, %s%s)", H, hd, pairing ? "half" : "adjacent", bias ? ", bias" : "");
    compare(what, d_q, n, (size_t)H * hd, (size_t)H * hd, rq);
    for (int g = 0; g < Hkv; g++) {
        for (int t = 0; t < n; t++) {
            memcpy(rk + (size_t)t * hd, ref + (size_t)t * dim + (size_t)(H + g) * hd, sizeof(float) * hd);
            memcpy(rv + (size_t)t * hd, ref + (size_t)t * dim + (size_t)(H + Hkv + g) * hd, sizeof(float) * hd);
        }
        snprintf(what, sizeof what, "k cache, KV head %d", g);
        compare(what, d_k + ((size_t)g * cap + pos0) * hd, n, hd, hd, rk);
        snprintf(what, sizeof what, "v cache, KV head %d", g);
        compare(what, d_v + ((size_t)g * cap + pos0) * hd, n, hd, hd, rv);
    }
    /* nothing written outside positions pos0 .. pos0+n-1 */
    float *kall = dam_malloc(sizeof(float) * Hkv * cap * hd, "t");
    dam_cuda_download_bf16(kall, d_k, (size_t)Hkv * cap, hd, hd);
    int stray = 0;
    for (int g = 0; g < Hkv; g++)
        for (int p = 0; p < cap; p++)
            if (p < pos0 || p >= pos0 + n)
                for (int i = 0; i < hd; i++) stray += !isnan(kall[((size_t)g * cap + p) * hd + i]);
    CHECK(stray == 0, "%d K-cache values written outside the step's positions", stray);
    dam_cuda_free(d_qkv); dam_cuda_free(d_b); dam_cuda_free(d_cs); dam_cuda_free(d_sn);
    dam_cuda_free(d_q); dam_cuda_free(d_k); dam_cuda_free(d_v);
    dam_free(qkv); dam_free(b); dam_free(cs); dam_free(sn); dam_free(ref); dam_free(rq); dam_free(rk); dam_free(rv); dam_free(kall);
}

static void test_swiglu(rng_t *s) {
    const int n = 33, ff = 1536;
    float *gu = dam_malloc(sizeof(float) * n * 2 * ff, "t"), *ref = dam_malloc(sizeof(float) * n * ff, "t");
    fill_uniform(gu, (size_t)n * 2 * ff, -6, 6, s);
    op_swiglu(ref, gu, gu + ff, n, ff, 2 * ff);
    float *d_gu = to_device(gu, sizeof(float) * n * 2 * ff);
    uint16_t *d_o = dam_cuda_malloc(sizeof(uint16_t) * n * ff, "out");
    cuda_fill_bf16(d_o, (size_t)n * ff, NAN_BF16);
    cuda_swiglu(d_o, d_gu, n, ff);
    compare("swiglu (d_ff 1536)", d_o, n, ff, ff, ref);
    dam_cuda_free(d_gu); dam_cuda_free(d_o);
    dam_free(gu); dam_free(ref);
}

int main(void) {
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        printf("skip: test_ops_cuda: no CUDA device\n");
        return 0;
    }
    rng_t s = rng_seed(0x0D5CADA0C0FFEEull, 8);
    test_embed_rmsnorm(&s);
    test_qkv_rope(&s, 9, 3, 64, 0, false);  /* SmolLM2: adjacent pairs (GGUF llama) */
    test_qkv_rope(&s, 14, 2, 64, 1, true);  /* Qwen2.5-0.5B: NeoX halves, biases */
    test_qkv_rope(&s, 32, 8, 128, 1, false);
    test_swiglu(&s);
    CHECK(dam_cuda_mem_in_use() == 0, "%zu device bytes still allocated", dam_cuda_mem_in_use());
    return test_done("test_ops_cuda");
}
