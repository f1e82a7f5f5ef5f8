/* summary.h — the accuracy / efficiency table of a run, as `dam inspect` and the end of
 * `dam run` print it: per (task, method, target length) the example count, accuracy (mean score)
 * with its Wilson 95% interval, mean answer NLL and logit KL, mean density, mean tail and spread
 * mass recall, median prefill and mask-build ms and the largest peak memory; cells where the
 * baseline itself scores below 0.5 are flagged uninformative (docs/dam-spec.md §5). */
#ifndef DAM_HARNESS_SUMMARY_H
#define DAM_HARNESS_SUMMARY_H

#include <stdio.h>

#include "harness/results_h5.h"

/* Prints the header lines (model, run, counts) and the table to `out`. `path` names the results
 * in the header; `baseline` is the reference method name (usually "full"). */
void summary_print(FILE *out, const run_data *d, const char *path, const char *baseline);

#endif
