/* longeval_lines.h — LongEval "lines" retrieval (LongChat, DachengLi1/LongChat @ 4b5faa5,
 * longeval/utils.py generate_lines_testcases, option LRT-NL; workloads.md §1): the text of the
 * task, its seeded generator, the loader of the original test cases and the scoring rule. Token
 * fitting and prompt styles are in datasets/longeval.c.
 *
 * User message = header + N lines + footer, concatenated without separators:
 *   header "Below is a record of lines I want you to remember. Each line begins with 'line <line
 *          index>' and contains a '<REGISTER_CONTENT>' at the end of the line as a numerical
 *          value. For each line index, memorize its corresponding <REGISTER_CONTENT>. At the end
 *          of the record, I will ask you to retrieve the corresponding <REGISTER_CONTENT> of a
 *          certain line index. Now the record start:\n\n"
 *   line   "line <key>: REGISTER_CONTENT is <<value>>\n"   (literal angle brackets around value)
 *   footer "\nNow the record is over. Tell me what is the <REGISTER_CONTENT> in line <key>? I
 *          need the number."
 * Keys are "<adjective>-<noun>" from the wonderwords lists, distinct within a prompt; values are
 * uniform integers in [1, 50000].
 *
 * Scoring (upstream eval: re.findall("\d+") on the output, the last match as int, -1 if none):
 * the last maximal run of ASCII digits 0-9 in the prediction, read as a decimal integer, equals the
 * expected number. A minus sign is not part of a run ("-5" reads 5), a comma or point separates
 * runs ("12,345" reads 345, "3.14" reads 14), leading zeros are ignored ("007" reads 7), no run
 * reads -1 (never correct). Python's \d also matches non-ASCII decimal digits (e.g. Arabic-Indic);
 * here only ASCII digits count. */
#ifndef DAM_DATASETS_LONGEVAL_LINES_H
#define DAM_DATASETS_LONGEVAL_LINES_H

#include <stdint.h>

#include "core/rng.h"

/* The wonderwords adjective and noun lists (one word per line; owned; free with
 * longeval_words_free). */
typedef struct {
    char **adjectives;
    int n_adjectives;
    char **nouns;
    int n_nouns;
} longeval_words;

/* Reads `dir`/adjectivelist.txt and `dir`/nounlist.txt (blank lines skipped). Exits with status 2
 * naming the file if one is missing, unreadable or empty. */
longeval_words *longeval_words_load(const char *dir);
void longeval_words_free(longeval_words *w);

/* Draws n lines in order from `rng`: for line i an adjective index, a noun index (both uniform)
 * and a value uniform in [1, 50000]; a key equal to an earlier line's key is redrawn, so keys are
 * distinct (n must be below n_adjectives · n_nouns, else exit 2). Stores n dam_malloc'd key
 * strings in *keys (dam_malloc'd array) and the values in *values (dam_malloc'd [n]). The first m
 * lines of a draw of n > m lines equal a draw of m lines from the same state. */
void longeval_lines_draw(const longeval_words *w, rng_t *rng, int n, char ***keys, int **values);

/* The user message for lines 0..n-1 and the question about line `target` (0 <= target < n).
 * Returns a dam_malloc'd string. */
char *longeval_lines_text(char *const *keys, const int *values, int n, int target);

/* The last run of ASCII digits in `s` as an integer by the rule above: -1 if there is none,
 * INT64_MAX if it has more than 18 significant digits (never equal to a test-case value). */
int64_t longeval_last_integer(const char *s);

/* 1 if longeval_last_integer(prediction) == expected, else 0. */
int longeval_lines_score(const char *prediction, int64_t expected);

/* One test case of an upstream N_lines.jsonl file. Strings dam_malloc'd, owned. */
typedef struct {
    char *prompt;       /* the full user message as stored */
    char *key;          /* random_idx[0]: the line key asked for */
    int position;       /* random_idx[1]: its 0-based position among the lines */
    int num_lines;      /* num_lines */
    int64_t expected;   /* expected_number */
} longeval_lines_case;

/* Reads the first `max_cases` cases (all when max_cases <= 0) of `path` (gzip or plain JSONL).
 * Each line must be an object with string `prompt`, array `random_idx` = [string, integer],
 * integer `expected_number`, integer `num_lines`, with 0 <= position < num_lines and the key
 * occurring in the prompt; other keys are ignored. Exits with status 2 naming the file, line
 * and key otherwise. Returns a dam_malloc'd array of *n cases. */
longeval_lines_case *longeval_lines_load(const char *path, int max_cases, int *n);
void longeval_lines_cases_free(longeval_lines_case *c, int n);

#endif
