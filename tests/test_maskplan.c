/* test_maskplan.c — kernels/maskplan.c against a brute-force mask materialised here from the rule
 * in maskplan.h, written independently from raw (unsorted, duplicated, out-of-causal-range) parts:
 * every plan kind (dense, cols, diags, blocks, bitmap, combinations, bitmap + structural parts with
 * rows inside and outside the bitmap region, L not a multiple of 64); kept, row_word, row_count,
 * kept_pairs, density, mark_key_blocks, validate, copy, bytes; validate on broken plans (direct
 * struct edits, empty rows); setters dying on negative input; plans at n = 1,000,000 against a
 * closed-form count and a row-by-row sum; no leaks.
 * Soft masks (block bias): maskplan_bias and maskplan_row_word_bias against the rule written here
 * (bias only for pairs kept by the blocks part alone, outside the bitmap region, not dense) on
 * random plans of every kind with biases down to log(1e-6); the kept set, counts and density do
 * not change; copy, bytes, validate and the setters (finite, <= 0; -0.0 stored as 0; all zeros or
 * maskplan_set_blocks clear it).
 * Run: make build/tests/test_maskplan && build/tests/test_maskplan */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/timer.h"
#include "kernels/maskplan.h"
#include "ref_maskplan.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) { /* xorshift64* */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static int irand(int n) { return n <= 0 ? 0 : (int)((next_u64() >> 33) % (uint64_t)n); } /* [0, n) */


enum { K_COLS = 1, K_DIAGS = 2, K_BLOCKS = 4, K_BITMAP = 8, K_DENSE = 16 };

/* A random spec for sequences of about n tokens. */
static spec make_spec(int kinds, int n, int L) {
    spec s;
    memset(&s, 0, sizeof s);
    s.dense = (kinds & K_DENSE) != 0;
    if (kinds & K_COLS) {
        s.ncols = 1 + irand(20);
        for (int i = 0; i < s.ncols; i++) s.cols[i] = irand(3) == 0 ? irand(8) : irand(n + 10);
        if (s.ncols > 2) s.cols[1] = s.cols[0]; /* a duplicate */
    }
    if (kinds & K_DIAGS) {
        s.ndiags = 1 + irand(24);
        for (int i = 0; i < s.ndiags; i++) s.diags[i] = irand(2) ? irand(70) : irand(n + 10);
        if (s.ndiags > 3) s.diags[3] = s.diags[2];
    }
    if (kinds & K_BLOCKS) {
        s.nqb = (n + 63) / 64 - irand(2); /* sometimes the last query blocks have no block part */
        if (s.nqb < 1) s.nqb = 1;
        s.ptr = malloc(sizeof(int32_t) * (s.nqb + 1));
        s.idx = malloc(sizeof(int32_t) * (s.nqb * 6 + 1));
        s.ptr[0] = 0;
        int w = 0;
        for (int qb = 0; qb < s.nqb; qb++) {
            int cnt = irand(4) == 0 ? 0 : irand(6); /* some query blocks with no list */
            for (int i = 0; i < cnt; i++) s.idx[w++] = irand(qb + 3); /* may exceed qb: dropped */
            if (cnt >= 2) s.idx[w - 1] = s.idx[w - 2];
            s.ptr[qb + 1] = w;
        }
    }
    if (kinds & K_BITMAP) {
        s.L = L;
        int W = (L + 63) / 64;
        s.bits = malloc(sizeof(uint64_t) * L * W);
        for (int i = 0; i < L * W; i++) s.bits[i] = next_u64() & next_u64(); /* ~25% bits, above-diagonal too */
        int r = irand(L);
        for (int w = 0; w < W; w++) s.bits[r * W + w] = 0; /* an empty bitmap row */
    }
    return s;
}

static void free_spec(spec *s) {
    free(s->ptr);
    free(s->idx);
    free(s->bits);
}

/* The spec's plan; with as_bits, its blocks held as bits (maskplan_set_blocks_bits_heads, form BITS,
 * from a bit matrix of the listed blocks; those past the query block are dropped either way). */
static maskplan *build(const spec *s, bool as_bits) {
    maskplan *p = s->dense ? maskplan_dense() : maskplan_new();
    if (s->ncols) maskplan_set_cols(p, s->cols, s->ncols);
    if (s->ndiags) maskplan_set_diags(p, s->diags, s->ndiags);
    if (s->nqb && !as_bits) maskplan_set_blocks(p, s->nqb, s->ptr, s->idx);
    if (s->nqb && as_bits) {
        const int nkb = s->nqb + 3, W = (nkb + 63) / 64; /* spec lists key blocks up to qb + 2 */
        uint64_t *m = calloc((size_t)s->nqb * W, sizeof(uint64_t));
        for (int qb = 0; qb < s->nqb; qb++)
            for (int i = s->ptr[qb]; i < s->ptr[qb + 1]; i++) m[(size_t)qb * W + s->idx[i] / 64] |= 1ull << (s->idx[i] % 64);
        maskplan_set_blocks_bits_heads(&p, 1, s->nqb, nkb, m, MASKPLAN_BLOCKS_BITS);
        free(m);
    }
    if (s->L) maskplan_set_bitmap(p, s->L, s->bits);
    return p;
}

/* Everything about one plan against the brute-force n x n mask (as_bits: its blocks held as bits). */
static void check_plan(const spec *s, int n, const char *name_lists, bool as_bits) {
    char name[160];
    snprintf(name, sizeof name, "%s%s", name_lists, as_bits ? " (blocks as bits)" : "");
    maskplan *p = build(s, as_bits);
    CHECK(!as_bits || !s->nqb || (p->blk_bits && !p->blk_ptr), "%s: blocks not held as bits", name);
    uint8_t *mask = malloc((size_t)n * n);
    long *rowc = malloc(sizeof(long) * n);
    for (int i = 0; i < n; i++) {
        rowc[i] = 0;
        for (int j = 0; j < n; j++) rowc[i] += mask[(long)i * n + j] = (uint8_t)ref_kept(s, i, j);
    }
    int bad_kept = 0, bad_word = 0, bad_count = 0;
    for (int i = 0; i < n; i++) {
        for (int j = -1; j <= n; j++) bad_kept += maskplan_kept(p, i, j) != (j >= 0 && j < n ? mask[(long)i * n + j] : 0);
        for (int j0 = 0; j0 < n + 64; j0 += 64) {
            uint64_t want = 0;
            for (int t = 0; t < 64; t++)
                if (j0 + t < n && mask[(long)i * n + j0 + t]) want |= 1ull << t;
            bad_word += maskplan_row_word(p, i, j0) != want;
        }
        bad_count += maskplan_row_count(p, i) != rowc[i];
    }
    CHECK(bad_kept == 0, "%s: %d kept() mismatches", name, bad_kept);
    CHECK(bad_word == 0, "%s: %d row_word() mismatches", name, bad_word);
    CHECK(bad_count == 0, "%s: %d row_count() mismatches", name, bad_count);

    /* kept_pairs and density for every prefix length, validate's empty-row verdict likewise */
    long pairs = 0;
    int bad_pairs = 0, bad_valid = 0, first_empty = -1;
    for (int m = 0; m <= n; m++) {
        if (m > 0) {
            pairs += rowc[m - 1];
            if (rowc[m - 1] == 0 && first_empty < 0) first_empty = m - 1;
        }
        if (maskplan_kept_pairs(p, m) != pairs) {
            if (bad_pairs++ == 0)
                fprintf(stderr, "  %s: kept_pairs(%d) = %lld, want %ld\n", name, m, (long long)maskplan_kept_pairs(p, m),
                        pairs);
        }
        const char *v = maskplan_validate(p, m);
        if ((v == NULL) != (first_empty < 0) || (v && !strstr(v, "keeps no key"))) {
            if (bad_valid++ == 0) fprintf(stderr, "  %s: validate(%d) = %s, first empty row %d\n", name, m, v ? v : "NULL", first_empty);
        }
    }
    CHECK(bad_pairs == 0, "%s: %d kept_pairs() mismatches", name, bad_pairs);
    CHECK(bad_valid == 0, "%s: %d validate() mismatches", name, bad_valid);
    double want_density = (double)pairs / ((double)n * (n + 1) / 2);
    CHECK_NEAR(maskplan_density(p, n), want_density, 0, 1e-12, "%s: density %.15g, want %.15g", name,
               maskplan_density(p, n), want_density);

    /* mark_key_blocks: exactly the key blocks some row of p0 .. p1 keeps; nothing written past n_kblocks */
    int nkb = (n + 63) / 64, bad_mark = 0;
    uint8_t *vis = malloc(nkb + 16);
    for (int trial = 0; trial < 60; trial++) {
        int p0 = irand(n), p1 = p0 + irand(trial < 30 ? 40 : n);
        if (p1 >= n) p1 = n - 1;
        int lim = trial % 7 == 0 ? irand(nkb + 1) : nkb; /* sometimes fewer key blocks than causal */
        memset(vis, 0, nkb + 16);
        maskplan_mark_key_blocks(p, p0, p1, vis, lim);
        for (int kb = 0; kb < nkb + 16; kb++) {
            int want = 0;
            for (int i = p0; i <= p1 && kb < lim && !want; i++)
                for (int j = kb * 64; j < kb * 64 + 64 && j < n && !want; j++) want = mask[(long)i * n + j];
            bad_mark += vis[kb] != want;
        }
    }
    CHECK(bad_mark == 0, "%s: %d mark_key_blocks() mismatches", name, bad_mark);
    free(vis);

    /* structural checks pass; a copy behaves the same and holds the same bytes */
    const char *v = maskplan_validate(p, 0);
    CHECK(v == NULL, "%s: validate(0) = %s", name, v);
    maskplan *c = maskplan_copy(p);
    CHECK(maskplan_kept_pairs(c, n) == pairs, "%s: copy differs", name);
    CHECK(maskplan_bytes(c) == maskplan_bytes(p), "%s: copy bytes %zu vs %zu", name, maskplan_bytes(c), maskplan_bytes(p));
    size_t want_bytes = sizeof(maskplan) + 4 * ((size_t)p->n_cols + p->n_diags) +
                        (p->blk_ptr ? 4 * ((size_t)p->n_qblocks + 1 + p->blk_ptr[p->n_qblocks]) : 0) +
                        8 * (size_t)p->bitmap_L * ((p->bitmap_L + 63) / 64) + 8 * (size_t)p->n_qblocks * p->blk_bits_words;
    CHECK(maskplan_bytes(p) == want_bytes, "%s: bytes %zu, want %zu", name, maskplan_bytes(p), want_bytes);
    maskplan_free(c);
    maskplan_free(p);
    free(mask);
    free(rowc);
}

static void test_random_plans(void) {
    struct { int kinds, n, L; const char *name; } cases[] = {
        {K_DENSE, 130, 0, "dense"},
        {K_DENSE | K_COLS | K_BITMAP, 130, 70, "dense with ignored parts"},
        {0, 70, 0, "empty"},
        {K_COLS, 300, 0, "cols"},
        {K_DIAGS, 300, 0, "diags"},
        {K_BLOCKS, 300, 0, "blocks"},
        {K_BITMAP, 200, 200, "bitmap n = L"},
        {K_BITMAP, 150, 200, "bitmap n < L"},
        {K_BITMAP, 230, 100, "bitmap n > L (rows beyond empty)"},
        {K_COLS | K_DIAGS, 333, 0, "cols + diags"},
        {K_COLS | K_BLOCKS, 333, 0, "cols + blocks"},
        {K_DIAGS | K_BLOCKS, 333, 0, "diags + blocks"},
        {K_COLS | K_DIAGS | K_BLOCKS, 333, 0, "cols + diags + blocks"},
        {K_BITMAP | K_COLS | K_DIAGS, 300, 100, "bitmap L=100 + cols + diags"},
        {K_BITMAP | K_COLS | K_DIAGS | K_BLOCKS, 300, 100, "bitmap L=100 + all"},
        {K_BITMAP | K_COLS | K_DIAGS | K_BLOCKS, 300, 64, "bitmap L=64 + all"},
        {K_BITMAP | K_COLS | K_DIAGS | K_BLOCKS, 300, 1, "bitmap L=1 + all"},
        {K_BITMAP | K_COLS | K_DIAGS | K_BLOCKS, 700, 512, "bitmap L=512 + all"},
        {K_BITMAP | K_DIAGS, 513, 512, "bitmap L=512 + diags, n = L + 1"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int rep = 0; rep < (cases[c].n > 400 ? 2 : 6); rep++) {
            spec s = make_spec(cases[c].kinds, cases[c].n, cases[c].L);
            if (rep == 1 && (cases[c].kinds & K_DIAGS)) s.diags[0] = 0; /* the DAM case: no empty row */
            check_plan(&s, cases[c].n, cases[c].name, false);
            if (cases[c].kinds & K_BLOCKS) check_plan(&s, cases[c].n, cases[c].name, true);
            free_spec(&s);
        }
}

/* validate on broken plans (direct struct edits) and on hand-made empty rows. */
static void test_validate(void) {
    const int32_t cols[] = {9, 1, 5}, diags[] = {0, 4, 2};
    const int32_t ptr[] = {0, 1, 3, 3}, idx[] = {0, 1, 0};
    maskplan *p = maskplan_new();
    maskplan_set_cols(p, cols, 3);
    maskplan_set_diags(p, diags, 3);
    maskplan_set_blocks(p, 3, ptr, idx);
    CHECK(p->n_cols == 3 && p->cols[0] == 1 && p->cols[1] == 5 && p->cols[2] == 9, "cols not sorted");
    CHECK(maskplan_validate(p, 1000) == NULL, "valid plan rejected: %s", maskplan_validate(p, 1000));
    const char *v;
    p->cols[0] = 7; /* 7, 5, 9 */
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "cols not sorted"), "unsorted cols: %s", v ? v : "NULL");
    p->cols[0] = 5; /* duplicate */
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "cols not sorted"), "duplicate cols: %s", v ? v : "NULL");
    p->cols[0] = 1;
    p->diags[0] = -1;
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "diags[0] = -1"), "negative diag: %s", v ? v : "NULL");
    p->diags[0] = 0;
    p->diags[2] = 3; /* 0, 2, 3 fine */
    CHECK(maskplan_validate(p, 1000) == NULL, "%s", maskplan_validate(p, 1000));
    p->diags[2] = 2;
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "diags not sorted"), "duplicate diags: %s", v ? v : "NULL");
    p->diags[2] = 4;
    p->blk_idx[0] = 1; /* query block 0 lists key block 1 */
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "key block 1"), "key block beyond the query block: %s", v ? v : "NULL");
    p->blk_idx[0] = 0;
    p->blk_idx[2] = -2;
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "key block -2"), "negative key block: %s", v ? v : "NULL");
    p->blk_idx[2] = 0; /* query block 1: 1, 0 unsorted */
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "not sorted"), "unsorted key blocks: %s", v ? v : "NULL");
    p->blk_idx[1] = 0;
    p->blk_idx[2] = 1;
    p->blk_ptr[2] = 0; /* decreasing */
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "blk_ptr decreases"), "decreasing blk_ptr: %s", v ? v : "NULL");
    p->blk_ptr[2] = 3;
    p->blk_ptr[0] = 1;
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "blk_ptr[0]"), "blk_ptr[0] != 0: %s", v ? v : "NULL");
    p->blk_ptr[0] = 0;
    p->n_cols = -1;
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "negative"), "negative count: %s", v ? v : "NULL");
    p->n_cols = 3;
    CHECK(maskplan_validate(p, 1000) == NULL, "%s", maskplan_validate(p, 1000));
    v = maskplan_validate(p, -1);
    CHECK(v && strstr(v, "negative sequence length"), "n < 0: %s", v ? v : "NULL");
    v = maskplan_validate(NULL, 10);
    CHECK(v && strstr(v, "NULL"), "NULL plan: %s", v ? v : "NULL");

    /* bitmap: a bit above the diagonal (direct edit), an empty row */
    uint64_t bits[100 * 2];
    for (int r = 0; r < 100; r++) bits[2 * r] = bits[2 * r + 1] = ~0ull;
    maskplan_set_bitmap(p, 100, bits);
    CHECK(p->bitmap[0] == 1 && p->bitmap[1] == 0 && p->bitmap[2 * 70] == ~0ull && p->bitmap[2 * 70 + 1] == 0x7f,
          "bits above the diagonal not cleared");
    CHECK(maskplan_validate(p, 1000) == NULL, "%s", maskplan_validate(p, 1000));
    p->bitmap[2 * 70 + 1] |= 1ull << 7; /* key 71 in row 70 */
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "row 70 has a bit above"), "bit above the diagonal: %s", v ? v : "NULL");
    p->bitmap[2 * 70 + 1] = 0x7f;
    p->bitmap[2 * 40] = 0;
    v = maskplan_validate(p, 1000);
    CHECK(v && strstr(v, "row 40"), "empty bitmap row: %s", v ? v : "NULL");
    CHECK(maskplan_validate(p, 40) == NULL, "rows beyond n are not checked: %s", maskplan_validate(p, 40));
    maskplan_free(p);

    /* structural empty rows */
    p = maskplan_new();
    v = maskplan_validate(p, 1);
    CHECK(v && strstr(v, "row 0 keeps no key"), "empty plan: %s", v ? v : "NULL");
    CHECK(maskplan_validate(p, 0) == NULL, "empty plan, n = 0");
    const int32_t c5[] = {5}, d3[] = {3};
    maskplan_set_cols(p, c5, 1);
    v = maskplan_validate(p, 100);
    CHECK(v && strstr(v, "row 0 keeps"), "rows before the first column: %s", v ? v : "NULL");
    maskplan_set_diags(p, d3, 1); /* rows 0 .. 2 still empty */
    v = maskplan_validate(p, 100);
    CHECK(v && strstr(v, "row 0 keeps"), "rows before the first diagonal: %s", v ? v : "NULL");
    const int32_t bptr[] = {0, 1}, bidx[] = {0};
    maskplan_set_blocks(p, 1, bptr, bidx); /* query block 0 covers rows 0 .. 63 */
    CHECK(maskplan_validate(p, 100) == NULL, "%s", maskplan_validate(p, 100));
    uint64_t b70[70 * 2];
    for (int r = 0; r < 70; r++) b70[2 * r] = b70[2 * r + 1] = r == 66 ? 0 : ~0ull;
    maskplan_set_bitmap(p, 70, b70); /* row 66 empty inside the bitmap */
    v = maskplan_validate(p, 100);
    CHECK(v && strstr(v, "row 66"), "empty bitmap row 66: %s", v ? v : "NULL");
    b70[2 * 66] = 1;
    maskplan_set_bitmap(p, 70, b70);
    CHECK(maskplan_validate(p, 100) == NULL, "%s", maskplan_validate(p, 100));
    const int32_t c80[] = {80};
    maskplan_set_cols(p, c80, 1);
    maskplan_set_diags(p, c80, 1);
    v = maskplan_validate(p, 100); /* rows 70 .. 79: no block part (query block 1), no col, no diag */
    CHECK(v && strstr(v, "row 70 keeps"), "structural rows after the bitmap: %s", v ? v : "NULL");
    maskplan_free(p);
}

/* The setters treat negative input as an internal error: exit status 3 (DAM_EXIT_RUNTIME). */
static int dies(int which) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(99);
        maskplan *p = maskplan_new();
        const int32_t neg[] = {3, -1}, ptr[] = {0, 2, 1}, idx[] = {0, 0};
        if (which == 0) maskplan_set_cols(p, neg, 2);
        if (which == 1) maskplan_set_diags(p, neg, 2);
        if (which == 2) maskplan_set_blocks(p, 2, ptr, idx);
        if (which == 3) maskplan_set_blocks(p, 1, ptr, neg);
        if (which == 4) maskplan_row_word(p, 100, 3);
        if (which >= 5) { /* block biases must be finite and <= 0 */
            const int32_t bp[] = {0, 1}, bi[] = {0};
            maskplan_set_blocks(p, 1, bp, bi);
            const float bad[] = {0.5f, NAN, -INFINITY, INFINITY};
            maskplan_set_block_bias(p, &bad[which - 5]);
        }
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 3;
}

static void test_setters(void) {
    for (int w = 0; w < 9; w++) CHECK(dies(w), "internal error %d did not exit with status 3", w);
    /* replacing and clearing parts */
    maskplan *p = maskplan_new();
    const int32_t a[] = {4, 4, 2, 9}, ptr[] = {0, 3, 3, 6}, idx[] = {0, 1, 0, 2, 2, 1};
    maskplan_set_cols(p, a, 4);
    CHECK(p->n_cols == 3 && p->cols[0] == 2 && p->cols[2] == 9, "cols %d", p->n_cols);
    maskplan_set_cols(p, a, 1);
    CHECK(p->n_cols == 1 && p->cols[0] == 4, "replace cols");
    maskplan_set_cols(p, NULL, 0);
    CHECK(p->n_cols == 0, "clear cols");
    maskplan_set_blocks(p, 3, ptr, idx);
    /* qb 0: {0, 1, 0} -> {0}; qb 1: {} ; qb 2: {2, 2, 1} -> {1, 2} */
    CHECK(p->n_qblocks == 3 && p->blk_ptr[1] == 1 && p->blk_ptr[2] == 1 && p->blk_ptr[3] == 3 && p->blk_idx[0] == 0 &&
              p->blk_idx[1] == 1 && p->blk_idx[2] == 2,
          "blocks not normalised");
    maskplan_set_blocks(p, 0, NULL, NULL);
    CHECK(p->n_qblocks == 0, "clear blocks");
    maskplan_set_bitmap(p, 0, NULL);
    CHECK(p->bitmap_L == 0 && p->bitmap == NULL, "clear bitmap");
    CHECK(maskplan_kept_pairs(p, 1000) == 0 && maskplan_density(p, 0) == 0, "empty plan counts");
    maskplan_free(p);
    maskplan_free(NULL);
}

/* A million tokens. Plan A = 4 sinks (cols 0..3) + window w (diags 0 .. w-1). Row p keeps the window
 * keys max(0, p-w+1) .. p, that is min(p+1, w), plus the sinks c <= p - w not in the window, that is
 * min(4, max(0, p - w + 1)). Summed over p = 0 .. n-1 (n - w >= 3):
 *   window: w(w+1)/2 + (n - w) w;   sinks: sum_{m=1}^{n-w} min(4, m) = 1 + 2 + 3 + 4 (n - w - 3). */
static void test_million(void) {
    const int64_t n = 1000000, w = 64;
    const int64_t want = w * (w + 1) / 2 + (n - w) * w + 6 + 4 * (n - w - 3);
    int32_t sinks[4] = {0, 1, 2, 3}, win[64];
    for (int i = 0; i < w; i++) win[i] = i;
    maskplan *a = maskplan_new();
    maskplan_set_cols(a, sinks, 4);
    maskplan_set_diags(a, win, (int)w);
    CHECK(maskplan_kept_pairs(a, n) == want, "sinks + window: %lld pairs, want %lld",
          (long long)maskplan_kept_pairs(a, n), (long long)want);
    CHECK_NEAR(maskplan_density(a, n), (double)want / (n * (n + 1.0) / 2), 0, 1e-12, "density");

    /* the same mask with its top-left 512 x 512 corner given as a bitmap: same count */
    const int L = 512, W = 8;
    uint64_t *bits = calloc((size_t)L * W, sizeof *bits);
    for (int p = 0; p < L; p++)
        for (int j = 0; j <= p; j++)
            if (j < 4 || p - j < w) bits[p * W + j / 64] |= 1ull << (j % 64);
    maskplan_set_bitmap(a, L, bits);
    CHECK(maskplan_kept_pairs(a, n) == want, "with bitmap: %lld pairs, want %lld", (long long)maskplan_kept_pairs(a, n),
          (long long)want);

    /* DAM-like: a random 512 x 512 bitmap with its diagonal, 16 columns, 68 diagonals. Time density,
     * validate; cross-check kept_pairs (closed form over block-free rows) with the row-by-row sum. */
    for (int i = 0; i < L * W; i++) bits[i] = next_u64() & next_u64();
    for (int p = 0; p < L; p++) bits[p * W + p / 64] |= 1ull << (p % 64);
    maskplan_set_bitmap(a, L, bits);
    int32_t cols[16], diags[68];
    for (int i = 0; i < 16; i++) cols[i] = i < 4 ? i : irand(L);
    for (int i = 0; i < 68; i++) diags[i] = i < 64 ? i : irand(L);
    maskplan_set_cols(a, cols, 16);
    maskplan_set_diags(a, diags, 68);
    double t = now_ms();
    double dens = maskplan_density(a, n);
    double t_density = now_ms() - t;
    t = now_ms();
    const char *v = maskplan_validate(a, n);
    double t_validate = now_ms() - t;
    CHECK(v == NULL, "DAM-like plan invalid: %s", v);
    t = now_ms();
    int64_t sum = 0;
    for (int64_t p = 0; p < n; p++) sum += maskplan_row_count(a, p);
    double t_rows = now_ms() - t;
    CHECK(sum == maskplan_kept_pairs(a, n), "DAM-like: sum of row counts %lld, kept_pairs %lld", (long long)sum,
          (long long)maskplan_kept_pairs(a, n));
    CHECK(maskplan_bytes(a) < 64 * 1024, "plan holds %zu bytes", maskplan_bytes(a));
    printf("maskplan n=1M DAM-like (L=512, 16 cols, 68 diags): density %.6f in %.3f ms, validate %.3f ms, "
           "row-by-row %.1f ms, %zu bytes\n", dens, t_density, t_validate, t_rows, maskplan_bytes(a));

    /* plus a block part on every third query block: mixes per-row merges and closed-form runs */
    int nqb = (int)(n / 64) + 1;
    int32_t *ptr = malloc(sizeof *ptr * (nqb + 1)), *idx = malloc(sizeof *idx * nqb * 2);
    int k = 0;
    ptr[0] = 0;
    for (int qb = 0; qb < nqb; qb++) {
        if (qb % 3 == 0) {
            idx[k++] = qb / 2;
            idx[k++] = qb;
        }
        ptr[qb + 1] = k;
    }
    maskplan_set_blocks(a, nqb, ptr, idx);
    t = now_ms();
    int64_t kp = maskplan_kept_pairs(a, n);
    double t_blocks = now_ms() - t;
    sum = 0;
    for (int64_t p = 0; p < n; p++) sum += maskplan_row_count(a, p);
    CHECK(sum == kp, "with blocks: sum of row counts %lld, kept_pairs %lld", (long long)sum, (long long)kp);
    printf("maskplan n=1M DAM-like + blocks on every third query block: kept_pairs in %.2f ms\n", t_blocks);
    free(ptr);
    free(idx);
    {  /* block-heavy (XAttention-like): 128K tokens, every other causal key block listed, a 64-key window
        * and 4 sinks; counted per query block, not per row and block (sum of row counts as reference) */
        const int64_t m = 131072;
        const int mqb = (int)(m / 64);
        int32_t *bp = malloc(sizeof *bp * (size_t)(mqb + 1)), *bi = malloc(sizeof *bi * ((size_t)mqb * (mqb + 1) / 2 + 1));
        int64_t w = 0;
        bp[0] = 0;
        for (int qb = 0; qb < mqb; qb++) {
            for (int kb = 0; kb <= qb; kb++)
                if (kb % 2 == qb % 2) bi[w++] = kb;
            bp[qb + 1] = (int32_t)w;
        }
        maskplan *x = maskplan_new();
        int32_t win[64], sinks[4] = {0, 1, 2, 3};
        for (int i = 0; i < 64; i++) win[i] = i;
        maskplan_set_diags(x, win, 64);
        maskplan_set_cols(x, sinks, 4);
        maskplan_set_blocks(x, mqb, bp, bi);
        t = now_ms();
        const int64_t kx = maskplan_kept_pairs(x, m);
        const double t_x = now_ms() - t;
        int64_t sx = 0;
        for (int64_t p = 0; p < m; p++) sx += maskplan_row_count(x, p);
        CHECK(sx == kx, "block-heavy: sum of row counts %lld, kept_pairs %lld", (long long)sx, (long long)kx);
        printf("maskplan n=128K, %lld listed blocks + window 64 + 4 sinks: kept_pairs in %.2f ms (density %.4f)\n",
               (long long)w, t_x, (double)kx / ((double)m * (m + 1) / 2));
        maskplan_free(x);
        free(bp);
        free(bi);
    }
    free(bits);
    maskplan_free(a);
}

/* The bias rule of maskplan.h: -inf if not kept, else the block bias of ref_block_bias. */
static double ref_bias(const spec *s, const float *bmat, int nkb, long p, long j) {
    return ref_kept(s, p, j) ? ref_block_bias(s, bmat, nkb, p, j) : -INFINITY;
}

/* Soft masks: random plans with a block bias against ref_bias; nothing else about the plan changes. */
static void test_bias(void) {
    struct { int kinds, n, L; const char *name; } cases[] = {
        {K_BLOCKS, 300, 0, "blocks"},
        {K_COLS | K_BLOCKS, 333, 0, "cols + blocks"},
        {K_DIAGS | K_BLOCKS, 333, 0, "diags + blocks"},
        {K_COLS | K_DIAGS | K_BLOCKS, 333, 0, "cols + diags + blocks"},
        {K_BITMAP | K_COLS | K_DIAGS | K_BLOCKS, 300, 100, "bitmap L=100 + all"},
        {K_BITMAP | K_COLS | K_DIAGS | K_BLOCKS, 300, 64, "bitmap L=64 + all"},
        {K_DENSE | K_BLOCKS | K_COLS, 200, 0, "dense with biased blocks (ignored)"},
    };
    const double lo = log(1e-6);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int rep = 0; rep < 4; rep++) {
            const int n = cases[c].n;
            spec s = make_spec(cases[c].kinds, n, cases[c].L);
            const int nkb = (n + 63) / 64 + 3; /* raw lists may name key blocks up to qb + 2 */
            float *bmat = malloc(sizeof(float) * (size_t)s.nqb * nkb);
            for (int i = 0; i < s.nqb * nkb; i++) {
                const int r = irand(5);
                bmat[i] = r == 0 ? 0.0f : r == 1 ? (float)lo : (float)(lo * (double)(next_u64() >> 11) / (double)(1ull << 53));
            }
            maskplan *plain = build(&s, false), *p = build(&s, false);
            if (rep % 2 == 0) maskplan_set_block_bias_matrix(p, bmat, nkb);
            else { /* parallel to the plan's own blk_idx */
                const int total = p->blk_ptr ? p->blk_ptr[p->n_qblocks] : 0;
                float *b = malloc(sizeof(float) * (total + 1));
                for (int qb = 0; qb < p->n_qblocks; qb++)
                    for (int i = p->blk_ptr[qb]; i < p->blk_ptr[qb + 1]; i++) b[i] = bmat[qb * nkb + p->blk_idx[i]];
                maskplan_set_block_bias(p, b);
                free(b);
            }
            int bad_bias = 0, bad_word = 0, n_biased = 0;
            for (int i = 0; i < n; i++) {
                for (int j = -1; j <= n; j++) {
                    const double want = j >= 0 && j < n ? ref_bias(&s, bmat, nkb, i, j) : -INFINITY;
                    const float got = maskplan_bias(p, i, j);
                    if (!(got == (float)want)) {
                        if (bad_bias++ == 0) fprintf(stderr, "  %s: bias(%d, %d) = %g, want %g\n", cases[c].name, i, j, got, want);
                    }
                    n_biased += isfinite(want) && want < 0;
                }
                for (int j0 = 0; j0 < n + 64; j0 += 64) {
                    uint64_t want_b = 0, bits;
                    float want_v = 0, got_v;
                    for (int t = 0; t < 64 && j0 + t < n; t++) {
                        const double b = ref_bias(&s, bmat, nkb, i, j0 + t);
                        if (isfinite(b) && b < 0) want_b |= 1ull << t, want_v = (float)b;
                    }
                    const uint64_t w = maskplan_row_word_bias(p, i, j0, &bits, &got_v);
                    bad_word += w != maskplan_row_word(plain, i, j0) || bits != want_b || got_v != want_v;
                }
            }
            CHECK(bad_bias == 0, "%s: %d bias() mismatches", cases[c].name, bad_bias);
            CHECK(bad_word == 0, "%s: %d row_word_bias() mismatches", cases[c].name, bad_word);
            /* has_bias: a nonzero bias on some listed pair (which may still bias no pair: the bitmap region,
             * columns and diagonals take precedence); every biased pair needs it */
            bool nonzero = false;
            for (int qb = 0; p->blk_ptr && qb < p->n_qblocks; qb++)
                for (int i = p->blk_ptr[qb]; i < p->blk_ptr[qb + 1]; i++) nonzero |= bmat[qb * nkb + p->blk_idx[i]] != 0;
            CHECK(maskplan_has_bias(p) == (nonzero && !s.dense) && (n_biased == 0 || maskplan_has_bias(p)),
                  "%s: %d biased pairs, a nonzero listed bias %d, has_bias %d", cases[c].name, n_biased, nonzero,
                  maskplan_has_bias(p));
            CHECK(!s.dense || !maskplan_has_bias(p), "%s: a dense plan has no bias", cases[c].name);
            CHECK(maskplan_kept_pairs(p, n) == maskplan_kept_pairs(plain, n) &&
                      maskplan_density(p, n) == maskplan_density(plain, n),
                  "%s: the bias changed the kept pairs", cases[c].name);
            const char *v = maskplan_validate(p, n), *v0 = maskplan_validate(plain, n);
            CHECK((v == NULL) == (v0 == NULL), "%s: validate %s vs %s without the bias", cases[c].name, v ? v : "NULL",
                  v0 ? v0 : "NULL");
            const size_t extra = p->blk_bias ? sizeof(float) * (size_t)p->blk_ptr[p->n_qblocks] : 0;
            CHECK(maskplan_bytes(p) == maskplan_bytes(plain) + extra, "%s: bytes %zu, want %zu", cases[c].name,
                  maskplan_bytes(p), maskplan_bytes(plain) + extra);
            maskplan *cp = maskplan_copy(p);
            int bad_copy = 0;
            for (int i = 0; i < n; i += 3)
                for (int j = 0; j <= i; j++) bad_copy += maskplan_bias(cp, i, j) != maskplan_bias(p, i, j);
            CHECK(bad_copy == 0 && maskplan_bytes(cp) == maskplan_bytes(p), "%s: copy differs in %d biases", cases[c].name,
                  bad_copy);
            if (p->blk_bias && p->blk_ptr[p->n_qblocks] > 0) { /* validate on direct edits */
                const float keep = p->blk_bias[0];
                p->blk_bias[0] = 0.25f;
                v = maskplan_validate(p, n);
                CHECK(v && strstr(v, "block bias[0]"), "%s: positive bias: %s", cases[c].name, v ? v : "NULL");
                p->blk_bias[0] = NAN;
                v = maskplan_validate(p, n);
                CHECK(v && strstr(v, "block bias[0]"), "%s: NaN bias: %s", cases[c].name, v ? v : "NULL");
                p->blk_bias[0] = keep;
            }
            maskplan_set_blocks(p, s.nqb, s.ptr, s.idx); /* replacing the blocks clears the bias */
            CHECK(p->blk_bias == NULL && !maskplan_has_bias(p), "%s: set_blocks kept the bias", cases[c].name);
            maskplan_free(cp);
            maskplan_free(p);
            maskplan_free(plain);
            free(bmat);
            free_spec(&s);
        }
    /* zeros clear, -0.0 is stored as 0 */
    maskplan *p = maskplan_new();
    const int32_t ptr[] = {0, 1, 3}, idx[] = {0, 0, 1};
    maskplan_set_blocks(p, 2, ptr, idx);
    const float zeros[] = {0.0f, -0.0f, 0.0f}, mixed[] = {-0.0f, -1.0f, 0.0f};
    maskplan_set_block_bias(p, zeros);
    CHECK(p->blk_bias == NULL, "an all-zero bias is stored");
    maskplan_set_block_bias(p, mixed);
    CHECK(p->blk_bias && !signbit(p->blk_bias[0]) && p->blk_bias[1] == -1.0f, "-0.0 not stored as 0");
    /* qb 0: kb 0 bias 0; qb 1: kb 0 bias -1, kb 1 bias 0 */
    CHECK(maskplan_bias(p, 5, 3) == 0.0f && maskplan_bias(p, 70, 3) == -1.0f && maskplan_bias(p, 70, 64) == 0.0f &&
              maskplan_bias(p, 70, 71) == -INFINITY,
          "hand biases");
    CHECK(maskplan_validate(p, 128) == NULL, "%s", maskplan_validate(p, 128));
    maskplan_set_block_bias(p, NULL);
    CHECK(p->blk_bias == NULL, "NULL does not clear");
    maskplan_set_block_bias(p, mixed);
    maskplan_set_blocks(p, 0, NULL, NULL);
    CHECK(p->blk_bias == NULL, "clearing the blocks keeps the bias");
    maskplan_free(p);
}

static int cmp_int32(const void *a, const void *b) {
    const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The setters' sort (a byte-wise radix sort) against qsort + de-duplication: random lists of 2 .. 5000
 * values with duplicates, over ranges that leave 1 to 4 bytes varying (values up to INT32_MAX), a
 * descending list and one all equal. */
static void test_sorted_lists(void) {
    static const int32_t RANGES[] = {7, 200, 70000, 20000000, INT32_MAX};
    for (int t = 0; t < 40; t++) {
        const int n = 2 + irand(5000), range = RANGES[t % 5];
        int32_t *x = dam_malloc(sizeof(int32_t) * (size_t)n, "test list"), *ref = dam_malloc(sizeof(int32_t) * (size_t)n, "test ref");
        for (int i = 0; i < n; i++)
            x[i] = t == 38 ? n - i : t == 39 ? 5 : (int32_t)((next_u64() >> 33) % (uint64_t)range);
        memcpy(ref, x, sizeof(int32_t) * (size_t)n);
        qsort(ref, (size_t)n, sizeof *ref, cmp_int32);
        int m = 1;
        for (int i = 1; i < n; i++)
            if (ref[i] != ref[m - 1]) ref[m++] = ref[i];
        maskplan *p = maskplan_new();
        maskplan_set_cols(p, x, n);
        CHECK(p->n_cols == m && memcmp(p->cols, ref, sizeof(int32_t) * (size_t)m) == 0,
              "list %d (n %d, range %d): sorted columns differ from qsort's (%d vs %d values)", t, n, range, p->n_cols, m);
        maskplan_free(p);
        dam_free(ref), dam_free(x);
    }
}

/* Whether two plans list the same blocks (either form: compared as lists, on copies). */
static bool same_blocks(const maskplan *x_any, const maskplan *y_any) {
    maskplan *x = maskplan_copy(x_any), *y = maskplan_copy(y_any);
    maskplan_blocks_to_lists(x);
    maskplan_blocks_to_lists(y);
    bool same = x->n_qblocks == y->n_qblocks && (x->blk_ptr == NULL) == (y->blk_ptr == NULL);
    for (int qb = 0; same && x->blk_ptr && qb <= x->n_qblocks; qb++) same = x->blk_ptr[qb] == y->blk_ptr[qb];
    for (int i = 0; same && x->blk_ptr && i < x->blk_ptr[x->n_qblocks]; i++) same = x->blk_idx[i] == y->blk_idx[i];
    maskplan_free(x), maskplan_free(y);
    return same;
}

/* maskplan_set_blocks_bits(_heads) against maskplan_set_blocks given the same blocks as lists: random
 * bit matrices of 1 .. 4 words a row, nqb below / equal / above nkb, with bits above the diagonal and
 * past key block nkb - 1 in the last word (both ignored), and an all-zero matrix, in each form (AUTO:
 * bits iff they take no more bytes than the lists; BITS; LISTS). */
static void test_blocks_bits(void) {
    static const int SHAPES[][2] = {{1, 1}, {3, 3}, {64, 64}, {65, 65}, {130, 129}, {100, 200}, {200, 150}, {256, 256}};
    static const maskplan_blocks_form FORMS[] = {MASKPLAN_BLOCKS_AUTO, MASKPLAN_BLOCKS_BITS, MASKPLAN_BLOCKS_LISTS};
    for (size_t c = 0; c < sizeof SHAPES / sizeof SHAPES[0]; c++)
        for (int density = 0; density < 3; density++) {
            const int nqb = SHAPES[c][0], nkb = SHAPES[c][1], words = (nkb + 63) / 64;
            uint64_t *bits = dam_malloc(sizeof(uint64_t) * (size_t)nqb * words, "test bits");
            int32_t *ptr = dam_malloc(sizeof(int32_t) * ((size_t)nqb + 1), "test ptr");
            int32_t *idx = dam_malloc(sizeof(int32_t) * ((size_t)nqb * words * 64 + 1), "test idx");
            int m = 0, causal = 0;
            ptr[0] = 0;
            for (int qb = 0; qb < nqb; qb++) {
                for (int w = 0; w < words; w++) {
                    const uint64_t r = next_u64(), x = density == 0 ? 0 : density == 1 ? r & next_u64() : r;
                    bits[(size_t)qb * words + w] = x;
                    for (int b = 0; b < 64; b++)
                        if (x >> b & 1 && w * 64 + b < nkb) {
                            idx[m++] = w * 64 + b; /* set_blocks drops kb > qb */
                            causal += w * 64 + b <= qb;
                        }
                }
                ptr[qb + 1] = m;
            }
            maskplan *a = maskplan_new();
            maskplan_set_blocks(a, nqb, ptr, idx);
            for (int f = 0; f < 3; f++) {
                maskplan *b = maskplan_new();
                maskplan_set_blocks_bits_heads(&b, 1, nqb, nkb, bits, FORMS[f]);
                const bool want_bits = FORMS[f] == MASKPLAN_BLOCKS_BITS ||
                                       (FORMS[f] == MASKPLAN_BLOCKS_AUTO && 8 * (long)words * nqb <= 4 * (long)causal);
                CHECK((b->blk_bits != NULL) == want_bits && (b->blk_ptr != NULL) == !want_bits,
                      "set_blocks_bits %d x %d (density %d, form %d): held as %s", nqb, nkb, density, f,
                      b->blk_bits ? "bits" : "lists");
                CHECK(same_blocks(a, b), "set_blocks_bits %d x %d (density %d, form %d) differs from set_blocks", nqb, nkb,
                      density, f);
                CHECK(maskplan_kept_pairs(b, nqb * 64) == maskplan_kept_pairs(a, nqb * 64),
                      "set_blocks_bits %d x %d form %d: %lld kept pairs, set_blocks %lld", nqb, nkb, f,
                      (long long)maskplan_kept_pairs(b, nqb * 64), (long long)maskplan_kept_pairs(a, nqb * 64));
                static const int32_t diag0[1] = {0}; /* a valid plan keeps every row's own key */
                maskplan_set_diags(b, diag0, 1);
                CHECK(maskplan_validate(b, nqb * 64) == NULL, "set_blocks_bits %d x %d form %d: %s", nqb, nkb, f,
                      maskplan_validate(b, nqb * 64));
                maskplan_free(b);
            }
            maskplan_free(a);
            dam_free(idx), dam_free(ptr), dam_free(bits);
        }
    /* maskplan_set_blocks_bits_heads: plans from one [plan][qb][words] matrix, plan 2 skipped (NULL:
     * left as it was); each the same as maskplan_set_blocks_bits on its own rows. Sizes below and above
     * the threshold for threads (65,536 words: 4 x 300 x 5, 9 x 1,100 x 18) */
    static const int HEADS_SHAPES[2][3] = {{4, 300, 290}, {9, 1100, 1100}};
    for (int hs = 0; hs < 2; hs++) {
        const int NP = HEADS_SHAPES[hs][0], NQB = HEADS_SHAPES[hs][1], NKB = HEADS_SHAPES[hs][2], W = (NKB + 63) / 64;
        uint64_t *bits = dam_malloc(sizeof(uint64_t) * NP * NQB * W, "test bits");
        for (size_t i = 0; i < (size_t)NP * NQB * W; i++) bits[i] = i % 3 ? next_u64() & next_u64() : next_u64();
        maskplan *plans[9];
        for (int h = 0; h < NP; h++) plans[h] = maskplan_new();
        static const int32_t col0[1] = {0};
        maskplan_set_cols(plans[2], col0, 1);
        maskplan *skip = plans[2];
        plans[2] = NULL;
        maskplan_set_blocks_bits_heads(plans, NP, NQB, NKB, bits, MASKPLAN_BLOCKS_AUTO);
        plans[2] = skip;
        CHECK(skip->n_qblocks == 0 && skip->blk_ptr == NULL && skip->blk_bits == NULL && skip->n_cols == 1,
              "set_blocks_bits_heads wrote a skipped plan");
        for (int h = 0; h < NP; h++) {
            if (h == 2) continue;
            maskplan *one = maskplan_new();
            maskplan_set_blocks_bits(one, NQB, NKB, bits + (size_t)h * NQB * W);
            CHECK(same_blocks(plans[h], one) && maskplan_kept_pairs(one, NQB * 64) > 0,
                  "set_blocks_bits_heads plan %d differs from set_blocks_bits", h);
            maskplan_free(one);
        }
        for (int h = 0; h < NP; h++) maskplan_free(plans[h]);
        dam_free(bits);
    }
    /* blocks as bits (AUTO): an all-ones matrix (130 x 3 words = 3,120 bytes against 130 x 131 / 2 listed
     * blocks x 4) is held as bits, causal part only; one block a row as lists. Copies, bytes, a bit past
     * the diagonal (a validation error), conversion to lists, a block bias (converts), set_blocks (clears) */
    {
        enum { NQB = 130, W = 3 };
        uint64_t ones[NQB * W], one[NQB * W];
        for (int i = 0; i < NQB * W; i++) ones[i] = ~0ull, one[i] = i % W == 0 ? 1 : 0;
        maskplan *p = maskplan_new(), *q = maskplan_new();
        maskplan_set_blocks_bits(p, NQB, NQB, ones);
        maskplan_set_blocks_bits(q, NQB, NQB, one);
        CHECK(p->blk_bits != NULL && p->blk_ptr == NULL && p->blk_idx == NULL && p->blk_bits_words == W &&
                  q->blk_bits == NULL && q->blk_ptr != NULL && q->blk_bits_words == 0,
              "set_blocks_bits forms: dense %s / %d words, sparse %s", p->blk_bits ? "bits" : "lists", p->blk_bits_words,
              q->blk_bits ? "bits" : "lists");
        bool causal = true;
        for (int qb = 0; p->blk_bits && qb < NQB; qb++)
            for (int kb = 0; kb < W * 64; kb++) causal &= (p->blk_bits[qb * W + kb / 64] >> (kb % 64) & 1) == (kb <= qb);
        CHECK(causal, "set_blocks_bits kept bits past the causal triangle or n_kblocks");
        CHECK(maskplan_kept_pairs(p, NQB * 64) == (int64_t)NQB * 64 * (NQB * 64 + 1) / 2 &&
                  maskplan_bytes(p) == sizeof(maskplan) + sizeof ones,
              "all-ones bits: %lld pairs, %zu bytes", (long long)maskplan_kept_pairs(p, NQB * 64), maskplan_bytes(p));
        CHECK(maskplan_validate(p, NQB * 64) == NULL, "set_blocks_bits as bits: %s", maskplan_validate(p, NQB * 64));
        maskplan *c = maskplan_copy(p);
        CHECK(c->blk_bits != p->blk_bits && c->blk_bits && memcmp(c->blk_bits, p->blk_bits, sizeof ones) == 0 &&
                  maskplan_bytes(c) == maskplan_bytes(p),
              "maskplan_copy of block bits");
        c->blk_bits[5 * W] |= 1ull << 7; /* query block 5 keeps key block 7 */
        const char *why = maskplan_validate(c, NQB * 64);
        CHECK(why && strstr(why, "query block 5") && strstr(why, "past the diagonal"), "validate of a bit past the diagonal: %s",
              why ? why : "(valid)");
        maskplan_free(c);
        c = maskplan_copy(p);
        maskplan_blocks_to_lists(c);
        CHECK(c->blk_bits == NULL && c->blk_ptr && c->blk_ptr[NQB] == NQB * (NQB + 1) / 2 && same_blocks(c, p) &&
                  maskplan_validate(c, NQB * 64) == NULL,
              "maskplan_blocks_to_lists: %d listed", c->blk_ptr ? c->blk_ptr[NQB] : -1);
        float *bias = malloc(sizeof(float) * NQB * NQB);
        for (int i = 0; i < NQB * NQB; i++) bias[i] = -1.0f;
        maskplan *d = maskplan_copy(p);
        maskplan_set_block_bias_matrix(d, bias, NQB);
        CHECK(d->blk_bits == NULL && d->blk_ptr && maskplan_has_bias(d) && maskplan_bias(d, 100, 3) == -1.0f,
              "a block bias on a plan held as bits");
        maskplan_free(d);
        free(bias);
        const int32_t ptr[2] = {0, 1}, idx[1] = {0};
        maskplan_set_blocks(c, 1, ptr, idx);
        maskplan_free(c);
        c = maskplan_copy(p);
        maskplan_set_blocks(c, 1, ptr, idx);
        CHECK(c->blk_bits == NULL && c->blk_bits_words == 0 && c->blk_ptr, "maskplan_set_blocks left the block bits");
        maskplan_free(c), maskplan_free(p), maskplan_free(q);
    }
    /* no key blocks (bits may be NULL): every query block keeps none; no query blocks: the part cleared */
    maskplan *p = maskplan_new();
    maskplan_set_blocks_bits(p, 3, 0, NULL);
    CHECK(p->n_qblocks == 3 && p->blk_ptr[3] == 0 && p->blk_idx != NULL, "set_blocks_bits 3 x 0: %d query blocks, %d kept",
          p->n_qblocks, p->blk_ptr ? p->blk_ptr[3] : -1);
    maskplan_set_blocks_bits(p, 0, 5, NULL);
    CHECK(p->n_qblocks == 0 && p->blk_ptr == NULL && p->blk_idx == NULL, "set_blocks_bits 0 x 5 did not clear the blocks");
    maskplan_free(p);
}

int main(void) {
    size_t before = dam_mem_in_use();
    test_random_plans();
    test_bias();
    test_validate();
    test_setters();
    test_blocks_bits();
    test_sorted_lists();
    test_million();
    CHECK(dam_mem_in_use() == before, "leaked %zu bytes", dam_mem_in_use() - before);
    return test_done("maskplan");
}
