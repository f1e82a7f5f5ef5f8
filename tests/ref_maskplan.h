/* ref_maskplan.h — the MaskPlan membership and bias rules of kernels/maskplan.h written directly
 * from a plan's raw parts by linear scans: the independent reference of test_maskplan,
 * test_attention_masked and the CUDA kernel test. Header-only (static inline), C and CUDA C++. */
#ifndef DAM_TESTS_REF_MASKPLAN_H
#define DAM_TESTS_REF_MASKPLAN_H

#include <stdint.h>

/* Raw parts of one head's plan, as a method could produce them (unsorted, duplicates, key blocks
 * beyond the query block, bitmap bits above the diagonal are all allowed). */
typedef struct {
    int dense;
    int ncols, ndiags;
    int32_t cols[256], diags[160];
    int nqb;            /* query blocks of 64 rows with a blocks part */
    int32_t *ptr, *idx; /* [nqb + 1], [ptr[nqb]]: key blocks of query block qb at idx[ptr[qb]..ptr[qb+1]) */
    int L;              /* head bitmap side (0: none) */
    uint64_t *bits;     /* [L][ceil(L / 64)], bit j of row p: pair (p, j) */
    float *bmat;        /* NULL or [nqb][nqb]: block bias b(qb, kb) of listed pairs (soft masks) */
    int band_s, band_w; /* band_w > 0: also the columns 0 .. band_s - 1 and the diagonals 0 .. band_w - 1
                         * (sinks + sliding window of any size, beyond the fixed arrays above) */
} spec;

/* 1 if the plan keeps pair (query position p, key j): causal (0 <= j <= p), then dense, else the
 * bitmap alone inside its L x L region, else a diagonal p - j, a column j (the arrays or the band
 * ranges) or a listed key block. */
static inline int ref_kept(const spec *s, long p, long j) {
    if (j < 0 || j > p) return 0;
    if (s->dense) return 1;
    if (p < s->L && j < s->L) return (int)((s->bits[p * ((s->L + 63) / 64) + j / 64] >> (j % 64)) & 1);
    if (s->band_w > 0 && (j < s->band_s || p - j < s->band_w)) return 1;
    for (int i = 0; i < s->ndiags; i++)
        if (s->diags[i] == p - j) return 1;
    for (int i = 0; i < s->ncols; i++)
        if (s->cols[i] == j) return 1;
    if (p / 64 < s->nqb)
        for (int i = s->ptr[p / 64]; i < s->ptr[p / 64 + 1]; i++)
            if (s->idx[i] == j / 64) return 1;
    return 0;
}

/* The logit bias of a kept pair: bmat[p / 64][j / 64] (row stride `stride`) when the blocks part
 * alone keeps it (not dense, outside the bitmap region, no column or diagonal), else 0. Pairs the
 * plan does not keep are the caller's business. */
static inline double ref_block_bias(const spec *s, const float *bmat, int stride, long p, long j) {
    if (bmat == NULL || s->dense || p < s->L) return 0;
    if (s->band_w > 0 && (j < s->band_s || p - j < s->band_w)) return 0;
    for (int i = 0; i < s->ndiags; i++)
        if (s->diags[i] == p - j) return 0;
    for (int i = 0; i < s->ncols; i++)
        if (s->cols[i] == j) return 0;
    if (p / 64 < s->nqb)
        for (int i = s->ptr[p / 64]; i < s->ptr[p / 64 + 1]; i++)
            if (s->idx[i] == j / 64) return bmat[(p / 64) * stride + j / 64];
    return 0;
}

#endif
