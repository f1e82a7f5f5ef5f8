/* ops.h — the dense CPU operations of the transformer forward pass (fp32, row-major).
 * Each is the reference for its CUDA counterpart. Shapes are given as [rows][cols]. */
#ifndef DAM_KERNELS_CPU_OPS_H
#define DAM_KERNELS_CPU_OPS_H

#include <stdint.h>

/* Y[n][out] = X[n][in] · W[out][in]^T (a linear layer without bias), through OpenBLAS sgemm.
 * X, W, Y must not overlap. */
void op_linear(float *Y, const float *X, const float *W, int n, int in, int out);

/* RMSNorm per row (Zhang & Sennrich 2019, as in Llama): y = x / sqrt(mean(x²) + eps) * w.
 * x, y: [n][d] (may alias); w: [d]. The mean of squares is accumulated in double. */
void op_rmsnorm(float *y, const float *x, const float *w, int n, int d, float eps);

/* RoPE pairing conventions (DESIGN/models.md §4). ADJACENT rotates (x[2i], x[2i+1]) — GGUF
 * llama-architecture models, whose Q/K rows llama.cpp's converter permuted; HALF rotates
 * (x[i], x[i + d/2]) — Hugging Face rotate_half, and GGUF qwen2 / gemma ("NeoX"). */
typedef enum { ROPE_ADJACENT = 0, ROPE_HALF = 1 } rope_pairing;

/* Fills cos/sin tables for positions pos0 .. pos0+n-1: cs[t][i] = scale * cos(pos * inv_freq[i]),
 * sn likewise with sin, i < d/2, each [n][d/2]. inv_freq[d/2] comes from model/rope.h
 * (theta^(-2i/d) without scaling); scale is the RoPE attention factor (YaRN), else 1. Angles are
 * computed in double (positions up to 2^31 stay accurate), stored as float. */
void op_rope_table(float *cs, float *sn, int64_t pos0, int n, int d, const double *inv_freq, double scale);

/* Rotates n_heads head vectors of d values in each of n rows of x (row stride `stride` floats)
 * in place with the tables from op_rope_table. */
void op_rope(float *x, int n, int stride, int n_heads, int d, const float *cs, const float *sn, rope_pairing pairing);

/* SwiGLU (Shazeer 2020): out[t][i] = silu(gate[t][i]) * up[t][i], silu(z) = z / (1 + e^-z).
 * gate and up are rows of `stride` floats; out is [n][d_ff] and must not overlap gate or up. */
void op_swiglu(float *out, const float *gate, const float *up, int n, int d_ff, int stride);

/* GeGLU with the tanh GELU (Shazeer 2020; Gemma): out[t][i] = gelu(gate[t][i]) * up[t][i],
 * gelu(z) = 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) (Hendrycks & Gimpel 2016's
 * approximation, PyTorch's gelu(approximate="tanh")), evaluated in fp32 with tanhf. Layout as
 * op_swiglu. */
void op_geglu_tanh(float *out, const float *gate, const float *up, int n, int d_ff, int stride);

/* x[i] *= a for i < n. */
void op_scale(float *x, float a, int64_t n);

/* x[i] += y[i] for i < n. */
void op_add(float *x, const float *y, int64_t n);

/* Index of the largest of x[0..n) (the first one on ties). */
int op_argmax(const float *x, int n);

#endif
