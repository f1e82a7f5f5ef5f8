/* longeval.h — the LongEval workloads `longeval_lines` and `longeval_topics` as examples for the
 * run loop (docs/workloads.md): prompt style, token-length fitting of generated "lines" prompts,
 * and the original test-case files. The task texts, loaders and scorers are in
 * datasets/longeval_lines.h and datasets/longeval_topics.h.
 *
 * Prompt styles (config `prompt`):
 *   "completion" (default, like passkey and niah): no chat template; the upstream user message,
 *     then an answer prefix the model continues —
 *       lines:  "\nAnswer: The <REGISTER_CONTENT> in line <key> is <"
 *       topics: "\nAnswer: The first topic we discussed is"
 *   "chat" (upstream): the user message as the single user turn of the model's chat template
 *     (model/chat.h, ChatML for SmolLM2) with the assistant header; a model without a template
 *     gets the raw message (upstream: base models use none).
 * Ids: tokenised with BOS per the model's policy; special-token texts are parsed only in the
 * rendered chat template.
 *
 * Generated lines (source "generate"): for target length L and depth d, the lines of one example
 * are drawn from the example's seeded stream (longeval_lines_draw); the prompt with N lines asks
 * about line p = floor(d · (N − 1)); N is the largest line count whose tokenised prompt (style
 * included) is ≤ L tokens, found by doubling then binary search. A length that cannot hold one
 * line is an input error. */
#ifndef DAM_DATASETS_LONGEVAL_H
#define DAM_DATASETS_LONGEVAL_H

#include <stdint.h>

#include "datasets/workload.h"
#include "model/llama.h"

/* Builds the examples of a longeval_lines or longeval_topics workload (w->task) into *out
 * (dam_malloc'd array of *n_out examples), in the order of workload_build: generate mode by
 * (length, depth, sample); file mode by (file size, case). Topics examples carry the other topic
 * names (the case's and `data_dir`/topics/topics.txt) in e->others for the scorer. Exits with
 * status 2 naming the file or key on missing or malformed data, and on impossible lengths. */
void longeval_build(const workload_cfg *w, const llama_model *m, uint64_t seed, example **out, int *n_out);

/* The score of a LongEval example: lines by the last-integer rule against rec.answer (the
 * expected number in decimal), topics by the keyword rule against rec.answer (the first topic)
 * and e->others. */
double longeval_score(const example *e, const char *prediction);

/* Path of a test-case file: `dir`/lines/<size>_lines.jsonl.gz (kind "lines") or
 * `dir`/topics/<size>_topics.jsonl.gz (kind "topics"); when that file does not exist but the
 * uncompressed `.jsonl` does, that one. Returns a dam_malloc'd path (the .gz one when neither
 * exists, so the loader's error names it). */
char *longeval_case_path(const char *dir, const char *kind, int size);

#endif
