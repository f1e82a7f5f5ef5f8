/* attention_eager.h — causal attention that materialises the score matrix ("eager"), on the CPU.
 *
 * What: the same result as attn_causal (kernels/cpu/attention.h), O = softmax(Q K^T · scale +
 * causal) V, computed the way Hugging Face's `eager` attention and the DAM paper's "Original"
 * baseline do: all scores of the step first, then the softmax, then P · V. Used by the method
 * `full_eager` (baselines/full_eager.c) so that the memory of a materialised n × n map shows up in
 * the harness's peak-memory figures.
 * How: one buffer S [n_heads][n_q][n_k] fp32 from the harness allocator (core/mem.h, so it counts in
 * dam_mem_peak), i.e. exactly 4 · n_heads · n_q · n_k bytes as the allocator counts them (payload;
 * its 64-byte block header is not counted), allocated at the start of the call and freed at its end;
 * nothing else scales with n. Per query head
 * h: S_h = scale · Q_h K_g^T through one sgemm over all n_k keys (g = h / (n_heads / n_kv_heads)),
 * then per row the keys after the row's position are set to probability 0 (the causal mask,
 * aligned to the last key as in attn_causal), the row is softmaxed in place (max-subtracted, fp32),
 * and O_h = P_h V_g through a second sgemm. The sgemms run outside OpenMP regions, so OpenBLAS
 * threads them; the softmax rows run in an OpenMP loop.
 * Unlike HF eager we do not materialise an additive causal-mask tensor or a second copy of the
 * probabilities (HF's softmax returns a new tensor), so HF's peak is about twice ours plus the mask.
 * Reference: tests/test_attention_eager.c — a float64 brute force (GQA groups 1/3/7, lengths not
 *   multiples of 64, chunked prefill, decode, huge logits, head_dim 64/128), the exact byte count of
 *   the buffer through dam_mem_peak, and agreement with attn_causal.
 * Test:  make build/tests/test_attention_eager && build/tests/test_attention_eager */
#ifndef DAM_KERNELS_CPU_ATTENTION_EAGER_H
#define DAM_KERNELS_CPU_ATTENTION_EAGER_H

#include <stddef.h>

/* Same arguments and layouts as attn_causal:
 * out:  [n_q][out_stride] floats, head h at columns h*d .. h*d+d-1 (written).
 * q:    [n_q][q_stride] floats, head h at h*d (read; unscaled, `scale` is applied here).
 * k, v: one layer's cache, [n_kv_heads][kv_cap][d] floats; keys 0 .. n_k-1 valid (read).
 * Query row t sits at absolute position n_k - n_q + t (n_q <= n_k); n_heads must be a multiple of
 * n_kv_heads. Allocates attn_eager_bytes(n_heads, n_q, n_k) bytes for the scores. */
void attn_eager(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k, const float *v,
                int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale);

/* Bytes of the score buffer attn_eager allocates for one call: 4 · n_heads · n_q · n_k. */
static inline size_t attn_eager_bytes(int n_heads, int n_q, int n_k) {
    return sizeof(float) * (size_t)n_heads * (size_t)n_q * (size_t)n_k;
}

#endif
