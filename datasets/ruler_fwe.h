/* ruler_fwe.h — RULER's frequent words extraction `fwe` (NVIDIA/RULER @ c3f5e3b,
 * scripts/data/synthetic/freq_words_extraction.py, alpha = 2; docs/workloads.md "ruler"): one
 * generated instance with N words. Token fitting and prompt styles are in datasets/ruler.c.
 *
 * Vocabulary: V = S / 50 (integer division, S = target length) distinct random 6-letter
 * lower-case strings, sorted, permuted by the fixed-seed shuffle; vocab[0] is replaced by "..."
 * (the noise word). Word k (1-based) occurs floor(N · k^-2 / zeta(2)) times (zeta(2) = pi^2 / 6);
 * the multiset (vocabulary order, each word's copies together) is permuted by the fixed-seed
 * shuffle and joined by spaces.
 * Template "Read the following coded text and track the frequency of each coded word. Find the
 * three most frequently appeared coded words. {context}\nQuestion: Do not provide any
 * explanation. Please ignore the dots '....'. What are the three most frequently appeared words in
 * the above coded text?" and answer prefix " Answer: According to the coded text above, the three
 * most frequently appeared words are:". refs = vocab[1], vocab[2], vocab[3]; gold = " " + them as a
 * list + "."; depth = -1. N >= 64 keeps the counts of ranks 2..5 strictly decreasing (unique top 3).
 * Sizing differs from upstream (which grows N by S/32 from S/6 until the prompt alone reaches S
 * tokens and steps back once, leaving no room for the 50 generated tokens): ruler.c fits N by the
 * rule of every other task, tokens(prompt) + tokens_to_generate <= S. */
#ifndef DAM_DATASETS_RULER_FWE_H
#define DAM_DATASETS_RULER_FWE_H

#include <stdint.h>

#include "datasets/ruler_common.h"

/* The instance with N >= 64 words for target length S >= 250 (V >= 5). */
void ruler_fwe_make(int S, uint64_t ex_seed, uint64_t run_seed, int N, ruler_inst *out);

/* Occurrences of the word of rank k (1-based) among N words: floor(N · k^-2 / zeta(2)). */
int ruler_fwe_count(int N, int k);

#endif
