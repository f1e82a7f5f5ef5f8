/* attention_plan_parts.c — the host half of the GPU list build: the plans' parts as the bit words
 * and their bitmaps' tiles as 64 x 64 masks, which attention_plan_gpu.cu reads (declared in
 * attention_plan_gpu.h). Plain C with OpenMP over heads, no CUDA call, so it is built into every libdam and tested without a GPU (tests/cuda/test_plan_host.c). */
#include "kernels/cuda/attention_plan_gpu.h"

#include <omp.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/cuda/attention_plan.h"

/* The staging buffers, kept across calls (fresh memory costs its page faults, ~1 ms per MB): one for
 * attn_plan_parts_build, one per set for attn_plan_parts_build_many; one host thread drives the
 * device (cuda_mem.h), so no lock. */
static unsigned char *stage;
static size_t stage_cap;
static unsigned char **stages;
static size_t *stage_caps;
static int n_stages;

/* Query blocks of a plan's bitmap tiles: ceil(bitmap_L / 64) for a non-dense plan with a bitmap, else 0. */
static int bitmap_qblocks(const maskplan *m) { return m->dense ? 0 : (m->bitmap_L + 63) / 64; }

/* Causal tiles of query blocks 0 .. qb - 1 (tiles kt = 0 .. x of each block x). */
static int64_t tiles_before(int64_t qb) { return qb * (qb + 1) / 2; }

/* One bitmap tile (query block qb, key tile kt) of plan m over n_k keys: its 64 row words into mask
 * (the words maskplan_row_word gives: the bitmap's inside it, the other parts for a partial last
 * block's rows past bitmap_L; 0 for rows >= n_k), and its code: ATTN_PLAN_MODE_NONE if no row keeps a key,
 * ATTN_PLAN_MODE_FULL if every row keeps every causal key, else `index`. */
static int32_t bitmap_tile(const maskplan *m, int n_k, int qb, int kt, int64_t index, uint64_t *mask) {
    bool none = true, full = true;
    const int W = maskplan_bitmap_words(m->bitmap_L);
    for (int r = 0; r < 64; r++) {
        const int64_t pos = (int64_t)qb * 64 + r, t = pos - (int64_t)kt * 64;
        if (pos >= n_k) {
            mask[r] = 0;
            continue;
        }
        const uint64_t causal = t >= 63 ? ~0ull : (2ull << t) - 1; /* every causal key of the row */
        /* inside the bitmap the row's word is the bitmap's (maskplan_row_word's rule, without its calls) */
        mask[r] = pos < m->bitmap_L ? m->bitmap[pos * W + kt] & causal : maskplan_row_word(m, pos, (int64_t)kt * 64);
        none &= mask[r] == 0;
        full &= mask[r] == causal;
    }
    return none ? ATTN_PLAN_MODE_NONE : full ? ATTN_PLAN_MODE_FULL : (int32_t)index;
}

/* attn_plan_parts_build into *buf (grown to *cap bytes when short), the heads on OpenMP threads when
 * head_threads (else on the calling thread: attn_plan_parts_build_many runs sets in parallel). */
static const unsigned char *build_into(const maskplan *const *plans, int n_heads, int n_k, int qb0, int n_qt,
                                       attn_plan_parts *layout, unsigned char **buf, size_t *cap, bool head_threads) {
    if (n_heads < 1 || n_k < 1 || qb0 < 0 || n_qt < 1)
        dam_die(DAM_EXIT_RUNTIME, "internal error: attn_plan_parts_build: heads %d, n_k %d, qb0 %d, n_qt %d", n_heads,
                n_k, qb0, n_qt);
    const int nkw = (n_k + 63) / 64, rw = (nkw + 63) / 64;
    int64_t *boff = dam_malloc(sizeof(int64_t) * 2 * (size_t)n_heads, "GPU plan block and tile offsets");
    int64_t *toff = boff + n_heads;
    int64_t block_words = 0, n_tiles = 0;
    for (int h = 0; h < n_heads; h++) {
        boff[h] = toff[h] = -1;
        if (!plans[h]->dense && plans[h]->n_qblocks > qb0) {
            boff[h] = block_words;
            block_words += (int64_t)n_qt * rw;
        }
        const int qb_end = bitmap_qblocks(plans[h]) < qb0 + n_qt ? bitmap_qblocks(plans[h]) : qb0 + n_qt;
        if (qb_end > qb0) {
            toff[h] = n_tiles;
            n_tiles += tiles_before(qb_end) - tiles_before(qb0);
        }
    }
    layout->nkw = nkw;
    layout->threads = head_threads ? omp_get_max_threads() : 1;
    layout->rw = rw;
    layout->parts_words = 2 * (size_t)n_heads * nkw + (size_t)block_words;
    layout->n_tiles = n_tiles;
    layout->codes_off =
        sizeof(uint64_t) * layout->parts_words + (2 * sizeof(int64_t) + 2 * sizeof(int32_t)) * (size_t)n_heads;
    layout->masks_off = layout->codes_off + sizeof(int32_t) * (size_t)(n_tiles + (n_tiles & 1));
    layout->bytes = layout->masks_off + sizeof(uint64_t) * 64 * (size_t)n_tiles;
    if (layout->bytes > *cap) {
        dam_free(*buf);
        *buf = dam_malloc(layout->bytes, "GPU plan parts (host staging)");
        *cap = layout->bytes;
    }
    unsigned char *stage = *buf;
    uint64_t *parts = (uint64_t *)stage, *blocks = parts + 2 * (size_t)n_heads * nkw;
    int64_t *hoff = (int64_t *)(parts + layout->parts_words);
    int32_t *dense = (int32_t *)(hoff + 2 * n_heads), *lt = dense + n_heads;
    int32_t *codes = (int32_t *)(stage + layout->codes_off);
    uint64_t *masks = (uint64_t *)(stage + layout->masks_off);
    memcpy(hoff, boff, sizeof(int64_t) * 2 * (size_t)n_heads);
    if (n_tiles & 1) codes[n_tiles] = ATTN_PLAN_MODE_NONE; /* the padding */
#pragma omp parallel for schedule(dynamic, 1) if (head_threads)
    for (int h = 0; h < n_heads; h++) {
        const maskplan *m = plans[h];
        uint64_t *cw = parts + (size_t)h * 2 * nkw, *dw = cw + nkw;
        memset(cw, 0, sizeof(uint64_t) * 2 * (size_t)nkw);
        dense[h] = m->dense;
        lt[h] = bitmap_qblocks(m);
        if (boff[h] >= 0) memset(blocks + boff[h], 0, sizeof(uint64_t) * (size_t)n_qt * rw);
        if (m->dense) continue;
        for (int i = 0; i < m->n_cols && m->cols[i] < n_k; i++) cw[m->cols[i] / 64] |= 1ull << (m->cols[i] % 64);
        for (int i = 0; i < m->n_diags && m->diags[i] < n_k; i++) dw[m->diags[i] / 64] |= 1ull << (m->diags[i] % 64);
        for (int qt = 0; boff[h] >= 0 && qt < n_qt && qb0 + qt < m->n_qblocks; qt++)
            maskplan_block_row(m, qb0 + qt, blocks + boff[h] + (size_t)qt * rw, rw);
        for (int64_t i = toff[h], qb = qb0; toff[h] >= 0 && qb < lt[h] && qb < qb0 + n_qt; qb++)
            for (int kt = 0; kt <= qb; kt++, i++) codes[i] = bitmap_tile(m, n_k, (int)qb, kt, i, masks + 64 * i);
    }
    dam_free(boff);
    return stage;
}

const unsigned char *attn_plan_parts_build(const maskplan *const *plans, int n_heads, int n_k, int qb0, int n_qt,
                                           attn_plan_parts *layout) {
    return build_into(plans, n_heads, n_k, qb0, n_qt, layout, &stage, &stage_cap, true);
}

void attn_plan_parts_build_many(const maskplan *const *const *plans, int count, int n_heads, int n_k, int qb0, int n_qt,
                                attn_plan_parts *layouts, const unsigned char **out) {
    if (count < 1) return;
    if (count > n_stages) {
        stages = dam_realloc(stages, sizeof *stages * (size_t)count, "GPU plan parts (host stagings)");
        stage_caps = dam_realloc(stage_caps, sizeof *stage_caps * (size_t)count, "GPU plan parts (host stagings)");
        for (int i = n_stages; i < count; i++) stages[i] = NULL, stage_caps[i] = 0;
        n_stages = count;
    }
    if (count == 1) { // the heads on threads (a parallel region inside an inactive one forks a new team each call)
        out[0] = build_into(plans[0], n_heads, n_k, qb0, n_qt, layouts, &stages[0], &stage_caps[0], true);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < count; i++)
        out[i] = build_into(plans[i], n_heads, n_k, qb0, n_qt, layouts + i, &stages[i], &stage_caps[i], false);
}

void attn_plan_parts_release(void) {
    dam_free(stage);
    stage = NULL;
    stage_cap = 0;
    for (int i = 0; i < n_stages; i++) dam_free(stages[i]);
    dam_free(stages);
    dam_free(stage_caps);
    stages = NULL;
    stage_caps = NULL;
    n_stages = 0;
}
