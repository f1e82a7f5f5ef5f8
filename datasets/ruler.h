/* ruler.h — the RULER benchmark (Hsieh et al. 2024, NVIDIA/RULER @ c3f5e3b; docs/workloads.md
 * "ruler") as examples for the run loop: the 13 task slots (8 NIAH variants, variable tracking,
 * common- and frequent-words extraction, QA), their token-length fitting, prompt styles and
 * scores. One config workload {"task": "ruler", "tasks": [...]} builds every listed task; each
 * example's rec.task is the RULER task name, so results group per task.
 *
 * Tasks, in RULER's order: niah_single_1, niah_single_2, niah_single_3, niah_multikey_1,
 * niah_multikey_2, niah_multikey_3, niah_multivalue, niah_multiquery (datasets/ruler_niah.h), vt
 * (ruler_vt.h), cwe (ruler_cwe.h), fwe (ruler_fwe.h), qa_nq, qa_1, qa_2 (ruler_qa.h). RULER's QA
 * slots qa_1 (SQuAD v2 dev) and qa_2 (HotpotQA dev) read the user's own files; qa_nq (NQ-Open
 * oracle passages, obtainable here) stands in for them by default.
 *
 * Length fitting (RULER's rule): for target length S and the task's generation budget T
 * (tokens_to_generate: NIAH 128, vt 30, cwe 120, fwe 50, QA 32, or the config's max_new_tokens),
 * the haystack size (essay words, noise / needle lines, distinct words, words, documents) is the
 * largest whose whole prompt — ids exactly as fed to the model: BOS per the model's policy, chat
 * template in chat style, the message and the answer prefix — has <= S - T tokens, found per
 * example by doubling then binary search over one fixed draw of the example (its random choices
 * do not change with the size, except RULER's own size-dependent draws such as line indices).
 * RULER instead searches once per task and length on one draw, then shrinks each sample by a fixed
 * increment until it fits; ours fits each example, so prompts end closer to S - T.
 * Prompt styles (datasets/prompt.h): "completion" = message + answer prefix, no chat template (what
 * RULER does for base models); "chat" = message as the user turn, answer prefix after the
 * assistant header (RULER for chat models). Answer prefixes keep their leading space.
 * Seeds: every example draws from streams of (run seed, task name, example index); RULER's
 * fixed-seed shuffles use the run seed (ruler_common.h). */
#ifndef DAM_DATASETS_RULER_H
#define DAM_DATASETS_RULER_H

#include <stdbool.h>
#include <stdint.h>

#include "datasets/workload.h"
#include "model/llama.h"

/* All RULER task names this harness knows, in RULER's order, NULL-terminated. */
extern const char *const RULER_TASK_NAMES[];

/* The tasks of a "ruler" workload without a `tasks` key: every task but qa_1 and qa_2 (which
 * need the user's SQuAD / HotpotQA files), NULL-terminated. */
extern const char *const RULER_DEFAULT_TASKS[];

/* Data a task reads (bit flags of ruler_task_needs). */
enum {
    RULER_NEEDS_ESSAY = 1,   /* haystack_dir: the essays */
    RULER_NEEDS_WORDS = 2,   /* words_dir: wonderwords lists */
    RULER_NEEDS_NQ = 4,      /* qa_file */
    RULER_NEEDS_SQUAD = 8,   /* squad_file */
    RULER_NEEDS_HOTPOT = 16, /* hotpotqa_file */
};

/* True if `name` is one of RULER_TASK_NAMES. */
bool ruler_is_task(const char *name);

/* The data flags of task `name` (0 for an unknown name). */
unsigned ruler_task_needs(const char *name);

/* RULER's tokens_to_generate of task `name` (the default max_new_tokens), 0 for an unknown name. */
int ruler_task_max_new(const char *name);

/* Builds the examples of a "ruler" workload: for each task of w->tasks (in that order), for each
 * length, `samples` examples; rec.index counts within the task in (length, sample) order. Uses
 * w->prompt, w->max_new_tokens (0 = each task's default), w->haystack_dir, w->words_dir,
 * w->qa_file, w->squad_file, w->hotpotqa_file. Exits with status 2 naming the file, task or
 * length on missing or malformed data and on a length too small for a task's smallest prompt
 * (or beyond what its data can fill). */
void ruler_build(const workload_cfg *w, const llama_model *m, uint64_t seed, example **out, int *n_out);

/* The score in [0, 1] of a RULER example: string_match_part for the QA tasks, string_match_all
 * for the others, over e->refs (datasets/ruler_score.h). */
double ruler_score(const example *e, const char *prediction);

#endif
