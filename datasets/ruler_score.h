/* ruler_score.h — RULER's scoring (NVIDIA/RULER @ c3f5e3b, scripts/eval/evaluate.py
 * postprocess_pred and scripts/eval/synthetic/constants.py; docs/workloads.md "ruler"), per
 * example, as a fraction in [0, 1] (RULER reports the mean over examples x 100).
 *
 * Post-processing of the generated text: strip surrounding whitespace; replace every character
 * in [\x00-\x1f] by "\n"; strip again. Python's str.strip() also removes Unicode white space
 * (U+0085, U+00A0, U+2000..U+200A, U+3000, ...); here the strip covers ASCII white space
 * (space, \t \n \v \f \r) and \x1c-\x1f, which is all that can change a substring match (a
 * reference never starts or ends with white space).
 * Matching: a reference r is found when lower(r) is a substring of lower(prediction). Case is
 * folded for all of Unicode (PCRE2 caseless literal match, UTF mode): Python's lower() differs
 * only in a few context rules (a final sigma, U+0130) that do not occur in these tasks' data.
 * Invalid UTF-8 in the prediction (a token cut inside a character) is matched byte-wise around
 * it (PCRE2_MATCH_INVALID_UTF).
 *   string_match_all (niah_*, vt, cwe, fwe): the fraction of references found.
 *   string_match_part (qa_*): 1 if any reference is found, else 0. */
#ifndef DAM_DATASETS_RULER_SCORE_H
#define DAM_DATASETS_RULER_SCORE_H

#include <stdbool.h>

/* The post-processed prediction (dam_malloc'd). */
char *ruler_postprocess(const char *prediction);

/* True if `ref` occurs in `text` ignoring case (Unicode simple case folding). An empty ref is
 * found everywhere (as Python's "" in s). */
bool ruler_contains(const char *text, const char *ref);

/* string_match_all / string_match_part of a prediction (post-processed here) against n >= 1 refs. */
double ruler_match_all(const char *prediction, char *const *refs, int n);
double ruler_match_part(const char *prediction, char *const *refs, int n);

#endif
