/* attention_decode.h — decode attention on an NVIDIA GPU: one new query row per head against a
 * bf16 KV cache, dense or with a per-head list of kept keys (sparse), split over the keys
 * ("split-K", as flash-decoding) so a single row still fills the GPU.
 *
 * What: o_h = softmax(q_h · K_g^T · scale) V_g for every query head h, g = h / (n_heads / n_kv_heads)
 * (GQA), over the keys 0 .. n_k-1 (dense; the decode row is the last position, so causality keeps
 * every cached key) or over the keys listed for head h (sparse: the kept keys of the head's
 * MaskPlan row, or of a KV-eviction policy). A head with an empty list gets a zero output row, as the
 * CPU kernels do for rows with no kept key. The function of kernels/cpu/attention.h (dense) and
 * kernels/cpu/attention_masked.h (sparse) for n_q = 1.
 * Precision: bf16 q, K, V and output; QK^T and P·V on tensor cores (mma.sync m16n8k16, fp32
 * accumulate); softmax in fp32; the probabilities are rounded to bf16 for P·V (as FlashAttention does).
 * How (docs/cuda.md, "Decode attention"): a CTA of 4 warps takes one split of the keys (whole 64-key
 * tiles) for one KV head and all the query heads of its GQA group as the rows of one 16-row mma tile
 * (dense: each K/V byte is read from HBM once for the group), or for one query head (sparse: rows
 * gathered by index). K and V tiles stream through a 4-stage cp.async ring in shared memory; each
 * warp computes 16 keys of every tile (S = Q K^T, online softmax, O += P V); the warps are merged in
 * shared memory into one partial (max, sum, d accumulators) per head; the last CTA of each head
 * group to finish (an atomic ticket) merges the splits and writes the output, so one launch does the
 * whole layer.
 * Layouts: q and out [n_heads][d] bf16 (contiguous); k, v [n_kv_heads][kv_cap][d] bf16 (the CPU
 * KV-cache layout); d = 64 or 128; n_heads / n_kv_heads <= 8. Sparse lists: CSR over query heads,
 * idx_ptr [n_heads + 1] and idx [idx_ptr[n_heads]] key indices in [0, n_k), device memory, any order
 * (ascending reads best).
 * Errors: invalid arguments exit with status 2 naming the argument; CUDA errors exit with status 3
 * naming the call (cuda_check.h).
 * Test: tests/cuda/test_attention_decode_cuda.cu (float64 reference). Bench:
 * tests/cuda/bench_attention_decode_cuda.cu (HBM bandwidth over a whole model's KV cache). */
#ifndef DAM_KERNELS_CUDA_ATTENTION_DECODE_H
#define DAM_KERNELS_CUDA_ATTENTION_DECODE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "kernels/cuda/attention_masked.h" /* dam_bf16 */

/* Device scratch for the split partials and the tickets of one decode call at a time. Owned by the
 * caller: create once per (n_heads, d, max_splits) and reuse across layers and steps. */
typedef struct {
    int n_heads, d, max_splits;
    float *d_part;     /* [n_heads][max_splits][d + 4]: accumulators, max, sum (+ 2 pad) of each split */
    unsigned *d_ticket; /* [n_heads] finished-split counters, back to 0 after every call */
    size_t device_bytes;
} attn_cuda_decode_ws;

/* Allocates the scratch for up to n_heads query heads of dimension d and max_splits (1 .. 1024)
 * splits per head; 0 = 1024. */
attn_cuda_decode_ws *attn_cuda_decode_ws_new(int n_heads, int d, int max_splits);
void attn_cuda_decode_ws_free(attn_cuda_decode_ws *ws);

/* Decode attention (see above). k, v, q, out, idx_ptr, idx are device pointers; idx_ptr = idx =
 * NULL for dense; max_list = the longest list (sparse; sizes the splits, ignored for dense).
 * kv_cap >= n_k >= 1 keys per KV head; scale usually 1/sqrt(d). n_splits = 0 picks
 * the number of splits from the work (one wave of 2 CTAs per SM, at least 256 keys per split); a positive
 * value forces it (at most ws->max_splits). Asynchronous on the default stream. */
void attn_cuda_decode(dam_bf16 *out, const dam_bf16 *q, const dam_bf16 *k, const dam_bf16 *v, int kv_cap, int n_k,
                      int n_heads, int n_kv_heads, int d, float scale, const int32_t *idx_ptr, const int32_t *idx,
                      int max_list, int n_splits, attn_cuda_decode_ws *ws);

#ifdef __cplusplus
}
#endif

#endif
