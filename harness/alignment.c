/* alignment.c — see alignment.h. */
#include "harness/alignment.h"

#include <cblas.h>
#include <math.h>

align_row_metrics align_row(const float *q, const float *k, const float *v, const float *o_m, int pos, int d,
                            float scale, const maskplan *plan, float *work, double *work_d) {
    const int n = pos + 1;
    /* scores s_j = q · k_j, then P_full in double */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, scale, k, d, q, 1, 0.0f, work, 1);
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < n; j++) mx = work[j] > mx ? work[j] : mx;
    for (int j = 0; j < n; j++) sum += (work_d[j] = exp((double)work[j] - mx));
    double kept = 0;
    for (int j0 = 0; j0 < n; j0 += 64) {
        uint64_t w = plan ? maskplan_row_word(plan, pos, j0) : ~0ull;
        for (int t = 0; t < 64 && j0 + t < n; t++) {
            work_d[j0 + t] /= sum;
            if ((w >> t) & 1) kept += work_d[j0 + t];
        }
    }
    /* o_full = Σ_j P_full(j) v_j, accumulated in double (head_dim <= 512) */
    double acc[512] = {0};
    for (int j = 0; j < n; j++) {
        const float *vj = v + (long)j * d;
        const double pj = work_d[j];
        for (int i = 0; i < d; i++) acc[i] += pj * vj[i];
    }
    double on2 = 0, dn2 = 0, dot = 0, mn2 = 0;
    for (int i = 0; i < d; i++) {
        double of = acc[i], om = o_m[i];
        on2 += of * of;
        mn2 += om * om;
        dn2 += (om - of) * (om - of);
        dot += om * of;
    }
    align_row_metrics r;
    r.mass_recall = kept > 1.0 ? 1.0 : kept;
    r.neg_log_recall = r.mass_recall > 0 ? -log(r.mass_recall) : INFINITY;
    r.out_rel_l2 = on2 > 0 ? sqrt(dn2 / on2) : 0.0;
    r.out_cos = (on2 > 0 && mn2 > 0) ? dot / sqrt(on2 * mn2) : 0.0;
    return r;
}

void align_sample_rows(int n, int *tail, int *n_tail, int *spread, int *n_spread) {
    int t0 = n > ALIGN_ROWS ? n - ALIGN_ROWS : 0;
    *n_tail = 0;
    for (int p = t0; p < n; p++) tail[(*n_tail)++] = p;
    *n_spread = 0;
    for (int i = 0; i < ALIGN_ROWS && t0 > 0; i++) {
        int p = (int)((long)i * t0 / ALIGN_ROWS);
        if (*n_spread == 0 || spread[*n_spread - 1] != p) spread[(*n_spread)++] = p;
    }
}
