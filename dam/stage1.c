/* stage1.c — see stage1.h. */
#include "dam/stage1.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/maskplan.h"

double dam_boxcox(double x, double lambda) {
    return lambda == 0.0 ? log(x) : (pow(x, lambda) - 1.0) / lambda;
}

double dam_amplify(double abar, const dam_params *p) {
    return dam_boxcox(abar > p->eps ? abar : p->eps, p->lambda);
}

double dam_map_min_amplified(const double *abar, int L, const dam_params *p) {
    double lo = L >= 2 ? dam_amplify(0.0, p) : INFINITY; /* the upper triangle: Ā = 0 */
    for (int i = 0; i < L; i++)
        for (int j = 0; j <= i; j++) {
            double b = dam_amplify(abar[(size_t)i * L + j], p);
            if (b < lo) lo = b;
        }
    return lo;
}

void dam_shift_map(const double *abar, int L, const dam_params *p, double bmin, double *atilde) {
    const double upper = dam_amplify(0.0, p) - bmin;
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++) {
            size_t c = (size_t)i * L + j;
            atilde[c] = j <= i ? dam_amplify(abar[c], p) - bmin : upper;
        }
}

int64_t dam_true_mask(const double *atilde, int L, double tau, uint64_t *mask) {
    const int W = maskplan_bitmap_words(L);
    memset(mask, 0, sizeof(uint64_t) * (size_t)L * W);
    int64_t set = 0;
    for (int i = 0; i < L; i++)
        for (int j = 0; j <= i; j++)
            if (atilde[(size_t)i * L + j] >= tau) {
                mask[(size_t)i * W + j / 64] |= 1ull << (j % 64);
                set++;
            }
    return set;
}

static inline int bit(const uint64_t *mask, int W, int i, int j) {
    return (int)((mask[(size_t)i * W + j / 64] >> (j % 64)) & 1u);
}

void dam_match_scores(const uint64_t *mask, int L, double *gamma_diag, double *gamma_col) {
    const int W = maskplan_bitmap_words(L);
    for (int k = 0; k < L; k++) {
        int64_t hd = 0, hc = 0;
        for (int i = k; i < L; i++) {
            hd += bit(mask, W, i, i - k); /* diagonal r = k: cells (i, i - k) */
            hc += bit(mask, W, i, k);     /* column c = k: cells (i, k) */
        }
        gamma_diag[k] = (double)hd / (double)(L - k);
        gamma_col[k] = (double)hc / (double)(L - k);
    }
}

int dam_select_patterns(const double *gamma, int L, double mu, int min_cells, int32_t *out) {
    int n = 0;
    for (int k = 0; k < L; k++)
        if (gamma[k] >= mu && L - k >= min_cells) out[n++] = k;
    return n;
}

void dam_stage1_head(const double *abar, const dam_params *p, double bmin, dam_head *h) {
    const int L = p->L;
    double *atilde = dam_malloc(sizeof(double) * (size_t)L * L, "DAM shifted map");
    double *gd = dam_malloc(sizeof(double) * L, "DAM match scores");
    double *gc = dam_malloc(sizeof(double) * L, "DAM match scores");
    int32_t *sel = dam_malloc(sizeof(int32_t) * L, "DAM patterns");
    dam_shift_map(abar, L, p, bmin, atilde);
    int64_t set = dam_true_mask(atilde, L, p->tau, h->mask);
    h->density = (double)set / ((double)L * (L + 1) / 2.0);
    dam_match_scores(h->mask, L, gd, gc);
    dam_head_set_diags(h, sel, dam_select_patterns(gd, L, p->mu, p->min_pattern_cells, sel));
    dam_head_set_cols(h, sel, dam_select_patterns(gc, L, p->mu, p->min_pattern_cells, sel));
    dam_free(sel); dam_free(gc); dam_free(gd); dam_free(atilde);
}

dam_patterns *dam_stage1(const double *abar, int n_layers, int n_heads, const dam_params *p) {
    dam_patterns *ps = dam_patterns_new(n_layers, n_heads, p);
    const int n_maps = n_layers * n_heads;
    const size_t map = (size_t)p->L * p->L;
    double bmin = INFINITY;
    for (int m = 0; m < n_maps; m++) {
        double b = dam_map_min_amplified(abar + map * m, p->L, p);
        if (b < bmin) bmin = b;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int m = 0; m < n_maps; m++) dam_stage1_head(abar + map * m, p, bmin, &ps->heads[m]);
    return ps;
}
