/* test_plan_host.c — the host half of the masked CUDA kernel's plan conversion
 * (attn_cuda_plan_host_build, kernels/cuda/attention_plan.h), on the CPU: needs no GPU and makes
 * no CUDA call, so tests/cuda/run.sh runs it before looking for a GPU (`make test` does not: it is
 * built only by `make cuda-dam`).
 *
 * For plans of every kind (dense, columns, diagonals, sinks + window, the DAM-like benchmark
 * layout, blocks, bitmap heads, soft-mask biases, all parts at once, different kinds in one GQA
 * group, runs of diagonals / columns at the edges of the "all kept" shortcut, MInference-like
 * vertical-slash heads, XAttention-like and FlexPrefill-like block plans, dam_online-like plans of
 * columns, diagonals and blocks), shapes (n not a multiple of 64, chunked prefill n_q < n_k, decode) and flags (gathering on
 * and off, packed GQA, forced lists for dense plans):
 *   1. identity: the serial reference (1 thread, every row evaluated: the pre-OpenMP algorithm)
 *      and the parallel builds (3 and 4 threads, "all kept" shortcut on) give the same decoded
 *      per-(head, query tile) lists: same key tiles / gathered key sets in the same order, same
 *      modes, explicit masks compared by their 64 words; and, since masks are deduplicated
 *      globally in first-use order, byte-identical arrays;
 *   2. coverage: decoding the 4-thread lists the way the kernel reads them, every (row, key) pair
 *      the plan keeps appears exactly once, with its bias, and no other pair appears; the plan is
 *      evaluated by the rule of kernels/maskplan.h written out here from the raw parts (not
 *      through maskplan.c);
 *   3. the CTA order is a permutation of the work items by non-increasing list length;
 *   4. reuse: a build into the arrays a freed plan left (attn_cuda_plan_host_free keeps them) gives
 *      the same arrays, and attn_cuda_plan_host_release frees them;
 *   5. block bits (attn_plan_block_bits, the wgmma kernel's block plans): every bit against the
 *      listed blocks, 1 and 3 threads alike, the counts (kept, causal, the wgmma kernel's tiles), and
 *      attn_plan_blocks_only's answers.
 * `test_plan_host bench [threads [max_n [layout]]]` instead prints host build times for the
 * DAM-like and sink 128 + window 4096 plans at n = 64K, 256K, 1M (H = 9) and 64K (H = 32), the
 * MInference-like plan at n = 32K, 128K (H = 9 and 32), and the XAttention-like and
 * FlexPrefill-like block plans and the dam_online-like plan (columns, diagonals and blocks) at
 * n = 32K, 128K (H = 9), n <= max_n (layout 0 .. 5: that one only): the serial reference, 1 thread and `threads` threads (default all), and the bench's own
 * wall time (docs/performance.md).
 * `test_plan_host bench-parts [patterns.h5 [threads]]` prints the GPU build's host half
 * (attn_plan_parts_build) for DAM's plans from a pattern file (default patterns/smollm2-135m.h5),
 * summed over its layers, at n = 2K, 8K, 32K, 128K, whole-prompt steps: best of 20, on 1 thread and
 * `threads` (default all). */
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "core/timer.h"
#include "dam/patterns.h"
#include "dam/plan.h"
#include "kernels/cuda/attention_plan.h"
#include "kernels/cuda/attention_plan_gpu.h"
#include "kernels/maskplan.h"
#include "tests/cuda/bench_layouts.h" /* bench_dam_like, bench_sink_window: the benchmark's layouts */
#include "tests/test.h"

enum { T = ATTN_CUDA_TILE };

/* ---- the rule of maskplan.h, from the raw parts ---- */

static bool in_sorted(const int32_t *a, int n, int64_t x) {
    int lo = 0, hi = n;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (a[mid] == x) return true;
        if (a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

/* Whether (pos, j) is kept; *bias = its logit bias when kept. */
static bool ref_kept(const maskplan *p, int64_t pos, int64_t j, float *bias) {
    *bias = 0.f;
    if (j < 0 || j > pos) return false;
    if (!p || p->dense) return true;
    if (pos < p->bitmap_L && j < p->bitmap_L)
        return (p->bitmap[pos * maskplan_bitmap_words(p->bitmap_L) + j / 64] >> (j % 64)) & 1;
    const bool cd = in_sorted(p->cols, p->n_cols, j) || in_sorted(p->diags, p->n_diags, pos - j);
    int blk = -1;
    const int64_t qb = pos / 64;
    if (qb < p->n_qblocks)
        for (int i = p->blk_ptr[qb]; i < p->blk_ptr[qb + 1]; i++)
            if (p->blk_idx[i] == j / 64) blk = i;
    if (!cd && blk >= 0 && p->blk_bias) *bias = p->blk_bias[blk];
    return cd || blk >= 0;
}

/* ---- plans ---- */

static maskplan *cols_plan(rng_t *r, int n, int k) {  /* k random columns + the diagonal */
    int32_t *c = malloc(sizeof(int32_t) * (size_t)k), d0 = 0;
    for (int i = 0; i < k; i++) c[i] = (int32_t)rng_range(r, 0, n - 1);
    maskplan *p = maskplan_new();
    maskplan_set_cols(p, c, k);
    maskplan_set_diags(p, &d0, 1);
    free(c);
    return p;
}

static maskplan *diags_plan(rng_t *r, int n, int k) {  /* 0 and k random offsets */
    int32_t *d = malloc(sizeof(int32_t) * (size_t)(k + 1));
    d[0] = 0;
    for (int i = 1; i <= k; i++) d[i] = (int32_t)rng_range(r, 0, n - 1);
    maskplan *p = maskplan_new();
    maskplan_set_diags(p, d, k + 1);
    free(d);
    return p;
}

/* Every query block lists its diagonal block and each earlier block with probability `prob`;
 * with `bias`, a random bias in [-5, 0] per listed pair (a quarter exactly 0). */
static void set_blocks(maskplan *p, rng_t *r, int n, double prob, bool bias) {
    const int nqb = (n + 63) / 64;
    int32_t *ptr = malloc(sizeof(int32_t) * (size_t)(nqb + 1)), *idx = malloc(sizeof(int32_t) * (size_t)nqb * (nqb + 1) / 2 + 1);
    int m = 0;
    ptr[0] = 0;
    for (int qb = 0; qb < nqb; qb++) {
        for (int kb = 0; kb < qb; kb++)
            if ((rng_next(r) >> 11) * (1.0 / 9007199254740992.0) < prob) idx[m++] = kb;
        idx[m++] = qb;
        ptr[qb + 1] = m;
    }
    maskplan_set_blocks(p, nqb, ptr, idx);
    if (bias) {
        const int nb = p->blk_ptr[p->n_qblocks];
        float *b = malloc(sizeof(float) * (size_t)nb);
        for (int i = 0; i < nb; i++) b[i] = rng_range(r, 0, 3) == 0 ? 0.f : -5.f * (float)rng_range(r, 1, 1000) / 1000.f;
        maskplan_set_block_bias(p, b);
        free(b);
    }
    free(ptr);
    free(idx);
}

/* A random lower-triangular bitmap over the first L tokens (density ~ 1/4, the diagonal kept). */
static void set_bitmap(maskplan *p, rng_t *r, int L) {
    const int W = maskplan_bitmap_words(L);
    uint64_t *bits = calloc((size_t)L * W, sizeof(uint64_t));
    for (int pos = 0; pos < L; pos++) {
        for (int w = 0; w < W; w++) bits[(size_t)pos * W + w] = rng_next(r) & rng_next(r);
        bits[(size_t)pos * W + pos / 64] |= 1ull << (pos % 64);
    }
    maskplan_set_bitmap(p, L, bits);
    free(bits);
}

/* A bitmap of side L whose 64 x 64 tiles take every form the GPU build tells apart: query block 0
 * keeps every causal pair (all-kept tiles), block 1 only its diagonal tile (an empty tile, then an
 * all-kept one), later blocks random bits (~1/4) on even key tiles, nothing on odd ones below the
 * diagonal, and the diagonal bit of every row. */
static void set_bitmap_tiles(maskplan *p, rng_t *r, int L) {
    const int W = maskplan_bitmap_words(L);
    uint64_t *bits = calloc((size_t)L * W, sizeof(uint64_t));
    for (int pos = 0; pos < L; pos++) {
        for (int j = 0; j <= pos; j++) {
            const int qb = pos / 64, kt = j / 64;
            const bool keep = qb == 0 || (qb == 1 && kt == 1) || (qb >= 2 && kt % 2 == 0 && (rng_next(r) & 3) == 0);
            if (keep || j == pos) bits[(size_t)pos * W + j / 64] |= 1ull << (j % 64);
        }
    }
    maskplan_set_bitmap(p, L, bits);
    free(bits);
}

/* Runs of diagonals or columns that cover some tiles exactly, nearly or with a hole (the edges of
 * the "all kept" shortcut): per head, diagonals 1 .. 150 (0 missing); 0 .. 99 and 101 .. 300;
 * columns 64 .. 191 and 200 .. 250 with diagonal 0; diagonals 0 .. 63 and 65 .. 191. */
static maskplan *runs_plan(int h) {
    int32_t a[400];
    int k = 0;
    maskplan *p = maskplan_new();
    switch (h % 4) {
    case 0: for (int i = 1; i <= 150; i++) a[k++] = i; maskplan_set_diags(p, a, k); break;
    case 1: for (int i = 0; i <= 300; i++) if (i != 100) a[k++] = i; maskplan_set_diags(p, a, k); break;
    case 2:
        for (int i = 64; i <= 250; i++) if (i < 192 || i >= 200) a[k++] = i;
        maskplan_set_cols(p, a, k);
        a[0] = 0;
        maskplan_set_diags(p, a, 1);
        break;
    default: for (int i = 0; i <= 191; i++) if (i != 64) a[k++] = i; maskplan_set_diags(p, a, k); break;
    }
    return p;
}

/* A MInference-like vertical-slash plan for head h over n tokens: 64 columns (the sinks 0 .. 29, then
 * 34 in 30 .. n-1) and 256 diagonals (the window 0 .. 99, then 156 offsets in 100 .. n-1), the
 * scattered ones from an xorshift64 stream seeded per head (duplicates possible: maskplan_set_*
 * removes them); columns and diagonals vary by head. */
static maskplan *minference_like(int h, int n) {
    int32_t cols[64], diags[256];
    uint64_t s = 0xD1B54A32D192ED03ull ^ (uint64_t)(h + 1) * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 64; i++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        cols[i] = i < 30 ? i : n > 30 ? 30 + (int32_t)((s * 2685821657736338717ull >> 33) % (uint64_t)(n - 30)) : 0;
    }
    for (int i = 0; i < 256; i++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        diags[i] = i < 100 ? i : n > 100 ? 100 + (int32_t)((s * 2685821657736338717ull >> 33) % (uint64_t)(n - 100)) : 0;
    }
    maskplan *p = maskplan_new();
    maskplan_set_cols(p, cols, 64);
    maskplan_set_diags(p, diags, 256);
    return p;
}

/* Next value of an xorshift64 stream, uniform in 0 .. m-1 (m >= 1). */
static uint64_t xs_below(uint64_t *s, uint64_t m) {
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return (*s * 2685821657736338717ull >> 33) % m;
}

/* Sets p's blocks from a kept-block bitmap keep [nqb][nqb] bytes (1 = the pair (qb, kb) kept, kb <= qb). */
static void set_blocks_from(maskplan *p, int nqb, const uint8_t *keep) {
    int32_t *ptr = malloc(sizeof(int32_t) * (size_t)(nqb + 1)), *idx = malloc(sizeof(int32_t) * ((size_t)nqb * (nqb + 1) / 2 + 1));
    int m = 0;
    ptr[0] = 0;
    for (int qb = 0; qb < nqb; qb++) {
        for (int kb = 0; kb <= qb; kb++)
            if (keep[(size_t)qb * nqb + kb]) idx[m++] = kb;
        ptr[qb + 1] = m;
    }
    maskplan_set_blocks(p, nqb, ptr, idx);
    free(ptr);
    free(idx);
}

/* An XAttention-like plan for head h over n tokens (blocks only, as baselines/xattention.c makes
 * them): each query block qb keeps its diagonal block, key block 0 and each other earlier key block
 * with probability 85 % (an xorshift64 stream seeded per head), so ~85 % of the causal 64 x 64 tiles. */
static maskplan *xattention_like(int h, int n) {
    const int nqb = (n + 63) / 64;
    uint64_t s = 0x9C2A6B7E1F0D3B55ull ^ (uint64_t)(h + 1) * 0x9E3779B97F4A7C15ull;
    uint8_t *keep = calloc((size_t)nqb * nqb, 1);
    for (int qb = 0; qb < nqb; qb++)
        for (int kb = 0; kb <= qb; kb++) keep[(size_t)qb * nqb + kb] = kb == 0 || kb == qb || xs_below(&s, 100) < 85;
    maskplan *p = maskplan_new();
    set_blocks_from(p, nqb, keep);
    free(keep);
    return p;
}

/* A FlexPrefill-like plan for head h over n tokens (blocks only, as baselines/flexprefill.c makes
 * them, nb = ceil(n / 64) blocks): heads h % 3 = 0, 1 are vertical-slash heads: nb / 8 block columns
 * (block 0 and random others; column kb is kept by every query block qb >= kb) and nb / 8 block
 * diagonals (offset 0 and random others; query block qb keeps qb - o); heads h % 3 = 2 are
 * query-aware: nb / 32 block columns and diagonals of the same kind plus each other causal block
 * with probability 40 %. Random choices from an xorshift64 stream seeded per head. */
static maskplan *flexprefill_like(int h, int n) {
    const int nb = (n + 63) / 64;
    uint64_t s = 0x3C6EF372FE94F82Bull ^ (uint64_t)(h + 1) * 0x9E3779B97F4A7C15ull;
    uint8_t *keep = calloc((size_t)nb * nb, 1);
    const bool aware = h % 3 == 2;
    const int nvs = aware ? (nb + 31) / 32 : (nb + 7) / 8;
    for (int i = 0; i < nvs; i++) {
        const int kb = i == 0 ? 0 : (int)xs_below(&s, (uint64_t)nb), o = i == 0 ? 0 : (int)xs_below(&s, (uint64_t)nb);
        for (int qb = kb; qb < nb; qb++) keep[(size_t)qb * nb + kb] = 1;
        for (int qb = o; qb < nb; qb++) keep[(size_t)qb * nb + qb - o] = 1;
    }
    for (int qb = 0; aware && qb < nb; qb++)
        for (int kb = 0; kb <= qb; kb++) keep[(size_t)qb * nb + kb] |= xs_below(&s, 100) < 40;
    maskplan *p = maskplan_new();
    set_blocks_from(p, nb, keep);
    free(keep);
    return p;
}

/* A dam_online-like plan for head h over n tokens (as dam/online.c plan_from_gpu makes them: matched
 * columns and diagonals plus the blocks of the gate's deepening), nb = ceil(n / 64): columns = the
 * sinks 0 .. 3 and n / 512 scattered ones; diagonals = the window 0 .. 127 and n / 1024 far ones in
 * 128 .. n-1; blocks = per query block qb its diagonal block and 4 more key blocks kb < qb (the top
 * few of the gate: half in the last 16 blocks before qb, half anywhere). Random choices from an
 * xorshift64 stream seeded per head (duplicates possible: maskplan_set_* removes them). */
static maskplan *dam_online_like(int h, int n) {
    const int nb = (n + 63) / 64, nc = 4 + n / 512, nd = 128 + n / 1024;
    uint64_t s = 0x6A09E667F3BCC909ull ^ (uint64_t)(h + 1) * 0x9E3779B97F4A7C15ull;
    int32_t *cols = malloc(sizeof(int32_t) * (size_t)nc), *diags = malloc(sizeof(int32_t) * (size_t)nd);
    for (int i = 0; i < nc; i++) cols[i] = i < 4 || n <= 4 ? (i < n ? i : 0) : 4 + (int32_t)xs_below(&s, (uint64_t)(n - 4));
    for (int i = 0; i < nd; i++) diags[i] = i < 128 || n <= 128 ? i : 128 + (int32_t)xs_below(&s, (uint64_t)(n - 128));
    uint8_t *keep = calloc((size_t)nb * nb, 1);
    for (int qb = 0; qb < nb; qb++) {
        keep[(size_t)qb * nb + qb] = 1;
        for (int k = 0; k < 4 && qb > 0; k++) {
            const int back = k < 2 ? 1 + (int)xs_below(&s, (uint64_t)(qb < 16 ? qb : 16)) : 1 + (int)xs_below(&s, (uint64_t)qb);
            keep[(size_t)qb * nb + qb - back] = 1;
        }
    }
    maskplan *p = maskplan_new();
    maskplan_set_cols(p, cols, nc);
    maskplan_set_diags(p, diags, nd);
    set_blocks_from(p, nb, keep);
    free(keep);
    free(cols);
    free(diags);
    return p;
}

enum { K_DENSE, K_COLS, K_DIAGS, K_SINKWIN, K_DAM, K_BLOCKS, K_BIAS, K_BITMAP, K_ALL, K_MIXED, K_WIDE, K_RUNS, K_MINF,
       K_XATT, K_FLEX, K_DAMON, K_BITMAP_TILES };
static const char *KIND_NAME[] = {"dense", "columns", "diagonals", "sinks+window", "DAM-like", "blocks", "blocks+bias",
                                  "bitmap", "all parts+bias", "mixed group", "sinks+window 300", "runs",
                                  "MInference-like", "XAttention-like", "FlexPrefill-like", "dam_online-like",
                                  "bitmap tiles+parts"};

static maskplan *make_plan(int kind, int h, int n, rng_t *r) {
    if (kind == K_MIXED) kind = (int[]){K_DAM, K_BIAS, K_DENSE, K_BITMAP, K_COLS, K_SINKWIN, K_DIAGS}[h % 7];
    maskplan *p;
    switch (kind) {
    case K_DENSE: return maskplan_dense();
    case K_COLS: return cols_plan(r, n, 1 + (int)rng_range(r, 0, 40));
    case K_DIAGS: return diags_plan(r, n, 1 + (int)rng_range(r, 0, 20));
    case K_SINKWIN: return bench_sink_window(4, 100);
    case K_WIDE: return bench_sink_window(64, 300);
    case K_DAM: return bench_dam_like(h);
    case K_RUNS: return runs_plan(h);
    case K_MINF: return minference_like(h, n);
    case K_XATT: return xattention_like(h, n);
    case K_FLEX: return flexprefill_like(h, n);
    case K_DAMON: return dam_online_like(h, n);
    case K_BLOCKS: p = maskplan_new(); set_blocks(p, r, n, 0.2, false); return p;
    case K_BIAS: p = diags_plan(r, n, 3); set_blocks(p, r, n, 0.3, true); return p;
    case K_BITMAP: p = cols_plan(r, n, 5); set_bitmap(p, r, 200); return p;
    case K_BITMAP_TILES: p = bench_dam_like(h); set_blocks(p, r, n, 0.1, false); set_bitmap_tiles(p, r, h % 3 ? 300 + 40 * (h % 3) : 320); return p;
    default: p = bench_dam_like(h); set_blocks(p, r, n, 0.1, true); set_bitmap(p, r, 130); return p;
    }
}

/* ---- checks ---- */

/* Whether entries ea (of a) and eb (of b) mean the same thing for every head of the chunk. */
static bool same_entry(const attn_plan_host *a, int64_t ea, const attn_plan_host *b, int64_t eb) {
    const int32_t *x = a->entries + ea * a->entry_ints, *y = b->entries + eb * b->entry_ints;
    if ((x[0] < 0) != (y[0] < 0)) return false;
    if (x[0] >= 0 && x[0] != y[0]) return false;
    if (x[0] < 0 && memcmp(a->gather + (int64_t)(-x[0] - 1) * T, b->gather + (int64_t)(-y[0] - 1) * T, sizeof(int32_t) * T))
        return false;
    for (int i = 0; i < a->hc; i++)
        for (int f = 0; f < 2; f++) {  /* mode, bias mask: same class, masks by their words */
            const int32_t u = x[1 + 3 * i + f], v = y[1 + 3 * i + f];
            if ((u < 0 || v < 0) ? u != v : memcmp(a->words + (int64_t)u * T, b->words + (int64_t)v * T, 8 * T) != 0)
                return false;
        }
    for (int i = 0; i < a->hc; i++)
        if (x[3 + 3 * i] != y[3 + 3 * i]) return false;
    return true;
}

/* Decoded identity of two builds of the same plans, then byte identity (global dedup). */
static void check_same(const char *what, const attn_plan_host *a, const attn_plan_host *b) {
    CHECK(a->dense == b->dense && a->hc == b->hc && a->n_qt == b->n_qt && a->qb0 == b->qb0, "%s: shape differs", what);
    if (a->dense || b->dense || a->hc != b->hc || a->n_qt != b->n_qt) return;
    int64_t bad = 0;
    const int64_t n_items = (int64_t)a->n_chunks * a->n_qt;
    for (int64_t it = 0; it < n_items; it++) {
        const int64_t na = a->tile_ptr[it + 1] - a->tile_ptr[it], nb = b->tile_ptr[it + 1] - b->tile_ptr[it];
        if (na != nb) {
            bad++;
            continue;
        }
        for (int64_t e = 0; e < na; e++) bad += !same_entry(a, a->tile_ptr[it] + e, b, b->tile_ptr[it] + e);
    }
    CHECK(bad == 0, "%s: %lld items / entries differ", what, (long long)bad);
    CHECK(a->n_entries == b->n_entries && a->n_masks == b->n_masks && a->n_gathered == b->n_gathered &&
              a->head_tiles == b->head_tiles && a->causal_tiles == b->causal_tiles,
          "%s: statistics differ (entries %lld/%lld masks %lld/%lld gathered %lld/%lld)", what, (long long)a->n_entries,
          (long long)b->n_entries, (long long)a->n_masks, (long long)b->n_masks, (long long)a->n_gathered,
          (long long)b->n_gathered);
    if (a->n_entries != b->n_entries || a->n_masks != b->n_masks || a->n_gathered != b->n_gathered) return;
    const bool bytes = !memcmp(a->tile_ptr, b->tile_ptr, sizeof(int32_t) * (size_t)(n_items + 1)) &&
                       !memcmp(a->entries, b->entries, sizeof(int32_t) * (size_t)(a->n_entries * a->entry_ints)) &&
                       !memcmp(a->words, b->words, sizeof(uint64_t) * T * (size_t)a->n_masks) &&
                       !memcmp(a->gather, b->gather, sizeof(int32_t) * T * (size_t)a->n_gathered) &&
                       !memcmp(a->order, b->order, sizeof(int32_t) * 4 * (size_t)n_items);
    CHECK(bytes, "%s: arrays not byte-identical", what);
}

/* Every kept pair exactly once, with its bias; nothing else; the CTA order. */
static void check_cover(const char *what, const attn_plan_host *h, maskplan *const *plans) {
    if (h->dense) return;
    const int n_k = h->n_k, q_base = n_k - h->n_q, ei = h->entry_ints;
    int *cnt = calloc((size_t)n_k, sizeof(int));
    float *bias = calloc((size_t)n_k, sizeof(float));
    int64_t bad = 0, stray = 0, kept_pairs = 0;
    for (int hh = 0; hh < h->n_heads; hh++) {
        const int c = hh / h->hc, i = hh % h->hc;
        const maskplan *pl = plans ? plans[hh] : NULL;
        for (int64_t pos = q_base; pos < n_k; pos++) {
            const int64_t it = (int64_t)c * h->n_qt + pos / T - h->qb0, r = pos % T;
            memset(cnt, 0, sizeof(int) * (size_t)n_k);
            for (int64_t e = h->tile_ptr[it]; e < h->tile_ptr[it + 1]; e++) {
                const int32_t *en = h->entries + e * ei, kt = en[0], mode = en[1 + 3 * i], bmode = en[2 + 3 * i];
                float bv;
                memcpy(&bv, &en[3 + 3 * i], sizeof bv);
                if (mode == ATTN_PLAN_MODE_NONE) continue;
                for (int t = 0; t < T; t++) {
                    const int64_t j = kt >= 0 ? (int64_t)kt * T + t : h->gather[(int64_t)(-kt - 1) * T + t];
                    bool kept;
                    if (mode == ATTN_PLAN_MODE_FULL) kept = kt >= 0 ? j <= pos : (stray++, false);  /* never on gathered */
                    else kept = (h->words[(int64_t)mode * T + r] >> t) & 1;
                    if (!kept) continue;
                    if (j < 0 || j >= n_k) {
                        stray++;
                        continue;
                    }
                    cnt[j]++;
                    bias[j] = bmode >= 0 && ((h->words[(int64_t)bmode * T + r] >> t) & 1) ? bv : 0.f;
                }
            }
            for (int64_t j = 0; j < n_k; j++) {
                float rb;
                const bool k = ref_kept(pl, pos, j, &rb);
                kept_pairs += k;
                if (cnt[j] != (k ? 1 : 0) || (k && bias[j] != rb)) {
                    if (bad < 3)
                        fprintf(stderr, "  %s: head %d row %lld key %lld: listed %d times (kept %d), bias %g (ref %g)\n",
                                what, hh, (long long)pos, (long long)j, cnt[j], k, bias[j], rb);
                    bad++;
                }
            }
        }
    }
    CHECK(bad == 0 && stray == 0, "%s: %lld wrong pairs, %lld listed keys outside 0..n_k-1 or full gathered tiles", what,
          (long long)bad, (long long)stray);
    CHECK(kept_pairs > 0, "%s: the plan keeps nothing (a vacuous case)", what);
    /* order: a permutation, non-increasing length, consistent descriptors */
    const int64_t n_items = (int64_t)h->n_chunks * h->n_qt;
    char *seen = calloc((size_t)n_items, 1);
    int64_t order_bad = 0;
    for (int64_t k = 0; k < n_items; k++) {
        const int32_t *d = h->order + 4 * k, it = d[0];
        if (it < 0 || it >= n_items || seen[it]++) {
            order_bad++;
            continue;
        }
        const int32_t e0 = h->tile_ptr[it], e1 = h->tile_ptr[it + 1];
        order_bad += d[1] != e0 || d[2] != e1 || d[3] != (e1 > e0 ? h->entries[(int64_t)e0 * ei] : 0);
        if (k > 0) order_bad += d[2] - d[1] > h->order[4 * k - 2] - h->order[4 * k - 3];
    }
    CHECK(order_bad == 0, "%s: %lld bad order descriptors", what, (long long)order_bad);
    free(seen);
    free(cnt);
    free(bias);
}

/* A copy of p with its blocks held as bits (maskplan_set_blocks_bits_heads, form BITS), or NULL when p
 * is dense, lists no block part or carries a block bias (a bias needs lists). */
static maskplan *blocks_as_bits(const maskplan *p) {
    if (p->dense || p->n_qblocks == 0 || p->blk_ptr == NULL || p->blk_bias) return NULL;
    const int nqb = p->n_qblocks, words = (nqb + 63) / 64;
    uint64_t *m = calloc((size_t)nqb * words, sizeof(uint64_t));
    for (int qb = 0; qb < nqb; qb++)
        for (int i = p->blk_ptr[qb]; i < p->blk_ptr[qb + 1]; i++) m[(size_t)qb * words + p->blk_idx[i] / 64] |= 1ull << (p->blk_idx[i] % 64);
    maskplan *c = maskplan_copy(p);
    maskplan_set_blocks_bits_heads(&c, 1, nqb, nqb, m, MASKPLAN_BLOCKS_BITS);
    free(m);
    return c;
}

/* Copies of plans[0 .. H) with their blocks held as bits where blocks_as_bits can (the others plain
 * copies); *n_bits = how many. Free with free_plans. */
static maskplan **plans_as_bits(maskplan *const *plans, int H, int *n_bits) {
    maskplan **pb = malloc(sizeof(maskplan *) * (size_t)H);
    *n_bits = 0;
    for (int h = 0; h < H; h++) {
        maskplan *c = blocks_as_bits(plans[h]);
        *n_bits += c != NULL;
        pb[h] = c ? c : maskplan_copy(plans[h]);
    }
    return pb;
}

static void free_plans(maskplan **plans, int H) {
    for (int h = 0; h < H; h++) maskplan_free(plans[h]);
    free(plans);
}

static int bits_cases;       /* run_case calls that also built the plans held as bits */
static int parts_bits_cases; /* parts_case calls likewise */
static long parts_tile_codes[3]; /* bitmap tiles parts_case checked: empty, all kept, explicit masks */

static void run_case(int kind, int n_q, int n_k, int H, int Hkv, int flags, uint64_t seed) {
    rng_t r = rng_seed(seed, (uint64_t)kind);
    maskplan **plans = malloc(sizeof(maskplan *) * (size_t)H);
    for (int h = 0; h < H; h++) plans[h] = make_plan(kind, h, n_k, &r);
    char what[160];
    snprintf(what, sizeof what, "%s n_q=%d n_k=%d H=%d/%d flags=%d", KIND_NAME[kind], n_q, n_k, H, Hkv, flags);
    const maskplan *const *cp = (const maskplan *const *)plans;
    const size_t mem0 = dam_mem_in_use();
    attn_plan_host *ref = attn_cuda_plan_host_build(cp, n_q, n_k, H, Hkv, flags | ATTN_PLAN_NO_SHORTCUT, 1);
    attn_plan_host *p4 = attn_cuda_plan_host_build(cp, n_q, n_k, H, Hkv, flags, 4);
    attn_plan_host *p3 = attn_cuda_plan_host_build(cp, n_q, n_k, H, Hkv, flags, 3);
    CHECK(p4->threads == 4 && ref->threads == 1, "%s: thread counts %d %d", what, p4->threads, ref->threads);
    if (kind == K_DENSE) CHECK(p4->dense == !(flags & ATTN_CUDA_FORCE_LISTS), "%s: dense flag %d", what, p4->dense);
    check_same(what, ref, p4);
    check_same(what, ref, p3);
    check_cover(what, p4, plans);
    /* the same plans with their blocks held as bits (attn_cuda_plan_host_build walks lists of copies):
     * the same tiles and entries */
    int n_bits;
    maskplan **pb = plans_as_bits(plans, H, &n_bits);
    if (n_bits > 0) {
        char what_bits[200];
        snprintf(what_bits, sizeof what_bits, "%s, %d plans' blocks as bits", what, n_bits);
        attn_plan_host *pbh = attn_cuda_plan_host_build((const maskplan *const *)pb, n_q, n_k, H, Hkv, flags, 4);
        check_same(what_bits, ref, pbh);
        attn_cuda_plan_host_free(pbh);
        bits_cases++;
    }
    free_plans(pb, H);
    attn_cuda_plan_host_free(ref);
    attn_cuda_plan_host_free(p4);
    attn_cuda_plan_host_free(p3);
    attn_cuda_plan_host_release();
    CHECK(dam_mem_in_use() == mem0, "%s: %zd bytes not freed", what, (ssize_t)(dam_mem_in_use() - mem0));
    for (int h = 0; h < H; h++) maskplan_free(plans[h]);
    free(plans);
}

/* ---- benchmark ---- */

static double time_build(maskplan **plans, int n, int H, int Hkv, int flags, int threads, int reps, attn_plan_host **keep) {
    double best = 1e300;
    for (int k = 0; k < reps; k++) {
        attn_plan_host *h = attn_cuda_plan_host_build((const maskplan *const *)plans, n, n, H, Hkv, flags, threads);
        best = h->build_ms < best ? h->build_ms : best;
        if (k == reps - 1 && keep) *keep = h;
        else attn_cuda_plan_host_free(h);
    }
    return best;
}

static int bench(int max_threads, int max_n, int only) {
    const double t_start = omp_get_wtime();
    printf("host plan build (attn_cuda_plan_host_build), ms, best of 3 (of 2 at n > 64K); \"serial ref\" = 1 thread, "
           "every row evaluated (the pre-OpenMP algorithm); %d threads available\n", max_threads);
    printf("%-22s %8s %3s %12s %10s %10s %8s %10s %8s\n", "plan", "n", "H", "serial ref", "1 thread", "threads", "speedup",
           "entries", "masks");
    /* layout (0 DAM-like, 1 sink 128 + window 4096, 2 MInference-like, 3 XAttention-like, 4
     * FlexPrefill-like, 5 dam_online-like), n, H, KV heads, serial reference */
    static const struct { int kind, n, H, Hkv, ref; } cases[] = {
        {0, 65536, 9, 3, 1},  {0, 262144, 9, 3, 1}, {0, 1048576, 9, 3, 0}, {0, 65536, 32, 8, 1},
        {1, 65536, 9, 3, 1},  {1, 262144, 9, 3, 0}, {1, 1048576, 9, 3, 0}, {1, 65536, 32, 8, 1},
        {2, 32768, 9, 3, 1},  {2, 131072, 9, 3, 0}, {2, 32768, 32, 8, 0},  {2, 131072, 32, 8, 0},
        {3, 32768, 9, 3, 0},  {3, 131072, 9, 3, 0}, {4, 32768, 9, 3, 0},  {4, 131072, 9, 3, 0},
        {5, 32768, 9, 3, 1},  {5, 131072, 9, 3, 0},
    };
    static const char *name[] = {"DAM-like", "sink 128 + window 4096", "MInference-like", "XAttention-like",
                                 "FlexPrefill-like", "dam_online-like"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int kind = cases[c].kind, n = cases[c].n, H = cases[c].H, Hkv = cases[c].Hkv, reps = n > 65536 ? 2 : 3;
        if (n > max_n || (only >= 0 && kind != only)) continue;
        maskplan **plans = malloc(sizeof(maskplan *) * (size_t)H);
        for (int h = 0; h < H; h++)
            plans[h] = kind == 0   ? bench_dam_like(h)
                       : kind == 1 ? bench_sink_window(128, 4096)
                       : kind == 2 ? minference_like(h, n)
                       : kind == 3 ? xattention_like(h, n)
                       : kind == 4 ? flexprefill_like(h, n)
                                   : dam_online_like(h, n);
        /* the serial reference only where it takes seconds, not minutes */
        const bool ref = cases[c].ref;
        const double t_ref = ref ? time_build(plans, n, H, Hkv, ATTN_PLAN_NO_SHORTCUT, 1, reps, NULL) : 0;
        const double t1 = time_build(plans, n, H, Hkv, 0, 1, reps, NULL);
        attn_plan_host *hp = NULL;
        const double tn = time_build(plans, n, H, Hkv, 0, max_threads, reps, &hp);
        char tref[32];
        if (ref) snprintf(tref, sizeof tref, "%.1f", t_ref);
        else snprintf(tref, sizeof tref, "-");
        printf("%-22s %8d %3d %12s %10.1f %10.1f %7.1fx %10lld %8lld\n", name[kind], n, H, tref, t1, tn,
               (ref ? t_ref : t1) / tn, (long long)hp->n_entries, (long long)hp->n_masks);
        fflush(stdout);
        attn_cuda_plan_host_free(hp);
        for (int h = 0; h < H; h++) maskplan_free(plans[h]);
        free(plans);
    }
    printf("speedup = serial ref (else 1 thread) / threads; bench took %.1f s\n", omp_get_wtime() - t_start);
    return 0;
}

/* attn_plan_parts_build (the host half of the GPU list build, attention_plan_gpu.h): every bit of the
 * buffer against the plans' parts, for the kinds that build eligible plans (a dense head every fourth),
 * n_q queries after n_k keys. Returns the buffer's bytes. */
static size_t parts_case(int kind, int n_q, int n_k, int H, uint64_t seed) {
    rng_t r = rng_seed(seed, (uint64_t)kind + 100);
    maskplan **plans = malloc(sizeof(maskplan *) * (size_t)H);
    for (int h = 0; h < H; h++) plans[h] = h % 4 == 3 ? maskplan_dense() : make_plan(kind, h, n_k, &r);
    const int qb0 = (n_k - n_q) / T, n_qt = (n_k - 1) / T - qb0 + 1;
    attn_plan_parts lay;
    const unsigned char *buf = attn_plan_parts_build((const maskplan *const *)plans, H, n_k, qb0, n_qt, &lay);
    const int nkw = (n_k + 63) / 64;
    CHECK(lay.nkw == nkw && lay.rw == (nkw + 63) / 64, "parts %s: nkw %d rw %d", KIND_NAME[kind], lay.nkw, lay.rw);
    const uint64_t *w = (const uint64_t *)buf, *blocks = w + 2 * (size_t)H * nkw;
    const int64_t *boff = (const int64_t *)(w + lay.parts_words), *toff = boff + H;
    const int32_t *dense = (const int32_t *)(boff + 2 * H), *lt = dense + H;
    int64_t bad = 0, set = 0, next = 0;
    for (int h = 0; h < H; h++) {
        const maskplan *m = plans[h];
        bad += dense[h] != (int32_t)m->dense;
        for (int64_t x = 0; x < (int64_t)nkw * 64; x++) {
            const bool col = (w[(size_t)h * 2 * nkw + x / 64] >> (x % 64)) & 1, dg = (w[(size_t)(h * 2 + 1) * nkw + x / 64] >> (x % 64)) & 1;
            bad += col != (!m->dense && x < n_k && in_sorted(m->cols, m->n_cols, x));
            bad += dg != (!m->dense && x < n_k && in_sorted(m->diags, m->n_diags, x));
            set += col + dg;
        }
        const bool rows = !m->dense && m->n_qblocks > qb0;
        bad += rows ? boff[h] != next : boff[h] != -1;
        if (!rows) continue;
        next += (int64_t)n_qt * lay.rw;
        for (int qt = 0; qt < n_qt; qt++)
            for (int kb = 0; kb < lay.rw * 64; kb++) {
                const int qb = qb0 + qt;
                bool listed = false;
                for (int i = qb < m->n_qblocks ? m->blk_ptr[qb] : 0; qb < m->n_qblocks && i < m->blk_ptr[qb + 1]; i++)
                    listed |= m->blk_idx[i] == kb;
                const bool bit = (blocks[boff[h] + (int64_t)qt * lay.rw + kb / 64] >> (kb % 64)) & 1;
                bad += bit != listed;
                set += bit;
            }
    }
    CHECK(lay.parts_words == 2 * (size_t)H * nkw + (size_t)next, "parts %s: %zu words", KIND_NAME[kind], lay.parts_words);
    /* the bitmap tiles: offsets, query blocks, and every mask word and code against ref_kept */
    const int32_t *codes = (const int32_t *)(buf + lay.codes_off);
    const uint64_t *masks = (const uint64_t *)(buf + lay.masks_off);
    int64_t tiles = 0;
    for (int h = 0; h < H; h++) {
        const maskplan *m = plans[h];
        const int want_lt = m->dense ? 0 : (m->bitmap_L + 63) / 64, qb_end = want_lt < qb0 + n_qt ? want_lt : qb0 + n_qt;
        bad += lt[h] != want_lt;
        bad += toff[h] != (qb_end > qb0 ? tiles : -1);
        for (int qb = qb0; qb < qb_end; qb++)
            for (int kt = 0; kt <= qb; kt++, tiles++) {
                bool none = true, full = true;
                for (int rr = 0; rr < 64; rr++) {
                    const int64_t pos = (int64_t)qb * 64 + rr;
                    uint64_t word = 0, causal = 0;
                    float bias;
                    for (int x = 0; x < 64 && pos < n_k; x++) {
                        word |= (uint64_t)ref_kept(m, pos, (int64_t)kt * 64 + x, &bias) << x;
                        causal |= (uint64_t)((int64_t)kt * 64 + x <= pos) << x;
                    }
                    bad += masks[64 * tiles + rr] != word;
                    none &= word == 0;
                    full &= word == causal;
                }
                const int32_t want = none ? ATTN_PLAN_MODE_NONE : full ? ATTN_PLAN_MODE_FULL : (int32_t)tiles;
                bad += codes[tiles] != want;
                parts_tile_codes[want == ATTN_PLAN_MODE_NONE ? 0 : want == ATTN_PLAN_MODE_FULL ? 1 : 2]++;
            }
    }
    CHECK(lay.n_tiles == tiles, "parts %s, %d after %d keys: %lld bitmap tiles, want %lld", KIND_NAME[kind], n_q,
          n_k - n_q, (long long)lay.n_tiles, (long long)tiles);
    CHECK(bad == 0 && set > 0, "parts %s, %d after %d keys, H %d: %lld wrong bits (%lld set)", KIND_NAME[kind], n_q,
          n_k - n_q, H, (long long)bad, (long long)set);
    /* the same plans with their blocks held as bits: the same buffer, byte for byte */
    unsigned char *first = malloc(lay.bytes);
    memcpy(first, buf, lay.bytes);
    int n_bits;
    maskplan **pb = plans_as_bits(plans, H, &n_bits);
    attn_plan_parts lay_b;
    const unsigned char *buf_b = attn_plan_parts_build((const maskplan *const *)pb, H, n_k, qb0, n_qt, &lay_b);
    CHECK(n_bits == 0 || (lay_b.bytes == lay.bytes && memcmp(buf_b, first, lay.bytes) == 0),
          "parts %s, %d after %d keys: plans with blocks as bits (%d) give another buffer", KIND_NAME[kind], n_q, n_k - n_q,
          n_bits);
    parts_bits_cases += n_bits > 0;
    free_plans(pb, H);
    free(first);
    for (int h = 0; h < H; h++) maskplan_free(plans[h]);
    free(plans);
    return lay.bytes;
}

/* 5. block bits (attn_plan_block_bits, for the wgmma kernel's block plans): blocks-only plans with
 * dense heads among them and query blocks past n_qblocks; 1 and 3 threads give the same words; every
 * bit of a step's query blocks equals the listed blocks (dense heads: every word all ones), earlier
 * rows zero; the kept / causal counts; and attn_plan_blocks_only's answers. */
static void block_bits_case(int n_q, int n_k, int H, uint64_t seed) {
    rng_t r = rng_seed(seed, 500);
    maskplan *pl[9];
    for (int h = 0; h < H; h++) {
        pl[h] = h % 4 == 1 ? maskplan_dense() : maskplan_new();
        if (h % 4 != 1) set_blocks(pl[h], &r, h % 4 == 3 ? n_k / 2 + 1 : n_k, h % 4 == 2 ? 0.9 : 0.2, false);
    }
    CHECK(attn_plan_blocks_only((const maskplan *const *)pl, H, n_k), "block bits n_k %d: plans not eligible", n_k);
    const size_t per = attn_plan_block_bits_words(n_k);
    const int rows = (n_k + 63) / 64, words = (rows + 63) / 64, qb0 = (n_k - n_q) / 64;
    CHECK(per == (size_t)rows * words, "block bits n_k %d: %zu words per head", n_k, per);
    uint64_t *b1 = malloc(sizeof(uint64_t) * per * H), *b3 = malloc(sizeof(uint64_t) * per * H);
    memset(b1, 0x5a, sizeof(uint64_t) * per * H); /* stale contents: every word must be written */
    int64_t kept1, causal1, kept3, causal3, wt1, wt3, kept = 0, causal = 0, wt = 0;
    attn_plan_block_bits((const maskplan *const *)pl, H, n_k, qb0, b1, 1, &kept1, &causal1, &wt1);
    attn_plan_block_bits((const maskplan *const *)pl, H, n_k, qb0, b3, 3, &kept3, &causal3, &wt3);
    CHECK(memcmp(b1, b3, sizeof(uint64_t) * per * H) == 0 && kept1 == kept3 && causal1 == causal3 && wt1 == wt3,
          "block bits n_k %d: 1 and 3 threads differ", n_k);
    int bad = 0;
    for (int h = 0; h < H; h++)
        for (int qb = 0; qb < rows; qb++) {
            const maskplan *m = pl[h];
            if (qb >= qb0) causal += qb + 1;
            for (int kb = 0; kb < words * 64; kb++) {
                bool want = false;
                if (qb >= qb0 && m->dense) want = true;
                else if (qb >= qb0 && qb < m->n_qblocks)
                    for (int i = m->blk_ptr[qb]; i < m->blk_ptr[qb + 1]; i++) want |= m->blk_idx[i] == kb;
                const bool got = b1[per * h + (size_t)qb * words + kb / 64] >> (kb % 64) & 1;
                bad += got != want;
                kept += want && kb <= qb;
            }
        }
    CHECK(bad == 0, "block bits n_q %d n_k %d H %d: %d bits wrong", n_q, n_k, H, bad);
    /* the wgmma kernel's 128 x 128 tiles of every head (dense ones too): per (head, 2 query blocks
     * >= qb0, 128-key tile up to the group's last row), whether one of those rows keeps one of the
     * tile's two key blocks (read from the bits) */
    for (int h = 0; h < H; h++)
        for (int g = 0; 2 * g < rows; g++) {
            const int last_row = (2 * g + 2) * 64 < n_k ? (2 * g + 2) * 64 - 1 : n_k - 1;
            for (int kt = 0; kt <= last_row / 128; kt++) {
                bool any = false;
                for (int qb = 2 * g; qb < 2 * g + 2 && qb < rows; qb++)
                    for (int kb = 2 * kt; kb < 2 * kt + 2 && qb >= qb0; kb++)
                        any |= b1[per * h + (size_t)qb * words + kb / 64] >> (kb % 64) & 1;
                wt += any;
            }
        }
    CHECK(kept1 == kept && causal1 == causal && wt1 == wt,
          "block bits n_k %d: counts %lld / %lld / %lld, want %lld / %lld / %lld", n_k, (long long)kept1,
          (long long)causal1, (long long)wt1, (long long)kept, (long long)causal, (long long)wt);
    /* the same plans rebuilt from bit matrices (maskplan_set_blocks_bits, rows of ceil(rows / 64) words),
     * so that the dense-enough ones keep their blk_bits and the builder copies rows: the same words and
     * counts */
    maskplan *pb[9];
    int with_bits = 0;
    for (int h = 0; h < H; h++) {
        if (pl[h]->dense) {
            pb[h] = maskplan_dense();
            continue;
        }
        const int nq = pl[h]->n_qblocks;
        uint64_t *m = calloc((size_t)(nq > 0 ? nq : 1) * words, sizeof(uint64_t));
        for (int qb = 0; qb < nq; qb++)
            for (int i = pl[h]->blk_ptr[qb]; i < pl[h]->blk_ptr[qb + 1]; i++)
                m[(size_t)qb * words + pl[h]->blk_idx[i] / 64] |= 1ull << (pl[h]->blk_idx[i] % 64);
        pb[h] = maskplan_new();
        maskplan_set_blocks_bits(pb[h], nq, rows, m);
        with_bits += pb[h]->blk_bits != NULL;
        CHECK(maskplan_validate(pb[h], 0) == NULL, "block bits n_k %d head %d: %s", n_k, h, maskplan_validate(pb[h], 0));
        free(m);
    }
    CHECK(with_bits > 0 || rows < 4, "block bits n_k %d: no plan kept its bits", n_k); /* 1-3 rows: a list is smaller */
    int64_t kb_, cb_, wb_;
    attn_plan_block_bits((const maskplan *const *)pb, H, n_k, qb0, b3, 3, &kb_, &cb_, &wb_);
    CHECK(memcmp(b1, b3, sizeof(uint64_t) * per * H) == 0 && kb_ == kept1 && cb_ == causal1 && wb_ == wt1,
          "block bits n_k %d: plans with blk_bits (%d) give other words or counts", n_k, with_bits);
    for (int h = 0; h < H; h++) maskplan_free(pb[h]);
    /* not eligible: a column, a block bias, all heads dense, too many keys for the tile list */
    maskplan *c = cols_plan(&r, n_k, 3), *keep0 = pl[0];
    pl[0] = c;
    CHECK(!attn_plan_blocks_only((const maskplan *const *)pl, H, n_k), "block bits: a plan with columns is eligible");
    maskplan_free(c);
    pl[0] = maskplan_new();
    set_blocks(pl[0], &r, n_k, 0.5, true);
    CHECK(!attn_plan_blocks_only((const maskplan *const *)pl, H, n_k), "block bits: a plan with a block bias is eligible");
    maskplan_free(pl[0]);
    pl[0] = keep0;
    CHECK(!attn_plan_blocks_only((const maskplan *const *)pl, H, 3000000), "block bits: 3M keys eligible");
    /* one head: the 64-key tiles' visited list (64 KiB) ends at 1,048,576 keys (the bits, 32 MiB, fit) */
    CHECK(attn_plan_blocks_only((const maskplan *const *)pl, 1, 1 << 20), "block bits: 1M keys not eligible");
    CHECK(!attn_plan_blocks_only((const maskplan *const *)pl, 1, (1 << 20) + 1), "block bits: 1M + 1 keys eligible");
    maskplan *dense[2] = {maskplan_dense(), maskplan_dense()};
    CHECK(!attn_plan_blocks_only((const maskplan *const *)dense, 2, n_k), "block bits: all-dense plans eligible");
    maskplan_free(dense[0]);
    maskplan_free(dense[1]);
    for (int h = 0; h < H; h++) maskplan_free(pl[h]);
    free(b1);
    free(b3);
}

/* bench-parts (see the top of this file). */
static int bench_parts(const char *path, int threads) {
    dam_patterns *pat = dam_patterns_read(path, NULL);
    const int NL = pat->n_layers, H = pat->n_heads;
    maskplan **pl = malloc(sizeof(maskplan *) * (size_t)NL * H);
    for (int i = 0; i < NL * H; i++) pl[i] = dam_plan(pat, i / H, i % H);
    printf("# attn_plan_parts_build, DAM's plans of %s (%d layers x %d heads, PCL %d), sum over the layers, best of 20\n",
           path, NL, H, pat->par.L);
    printf("%8s %12s %12s\n", "tokens", "1 thread ms", "threads ms");
    const int ns[] = {2048, 8192, 32768, 131072};
    for (int i = 0; i < 4; i++) {
        double best[2] = {1e30, 1e30};
        for (int t = 0; t < 2; t++) {
            omp_set_num_threads(t == 0 ? 1 : threads);
            for (int rep = 0; rep < 20; rep++) {
                const double t0 = now_ms();
                for (int l = 0; l < NL; l++) {
                    attn_plan_parts lay;
                    attn_plan_parts_build((const maskplan *const *)(pl + (size_t)l * H), H, ns[i], 0, (ns[i] - 1) / 64 + 1, &lay);
                }
                const double ms = now_ms() - t0;
                best[t] = ms < best[t] ? ms : best[t];
            }
        }
        printf("%8d %12.3f %12.3f (%d)\n", ns[i], best[0], best[1], threads);
    }
    for (int i = 0; i < NL * H; i++) maskplan_free(pl[i]);
    free(pl);
    attn_plan_parts_release();
    dam_patterns_free(pat);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "bench-parts") == 0)
        return bench_parts(argc > 2 ? argv[2] : "patterns/smollm2-135m.h5",
                           argc > 3 && atoi(argv[3]) > 0 ? atoi(argv[3]) : omp_get_max_threads());
    if (argc > 1 && strcmp(argv[1], "bench") == 0)
        return bench(argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : omp_get_max_threads(),
                     argc > 3 && atoi(argv[3]) > 0 ? atoi(argv[3]) : 1 << 20, argc > 4 ? atoi(argv[4]) : -1);
    const int shapes[][2] = {{1, 1}, {63, 63}, {65, 65}, {100, 100}, {129, 129}, {300, 300}, {513, 513},
                             {1000, 1000}, {37, 300}, {100, 700}, {1, 516}, {600, 2000}};
    const int heads[][2] = {{4, 4}, {8, 2}, {9, 3}, {7, 1}};
    const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    int cases = 0;
    for (int kind = 0; kind <= K_BITMAP_TILES; kind++)
        for (int s = 0; s < n_shapes; s++) {
            const int hs = (kind + s) % 4;
            const int fl[4] = {0, ATTN_CUDA_NO_GATHER, ATTN_CUDA_PACK_GQA, ATTN_CUDA_PACK_GQA | ATTN_CUDA_NO_GATHER};
            for (int f = 0; f < 4; f++) {
                if (f == 3 && s % 2) continue;
                run_case(kind, shapes[s][0], shapes[s][1], heads[hs][0], heads[hs][1],
                         fl[f] | (kind == K_DENSE && f % 2 ? ATTN_CUDA_FORCE_LISTS : 0), 1000 + (uint64_t)s);
                cases++;
            }
        }
    {  /* plans == NULL (all dense): no lists, or with forced lists every causal tile "all kept"
        * (70 queries after 200 keys: query tiles 2 and 3, 3 + 4 causal tiles per head) */
        attn_plan_host *d = attn_cuda_plan_host_build(NULL, 70, 200, 4, 2, 0, 4);
        CHECK(d->dense && d->head_tiles == d->causal_tiles && d->causal_tiles == 4 * (3 + 4), "NULL plans: dense %d tiles %lld",
              d->dense, (long long)d->causal_tiles);
        attn_cuda_plan_host_free(d);
        d = attn_cuda_plan_host_build(NULL, 70, 200, 4, 2, ATTN_CUDA_FORCE_LISTS, 4);
        CHECK(!d->dense && d->n_entries == 4 * (3 + 4) && d->n_masks == 0, "NULL plans, forced lists: %lld entries",
              (long long)d->n_entries);
        check_cover("NULL plans, forced lists", d, NULL);
        attn_cuda_plan_host_free(d);
    }
    {  /* reused arrays (attn_cuda_plan_host_free keeps them): a MInference-like build, then an
        * XAttention-like one that takes its arrays (and leaves other bytes in them), then the first
        * again in the XAttention arrays: the same as the first build; nothing left after the release */
        const size_t mem0 = dam_mem_in_use();
        const int n = 12288, H = 9;
        maskplan *pm[9], *px[9];
        for (int h = 0; h < H; h++) {
            pm[h] = minference_like(h, n);
            px[h] = xattention_like(h, n);
        }
        attn_plan_host *a = attn_cuda_plan_host_build((const maskplan *const *)pm, n, n, H, 3, 0, 2);
        attn_plan_host *x = attn_cuda_plan_host_build((const maskplan *const *)px, n, n, H, 3, 0, 1);
        CHECK(a->n_gathered * 256 >= (1 << 20) && x->n_entries * 16 >= (1 << 20),
              "reuse: arrays too small to be kept (%lld gathered, %lld entries)", (long long)a->n_gathered,
              (long long)x->n_entries);
        attn_plan_host *a1 = attn_cuda_plan_host_build((const maskplan *const *)pm, n, n, H, 3, 0, 1);
        attn_cuda_plan_host_free(a1);  /* keeps the gathered and words arrays */
        attn_cuda_plan_host_free(x);   /* keeps the (larger) entries array */
        attn_plan_host *b = attn_cuda_plan_host_build((const maskplan *const *)pm, n, n, H, 3, 0, 1);
        attn_plan_host *c = attn_cuda_plan_host_build((const maskplan *const *)pm, n, n, H, 3, 0, 2);
        check_same("reuse: MInference-like 12K, 1 thread in kept arrays", a, b);
        check_same("reuse: MInference-like 12K, 2 threads", a, c);
        CHECK(b->cap_bytes[0] > sizeof(int32_t) * (size_t)(b->n_entries * b->entry_ints), "reuse: entries not reused");
        attn_cuda_plan_host_free(a);
        attn_cuda_plan_host_free(b);
        attn_cuda_plan_host_free(c);
        attn_cuda_plan_host_release();
        for (int h = 0; h < H; h++) {
            maskplan_free(pm[h]);
            maskplan_free(px[h]);
        }
        CHECK(dam_mem_in_use() == mem0, "reuse: %zd bytes left after the release", (ssize_t)(dam_mem_in_use() - mem0));
    }
    {  /* the GPU list build's parts: a large buffer first, then smaller ones in it (stale bits cleared) */
        const size_t mem0 = dam_mem_in_use();
        /* n_k > 4096: block rows of two words; bitmaps (sides 200, 300 .. 380): from position 0, a chunk
         * and a decode row inside them, a chunk past them */
        const int kinds[] = {K_BITMAP_TILES, K_COLS, K_DIAGS, K_SINKWIN, K_DAM, K_BLOCKS, K_MINF, K_FLEX, K_DAMON, K_RUNS,
                             K_BITMAP, K_XATT, K_BITMAP_TILES, K_BITMAP_TILES, K_BITMAP_TILES, K_BITMAP_TILES};
        const int sh[][2] = {{6000, 6000}, {1, 1}, {65, 65}, {37, 300}, {1, 516}, {600, 5000}, {129, 129}, {100, 700},
                             {4097, 4097}, {513, 513}, {300, 300}, {6000, 6000}, {700, 700}, {200, 450}, {1, 333},
                             {100, 2000}};
        size_t first = 0;
        for (int i = 0; i < (int)(sizeof kinds / sizeof kinds[0]); i++) {
            const size_t b = parts_case(kinds[i], sh[i][0], sh[i][1], i % 2 || i == 0 ? 9 : 8, 77 + (uint64_t)i);
            if (i == 0) first = b;
            else CHECK(b < first, "parts: case %d is not smaller than the first (%zu >= %zu bytes)", i, b, first);
            cases++;
        }
        attn_plan_parts_release();
        CHECK(dam_mem_in_use() == mem0, "parts: %zd bytes left after the release", (ssize_t)(dam_mem_in_use() - mem0));
        CHECK(parts_tile_codes[0] > 0 && parts_tile_codes[1] > 0 && parts_tile_codes[2] > 0,
              "parts: bitmap tiles checked: %ld empty, %ld all kept, %ld masks (want each)", parts_tile_codes[0],
              parts_tile_codes[1], parts_tile_codes[2]);
    }
    {  /* the batched staging (attn_plan_parts_build_many, OpenMP over the sets): each set's bytes and
        * layout equal attn_plan_parts_build's for that set alone; twice (the buffers reused, a smaller
        * count the second time), then released */
        const size_t mem0 = dam_mem_in_use();
        const int kinds[] = {K_BITMAP_TILES, K_DAM, K_MINF, K_BITMAP, K_DAMON, K_BITMAP_TILES, K_COLS};
        const int NS = (int)(sizeof kinds / sizeof kinds[0]), H = 9;
        const int shapes[][2] = {{700, 700}, {200, 450}};
        for (int round = 0; round < 2; round++) {
            const int n_q = shapes[round][0], n_k = shapes[round][1], count = NS - 2 * round;
            const int qb0 = (n_k - n_q) / T, n_qt = (n_k - 1) / T - qb0 + 1;
            maskplan **plans = malloc(sizeof(maskplan *) * (size_t)count * H);
            const maskplan *const **sets = malloc(sizeof *sets * (size_t)count);
            for (int i = 0; i < count; i++) {
                rng_t r = rng_seed(500 + (uint64_t)i, (uint64_t)kinds[i]);
                for (int h = 0; h < H; h++)
                    plans[(size_t)i * H + h] = h % 4 == 3 ? maskplan_dense() : make_plan(kinds[i], h, n_k, &r);
                sets[i] = (const maskplan *const *)(plans + (size_t)i * H);
            }
            attn_plan_parts *lays = malloc(sizeof *lays * (size_t)count);
            const unsigned char **bufs = malloc(sizeof *bufs * (size_t)count);
            attn_plan_parts_build_many(sets, count, H, n_k, qb0, n_qt, lays, bufs);
            for (int i = 0; i < count; i++, cases++) {
                attn_plan_parts one;
                const unsigned char *b1 = attn_plan_parts_build(sets[i], H, n_k, qb0, n_qt, &one);
                CHECK(one.bytes == lays[i].bytes && one.parts_words == lays[i].parts_words && one.n_tiles == lays[i].n_tiles &&
                          one.codes_off == lays[i].codes_off && one.masks_off == lays[i].masks_off && one.nkw == lays[i].nkw &&
                          one.rw == lays[i].rw && memcmp(b1, bufs[i], one.bytes) == 0,
                      "parts, batched: set %d (%s) of %d, n_q %d n_k %d: not the bytes of the single build", i,
                      KIND_NAME[kinds[i]], count, n_q, n_k);
            }
            CHECK(lays[0].n_tiles > 0, "parts, batched: the first set has no bitmap tiles");
            free_plans(plans, count * H);
            free(sets), free(lays), free(bufs);
        }
        attn_plan_parts_release();
        CHECK(dam_mem_in_use() == mem0, "parts, batched: %zd bytes left after the release", (ssize_t)(dam_mem_in_use() - mem0));
    }
    {  /* 5. block bits: n not a multiple of 64, chunked prefill, decode, rows of two words (n_k > 4096) */
        const int bb[][3] = {{1, 1, 4}, {65, 65, 9}, {37, 300, 8}, {1, 516, 9}, {600, 5000, 9}, {4097, 4097, 7}};
        for (int i = 0; i < 6; i++, cases++) block_bits_case(bb[i][0], bb[i][1], bb[i][2], 900 + (uint64_t)i);
    }
    CHECK(bits_cases > 0 && parts_bits_cases > 0, "no case had plans whose blocks could be held as bits (%d, %d)",
          bits_cases, parts_bits_cases);
    printf("%d cases (%d also with blocks as bits)\n", cases, bits_cases);
    return test_done("test_plan_host");
}
