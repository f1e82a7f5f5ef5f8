/* test_niah.c — Needle In A Haystack, single and multi-needle (datasets/niah.h), with the real
 * model's tokenizer and the PG essays (data/pg_essays, `make data`):
 *  - both prompts have exactly the requested number of tokens;
 *  - every needle starts right after a "." token (upstream's back-off rule) at or before its
 *    depth's position, needles appear in order, and each needle's ids are the needle text tokenised
 *    alone without BOS (so no BOS inside the prompt), with its word boundary intact in the text;
 *  - multi-needle depths d_i = d + i(1 - d)/n (checked against positions computed here);
 *  - the gold answers and the scorers on hand-made predictions (values worked out below). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "datasets/niah.h"
#include "model/llama.h"
#include "test.h"

/* Whether ids[at..at+n) equals want[0..n). */
static int same_ids(const int32_t *ids, int at, const int32_t *want, int n) {
    return memcmp(ids + at, want, sizeof(int32_t) * (size_t)n) == 0;
}

int main(void) {
    /* scorers: names Figs / Prosciutto / Goat cheese, whole words, ASCII case ignored */
    const char *names[3] = {"Figs", "Prosciutto", "Goat cheese"};
    CHECK(niah_multi_score(" figs, prosciutto, and goat cheese.", names, 3) == 1.0, "all three");
    CHECK(niah_multi_score(" Figs and PROSCIUTTO", names, 3) == 2.0 / 3, "two of three");
    CHECK(niah_multi_score(" goat-cheese, configs and figsaw", names, 3) == 0.0, "no whole-word match");
    CHECK(niah_multi_score("Goat cheese!", names, 3) == 1.0 / 3, "at the start, before punctuation");
    CHECK(niah_multi_score("", names, 3) == 0.0, "empty prediction");
    CHECK(niah_multi_score("Figs\xc3\xa9", names, 3) == 1.0 / 3, "a non-ASCII byte is a word break (not alnum)");
    CHECK(niah_score(" eat a Sandwich in DOLORES PARK") == 1.0 && niah_score("a sandwich") == 0.5 && niah_score("") == 0,
          "single-needle keyword rule");
    char *a3 = niah_multi_answer(names, 3), *a2 = niah_multi_answer(names, 2), *a1 = niah_multi_answer(names, 1);
    CHECK(strcmp(a3, " Figs, Prosciutto, and Goat cheese.") == 0, "answer of 3: \"%s\"", a3);
    CHECK(strcmp(a2, " Figs and Prosciutto.") == 0, "answer of 2: \"%s\"", a2);
    CHECK(strcmp(a1, " Figs.") == 0, "answer of 1: \"%s\"", a1);
    dam_free(a3), dam_free(a2), dam_free(a1);
    char *nd = niah_multi_needle("Goat cheese");
    CHECK(strcmp(nd, " Goat cheese is one of the secret ingredients needed to build the perfect pizza. ") == 0, "needle \"%s\"", nd);
    dam_free(nd);

    llama_model *m = llama_load("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    niah_haystack *h = niah_haystack_load(m->tok, "data/pg_essays", 5000);
    CHECK(h->n_files == 49 && h->n >= 5000, "haystack: %d files, %d tokens", h->n_files, h->n);
    int32_t *ndl[3];
    int n_ndl[3];
    for (int i = 0; i < 3; i++) {
        char *s = niah_multi_needle(names[i]);
        n_ndl[i] = tok_encode(m->tok, s, strlen(s), false, false, &ndl[i]);
        dam_free(s);
    }
    const int32_t bos = tok_bos(m->tok);
    int32_t *pre = NULL;
    const char *pre_text = "Read the document and answer the question.\n\nDocument:\n";
    int prefix_len = tok_encode(m->tok, pre_text, strlen(pre_text), true, false, &pre);
    for (int li = 0; li < 2; li++) {
        const int L = li ? 3000 : 1024;
        const double depths[3] = {0.0, 0.4, 1.0};
        for (int di = 0; di < 3; di++) {
            int n, pos[3];
            int32_t *ids = niah_multi_prompt(m->tok, h, L, depths[di], names, 3, &n, pos);
            CHECK(n == L, "multi: %d tokens for length %d", n, L);
            int n_bos = 0;
            for (int k = 0; k < n; k++) n_bos += ids[k] == bos;
            CHECK(n_bos == (bos >= 0 && ids[0] == bos) && same_ids(ids, 0, pre, prefix_len),
                  "multi L=%d d=%.1f: %d BOS tokens, prompt starts with BOS (if any) + prefix", L, depths[di], n_bos);
            int needles_len = n_ndl[0] + n_ndl[1] + n_ndl[2];
            int32_t *q = NULL;
            int n_q = 0;
            {
                /* question length: everything after the last haystack token */
                const char *qs = "\n\nQuestion: What are the secret ingredients needed to build the perfect pizza? Don't give "
                                 "information outside the document or repeat your findings\nAnswer: The secret ingredients "
                                 "needed to build the perfect pizza are";
                n_q = tok_encode(m->tok, qs, strlen(qs), false, false, &q);
                CHECK(same_ids(ids, n - n_q, q, n_q), "multi: the prompt ends with the question");
            }
            int ctx = L - prefix_len - needles_len - n_q, shift = prefix_len;
            for (int i = 0; i < 3; i++) {
                double d = depths[di] + i * (1 - depths[di]) / 3;
                int want = d >= 1 ? ctx : (int)(ctx * d); /* position in the context before back-off */
                int at = pos[i] - shift;                   /* this needle's position in the context */
                CHECK(same_ids(ids, pos[i], ndl[i], n_ndl[i]), "needle %d ids", i);
                CHECK(d >= 1 ? at == ctx : at <= want && (at == 0 || ids[pos[i] - 1] == h->period ||
                                     (i > 0 && pos[i] == pos[i - 1] + n_ndl[i - 1])),
                      "needle %d at context %d (want <= %d, after a period)", i, at, want);
                CHECK(i == 0 || pos[i] >= pos[i - 1] + n_ndl[i - 1], "needles in order");
                shift += n_ndl[i];
            }
            char *text = tok_decode(m->tok, ids, n, false);
            CHECK(depths[di] >= 1 || strstr(text, ". Figs is one of the secret ingredients") || depths[di] == 0.0,
                  "word boundary kept: \"...%.60s\"", strstr(text, "Figs") ? strstr(text, "Figs") - 20 : "?");
            if (li == 0 && di == 1) {
                const char *f = strstr(text, "Figs");
                printf("  multi-needle L=%d depth %.1f: \"...%.120s\"\n", L, depths[di], f ? f - 30 : "?");
            }
            dam_free(text);
            dam_free(q);
            dam_free(ids);
        }
        /* single needle: exactly L tokens, the needle after a "." */
        int n, p;
        int32_t *ids = niah_prompt(m->tok, h, L, 0.5, &n, &p);
        CHECK(n == L && ids[p - 1] == h->period, "single: %d tokens, token before the needle %d", n, ids[p - 1]);
        dam_free(ids);
    }
    for (int i = 0; i < 3; i++) dam_free(ndl[i]);
    dam_free(pre);
    niah_haystack_free(h);
    llama_free(m);
    return test_done("niah");
}
