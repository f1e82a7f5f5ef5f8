/* lveval.h — LV-Eval's per-dataset configuration (infinigence/LVEval config.py: DATASET_PROMPT,
 * DATASET_MAXGEN, DATASET_METRIC; evaluation.py scores the first answer only), as a table for the
 * long-document loader (datasets/longdoc.h, docs/workloads.md "lveval"). Prompts are quoted
 * verbatim. One entry is this project's, not LV-Eval's: `nq_mixup`, the local LV-Eval-format QA set
 * that scripts/make-lveval-like.sh builds from NQ-Open (hotpotwikiqa_mixup's prompt and metric). */
#ifndef DAM_DATASETS_LVEVAL_H
#define DAM_DATASETS_LVEVAL_H

#include "datasets/longdoc.h"

/* LV-Eval's 11 datasets in config.py's order, then nq_mixup. */
extern const longdoc_spec LVEVAL_SPECS[];
extern const int LVEVAL_N_SPECS;

#endif
