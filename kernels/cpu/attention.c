/* attention.c — see attention.h. */
#include "kernels/cpu/attention.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/mem.h"

enum { TILE_Q = 32, TILE_K = 64 };

float attn_exp_row(float *restrict s, int n, float mx) {
    /* three plain passes over a row held in L1 (clamp, exponential, sum): GCC vectorises each
       alone but not fused */
    for (int j = 0; j < n; j++) {
        const float x = s[j] - mx;
        s[j] = x > -87.0f ? x : -87.0f;
    }
    for (int j = 0; j < n; j++) s[j] = exp_poly(s[j]);
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) sum += s[j];
    return sum;
}

/* Per-thread tile buffers. rows = TILE_Q * group. */
typedef struct {
    float *qt; /* [rows][d] scaled queries */
    float *s;  /* [rows][TILE_K] scores, then probabilities */
    float *o;  /* [rows][d] unnormalised output accumulator */
    float *m;  /* [rows] running max */
    float *l;  /* [rows] running sum */
} tile_buf;

void attn_causal(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k, const float *v,
                 int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale) {
    attn_causal_window(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, n_heads, n_kv_heads, d, scale, 0);
}

void attn_causal_window(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k,
                        const float *v, int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale,
                        int window) {
    const int group = n_heads / n_kv_heads;
    const int rows_max = TILE_Q * group;
    const int n_tiles = (n_q + TILE_Q - 1) / TILE_Q;
    const int q_base = n_k - n_q; /* absolute position of query row 0 */
    const int n_threads = omp_get_max_threads();
    size_t per = (size_t)rows_max * d * 2 + (size_t)rows_max * TILE_K + 2 * (size_t)rows_max;
    float *pool = dam_malloc(per * n_threads * sizeof(float), "attention tiles");

#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int g = 0; g < n_kv_heads; g++) {
        for (int tile = 0; tile < n_tiles; tile++) {
            float *base = pool + per * omp_get_thread_num();
            tile_buf b = {base, base + (size_t)rows_max * d, 0, 0, 0};
            b.o = b.s + (size_t)rows_max * TILE_K;
            b.m = b.o + (size_t)rows_max * d;
            b.l = b.m + rows_max;

            const int t0 = tile * TILE_Q;
            const int tq = (n_q - t0) < TILE_Q ? (n_q - t0) : TILE_Q;
            const int rows = tq * group;
            /* rows are ordered (query token, head in group) */
            for (int t = 0; t < tq; t++)
                for (int gi = 0; gi < group; gi++) {
                    const float *src = q + (long)(t0 + t) * q_stride + (long)(g * group + gi) * d;
                    float *dst = b.qt + (long)(t * group + gi) * d;
                    for (int i = 0; i < d; i++) dst[i] = src[i] * scale;
                }
            memset(b.o, 0, sizeof(float) * rows * d);
            for (int r = 0; r < rows; r++) {
                b.m[r] = -INFINITY;
                b.l[r] = 0;
            }
            const float *kh = k + (long)g * kv_cap * d, *vh = v + (long)g * kv_cap * d;
            const int last_key = q_base + t0 + tq - 1; /* keys 0..last_key are visible to some row */
            int first_key = window > 0 ? q_base + t0 - window + 1 : 0; /* keys below it are visible to no row */
            if (first_key < 0) first_key = 0;
            for (int j0 = first_key / TILE_K * TILE_K; j0 <= last_key; j0 += TILE_K) {
                const int bk = (last_key + 1 - j0) < TILE_K ? (last_key + 1 - j0) : TILE_K;
                /* S = Qt · K_blk^T  (rows × bk); inside the OpenMP region OpenBLAS runs single-threaded */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, bk, d, 1.0f, b.qt, d, kh + (long)j0 * d, d,
                            0.0f, b.s, TILE_K);
                for (int r = 0; r < rows; r++) {
                    const int pos = q_base + t0 + r / group;
                    float *s = b.s + (long)r * TILE_K;
                    int vis = pos - j0 + 1; /* keys j0 .. pos are visible */
                    if (vis > bk) vis = bk;
                    int lo = window > 0 ? pos - window + 1 - j0 : 0; /* and none below pos - window + 1 */
                    if (lo < 0) lo = 0;
                    if (vis <= lo) { /* the whole block is in this row's future (or behind its window) */
                        memset(s, 0, sizeof(float) * TILE_K);
                        continue;
                    }
                    float mx = b.m[r];
#pragma omp simd reduction(max : mx)
                    for (int j = lo; j < vis; j++) mx = s[j] > mx ? s[j] : mx;
                    const float corr = b.m[r] == -INFINITY ? 0.0f : exp_poly(fmaxf(b.m[r] - mx, -87.0f));
                    float sum = attn_exp_row(s + lo, vis - lo, mx);
                    for (int j = 0; j < lo; j++) s[j] = 0;
                    for (int j = vis; j < TILE_K; j++) s[j] = 0;
                    b.l[r] = b.l[r] * corr + sum;
                    b.m[r] = mx;
                    if (corr != 1.0f) {
                        float *o = b.o + (long)r * d;
                        for (int i = 0; i < d; i++) o[i] *= corr;
                    }
                }
                /* O += P · V_blk  (rows × d) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, bk, 1.0f, b.s, TILE_K,
                            vh + (long)j0 * d, d, 1.0f, b.o, d);
            }
            for (int t = 0; t < tq; t++)
                for (int gi = 0; gi < group; gi++) {
                    const int r = t * group + gi;
                    const float inv = 1.0f / b.l[r];
                    float *dst = out + (long)(t0 + t) * out_stride + (long)(g * group + gi) * d;
                    for (int i = 0; i < d; i++) dst[i] = b.o[(long)r * d + i] * inv;
                }
        }
    }
    dam_free(pool);
}
