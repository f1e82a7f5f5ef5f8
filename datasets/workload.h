/* workload.h — one interface over the evaluation tasks (workloads.md): build the examples of a
 * (length × depth × sample) grid as token ids in the model's own tokens, then score a generated
 * continuation. Every method sees exactly these ids; their SHA-256 goes into the results. */
#ifndef DAM_DATASETS_WORKLOAD_H
#define DAM_DATASETS_WORKLOAD_H

#include <stdint.h>

#include "harness/record.h"
#include "model/llama.h"

/* A workload's parameters as the config gives them (harness/config.c fills this). */
typedef struct {
    char *task;           /* "passkey", "niah", "niah_multi", "longeval_lines", "longeval_topics", "longbench", "lveval" or "ruler" */
    int n_lengths;
    int *lengths;         /* target prompt lengths, tokens (0 of them for LongEval test-case files) */
    int n_depths;
    double *depths;       /* needle / key depths, fractions 0..1 (0 of them for test-case files) */
    int samples;          /* examples per (length, depth) cell */
    int max_new_tokens;   /* generation budget (ruler: 0 = each task's own, datasets/ruler.h) */
    char *haystack_dir;   /* niah, niah_multi: folder of .txt essays (sorted file order) */
    int n_needles;
    char **needles;       /* niah_multi: the needle names ("Figs", ...), datasets/niah.h */
    char *source;         /* longeval_lines: "generate" or "file"; longeval_topics: "file"; else NULL */
    char *prompt;         /* longeval_*: "completion" or "chat" (datasets/longeval.h); else NULL */
    char *data_dir;       /* longeval_* file source: folder with lines/ and topics/ test cases */
    char *words_dir;      /* longeval_lines generate: folder with adjectivelist.txt, nounlist.txt */
    int n_sizes;
    int *sizes;           /* longeval_* file source: the files, by line count (N_lines) or topic
                             count (K_topics); samples = cases taken from the start of each file */
    int n_datasets;
    char **datasets;      /* longbench / lveval: dataset names (datasets/longdoc.h); samples = records
                             taken from the start of each file, 0 = all */
    int n_levels;
    char **levels;        /* lveval: length levels ("16k"), files <dataset>_<level>.jsonl */
    int max_length;       /* longbench / lveval: prompt budget, tokens (middle truncation beyond) */
    char *truncation;     /* longbench / lveval: "middle_context" or "middle_prompt" */
    int longbench_e;      /* longbench: 1 = the LongBench-E files <dataset>_e.jsonl */
    int n_tasks;
    char **tasks;         /* ruler: the RULER tasks to build (datasets/ruler.h); examples carry these names */
    char *qa_file;        /* ruler qa_nq: NQ-Open oracle JSONL(.gz); NULL when not needed */
    char *squad_file;     /* ruler qa_1: SQuAD v2 dev JSON; NULL when not needed */
    char *hotpotqa_file;  /* ruler qa_2: HotpotQA dev distractor JSON; NULL when not needed */
} workload_cfg;

/* One built example. */
typedef struct {
    example_record rec;   /* metadata (task, index, lengths, depth, answer, ids sha256) */
    int32_t *ids;         /* [n] prompt token ids */
    int n;
    int32_t *answer_ids;  /* [n_answer] gold continuation ids, for teacher-forced answer NLL */
    int n_answer;
    int max_new;          /* generation budget, tokens */
    char **others;        /* [n_others] other strings the scorer needs, dam_malloc'd; else NULL:
                             longeval_topics: the other topic names, to rank below rec.answer;
                             longbench trec / lsht: the record's all_classes; lveval: the record's
                             answer_keywords (one entry, none when absent) */
    int n_others;
    char **refs;          /* [n_refs] reference answers of multi-reference scorers (RULER
                             string_match_all / _part, LongBench max over answers), dam_malloc'd;
                             rec.answer then holds them as a JSON array text. NULL for tasks with
                             one answer (rec.answer) */
    int n_refs;
} example;

/* Builds all examples of workload `w` for model `m` from `seed` into *out (dam_malloc'd array of
 * *n_out examples, ordered by (length, depth, sample) — LongEval test-case files by (file, case);
 * index = position in that order). Exits with status 2 naming the problem on impossible requests
 * (length too small for the template, missing haystack folder, missing or malformed data file). */
void workload_build(const workload_cfg *w, const llama_model *m, uint64_t seed, example **out, int *n_out);

/* Score of `prediction` (the generated text) for example e, in [0, 1], by the task's rule. */
double workload_score(const example *e, const char *prediction);

/* Moves refs (a dam_malloc'd array of n_refs dam_malloc'd strings; the example owns it from now on)
 * into e->refs and sets rec.answer to their compact JSON array text (["a","b"], UTF-8). Call after
 * rec.task / rec.index are set: they name the example in the error when a reference is not valid
 * UTF-8 (exit 2). */
void example_set_refs(example *e, char **refs, int n_refs);

void example_free(example *e);

/* SHA-256 of token ids as int32 little-endian bytes, hex. */
void ids_sha256(const int32_t *ids, int n, char hex[65]);

#endif
