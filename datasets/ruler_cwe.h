/* ruler_cwe.h — RULER's common words extraction `cwe` (NVIDIA/RULER @ c3f5e3b,
 * scripts/data/synthetic/common_words_extraction.py; docs/workloads.md "ruler"): one generated
 * instance with n distinct words. Token fitting and prompt styles are in datasets/ruler.c.
 *
 * Pool: sorted unique(nouns + adjectives + verbs) of the wonderwords lists, permuted once by the
 * fixed-seed shuffle. A word list of (n words, c repeats, u repeats): n distinct pool words drawn
 * at random; the first 10 are the common words; list = the 10 common words repeated c times (the
 * whole group c times, as Python's list * c) + the other n - 10 repeated u times, permuted by the
 * fixed-seed shuffle, rendered "1. w 2. w 3. w ..." (space separated).
 * Sizes: target length S >= 4096: one-shot example (40, 10, 3), task (n, 30, 3); S < 4096:
 * example (20, 3, 1), task (n, 6, 1).
 * Template "Below is a numbered list of words. In these words, some appear more often than others.
 * Memorize the ones that appear most often.\n{context}\nQuestion: What are the 10 most common words
 * in the above list?" and answer prefix " Answer: The top 10 words that appear most often in the
 * list are:". Message = [example template + prefix + " 1. c1 2. c2 ... 10. c10"] + "\n" + task
 * template. refs = the 10 common words; gold = " 1. c1 2. c2 ... 10. c10" (the example answer's
 * form); depth = -1. RULER falls back to a larger English word list (not available here) when n
 * exceeds the pool; here that is an input error (about 100K-token contexts). */
#ifndef DAM_DATASETS_RULER_CWE_H
#define DAM_DATASETS_RULER_CWE_H

#include <stdint.h>

#include "datasets/ruler_common.h"

/* The pool: sorted unique(nouns, adjectives, verbs) of `dir`, shuffled by the fixed-seed shuffle
 * of run_seed. Exits with status 2 naming a missing or empty list file. */
ruler_words ruler_cwe_pool(const char *dir, uint64_t run_seed);

/* The instance with n (10 <= n <= pool size) distinct task words for target length S. */
void ruler_cwe_make(const ruler_words *pool, int S, uint64_t ex_seed, uint64_t run_seed, int n, ruler_inst *out);

#endif
