/* ops.c — see ops.h. */
#include "kernels/cpu/ops.h"

#include <cblas.h>
#include <math.h>

void op_linear(float *Y, const float *X, const float *W, int n, int in, int out) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, X, in, W, in, 0.0f, Y, out);
}

void op_rmsnorm(float *y, const float *x, const float *w, int n, int d, float eps) {
#pragma omp parallel for schedule(static) if (n > 16)
    for (int t = 0; t < n; t++) {
        const float *xr = x + (int64_t)t * d;
        float *yr = y + (int64_t)t * d;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        float scale = (float)(1.0 / sqrt(ss / d + eps));
        for (int i = 0; i < d; i++) yr[i] = xr[i] * scale * w[i];
    }
}

void op_rope_table(float *cs, float *sn, int64_t pos0, int n, int d, const double *inv_freq, double scale) {
    int half = d / 2;
    for (int t = 0; t < n; t++) {
        double pos = (double)(pos0 + t);
        for (int i = 0; i < half; i++) {
            double ang = pos * inv_freq[i];
            cs[(int64_t)t * half + i] = (float)(scale * cos(ang));
            sn[(int64_t)t * half + i] = (float)(scale * sin(ang));
        }
    }
}

void op_rope(float *x, int n, int stride, int n_heads, int d, const float *cs, const float *sn, rope_pairing pairing) {
    int half = d / 2;
#pragma omp parallel for schedule(static) if (n > 16)
    for (int t = 0; t < n; t++) {
        const float *c = cs + (int64_t)t * half, *s = sn + (int64_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (int64_t)t * stride + (int64_t)h * d;
            for (int i = 0; i < half; i++) {
                int a = pairing == ROPE_ADJACENT ? 2 * i : i;
                int b = pairing == ROPE_ADJACENT ? 2 * i + 1 : i + half;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * c[i] - x1 * s[i];
                v[b] = x0 * s[i] + x1 * c[i];
            }
        }
    }
}

void op_swiglu(float *out, const float *gate, const float *up, int n, int d_ff, int stride) {
#pragma omp parallel for schedule(static) if (n > 16)
    for (int t = 0; t < n; t++) {
        const float *g = gate + (int64_t)t * stride, *u = up + (int64_t)t * stride;
        float *o = out + (int64_t)t * d_ff;
        for (int i = 0; i < d_ff; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void op_geglu_tanh(float *out, const float *gate, const float *up, int n, int d_ff, int stride) {
    const float c = 0.7978845608028654f; /* sqrt(2 / pi) */
#pragma omp parallel for schedule(static) if (n > 16)
    for (int t = 0; t < n; t++) {
        const float *g = gate + (int64_t)t * stride, *u = up + (int64_t)t * stride;
        float *o = out + (int64_t)t * d_ff;
        for (int i = 0; i < d_ff; i++) {
            const float z = g[i];
            o[i] = 0.5f * z * (1.0f + tanhf(c * (z + 0.044715f * z * z * z))) * u[i];
        }
    }
}

void op_scale(float *x, float a, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] *= a;
}

void op_add(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

int op_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}
