/* ruler_niah.h — RULER's needle-in-a-haystack family (NVIDIA/RULER @ c3f5e3b,
 * scripts/data/synthetic/niah.py and constants.py; docs/workloads.md "ruler"): one generated
 * instance at a given haystack size. Token fitting and prompt styles are in datasets/ruler.c.
 *
 * Needle: "One of the special magic {type_v} for {key} is: {value}." ({type_v} always plural:
 * numbers / words / uuids). Keys and values: 7-digit numbers, adjective-noun words, or UUID v4
 * texts. k keys (k = max(k, q)), v values each: k·v needles in key-major order, then permuted by
 * the fixed-seed shuffle (ruler_shuffle_fixed). Haystacks of size n:
 *   noise:  n lines "The grass is green. The sky is blue. The sun is yellow. Here we go. There
 *           and back again."; the needles go before the lines at k·v distinct random indices (the
 *           needle list reversed over the indices in increasing order, as RULER's inserts at
 *           descending indices do); lines joined by "\n";
 *   needle: the same with n distractor needles (fresh random key and value each) as the lines;
 *   essay:  the first n essay words (the list repeated as needed) joined by spaces, cut into
 *           sentences; the needles go between sentences at floor(n_sentences · depth / 100) for
 *           depths drawn without replacement from round(linspace(0, 100, 40)), sorted, the
 *           shuffled needles in that order; sentence chunks and needles joined by " ".
 * Query: q distinct keys drawn from the k; answers = all values of the queried keys (query order).
 * Template, with the answer prefix kept apart (docs quote them):
 *   "Some special magic {type_v} are hidden within the following text. Make sure to memorize it. I
 *   will quiz you about the {type_v} afterwards.\n{context}\nWhat are all the special magic
 *   {type_v} for {query} mentioned in the provided text?" + " The special magic {type_v} for
 *   {query} mentioned in the provided text are"
 * with, when q·v = 1, RULER's rewording of template and prefix: "Some"->"A", "are all"->"is",
 * "are"->"is", "answers"->"answer", and {type_v} without its final "s". {query} = the keys joined
 * as "a, b, c, and d".
 * Differences from upstream: our RNG streams; keys of one instance are distinct and no distractor
 * needle reuses a queried key (redrawn; upstream does not check, a collision makes the question
 * ambiguous); word keys draw an adjective and a noun uniformly from the sorted unique lists (the
 * same as uniform over their cross product, upstream draws from the de-duplicated joined strings). */
#ifndef DAM_DATASETS_RULER_NIAH_H
#define DAM_DATASETS_RULER_NIAH_H

#include <stdint.h>

#include "datasets/ruler_common.h"

typedef enum { RULER_HAY_NOISE, RULER_HAY_ESSAY, RULER_HAY_NEEDLE } ruler_haystack;
typedef enum { RULER_NUMBERS, RULER_WORDS, RULER_UUIDS } ruler_value_type;

/* One NIAH task's configuration (the table of docs/workloads.md). */
typedef struct {
    ruler_haystack hay;
    ruler_value_type key, value;
    int k, v, q;   /* keys, values per key, queried keys */
} ruler_niah_cfg;

/* Data the generator reads (borrowed): word pools for word keys / values (adjectives, nouns) and
 * the essay haystack (only for hay = essay). */
typedef struct {
    const ruler_words *adjs, *nouns;
    const ruler_essay *essay;
} ruler_niah_data;

/* The instance of haystack size n (words for essay, lines for noise / needle; n >= k·v for the
 * line haystacks) for the example whose streams derive from ex_seed; the fixed-seed shuffle uses
 * run_seed. Draws are prefix-stable in n where RULER's shape allows (keys, values, depths and
 * distractor needles do not depend on n; line indices do). refs = the answers; gold = " " + the
 * answers as a list + "."; depth = offset of the first answer's needle / context length. */
void ruler_niah_make(const ruler_niah_cfg *c, const ruler_niah_data *d, uint64_t ex_seed, uint64_t run_seed, int n,
                     ruler_inst *out);

/* The noise sentence G of the noise haystacks (niah, vt). */
extern const char *const RULER_NOISE;

#endif
