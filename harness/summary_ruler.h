/* summary_ruler.h — the RULER summary layout of a results file (`dam inspect --ruler`): like
 * RULER's scripts/eval/evaluate.py summary (one column per task, scores in percent with two
 * decimals), one row per (method, target length), plus the average over the tasks shown.
 *
 * Score of a (method, task, length) cell = mean over its examples of the per-example score
 * (string_match_all / _part in [0, 1]) x 100, as RULER averages per task. average = unweighted
 * mean of the row's task scores (each computed unrounded, then printed to 2 decimals; RULER's
 * overall score is the mean over its 13 tasks). Tasks: the RULER tasks present in the file
 * (datasets/ruler.h), in RULER's order; other tasks of the file are ignored. A cell without
 * results prints "-" (text) or is empty (CSV) and does not count in the average. */
#ifndef DAM_HARNESS_SUMMARY_RULER_H
#define DAM_HARNESS_SUMMARY_RULER_H

#include <stdbool.h>
#include <stdio.h>

#include "harness/results_h5.h"

/* Prints the table to `out`: text (a title line naming `path`, then aligned columns method,
 * length, tasks..., average) or, with csv, a header "method,length,<task>,...,average" and one
 * line per row. Exits with status 2 naming `path` if the file holds no RULER task. */
void summary_ruler_print(FILE *out, const run_data *d, const char *path, bool csv);

#endif
