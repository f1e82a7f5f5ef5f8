/* attention_plan_gpu.h — attn_cuda_plan_build's device path: the tile lists of the masked CUDA
 * kernel (attention_masked.h) built on the GPU from the plans' parts, for plans made of columns,
 * diagonals, unbiased blocks and bitmaps (vertical-slash: MInference, dam_online; block-sparse:
 * XAttention, FlexPrefill; DAM's static masks), so a method's mask costs almost no host conversion
 * (docs/cuda.md, "Plan conversion on the GPU").
 *
 * What the host does: per head, the columns as bit words (bit j % 64 of word j / 64 = key column j)
 * and the diagonals the same way by offset (bit o % 64 of word o / 64 = diagonal p - j = o),
 * ceil(n_k / 64) words each, and the listed key blocks of each (head, query tile) as a bit row of
 * ceil(n_k / 4096) words (heads with a block part only), and the causal 64 x 64 tiles of the query
 * blocks a bitmap covers as explicit masks with a code (all kept / empty / mask); one staging buffer
 * kept across builds, one upload.
 * What the device does, one warp per (head, 64-row query tile): in a bitmap's query blocks, lists
 * the tiles whose code is not "empty" (mode "all kept" or the mask, index 64 + tile); elsewhere walks
 * key tiles 0 .. qb and lists
 *   - "all kept" (causality applied by the kernel): a listed block, a tile every column of which is
 *     kept, or a tile every diagonal offset reaching it (64 (qb - kt) - 63 .. + 63) is kept;
 *   - "bits" (ATTN_PLAN_MODE_BITS): a tile some diagonal reaches, or the diagonal tile with columns:
 *     the kernel makes each row's word from one column word and two diagonal words (no mask array);
 *   - gathered: the keys of the tiles below the diagonal tile reached by columns only, in ascending
 *     order, packed into 64-key gathered tiles, each with the mask "slots 0 .. v-1" (one of 64 fixed
 *     masks); their keys are all below the query tile, so causality never cuts them.
 * Dense heads get no entries: on a compute-capability-9.0 device the wgmma kernel runs them
 * (attn_cuda_wgmma_heads; their items sort last and stay out of the list kernel's grid), elsewhere
 * their descriptor says "dense" and the list kernel walks tiles 0 .. qb.
 * Counts, then an exclusive scan (CUB), then the entries and gathered keys in place, then the CTA
 * order (a stable radix sort by list length, longest first). The lists differ from the host build's
 * (no deduplicated explicit masks, a different gathering rule), not the kept pairs: the kernel's
 * output is the same function (tests/cuda/test_attention_masked_cuda.cu checks both against the
 * float64 reference). */
#ifndef DAM_KERNELS_CUDA_ATTENTION_PLAN_GPU_H
#define DAM_KERNELS_CUDA_ATTENTION_PLAN_GPU_H

#include <stdbool.h>

#include "kernels/cuda/attention_masked.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The layout of attn_plan_parts_build's buffer, with nkw = ceil(n_k / 64) and rw = ceil(nkw / 64):
 *   uint64 [n_heads][2][nkw]  column bits (bit j % 64 of word j / 64 = key column j), then diagonal-offset
 *                             bits (bit o % 64 of word o / 64 = diagonal o), parts at or past n_k dropped;
 *   uint64 block rows         head h's [n_qt][rw] rows at word boff[h] of this part (bit kb % 64 of word
 *                             kb / 64 = key block kb listed for query block qb0 + qt);
 *   int64  [n_heads] boff     (-1: no block rows: a dense head, or no block part for these query blocks);
 *   int64  [n_heads] toff     first bitmap tile of head h (-1: none in these query blocks), see below;
 *   int32  [n_heads]          1 = dense head (its other parts are zero);
 *   int32  [n_heads] lt       query blocks qb < lt[h] are head h's bitmap tiles (ceil(bitmap_L / 64) for a
 *                             non-dense head with a bitmap, else 0);
 *   int32  [n_tiles] codes    per bitmap tile (padded to an even count): ATTN_PLAN_MODE_FULL (every causal
 *                             pair kept), ATTN_PLAN_MODE_NONE (none), or the tile's own index i (its mask);
 *   uint64 [n_tiles][64]      masks: word r of tile i = the kept keys of its row r (bit s = key 64 kt + s,
 *                             maskplan_row_word, causality applied; 0 for rows >= n_k), written for every
 *                             tile.
 * Bitmap tiles: the key tiles kt = 0 .. qb of query blocks qb0 <= qb < min(lt[h], qb0 + n_qt), tile
 * (h, qb, kt) at index toff[h] + qb (qb + 1) / 2 - qb0 (qb0 + 1) / 2 + kt. Inside the bitmap region
 * the bitmap alone decides (maskplan.h), so these rows are explicit masks; a partial last tile's rows
 * past bitmap_L take the other parts in the same word. */
typedef struct {
    int nkw, rw;
    int threads;         /* OpenMP threads of the build */
    size_t parts_words;  /* uint64 words before boff: 2 n_heads nkw + the block rows */
    int64_t n_tiles;     /* bitmap tiles (codes and masks) */
    size_t codes_off;    /* byte offset of the codes */
    size_t masks_off;    /* byte offset of the masks (8-byte aligned) */
    size_t bytes;        /* the whole buffer */
} attn_plan_parts;

/* Most bitmap tiles one GPU build takes (their masks: 512 bytes each, 512 MB in all); plans with more
 * (bitmaps of side > ~16K over many heads) keep the host build. */
enum { ATTN_PLAN_MAX_BITMAP_TILES = 1 << 20 };

/* Writes the parts of [n_heads] plans (read only; eligible, validated) for query blocks qb0 .. qb0 +
 * n_qt - 1 over n_k keys into a host buffer with the layout above (*layout gets its sizes) and
 * returns it: owned here, reused (and overwritten) by the next call, freed by attn_plan_parts_release;
 * not thread-safe (one host thread drives the device). OpenMP over heads. Costs O(n_heads n_k / 64 +
 * n_heads n_qt rw + 64 n_tiles + plan sizes). Bad sizes are an internal error (dam_die). Plain C (tested without a
 * GPU: tests/cuda/test_plan_host.c). */
const unsigned char *attn_plan_parts_build(const maskplan *const *plans, int n_heads, int n_k, int qb0, int n_qt,
                                           attn_plan_parts *layout);

/* attn_plan_parts_build for `count` sets of plans of one shape at once (attn_cuda_plan_gpu_build_many):
 * set i (plans[i], [n_heads]) into its own host buffer, returned in out[i] with its layout in
 * layouts[i]; the same bytes attn_plan_parts_build writes for that set (tests/cuda/test_plan_host.c).
 * OpenMP over the sets when count > 1 (each set's heads then on one thread; count 1: over its heads).
 * The buffers are owned here, kept and reused by the next call (out[i] valid until then), freed by
 * attn_plan_parts_release; not thread-safe. count < 1: nothing. */
void attn_plan_parts_build_many(const maskplan *const *const *plans, int count, int n_heads, int n_k, int qb0, int n_qt,
                                attn_plan_parts *layouts, const unsigned char **out);

/* Frees attn_plan_parts_build's and attn_plan_parts_build_many's buffers (leak checks); later calls
 * still work. */
void attn_plan_parts_release(void);

/* Whether attn_cuda_plan_gpu_build can build these [n_heads] plans: some head is not dense, no head
 * has a block bias, and the bitmaps have at most ATTN_PLAN_MAX_BITMAP_TILES causal 64 x 64 tiles in all. */
bool attn_cuda_plan_gpu_eligible(const maskplan *const *plans, int n_heads);

/* Frees the device scratch attn_cuda_plan_gpu_build keeps across builds (counts, scans, CUB's
 * temporary storage: it grows to the largest build's needs and stays allocated, counted by
 * dam_cuda_mem_in_use, until this call); later builds still work. Call before leak checks and when a
 * run ends (attn_ctx_cuda_release). */
void attn_cuda_plan_gpu_release(void);

/* Builds the lists of p (whose n_q, n_k, n_heads and n_kv_heads are set, shape checked) on the device
 * from plans (eligible, validated). Fills every other field but build_ms: hc = 1, gpu_lists = 1,
 * d_parts (the staging but the bitmap tiles' masks, kept: the kernel reads the bit words; the masks
 * go to a temporary device buffer and from there into d_words), d_lists
 * with d_tile_ptr, d_entries, d_words (the 64 gathered-tile masks, then one per bitmap tile; n_masks),
 * d_gather, d_order in it, and with wgmma_dense on a compute-capability-9.0 device the dense heads
 * for the wgmma kernel (n_wgmma_heads, d_wgmma_heads; list_ctas = the other items),
 * and the statistics (host_ms = the host staging and the upload; threads = its OpenMP threads).
 * Returns after the device work (default stream) is done: the two totals are read back (one copy)
 * to size the arrays, which take one allocation (d_lists), and the stream is synchronised at the
 * end. Scratch comes from a buffer kept across builds (attn_cuda_plan_gpu_release). Exits with 3 on
 * a CUDA error, on out of device memory, or if the entries reach 2^31 or the gathered tiles 2^25
 * (their key slots 2^31). */
void attn_cuda_plan_gpu_build(attn_cuda_plan *p, const maskplan *const *plans, bool wgmma_dense);

/* attn_cuda_plan_gpu_build for count plans at once (e.g. every layer of a static method in one prefill
 * step): ps[i] (shape set and checked) from plans[i] ([n_heads of ps[i]], eligible, validated). Each
 * plan gets exactly what attn_cuda_plan_gpu_build gives it (the same device arrays, bit for bit; its
 * host_ms is its share of the staging plus its upload). The plans must have one shape (n_q, n_k,
 * n_heads; exits with 3 otherwise). Order: every plan's staging (attn_plan_parts_build_many: OpenMP
 * over the plans), every plan's upload (synchronous copies, with no device work queued, so none
 * waits), then every plan's count
 * pass, scans and sort queued back to back, one read-back of all the totals, every plan's arrays and
 * write pass, one synchronisation at the end (attn_cuda_plan_gpu_build per plan: a read-back and a
 * synchronisation each, and its upload waits for the device work queued before it).
 * The scratch of all plans is one buffer (kept across builds, attn_cuda_plan_gpu_release). count < 1:
 * nothing. Errors as attn_cuda_plan_gpu_build. */
void attn_cuda_plan_gpu_build_many(attn_cuda_plan *const *ps, const maskplan *const *const *plans, int count,
                                   bool wgmma_dense);

/* Host wall-clock times (ms) of the phases of the last attn_cuda_plan_gpu_build_many call, for
 * benchmarks (bench_plan_build): setup = the scratch sizes and plan fields; stage = the host staging
 * (attn_plan_parts_build_many); upload = every plan's allocation and copies; queue1 = queueing every
 * count pass, scan and sort; totals = the totals' read-back, which waits for that queued work; queue2 =
 * every plan's allocation and write pass queued; sync = the final synchronisation (waits for it);
 * release = the temporary buffers' frees. count = the plans built. Overwritten by each call. */
typedef struct {
    double setup_ms, stage_ms, upload_ms, queue1_ms, totals_ms, queue2_ms, sync_ms, release_ms;
    int count;
} attn_cuda_plan_gpu_phases;
const attn_cuda_plan_gpu_phases *attn_cuda_plan_gpu_last_phases(void);

#ifdef __cplusplus
}
#endif

#endif
