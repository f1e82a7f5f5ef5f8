/* estimate.h — the dynamic methods' mask estimation on the GPU (issue 8, part 4): the heavy parts
 * of MInference's, XAttention's, FlexPrefill's and dam_online's estimates (probe-row attention,
 * antidiagonal scores, block means and block maps: O(w·n·d), O(n²·d / S), O(nb²·d)) and the sorts,
 * top-k and cumulative selections after them, computed from the bf16 q and KV cache already on the
 * device, so only index lists, keep bits and O(nb·d) summaries come back to the host. The
 * definitions are the CPU ones (baselines/estimate.h, baselines/minference.c, baselines/xattention.c,
 * baselines/flexprefill.c, dam/online.c); each method's plan_layer_cuda turns the results into
 * MaskPlans as its CPU path does (docs/cuda.md, "Mask estimation on the GPU").
 *
 * Precision (the same split as the CPU): q·k dot products in fp32 (cuBLAS bf16 × bf16 → fp32; the
 * CPU path uses OpenBLAS sgemm on the same bf16 values), everything after them (scale, softmax,
 * column / diagonal / block sums, thresholds) in float64. Column and diagonal sums add their terms
 * in the CPU's order; XAttention's block sums add a key block's e^(x - max) first and divide once
 * (one float64 exp per logit; the CPU divides term by term); softmax denominators are tree
 * reductions; the fp32 dot products are summed in another order. So scores agree to ~1e-14
 * relative when the logits are exact in fp32, and to the fp32 rounding of the logits otherwise.
 * Ties go to the lower index, as on the CPU (est_order_desc): a selection can differ from the
 * CPU's only between scores that differ by rounding (or at a cumulative threshold met within
 * rounding). tests/cuda/test_estimate_cuda.c checks plans equal to the CPU methods' on inputs with
 * exact logits, and the scores against a float64 brute force.
 *
 * Layouts (as the GPU attention hook has them, harness/attn_ctx_cuda.c): q [n][q_stride] bf16,
 * query head h at columns h·d .. h·d+d-1, post-RoPE, unscaled; k [n_kv_heads][kv_cap][d] bf16,
 * positions 0 .. n-1 valid (rows past n are never read). Query head h reads KV head
 * h / (n_heads / n_kv_heads).
 * Errors: a CUDA / cuBLAS failure prints the call and exits with 3; bad sizes are internal errors
 * (dam_die, exit 3). Scratch grows in the workspace and is counted by the device allocator
 * (kernels/cuda/cuda_mem.h). Everything runs on the default stream; each function returns after
 * its results are on the host (or, for device outputs, after the kernels are queued). */
#ifndef DAM_KERNELS_CUDA_ESTIMATE_H
#define DAM_KERNELS_CUDA_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Device scratch and the cuBLAS handle of the estimation functions; reused across layers and
 * calls. Opaque. */
typedef struct est_cuda_ws est_cuda_ws;

/* A new empty workspace (the cuBLAS handle is made on first use). Exits with 3 on a CUDA error,
 * or with a one-line message when the binary was built without CUDA (estimate_none.c). */
est_cuda_ws *est_cuda_ws_new(void);

/* Frees the workspace and its device memory; NULL is a no-op. */
void est_cuda_ws_free(est_cuda_ws *ws);

/* A page-locked host buffer of at least `bytes` bytes owned by ws, for an estimator's host output
 * (XAttention's keep bits, dam_online's patterns and blocks): its device-to-host copy runs at full PCIe speed and writes no freshly
 * mapped pages, where a malloc'd buffer of that size is mmap'd anew per call. Grow-only (contents
 * lost when it grows), valid until the next est_cuda_host_buffer call on ws, freed with ws. Exits 3
 * (naming the call) if the allocation fails. */
void *est_cuda_host_buffer(est_cuda_ws *ws, size_t bytes);

/* Times (ms) of the last est_cuda_xattention call on a workspace, for benchmarks (bench_estimate):
 * enqueue = host wall clock from the call's entry until every kernel of it is queued; gpu = the
 * device's span from the call's first queued operation to the end of its last kernel (CUDA events:
 * kernels plus the gaps between them); wait = host wall clock from the end of queueing until the
 * keep bits are in host memory (the final copy waits for the queued kernels). The call's whole host
 * time is enqueue + wait (+ a few us). With scores != NULL (tests) the per-chunk score copies, which
 * synchronise, fall inside enqueue and gpu. NaN until such a call. */
typedef struct {
    double enqueue_ms, gpu_ms, wait_ms;
} est_cuda_phases;
est_cuda_phases est_cuda_last_phases(const est_cuda_ws *ws);

/* MInference's (and dam_online's) probe-row estimate, reduced on the GPU: for every query head h,
 * the exact causal attention of its last w[h] rows (positions n-w .. n-1, 1 <= w[h] <= n),
 * P[r][j] = softmax_j(q_{n-w+r} · k_j / sqrt(d)), j <= n-w+r (est_last_rows), summed into
 *   col[h][j]  = sum over r of P[r][j]           (est_column_sums),   j in [0, n)
 *   diag[h][o] = sum over r of P[r][(n-w+r) - o] (est_diagonal_sums), o in [0, n).
 * *d_col and *d_diag receive device arrays [n_heads][n] of doubles owned by ws, valid until the
 * next call on ws; *d_diag == *d_col + n_heads · n (one array of 2 · n_heads rows, which one
 * est_cuda_top_k call can select from). Cost per head: one w × n × d GEMM and O(w · n) float64 work;
 * the heads go together (one launch per kernel) in chunks whose fp32 logits [w_max][n] fit the
 * scratch budget (DAM_CUDA_EST_CHUNK_BYTES, as for est_cuda_dam_online). */
void est_cuda_vertical_slash(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap, int n,
                             int n_heads, int n_kv_heads, int d, const int *w, double **d_col, double **d_diag);

/* Top-k per row of device scores score[h][0 .. n), h < n_heads rows (row stride n, e.g. the 2 ·
 * n_heads rows of est_cuda_vertical_slash's column then diagonal sums): the indices 0 .. forced[h]-1
 * count as +inf (always first), then the others by score descending, ties by index ascending
 * (est_top_k's order). top[h * top_stride + i], i < k[h], receives the selected indices (host memory;
 * their order is the selection order). 0 <= forced[h] <= n, 1 <= k[h] <= min(n, top_stride).
 * One CTA per row selects by radix select and sorts the k_max chosen in shared memory (when k_max
 * <= 8192 fits the device's shared memory and n_heads <= 256; estimate_top_k.cu); otherwise a
 * segmented stable sort of whole rows (CUB: two stable radix sorts over all rows, by score then by
 * row). Both give the same indices in the same order. */
void est_cuda_top_k(est_cuda_ws *ws, const double *score, int n, int n_heads, const int *forced, const int *k,
                    int32_t *top, int top_stride);

/* Means of groups of `group` rows of bf16 matrices on the device (FlexPrefill's block means,
 * est_block_means), for `heads` matrices x + y · x_head, y < heads (elements): out[y][g][c] = mean over
 * rows r0 + g·group .. min(r0 + n_rows, r0 + g·group + group) - 1 of x[y · x_head + row · stride + c],
 * c < d, for g < ceil(n_rows / group); out is host memory [heads][ceil(n_rows / group)][d] doubles. Rows
 * are added in ascending order in float64 and divided by the group's row count, as est_block_means
 * does: the results are identical. One launch and one copy for all heads. */
void est_cuda_row_means(est_cuda_ws *ws, const uint16_t *x, int heads, long x_head, long stride, int r0, int n_rows,
                        int d, int group, double *out);

/* FlexPrefill's step 2 inputs (baselines/flexprefill.c) from est_cuda_vertical_slash's device sums
 * col, diag [n_heads][n]: with v = col[h] / div and s = diag[h] / div (div = the B estimation rows),
 * count[2h] = cover(v) and count[2h + 1] = cover(s), where cover(x) = 1 + the number of entries of x
 * sorted descending whose inclusive cumulative sum (added sequentially in that order, as the CPU
 * does) is <= g[h]; pool[h][0][b] = the sum of v over the keys of 64-block b and pool[h][1][b] the
 * sum of s over the offsets o with o / 64 = b (j ascending). The counts are exactly the sequential
 * definition's: a parallel scan (CUB, by row) decides each cover when a proven rounding bound
 * (|sequential - scan| <= ~2 i · 2^-53 of the i-th sum, entries >= 0) separates the sums from g;
 * a row with a sum within the bound of g (g met exactly, or a total within rounding of g) is walked
 * sequentially, one CTA for the row (estimate.cu, cover_bounds and cover_walk). count: host
 * [n_heads][2]; pool: host [n_heads][2][nb], nb = ceil(n / 64). Device memory: about
 * 136 · n_heads · n bytes (2 · n_heads · n entries of the two-pass sort with CUB's alternate buffers
 * and of the scan, 68 bytes each). */
void est_cuda_cover_pool(est_cuda_ws *ws, const double *col, const double *diag, int n, int n_heads, double div,
                         const double *g, int *count, double *pool);

/* FlexPrefill's query-aware selection (baselines/flexprefill.c step 5) for the heads h with
 * which[h] != 0: 64-row block means of the head's queries and of its KV head's keys (as
 * est_cuda_row_means), the block map A[qb][kb] = softmax over kb <= qb of q̄_qb · k̄_kb / sqrt(d)
 * (float64, dot products c ascending as on the CPU, each term possibly fused into an FMA), every causal cell sorted by A descending (ties: the
 * lower qb · nb + kb), then the longest prefix whose inclusive cumulative sum stays <= gamma[h] · nb,
 * plus cell (0, 0). The cumulative sums come from a parallel scan (CUB, segmented by head), so they
 * may differ from the CPU's sequential sum by rounding. keep: host [n_heads][nb][words] bits as in
 * est_cuda_xattention (every head's words are written; heads with which[h] == 0 get zeros).
 * The selected heads are processed together (one sort, scan and cut for all), in chunks that keep
 * the scratch under ~512 MiB (one head per chunk from ~180K tokens); device memory per head of a
 * chunk: about 34 · nb² bytes (nb² / 2 cells of the map, its sort with CUB's alternate buffers and
 * the scan, 68 bytes each) and 8 · nb · d bytes of query means, plus the key means of every KV
 * head (8 · n_kv_heads · nb · d bytes). */
void est_cuda_block_map_select(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap, int n,
                               int n_heads, int n_kv_heads, int d, const uint8_t *which, const double *gamma,
                               uint64_t *keep);

/* dam_online's on-cell rule (dam/online.c step b): a probability p is "on" iff
 * B(max(p, eps)) - base >= tau, B the Box-Cox transform of exponent lambda (log for 0); cut = the p
 * where that turns true (+inf if never). Cells farther than 1e-9 (relative) from cut are decided
 * by the comparison with cut, the others by the formula, as on the CPU. */
typedef struct {
    double eps, lambda, base, tau, cut;
} est_on_rule;

/* dam_online's per-head settings for est_cuda_dam_online (dam/online.c). */
typedef struct {
    int w;            /* probe rows W = min(last_q, n), 1 <= w <= n */
    est_on_rule rule; /* step (b) */
    double mu;        /* step (c): a pattern matches iff on / cells >= mu ... */
    double min_cells; /* ... and it has >= min_cells cells */
    double coverage;  /* step (d): the gate's target, mean kept P mass over the probe rows, in (0, 1] */
} est_dam_online_head;

/* est_cuda_dam_online's result for one head. */
typedef struct {
    int depth;    /* the gate's depth t: every query block qb keeps its key blocks of rank < min(t, qb + 1)
                     (0: the matched patterns reach the coverage); nb: every causal block is needed (the
                     head is dense, its sel and blocks are not meaningful) */
    int64_t kept; /* causal pairs the head's plan keeps (columns ∪ diagonals ∪ blocks, the deepening
                     included), exactly maskplan_kept_pairs of that plan; -1 when depth == nb */
} est_dam_online_result;

/* dam_online steps (a)-(d) (dam/online.c) for the query heads h0 .. h1-1 on the GPU: the probe rows'
 * exact attention P (last w rows), the on-cells of every column and diagonal over them, the block
 * map A (softmax over kb <= qb of q̄_qb · k̄_kb / sqrt(d), float64) and the blocks whose on-cells
 * (p = A / c(i, kb)) match; then the gate: the probe rows' kept P mass, the depth t at which adding
 * every query block's t best key blocks (A descending, ties: lower kb) reaches the coverage, the
 * deepened blocks, and the kept pairs of the resulting plan (for the max_density check). Heads are
 * processed together, in chunks of as many heads as keep the scratch under ~512 MiB (at least one):
 * per head about 4 · w · n bytes of fp32 logits, 32 · nb (nb + 1) / 2 of the block map and its
 * ranks, 8 · w · nb of gate sums (one head per chunk from ~230K tokens at w = 64; one head needs
 * ~4.3 GB at 1M tokens). Outputs (host memory, head index y = h - h0):
 *   res[y]: depth and kept pairs;
 *   sel[y][0 .. n): column j matched; sel[y][n + o]: diagonal o matched (diagonal 0 always);
 *   blocks[y] ([nb][words] bits, nb = ceil(n / 64), words = ceil(nb / 64)): kept blocks, deepening
 *   included (bit kb % 64 of blocks[y][qb][kb / 64]).
 * par[y]: the settings of head h0 + y. The gate sums P per (probe row, block) and then per depth, so
 * the coverage it reaches can differ from the CPU's (which adds key by key) by rounding. With
 * h1 == h0 + 1 the head's block map stays in ws for est_cuda_dam_online_map (until another estimation
 * call on ws). */
void est_cuda_dam_online(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap, int n,
                         int n_heads, int n_kv_heads, int d, int h0, int h1, const est_dam_online_head *par,
                         est_dam_online_result *res, uint8_t *sel, uint64_t *blocks);

/* The block map of the head of the last est_cuda_dam_online call, which must have been for one head
 * with the same n and the last estimation call on ws (for mask_mode "soft"; else an internal error,
 * exit 3): A [nb][nb] host, 0 for kb > qb. */
void est_cuda_dam_online_map(est_cuda_ws *ws, int n, double *A);

/* XAttention's estimate and selection (baselines/xattention.c steps 1-4) for every query head:
 * strided antidiagonal scores of stride[h] (divides 64) through cuBLAS, causal softmax over
 * super-tokens and 64-block sums in float64, then per query block the first and diagonal key
 * blocks plus the fewest other blocks in descending score whose cumulative score reaches
 * tau[h] × the row's total, the sums in XAttention's fixed point (est_xattention_cut's definition,
 * baselines/estimate.h: the same blocks as the CPU given the same scores). keep (host, [n_heads][nb][words]
 * 64-bit words, nb = ceil(n / 64), words = ceil(nb / 64); page-locked memory from est_cuda_host_buffer
 * copies fastest) receives the kept blocks as bits: bit kb % 64 of keep[h][qb][kb / 64]
 * (maskplan_set_blocks_bits_heads builds the plans from it). scores: NULL, or host [n_heads][nb][nb] doubles that
 * receive the block scores (0 for kb > qb; for tests). Heads are processed together in chunks of
 * consecutive heads with the same stride (up to 32, as many as keep the scratch under ~512 MiB,
 * DAM_CUDA_EST_CHUNK_BYTES as for est_cuda_dam_online; at least one), rows in chunks of 1,024
 * super-tokens (whole query blocks; test / bench-only DAM_CUDA_XA_CHUNK_ROWS, a multiple of 64,
 * overrides it; one head may need more than the budget: ~1 GB at 1M tokens and d 128); the bits of
 * all come back in one copy at the end. The select: up to 514 query blocks one warp per query block
 * (the sort in registers), in one launch after the row chunks, else (and with the test-only
 * DAM_CUDA_XA_SMALL=1) one CTA per query block per row chunk; the same bits (test-only DAM_CUDA_XA_SELECT=cta|warp forces one). Scratch per head of a
 * chunk: about 4 · n · d bytes of strided copies, 4 · R · N bytes of fp32 logits (R rows per chunk, N
 * = ceil(n / stride)), the block sums' scratch (8 · R · nb bytes for the warp kernel, a 64 / stride-th
 * of it for the CTA kernel), the block scores (8 · nb² bytes with the one-launch select, else 8 · R /
 * (64 / stride) · nb), and when nb > 4,098 the sorts (12 bytes per entry, padded to a power of two;
 * shared memory below). The results do not depend on
 * the chunking up to the fp32 rounding of the logits (cuBLAS may pick another kernel for another
 * batch; exact with exact logits, as the tests check: DAM_CUDA_XA_SMALL=1 takes the long-prompt paths at small n). */
void est_cuda_xattention(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap, int n,
                         int n_heads, int n_kv_heads, int d, const int *stride, const double *tau, uint64_t *keep,
                         double *scores);

#ifdef __cplusplus
}
#endif

#endif
