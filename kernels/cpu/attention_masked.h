/* attention_masked.h — sparse (MaskPlan-masked) causal attention on the CPU, tiled flash-style.
 *
 * What: O = softmax(Q K^T · scale + log M_h + B_h) V per query head h, where M_h is the mask of
 * plans[h] (kernels/maskplan.h) intersected with causality: masked pairs have probability exactly
 * 0 (excluded from the row maximum and the row sum, never a finite sentinel); B_h is the plan's
 * logit bias on kept pairs (maskplan_bias: 0 unless the plan carries a block bias, soft masks),
 * added to the scaled scores before the online softmax on both paths below. Same layouts, GQA
 * mapping and chunked-prefill alignment as attn_causal (kernels/cpu/attention.h); a dense plan gives
 * attn_causal's result up to fp rounding.
 * How: OpenMP over (KV head, 32-row query tile). Per tile the key blocks (64 keys) that any head of
 * the KV group keeps are marked (maskplan_mark_key_blocks); every other block is skipped without
 * touching K or V. For a visited block each (row, head) gets its 64-bit keep word
 * (maskplan_row_word; maskplan_row_word_bias for a plan with a bias, which also gives the kept bits
 * that get the bias and its value). If at least 1/8 of the block's (row, key) pairs are kept,
 * S = Q K_blk^T and O += P V_blk go through sgemm for all heads of the group at once, the bias added
 * to S and the keep words masking it in between; otherwise (a lone column or diagonal crossing the
 * block) only the kept pairs are computed, as dot products (plus the bias) and axpys. Both update
 * the online softmax of FlashAttention (running max and sum) per (row, head). Plans without a bias
 * take exactly the code path they took before biases existed. Extra memory is O(tile) per thread
 * plus one byte per key block; work is O(visited blocks · 64 · d) at most, O(kept pairs · d) for
 * sparse blocks.
 * Reference: tests/test_attention_masked.c — a float64 brute force that builds the mask from the
 *   rule in maskplan.h independently of maskplan.c, for every plan kind, GQA groups 1/3/7, lengths
 *   not multiples of 64, chunked prefill, decode, huge logits, head_dim 64/128, dense vs attn_causal,
 *   block biases down to log(1e-6) on every plan kind, and plans without a bias bit-identical to
 *   the kernel's results before biases existed (a bias of 0 everywhere = no bias).
 * Test:  make build/tests/test_attention_masked && build/tests/test_attention_masked
 * Bench: attn_masked_bench() below (dense attn_causal vs attn_masked with a dense plan vs a
 *   DAM-like plan), meant for `dam bench`. */
#ifndef DAM_KERNELS_CPU_ATTENTION_MASKED_H
#define DAM_KERNELS_CPU_ATTENTION_MASKED_H

#include <stdio.h>

#include "kernels/maskplan.h"

/* out:   [n_q][out_stride] floats, head h at columns h*d .. h*d+d-1 (written, every row).
 * q:     [n_q][q_stride] floats, head h at h*d (read; unscaled, `scale` is applied here).
 * k, v:  one layer's cache, [n_kv_heads][kv_cap][d] floats; keys 0 .. n_k-1 valid (read).
 * Query row t sits at absolute position n_k - n_q + t (n_q <= n_k). n_heads must be a multiple of
 * n_kv_heads; query head h reads KV head h / (n_heads / n_kv_heads).
 * plans: [n_heads] plans, one per query head, read only (owned by the caller); the kernel does not
 *   validate them (call maskplan_validate(plan, n_k) once when building a plan). plans == NULL
 *   means every head is dense.
 * Returns the number of (query row, head) pairs that kept no key at all. A valid plan has none; for
 * such a row the output is written as zeros (not NaN) and counted, so the caller can treat a
 * non-zero return as an error (it means the plan was not valid for n_k). */
int attn_masked(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k, const float *v,
                int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale, const maskplan *const *plans);

/* Benchmark: one layer of prefill with n tokens (n_q = n_k = n), n_heads / n_kv_heads heads of size
 * d, random inputs; times (best of `reps` calls, ms) attn_causal, attn_masked with dense plans, and
 * attn_masked with a DAM-like plan per head (4 sinks + 64-token window + 12 columns + 4 far
 * diagonals, columns and diagonals varying by head) and prints one line each to `f`, with the
 * plan's density. Uses the OpenMP threads available. */
void attn_masked_bench(FILE *f, int n, int n_heads, int n_kv_heads, int d, int reps);

#endif
