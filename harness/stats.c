/* stats.c — see stats.h. */
#include "harness/stats.h"

#include <math.h>
#include <stdlib.h>

#include "core/mem.h"

void wilson_interval(double successes, double n, double z, double *lo, double *hi) {
    if (!(n > 0)) { *lo = *hi = NAN; return; }
    double s = successes < 0 ? 0 : successes > n ? n : successes;
    double p = s / n, z2 = z * z;
    double denom = 1 + z2 / n;
    double center = (p + z2 / (2 * n)) / denom;
    double half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom;
    *lo = fmax(0.0, center - half);
    *hi = fmin(1.0, center + half);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double median(const double *v, size_t n) {
    double *c = dam_malloc(sizeof(double) * (n + 1), "median");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) if (!isnan(v[i])) c[m++] = v[i];
    double r = NAN;
    if (m > 0) {
        qsort(c, m, sizeof(double), cmp_double);
        r = m % 2 ? c[m / 2] : 0.5 * (c[m / 2 - 1] + c[m / 2]);
    }
    dam_free(c);
    return r;
}

double mean_nonnan(const double *v, size_t n, size_t *count) {
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) if (!isnan(v[i])) { s += v[i]; m++; }
    if (count) *count = m;
    return m ? s / (double)m : NAN;
}
