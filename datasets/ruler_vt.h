/* ruler_vt.h — RULER's variable tracking task `vt` (NVIDIA/RULER @ c3f5e3b,
 * scripts/data/synthetic/variable_tracking.py, noise haystack, 1 chain, 4 hops; docs/workloads.md
 * "ruler"): one generated instance at a given haystack size. Token fitting and prompt styles are
 * in datasets/ruler.c.
 *
 * Chain: 5 distinct names of 5 random upper-case letters X1..X5 and a value V uniform in
 * [10000, 99998] (numpy's randint(10000, 99999) excludes the upper bound); lines
 * "VAR X1 = V", "VAR X2 = VAR X1 ", ..., "VAR X5 = VAR X4 " (trailing space as upstream). Context
 * of n noise lines (RULER_NOISE): chain line j goes right before noise line p_j, p = 5 distinct
 * random indices sorted; lines joined by "\n"; ". \n" replaced by ".\n".
 * Template "Memorize and track the chain(s) of variable assignment hidden in the following
 * text.\n\n{context}\nQuestion: Find all variables that are assigned the value {query} in the text
 * above." and answer prefix " Answer: According to the chain(s) of variable assignment in the text
 * above, {num_v} variables are assigned the value {query}, they are: " (num_v = 5, query = V).
 * One-shot example, before the task: an instance with 3-letter names and value 12345 whose
 * template + prefix text is at most 500 tokens (no BOS), sized once per run (its noise count and
 * chain positions; RULER sizes it once per task), rendered as template + prefix + " " + the 5
 * names joined by " " + "\n"; for every example its names and value are replaced by fresh random
 * ones (3 letters, [10000, 99998]). Message = example + "\n" + template.
 * refs = X1..X5; gold = " " + the names joined by " " (the one-shot answer's form); depth = offset
 * of the "VAR X1 = V" line / context length. */
#ifndef DAM_DATASETS_RULER_VT_H
#define DAM_DATASETS_RULER_VT_H

#include <stdint.h>

#include "datasets/ruler_common.h"
#include "model/tokenizer.h"

/* The one-shot example's shape: its noise line count and its chain positions (sorted). */
typedef struct {
    int n_noise;
    int pos[5];
} ruler_vt_icl;

/* Sizes the one-shot example for tokenizer t: the largest noise count (>= 5) whose template +
 * prefix text is <= 500 tokens, with names and positions from run_seed's fixed stream. */
ruler_vt_icl ruler_vt_icl_fit(const tokenizer *t, uint64_t run_seed);

/* The instance with n >= 5 noise lines for the example whose streams derive from ex_seed. */
void ruler_vt_make(const ruler_vt_icl *icl, uint64_t ex_seed, int n, ruler_inst *out);

#endif
