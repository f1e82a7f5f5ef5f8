/* niah.c — see niah.h. */
#include "datasets/niah.h"

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

int32_t *niah_prompt(const tokenizer *t, const niah_haystack *h, int length, double depth, int *n, int *needle_pos) {
    int32_t *pre = NULL, *needle = NULL, *q = NULL;
    int n_pre = tok_encode(t, PREFIX, strlen(PREFIX), true, false, &pre);
    int n_needle = tok_encode(t, NEEDLE, strlen(NEEDLE), false, false, &needle);
    int n_q = tok_encode(t, QUESTION, strlen(QUESTION), false, false, &q);
    int ctx = length - n_pre - n_needle - n_q;
    if (ctx < 1) dam_die(DAM_EXIT_INPUT, "niah: length %d is too small (prefix, needle and question take %d tokens)", length, n_pre + n_needle + n_q);
    if (ctx > h->n) dam_die(DAM_EXIT_INPUT, "niah: length %d needs %d haystack tokens, only %d loaded", length, ctx, h->n);
    if (depth < 0 || depth > 1) dam_die(DAM_EXIT_INPUT, "niah: depth %g is outside [0, 1]", depth);
    int pos = ctx;
    if (depth < 1) {
        pos = (int)(ctx * depth);
        while (pos > 0 && h->ids[pos - 1] != h->period) pos--; /* back to a sentence boundary */
    }
    int32_t *ids = dam_malloc(sizeof(int32_t) * length, "niah prompt");
    int k = 0;
    memcpy(ids + k, pre, sizeof(int32_t) * n_pre), k += n_pre;
    memcpy(ids + k, h->ids, sizeof(int32_t) * pos), k += pos;
    *needle_pos = k;
    memcpy(ids + k, needle, sizeof(int32_t) * n_needle), k += n_needle;
    memcpy(ids + k, h->ids + pos, sizeof(int32_t) * (ctx - pos)), k += ctx - pos;
    memcpy(ids + k, q, sizeof(int32_t) * n_q), k += n_q;
    dam_free(pre);
    dam_free(needle);
    dam_free(q);
    *n = k;
    return ids;
}

/* Whether lower-case ASCII `needle` occurs in `hay`, ignoring ASCII case. */
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
