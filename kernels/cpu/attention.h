/* attention.h — causal scaled-dot-product attention on the CPU, tiled flash-style.
 *
 * O = softmax(Q K^T · scale + causal) V, computed tile by tile with the online softmax of
 * FlashAttention (Dao et al. 2022): running row maximum and row sum, no n×n score buffer, so
 * extra memory is O(tile) per thread and the whole call is O(n·d).
 *
 * Causality is aligned to the last key: with n_q queries and n_k keys (chunked prefill or
 * decode, n_q <= n_k), query row t sits at absolute position n_k - n_q + t and sees keys
 * 0 .. n_k - n_q + t. GQA: query head h reads KV head h / (n_heads / n_kv_heads); the query heads
 * of one KV group are processed together so each key block is loaded once per group.
 * Scores and accumulators are fp32; masked scores are -inf (never a finite sentinel).
 * Threads: OpenMP over (KV head, query tile); the tile products Q·K^T and P·V go through
 * OpenBLAS sgemm, which runs single-threaded inside the OpenMP region (OpenMP build of OpenBLAS). */
#ifndef DAM_KERNELS_CPU_ATTENTION_H
#define DAM_KERNELS_CPU_ATTENTION_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* out:  [n_q][out_stride] floats, head h at columns h*d .. h*d+d-1 (written).
 * q:    [n_q][q_stride] floats, head h at h*d (read).
 * k, v: one layer's cache, [n_kv_heads][kv_cap][d] floats; keys 0 .. n_k-1 valid (read).
 * n_heads must be a multiple of n_kv_heads; n_q <= n_k; scale is usually 1/sqrt(d). */
void attn_causal(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k, const float *v,
                 int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale);

/* Sliding-window causal attention (Gemma-3's local layers; Beltagy et al. 2020's local window):
 * as attn_causal, but the query at position p sees only keys max(0, p - window + 1) .. p, i.e.
 * `window` keys including its own (llama.cpp LLAMA_SWA_TYPE_STANDARD masks p - j >= window).
 * Key tiles entirely behind every row's window are skipped, so the cost is O(n_q · window · d).
 * window <= 0 means no window (exactly attn_causal, which calls this). */
void attn_causal_window(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k,
                        const float *v, int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale,
                        int window);

/* e^x for -87 <= x <= 0 in fp32 (callers clamp; e^-87 = 1.6e-38 is a negligible weight next
 * to a row maximum's 1), max relative error about 2 ulp. Branch-free arithmetic so that loops
 * calling it vectorise: n = round(x / ln 2), Cephes' degree-6 minimax polynomial for e^r with
 * r = x - n ln 2, and 2^n built in the exponent bits. (glibc's vector expf needs -ffast-math,
 * which would break -inf handling.) Tested against libm in tests/test_attention.c. */
static inline float exp_poly(float x) {
    const int32_t n = (int32_t)(x * 1.44269504088896341f - 0.5f); /* x <= 0: truncation rounds */
    const float nf = (float)n;
    const float r = (x - nf * 0.693359375f) + nf * 2.12194440e-4f; /* ln 2 split in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

/* The softmax numerator of one score row: s[j] = e^(s[j] − mx) for j < n (every s[j] <= mx, the
 * row maximum), returns Σ s[j]. Shared by the dense and masked kernels. */
float attn_exp_row(float *s, int n, float mx);

#endif
