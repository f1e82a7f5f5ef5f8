/* test_alignment.c — the alignment metrics (harness/alignment.c) against a float64 brute force
 * and a hand-computed case, and the row sampling.
 *   Hand case: d = 1, q = 1, keys k = (0, ln 2, ln 3) at scale 1 → scores (0, ln 2, ln 3) →
 *   P_full = (1, 2, 3) / 6; values v = (1, 0, 0). A plan keeping keys {0, 2} (diagonal 0 + sink
 *   column 0 at row 2) has mass_recall = (1 + 3) / 6 = 2/3, neg_log_recall = ln 1.5 = 0.405465.
 *   o_full = 1/6; with o_m = 1/4 (the renormalised masked output (1·1 + 3·0) / 4):
 *   out_rel_l2 = |1/4 − 1/6| / (1/6) = 0.5, out_cos = 1 (same sign, d = 1).
 * Soft masks: a plan with a block bias keeps the same pairs as without it, so mass_recall is the
 * same (kept pairs at face value) while out_rel_l2 / out_cos of the biased output show the bias. */
#include <math.h>
#include <stdlib.h>

#include "core/mem.h"
#include "harness/alignment.h"
#include "kernels/cpu/attention_masked.h"
#include "test.h"

static double urand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffffff) / (double)0x1000000 * 2 - 1;
}

static void hand_case(void) {
    float q[1] = {1}, k[3] = {0, (float)log(2.0), (float)log(3.0)}, v[3] = {1, 0, 0}, om[1] = {0.25f}, wf[3];
    double wd[3];
    maskplan *p = maskplan_new();
    int32_t zero = 0;
    maskplan_set_cols(p, &zero, 1);
    maskplan_set_diags(p, &zero, 1);
    align_row_metrics r = align_row(q, k, v, om, 2, 1, 1.0f, p, wf, wd);
    CHECK_NEAR(r.mass_recall, 2.0 / 3.0, 1e-6, 0, "mass_recall %g", r.mass_recall);
    CHECK_NEAR(r.neg_log_recall, log(1.5), 1e-6, 0, "neg_log_recall %g", r.neg_log_recall);
    CHECK_NEAR(r.out_rel_l2, 0.5, 1e-6, 0, "out_rel_l2 %g", r.out_rel_l2);
    CHECK_NEAR(r.out_cos, 1.0, 1e-9, 0, "out_cos %g", r.out_cos);
    align_row_metrics f = align_row(q, k, v, om, 2, 1, 1.0f, NULL, wf, wd); /* NULL plan = full */
    CHECK(f.mass_recall == 1.0 && f.neg_log_recall == 0.0, "full plan recall %g", f.mass_recall);
    maskplan_free(p);
}

/* Random heads: align_row with the method's own output from attn_masked vs a float64 brute force
 * of every metric. */
static void random_case(int n, int d) {
    unsigned seed = 7u + (unsigned)n;
    float *q = dam_malloc(sizeof(float) * n * d, "q"), *k = dam_malloc(sizeof(float) * n * d, "k");
    float *v = dam_malloc(sizeof(float) * n * d, "v"), *o = dam_malloc(sizeof(float) * n * d, "o");
    for (int i = 0; i < n * d; i++) q[i] = (float)urand(&seed) * 2, k[i] = (float)urand(&seed), v[i] = (float)urand(&seed);
    maskplan *p = maskplan_new();
    int32_t cols[2] = {0, 3}, diags[5] = {0, 1, 2, 3, 40};
    maskplan_set_cols(p, cols, 2);
    maskplan_set_diags(p, diags, 5);
    const maskplan *plans[1] = {p};
    float scale = 1.0f / sqrtf((float)d);
    attn_masked(o, d, q, d, n, k, v, n, n, 1, 1, d, scale, plans);
    float *wf = dam_malloc(sizeof(float) * n, "wf");
    double *wd = dam_malloc(sizeof(double) * n, "wd"), *pf = malloc(sizeof(double) * n);
    double worst = 0;
    for (int pos = 0; pos < n; pos += 7) {
        align_row_metrics r = align_row(q + (long)pos * d, k, v, o + (long)pos * d, pos, d, scale, p, wf, wd);
        double mx = -INFINITY, sum = 0, kept = 0;
        for (int j = 0; j <= pos; j++) {
            double s = 0;
            for (int i = 0; i < d; i++) s += (double)q[pos * d + i] * k[j * d + i];
            pf[j] = s * scale;
            mx = fmax(mx, pf[j]);
        }
        for (int j = 0; j <= pos; j++) sum += (pf[j] = exp(pf[j] - mx));
        double num = 0, den = 0, dot = 0, mm = 0;
        for (int j = 0; j <= pos; j++) {
            pf[j] /= sum;
            int keep = (j == 0 || j == 3) || (pos - j <= 3) || (pos - j == 40);
            if (keep) kept += pf[j];
        }
        for (int i = 0; i < d; i++) {
            double of = 0, om = o[pos * d + i];
            for (int j = 0; j <= pos; j++) of += pf[j] * v[j * d + i];
            num += (om - of) * (om - of), den += of * of, dot += om * of, mm += om * om;
        }
        worst = fmax(worst, fabs(r.mass_recall - kept));
        worst = fmax(worst, fabs(r.out_rel_l2 - sqrt(num / den)));
        worst = fmax(worst, fabs(r.out_cos - dot / sqrt(den * mm)));
        worst = fmax(worst, fabs(r.neg_log_recall + log(kept)) * kept);
    }
    CHECK(worst < 1e-5, "n=%d d=%d: worst difference %.3g", n, d, worst);
    maskplan_free(p);
    dam_free(q); dam_free(k); dam_free(v); dam_free(o); dam_free(wf); dam_free(wd);
    free(pf);
}

/* A plan whose blocks part keeps every causal pair, once without and once with a block bias of
 * log(1e-2) on the off-diagonal blocks: mass_recall is 1 for both (nothing dropped), the unbiased
 * output matches full attention, the biased one does not (out_rel_l2 and out_cos reflect the bias),
 * and the biased metrics match a float64 brute force of softmax(s + bias). */
static void soft_case(int n, int d) {
    unsigned seed = 99u + (unsigned)n;
    float *q = dam_malloc(sizeof(float) * n * d, "q"), *k = dam_malloc(sizeof(float) * n * d, "k");
    float *v = dam_malloc(sizeof(float) * n * d, "v"), *o = dam_malloc(sizeof(float) * n * d, "o");
    float *ob = dam_malloc(sizeof(float) * n * d, "ob");
    for (int i = 0; i < n * d; i++) q[i] = (float)urand(&seed) * 2, k[i] = (float)urand(&seed), v[i] = (float)urand(&seed);
    const int nqb = (n + 63) / 64;
    int32_t *ptr = malloc(sizeof(int32_t) * (nqb + 1)), *idx = malloc(sizeof(int32_t) * nqb * nqb);
    float *bias = malloc(sizeof(float) * nqb * nqb);
    int w = 0;
    ptr[0] = 0;
    for (int qb = 0; qb < nqb; qb++) {
        for (int kb = 0; kb <= qb; kb++) idx[w++] = kb;
        ptr[qb + 1] = w;
    }
    for (int qb = 0; qb < nqb; qb++)
        for (int kb = 0; kb < nqb; kb++) bias[qb * nqb + kb] = kb == qb ? 0.0f : (float)log(1e-2);
    maskplan *p = maskplan_new(), *pb = maskplan_new();
    maskplan_set_blocks(p, nqb, ptr, idx);
    maskplan_set_blocks(pb, nqb, ptr, idx);
    maskplan_set_block_bias_matrix(pb, bias, nqb);
    const float scale = 1.0f / sqrtf((float)d);
    const maskplan *plans[1] = {p}, *bplans[1] = {pb};
    attn_masked(o, d, q, d, n, k, v, n, n, 1, 1, d, scale, plans);
    attn_masked(ob, d, q, d, n, k, v, n, n, 1, 1, d, scale, bplans);
    float *wf = dam_malloc(sizeof(float) * n, "wf");
    double *wd = dam_malloc(sizeof(double) * n, "wd"), *pf = malloc(sizeof(double) * n);
    double worst = 0, min_l2 = INFINITY;
    for (int pos = 64; pos < n; pos += 5) {
        align_row_metrics r = align_row(q + (long)pos * d, k, v, o + (long)pos * d, pos, d, scale, p, wf, wd);
        align_row_metrics rb = align_row(q + (long)pos * d, k, v, ob + (long)pos * d, pos, d, scale, pb, wf, wd);
        CHECK(fabs(r.mass_recall - 1) < 1e-12 && rb.mass_recall == r.mass_recall && rb.neg_log_recall < 1e-12,
              "row %d: mass_recall %g / %g with every pair kept", pos, r.mass_recall, rb.mass_recall);
        CHECK(r.out_rel_l2 < 1e-5 && r.out_cos > 1 - 1e-9, "row %d: unbiased output off full: %g", pos, r.out_rel_l2);
        min_l2 = fmin(min_l2, rb.out_rel_l2);
        /* brute force of the biased metrics */
        double of[512] = {0}, ofull[512] = {0}, mx = -INFINITY, mxf = -INFINITY, sum = 0, sumf = 0;
        double *pb2 = malloc(sizeof(double) * (pos + 1));
        for (int j = 0; j <= pos; j++) {
            double s = 0;
            for (int i = 0; i < d; i++) s += (double)q[pos * d + i] * k[j * d + i];
            pf[j] = s * scale;
            pb2[j] = pf[j] + (j / 64 == pos / 64 ? 0.0 : (double)(float)log(1e-2));
            mxf = fmax(mxf, pf[j]);
            mx = fmax(mx, pb2[j]);
        }
        for (int j = 0; j <= pos; j++) sumf += (pf[j] = exp(pf[j] - mxf)), sum += (pb2[j] = exp(pb2[j] - mx));
        for (int j = 0; j <= pos; j++)
            for (int i = 0; i < d; i++) of[i] += pb2[j] / sum * v[j * d + i], ofull[i] += pf[j] / sumf * v[j * d + i];
        double num = 0, den = 0, dot = 0, mm = 0;
        for (int i = 0; i < d; i++)
            num += (of[i] - ofull[i]) * (of[i] - ofull[i]), den += ofull[i] * ofull[i], dot += of[i] * ofull[i],
                mm += of[i] * of[i];
        worst = fmax(worst, fabs(rb.out_rel_l2 - sqrt(num / den)));
        worst = fmax(worst, fabs(rb.out_cos - dot / sqrt(den * mm)));
        free(pb2);
    }
    CHECK(min_l2 > 1e-3, "n=%d: the bias shows in no row's out_rel_l2 (min %g)", n, min_l2);
    CHECK(worst < 1e-5, "n=%d d=%d: biased metrics differ from the brute force by %.3g", n, d, worst);
    maskplan_free(p);
    maskplan_free(pb);
    free(ptr), free(idx), free(bias), free(pf);
    dam_free(q); dam_free(k); dam_free(v); dam_free(o); dam_free(ob); dam_free(wf); dam_free(wd);
}

static void sampling(void) {
    int tail[ALIGN_ROWS], spread[ALIGN_ROWS], nt, ns;
    align_sample_rows(1000, tail, &nt, spread, &ns);
    CHECK(nt == 64 && tail[0] == 936 && tail[63] == 999, "tail %d rows from %d", nt, tail[0]);
    /* spread: floor(i · 936 / 64), i = 0..63: 0, 14, 29, ..., floor(63 · 936 / 64) = 921 */
    CHECK(ns == 64 && spread[0] == 0 && spread[1] == 14 && spread[2] == 29 && spread[63] == 921, "spread %d: %d %d %d %d",
          ns, spread[0], spread[1], spread[2], spread[63]);
    align_sample_rows(40, tail, &nt, spread, &ns);
    CHECK(nt == 40 && ns == 0, "short prompt: %d tail, %d spread", nt, ns);
    align_sample_rows(100, tail, &nt, spread, &ns);
    CHECK(nt == 64 && ns == 36, "n=100: %d tail, %d distinct spread rows (0..35)", nt, ns);
}

int main(void) {
    hand_case();
    random_case(130, 64);
    random_case(333, 32);
    soft_case(200, 64);
    soft_case(333, 32);
    sampling();
    return test_done("alignment");
}
