/* ruler_vt.c — see ruler_vt.h. */
#include "datasets/ruler_vt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "datasets/ruler_niah.h"

static const char *TEMPLATE = "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n"
                              "Question: Find all variables that are assigned the value {query} in the text above.";
static const char *PREFIX = " Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are "
                            "assigned the value {query}, they are: ";
enum { HOPS = 4, NAMES = HOPS + 1, ICL_BUDGET = 500 };

/* NAMES distinct names of `len` random upper-case letters. */
static void rand_names(rng_t *r, int len, char names[NAMES][8]) {
    for (int i = 0; i < NAMES; i++) {
        for (int dup = 1; dup;) {
            for (int c = 0; c < len; c++) names[i][c] = (char)('A' + rng_range(r, 0, 25));
            names[i][len] = 0;
            dup = 0;
            for (int j = 0; j < i; j++) dup |= strcmp(names[i], names[j]) == 0;
        }
    }
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

/* Template (context filled) and prefix of a chain over n noise lines at sorted positions pos;
 * *chain_off = offset of the first chain line in the context, *ctx_len its length. */
static void render(char names[NAMES][8], int value, int n, const int *pos, char **tmpl, char **prefix, size_t *chain_off,
                   size_t *ctx_len) {
    ruler_str ctx = {0};
    int j = 0;
    for (int i = 0; i < n; i++) {
        while (j < NAMES && pos[j] == i) {
            if (ctx.len > 0) ruler_str_add(&ctx, "\n");
            if (j == 0) {
                *chain_off = ctx.len;
                ruler_str_addf(&ctx, "VAR %s = %d", names[0], value);
            } else {
                ruler_str_addf(&ctx, "VAR %s = VAR %s ", names[j], names[j - 1]);
            }
            j++;
        }
        if (ctx.len > 0) ruler_str_add(&ctx, "\n");
        ruler_str_add(&ctx, RULER_NOISE);
    }
    char *context = ruler_str_take(&ctx);
    ruler_replace_in(&context, ". \n", ".\n");
    *ctx_len = strlen(context);
    char vbuf[16];
    snprintf(vbuf, sizeof vbuf, "%d", value);
    char *t = ruler_replace(TEMPLATE, "{query}", vbuf);
    *tmpl = ruler_replace(t, "{context}", context);
    dam_free(t);
    char *p = ruler_replace(PREFIX, "{query}", vbuf);
    *prefix = ruler_replace(p, "{num_v}", "5");
    dam_free(p);
    dam_free(context);
}

/* Sorted positions of the chain among n noise lines. */
static void positions(rng_t *r, int n, int pos[NAMES]) {
    if (n < NAMES) dam_die(DAM_EXIT_INPUT, "ruler vt: %d noise lines cannot hold a %d-line chain", n, NAMES);
    ruler_sample(r, n, NAMES, pos);
    qsort(pos, NAMES, sizeof(int), cmp_int);
}

/* Token count of the one-shot text (template + prefix, value 12345) with n noise lines. */
static int icl_tokens(const tokenizer *t, uint64_t run_seed, int n, int pos[NAMES]) {
    rng_t r = rng_seed(run_seed, 0x5654u); /* "VT": the one-shot example's shape, once per run */
    char names[NAMES][8];
    rand_names(&r, 3, names);
    positions(&r, n, pos);
    char *tmpl, *prefix;
    size_t off, len;
    render(names, 12345, n, pos, &tmpl, &prefix, &off, &len);
    ruler_str b = {0};
    ruler_str_add(&b, tmpl);
    ruler_str_add(&b, prefix);
    char *text = ruler_str_take(&b);
    int32_t *ids = NULL;
    int m = tok_encode(t, text, strlen(text), false, false, &ids);
    dam_free(ids);
    dam_free(text);
    dam_free(tmpl);
    dam_free(prefix);
    return m;
}

ruler_vt_icl ruler_vt_icl_fit(const tokenizer *t, uint64_t run_seed) {
    ruler_vt_icl icl;
    int pos[NAMES];
    if (icl_tokens(t, run_seed, NAMES, pos) > ICL_BUDGET)
        dam_die(DAM_EXIT_INPUT, "ruler vt: the one-shot example with %d noise lines exceeds %d tokens", NAMES, ICL_BUDGET);
    int good = NAMES, bad = 0;
    for (int k = 2 * NAMES; bad == 0; k *= 2) {
        if (icl_tokens(t, run_seed, k, pos) <= ICL_BUDGET) good = k;
        else bad = k;
    }
    while (bad - good > 1) {
        int mid = good + (bad - good) / 2;
        if (icl_tokens(t, run_seed, mid, pos) <= ICL_BUDGET) good = mid;
        else bad = mid;
    }
    icl_tokens(t, run_seed, good, pos);
    icl.n_noise = good;
    memcpy(icl.pos, pos, sizeof pos);
    return icl;
}

void ruler_vt_make(const ruler_vt_icl *icl, uint64_t ex_seed, int n, ruler_inst *out) {
    rng_t ra = rng_seed(ex_seed, 1), rb = rng_seed(ex_seed, 2), rd = rng_seed(ex_seed, 4);
    /* the one-shot example with fresh names and value */
    char inames[NAMES][8];
    rand_names(&rd, 3, inames);
    int ivalue = (int)rng_range(&rd, 10000, 99998);
    char *itmpl, *iprefix;
    size_t ioff, ilen;
    render(inames, ivalue, icl->n_noise, icl->pos, &itmpl, &iprefix, &ioff, &ilen);
    /* the task */
    char names[NAMES][8];
    rand_names(&ra, 5, names);
    int value = (int)rng_range(&ra, 10000, 99998);
    int pos[NAMES];
    positions(&rb, n, pos);
    char *tmpl;
    size_t off, len;
    render(names, value, n, pos, &tmpl, &out->prefix, &off, &len);

    ruler_str u = {0};
    ruler_str_add(&u, itmpl);
    ruler_str_add(&u, iprefix);
    ruler_str_add(&u, " ");
    for (int i = 0; i < NAMES; i++) ruler_str_addf(&u, "%s%s", i ? " " : "", inames[i]);
    ruler_str_add(&u, "\n\n");
    ruler_str_add(&u, tmpl);
    out->user = ruler_str_take(&u);
    out->n_refs = NAMES;
    out->refs = dam_malloc(sizeof(char *) * NAMES, "vt answers");
    ruler_str g = {0};
    for (int i = 0; i < NAMES; i++) {
        out->refs[i] = dam_strdup(names[i], "vt answer");
        ruler_str_addf(&g, " %s", names[i]);
    }
    out->gold = ruler_str_take(&g);
    out->depth = len > 0 ? (double)off / (double)len : 0.0;
    dam_free(itmpl);
    dam_free(iprefix);
    dam_free(tmpl);
}
