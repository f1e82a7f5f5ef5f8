/* ruler_common.c — see ruler_common.h. */
#include "datasets/ruler_common.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

void ruler_str_addn(ruler_str *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        b->s = dam_realloc(b->s, cap, "ruler text");
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void ruler_str_add(ruler_str *b, const char *s) { ruler_str_addn(b, s, strlen(s)); }

void ruler_str_addf(ruler_str *b, const char *fmt, ...) {
    if (fmt == NULL) return; /* never: the callers pass literals; tells GCC's -O1 sanitizer build so */
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < (int)sizeof small) {
        ruler_str_addn(b, small, (size_t)n);
        return;
    }
    char *big = dam_malloc((size_t)n + 1, "ruler text");
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ruler_str_addn(b, big, (size_t)n);
    dam_free(big);
}

char *ruler_str_take(ruler_str *b) {
    if (b->s == NULL) ruler_str_addn(b, "", 0);
    char *s = b->s;
    b->s = NULL, b->len = b->cap = 0;
    return s;
}

char *ruler_replace(const char *s, const char *from, const char *to) {
    ruler_str b = {0};
    const size_t nf = strlen(from);
    for (const char *p = s;;) {
        const char *q = strstr(p, from);
        if (q == NULL) {
            ruler_str_add(&b, p);
            break;
        }
        ruler_str_addn(&b, p, (size_t)(q - p));
        ruler_str_add(&b, to);
        p = q + nf;
    }
    return ruler_str_take(&b);
}

void ruler_replace_in(char **s, const char *from, const char *to) {
    char *r = ruler_replace(*s, from, to);
    dam_free(*s);
    *s = r;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

ruler_words ruler_words_load(const char *dir, const char *const *files) {
    ruler_words w = {NULL, 0};
    for (int f = 0; files[f]; f++) {
        char path[4096];
        dam_format(path, sizeof path, "%s/%s", dir, files[f]);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open word list: %s (run `make data`)", path, strerror(errno));
        char line[1024];
        int got = 0, line_no = 0;
        while (fgets(line, sizeof line, fp)) {
            line_no++;
            size_t len = strlen(line);
            if (len == sizeof line - 1 && line[len - 1] != '\n')
                dam_die(DAM_EXIT_INPUT, "%s:%d: line longer than %zu bytes (not a word list)", path, line_no, sizeof line - 2);
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = 0;
            if (len == 0) continue;
            w.w = dam_realloc(w.w, sizeof(char *) * (size_t)(w.n + 1), "word list");
            w.w[w.n++] = dam_strdup(line, "word");
            got++;
        }
        int err = ferror(fp);
        fclose(fp);
        if (err) dam_die(DAM_EXIT_INPUT, "%s: read error", path);
        if (got == 0) dam_die(DAM_EXIT_INPUT, "%s: the word list is empty", path);
    }
    qsort(w.w, (size_t)w.n, sizeof(char *), cmp_str);
    int k = 0;
    for (int i = 0; i < w.n; i++) {
        if (k > 0 && strcmp(w.w[k - 1], w.w[i]) == 0) dam_free(w.w[i]);
        else w.w[k++] = w.w[i];
    }
    w.n = k;
    return w;
}

void ruler_words_free(ruler_words *w) {
    for (int i = 0; i < w->n; i++) dam_free(w->w[i]);
    dam_free(w->w);
    w->w = NULL, w->n = 0;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* 1 if `word` ends a sentence: its last character after closing quotes / brackets is . ! or ?. */
static int ends_sentence(const char *word) {
    size_t n = strlen(word);
    while (n > 0 && strchr("'\")]", word[n - 1])) n--;
    return n > 0 && strchr(".!?", word[n - 1]) != NULL;
}

ruler_essay ruler_essay_load(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open essay folder: %s (run `make data`)", dir, strerror(errno));
    char **names = NULL;
    int n_names = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
        names = dam_realloc(names, sizeof(char *) * (size_t)(n_names + 1), "file names");
        names[n_names++] = dam_strdup(e->d_name, "file name");
    }
    closedir(d);
    if (n_names == 0) dam_die(DAM_EXIT_INPUT, "%s: no .txt files in the essay folder", dir);
    qsort(names, (size_t)n_names, sizeof(char *), cmp_str);
    ruler_essay es = {NULL, NULL, 0};
    int cap = 0;
    ruler_str word = {0};
    for (int i = 0; i < n_names; i++) {
        char path[4096];
        dam_format(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot read: %s", path, strerror(errno));
        /* a space between files, then words = maximal runs of non-whitespace bytes */
        for (int c = ' ';; c = fgetc(fp)) {
            if (c == EOF || is_space((unsigned char)c)) {
                if (word.len > 0) {
                    if (es.n == cap) {
                        cap = cap ? cap * 2 : 1 << 14;
                        es.w = dam_realloc(es.w, sizeof(char *) * (size_t)cap, "essay words");
                    }
                    es.w[es.n++] = ruler_str_take(&word);
                }
                if (c == EOF) break;
            } else {
                char ch = (char)c;
                ruler_str_addn(&word, &ch, 1);
            }
        }
        if (ferror(fp)) dam_die(DAM_EXIT_INPUT, "%s: read error", path);
        fclose(fp);
        dam_free(names[i]);
    }
    dam_free(names);
    if (es.n == 0) dam_die(DAM_EXIT_INPUT, "%s: the essays hold no words", dir);
    es.sent_end = dam_malloc((size_t)es.n, "sentence ends");
    for (int i = 0; i < es.n; i++) es.sent_end[i] = (unsigned char)ends_sentence(es.w[i]);
    return es;
}

void ruler_essay_free(ruler_essay *e) {
    for (int i = 0; i < e->n; i++) dam_free(e->w[i]);
    dam_free(e->w);
    dam_free(e->sent_end);
    e->w = NULL, e->sent_end = NULL, e->n = 0;
}

int ruler_depth_percent(int i) {
    /* numpy: round(linspace(0, 100, 40)); no value i·100/39 is a tie (.5), so round() = numpy's rint */
    return (int)round(i * 100.0 / (RULER_N_DEPTHS - 1));
}

void ruler_sample(rng_t *r, int pop, int k, int *out) {
    if (k < 0 || k > pop) dam_die(DAM_EXIT_INPUT, "ruler: cannot sample %d of %d items", k, pop);
    int *a = dam_malloc(sizeof(int) * (size_t)(pop ? pop : 1), "sample");
    for (int i = 0; i < pop; i++) a[i] = i;
    for (int i = 0; i < k; i++) {
        int j = (int)rng_range(r, i, pop - 1);
        int t = a[i];
        a[i] = a[j], a[j] = t;
        out[i] = a[i];
    }
    dam_free(a);
}

void ruler_shuffle(rng_t *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_range(r, 0, i);
        int t = a[i];
        a[i] = a[j], a[j] = t;
    }
}

int *ruler_shuffle_fixed(uint64_t seed, int n) {
    int *p = dam_malloc(sizeof(int) * (size_t)(n ? n : 1), "permutation");
    for (int i = 0; i < n; i++) p[i] = i;
    rng_t r = rng_seed(seed, 0x52554c4552ull); /* "RULER": the one fixed stream */
    ruler_shuffle(&r, p, n);
    return p;
}

void ruler_rand_number(rng_t *r, char buf[16]) { snprintf(buf, 16, "%d", (int)rng_range(r, 1000000, 9999999)); }

void ruler_rand_word(rng_t *r, const ruler_words *adjs, const ruler_words *nouns, char *buf, size_t cap) {
    const char *a = adjs->w[rng_range(r, 0, adjs->n - 1)];
    const char *b = nouns->w[rng_range(r, 0, nouns->n - 1)];
    snprintf(buf, cap, "%s-%s", a, b);
}

void ruler_rand_uuid(rng_t *r, char buf[40]) {
    unsigned char b[16];
    uint64_t hi = rng_next(r), lo = rng_next(r);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hi >> (56 - 8 * i)), b[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    int k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) buf[k++] = '-';
        k += snprintf(buf + k, 3, "%02x", b[i]);
    }
    buf[k] = 0;
}

void ruler_inst_free(ruler_inst *x) {
    dam_free(x->user);
    dam_free(x->prefix);
    for (int i = 0; i < x->n_refs; i++) dam_free(x->refs[i]);
    dam_free(x->refs);
    dam_free(x->gold);
    memset(x, 0, sizeof *x);
}

char *ruler_join_list(char *const *items, int n) {
    ruler_str b = {0};
    for (int i = 0; i < n; i++) {
        if (i > 0) ruler_str_add(&b, i == n - 1 ? ", and " : ", ");
        ruler_str_add(&b, items[i]);
    }
    return ruler_str_take(&b);
}
