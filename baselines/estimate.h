/* estimate.h — the pieces the dynamic (input-dependent) methods share to estimate an attention map
 * from a prompt's queries and keys: exact attention of the last rows (MInference, FlexPrefill,
 * dam_online), column and diagonal sums of it, block means of Q and K (FlexPrefill, dam_online),
 * a deterministic descending order, a block-part builder, and the per-layer driver that runs one
 * function per query head (OpenMP over heads) for method_ops.plan_layer.
 *
 * Scores always carry the 1/sqrt(d) scale (MInference PR #70 forgot it). Dot products are float
 * (OpenBLAS sgemm, single-threaded inside the OpenMP region); everything after them (softmax,
 * sums, thresholds) is float64, so decisions do not depend on the thread count or on the order in
 * which heads run.
 *
 * Ties: est_order_desc sorts by score descending, then by index ascending. Every top-k and
 * cumulative-threshold selection of the dynamic methods uses it, so a tie always goes to the
 * lower index (the lower key, offset or block). */
#ifndef DAM_BASELINES_ESTIMATE_H
#define DAM_BASELINES_ESTIMATE_H

#include <stdint.h>

#include "baselines/xattention_fixed.h"
#include "harness/method.h"
#include "kernels/maskplan.h"

/* One query head's view of a layer's prompt: its queries and its (GQA) KV head's keys. */
typedef struct {
    const float *q; /* row i (position i) at q + i * q_stride, d floats; post-RoPE, unscaled */
    int q_stride;   /* floats between rows */
    const float *k; /* [n][d] keys of the head's KV head, positions 0 .. n-1 */
    int n;          /* prompt length, >= 1 */
    int d;          /* head dimension */
} est_head;

/* x[j] = e^(x[j] - mx) for j in [0, m), for softmax rows (every x[j] <= mx): a branch-free
 * exponential (Cody-Waite reduction, degree-13 Taylor polynomial, exponent by bit arithmetic)
 * that GCC vectorises; relative error below 1e-15 against libm's exp (tests/test_dynamic.c
 * checks it), and 0 below e^-708. The glibc scalar exp was 60% of the estimation time. */
void est_exp_shifted(double *x, int m, double mx);

/* Exact attention probabilities of the last w rows (positions n-w .. n-1, 1 <= w <= n):
 * P[r][j] = softmax_j(q_{n-w+r} · k_j / sqrt(d)) over keys j <= n-w+r, and 0 for later keys.
 * P is [w][n] doubles (caller's). Cost O(w · n · d) (one sgemm) + O(w · n) exp. */
void est_last_rows(const est_head *h, int w, double *P);

/* col[j] = sum over the w rows of P[r][j], j in [0, n). */
void est_column_sums(const double *P, int w, int n, double *col);

/* diag[o] = sum over the w rows of P[r][(n-w+r) - o] (offset o = query position - key position,
 * only terms with a key >= 0), o in [0, n). */
void est_diagonal_sums(const double *P, int w, int n, double *diag);

/* Means over blocks of b rows: out[blk][c] = mean of x[i][c] for i in blk*b .. min(n, blk*b+b)-1
 * (the last block averages only its real rows). x row i at x + i * stride, d floats; out is
 * [ceil(n / b)][d] doubles. */
void est_block_means(const float *x, int stride, int n, int d, int b, double *out);

/* XAttention step 4 (baselines/xattention.c) on a score matrix: score[qb][kb] (nb x nb, float64, >= 0;
 * entries kb > qb ignored) -> keep[qb][kb] = 1 for the kept blocks, 0 for the others (nb x nb bytes,
 * every one written): per query block the first and the diagonal key block, then the others by
 * descending score (ties: lower kb) while the kept score, added in XAttention's fixed point
 * (baselines/xattention_fixed.h), is below fl(tau · total) (the total also in fixed point). The one
 * definition of the cut; the GPU's (est_cuda_xattention) must keep the same blocks given the same
 * scores (tests/cuda/test_estimate_cuda.c). */
void est_xattention_cut(const double *score, int nb, double tau, uint8_t *keep);

/* order[0 .. m) = the indices 0 .. m-1 sorted by score descending, ties by index ascending. */
void est_order_desc(const double *score, int m, int32_t *order);

/* top[0 .. k) = the first k indices of est_order_desc's order (k <= m), found by selection in
 * O(m + k log k) instead of sorting all m. */
void est_top_k(const double *score, int m, int k, int32_t *top);

/* Sets the block part of `plan` from a keep matrix keep[qb * nkb + kb] (nqb query blocks, nkb key
 * blocks; non-zero = keep; key blocks after the query block are dropped by maskplan). */
void est_set_blocks(maskplan *plan, int nqb, int nkb, const uint8_t *keep);

/* Sets the column and diagonal parts of `plan` from match flags: sel[j] != 0 keeps column j and
 * sel[n + o] != 0 keeps diagonal o, j, o < n (est_cuda_dam_online's patterns, [2n] bytes). */
void est_set_patterns(maskplan *plan, int n, const uint8_t *sel);

/* The plan of one query head (layer, head) from its view h (caller frees the plan). */
typedef maskplan *(*est_head_fn)(const method *m, int layer, int head, const est_head *h);

/* method_ops.plan_layer for methods that plan each query head on its own: builds each head's
 * est_head (query head h reads KV head h / (n_heads / n_kv_heads)) and calls fn, OpenMP over heads
 * (single-threaded BLAS inside). Arguments as in method_ops.plan_layer. */
void est_plan_layer(const method *m, int layer, const float *q, int q_stride, int n, const float *k, int kv_cap,
                    int n_heads, int n_kv_heads, int d, maskplan **out, est_head_fn fn);

#endif
