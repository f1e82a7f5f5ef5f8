/* attention_wgmma.h — causal prefill attention with Hopper's warpgroup tensor-core instructions
 * (wgmma, sm_90a) for dense plans, sink + sliding-window plans and block plans (64 x 64 blocks
 * only: XAttention, FlexPrefill's query-aware heads, ...): the fast paths of attn_cuda_masked
 * (attention_masked.h) on an H100 / H200.
 *
 * What: O = softmax(Q K^T · scale + mask) V for every query head, query row t at position
 * p = n_k - n_q + t (chunked prefill), the pair (p, j) kept iff j <= p and (j < n_sink or
 * p - j < window) — the MaskPlan with columns 0 .. n_sink - 1 and diagonals 0 .. window - 1
 * (StreamingLLM's sinks + window; window <= 0: dense causal). GQA: query head h reads KV head
 * h / (n_heads / n_kv_heads). The same function as attn_cuda_masked with such plans and as the CPU
 * references attn_causal / attn_masked (kernels/cpu/). Precision as there: bf16 inputs and output,
 * fp32 scores, softmax and accumulators, probabilities rounded to bf16 before P·V.
 * How (FlashAttention-3's structure without its producer warps, arXiv 2407.08608): one CTA = one
 * query head × 64·NWG query rows, NWG warpgroups of 64 rows, over key tiles of BN keys: 64 × 128
 * (NWG = 1, BN = 128, 3 CTAs per SM; dense and windows of >= 2048 keys at d = 64), 64 × 64 (NWG = 1,
 * BN = 64, 4 CTAs per SM at d = 64, 2 at d = 128; narrower windows and every block plan at d = 64,
 * block plans below the efficiency rule at d = 128) or the coarse ones (NWG = 3 at d = 64, 2 at
 * d = 128, BN = 128, one CTA per SM; d = 128 dense and windows, dense-enough block plans at d = 128); tiles of K and V loaded with cp.async into
 * 128-byte-swizzled shared memory, two stages each; S = Q K^T by wgmma with both operands in shared memory; P stays in registers as the A
 * operand of O += P V (V read N-major by the tensor cores: no transpose pass). The P·V product of
 * tile i−1 runs on the tensor cores while the warps compute the softmax of tile i (wgmma is
 * asynchronous). A CTA visits only the key tiles its rows keep something in (sinks, window),
 * masks per element only in tiles its rows keep partly, and CTAs run the longest query tiles first.
 * Layout: q [n_q][q_stride] bf16, head h at columns h·d; k, v [n_kv_heads][kv_cap][d]; out
 * [n_q][out_stride], head h at columns h·d. d = 64 or 128; strides multiples of 8 elements;
 * pointers 16-byte aligned (attn_cuda_masked checks these before calling).
 * Test: tests/cuda/test_attention_masked_cuda.cu (dense, band and block plans against float64 on the
 * host, GQA groups 1-8, tile edges, chunked prefill, block rows of one to three words; and against the mma.sync
 * kernel); bench:
 * tests/cuda/bench_attention_masked_cuda.cu. */
#ifndef DAM_KERNELS_CUDA_ATTENTION_WGMMA_H
#define DAM_KERNELS_CUDA_ATTENTION_WGMMA_H

#include "kernels/cuda/attention_masked.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest visited-tile list attn_cuda_wgmma_blocks keeps in shared memory (one int per key tile):
 * 64 KiB, i.e. n_k <= 2,097,152 keys with 128-key tiles, 1,048,576 with 64-key tiles. */
enum { ATTN_CUDA_WGMMA_MAX_LIST_BYTES = 65536 };

/* 1 when the current device runs the wgmma kernel (compute capability 9.0, the sm_90a code this
 * build carries) for head_dim d, else 0. Cached per process after the first call. */
int attn_cuda_wgmma_available(int d);

/* Launches the kernel on `stream` (a cudaStream_t, NULL = default stream): dense causal for
 * window <= 0, else sinks 0 .. n_sink - 1 (n_sink >= 0) plus the window of `window` keys ending at
 * each row. Rows of queries that see no key (none: the diagonal is always kept) are written as
 * zeros and counted into *d_empty when d_empty is non-NULL. Exits with 3 on a CUDA error, a negative
 * n_sink, or when attn_cuda_wgmma_available(d) is 0. */
void attn_cuda_wgmma(dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q, const dam_bf16 *k,
                     const dam_bf16 *v, int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale, int n_sink,
                     int window, int *d_empty, void *stream);

/* The same for the n_run query heads listed in d_heads (device int32 [n_run], each in 0 .. n_heads - 1,
 * distinct), the other heads' output untouched; d_heads = NULL with n_run = n_heads is
 * attn_cuda_wgmma. Used for the dense heads of a plan whose other heads run on the list kernel
 * (attention_masked.h). Exits with 3 on a bad n_run. */
void attn_cuda_wgmma_heads(dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q, const dam_bf16 *k,
                           const dam_bf16 *v, int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale,
                           int n_sink, int window, const int32_t *d_heads, int n_run, int *d_empty, void *stream);

/* Block plans: the pair (p, j), j <= p, is kept iff bit (j / 64) % 64 of word j / 4096 of row
 * h · bits_rows + p / 64 of d_bits is set (device uint64 [n_heads][bits_rows][bits_words]; query
 * blocks p / 64 >= bits_rows keep nothing; bits of key blocks past the diagonal or past n_k are
 * ignored) — the MaskPlan `blocks` part (maskplan.h) as a bit matrix, a dense head as all ones.
 * A CTA lists in shared memory the key tiles some of its rows keep a block in (its query blocks'
 * bit rows OR-ed) and visits only those; inside a visited tile a warp masks a 64-key block its
 * query block does not keep. fine = 0: the coarse tiles (192 x 128 at d = 64, 128 x 128 at
 * d = 128), for plans that fill most of them at d = 128; fine = 1: 64-row CTAs (one query block)
 * over 64-key tiles, i.e. exactly the kept blocks, several CTAs per SM (attn_cuda_block_fine
 * chooses). Rows that keep no key are written as zeros and counted into *d_empty when non-NULL.
 * Exits with 3 on a CUDA error, when attn_cuda_wgmma_available(d) is 0, or on bad bits (NULL,
 * bits_words < ceil(max(bits_rows, ceil(n_k / 64)) / 64), or n_k past ATTN_CUDA_WGMMA_MAX_LIST_BYTES'
 * limit). */
void attn_cuda_wgmma_blocks(dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q, const dam_bf16 *k,
                            const dam_bf16 *v, int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale,
                            const uint64_t *d_bits, int bits_rows, int bits_words, int fine, int *d_empty,
                            void *stream);

#ifdef __cplusplus
}
#endif

#endif
