/* ruler_fwe.c — see ruler_fwe.h. */
#include "datasets/ruler_fwe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

static const char *TEMPLATE =
    "Read the following coded text and track the frequency of each coded word. Find the three most frequently appeared "
    "coded words. {context}\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three "
    "most frequently appeared words in the above coded text?";
static const char *PREFIX = " Answer: According to the coded text above, the three most frequently appeared words are:";
enum { WORD_LEN = 6 };

int ruler_fwe_count(int N, int k) {
    const double zeta2 = M_PI * M_PI / 6.0;
    /* numpy: num_words * (k ** -alpha) / zeta(alpha), then astype(int) */
    return (int)((double)N * pow((double)k, -2.0) / zeta2);
}

static int cmp_word(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

void ruler_fwe_make(int S, uint64_t ex_seed, uint64_t run_seed, int N, ruler_inst *out) {
    const int V = S / 50;
    if (V < 5) dam_die(DAM_EXIT_INPUT, "ruler fwe: length %d gives a vocabulary of %d words (S / 50), need >= 5", S, V);
    rng_t ra = rng_seed(ex_seed, 1);
    char (*vocab)[WORD_LEN + 1] = dam_malloc(sizeof(*vocab) * (size_t)V, "fwe vocabulary");
    for (int i = 0; i < V; i++) {
        for (int dup = 1; dup;) {
            for (int c = 0; c < WORD_LEN; c++) vocab[i][c] = (char)('a' + rng_range(&ra, 0, 25));
            vocab[i][WORD_LEN] = 0;
            dup = 0;
            for (int j = 0; j < i; j++) dup |= strcmp(vocab[i], vocab[j]) == 0;
        }
    }
    qsort(vocab, (size_t)V, sizeof(*vocab), cmp_word);
    int *vp = ruler_shuffle_fixed(run_seed, V);
    char (*sv)[WORD_LEN + 1] = dam_malloc(sizeof(*sv) * (size_t)V, "fwe vocabulary");
    for (int i = 0; i < V; i++) memcpy(sv[i], vocab[vp[i]], WORD_LEN + 1);
    strcpy(sv[0], "...");

    int total = 0;
    for (int k = 1; k <= V; k++) total += ruler_fwe_count(N, k);
    int *list = dam_malloc(sizeof(int) * (size_t)(total ? total : 1), "fwe words");
    int m = 0;
    for (int k = 1; k <= V; k++)
        for (int c = ruler_fwe_count(N, k); c > 0; c--) list[m++] = k - 1;
    int *perm = ruler_shuffle_fixed(run_seed, total);
    ruler_str ctx = {0};
    for (int i = 0; i < total; i++) {
        if (i) ruler_str_add(&ctx, " ");
        ruler_str_add(&ctx, sv[list[perm[i]]]);
    }
    char *context = ruler_str_take(&ctx);
    out->user = ruler_replace(TEMPLATE, "{context}", context);
    out->prefix = dam_strdup(PREFIX, "prefix");
    out->n_refs = 3;
    out->refs = dam_malloc(sizeof(char *) * 3, "fwe answers");
    for (int i = 0; i < 3; i++) out->refs[i] = dam_strdup(sv[i + 1], "fwe answer");
    char *l = ruler_join_list(out->refs, 3);
    ruler_str g = {0};
    ruler_str_addf(&g, " %s.", l);
    out->gold = ruler_str_take(&g);
    out->depth = -1;
    dam_free(l);
    dam_free(context);
    dam_free(perm);
    dam_free(list);
    dam_free(vp);
    dam_free(sv);
    dam_free(vocab);
}
