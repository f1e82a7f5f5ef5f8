/* estimate.c — see estimate.h. */
#include "baselines/estimate.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

void est_exp_shifted(double *x, int m, double mx) {
    const double log2e = 1.4426950408889634, ln2_hi = 0.6931471803691238, ln2_lo = 1.9082149292705877e-10;
    const double shift = 6755399441055744.0;      /* 1.5 · 2^52: adding it rounds to an integer in the low bits */
    const uint64_t m708 = 0xc086200000000000ull; /* bits of -708.0; a y <= 0 is below it iff its bits are above */
    /* Selections go through integer masks: with -ftrapping-math GCC will not if-convert a
     * floating-point select, and the loop would stay scalar. */
    for (int j = 0; j < m; j++) {
        const double y = x[j] - mx;
        uint64_t yb, vb, rb, tb, sb;
        memcpy(&yb, &y, sizeof yb);
        const uint64_t low = -(uint64_t)(yb > m708); /* all ones when y < -708: the result is 0 */
        vb = (yb & ~low) | (m708 & low);
        double v, s2, res;
        memcpy(&v, &vb, sizeof v);
        const double t = v * log2e + shift, k = t - shift; /* k = round(v / ln 2), in [-1022, 0] */
        const double r = (v - k * ln2_hi) - k * ln2_lo;    /* |r| <= ln 2 / 2 */
        double p = 1.0 / 6227020800.0;                     /* Taylor series of e^r to r^13 / 13! */
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        memcpy(&tb, &t, sizeof tb);
        sb = (tb + 1023) << 52; /* 2^k: the low bits of t hold k */
        memcpy(&s2, &sb, sizeof s2);
        res = p * s2;
        memcpy(&rb, &res, sizeof rb);
        rb &= ~low;
        memcpy(&x[j], &rb, sizeof rb);
    }
}

void est_last_rows(const est_head *h, int w, double *P) {
    const int n = h->n, d = h->d, i0 = n - w;
    float *s = dam_malloc(sizeof(float) * (size_t)w * n, "estimate scores"); /* [w][n] q·k, unscaled */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, w, n, d, 1.0f, h->q + (long)i0 * h->q_stride, h->q_stride,
                h->k, d, 0.0f, s, n);
    const double scale = 1.0 / sqrt((double)d);
    for (int r = 0; r < w; r++) {
        const int i = i0 + r;
        const float *sr = s + (size_t)r * n;
        double *pr = P + (size_t)r * n, mx = -INFINITY, sum = 0;
        for (int j = 0; j <= i; j++) {
            pr[j] = (double)sr[j] * scale;
            if (pr[j] > mx) mx = pr[j];
        }
        est_exp_shifted(pr, i + 1, mx);
        for (int j = 0; j <= i; j++) sum += pr[j];
        for (int j = 0; j <= i; j++) pr[j] /= sum;
        for (int j = i + 1; j < n; j++) pr[j] = 0;
    }
    dam_free(s);
}

void est_column_sums(const double *P, int w, int n, double *col) {
    memset(col, 0, sizeof(double) * (size_t)n);
    for (int r = 0; r < w; r++)
        for (int j = 0; j < n; j++) col[j] += P[(size_t)r * n + j];
}

void est_diagonal_sums(const double *P, int w, int n, double *diag) {
    memset(diag, 0, sizeof(double) * (size_t)n);
    for (int r = 0; r < w; r++) {
        const int i = n - w + r;
        for (int o = 0; o <= i; o++) diag[o] += P[(size_t)r * n + (i - o)];
    }
}

void est_block_means(const float *x, int stride, int n, int d, int b, double *out) {
    const int nb = (n + b - 1) / b;
    for (int blk = 0; blk < nb; blk++) {
        double *o = out + (size_t)blk * d;
        memset(o, 0, sizeof(double) * (size_t)d);
        const int i1 = blk * b + b < n ? blk * b + b : n;
        for (int i = blk * b; i < i1; i++)
            for (int c = 0; c < d; c++) o[c] += x[(long)i * stride + c];
        for (int c = 0; c < d; c++) o[c] /= (double)(i1 - blk * b);
    }
}

/* qsort key: score descending, then index ascending. */
typedef struct {
    double s;
    int32_t i;
} scored;

static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

void est_order_desc(const double *score, int m, int32_t *order) {
    scored *t = dam_malloc(sizeof(scored) * (size_t)(m > 0 ? m : 1), "estimate order");
    for (int i = 0; i < m; i++) t[i] = (scored){score[i], i};
    qsort(t, (size_t)m, sizeof *t, cmp_scored);
    for (int i = 0; i < m; i++) order[i] = t[i].i;
    dam_free(t);
}

static inline int before(const scored *x, const scored *y) { return x->s > y->s || (x->s == y->s && x->i < y->i); }

void est_top_k(const double *score, int m, int k, int32_t *top) {
    scored *t = dam_malloc(sizeof(scored) * (size_t)(m > 0 ? m : 1), "estimate top-k");
    for (int i = 0; i < m; i++) t[i] = (scored){score[i], i};
    /* quickselect on the strict total order `before` (all keys differ: indices are unique), so
     * the k first elements end up in t[0 .. k) whatever the pivots */
    int lo = 0, hi = m - 1;
    while (k > 0 && k < m && lo < hi) {
        const scored piv = t[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (before(&t[i], &piv)) i++;
            while (before(&piv, &t[j])) j--;
            if (i <= j) {
                const scored x = t[i];
                t[i++] = t[j];
                t[j--] = x;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
    qsort(t, (size_t)k, sizeof *t, cmp_scored);
    for (int i = 0; i < k; i++) top[i] = t[i].i;
    dam_free(t);
}

void est_set_blocks(maskplan *plan, int nqb, int nkb, const uint8_t *keep) {
    int32_t *ptr = dam_malloc(sizeof(int32_t) * ((size_t)nqb + 1), "plan blocks");
    size_t total = 0;
    for (size_t c = 0; c < (size_t)nqb * nkb; c++) total += keep[c] != 0;
    int32_t *idx = dam_malloc(sizeof(int32_t) * (total ? total : 1), "plan blocks");
    int w = 0;
    ptr[0] = 0;
    for (int qb = 0; qb < nqb; qb++) {
        for (int kb = 0; kb < nkb; kb++)
            if (keep[(size_t)qb * nkb + kb]) idx[w++] = kb;
        ptr[qb + 1] = w;
    }
    maskplan_set_blocks(plan, nqb, ptr, idx);
    dam_free(idx);
    dam_free(ptr);
}

void est_set_patterns(maskplan *plan, int n, const uint8_t *sel) {
    int32_t *list = dam_malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1), "plan patterns");
    for (int part = 0; part < 2; part++) {
        int ns = 0;
        for (int x = 0; x < n; x++)
            if (sel[(size_t)part * n + x]) list[ns++] = x;
        if (part == 0) maskplan_set_cols(plan, list, ns);
        else maskplan_set_diags(plan, list, ns);
    }
    dam_free(list);
}

void est_plan_layer(const method *m, int layer, const float *q, int q_stride, int n, const float *k, int kv_cap,
                    int n_heads, int n_kv_heads, int d, maskplan **out, est_head_fn fn) {
    const int group = n_heads / n_kv_heads;
#pragma omp parallel for schedule(dynamic, 1)
    for (int h = 0; h < n_heads; h++) {
        const est_head eh = {q + (long)h * d, q_stride, k + (long)(h / group) * kv_cap * d, n, d};
        out[h] = fn(m, layer, h, &eh);
    }
}
