/* ruler_niah.c — see ruler_niah.h. */
#include "datasets/ruler_niah.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

const char *const RULER_NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

static const char *TEMPLATE =
    "Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. I will quiz you "
    "about the {type_needle_v} afterwards.\n{context}\nWhat are all the special magic {type_needle_v} for {query} "
    "mentioned in the provided text?";
static const char *PREFIX = " The special magic {type_needle_v} for {query} mentioned in the provided text are";

enum { VALUE_CAP = 128 };

static const char *type_name(ruler_value_type t) { return t == RULER_NUMBERS ? "numbers" : t == RULER_WORDS ? "words" : "uuids"; }

static void rand_value(rng_t *r, ruler_value_type t, const ruler_niah_data *d, char buf[VALUE_CAP]) {
    if (t == RULER_NUMBERS) ruler_rand_number(r, buf);
    else if (t == RULER_WORDS) ruler_rand_word(r, d->adjs, d->nouns, buf, VALUE_CAP);
    else ruler_rand_uuid(r, buf);
}

static void add_needle(ruler_str *b, const char *type_v, const char *key, const char *value) {
    ruler_str_addf(b, "One of the special magic %s for %s is: %s.", type_v, key, value);
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

/* Essay context: the first n words, sentence chunks with the needles (in `order`) between them at
 * the sorted depth positions. Stores each needle's character offset in off[needle]. */
static void essay_context(const ruler_essay *es, int n, rng_t *rb, char **needles, const int *order, int n_needles,
                          ruler_str *ctx, size_t *off) {
    /* sentence starts (word indices); the last word always closes the last sentence */
    int *start = dam_malloc(sizeof(int) * (size_t)(n + 2), "sentence starts");
    int n_sents = 0;
    start[n_sents++] = 0;
    for (int i = 0; i < n - 1; i++)
        if (es->sent_end[i % es->n]) start[n_sents++] = i + 1;
    start[n_sents] = n;
    if (n == 0) n_sents = 0, start[0] = 0;
    int depth_idx[RULER_N_DEPTHS], pos[RULER_N_DEPTHS];
    ruler_sample(rb, RULER_N_DEPTHS, n_needles, depth_idx);
    for (int i = 0; i < n_needles; i++) pos[i] = (int)(n_sents * (ruler_depth_percent(depth_idx[i]) / 100.0));
    qsort(pos, (size_t)n_needles, sizeof(int), cmp_int);
    /* pieces: chunk(0, p1) needle1 chunk(p1, p2) ... needle_k chunk(pk, end), joined by " " */
    int prev = 0;
    for (int i = 0; i <= n_needles; i++) {
        int next = i < n_needles ? pos[i] : n_sents;
        if (i > 0) ruler_str_add(ctx, " ");
        for (int w = start[prev]; w < start[next]; w++) {
            if (w > start[prev]) ruler_str_add(ctx, " ");
            ruler_str_add(ctx, es->w[w % es->n]);
        }
        if (i < n_needles) {
            ruler_str_add(ctx, " ");
            off[order[i]] = ctx->len;
            ruler_str_add(ctx, needles[order[i]]);
        }
        prev = next;
    }
    dam_free(start);
}

/* Line context: n lines (line(i) gives each), the needles before the lines at distinct random
 * indices, "\n"-joined. */
static void lines_context(int n, const char *const *lines, rng_t *rb, char **needles, const int *order, int n_needles,
                          ruler_str *ctx, size_t *off) {
    int *idx = dam_malloc(sizeof(int) * (size_t)(n_needles ? n_needles : 1), "needle indices");
    ruler_sample(rb, n, n_needles, idx);
    qsort(idx, (size_t)n_needles, sizeof(int), cmp_int);
    /* RULER inserts order[0] at the largest index, order[1] at the next, ...: in increasing index
       order the needles come reversed */
    int r = 0, first = 1;
    for (int i = 0; i < n; i++) {
        while (r < n_needles && idx[r] == i) {
            int nd = order[n_needles - 1 - r];
            if (!first) ruler_str_add(ctx, "\n");
            off[nd] = ctx->len;
            ruler_str_add(ctx, needles[nd]);
            first = 0, r++;
        }
        if (!first) ruler_str_add(ctx, "\n");
        ruler_str_add(ctx, lines[i]);
        first = 0;
    }
    dam_free(idx);
}

void ruler_niah_make(const ruler_niah_cfg *c, const ruler_niah_data *d, uint64_t ex_seed, uint64_t run_seed, int n,
                     ruler_inst *out) {
    const int k = c->k > c->q ? c->k : c->q, v = c->v, n_needles = k * v;
    const char *type_v = type_name(c->value);
    rng_t ra = rng_seed(ex_seed, 1), rb = rng_seed(ex_seed, 2), rc = rng_seed(ex_seed, 3);
    char (*keys)[VALUE_CAP] = dam_malloc(sizeof(*keys) * (size_t)k, "needle keys");
    char (*vals)[VALUE_CAP] = dam_malloc(sizeof(*vals) * (size_t)n_needles, "needle values");
    char **needles = dam_malloc(sizeof(char *) * (size_t)n_needles, "needles");
    for (int i = 0; i < k; i++) {
        for (int dup = 1; dup;) {
            rand_value(&ra, c->key, d, keys[i]);
            dup = 0;
            for (int j = 0; j < i; j++) dup |= strcmp(keys[i], keys[j]) == 0;
        }
        for (int j = 0; j < v; j++) {
            rand_value(&ra, c->value, d, vals[i * v + j]);
            ruler_str b = {0};
            add_needle(&b, type_v, keys[i], vals[i * v + j]);
            needles[i * v + j] = ruler_str_take(&b);
        }
    }
    int *qidx = dam_malloc(sizeof(int) * (size_t)c->q, "queried keys");
    ruler_sample(&ra, k, c->q, qidx);
    int *order = ruler_shuffle_fixed(run_seed, n_needles); /* order[i] = needle at shuffled position i */

    ruler_str ctx = {0};
    size_t *off = dam_calloc((size_t)n_needles, sizeof(size_t), "needle offsets");
    if (c->hay == RULER_HAY_ESSAY) {
        essay_context(d->essay, n, &rb, needles, order, n_needles, &ctx, off);
    } else {
        if (n < n_needles) dam_die(DAM_EXIT_INPUT, "ruler niah: %d haystack lines cannot hold %d needles", n, n_needles);
        const char **lines = dam_malloc(sizeof(char *) * (size_t)(n ? n : 1), "haystack lines");
        char **owned = NULL;
        if (c->hay == RULER_HAY_NOISE) {
            for (int i = 0; i < n; i++) lines[i] = RULER_NOISE;
        } else {
            owned = dam_malloc(sizeof(char *) * (size_t)(n ? n : 1), "distractor needles");
            for (int i = 0; i < n; i++) {
                char key[VALUE_CAP], val[VALUE_CAP];
                for (int dup = 1; dup;) {
                    rand_value(&rc, c->key, d, key);
                    dup = 0;
                    for (int j = 0; j < k; j++) dup |= strcmp(key, keys[j]) == 0;
                }
                rand_value(&rc, c->value, d, val);
                ruler_str b = {0};
                add_needle(&b, type_v, key, val);
                lines[i] = owned[i] = ruler_str_take(&b);
            }
        }
        lines_context(n, lines, &rb, needles, order, n_needles, &ctx, off);
        for (int i = 0; owned && i < n; i++) dam_free(owned[i]);
        dam_free(owned);
        dam_free(lines);
    }

    /* query, answers (values of the queried keys, in query order) */
    char **qkeys = dam_malloc(sizeof(char *) * (size_t)c->q, "query keys");
    out->n_refs = c->q * v;
    out->refs = dam_malloc(sizeof(char *) * (size_t)out->n_refs, "answers");
    for (int i = 0; i < c->q; i++) {
        qkeys[i] = keys[qidx[i]];
        for (int j = 0; j < v; j++) out->refs[i * v + j] = dam_strdup(vals[qidx[i] * v + j], "answer");
    }
    char *query = ruler_join_list(qkeys, c->q);
    char *tmpl = dam_strdup(TEMPLATE, "template"), *prefix = dam_strdup(PREFIX, "prefix");
    char type_s[16];
    snprintf(type_s, sizeof type_s, "%s", type_v);
    if (c->q * v == 1) { /* RULER's singular rewording, on template and answer prefix */
        static const char *const from[4] = {"Some", "are all", "are", "answers"}, *const to[4] = {"A", "is", "is", "answer"};
        for (int i = 0; i < 4; i++) ruler_replace_in(&tmpl, from[i], to[i]), ruler_replace_in(&prefix, from[i], to[i]);
        type_s[strlen(type_s) - 1] = 0;
    }
    ruler_replace_in(&tmpl, "{type_needle_v}", type_s);
    ruler_replace_in(&tmpl, "{query}", query);
    ruler_replace_in(&prefix, "{type_needle_v}", type_s);
    ruler_replace_in(&prefix, "{query}", query);
    const size_t ctx_len = ctx.len;
    char *context = ruler_str_take(&ctx);
    out->user = ruler_replace(tmpl, "{context}", context);
    out->prefix = prefix;
    char *list = ruler_join_list(out->refs, out->n_refs);
    ruler_str g = {0};
    ruler_str_addf(&g, " %s.", list);
    out->gold = ruler_str_take(&g);
    out->depth = ctx_len > 0 ? (double)off[qidx[0] * v] / (double)ctx_len : 0.0;

    dam_free(list);
    dam_free(context);
    dam_free(tmpl);
    dam_free(query);
    dam_free(qkeys);
    dam_free(off);
    dam_free(order);
    dam_free(qidx);
    for (int i = 0; i < n_needles; i++) dam_free(needles[i]);
    dam_free(needles);
    dam_free(vals);
    dam_free(keys);
}
