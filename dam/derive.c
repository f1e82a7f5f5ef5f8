/* derive.c — see derive.h. */
#include "dam/derive.h"

#include <math.h>
#include <omp.h>

#include "core/error.h"
#include "core/mem.h"
#include "dam/stage1.h"

/* Map x of p->abar expanded to float64 [L][L] (upper triangle 0). */
static void expand(const dam_patterns *p, int x, double *out) {
    const int L = p->par.L;
    const float *a = p->abar + (size_t)x * ((size_t)L * (L + 1) / 2);
    for (int i = 0; i < L; i++) {
        const float *row = a + (size_t)i * (i + 1) / 2;
        for (int j = 0; j < L; j++) out[(size_t)i * L + j] = j <= i ? (double)row[j] : 0.0;
    }
}

void dam_derive(dam_patterns *p, double lambda, const param *tau, const param *mu, const param *min_cells) {
    if (p->abar == NULL) dam_die(DAM_EXIT_INPUT, "DAM patterns: no stored mean attention to derive masks from (recalibrate)");
    const int L = p->par.L, H = p->n_heads, n_maps = p->n_layers * p->n_heads, nt = omp_get_max_threads();
    p->par.lambda = lambda;
    for (int x = 0; x < n_maps; x++) { /* per-head values in range, named if not */
        const int l = x / H, h = x % H;
        const double t = param_at(tau, l, h), m = param_at(mu, l, h), c = param_at(min_cells, l, h);
        if (!(t >= 0) || !(m >= 0 && m <= 1) || !(c >= 0 && c <= L))
            dam_die(DAM_EXIT_INPUT, "DAM thresholds of layer %d head %d out of range: tau %g, mu %g, min_pattern_cells %g", l,
                    h, t, m, c);
    }
    p->par.tau = tau->n_layers ? NAN : tau->v[0];
    p->par.mu = mu->n_layers ? NAN : mu->v[0];
    p->par.min_pattern_cells = min_cells->n_layers ? -1 : (int)min_cells->v[0];

    const size_t map = (size_t)L * L;
    double *work = dam_malloc(sizeof(double) * map * nt, "DAM average maps");
    double *mins = dam_malloc(sizeof(double) * n_maps, "DAM map minima");
    dam_params global = p->par;
    global.tau = 0, global.mu = 0, global.min_pattern_cells = 0; /* only λ and ε matter for the shift */
#pragma omp parallel for schedule(dynamic, 1)
    for (int x = 0; x < n_maps; x++) {
        double *a = work + map * omp_get_thread_num();
        expand(p, x, a);
        mins[x] = dam_map_min_amplified(a, L, &global);
    }
    double bmin = INFINITY;
    for (int x = 0; x < n_maps; x++) bmin = mins[x] < bmin ? mins[x] : bmin;
#pragma omp parallel for schedule(dynamic, 1)
    for (int x = 0; x < n_maps; x++) {
        double *a = work + map * omp_get_thread_num();
        dam_params ph = global;
        ph.tau = param_at(tau, x / H, x % H);
        ph.mu = param_at(mu, x / H, x % H);
        ph.min_pattern_cells = (int)param_at(min_cells, x / H, x % H);
        expand(p, x, a);
        dam_stage1_head(a, &ph, bmin, &p->heads[x]);
    }
    dam_free(mins);
    dam_free(work);
}
