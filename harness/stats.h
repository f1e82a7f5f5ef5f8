/* stats.h — small statistics for accuracy tables (docs/dam-spec.md §5): the Wilson score interval
 * and NaN-aware means and medians. */
#ifndef DAM_HARNESS_STATS_H
#define DAM_HARNESS_STATS_H

#include <stddef.h>

/* Wilson score interval for a proportion: `successes` out of `n` trials at normal quantile z
 * (1.96 for 95%). successes may be fractional (the sum of scores in [0, 1]); it is clamped to
 * [0, n]. With p = successes / n:
 *   center = (p + z²/2n) / (1 + z²/n),  half = z·sqrt(p(1−p)/n + z²/4n²) / (1 + z²/n)
 * and [lo, hi] = [center − half, center + half], always inside [0, 1]. n <= 0 gives NaN, NaN. */
void wilson_interval(double successes, double n, double z, double *lo, double *hi);

/* Median of the non-NaN values of v[0..n) (the mean of the two middle values for an even count);
 * NaN if there are none. v is not modified. */
double median(const double *v, size_t n);

/* Mean of the non-NaN values of v[0..n) (±inf included); NaN if there are none. *count (if not
 * NULL) gets the number of values used. */
double mean_nonnan(const double *v, size_t n, size_t *count);

#endif
