/* run.h — the run loop of `dam run` (DESIGN §1, §7): one model load, every example tokenised
 * once, every method on identical token ids, one result per (method, example) appended to the
 * crash-safe journal, and the HDF5 results file republished (temporary file + rename) as the run
 * goes and at its end.
 *
 * Per (method, example): the method's plans are built (mask-build time), the prompt is prefilled
 * (alignment against full attention measured on sampled rows in the same pass), the answer is
 * generated greedily and scored, then the gold answer is teacher-forced from the prompt's KV
 * cache for the answer NLL and, against the `full` method's distributions on the same example,
 * the logit KL (docs/dam-spec.md §5). */
#ifndef DAM_HARNESS_RUN_H
#define DAM_HARNESS_RUN_H

#include <stdbool.h>

#include "harness/config.h"
#include "harness/progress.h"

/* Options of one run beyond the config. */
typedef struct {
    const char *output;  /* overrides the config's output if not NULL */
    bool resume;         /* continue from the journal next to the output */
    bool overwrite;      /* replace an existing results file (otherwise refused) */
    int publish_every_s; /* republish the HDF5 file at most this often (the end always publishes) */
    progress_mode progress; /* progress display on stderr (progress.h) */
    double progress_every_s; /* seconds between progress lines in lines mode */
} run_opts;

/* Executes the run. Exits through dam_die on errors (status 2 input, 3 runtime); returns 0. */
int run_execute(run_config *cfg, const run_opts *o);

#endif
