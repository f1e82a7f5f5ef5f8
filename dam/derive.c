/* derive.c — see derive.h. */
#include "dam/derive.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "dam/stage1.h"
#include "kernels/maskplan.h"

/* The top-left Lh x Lh corner of map x of p->abar as float64 [Lh][Lh] (upper triangle 0). */
static void expand(const dam_patterns *p, int x, int Lh, double *out) {
    const int L = p->par.L;
    const float *a = p->abar + (size_t)x * ((size_t)L * (L + 1) / 2);
    for (int i = 0; i < Lh; i++) {
        const float *row = a + (size_t)i * (i + 1) / 2;
        for (int j = 0; j < Lh; j++) out[(size_t)i * Lh + j] = j <= i ? (double)row[j] : 0.0;
    }
}

/* The value of a param as a scalar for p->par, or `per` when it varies by layer / head. */
static double scalar_or(const param *q, double per) { return q->n_layers ? per : q->v[0]; }

void dam_derive(dam_patterns *p, const param *lambda, const param *tau, const param *mu, const param *min_cells,
                const param *pcl) {
    if (p->abar == NULL) dam_die(DAM_EXIT_INPUT, "DAM patterns: no stored mean attention to derive masks from (recalibrate)");
    const int L = p->par.L, H = p->n_heads, n_maps = p->n_layers * p->n_heads, nt = omp_get_max_threads();
    for (int x = 0; x < n_maps; x++) { /* per-head values in range, named if not */
        const int l = x / H, h = x % H;
        const double lam = param_at(lambda, l, h), t = param_at(tau, l, h), m = param_at(mu, l, h);
        const double c = param_at(min_cells, l, h), lh = param_at(pcl, l, h);
        if (!(lh >= 1 && lh <= L) || !(lam >= -5 && lam <= 5) || !(t >= 0) || !(m >= 0 && m <= 1) || !(c >= 0 && c <= lh))
            dam_die(DAM_EXIT_INPUT,
                    "DAM parameters of layer %d head %d out of range: pcl %g (file %d), lambda %g, tau %g, mu %g, "
                    "min_pattern_cells %g",
                    l, h, lh, L, lam, t, m, c);
    }
    p->par.lambda = scalar_or(lambda, NAN);
    p->par.tau = scalar_or(tau, NAN);
    p->par.mu = scalar_or(mu, NAN);
    p->par.min_pattern_cells = (int)scalar_or(min_cells, -1);

    double *work = dam_malloc(sizeof(double) * (size_t)L * L * nt, "DAM average maps");
#pragma omp parallel for schedule(dynamic, 1)
    for (int x = 0; x < n_maps; x++) {
        const int l = x / H, h = x % H, Lh = (int)param_at(pcl, l, h);
        double *a = work + (size_t)L * L * omp_get_thread_num();
        dam_params ph = p->par;
        ph.L = Lh;
        ph.lambda = param_at(lambda, l, h);
        ph.tau = param_at(tau, l, h);
        ph.mu = param_at(mu, l, h);
        ph.min_pattern_cells = (int)param_at(min_cells, l, h);
        /* min(B) over all maps and positions = B(ε): X >= ε everywhere and = ε in the empty upper
           triangle (L >= 2); a 1 x 1 file has no such cell and takes its own minimum */
        expand(p, x, Lh, a);
        const double bmin = L >= 2 ? dam_amplify(0.0, &ph) : dam_map_min_amplified(a, Lh, &ph);
        p->heads[x].L = Lh;
        memset(p->heads[x].mask, 0, sizeof(uint64_t) * (size_t)L * maskplan_bitmap_words(L));
        dam_stage1_head(a, &ph, bmin, &p->heads[x]);
    }
    dam_free(work);
}
