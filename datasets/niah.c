/* niah.c — see niah.h. */
#include "datasets/niah.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/mem.h"

static const char *NEEDLE = "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n";
static const char *PREFIX = "Read the document and answer the question.\n\nDocument:\n";
static const char *QUESTION = "\n\nQuestion: What is the best thing to do in San Francisco? Don't give information "
                              "outside the document or repeat your findings\nAnswer: The best thing to do in San "
                              "Francisco is";

static const char *MULTI_SUFFIX = " is one of the secret ingredients needed to build the perfect pizza. ";
static const char *MULTI_QUESTION = "\n\nQuestion: What are the secret ingredients needed to build the perfect pizza? Don't "
                                    "give information outside the document or repeat your findings\nAnswer: The secret "
                                    "ingredients needed to build the perfect pizza are";

const char *niah_answer(void) { return " eat a sandwich and sit in Dolores Park on a sunny day."; }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

niah_haystack *niah_haystack_load(const tokenizer *t, const char *dir, int min_tokens) {
    DIR *d = opendir(dir);
    if (d == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open haystack folder: %s (run `make data`)", dir, strerror(errno));
    char **names = NULL;
    int n_names = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
        names = dam_realloc(names, sizeof(char *) * (n_names + 1), "file names");
        names[n_names++] = dam_strdup(e->d_name, "file name");
    }
    closedir(d);
    if (n_names == 0) dam_die(DAM_EXIT_INPUT, "%s: no .txt files in the haystack folder", dir);
    qsort(names, n_names, sizeof(char *), cmp_str);

    size_t cap = 1 << 20, len = 0;
    char *text = dam_malloc(cap, "haystack text");
    for (int i = 0; i < n_names; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot read: %s", path, strerror(errno));
        for (size_t got; (got = fread(text + len, 1, cap - len - 1, fp)) > 0;) {
            len += got;
            if (cap - len < 4096) text = dam_realloc(text, cap *= 2, "haystack text");
        }
        fclose(fp);
        dam_free(names[i]);
    }
    dam_free(names);
    text[len] = 0;

    niah_haystack *h = dam_calloc(1, sizeof *h, "haystack");
    h->n_files = n_names;
    int32_t *once = NULL;
    int n_once = tok_encode(t, text, len, false, false, &once);
    dam_free(text);
    if (n_once < 1) dam_die(DAM_EXIT_INPUT, "%s: the haystack is empty", dir);
    /* repeat the token stream until long enough (upstream repeats the text; boundary tokens may
       differ by a merge, which does not matter for a haystack) */
    int reps = (min_tokens + n_once - 1) / n_once;
    if (reps < 1) reps = 1;
    h->n = n_once * reps;
    h->ids = dam_malloc(sizeof(int32_t) * h->n, "haystack ids");
    for (int r = 0; r < reps; r++) memcpy(h->ids + (size_t)r * n_once, once, sizeof(int32_t) * n_once);
    dam_free(once);
    int32_t *dot = NULL;
    int nd = tok_encode(t, ".", 1, false, false, &dot);
    if (nd != 1) dam_die(DAM_EXIT_INPUT, "niah: \".\" is %d tokens under this tokenizer, need 1", nd);
    h->period = dot[0];
    dam_free(dot);
    return h;
}

void niah_haystack_free(niah_haystack *h) {
    if (h == NULL) return;
    dam_free(h->ids);
    dam_free(h);
}

/* Inserts n needles (each tokenised on its own, no BOS) into the first C haystack tokens at the
 * given depths (non-decreasing), between prefix and question; see niah.h. */
static int32_t *assemble(const tokenizer *t, const niah_haystack *h, int length, const char *const *needles,
                         const double *depths, int n_needles, const char *question, int *n, int *needle_pos) {
    int32_t *pre = NULL, *q = NULL, **nd = dam_calloc(n_needles, sizeof(int32_t *), "needle ids");
    int *n_nd = dam_calloc(n_needles, sizeof(int), "needle lengths"), n_needle = 0;
    int n_pre = tok_encode(t, PREFIX, strlen(PREFIX), true, false, &pre);
    for (int i = 0; i < n_needles; i++) n_needle += n_nd[i] = tok_encode(t, needles[i], strlen(needles[i]), false, false, &nd[i]);
    int n_q = tok_encode(t, question, strlen(question), false, false, &q);
    int ctx = length - n_pre - n_needle - n_q;
    if (ctx < 1) dam_die(DAM_EXIT_INPUT, "niah: length %d is too small (prefix, needles and question take %d tokens)", length, n_pre + n_needle + n_q);
    if (ctx > h->n) dam_die(DAM_EXIT_INPUT, "niah: length %d needs %d haystack tokens, only %d loaded", length, ctx, h->n);
    int32_t *ids = dam_malloc(sizeof(int32_t) * length, "niah prompt");
    int k = 0, from = 0;
    memcpy(ids + k, pre, sizeof(int32_t) * n_pre), k += n_pre;
    for (int i = 0; i < n_needles; i++) {
        if (depths[i] < 0 || depths[i] > 1) dam_die(DAM_EXIT_INPUT, "niah: depth %g is outside [0, 1]", depths[i]);
        int pos = ctx;
        if (depths[i] < 1) {
            pos = (int)(ctx * depths[i]);
            while (pos > 0 && h->ids[pos - 1] != h->period) pos--; /* back to a sentence boundary */
        }
        if (pos < from) pos = from; /* depths are non-decreasing; keep the needles in order */
        memcpy(ids + k, h->ids + from, sizeof(int32_t) * (pos - from)), k += pos - from;
        needle_pos[i] = k;
        memcpy(ids + k, nd[i], sizeof(int32_t) * n_nd[i]), k += n_nd[i];
        from = pos;
        dam_free(nd[i]);
    }
    memcpy(ids + k, h->ids + from, sizeof(int32_t) * (ctx - from)), k += ctx - from;
    memcpy(ids + k, q, sizeof(int32_t) * n_q), k += n_q;
    dam_free(pre);
    dam_free(q);
    dam_free(nd);
    dam_free(n_nd);
    *n = k;
    return ids;
}

int32_t *niah_prompt(const tokenizer *t, const niah_haystack *h, int length, double depth, int *n, int *needle_pos) {
    return assemble(t, h, length, &NEEDLE, &depth, 1, QUESTION, n, needle_pos);
}

char *niah_multi_needle(const char *name) {
    size_t a = strlen(name), b = strlen(MULTI_SUFFIX);
    char *s = dam_malloc(a + b + 2, "needle");
    s[0] = ' ';
    memcpy(s + 1, name, a);
    memcpy(s + 1 + a, MULTI_SUFFIX, b + 1);
    return s;
}

char *niah_multi_answer(const char *const *names, int n_names) {
    size_t len = 2;
    for (int i = 0; i < n_names; i++) len += strlen(names[i]) + 6;
    char *s = dam_malloc(len, "answer");
    size_t k = 0;
    for (int i = 0; i < n_names; i++)
        k += (size_t)sprintf(s + k, "%s%s%s", i == 0 ? " " : n_names == 2 ? " " : ", ",
                             i > 0 && i == n_names - 1 ? "and " : "", names[i]);
    sprintf(s + k, ".");
    return s;
}

int32_t *niah_multi_prompt(const tokenizer *t, const niah_haystack *h, int length, double depth, const char *const *names,
                           int n_names, int *n, int *needle_pos) {
    char **needles = dam_malloc(sizeof(char *) * n_names, "needles");
    double *depths = dam_malloc(sizeof(double) * n_names, "depths");
    for (int i = 0; i < n_names; i++) {
        needles[i] = niah_multi_needle(names[i]);
        depths[i] = depth + i * (1.0 - depth) / n_names;
    }
    int32_t *ids = assemble(t, h, length, (const char *const *)needles, depths, n_names, MULTI_QUESTION, n, needle_pos);
    for (int i = 0; i < n_names; i++) dam_free(needles[i]);
    dam_free(needles);
    dam_free(depths);
    return ids;
}

/* Whether `needle` occurs in `hay`, ignoring ASCII case. */
static int contains_nocase(const char *hay, const char *needle) {
    size_t m = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, m) == 0) return 1;
    return 0;
}

double niah_score(const char *prediction) {
    int hits = contains_nocase(prediction, "sandwich") + contains_nocase(prediction, "dolores park");
    return hits / 2.0;
}

/* Whether `word` occurs in `hay` ignoring ASCII case, not preceded or followed by an ASCII letter
 * or digit. */
static int contains_word_nocase(const char *hay, const char *word) {
    size_t m = strlen(word);
    if (m == 0) return 0;
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, word, m) == 0 && (p == hay || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[m]))
            return 1;
    return 0;
}

double niah_multi_score(const char *prediction, const char *const *names, int n_names) {
    int hits = 0;
    for (int i = 0; i < n_names; i++) hits += contains_word_nocase(prediction, names[i]);
    return n_names ? (double)hits / n_names : 0;
}
