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
 * none = 0.
 *
 * Multi-needle variant (task `niah_multi`; upstream's multi-needle mode): each name X of the list
 * (default "Figs", "Prosciutto", "Goat cheese") becomes the needle " X is one of the secret
 * ingredients needed to build the perfect pizza. " (tokenised alone, no BOS; the spaces keep word
 * boundaries after the "." it follows and before the next haystack word, which may have none where
 * two essays meet). Needle i goes to depth d_i = d + i·(1 − d)/n (upstream:
 * the first at d, then every (100 − d)/n percent), each moved back to a "." token as above, all
 * positions taken on the haystack before any insertion (upstream inserts one after another into the
 * growing context; the shift is at most the earlier needles' length). Question "\n\nQuestion: What
 * are the secret ingredients needed to build the perfect pizza? Don't give information outside the
 * document or repeat your findings\nAnswer: The secret ingredients needed to build the perfect pizza
 * are". Score: the fraction of names found in the output as whole words, ignoring ASCII case
 * (upstream: an LLM judge). */
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

/* The multi-needle prompt of exactly `length` tokens: names[0..n_names) as needles from `depth`
 * (0..1) on, as described above. Returns dam_malloc'd ids (*n = length); needle_pos[i] (caller's
 * array of n_names) gets needle i's first token position. Exits with status 2 if length is too
 * small or the haystack too short. */
int32_t *niah_multi_prompt(const tokenizer *t, const niah_haystack *h, int length, double depth, const char *const *names,
                           int n_names, int *n, int *needle_pos);

/* The needle sentence of name X: " X is one of the secret ingredients needed to build the perfect
 * pizza. " (dam_malloc'd). */
char *niah_multi_needle(const char *name);

/* The gold continuation after the multi-needle answer prefix: " A, B, and C." (" A and B." for
 * two, " A." for one); dam_malloc'd. */
char *niah_multi_answer(const char *const *names, int n_names);

/* Fraction of names found in `prediction` as whole words (ASCII case ignored), in [0, 1]. */
double niah_multi_score(const char *prediction, const char *const *names, int n_names);

#endif
