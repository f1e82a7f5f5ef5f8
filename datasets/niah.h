/* niah.h — Needle In A Haystack (gkamradt/LLMTest_NeedleInAHaystack; workloads.md §4), built in
 * the model's tokens.
 *
 * Haystack: the .txt essays of a folder in sorted (C-locale) file-name order, concatenated with
 * no separator and repeated until long enough. Needle: "\nThe best thing to do in San Francisco
 * is eat a sandwich and sit in Dolores Park on a sunny day.\n", tokenised on its own without BOS.
 * For a prompt of L tokens at depth d (fraction 0..1): the context is the first
 * C = L - |prefix| - |needle| - |question| haystack tokens; the insertion point is floor(C · d),
 * moved back until the token before it is the "." token (token equality, as upstream); d = 1
 * appends at the end. The prompt is assembled in token space —
 *     prefix ids + context[0:pos] + needle ids + context[pos:] + question ids
 * — so its length is exactly L tokens and every method sees these ids.
 *
 * Prompt form (completion style with an answer prefix, because a 135M chat model ignores chat
 * questions; workloads.md §10): prefix "Read the document and answer the question.\n\nDocument:\n",
 * question "\n\nQuestion: What is the best thing to do in San Francisco? Don't give information
 * outside the document or repeat your findings\nAnswer: The best thing to do in San Francisco is".
 *
 * Scoring (deterministic stand-in for upstream's LLM judge): case-insensitive keyword recall of
 * the needle's two content phrases, "sandwich" and "dolores park": both present = 1, one = 0.5,
 * none = 0. */
#ifndef DAM_DATASETS_NIAH_H
#define DAM_DATASETS_NIAH_H

#include <stdint.h>

#include "model/tokenizer.h"

/* A tokenised haystack (owned; free with niah_haystack_free). */
typedef struct {
    int32_t *ids;
    int n;
    int32_t period;   /* id of the "." token */
    int n_files;
} niah_haystack;

/* Reads every *.txt file of `dir` in sorted order (exit 2 if the folder is missing, unreadable
 * or has no .txt files), concatenates them, repeats until at least `min_tokens` tokens. */
niah_haystack *niah_haystack_load(const tokenizer *t, const char *dir, int min_tokens);
void niah_haystack_free(niah_haystack *h);

/* Builds the prompt of exactly `length` tokens with the needle at `depth` (0..1). Returns the
 * dam_malloc'd ids (*n = length) and stores the needle's first token position in *needle_pos.
 * Exits with status 2 if length is too small to hold prefix, needle and question. */
int32_t *niah_prompt(const tokenizer *t, const niah_haystack *h, int length, double depth, int *n, int *needle_pos);

/* The gold continuation after the answer prefix: " eat a sandwich and sit in Dolores Park on a
 * sunny day." */
const char *niah_answer(void);

/* 1, 0.5 or 0 by the keyword rule above. */
double niah_score(const char *prediction);

#endif
