/* longeval_lines.c — see longeval_lines.h. */
#include "datasets/longeval_lines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "datasets/jsonl_gz.h"

static const char *HEADER =
    "Below is a record of lines I want you to remember. Each line begins with 'line <line index>' and contains a "
    "'<REGISTER_CONTENT>' at the end of the line as a numerical value. For each line index, memorize its "
    "corresponding <REGISTER_CONTENT>. At the end of the record, I will ask you to retrieve the corresponding "
    "<REGISTER_CONTENT> of a certain line index. Now the record start:\n\n";

/* The non-blank lines of a word-list file (trailing spaces / CR removed) as dam_malloc'd strings. */
static char **read_words(const char *dir, const char *name, int *n) {
    char path[4096];
    dam_format(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open word list: %s", path, strerror(errno));
    char **words = NULL, line[512];
    int count = 0;
    while (fgets(line, sizeof line, fp)) {
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = 0;
        if (len == 0) continue;
        words = dam_realloc(words, sizeof(char *) * (size_t)(count + 1), "word list");
        words[count++] = dam_strdup(line, "word");
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) dam_die(DAM_EXIT_INPUT, "%s: read error", path);
    if (count == 0) dam_die(DAM_EXIT_INPUT, "%s: the word list is empty", path);
    *n = count;
    return words;
}

longeval_words *longeval_words_load(const char *dir) {
    longeval_words *w = dam_calloc(1, sizeof *w, "word lists");
    w->adjectives = read_words(dir, "adjectivelist.txt", &w->n_adjectives);
    w->nouns = read_words(dir, "nounlist.txt", &w->n_nouns);
    return w;
}

void longeval_words_free(longeval_words *w) {
    if (w == NULL) return;
    for (int i = 0; i < w->n_adjectives; i++) dam_free(w->adjectives[i]);
    for (int i = 0; i < w->n_nouns; i++) dam_free(w->nouns[i]);
    dam_free(w->adjectives);
    dam_free(w->nouns);
    dam_free(w);
}

void longeval_lines_draw(const longeval_words *w, rng_t *rng, int n, char ***keys, int **values) {
    if ((double)n >= (double)w->n_adjectives * w->n_nouns)
        dam_die(DAM_EXIT_INPUT, "longeval_lines: %d lines need more distinct keys than %d adjectives x %d nouns give", n,
                w->n_adjectives, w->n_nouns);
    char **k = dam_malloc(sizeof(char *) * (size_t)(n ? n : 1), "line keys");
    int *v = dam_malloc(sizeof(int) * (size_t)(n ? n : 1), "line values");
    int64_t *pair = dam_malloc(sizeof(int64_t) * (size_t)(n ? n : 1), "key pairs");
    for (int i = 0; i < n; i++) {
        for (;;) {
            int64_t a = rng_range(rng, 0, w->n_adjectives - 1), b = rng_range(rng, 0, w->n_nouns - 1);
            pair[i] = a * w->n_nouns + b;
            int dup = 0;
            for (int j = 0; j < i && !dup; j++) dup = pair[j] == pair[i];
            if (dup) continue;
            /* different (adjective, noun) pairs can still spell one key when a word contains '-' */
            char buf[1024];
            snprintf(buf, sizeof buf, "%s-%s", w->adjectives[a], w->nouns[b]);
            for (int j = 0; j < i && !dup; j++) dup = strcmp(k[j], buf) == 0;
            if (dup) continue;
            k[i] = dam_strdup(buf, "line key");
            break;
        }
        v[i] = (int)rng_range(rng, 1, 50000);
    }
    dam_free(pair);
    *keys = k;
    *values = v;
}

char *longeval_lines_text(char *const *keys, const int *values, int n, int target) {
    if (n < 1 || target < 0 || target >= n)
        dam_die(DAM_EXIT_INPUT, "longeval_lines: need 0 <= target (%d) < lines (%d)", target, n);
    size_t cap = strlen(HEADER) + 256 + strlen(keys[target]);
    for (int i = 0; i < n; i++) cap += strlen(keys[i]) + 48;
    char *out = dam_malloc(cap, "lines prompt"), *p = out;
    p += sprintf(p, "%s", HEADER);
    for (int i = 0; i < n; i++) p += sprintf(p, "line %s: REGISTER_CONTENT is <%d>\n", keys[i], values[i]);
    sprintf(p, "\nNow the record is over. Tell me what is the <REGISTER_CONTENT> in line %s? I need the number.",
            keys[target]);
    return out;
}

int64_t longeval_last_integer(const char *s) {
    const char *start = NULL, *end = NULL;
    for (const char *p = s; *p;) {
        if (*p >= '0' && *p <= '9') {
            const char *q = p;
            while (*q >= '0' && *q <= '9') q++;
            start = p, end = q, p = q;
        } else {
            p++;
        }
    }
    if (start == NULL) return -1;
    while (start < end - 1 && *start == '0') start++; /* leading zeros: int("007") == 7 */
    if (end - start > 18) return INT64_MAX;
    int64_t v = 0;
    for (const char *p = start; p < end; p++) v = v * 10 + (*p - '0');
    return v;
}

int longeval_lines_score(const char *prediction, int64_t expected) {
    return longeval_last_integer(prediction) == expected;
}

/* Required member `key` of record `o` with the given type check; exits naming file, line, key. */
static json_t *member(json_t *o, const char *key, int (*is)(const json_t *), const char *type, const char *path,
                      int line) {
    json_t *v = json_object_get(o, key);
    if (v == NULL) dam_die(DAM_EXIT_INPUT, "%s: case %d: missing key \"%s\"", path, line, key);
    if (!is(v)) dam_die(DAM_EXIT_INPUT, "%s: case %d: key \"%s\" must be %s", path, line, key, type);
    return v;
}
static int is_string(const json_t *v) { return json_is_string(v); }
static int is_integer(const json_t *v) { return json_is_integer(v); }
static int is_array(const json_t *v) { return json_is_array(v); }

longeval_lines_case *longeval_lines_load(const char *path, int max_cases, int *n) {
    int nr;
    json_t **recs = jsonl_read(path, max_cases, &nr);
    longeval_lines_case *c = dam_calloc(nr ? nr : 1, sizeof *c, "lines cases");
    for (int i = 0; i < nr; i++) {
        int line = i + 1; /* records are numbered from 1 (blank lines do not count) */
        const char *prompt = json_string_value(member(recs[i], "prompt", is_string, "a string", path, line));
        json_t *ri = member(recs[i], "random_idx", is_array, "an array [key, position]", path, line);
        if (json_array_size(ri) != 2 || !json_is_string(json_array_get(ri, 0)) || !json_is_integer(json_array_get(ri, 1)))
            dam_die(DAM_EXIT_INPUT, "%s: case %d: key \"random_idx\" must be [string, integer]", path, line);
        json_int_t expected = json_integer_value(member(recs[i], "expected_number", is_integer, "an integer", path, line));
        json_int_t num = json_integer_value(member(recs[i], "num_lines", is_integer, "an integer", path, line));
        json_int_t pos = json_integer_value(json_array_get(ri, 1));
        const char *key = json_string_value(json_array_get(ri, 0));
        if (num < 1 || num > 10000000 || pos < 0 || pos >= num)
            dam_die(DAM_EXIT_INPUT, "%s: case %d: random_idx position %lld is outside [0, num_lines %lld)", path, line,
                    (long long)pos, (long long)num);
        if (expected < 0) dam_die(DAM_EXIT_INPUT, "%s: case %d: expected_number %lld is negative", path, line, (long long)expected);
        char want[1024];
        snprintf(want, sizeof want, "line %s: ", key);
        if (strstr(prompt, want) == NULL)
            dam_die(DAM_EXIT_INPUT, "%s: case %d: random_idx key \"%s\" has no line in the prompt", path, line, key);
        c[i].prompt = dam_strdup(prompt, "case prompt");
        c[i].key = dam_strdup(key, "case key");
        c[i].position = (int)pos;
        c[i].num_lines = (int)num;
        c[i].expected = (int64_t)expected;
    }
    jsonl_free(recs, nr);
    *n = nr;
    return c;
}

void longeval_lines_cases_free(longeval_lines_case *c, int n) {
    if (c == NULL) return;
    for (int i = 0; i < n; i++) {
        dam_free(c[i].prompt);
        dam_free(c[i].key);
    }
    dam_free(c);
}
