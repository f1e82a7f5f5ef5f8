/* attention_eager.c — see attention_eager.h. */
#include "kernels/cpu/attention_eager.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/mem.h"
#include "kernels/cpu/attention.h"

void attn_eager(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k, const float *v,
                int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale) {
    const int group = n_heads / n_kv_heads;
    const int q_base = n_k - n_q; /* absolute position of query row 0 */
    float *s = dam_malloc(attn_eager_bytes(n_heads, n_q, n_k), "eager attention scores");

    /* S_h = scale · Q_h K_g^T for every query head: [n_heads][n_q][n_k] */
    for (int h = 0; h < n_heads; h++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_q, n_k, d, scale, q + (long)h * d, q_stride,
                    k + (long)(h / group) * kv_cap * d, d, 0.0f, s + (size_t)h * n_q * n_k, n_k);

    /* causal mask (probability 0 after the row's position) and softmax, row by row */
#pragma omp parallel for schedule(static) collapse(2)
    for (int h = 0; h < n_heads; h++)
        for (int t = 0; t < n_q; t++) {
            float *row = s + ((size_t)h * n_q + t) * n_k;
            const int vis = q_base + t + 1; /* keys 0 .. q_base + t */
            float mx = -INFINITY;
            for (int j = 0; j < vis; j++) mx = row[j] > mx ? row[j] : mx;
            const float inv = 1.0f / attn_exp_row(row, vis, mx);
            for (int j = 0; j < vis; j++) row[j] *= inv;
            if (vis < n_k) memset(row + vis, 0, sizeof(float) * (size_t)(n_k - vis));
        }

    /* O_h = P_h V_g */
    for (int h = 0; h < n_heads; h++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_q, d, n_k, 1.0f, s + (size_t)h * n_q * n_k, n_k,
                    v + (long)(h / group) * kv_cap * d, d, 0.0f, out + (long)h * d, out_stride);
    dam_free(s);
}
