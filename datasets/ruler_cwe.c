/* ruler_cwe.c — see ruler_cwe.h. */
#include "datasets/ruler_cwe.h"

#include <string.h>

#include "core/error.h"
#include "core/mem.h"

static const char *TEMPLATE = "Below is a numbered list of words. In these words, some appear more often than others. Memorize the "
                              "ones that appear most often.\n{context}\nQuestion: What are the 10 most common words in the above list?";
static const char *PREFIX = " Answer: The top 10 words that appear most often in the list are:";
enum { COMMON = 10 };

ruler_words ruler_cwe_pool(const char *dir, uint64_t run_seed) {
    static const char *const files[] = {"nounlist.txt", "adjectivelist.txt", "verblist.txt", NULL};
    ruler_words w = ruler_words_load(dir, files);
    int *perm = ruler_shuffle_fixed(run_seed, w.n);
    char **shuffled = dam_malloc(sizeof(char *) * (size_t)w.n, "word pool");
    for (int i = 0; i < w.n; i++) shuffled[i] = w.w[perm[i]];
    dam_free(w.w);
    dam_free(perm);
    w.w = shuffled;
    return w;
}

/* A numbered word list of n distinct words (repeats c for the first 10, u for the rest) drawn
 * from r; the 10 common words' indices into the pool in common[]. Returns the "1. w 2. w" text. */
static char *word_list(const ruler_words *pool, rng_t *r, uint64_t run_seed, int n, int c, int u, int common[COMMON]) {
    if (n < COMMON || n > pool->n)
        dam_die(DAM_EXIT_INPUT, "ruler cwe: %d distinct words asked, the pool has %d (RULER's larger English list is not "
                "available here)", n, pool->n);
    int *pick = dam_malloc(sizeof(int) * (size_t)n, "cwe words");
    ruler_sample(r, pool->n, n, pick);
    memcpy(common, pick, sizeof(int) * COMMON);
    const int total = COMMON * c + (n - COMMON) * u;
    int *list = dam_malloc(sizeof(int) * (size_t)(total ? total : 1), "cwe list");
    int k = 0;
    for (int rep = 0; rep < c; rep++)
        for (int i = 0; i < COMMON; i++) list[k++] = pick[i];
    for (int rep = 0; rep < u; rep++)
        for (int i = COMMON; i < n; i++) list[k++] = pick[i];
    int *perm = ruler_shuffle_fixed(run_seed, total);
    ruler_str b = {0};
    for (int i = 0; i < total; i++) ruler_str_addf(&b, "%s%d. %s", i ? " " : "", i + 1, pool->w[list[perm[i]]]);
    dam_free(perm);
    dam_free(list);
    dam_free(pick);
    return ruler_str_take(&b);
}

static void add_answer(ruler_str *b, const ruler_words *pool, const int common[COMMON]) {
    for (int i = 0; i < COMMON; i++) ruler_str_addf(b, " %d. %s", i + 1, pool->w[common[i]]);
}

void ruler_cwe_make(const ruler_words *pool, int S, uint64_t ex_seed, uint64_t run_seed, int n, ruler_inst *out) {
    rng_t ra = rng_seed(ex_seed, 1), rd = rng_seed(ex_seed, 4);
    const int big = S >= 4096;
    int ecommon[COMMON], common[COMMON];
    /* RULER draws the example first, then the task, from one generator; two streams here */
    char *ectx = word_list(pool, &rd, run_seed, big ? 40 : 20, big ? 10 : 3, big ? 3 : 1, ecommon);
    char *ctx = word_list(pool, &ra, run_seed, n, big ? 30 : 6, big ? 3 : 1, common);
    ruler_str u = {0};
    char *et = ruler_replace(TEMPLATE, "{context}", ectx);
    ruler_str_add(&u, et);
    ruler_str_add(&u, PREFIX);
    add_answer(&u, pool, ecommon);
    ruler_str_add(&u, "\n");
    char *t = ruler_replace(TEMPLATE, "{context}", ctx);
    ruler_str_add(&u, t);
    out->user = ruler_str_take(&u);
    out->prefix = dam_strdup(PREFIX, "prefix");
    out->n_refs = COMMON;
    out->refs = dam_malloc(sizeof(char *) * COMMON, "cwe answers");
    for (int i = 0; i < COMMON; i++) out->refs[i] = dam_strdup(pool->w[common[i]], "cwe answer");
    ruler_str g = {0};
    add_answer(&g, pool, common);
    out->gold = ruler_str_take(&g);
    out->depth = -1;
    dam_free(t);
    dam_free(et);
    dam_free(ctx);
    dam_free(ectx);
}
