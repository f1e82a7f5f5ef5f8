/* metrics_text.h — the text primitives of the long-document QA scorers (LongBench v1, LV-Eval;
 * docs/workloads.md "Metrics"), re-implemented from what the Python references compute:
 *   - SQuAD answer normalisation (THUDM/LongBench metrics.py `normalize_answer`) and its Chinese
 *     variant (`normalize_zh_answer`);
 *   - bag-of-tokens F1 (`f1_score`: multiset intersection of collections.Counter);
 *   - ROUGE-L "f" as the PyPI package rouge==1.0.1 computes it (`Rouge().get_scores`, metric
 *     "rouge-l", the summary-level union LCS of rouge_score.py);
 *   - difflib.SequenceMatcher.ratio() and fuzzywuzzy 0.18.0 `fuzz.ratio` (pure-Python fallback,
 *     i.e. difflib, which is what LongBench's requirements give);
 *   - `re.findall(r"\d+", s)`.
 * Strings are UTF-8 and are processed as Unicode code points like Python's str: invalid bytes decode
 * to U+FFFD each. What "whitespace", "lower case" and "word character" mean is Python's, restricted
 * as stated at each function. Every function that returns memory returns it dam_malloc'd; the
 * caller frees it (token lists with text_tokens_free). */
#ifndef DAM_DATASETS_METRICS_TEXT_H
#define DAM_DATASETS_METRICS_TEXT_H

#include <stdbool.h>
#include <stdint.h>

/* Decodes UTF-8 `s` into *out (dam_malloc'd code points, never NULL); returns the count. A byte that
 * does not start a valid, shortest-form sequence of a scalar value decodes to U+FFFD on its own. */
int text_utf8_decode(const char *s, uint32_t **out);

/* Encodes n code points as a NUL-terminated UTF-8 string (dam_malloc'd). */
char *text_utf8_encode(const uint32_t *cp, int n);

/* Python's str.isspace() for the characters str.split() splits on: U+0009-000D, U+001C-0020,
 * U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
bool text_py_space(uint32_t c);

/* Python's str.lower() of one code point for ASCII, Latin-1, Latin Extended-A (except U+0130, which
 * Python lowers to two code points — the normalisations below do that), Greek, Cyrillic and
 * fullwidth Latin letters; other characters are returned unchanged. */
uint32_t text_py_lower(uint32_t c);

/* Python's str.split(): the runs of non-whitespace of `s` as UTF-8 strings into *toks
 * (dam_malloc'd array of dam_malloc'd strings); returns the count. */
int text_split(const char *s, char ***toks);

/* SQuAD normalisation, `normalize_answer`: lower case; drop the ASCII punctuation characters
 * (Python's string.punctuation); replace each whole word a, an, the by a space (regex
 * \b(a|an|the)\b, where a word character is an ASCII letter, digit or '_' or any non-ASCII
 * character other than whitespace, punctuation and symbols — Python's Unicode \w, approximated);
 * collapse whitespace to single spaces and trim. Returns the normalised string. */
char *text_norm_squad(const char *s);

/* Chinese normalisation, `normalize_zh_answer`: lower case; drop ASCII punctuation and the
 * Chinese punctuation string of LongBench's metrics.py (quoted in metrics_text.c); drop every
 * whitespace character. Returns the normalised string. */
char *text_norm_zh(const char *s);

/* Tokens of `normalize_answer(s).split()` into *toks; returns the count. */
int text_squad_tokens(const char *s, char ***toks);

/* The code points of text_norm_zh(s), one token each (the stand-in for jieba's words, which C does
 * not have: docs/workloads.md, "Chinese"); returns the count. */
int text_zh_char_tokens(const char *s, char ***toks);

void text_tokens_free(char **toks, int n);

/* Size of the multiset intersection of two token lists (Counter(a) & Counter(b)), not counting the
 * tokens equal to an entry of the NULL-terminated `exclude` (may be NULL). */
int text_common(char *const *a, int na, char *const *b, int nb, const char *const *exclude);

/* `f1_score`: 0 when nothing is common, else 2PR/(P+R) with P = common/|pred|, R = common/|gold|. */
double text_f1(char *const *pred, int np, char *const *gold, int ng);

/* ROUGE-L "f" of rouge==1.0.1 `Rouge().get_scores([hyp], [ref], avg=True)["rouge-l"]["f"]`, the
 * LongBench `rouge_score` (0 where the package raises, as LongBench's `except: return 0.0`):
 *   sentences = the pieces of the text split at '.', empty pieces dropped, each with whitespace
 *     collapsed (a piece of only spaces becomes the sentence "" with the one word "");
 *   words of a sentence = split at ' ';
 *   no hypothesis or no reference sentence -> 0;
 *   U = the set of distinct words occurring in LCS(r, c) for any reference sentence r and
 *     hypothesis sentence c, each LCS reconstructed by the package's tie rule (walk back from the
 *     end; on equal words take both, else step in the reference when the table above is strictly
 *     larger, otherwise in the hypothesis);
 *   m, n = numbers of DISTINCT words of the reference and of the hypothesis;
 *   R = |U|/m, P = |U|/n, F = 2PR/(P + R + 1e-8)   (so identical texts give 0.999999995).
 * Upstream raises RecursionError (score 0) when a reference sentence and a hypothesis sentence
 * together exceed about 1,000 words; computed here. */
double text_rouge_l(const char *hyp, const char *ref);

/* difflib.SequenceMatcher(None, a, b).ratio() over code points: 2M/T, M = total size of the
 * matching blocks (Ratcliff/Obershelp: longest match, then recursively left and right of it, with
 * difflib's tie rule and its "autojunk" heuristic — when b has >= 200 code points, a character of b
 * occurring more than len(b)/100 + 1 times cannot start a match), T = len(a) + len(b); 1.0 when
 * both are empty. */
double text_seq_ratio(const char *a, const char *b);

/* fuzzywuzzy `fuzz.ratio(a, b)`: 100 if a == b; 0 if either is empty; else
 * round-half-even(100 * text_seq_ratio(a, b)) (Python's round). */
int text_fuzz_ratio(const char *a, const char *b);

/* `re.findall(r"\d+", s)` with ASCII digits: the maximal digit runs of s into *runs; returns the
 * count. (Python's \d also matches other scripts' decimal digits.) */
int text_digit_runs(const char *s, char ***runs);

#endif
