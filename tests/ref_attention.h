/* ref_attention.h — independent references shared by the attention tests: a seeded uniform
 * generator and float64 brute-force causal attention. Header-only (static), for tests only. */
#ifndef DAM_TESTS_REF_ATTENTION_H
#define DAM_TESTS_REF_ATTENTION_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* xorshift64* state; each test seeds it (test_seed) so its inputs stay fixed. */
static uint64_t test_rng = 0x9E3779B97F4A7C15ull;

static inline void test_seed(uint64_t seed) { test_rng = seed ? seed : 0x9E3779B97F4A7C15ull; }

/* Uniform in [-1, 1), 53 random bits. */
static inline double urand(void) {
    test_rng ^= test_rng >> 12;
    test_rng ^= test_rng << 25;
    test_rng ^= test_rng >> 27;
    return (double)((test_rng * 2685821657736338717ull) >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
}

/* float64 causal attention, every (row, head) separately with a full softmax over keys 0..pos,
 * pos = n_k - n_q + t (causality aligned to the last key). q: [n_q][H][d] float32; k, v:
 * [Hkv][cap][d] float32 (query head h reads KV head h / (H / Hkv)); out: [n_q][H][d] float64,
 * caller-owned. `scale` multiplies the dot products (1/sqrt(d)). */
static inline void ref_causal_attention_window(double *out, const float *q, int n_q, const float *k, const float *v,
                                               int cap, int n_k, int H, int Hkv, int d, double scale, int window);

static inline void ref_causal_attention(double *out, const float *q, int n_q, const float *k, const float *v, int cap,
                                        int n_k, int H, int Hkv, int d, double scale) {
    ref_causal_attention_window(out, q, n_q, k, v, cap, n_k, H, Hkv, d, scale, 0);
}

/* The same with a sliding window: row pos sees keys lo .. pos, lo = max(0, pos - window + 1)
 * (window <= 0: lo = 0). */
static inline void ref_causal_attention_window(double *out, const float *q, int n_q, const float *k, const float *v,
                                               int cap, int n_k, int H, int Hkv, int d, double scale, int window) {
    const int group = H / Hkv;
    double *p = malloc(sizeof(double) * (size_t)n_k);
    for (int t = 0; t < n_q; t++) {
        const int pos = n_k - n_q + t;
        for (int h = 0; h < H; h++) {
            const float *qv = q + ((long)t * H + h) * d;
            const float *kh = k + (long)(h / group) * cap * d, *vh = v + (long)(h / group) * cap * d;
            const int lo = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
            double mx = -INFINITY, sum = 0;
            for (int j = lo; j <= pos; j++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += (double)qv[i] * kh[(long)j * d + i];
                p[j] = s * scale;
                if (p[j] > mx) mx = p[j];
            }
            for (int j = lo; j <= pos; j++) sum += (p[j] = exp(p[j] - mx));
            double *o = out + ((long)t * H + h) * d;
            for (int i = 0; i < d; i++) {
                double acc = 0;
                for (int j = lo; j <= pos; j++) acc += p[j] * vh[(long)j * d + i];
                o[i] = acc / sum;
            }
        }
    }
    free(p);
}

#endif
