/* maskplan.c — see maskplan.h. Tested against a brute-force materialised mask in
 * tests/test_maskplan.c.
 *
 * The rule splits rows in two: a row p < L (bitmap region) is decided by its bitmap row alone
 * (every key j <= p < L lies inside the region); a row p >= L by the structural parts (cols,
 * diags, blocks). Counting a structural row merges the two sorted point streams (cols <= p and
 * keys p - r for diags r <= p, ascending) and skips points inside the row's key-block intervals.
 * maskplan_kept_pairs uses that per-row merge only for query blocks that have a block part; a run
 * of rows without one is counted in closed form (see count_cd_rows). */
#include "kernels/maskplan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

/* ---- small helpers ---- */

/* First index i in a[0 .. n) with a[i] >= x (n if none); a sorted ascending. */
static int lower_bound(const int32_t *a, int n, int64_t x) {
    int lo = 0, hi = n;
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        if ((int64_t)a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* First index i with a[i] > x. */
static int upper_bound(const int32_t *a, int n, int64_t x) { return lower_bound(a, n, x + 1); }

static bool contains(const int32_t *a, int n, int64_t x) {
    const int i = lower_bound(a, n, x);
    return i < n && (int64_t)a[i] == x;
}

/* Bits 0 .. pos - j0 of a word starting at key j0 (keys j0 .. pos are causal); 0 if pos < j0. */
static inline uint64_t causal_word(int64_t pos, int64_t j0) {
    if (pos < j0) return 0;
    const int64_t t = pos - j0;
    return t >= 63 ? ~0ull : (2ull << t) - 1;
}

/* ---- the blocks part: key-block lists (blk_ptr / blk_idx) or bit rows (blk_bits) ---- */

/* Whether query block qb lists key block kb. */
static bool block_listed(const maskplan *p, int64_t qb, int64_t kb) {
    if (qb < 0 || qb >= p->n_qblocks || kb < 0) return false;
    if (p->blk_bits)
        return kb / 64 < p->blk_bits_words && (p->blk_bits[qb * p->blk_bits_words + kb / 64] >> (kb % 64) & 1);
    const int a = p->blk_ptr[qb], b = p->blk_ptr[qb + 1];
    return contains(p->blk_idx + a, b - a, kb);
}

/* Number of key blocks query block qb lists (0 past n_qblocks). */
static int64_t blocks_listed(const maskplan *p, int64_t qb) {
    if (qb < 0 || qb >= p->n_qblocks) return 0;
    if (p->blk_ptr) return p->blk_ptr[qb + 1] - p->blk_ptr[qb];
    int64_t c = 0;
    for (int w = 0; w < p->blk_bits_words; w++) c += __builtin_popcountll(p->blk_bits[qb * p->blk_bits_words + w]);
    return c;
}

/* The key blocks one query block lists, ascending, in either representation:
 * for (blk_iter it = blk_iter_of(p, qb); blk_next(&it, &kb);) ... */
typedef struct {
    const uint64_t *row; /* bit row (NULL: the list idx[i .. end)) */
    int words, w;
    uint64_t cur;        /* bits of word w not returned yet */
    const int32_t *idx;
    int i, end;
} blk_iter;

static blk_iter blk_iter_of(const maskplan *p, int64_t qb) {
    blk_iter it = {0};
    if (qb < 0 || qb >= p->n_qblocks) return it;
    if (p->blk_bits) {
        it.row = p->blk_bits + qb * p->blk_bits_words;
        it.words = p->blk_bits_words;
        it.cur = it.row[0];
    } else {
        it.idx = p->blk_idx;
        it.i = p->blk_ptr[qb];
        it.end = p->blk_ptr[qb + 1];
    }
    return it;
}

static bool blk_next(blk_iter *it, int32_t *kb) {
    if (it->row) {
        while (it->cur == 0) {
            if (++it->w >= it->words) return false;
            it->cur = it->row[it->w];
        }
        *kb = it->w * 64 + __builtin_ctzll(it->cur);
        it->cur &= it->cur - 1;
        return true;
    }
    if (it->i >= it->end) return false;
    *kb = it->idx[it->i++];
    return true;
}

/* Sorts a[0 .. n) of non-negative values ascending: LSD radix sort by bytes, skipping a byte all
 * values share (lists of positions < 65,536 take two passes). Replaces qsort, whose comparator calls
 * showed in MInference's GPU path, which sorts every head's top-k columns and diagonals here for every
 * layer (docs/performance.md, run 39). */
static void sort_nonneg(int32_t *a, int n) {
    uint32_t *src = (uint32_t *)a, *dst = dam_malloc(sizeof *dst * (size_t)n, "mask plan sort"), *tmp = dst;
    for (int shift = 0; shift < 32; shift += 8) {
        int cnt[257] = {0};
        for (int i = 0; i < n; i++) cnt[((src[i] >> shift) & 255) + 1]++;
        if (cnt[((src[0] >> shift) & 255) + 1] == n) continue; /* one byte value: the pass changes nothing */
        for (int b = 0; b < 256; b++) cnt[b + 1] += cnt[b];
        for (int i = 0; i < n; i++) dst[cnt[(src[i] >> shift) & 255]++] = src[i];
        uint32_t *t = src;
        src = dst, dst = t;
    }
    if (src != (uint32_t *)a) memcpy(a, src, sizeof *a * (size_t)n);
    dam_free(tmp);
}

/* Sorts a[0 .. n) (values >= 0, checked by the callers) and removes duplicates in place; returns the
 * new length. */
static int sort_unique(int32_t *a, int n) {
    if (n <= 1) return n;
    int increasing = 1;  // windows and sink ranges come sorted: O(n) instead of a sort
    for (int i = 1; i < n && increasing; i++) increasing = a[i - 1] < a[i];
    if (increasing) return n;
    sort_nonneg(a, n);
    int m = 1;
    for (int i = 1; i < n; i++)
        if (a[i] != a[m - 1]) a[m++] = a[i];
    return m;
}

/* Copies, checks (>= 0), sorts and de-duplicates a list; NULL for an empty one. */
static int32_t *copy_sorted(const int32_t *src, int n, int *n_out, const char *what) {
    if (n < 0 || (n > 0 && src == NULL))
        dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan %s: %d values from %s", what, n, src ? "an array" : "NULL");
    *n_out = 0;
    if (n == 0) return NULL;
    for (int i = 0; i < n; i++)
        if (src[i] < 0) dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan %s[%d] = %d is negative", what, i, src[i]);
    int32_t *a = dam_malloc(sizeof *a * (size_t)n, "mask plan");
    memcpy(a, src, sizeof *a * (size_t)n);
    const int m = sort_unique(a, n);
    if (m < n) a = dam_realloc(a, sizeof *a * (size_t)m, "mask plan");
    *n_out = m;
    return a;
}

static size_t bitmap_words_total(int L) { return (size_t)L * (size_t)maskplan_bitmap_words(L); }

/* ---- construction ---- */

maskplan *maskplan_new(void) { return dam_calloc(1, sizeof(maskplan), "mask plan"); }

maskplan *maskplan_dense(void) {
    maskplan *p = maskplan_new();
    p->dense = true;
    return p;
}

static int32_t *dup_i32(const int32_t *a, size_t n) {
    if (a == NULL) return NULL;
    int32_t *b = dam_malloc(sizeof *b * n, "mask plan");
    memcpy(b, a, sizeof *b * n);
    return b;
}

maskplan *maskplan_copy(const maskplan *p) {
    maskplan *c = maskplan_new();
    *c = *p;
    c->cols = dup_i32(p->cols, (size_t)p->n_cols);
    c->diags = dup_i32(p->diags, (size_t)p->n_diags);
    c->blk_ptr = p->blk_ptr ? dup_i32(p->blk_ptr, (size_t)p->n_qblocks + 1) : NULL;
    c->blk_idx = p->blk_ptr ? dup_i32(p->blk_idx, (size_t)p->blk_ptr[p->n_qblocks]) : NULL;
    c->blk_bits = NULL;
    if (p->blk_bits) {
        const size_t w = (size_t)p->n_qblocks * (size_t)p->blk_bits_words;
        c->blk_bits = dam_malloc(sizeof(uint64_t) * w, "mask plan block bits");
        memcpy(c->blk_bits, p->blk_bits, sizeof(uint64_t) * w);
    }
    c->blk_bias = NULL;
    if (p->blk_bias && p->blk_ptr) {
        const size_t nb = (size_t)p->blk_ptr[p->n_qblocks];
        c->blk_bias = dam_malloc(sizeof(float) * (nb > 0 ? nb : 1), "mask plan bias");
        memcpy(c->blk_bias, p->blk_bias, sizeof(float) * nb);
    }
    c->bitmap = NULL;
    if (p->bitmap) {
        const size_t w = bitmap_words_total(p->bitmap_L);
        c->bitmap = dam_malloc(sizeof(uint64_t) * w, "mask plan bitmap");
        memcpy(c->bitmap, p->bitmap, sizeof(uint64_t) * w);
    }
    return c;
}

void maskplan_free(maskplan *p) {
    if (p == NULL) return;
    dam_free(p->cols);
    dam_free(p->diags);
    dam_free(p->blk_ptr);
    dam_free(p->blk_idx);
    dam_free(p->blk_bias);
    dam_free(p->blk_bits);
    dam_free(p->bitmap);
    dam_free(p);
}

void maskplan_set_cols(maskplan *p, const int32_t *cols, int n) {
    int m;
    int32_t *a = copy_sorted(cols, n, &m, "cols");
    dam_free(p->cols);
    p->cols = a;
    p->n_cols = m;
}

void maskplan_set_diags(maskplan *p, const int32_t *diags, int n) {
    int m;
    int32_t *a = copy_sorted(diags, n, &m, "diags");
    dam_free(p->diags);
    p->diags = a;
    p->n_diags = m;
}

/* Replaces the block part by the lists nptr / nidx (taken over; NULL, NULL to hold bits, set by the
 * caller), clearing the block bias and any block bits. */
static void replace_blocks(maskplan *p, int n_qblocks, int32_t *nptr, int32_t *nidx) {
    dam_free(p->blk_ptr);
    dam_free(p->blk_idx);
    dam_free(p->blk_bias);
    dam_free(p->blk_bits);
    p->blk_bias = NULL;
    p->blk_bits = NULL;
    p->blk_bits_words = 0;
    p->n_qblocks = n_qblocks;
    p->blk_ptr = nptr;
    p->blk_idx = nidx;
}

void maskplan_set_blocks(maskplan *p, int n_qblocks, const int32_t *ptr, const int32_t *idx) {
    if (n_qblocks < 0 || (n_qblocks > 0 && ptr == NULL))
        dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan blocks: n_qblocks = %d, ptr %s", n_qblocks,
                ptr ? "given" : "NULL");
    int32_t *nptr = NULL, *nidx = NULL;
    if (n_qblocks > 0) {
        for (int qb = 0; qb < n_qblocks; qb++)
            if (ptr[qb] < 0 || ptr[qb + 1] < ptr[qb])
                dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan blocks: ptr[%d] = %d, ptr[%d] = %d", qb, ptr[qb],
                        qb + 1, ptr[qb + 1]);
        const int total = ptr[n_qblocks] - ptr[0];
        if (total > 0 && idx == NULL) dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan blocks: idx is NULL");
        nptr = dam_malloc(sizeof *nptr * ((size_t)n_qblocks + 1), "mask plan blocks");
        nidx = dam_malloc(sizeof *nidx * (size_t)(total > 0 ? total : 1), "mask plan blocks");
        int w = 0;
        nptr[0] = 0;
        for (int qb = 0; qb < n_qblocks; qb++) {
            const int start = w;
            for (int i = ptr[qb]; i < ptr[qb + 1]; i++) {
                if (idx[i] < 0)
                    dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan blocks: idx[%d] = %d is negative", i, idx[i]);
                if (idx[i] <= qb) nidx[w++] = idx[i]; /* kb > qb: keys all after the block's rows */
            }
            w = start + sort_unique(nidx + start, w - start);
            nptr[qb + 1] = w;
        }
        nidx = dam_realloc(nidx, sizeof *nidx * (size_t)w, "mask plan blocks");
    }
    replace_blocks(p, n_qblocks, nptr, nidx);
}

/* The last key block query block qb can keep: min(qb, n_kblocks - 1) (-1: none). */
static int kept_bits_last(int qb, int n_kblocks) { return qb < n_kblocks - 1 ? qb : n_kblocks - 1; }

/* Word w of a row of block bits with the bits past key block `last` cleared. */
static uint64_t kept_bits_word(const uint64_t *row, int w, int last) {
    if (w < last / 64 || last % 64 == 63) return row[w];
    return row[w] & ((2ull << (last % 64)) - 1);
}

void maskplan_set_blocks_bits(maskplan *p, int n_qblocks, int n_kblocks, const uint64_t *bits) {
    maskplan_set_blocks_bits_heads(&p, 1, n_qblocks, n_kblocks, bits, MASKPLAN_BLOCKS_AUTO);
}

/* Kept blocks of row qb of a bit matrix (words per row) listed into out (when not NULL); returns
 * their number. */
static int64_t list_kept_bits(const uint64_t *row, int qb, int n_kblocks, int32_t *out) {
    const int last = kept_bits_last(qb, n_kblocks);
    int64_t n = 0;
    for (int w = 0; last >= 0 && w <= last / 64; w++) {
        uint64_t b = kept_bits_word(row, w, last);
        if (out == NULL) n += __builtin_popcountll(b);
        else
            for (; b; b &= b - 1) out[n++] = w * 64 + __builtin_ctzll(b);
    }
    return n;
}

enum { PARALLEL_WORDS = 1 << 16 }; /* maskplan_set_blocks_bits_heads: bit-matrix words worth threads */

/* Copies row qb's causal bits (key blocks <= kept_bits_last) into out[0 .. words), zeros past them;
 * returns how many are set. */
static int64_t copy_kept_bits(const uint64_t *row, int qb, int n_kblocks, int words, uint64_t *out) {
    const int last = kept_bits_last(qb, n_kblocks), lw = last < 0 ? -1 : last / 64;
    int64_t n = 0;
    for (int w = 0; w < words; w++) {
        const uint64_t b = w < lw ? row[w] : w == lw ? kept_bits_word(row, w, last) : 0;
        out[w] = b;
        n += __builtin_popcountll(b);
    }
    return n;
}

void maskplan_set_blocks_bits_heads(maskplan *const *plans, int n_plans, int n_qblocks, int n_kblocks,
                                    const uint64_t *bits, maskplan_blocks_form form) {
    if (n_plans < 0 || n_qblocks < 0 || n_kblocks < 0 || (n_plans > 0 && n_qblocks > 0 && n_kblocks > 0 && bits == NULL))
        dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan block bits: %d plans of %d x %d blocks, bits %s", n_plans,
                n_qblocks, n_kblocks, bits ? "given" : "NULL");
    if (n_qblocks == 0) {
        for (int h = 0; h < n_plans; h++)
            if (plans[h]) replace_blocks(plans[h], 0, NULL, NULL);
        return;
    }
    const size_t words = ((size_t)n_kblocks + 63) / 64, rows = (size_t)n_plans * (size_t)n_qblocks;
    int32_t **ptr = dam_calloc((size_t)n_plans, sizeof *ptr, "mask plan blocks");
    int32_t **idx = dam_calloc((size_t)n_plans, sizeof *idx, "mask plan blocks");
    uint64_t **kept = dam_calloc((size_t)n_plans, sizeof *kept, "mask plan block bits"); /* NULL: list only */
    int64_t *count = dam_malloc(sizeof *count * rows, "mask plan blocks"); /* [plan][qb] kept blocks */
    /* unless lists are asked for, each plan's causal bits are copied in the counting pass (the form
     * AUTO picks is usually bits for dense plans: one pass); plans that end up as lists are listed from
     * that copy, which is then freed */
    for (int h = 0; h < n_plans; h++)
        if (plans[h] && words > 0 && form != MASKPLAN_BLOCKS_LISTS)
            kept[h] = dam_malloc(sizeof(uint64_t) * words * (size_t)n_qblocks, "mask plan block bits");
    /* threads only for large matrices: a parallel region's wake-up (tens of us with a passive wait
     * policy) is more than a layer's bits at 32K take serially (9 heads x 512 rows x 8 words) */
    const bool par = rows * words >= PARALLEL_WORDS;
    /* 1. per row, the kept blocks (rows interleaved over the threads: later rows keep more), copied
     *    into the plan's bit rows (first touch spread over the threads too) */
#pragma omp parallel for schedule(static, 8) if (par)
    for (size_t r = 0; r < rows; r++) {
        const int h = (int)(r / (size_t)n_qblocks), qb = (int)(r % (size_t)n_qblocks);
        count[r] = !plans[h] || !words ? 0
                   : kept[h]           ? copy_kept_bits(bits + r * words, qb, n_kblocks, (int)words, kept[h] + (size_t)qb * words)
                                       : list_kept_bits(bits + r * words, qb, n_kblocks, NULL);
    }
    /* 2. per plan, the form; for lists the offsets and the index array */
    bool any_lists = false;
    for (int h = 0; h < n_plans; h++) {
        if (plans[h] == NULL) continue;
        const int64_t *c = count + (size_t)h * n_qblocks;
        int64_t total = 0;
        for (int qb = 0; qb < n_qblocks; qb++) total += c[qb];
        if (total > INT32_MAX) dam_die(DAM_EXIT_RUNTIME, "mask plan blocks: %lld kept blocks are too many", (long long)total);
        const bool as_bits = form == MASKPLAN_BLOCKS_BITS ||
                             (form == MASKPLAN_BLOCKS_AUTO && sizeof(uint64_t) * words * (size_t)n_qblocks <= sizeof(int32_t) * (size_t)total);
        if (words > 0 && as_bits) continue; /* held as bits (kept[h]): no lists */
        ptr[h] = dam_malloc(sizeof(int32_t) * ((size_t)n_qblocks + 1), "mask plan blocks");
        idx[h] = dam_malloc(sizeof(int32_t) * (size_t)(total > 0 ? total : 1), "mask plan blocks"); /* never NULL */
        ptr[h][0] = 0;
        for (int qb = 0; qb < n_qblocks; qb++) ptr[h][qb + 1] = ptr[h][qb] + (int32_t)c[qb];
        any_lists = true;
    }
    /* 3. the lists, each row into its own range (from the plan's bit copy when there is one) */
    if (any_lists && words > 0) {
#pragma omp parallel for schedule(static, 8) if (par)
        for (size_t r = 0; r < rows; r++) {
            const int h = (int)(r / (size_t)n_qblocks), qb = (int)(r % (size_t)n_qblocks);
            if (idx[h])
                list_kept_bits(kept[h] ? kept[h] + (size_t)qb * words : bits + r * words, qb, n_kblocks, idx[h] + ptr[h][qb]);
        }
    }
    for (int h = 0; h < n_plans; h++)
        if (plans[h]) {
            if (idx[h]) dam_free(kept[h]), kept[h] = NULL; /* listed: the copy is not kept */
            replace_blocks(plans[h], n_qblocks, ptr[h], idx[h]);
            plans[h]->blk_bits = kept[h];
            plans[h]->blk_bits_words = kept[h] ? (int32_t)words : 0;
        }
    dam_free(kept);
    dam_free(count);
    dam_free(idx);
    dam_free(ptr);
}

int64_t maskplan_block_row(const maskplan *p, int64_t qb, uint64_t *row, int words) {
    if (qb < 0 || qb >= p->n_qblocks) return 0;
    if (p->blk_bits) {
        const uint64_t *src = p->blk_bits + qb * p->blk_bits_words;
        for (int w = 0; w < words && w < p->blk_bits_words; w++) row[w] |= src[w];
        return blocks_listed(p, qb);
    }
    for (int32_t i = p->blk_ptr[qb]; i < p->blk_ptr[qb + 1]; i++)
        if (p->blk_idx[i] < 64 * words) row[p->blk_idx[i] / 64] |= 1ull << (p->blk_idx[i] % 64);
    return p->blk_ptr[qb + 1] - p->blk_ptr[qb];
}

void maskplan_blocks_to_lists(maskplan *p) {
    if (p->blk_bits == NULL) return;
    int64_t total = 0;
    for (int qb = 0; qb < p->n_qblocks; qb++) total += blocks_listed(p, qb);
    int32_t *nptr = dam_malloc(sizeof(int32_t) * ((size_t)p->n_qblocks + 1), "mask plan blocks");
    int32_t *nidx = dam_malloc(sizeof(int32_t) * (size_t)(total > 0 ? total : 1), "mask plan blocks");
    int n = 0;
    nptr[0] = 0;
    for (int qb = 0; qb < p->n_qblocks; qb++) {
        int32_t kb;
        for (blk_iter it = blk_iter_of(p, qb); blk_next(&it, &kb);) nidx[n++] = kb;
        nptr[qb + 1] = n;
    }
    replace_blocks(p, p->n_qblocks, nptr, nidx);
}

void maskplan_set_block_bias(maskplan *p, const float *bias) {
    if (bias) maskplan_blocks_to_lists(p); /* a bias is parallel to blk_idx */
    const int total = p->blk_ptr ? p->blk_ptr[p->n_qblocks] : 0;
    bool any = false;
    for (int i = 0; bias && i < total; i++) {
        if (!isfinite(bias[i]) || bias[i] > 0)
            dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan block bias[%d] = %g (must be finite and <= 0)", i,
                    (double)bias[i]);
        any |= bias[i] != 0;
    }
    dam_free(p->blk_bias);
    p->blk_bias = NULL;
    if (!any) return;
    p->blk_bias = dam_malloc(sizeof(float) * (size_t)total, "mask plan bias");
    for (int i = 0; i < total; i++) p->blk_bias[i] = bias[i] == 0 ? 0.0f : bias[i]; /* -0.0 -> 0 */
}

void maskplan_set_block_bias_matrix(maskplan *p, const float *bias, int n_kblocks) {
    if (bias) maskplan_blocks_to_lists(p);
    const int total = p->blk_ptr ? p->blk_ptr[p->n_qblocks] : 0;
    if (bias == NULL || total == 0) {
        maskplan_set_block_bias(p, NULL);
        return;
    }
    float *b = dam_malloc(sizeof(float) * (size_t)total, "mask plan bias");
    for (int qb = 0; qb < p->n_qblocks; qb++)
        for (int i = p->blk_ptr[qb]; i < p->blk_ptr[qb + 1]; i++) {
            if (p->blk_idx[i] >= n_kblocks)
                dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan block bias matrix: key block %d >= %d", p->blk_idx[i],
                        n_kblocks);
            b[i] = bias[(size_t)qb * n_kblocks + p->blk_idx[i]];
        }
    maskplan_set_block_bias(p, b);
    dam_free(b);
}

bool maskplan_has_bias(const maskplan *p) { return p->blk_bias != NULL && !p->dense; }

void maskplan_set_bitmap(maskplan *p, int L, const uint64_t *bits) {
    if (L < 0 || (L > 0 && bits == NULL))
        dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan bitmap: L = %d, bits %s", L, bits ? "given" : "NULL");
    uint64_t *b = NULL;
    if (L > 0) {
        const int W = maskplan_bitmap_words(L);
        b = dam_malloc(sizeof *b * bitmap_words_total(L), "mask plan bitmap");
        memcpy(b, bits, sizeof *b * bitmap_words_total(L));
        for (int r = 0; r < L; r++) {
            uint64_t *row = b + (size_t)r * W;
            row[r / 64] &= causal_word(r, (r / 64) * 64);
            for (int w = r / 64 + 1; w < W; w++) row[w] = 0;
        }
    }
    dam_free(p->bitmap);
    p->bitmap = b;
    p->bitmap_L = L;
}

/* ---- queries ---- */

bool maskplan_kept(const maskplan *p, int64_t pos, int64_t j) {
    if (j < 0 || j > pos) return false;
    if (p->dense) return true;
    if (pos < p->bitmap_L) {
        const uint64_t w = p->bitmap[pos * maskplan_bitmap_words(p->bitmap_L) + j / 64];
        return (w >> (j % 64)) & 1;
    }
    if (contains(p->cols, p->n_cols, j)) return true;
    if (contains(p->diags, p->n_diags, pos - j)) return true;
    return block_listed(p, pos / MASKPLAN_BLOCK, j / MASKPLAN_BLOCK);
}

uint64_t maskplan_row_word(const maskplan *p, int64_t pos, int64_t j0) {
    if (j0 < 0 || j0 % 64 != 0)
        dam_die(DAM_EXIT_RUNTIME, "internal error: maskplan_row_word: j0 = %lld is not a multiple of 64", (long long)j0);
    const uint64_t causal = causal_word(pos, j0);
    if (causal == 0 || p->dense) return causal;
    if (pos < p->bitmap_L) /* j0 <= pos < L: the word lies inside the bitmap row */
        return p->bitmap[pos * maskplan_bitmap_words(p->bitmap_L) + j0 / 64] & causal;
    uint64_t w = 0;
    if (block_listed(p, pos / MASKPLAN_BLOCK, j0 / MASKPLAN_BLOCK)) return causal;
    for (int i = lower_bound(p->cols, p->n_cols, j0); i < p->n_cols && p->cols[i] < j0 + 64; i++)
        w |= 1ull << (p->cols[i] - j0);
    /* key pos - r in [j0, j0 + 63]  <=>  r in [pos - j0 - 63, pos - j0] */
    const int64_t rhi = pos - j0;
    for (int i = lower_bound(p->diags, p->n_diags, rhi - 63); i < p->n_diags && p->diags[i] <= rhi; i++)
        w |= 1ull << (rhi - p->diags[i]);
    return w & causal;
}

/* Index into blk_idx of the block pair (pos / 64, kb), or -1 if the blocks part does not list it.
 * Only for plans with a bias, whose blocks are lists (maskplan_set_block_bias converts bits). */
static int block_index(const maskplan *p, int64_t pos, int64_t kb) {
    const int64_t qb = pos / MASKPLAN_BLOCK;
    if (qb >= p->n_qblocks || p->blk_ptr == NULL) return -1;
    const int a = p->blk_ptr[qb], b = p->blk_ptr[qb + 1];
    const int i = a + lower_bound(p->blk_idx + a, b - a, kb);
    return i < b && p->blk_idx[i] == kb ? i : -1;
}

/* The bits of keys j0 .. j0+63 of row pos that a column or a diagonal keeps (no causality). */
static uint64_t cd_word(const maskplan *p, int64_t pos, int64_t j0) {
    uint64_t w = 0;
    for (int i = lower_bound(p->cols, p->n_cols, j0); i < p->n_cols && p->cols[i] < j0 + 64; i++)
        w |= 1ull << (p->cols[i] - j0);
    const int64_t rhi = pos - j0;
    for (int i = lower_bound(p->diags, p->n_diags, rhi - 63); i < p->n_diags && p->diags[i] <= rhi; i++)
        w |= 1ull << (rhi - p->diags[i]);
    return w;
}

uint64_t maskplan_row_word_bias(const maskplan *p, int64_t pos, int64_t j0, uint64_t *biased, float *bias) {
    *biased = 0;
    *bias = 0.0f;
    if (p->blk_bias == NULL || p->dense || pos < p->bitmap_L || j0 < 0 || j0 % 64 != 0 || j0 > pos)
        return maskplan_row_word(p, pos, j0); /* (maskplan_row_word reports a bad j0) */
    const int i = block_index(p, pos, j0 / MASKPLAN_BLOCK);
    if (i < 0 || p->blk_bias[i] == 0) return maskplan_row_word(p, pos, j0);
    const uint64_t causal = causal_word(pos, j0); /* the listed block keeps every causal key */
    *biased = causal & ~cd_word(p, pos, j0);
    *bias = *biased ? p->blk_bias[i] : 0.0f;
    return causal;
}

float maskplan_bias(const maskplan *p, int64_t pos, int64_t j) {
    if (!maskplan_kept(p, pos, j)) return -INFINITY;
    if (p->blk_bias == NULL || p->dense || pos < p->bitmap_L) return 0.0f;
    const int i = block_index(p, pos, j / MASKPLAN_BLOCK);
    if (i < 0) return 0.0f;
    if (contains(p->cols, p->n_cols, j) || contains(p->diags, p->n_diags, pos - j)) return 0.0f;
    return p->blk_bias[i];
}

/* Kept keys of a bitmap row pos < L. */
static int64_t bitmap_row_count(const maskplan *p, int64_t pos) {
    const uint64_t *row = p->bitmap + pos * maskplan_bitmap_words(p->bitmap_L);
    const int64_t last = pos / 64;
    int64_t c = 0;
    for (int64_t w = 0; w < last; w++) c += __builtin_popcountll(row[w]);
    return c + __builtin_popcountll(row[last] & causal_word(pos, last * 64));
}

/* The distinct points of cols <= pos and {pos - r : r in diags, r <= pos} whose key block is not
 * listed for pos's query block: by a merge of the two ascending point streams; a point's block is
 * tested in `marks` (one byte per key block) when given, else in the blocks part (block_listed). */
static int64_t cd_points_outside_blocks(const maskplan *p, int64_t pos, const uint8_t *marks) {
    const int nc = upper_bound(p->cols, p->n_cols, pos);
    int ic = 0, id = upper_bound(p->diags, p->n_diags, pos) - 1; /* diags[id] <= pos, walked downwards */
    int64_t count = 0, last = -1;
    while (ic < nc || id >= 0) {
        int64_t x;
        if (id < 0 || (ic < nc && p->cols[ic] <= pos - p->diags[id])) x = p->cols[ic++];
        else x = pos - p->diags[id--];
        if (x == last) continue;
        last = x;
        const int64_t kb = x / MASKPLAN_BLOCK;
        count += !(marks ? marks[kb] : block_listed(p, pos / MASKPLAN_BLOCK, kb));
    }
    return count;
}

/* Kept keys of a row pos >= L: |cols <= pos  U  {pos - r : r in diags, r <= pos}  U  key blocks|:
 * the listed blocks' causal keys plus the points of cols and diags outside them. */
static int64_t struct_row_count(const maskplan *p, int64_t pos) {
    int64_t count = 0;
    int32_t kb;
    for (blk_iter it = blk_iter_of(p, pos / MASKPLAN_BLOCK); blk_next(&it, &kb);) {
        const int64_t s = (int64_t)kb * MASKPLAN_BLOCK;
        if (s > pos) break;
        const int64_t e = s + MASKPLAN_BLOCK - 1 < pos ? s + MASKPLAN_BLOCK - 1 : pos;
        count += e - s + 1;
    }
    return count + cd_points_outside_blocks(p, pos, NULL);
}

int64_t maskplan_row_count(const maskplan *p, int64_t pos) {
    if (pos < 0) return 0;
    if (p->dense) return pos + 1;
    if (pos < p->bitmap_L) return bitmap_row_count(p, pos);
    return struct_row_count(p, pos);
}

/* Kept pairs over rows a .. b-1 (L <= a < b), none of which has a block part: a row p keeps
 * #{c <= p} + #{r <= p} - #{c : p - c in diags}. Summed over the rows:
 *   sum_p #{c <= p} = sum_{c < b} (b - max(c, a)), the same for diags, minus the number of pairs
 *   (c, r) with a <= c + r < b (each such pair is one key counted twice, in row c + r). */
static int64_t count_cd_rows(const maskplan *p, int64_t a, int64_t b) {
    int64_t total = 0;
    for (int i = 0; i < p->n_cols && p->cols[i] < b; i++) total += b - (p->cols[i] > a ? p->cols[i] : a);
    for (int i = 0; i < p->n_diags && p->diags[i] < b; i++) total += b - (p->diags[i] > a ? p->diags[i] : a);
    for (int i = 0; i < p->n_cols && p->cols[i] < b; i++) {
        const int64_t c = p->cols[i];
        total -= lower_bound(p->diags, p->n_diags, b - c) - lower_bound(p->diags, p->n_diags, a - c);
    }
    return total;
}

static bool qblock_has_blocks(const maskplan *p, int64_t qb) { return blocks_listed(p, qb) > 0; }

/* Kept keys of the rows pos .. end-1 (L <= pos, end <= 64 (qb + 1)) of a query block qb with a
 * block part: per row, the listed blocks' causal keys (64 per block below qb, pos - 64 qb + 1 for
 * qb itself) plus the points of cols and diags outside them (cd_points_outside_blocks) with
 * an O(1) block test (`marks`, one byte per key block 0 .. qb, zero on entry and on return). So a
 * query block costs O(its blocks + 64 (|cols| + |diags|)), not O(64 · its blocks). */
static int64_t qblock_rows_count(const maskplan *p, int64_t qb, int64_t pos, int64_t end, uint8_t *marks) {
    int64_t below = 0; /* listed blocks below qb */
    int32_t kb;
    for (blk_iter it = blk_iter_of(p, qb); blk_next(&it, &kb);) {
        marks[kb] = 1;
        below += kb < qb;
    }
    const bool diag_block = marks[qb];
    int64_t total = 0;
    for (; pos < end; pos++)
        total += below * MASKPLAN_BLOCK + (diag_block ? pos - qb * MASKPLAN_BLOCK + 1 : 0) +
                 cd_points_outside_blocks(p, pos, marks);
    for (blk_iter it = blk_iter_of(p, qb); blk_next(&it, &kb);) marks[kb] = 0;
    return total;
}

int64_t maskplan_kept_pairs(const maskplan *p, int64_t n) {
    if (n <= 0) return 0;
    if (p->dense) return n * (n + 1) / 2;
    int64_t total = 0, pos = 0;
    for (; pos < n && pos < p->bitmap_L; pos++) total += bitmap_row_count(p, pos);
    uint8_t *marks = NULL; /* qblock_rows_count's block bytes, made on first use */
    while (pos < n) {
        const int64_t qb = pos / MASKPLAN_BLOCK;
        if (qblock_has_blocks(p, qb)) {
            const int64_t end = (qb + 1) * MASKPLAN_BLOCK < n ? (qb + 1) * MASKPLAN_BLOCK : n;
            if (!marks) marks = dam_calloc((size_t)(n + MASKPLAN_BLOCK - 1) / MASKPLAN_BLOCK, 1, "mask plan count");
            total += qblock_rows_count(p, qb, pos, end, marks);
            pos = end;
        } else {
            int64_t q2 = qb + 1;
            while (q2 < p->n_qblocks && !qblock_has_blocks(p, q2)) q2++;
            const int64_t end = q2 < p->n_qblocks && q2 * MASKPLAN_BLOCK < n ? q2 * MASKPLAN_BLOCK : n;
            total += count_cd_rows(p, pos, end);
            pos = end;
        }
    }
    dam_free(marks);
    return total;
}

double maskplan_density(const maskplan *p, int64_t n) {
    if (n <= 0) return 0.0;
    return (double)maskplan_kept_pairs(p, n) / ((double)n * (double)(n + 1) / 2.0);
}

void maskplan_mark_key_blocks(const maskplan *p, int64_t p0, int64_t p1, uint8_t *visit, int64_t n_kblocks) {
    if (p0 < 0) p0 = 0;
    if (p1 < p0) return;
    if (p->dense) {
        for (int64_t kb = 0; kb <= p1 / 64 && kb < n_kblocks; kb++) visit[kb] = 1;
        return;
    }
    const int W = maskplan_bitmap_words(p->bitmap_L);
    for (int64_t pos = p0; pos <= p1 && pos < p->bitmap_L; pos++) {
        const uint64_t *row = p->bitmap + pos * W;
        for (int64_t w = 0; w <= pos / 64 && w < n_kblocks; w++)
            if (row[w] & causal_word(pos, w * 64)) visit[w] = 1;
    }
    const int64_t a = p0 > p->bitmap_L ? p0 : p->bitmap_L; /* first structural row */
    if (a > p1) return;
    /* column c is kept by row p1 if c <= p1 */
    for (int i = 0; i < p->n_cols && p->cols[i] <= p1; i++)
        if (p->cols[i] / 64 < n_kblocks) visit[p->cols[i] / 64] = 1;
    /* diagonal r keeps keys a - r .. p1 - r (those >= 0) */
    for (int i = 0; i < p->n_diags && p->diags[i] <= p1; i++) {
        const int64_t r = p->diags[i], lo = a - r > 0 ? a - r : 0, hi = p1 - r;
        for (int64_t kb = lo / 64; kb <= hi / 64 && kb < n_kblocks; kb++) visit[kb] = 1;
    }
    /* a key block kb <= qb is kept by every row of query block qb */
    for (int64_t qb = a / MASKPLAN_BLOCK; qb <= p1 / MASKPLAN_BLOCK && qb < p->n_qblocks; qb++) {
        int32_t kb;
        for (blk_iter it = blk_iter_of(p, qb); blk_next(&it, &kb);)
            if (kb <= qb && kb < n_kblocks) visit[kb] = 1;
    }
}

/* ---- checks ---- */

static _Thread_local char validate_msg[192];

#define FAIL(...)                                                         \
    do {                                                                  \
        snprintf(validate_msg, sizeof validate_msg, "mask plan: " __VA_ARGS__); \
        return validate_msg;                                              \
    } while (0)

static const char *check_list(const int32_t *a, int n, const char *what) {
    if (n < 0) FAIL("%s count %d is negative", what, n);
    if (n > 0 && a == NULL) FAIL("%s has %d entries but no array", what, n);
    for (int i = 0; i < n; i++) {
        if (a[i] < 0) FAIL("%s[%d] = %d is negative", what, i, a[i]);
        if (i > 0 && a[i] <= a[i - 1]) FAIL("%s not sorted and unique at index %d (%d after %d)", what, i, a[i], a[i - 1]);
    }
    return NULL;
}

const char *maskplan_validate(const maskplan *p, int64_t n) {
    if (p == NULL) FAIL("NULL plan");
    if (n < 0) FAIL("negative sequence length %lld", (long long)n);
    const char *e;
    if ((e = check_list(p->cols, p->n_cols, "cols"))) return e;
    if ((e = check_list(p->diags, p->n_diags, "diags"))) return e;
    if (p->n_qblocks < 0) FAIL("n_qblocks = %d is negative", p->n_qblocks);
    if (p->blk_bits) {
        if (p->n_qblocks <= 0 || p->blk_bits_words < 1 || p->blk_ptr || p->blk_idx)
            FAIL("block bits with %d query blocks, %d words a row and%s lists", p->n_qblocks, p->blk_bits_words,
                 p->blk_ptr || p->blk_idx ? "" : " no");
        for (int qb = 0; qb < p->n_qblocks; qb++) {
            const uint64_t *row = p->blk_bits + (size_t)qb * p->blk_bits_words;
            for (int w = 0; w < p->blk_bits_words; w++)
                if (row[w] & ~causal_word(qb, (int64_t)w * 64))
                    FAIL("query block %d: block bits past the diagonal (word %d)", qb, w);
        }
    } else if (p->blk_bits_words != 0) {
        FAIL("blk_bits_words = %d without block bits", p->blk_bits_words);
    } else if (p->n_qblocks > 0) {
        if (p->blk_ptr == NULL) FAIL("%d query blocks but no blk_ptr", p->n_qblocks);
        if (p->blk_ptr[0] != 0) FAIL("blk_ptr[0] = %d, not 0", p->blk_ptr[0]);
        for (int qb = 0; qb < p->n_qblocks; qb++) {
            const int a = p->blk_ptr[qb], b = p->blk_ptr[qb + 1];
            if (b < a) FAIL("blk_ptr decreases at query block %d (%d after %d)", qb, b, a);
            if (b > a && p->blk_idx == NULL) FAIL("blocks listed but no blk_idx");
            for (int i = a; i < b; i++) {
                const int32_t kb = p->blk_idx[i];
                if (kb < 0 || kb > qb) FAIL("query block %d lists key block %d (allowed 0 .. %d)", qb, kb, qb);
                if (i > a && kb <= p->blk_idx[i - 1]) FAIL("query block %d: key blocks not sorted and unique", qb);
            }
        }
    }
    if (p->blk_bias) {
        if (p->n_qblocks <= 0 || p->blk_ptr == NULL || p->blk_ptr[p->n_qblocks] == 0)
            FAIL("a block bias without listed blocks");
        for (int i = 0; i < p->blk_ptr[p->n_qblocks]; i++)
            if (!isfinite(p->blk_bias[i]) || p->blk_bias[i] > 0)
                FAIL("block bias[%d] = %g (must be finite and <= 0)", i, (double)p->blk_bias[i]);
    }
    if (p->bitmap_L < 0) FAIL("bitmap_L = %d is negative", p->bitmap_L);
    if (p->bitmap_L > 0 && p->bitmap == NULL) FAIL("bitmap_L = %d but no bitmap", p->bitmap_L);
    const int L = p->bitmap_L, W = maskplan_bitmap_words(L);
    for (int r = 0; r < L; r++) {
        const uint64_t *row = p->bitmap + (size_t)r * W;
        bool above = (row[r / 64] & ~causal_word(r, (r / 64) * 64)) != 0;
        for (int w = r / 64 + 1; w < W; w++) above |= row[w] != 0;
        if (above) FAIL("bitmap row %d has a bit above the diagonal", r);
    }
    if (p->dense) return NULL;

    /* empty rows: bitmap region first (the row's bits, causality already checked) */
    for (int64_t r = 0; r < n && r < L; r++) {
        const uint64_t *row = p->bitmap + r * W;
        bool any = false;
        for (int64_t w = 0; w <= r / 64 && !any; w++) any = row[w] != 0;
        if (!any) FAIL("row %lld (inside the %d x %d bitmap) keeps no key", (long long)r, L, L);
    }
    /* structural rows p >= L: col c keeps every row p >= c, diag r every row p >= r, and a non-empty
     * key-block list every row of its query block (its key blocks are <= the query block). So only
     * rows below min(cols[0], diags[0]) can be empty, and only where their query block has no list. */
    int64_t first_cd = n;
    if (p->n_cols > 0 && p->cols[0] < first_cd) first_cd = p->cols[0];
    if (p->n_diags > 0 && p->diags[0] < first_cd) first_cd = p->diags[0];
    for (int64_t r = L; r < first_cd;) {
        const int64_t qb = r / MASKPLAN_BLOCK;
        if (!qblock_has_blocks(p, qb)) FAIL("row %lld keeps no key", (long long)r);
        r = (qb + 1) * MASKPLAN_BLOCK;
    }
    return NULL;
}

size_t maskplan_bytes(const maskplan *p) {
    size_t b = sizeof *p + sizeof(int32_t) * ((size_t)p->n_cols + (size_t)p->n_diags);
    if (p->blk_ptr) b += sizeof(int32_t) * ((size_t)p->n_qblocks + 1 + (size_t)p->blk_ptr[p->n_qblocks]);
    if (p->blk_ptr && p->blk_bias) b += sizeof(float) * (size_t)p->blk_ptr[p->n_qblocks];
    if (p->bitmap) b += sizeof(uint64_t) * bitmap_words_total(p->bitmap_L);
    if (p->blk_bits) b += sizeof(uint64_t) * (size_t)p->n_qblocks * (size_t)p->blk_bits_words;
    return b;
}
