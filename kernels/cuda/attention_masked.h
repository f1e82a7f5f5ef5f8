/* attention_masked.h — MaskPlan-sparse causal prefill attention on an NVIDIA GPU (sm_90a build,
 * mma.sync bf16 tensor-core path), and the dense causal path through the same kernel.
 *
 * What: O = softmax(Q K^T · scale + log M_h + B_h) V per query head h, the function of the CPU
 * kernel attn_masked (kernels/cpu/attention_masked.h): M_h the mask of plans[h] intersected with
 * causality aligned to the last key (query row t sits at position n_k - n_q + t), masked pairs with
 * probability exactly 0 (true -inf, out of the row maximum and sum), B_h the plan's block bias on
 * kept pairs (soft masks). GQA: query head h reads KV head h / (n_heads / n_kv_heads).
 * Precision: bf16 Q, K, V and output; scores, softmax and the P·V accumulators in fp32; the
 * probabilities are rounded to bf16 for the P·V product (as FlashAttention does).
 * How: see docs/cuda.md. A plan is first converted (attn_cuda_plan_build: on the GPU for plans of
 * columns, diagonals and unbiased blocks, attention_plan_gpu.h; else on the host,
 * attn_cuda_plan_host_build in attention_plan.h) into, per (query head, 64-row query tile aligned to
 * the plan's 64-token blocks), a list of the key tiles the head keeps: contiguous 64-key tiles, and
 * gathered tiles (64 key indices) that pack the few keys of sparsely used tiles (columns, sinks);
 * each with a mode (all causal pairs kept / nothing kept / an explicit 64 x 64-bit mask / for GPU-built
 * lists, row words the kernel makes from the plan's column and diagonal bit words). The kernel visits
 * only listed tiles, so empty tiles cost nothing.
 * Every CUDA call is checked: an error prints "dam: CUDA error in <call> ..." and exits with 3.
 * Test: tests/cuda/test_attention_masked_cuda.cu (float64 reference; needs a GPU).
 * Bench: tests/cuda/bench_attention_masked_cuda.cu. Build: make CUDA=1 (or make cuda-build). */
#ifndef DAM_KERNELS_CUDA_ATTENTION_MASKED_H
#define DAM_KERNELS_CUDA_ATTENTION_MASKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "kernels/maskplan.h"

/* bf16 values as their 16 bits (the upper half of the fp32 pattern). */
typedef uint16_t dam_bf16;

/* Tile sizes (rows of a query tile, keys of a key tile); both equal MASKPLAN_BLOCK. */
enum { ATTN_CUDA_TILE = 64 };

/* The device form of one layer's per-head plans for one (n_q, n_k) step. Opaque fields are for
 * the kernel; the statistics are for benchmarks and reports. */
typedef struct attn_cuda_plan {
    int n_q, n_k, n_heads, n_kv_heads;
    int hc;          /* query heads per list: 1, or with ATTN_CUDA_PACK_GQA a divisor of the GQA group <= 4 */
    int n_chunks;    /* n_heads / hc */
    int qb0, n_qt;   /* first query block (q_base / 64) and the number of query tiles */
    int dense;       /* every head dense: no lists, the kernel walks all causal tiles */
    int wgmma;       /* dense plans: 1 = run on the wgmma kernel (attention_wgmma.h) where the device
                      * has it (compute capability 9.0); 0 = the mma.sync kernel's dense path */
    int sink_window; /* 1: every head keeps sinks 0 .. sink-1 and the window of `window` keys (columns
                      * 0 .. sink-1, diagonals 0 .. window-1, nothing else), run by the wgmma kernel with
                      * no lists (built so only on a compute-capability-9.0 device, without flags) */
    int sink, window;
    int entry_ints;  /* int32 per entry: 1 + 3 * hc */
    int64_t n_entries;     /* listed (chunk, query tile, key tile) triples */
    int64_t n_masks;       /* 64 x 64 masks stored (host build: distinct ones; GPU build: its 64 fixed
                            * gathered-tile masks, then one per bitmap tile) */
    int64_t n_gathered;    /* gathered key tiles (64 key indices each) */
    int64_t head_tiles;    /* (head, query tile, key tile) triples the kernel computes (mode != none),
                            * a gathered tile counting as one */
    int64_t causal_tiles;  /* (head, query tile, key tile) triples of the causal region */
    size_t device_bytes;   /* bytes of device memory the plan holds */
    double build_ms;       /* host time to build and upload, ms */
    double host_ms;        /* of which the host build (attn_cuda_plan_host_build; GPU build: the parts'
                            * staging and upload), ms */
    int threads;           /* OpenMP threads of that host part */
    int32_t *d_tile_ptr;   /* [n_chunks * n_qt + 1] */
    int32_t *d_entries;    /* [n_entries][entry_ints] */
    uint64_t *d_words;     /* [n_masks][64] */
    int32_t *d_gather;     /* [n_gathered][64] key indices, -1 = empty slot */
    int32_t *d_order;      /* [n_chunks * n_qt][4] CTA descriptors, longest list first (GPU build: the dense
                            * heads' items last when the wgmma kernel runs them): work item
                            * (chunk * n_qt + query tile), first entry, end entry, first key tile */
    int gpu_lists;         /* 1: lists built on the device from the parts (attention_plan_gpu.h) */
    int nkw;               /* gpu_lists: words per part and head, ceil(n_k / 64) */
    uint64_t *d_parts;     /* gpu_lists: the parts the build read (attn_plan_parts, attention_plan_gpu.h);
                            * the kernel reads the column and diagonal bit words */
    int n_wgmma_heads;     /* gpu_lists on a compute-capability-9.0 device: the dense heads, run by the wgmma
                            * kernel (attention_wgmma.h); their items are the last of d_order */
    int32_t *d_wgmma_heads;/* [n_wgmma_heads] those heads, ascending */
    void *d_lists;         /* gpu_lists: the one allocation d_entries, d_gather, d_words, d_tile_ptr, d_order
                            * and d_wgmma_heads are parts of (freed whole); NULL otherwise */
    int block_bits;        /* 1: every head dense or 64-blocks only (no columns, diagonals, bitmap or bias),
                            * run by the wgmma kernel from d_bits with no lists (attn_cuda_wgmma_blocks;
                            * built so only on a compute-capability-9.0 device, without flags but
                            * ATTN_CUDA_BLOCK_BITS / ATTN_CUDA_BLOCK_FINE, while the bits stay <= 64 MiB
                            * and, without those flags, for n_q >= 128) */
    int block_tiles;       /* block_bits: the wgmma tiles asked for (ATTN_CUDA_TILES_*; AUTO: by head_dim
                            * at launch, attn_cuda_block_fine) */
    double block_efficiency; /* block_bits: the share of the 128 x 128 tiles that hold a kept block that
                            * the kept blocks fill, every head counted (dense ones too: they run on the
                            * same tiles), in (0, 1]; 1 when nothing is kept in the step (attention_plan.h,
                            * ATTN_PLAN_BLOCK_BITS_MIN_EFFICIENCY). Built with both ATTN_CUDA_BLOCK_FINE
                            * and ATTN_CUDA_BLOCK_BITS: 64 x 64 tiles */
    int bits_rows, bits_words; /* block_bits: ceil(n_k / 64) rows of ceil(rows / 64) words per head */
    uint64_t *d_bits;      /* block_bits: [n_heads][bits_rows][bits_words], dense heads all ones */
    int list_mma;          /* 1: the list kernel multiplies with mma.sync even on a compute-capability-9.0
                            * device (built with ATTN_CUDA_NO_WGMMA or ATTN_CUDA_PACK_GQA); 0: with wgmma
                            * there at d = 64 (one head per CTA), mma.sync elsewhere */
    int list_ctas;         /* CTAs of the list kernel: d_order's first list_ctas items (the rest: dense heads
                            * on the wgmma kernel) */
} attn_cuda_plan;

/* Builds the device plan for n_q query rows after n_k keys (n_q <= n_k), n_heads query heads over
 * n_kv_heads KV heads. plans: [n_heads] plans (read only, not validated here: call
 * maskplan_validate once), or NULL for all dense. Plans of columns, diagonals, unbiased blocks and
 * bitmaps (some head not dense, no bias, bitmaps of at most ATTN_PLAN_MAX_BITMAP_TILES tiles) for
 * n_q >= 128 get their lists built on the device (attention_plan_gpu.h) unless the environment sets
 * DAM_CUDA_HOST_LISTS=1 or, on a compute-capability-9.0 device, they are block plans dense enough for
 * the wgmma kernel's bit matrix (block_bits, below); other plans get the host arrays of attn_cuda_plan_host_build (kernels/cuda/attention_plan.h; OpenMP,
 * omp_get_max_threads() threads), then uploaded. Exits with 3 on a CUDA error. */
attn_cuda_plan *attn_cuda_plan_build(const maskplan *const *plans, int n_q, int n_k, int n_heads, int n_kv_heads);

/* attn_cuda_plan_build for `count` plan sets of one shape (e.g. every layer of a static method in a
 * prefill step): out[i] = the plan of plans[i] ([n_heads] plans), NULL where plans[i] is NULL. The
 * sets that take the GPU list build are built together (attn_cuda_plan_gpu_build_many: two device
 * synchronisations in all, not two per set; each plan's build_ms is the batch's time / their count);
 * the others one by one as attn_cuda_plan_build builds them. Each out[i] is what attn_cuda_plan_build
 * would return (the same device arrays; tests/cuda/test_attention_masked_cuda.cu compares them), freed
 * with attn_cuda_plan_free. Errors as attn_cuda_plan_build. */
void attn_cuda_plan_build_layers(const maskplan *const *const *plans, int count, int n_q, int n_k, int n_heads,
                                 int n_kv_heads, attn_cuda_plan **out);

/* The same with flags (tests and benchmarks): ATTN_CUDA_FORCE_LISTS gives dense plans explicit tile
 * lists too (every causal tile, mode "all kept"), so the list path can be checked and timed against
 * the dense path; ATTN_CUDA_NO_GATHER keeps every visited tile contiguous (no gathered tiles);
 * ATTN_CUDA_PACK_GQA packs up to 4 query heads of one GQA group per list (the union of their tiles)
 * and up to 3 (d = 64) or 2 (d = 128) per CTA, sharing each K/V tile in shared memory. The default
 * (per-head lists, one head per CTA) measured faster on the H200 (docs/performance.md).
 * ATTN_CUDA_NO_WGMMA runs dense plans on the mma.sync kernel's dense path instead of the wgmma
 * kernel (attention_wgmma.h), for tests (bit-identical to the list path) and benchmarks. Without
 * flags, on a compute-capability-9.0 device, plans that are sinks + a sliding window for every head
 * (same sizes) build no lists: the wgmma kernel computes that mask itself (sink_window = 1); any
 * flag keeps them on the lists. */
/* ATTN_CUDA_HOST_LISTS builds the lists on the host even where the device build applies (tests and
 * A/B benchmarks); every other flag but ATTN_CUDA_GPU_LISTS implies it too (ATTN_CUDA_NO_WGMMA unless
 * given with ATTN_CUDA_GPU_LISTS: then the device build keeps dense heads on the list kernel).
 * ATTN_CUDA_GPU_LISTS builds eligible plans on the device also for n_q < 128 (tests: below that the
 * host build is cheaper than the device build's launches and synchronisation, e.g. one decode row). */
/* Block plans (every head dense or 64-blocks only, attn_plan_blocks_only): without flags, on a
 * compute-capability-9.0 device, for steps of >= 128 queries, they run on the wgmma kernel from a bit
 * matrix (block_bits = 1, no lists), on the tiles attn_cuda_block_fine picks; ATTN_CUDA_BLOCK_BITS
 * (tests) takes the bit matrix on the coarse tiles (192 x 128 at d = 64, 128 x 128 at d = 128) and
 * ATTN_CUDA_BLOCK_FINE on the 64 x 64 tiles, whatever the step and the efficiency; any other flag
 * keeps them on lists. */
enum { ATTN_CUDA_FORCE_LISTS = 1, ATTN_CUDA_NO_GATHER = 2, ATTN_CUDA_PACK_GQA = 4, ATTN_CUDA_NO_WGMMA = 8,
       ATTN_CUDA_HOST_LISTS = 16, ATTN_CUDA_GPU_LISTS = 32, ATTN_CUDA_BLOCK_BITS = 64, ATTN_CUDA_BLOCK_FINE = 128 };
attn_cuda_plan *attn_cuda_plan_build_ex(const maskplan *const *plans, int n_q, int n_k, int n_heads, int n_kv_heads,
                                        int flags);

/* Tiles of a block_bits plan's wgmma launch (attn_cuda_plan.block_tiles). */
enum { ATTN_CUDA_TILES_AUTO = 0, ATTN_CUDA_TILES_FINE = 1, ATTN_CUDA_TILES_COARSE = 2 };

/* 1 when attn_cuda_masked runs block_bits plan p at head_dim d on the wgmma kernel's 64 x 64 tiles
 * (64-row CTAs over 64-key tiles: the kept blocks exactly), 0 on its coarse tiles or when p is not a
 * block_bits plan. AUTO: 64 x 64 at d = 64 (faster even dense, run 59); at d = 128 below
 * ATTN_PLAN_BLOCK_BITS_MIN_EFFICIENCY (attention_plan.h), else 128 x 128. */
int attn_cuda_block_fine(const attn_cuda_plan *p, int d);

/* 1 when attn_cuda_masked runs plan p at head_dim d on the list kernel with its products on wgmma
 * (d = 64, one head per CTA, a compute-capability-9.0 device, the plan built without
 * ATTN_CUDA_NO_WGMMA / ATTN_CUDA_PACK_GQA, DAM_CUDA_LIST_MMA not 1 in the environment), 0 when on
 * mma.sync or when p does not take the list kernel (block bits, sinks + window, dense on wgmma). */
int attn_cuda_list_wgmma(const attn_cuda_plan *p, int d);

/* Frees the device and host memory of a plan; NULL is a no-op. */
void attn_cuda_plan_free(attn_cuda_plan *p);

/* Runs the attention on the current device, asynchronously on `stream` (a cudaStream_t; NULL is
 * the default stream). All pointers are device pointers.
 * out:  [n_q][out_stride] bf16, head h at columns h*d .. h*d+d-1 (every row written).
 * q:    [n_q][q_stride] bf16, head h at h*d (unscaled; `scale` is applied here).
 * k, v: [n_kv_heads][kv_cap][d] bf16, keys 0 .. n_k-1 valid; never read beyond n_k.
 * d: 64 or 128. q_stride, out_stride and kv_cap must be multiples of 8 (16-byte rows), pointers
 * 16-byte aligned. The plan must have been built for the same n_q, n_k, n_heads, n_kv_heads.
 * d_empty: NULL, or a device int to which the number of (query row, head) pairs that kept no key
 * is added (such rows are written as zeros; a valid plan has none). */
void attn_cuda_masked(dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q, const dam_bf16 *k,
                      const dam_bf16 *v, int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale,
                      const attn_cuda_plan *plan, int *d_empty, void *stream);

#ifdef __cplusplus
}
#endif

#endif
