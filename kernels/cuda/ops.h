/* ops.h — the dense element-wise operations of the transformer forward pass on an NVIDIA GPU:
 * the CUDA counterparts of kernels/cpu/ops.h (which are their references, tested against each other
 * in tests/cuda/test_ops_cuda.c). The GEMMs are cuBLAS (model/llama_cuda.cu).
 *
 * Precision: the residual stream and GEMM outputs are fp32; what feeds a GEMM or the attention
 * kernels is bf16 (rounded to nearest even), as the bf16 weights are. Reductions (RMSNorm) in fp32.
 * All pointers are device pointers; all calls are asynchronous on the default stream; a launch
 * error exits with status 3 naming the kernel (cuda_check.h). Shapes [rows][cols], row-major. */
#ifndef DAM_KERNELS_CUDA_OPS_H
#define DAM_KERNELS_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "kernels/cuda/attention_masked.h" /* dam_bf16 */

/* x[t][i] = scale · table[ids[t]][i] for t < n, i < d: token embeddings (bf16 table [vocab][d])
 * into the fp32 residual stream x [n][d]. ids must be valid (llama_forward checks them). */
void cuda_embed(float *x, const dam_bf16 *table, const int32_t *ids, int n, int d, float scale);

/* RMSNorm per row (op_rmsnorm): y[t] = x[t] / sqrt(mean(x[t]²) + eps) · w, x fp32 [n][d], w fp32
 * [d], y bf16 [n][y_stride]. */
void cuda_rmsnorm(dam_bf16 *y, int y_stride, const float *x, const float *w, int n, int d, float eps);

/* The attention inputs of one step, from the fused projection qkv fp32 [n][(H + 2 Hkv) hd] (Q heads,
 * then K heads, then V heads): adds bias [(H + 2 Hkv) hd] if not NULL (Qwen2); rotates the Q and K
 * heads with RoPE (op_rope: tables cs, sn fp32 [n][hd/2] from op_rope_table, pairing 0 = adjacent,
 * 1 = half / NeoX); multiplies Q by q_scale; writes Q as bf16 q [n][H hd] and K, V as bf16 into the
 * caches k_cache, v_cache [Hkv][cap][hd] at positions pos0 .. pos0+n-1. hd even, <= 256. */
void cuda_qkv_rope(dam_bf16 *q, dam_bf16 *k_cache, dam_bf16 *v_cache, const float *qkv, const float *bias,
                   const float *cs, const float *sn, int n, int H, int Hkv, int hd, int cap, int pos0, float q_scale,
                   int pairing);

/* SwiGLU (op_swiglu): out[t][i] = silu(gu[t][i]) · gu[t][d_ff + i], gu fp32 [n][2 d_ff] (gate | up),
 * out bf16 [n][d_ff]. */
void cuda_swiglu(dam_bf16 *out, const float *gu, int n, int d_ff);

/* Sets n bf16 values to the bit pattern `bits` (e.g. 0x7FC0, a NaN, to poison a buffer in tests). */
void cuda_fill_bf16(dam_bf16 *x, size_t n, uint16_t bits);

#ifdef __cplusplus
}
#endif

#endif
