/* longdoc.h — the long-document QA workloads `longbench` (LongBench v1, THUDM/LongBench) and `lveval`
 * (LV-Eval, infinigence/LVEval) read from their JSONL files (docs/workloads.md "longbench",
 * "lveval"):
 *   files     longbench: <data_dir>/<dataset>.jsonl (LongBench-E: <dataset>_e.jsonl);
 *             lveval:    <data_dir>/<dataset>_<level>.jsonl; `.jsonl.gz` when the plain file is absent;
 *             the first `samples` records of each (0 = all);
 *   prompt    the dataset's upstream template (datasets/longbench.h, datasets/lveval.h) with {context}
 *             and {input} replaced by the record's fields, in the config's prompt style
 *             (datasets/prompt.h): "chat" renders it as the user turn of the model's chat template —
 *             except LongBench's trec, triviaqa, samsum, lsht, lcc, repobench-p, which upstream never
 *             wraps —, "completion" never does; no answer prefix is added (the templates end with
 *             their own "Answer:" line);
 *   budget    `max_length` prompt tokens, by middle truncation:
 *             "middle_context" (default): the prompt is tokenised whole; when it exceeds max_length,
 *               it is assembled in token space as [template and chat text before {context}] + the
 *               first floor(B/2) and last B − floor(B/2) tokens of the context + [the rest], with
 *               B = max_length − (tokens outside the context): exactly max_length tokens, the
 *               instruction and the question intact;
 *             "middle_prompt" (upstream pred.py): the user message is tokenised (with BOS, as
 *               upstream's tokenizer call) and, when longer than max_length, replaced by the decoded
 *               text of its first and last floor(max_length/2) tokens, then styled and tokenised again
 *               (the chat template comes on top, so the prompt can exceed max_length);
 *             rec.n_truncated = the tokens cut;
 *   records   task "longbench.<dataset>", "longbench_e.<dataset>.<0-4k|4-8k|8k+>" (LongBench-E's
 *             buckets of the record's `length`), "lveval.<dataset>_<level>"; index = position within
 *             that task; sample = the record's position in its file (0-based); target_len =
 *             max_length; depth = −1; answer = the `answers` as a JSON array; max_new = the
 *             dataset's upstream budget; answer NLL target = the first answer, preceded by a space
 *             when the prompt is not in a chat template and ends with an ASCII character other than
 *             whitespace (after "Answer:").
 * Malformed input (unreadable file, a line that is not a JSON object, a missing or mistyped field,
 * a retrieval answer without its paragraph number) exits with status 2 and one line naming the file
 * and line. */
#ifndef DAM_DATASETS_LONGDOC_H
#define DAM_DATASETS_LONGDOC_H

#include <stdbool.h>
#include <stdint.h>

#include "datasets/prompt.h"
#include "datasets/workload.h"
#include "model/llama.h"

/* The scorer of a dataset (datasets/metrics_longbench.h, datasets/metrics_lveval.h). */
typedef enum {
    LD_QA_F1,              /* qa_f1_score */
    LD_QA_F1_ZH,           /* qa_f1_zh_score */
    LD_ROUGE,              /* rouge_score (ROUGE-L f) */
    LD_ROUGE_ZH,           /* rouge_zh_score */
    LD_CLASSIFICATION,     /* classification_score against all_classes */
    LD_RETRIEVAL,          /* retrieval_score ("Paragraph N") */
    LD_RETRIEVAL_ZH,       /* retrieval_zh_score ("段落N") */
    LD_COUNT,              /* count_score */
    LD_CODE_SIM,           /* code_sim_score */
    LD_F1_KEYWORDS,        /* LV-Eval qa_f1_score_with_gold_ans */
    LD_F1_KEYWORDS_ZH,     /* LV-Eval qa_f1_zh_score_with_gold_ans */
    LD_ROUGE_ZH_BLACKLIST, /* LV-Eval rouge_zh_score_blacklist */
} longdoc_metric;

/* One dataset as upstream configures it. */
typedef struct {
    const char *name;      /* as upstream spells it ("hotpotqa", "factrecall_en") */
    const char *prompt;    /* template with {context} and (optionally) {input} */
    int max_new;           /* upstream's max new tokens */
    longdoc_metric metric;
    bool no_chat;          /* never rendered in a chat template (LongBench pred.py's list) */
    bool first_line;       /* only the first line is scored (LongBench eval.py's list) */
    bool first_answer;     /* only the first answer is scored (LV-Eval evaluation.py) */
} longdoc_spec;

/* The spec of a dataset of `task` ("longbench" or "lveval"), NULL if there is none. */
const longdoc_spec *longdoc_find(const char *task, const char *name);

/* True for the example task names this module builds ("longbench.", "longbench_e.", "lveval."). */
bool longdoc_is_task(const char *task);

/* The user message: the template with every {context} and {input} replaced (Python str.format on
 * these two fields). Returns a dam_malloc'd string. */
char *longdoc_message(const char *tmpl, const char *context, const char *input);

/* Prompt ids of one record under a budget. */
typedef struct {
    int32_t *ids;    /* [n], dam_malloc'd */
    int n;
    int n_cut;       /* tokens removed by truncation */
} longdoc_ids;

/* Builds the prompt ids of `tmpl` for (context, input) in style `st` within max_length tokens by
 * `truncation` ("middle_context" or "middle_prompt"), as described above. `where` ("file:line")
 * names the record in the error when max_length cannot hold the prompt without its context (exit 2). */
longdoc_ids longdoc_prompt_ids(const prompt_style *st, const char *tmpl, const char *context, const char *input,
                               int max_length, const char *truncation, const char *where);

/* Builds the examples of a longbench or lveval workload into *out (dam_malloc'd, *n_out of them),
 * by dataset (and level), then by record. Exits with status 2 as described above. */
void longdoc_build(const workload_cfg *w, const llama_model *m, example **out, int *n_out);

/* The score of a built example in [0, 1]: the dataset's metric on the prediction (its first line
 * where upstream keeps only that), maximal over e->refs (LV-Eval: the first answer only), with
 * e->others as all_classes (classification) or as the keywords (LV-Eval). */
double longdoc_score(const example *e, const char *prediction);

#endif
