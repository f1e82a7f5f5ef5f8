/* longbench.h — LongBench v1's per-dataset configuration (THUDM/LongBench: config/dataset2prompt.json,
 * config/dataset2maxlen.json, eval.py's dataset2metric and post-processing, pred.py's list of
 * datasets that skip the chat template), as a table for the long-document loader (datasets/longdoc.h,
 * docs/workloads.md "longbench"). The prompt templates are quoted verbatim: the wording is part of
 * the benchmark. */
#ifndef DAM_DATASETS_LONGBENCH_H
#define DAM_DATASETS_LONGBENCH_H

#include "datasets/longdoc.h"

/* The 21 LongBench v1 datasets, in pred.py's order. */
extern const longdoc_spec LONGBENCH_SPECS[];
extern const int LONGBENCH_N_SPECS;

/* The 13 datasets that have a LongBench-E file (`<name>_e.jsonl`), NULL-terminated. */
extern const char *const LONGBENCH_E_DATASETS[];

#endif
