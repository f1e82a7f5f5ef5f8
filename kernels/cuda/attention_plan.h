/* attention_plan.h — the host half of attn_cuda_plan_build (kernels/cuda/attention_masked.h): one
 * layer's per-head MaskPlans converted into the tile lists the masked CUDA kernel walks, as plain
 * host arrays. Pure C (OpenMP, no CUDA runtime call), so it is built into every libdam and can be
 * tested and timed on a machine without a GPU (tests/cuda/test_plan_host.c).
 *
 * What: per work item (chunk of hc query heads, 64-row query tile aligned to the plan's 64-token
 * blocks) the list of key tiles some head of the chunk uses: contiguous 64-key tiles and gathered
 * tiles (64 key indices packing the few keys of sparsely used tiles), each with a mode per head
 * (every causal pair kept / nothing kept / an explicit 64 x 64-bit mask) and, for soft masks, a
 * bias mask and value. Layout and rules: docs/cuda.md, "Plan conversion".
 * How: work items are split into contiguous blocks of about equal work (causal key tiles), built in
 * parallel (OpenMP, dynamic schedule, scratch per thread) in two passes: one counts each item's entries and gathered tiles, so the
 * entry and gather arrays are allocated once and the second pass writes each block's part in place;
 * masks are deduplicated within a block and again globally while merging, in first-use order, so
 * the arrays are byte-identical to the serial build whatever the thread count. A tile whose every
 * causal pair a plan keeps through a run of diagonals, a run of columns or an unbiased listed block
 * (rows outside the bitmap) is marked "all kept" without evaluating its 64 rows
 * (ATTN_PLAN_NO_SHORTCUT turns that off, for tests); a tile that one far diagonal crosses alone is
 * one of 127 shared patterns (no words computed, hashed once per block). An item whose heads keep
 * only unbiased listed blocks (XAttention, FlexPrefill) is written straight from the block lists.
 * The big output arrays of a freed plan are kept for the next build (attn_cuda_plan_host_free). */
#ifndef DAM_KERNELS_CUDA_ATTENTION_PLAN_H
#define DAM_KERNELS_CUDA_ATTENTION_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/cuda/attention_masked.h"
#include "kernels/maskplan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Entry modes (besides a mask index >= 0): every causal pair of the tile kept (causality applied
 * by the kernel), nothing kept by this head, or (lists built on the GPU, attention_plan_gpu.h; a
 * contiguous tile only) each row's word made by the kernel from the plan's column and diagonal bit
 * words (attn_cuda_plan.d_parts), causality applied. ATTN_PLAN_DENSE_ITEM: set in the item field of a
 * CTA descriptor (GPU lists) whose head is dense: the kernel walks key tiles 0 .. qb with no entries. */
enum { ATTN_PLAN_MODE_FULL = -1, ATTN_PLAN_MODE_NONE = -2, ATTN_PLAN_MODE_BITS = -3 };
enum { ATTN_PLAN_DENSE_ITEM = 1 << 30 };

/* Flag for tests only (with the ATTN_CUDA_* flags of attention_masked.h): evaluate every row of
 * every visited tile (no "all kept" shortcut from the parts); the result must be identical. */
enum { ATTN_PLAN_NO_SHORTCUT = 1 << 8 };

/* One layer's plan as host arrays (all allocated with dam_malloc; free with
 * attn_cuda_plan_host_free). Statistics as in attn_cuda_plan. When `dense` is set there are no
 * lists and every array is NULL. */
typedef struct attn_plan_host {
    int n_q, n_k, n_heads, n_kv_heads;
    int hc;          /* query heads per list (1, or with ATTN_CUDA_PACK_GQA a divisor <= 4 of the GQA group) */
    int n_chunks;    /* n_heads / hc */
    int qb0, n_qt;   /* first query block ((n_k - n_q) / 64) and the number of query tiles */
    int dense;       /* every head dense (and no ATTN_CUDA_FORCE_LISTS): no lists */
    int entry_ints;  /* int32 per entry: 1 + 3 * hc */
    int threads;     /* OpenMP threads the build used */
    int64_t n_entries;     /* listed (chunk, query tile, key tile) triples */
    int64_t n_masks;       /* distinct 64 x 64 masks */
    int64_t n_gathered;    /* gathered key tiles */
    int64_t head_tiles;    /* (head, query tile, key tile) triples with mode != none, a gathered tile counting once */
    int64_t causal_tiles;  /* (head, query tile, key tile) triples of the causal region */
    double build_ms;       /* wall time of attn_cuda_plan_host_build */
    int32_t *tile_ptr;     /* [n_chunks * n_qt + 1] CSR offsets: entries of item i = chunk * n_qt + qt are
                            * tile_ptr[i] .. tile_ptr[i + 1] - 1 */
    int32_t *entries;      /* [n_entries][entry_ints]: kt (>= 0: keys 64 kt .. 64 kt + 63; < 0: gathered tile
                            * -kt - 1), then per head of the chunk: mode (ATTN_PLAN_MODE_FULL, _NONE or a
                            * mask index), bias mask (-1 or a mask index), bias (float bits, natural-log units) */
    uint64_t *words;       /* [n_masks][64]: bit t of word r = row r of the query tile keeps key slot t */
    int32_t *gather;       /* [n_gathered][64] ascending key indices, -1 = empty slot */
    int32_t *order;        /* [n_chunks * n_qt][4] one descriptor per item by descending list length (stable):
                            * item, first entry, end entry, first entry's kt (0 for an empty list) */
    size_t cap_bytes[3];   /* internal: allocated bytes of entries, gather and words (they may be larger
                            * than used: arrays are reused across builds, see attn_cuda_plan_host_free) */
} attn_plan_host;

/* Builds the host plan for n_q query rows after n_k keys (1 <= n_q <= n_k), n_heads query heads
 * over n_kv_heads KV heads (n_heads a multiple of n_kv_heads). plans: [n_heads] plans (read only,
 * not validated here: call maskplan_validate once), or NULL for all dense. flags: ATTN_CUDA_*
 * (attention_masked.h) and ATTN_PLAN_NO_SHORTCUT. threads: OpenMP threads, <= 0 for
 * omp_get_max_threads(); the arrays do not depend on it. Plans whose blocks are held as bits
 * (maskplan.blk_bits) are walked as list copies made here (maskplan_blocks_to_lists; their time is
 * in build_ms). Returns a new plan (caller frees);
 * a bad shape or too many entries (>= 2^31) is an internal error: dam_die(DAM_EXIT_RUNTIME). */
attn_plan_host *attn_cuda_plan_host_build(const maskplan *const *plans, int n_q, int n_k, int n_heads, int n_kv_heads,
                                          int flags, int threads);

/* Frees the plan and its arrays; NULL is a no-op. The largest entries, gather and words arrays (>= 1 MB)
 * seen are kept, one per kind, for the next build to reuse (fresh memory costs page faults and
 * zeroing, ~1 ms per MB here); they stay allocated (counted by dam_mem_in_use) until
 * attn_cuda_plan_host_release. Thread-safe. */
void attn_cuda_plan_host_free(attn_plan_host *h);

/* Frees the arrays attn_cuda_plan_host_free kept for reuse (tests, leak checks); builds still work
 * afterwards. Thread-safe. */
void attn_cuda_plan_host_release(void);

/* Whether the wgmma kernel can run these plans from block bits (attention_wgmma.h,
 * attn_cuda_wgmma_blocks): every head dense or 64-blocks only (no columns, diagonals, bitmap or
 * block bias), not all dense (those take the dense path), n_k within the kernel's visited-tile list
 * on either tiles (ATTN_CUDA_WGMMA_MAX_LIST_BYTES / 4 tiles of 64 keys: n_k <= 1,048,576) and the
 * bits of all heads <= 64 MiB
 * (attn_plan_block_bits_words per head · 8 bytes · n_heads; n_k up to ~490K keys for 9 heads,
 * ~260K for 32). plans: [n_heads], read only. */
bool attn_plan_blocks_only(const maskplan *const *plans, int n_heads, int n_k);

/* 64-bit words of one head's block bits for n_k keys: ceil(n_k / 64) rows of ceil(rows / 64) words. */
size_t attn_plan_block_bits_words(int n_k);

/* Bit-matrix words (all heads) from which attn_plan_block_bits uses threads by default: 65,536
 * (XAttention at 32K, 9 heads: 36,864 words, serial; at 128K: 589,824, threads). */
enum { ATTN_PLAN_PARALLEL_WORDS = 1 << 16 };

/* The plans' blocks as bits for attn_cuda_wgmma_blocks: bits[h][qb][w] bit b = key block 64 w + b
 * kept by query block qb of head h (the `blocks` part, whose blocks are causal: maskplan_block_row,
 * a row copy for plans held as bits; a dense head all ones), for the query blocks qb0 .. rows - 1 of
 * a step whose first query block is qb0
 * (earlier rows zero), rows = ceil(n_k / 64). bits: the caller's n_heads · attn_plan_block_bits_words(n_k)
 * words (attn_plan_bits_take), every one written here (no zeroing needed before). Statistics as
 * attn_cuda_plan's: kept (head, query block >= qb0, key block) triples into *head_tiles, causal ones
 * into *causal_tiles, and into *wgmma_tiles the (head, group of 2 query blocks, 128-key tile) triples
 * of the causal region of the step holding a kept block (every head, dense ones included): the
 * 128 x 128 tiles the wgmma kernel's coarse block path computes at d = 128 (128-row CTAs aligned to
 * multiples of 128 positions). OpenMP over
 * (head, query block) rows with `threads` threads (<= 0: omp_get_max_threads() for matrices of at
 * least ATTN_PLAN_PARALLEL_WORDS words, one thread below); the result does not depend on it. */
void attn_plan_block_bits(const maskplan *const *plans, int n_heads, int n_k, int qb0, uint64_t *bits, int threads,
                          int64_t *head_tiles, int64_t *causal_tiles, int64_t *wgmma_tiles);

/* A host array of at least `words` uint64 for attn_plan_block_bits (the one a previous build gave
 * back if large enough: no page faults; else a new one); *cap = its bytes. Owned by the caller until
 * attn_plan_bits_give; kept ones are freed by attn_cuda_plan_host_release. Thread-safe. */
uint64_t *attn_plan_bits_take(size_t words, size_t *cap);
void attn_plan_bits_give(uint64_t *bits, size_t cap);

/* The share of the coarse wgmma tiles' work that the kept blocks fill, over every head (a dense head
 * runs on the same tiles as the others, and fills them but for the diagonal's): head_tiles /
 * (4 · wgmma_tiles) (a 128 x 128 tile holds four 64-blocks). At d = 128 a block plan runs on the wgmma kernel's 128 x 128 tiles from this
 * efficiency up, below it on 64 x 64 tiles (the kept blocks exactly): dense, the 64 x 64 tiles run at
 * 0.87-0.88 of the 128 x 128 tiles' speed (397 vs 450-457 TFLOP/s, 16K-64K, run 59), so the coarse
 * tiles win iff efficiency > ~0.88. At d = 64 the 64 x 64 tiles are the faster ones even dense (401 vs
 * 326 TFLOP/s at 16K, run 59): block plans always take them (attn_cuda_block_fine). */
#define ATTN_PLAN_BLOCK_BITS_MIN_EFFICIENCY 0.88

#ifdef __cplusplus
}
#endif

#endif
