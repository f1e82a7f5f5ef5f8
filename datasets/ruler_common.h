/* ruler_common.h — the pieces the RULER generators share (NVIDIA/RULER @ c3f5e3b,
 * scripts/data/synthetic/ (one .py per task); docs/workloads.md "ruler"): a growing string, the word pools,
 * the essay haystack as words with sentence ends, seeded sampling / shuffling in RULER's shapes,
 * the random values (7-digit numbers, adj-noun words, UUID v4 texts) and one generated instance.
 *
 * Randomness: our SplitMix64 (core/rng.h), not Python's `random` stream. Where RULER draws from
 * its global generator we draw from the example's own streams; where RULER re-seeds a generator
 * with the run seed for every call (`random.Random(args.random_seed).shuffle(x)`, which makes the
 * permutation a function of len(x) alone) we do the same with ruler_shuffle_fixed. */
#ifndef DAM_DATASETS_RULER_COMMON_H
#define DAM_DATASETS_RULER_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

/* A growing NUL-terminated string (dam_malloc'd buffer). Zero-initialise; ruler_str_take hands
 * the buffer over (never NULL). */
typedef struct {
    char *s;
    size_t len, cap;
} ruler_str;

void ruler_str_add(ruler_str *b, const char *s);
void ruler_str_addn(ruler_str *b, const char *s, size_t n);
void ruler_str_addf(ruler_str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *ruler_str_take(ruler_str *b);

/* A copy of `s` with every occurrence of `from` (non-empty) replaced by `to`, left to right and
 * non-overlapping, as Python's str.replace. dam_malloc'd. */
char *ruler_replace(const char *s, const char *from, const char *to);

/* `s` with `from` replaced by `to` in place of *s (the old string is freed). */
void ruler_replace_in(char **s, const char *from, const char *to);

/* A sorted (byte order = Python's code-point order for UTF-8), de-duplicated word list: the union
 * of the non-blank lines (trailing CR / spaces removed) of the NULL-terminated `files` in `dir`.
 * Exits with status 2 naming the file when one is missing, unreadable or has no word. */
typedef struct {
    char **w;  /* [n] dam_malloc'd words */
    int n;
} ruler_words;

ruler_words ruler_words_load(const char *dir, const char *const *files);
/* Releases the words and zeroes w (a zeroed list is fine). */
void ruler_words_free(ruler_words *w);

/* The essay haystack: the .txt files of a folder in sorted (C-locale) name order, joined with a
 * space, every whitespace run collapsed to one space, split at spaces into words (RULER:
 * re.sub(r'\s+', ' ', text).split(' ') of its essay JSON). sent_end[i] is 1 when word i ends a
 * sentence: its last character, after any closing ' " ) ], is . ! or ? (a simple stand-in for
 * NLTK punkt; abbreviations such as "e.g." also end a sentence here). Exits with status 2 naming
 * the folder when it is missing or holds no .txt file or no word. */
typedef struct {
    char **w;          /* [n] words, dam_malloc'd */
    unsigned char *sent_end;  /* [n] */
    int n;
} ruler_essay;

ruler_essay ruler_essay_load(const char *dir);
/* Releases the words and zeroes e (a zeroed essay is fine). */
void ruler_essay_free(ruler_essay *e);

/* RULER's needle depths: round(linspace(0, 100, 40)) as integers (percent), in order. */
int ruler_depth_percent(int i);
enum { RULER_N_DEPTHS = 40 };

/* Draws k distinct integers from [0, pop) in draw order (partial Fisher-Yates: the first k of a
 * draw of k' > k from the same state are the draw of k), as random.sample(range(pop), k). */
void ruler_sample(rng_t *r, int pop, int k, int *out);

/* Shuffles a[0..n) in place as Python's random.shuffle does (i from n-1 down to 1, j uniform in
 * [0, i], swap). */
void ruler_shuffle(rng_t *r, int *a, int n);

/* The permutation RULER's `random.Random(seed).shuffle` applies to a list of n items: perm[i] =
 * the original index of the item that ends at position i; a fresh generator from (seed, a fixed
 * stream) for every call, so it depends on (seed, n) only. dam_malloc'd [n]. */
int *ruler_shuffle_fixed(uint64_t seed, int n);

/* Random values as text (NUL-terminated into buf): a 7-digit number in [1000000, 9999999]; an
 * "adjective-noun" word from two pools (each uniform); a random UUID version 4 (128 random bits
 * with the version and variant fields set, lower-case 8-4-4-4-12 hex, as Python's
 * uuid.UUID(int=getrandbits(128), version=4)). */
void ruler_rand_number(rng_t *r, char buf[16]);
void ruler_rand_word(rng_t *r, const ruler_words *adjs, const ruler_words *nouns, char *buf, size_t cap);
void ruler_rand_uuid(rng_t *r, char buf[40]);

/* One generated instance of a task at one haystack size. All strings dam_malloc'd, owned. */
typedef struct {
    char *user;        /* the task template with its context (and one-shot example), without the answer prefix */
    char *prefix;      /* the answer prefix, appended after the message (completion) or the assistant header (chat) */
    char **refs;       /* [n_refs] reference strings of the metric */
    int n_refs;
    char *gold;        /* the teacher-forced answer text after the prefix (answer NLL target) */
    double depth;      /* the first answer's needle / chain / gold document position as a fraction of the
                          context (character offset / context length), -1 where meaningless */
} ruler_inst;

/* Releases the strings of x and zeroes it (a zeroed instance is fine). */
void ruler_inst_free(ruler_inst *x);

/* Refs as RULER lists them in a sentence: "a" / "a, and b" / "a, b, and c" (', '.join(x[:-1]) +
 * ', and ' + x[-1], as its multi-key query). dam_malloc'd. */
char *ruler_join_list(char *const *items, int n);


#endif
