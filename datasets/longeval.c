/* longeval.c — see longeval.h. */
#include "datasets/longeval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/rng.h"
#include "datasets/longeval_lines.h"
#include "datasets/longeval_topics.h"
#include "datasets/prompt.h"

static char *lines_prefix(const char *key) {
    size_t n = strlen(key) + 64;
    char *s = dam_malloc(n, "answer prefix");
    snprintf(s, n, "\nAnswer: The <REGISTER_CONTENT> in line %s is <", key);
    return s;
}
static const char *TOPICS_PREFIX = "\nAnswer: The first topic we discussed is";

char *longeval_case_path(const char *dir, const char *kind, int size) {
    char gz[4096], plain[4096];
    dam_format(gz, sizeof gz, "%s/%s/%d_%s.jsonl.gz", dir, kind, size, kind);
    dam_format(plain, sizeof plain, "%s/%s/%d_%s.jsonl", dir, kind, size, kind);
    if (access(gz, F_OK) != 0 && access(plain, F_OK) == 0) return dam_strdup(plain, "case path");
    return dam_strdup(gz, "case path");
}

/* Lines drawn for one generated example: a prefix-stable draw that grows on demand. */
typedef struct {
    const longeval_words *words;
    rng_t start;     /* the example's stream before the draw */
    int cap;         /* lines drawn */
    char **keys;
    int *values;
} line_pool;

static void pool_free_lines(line_pool *p) {
    for (int i = 0; i < p->cap; i++) dam_free(p->keys[i]);
    dam_free(p->keys);
    dam_free(p->values);
    p->keys = NULL, p->values = NULL, p->cap = 0;
}

/* Makes sure at least n lines are drawn (redrawing from the start state: the first lines stay). */
static void pool_ensure(line_pool *p, int n) {
    if (n <= p->cap) return;
    int cap = p->cap ? p->cap : 64;
    while (cap < n) cap *= 2;
    pool_free_lines(p);
    rng_t r = p->start;
    longeval_lines_draw(p->words, &r, cap, &p->keys, &p->values);
    p->cap = cap;
}

static int target_line(int n_lines, double depth) {
    int t = (int)(depth * (n_lines - 1));
    return t < 0 ? 0 : t >= n_lines ? n_lines - 1 : t;
}

/* Prompt ids of a generated example with n lines (the pool grows as needed). */
static int32_t *lines_ids(const prompt_style *st, line_pool *p, int n, double depth, int *n_ids) {
    pool_ensure(p, n);
    int t = target_line(n, depth);
    char *user = longeval_lines_text(p->keys, p->values, n, t);
    char *prefix = lines_prefix(p->keys[t]);
    int32_t *ids = prompt_ids(st, user, prefix, "", n_ids);
    dam_free(user);
    dam_free(prefix);
    return ids;
}

/* The largest line count whose prompt fits `length` tokens (doubling, then binary search); its
 * ids in *ids / *n_ids. Exits with status 2 if one line does not fit. */
static int lines_fit(const prompt_style *st, line_pool *p, int length, double depth, int32_t **ids, int *n_ids) {
    int m;
    int32_t *best = lines_ids(st, p, 1, depth, &m);
    if (m > length)
        dam_die(DAM_EXIT_INPUT, "longeval_lines: length %d is too small for one line (a 1-line prompt has %d tokens)",
                length, m);
    int good = 1, n_best = m, bad = 0;
    for (int k = 2; bad == 0; k *= 2) {
        int32_t *x = lines_ids(st, p, k, depth, &m);
        if (m <= length) {
            dam_free(best);
            best = x, n_best = m, good = k;
        } else {
            dam_free(x);
            bad = k;
        }
        if (k > (1 << 24)) dam_die(DAM_EXIT_INPUT, "longeval_lines: length %d does not bound the line count", length);
    }
    while (bad - good > 1) {
        int mid = good + (bad - good) / 2;
        int32_t *x = lines_ids(st, p, mid, depth, &m);
        if (m <= length) {
            dam_free(best);
            best = x, n_best = m, good = mid;
        } else {
            dam_free(x);
            bad = mid;
        }
    }
    *ids = best;
    *n_ids = n_best;
    return good;
}

static void set_answer(example *e, const prompt_style *st, const char *answer, const char *gold_text) {
    e->rec.answer = dam_strdup(answer, "answer");
    e->answer_ids = prompt_text_ids(st->tok, gold_text, &e->n_answer);
}

static void build_generated(const workload_cfg *w, const prompt_style *st, uint64_t stream, uint64_t seed, example *ex) {
    longeval_words *words = longeval_words_load(w->words_dir);
    int idx = 0;
    for (int li = 0; li < w->n_lengths; li++)
        for (int di = 0; di < w->n_depths; di++)
            for (int s = 0; s < w->samples; s++, idx++) {
                example *e = &ex[idx];
                line_pool p = {words, rng_seed(seed, stream * 1000003u + (uint64_t)idx), 0, NULL, NULL};
                int n_lines = lines_fit(st, &p, w->lengths[li], w->depths[di], &e->ids, &e->n);
                int t = target_line(n_lines, w->depths[di]);
                char answer[32], gold[40];
                snprintf(answer, sizeof answer, "%d", p.values[t]);
                snprintf(gold, sizeof gold, st->chat ? "%d" : "%d>", p.values[t]);
                set_answer(e, st, answer, gold);
                e->rec.target_len = w->lengths[li];
                e->rec.depth = w->depths[di];
                e->rec.sample = s;
                pool_free_lines(&p);
            }
    longeval_words_free(words);
}

static void build_lines_files(const workload_cfg *w, const prompt_style *st, example *ex) {
    int idx = 0;
    for (int si = 0; si < w->n_sizes; si++) {
        char *path = longeval_case_path(w->data_dir, "lines", w->sizes[si]);
        int nc;
        longeval_lines_case *c = longeval_lines_load(path, w->samples, &nc);
        if (nc < w->samples) dam_die(DAM_EXIT_INPUT, "%s: has %d cases, samples asks for %d", path, nc, w->samples);
        for (int k = 0; k < nc; k++, idx++) {
            if (c[k].num_lines != w->sizes[si])
                dam_die(DAM_EXIT_INPUT, "%s: case %d: num_lines %d differs from the file's %d", path, k + 1,
                        c[k].num_lines, w->sizes[si]);
            example *e = &ex[idx];
            char *prefix = lines_prefix(c[k].key);
            e->ids = prompt_ids(st, c[k].prompt, prefix, "", &e->n);
            dam_free(prefix);
            char answer[32], gold[40];
            snprintf(answer, sizeof answer, "%lld", (long long)c[k].expected);
            snprintf(gold, sizeof gold, st->chat ? "%lld" : "%lld>", (long long)c[k].expected);
            set_answer(e, st, answer, gold);
            e->rec.target_len = e->n; /* no requested length: the case's own */
            e->rec.depth = c[k].num_lines > 1 ? (double)c[k].position / (c[k].num_lines - 1) : 0.0;
            e->rec.sample = k;
        }
        longeval_lines_cases_free(c, nc);
        dam_free(path);
    }
}

static void build_topics_files(const workload_cfg *w, const prompt_style *st, example *ex) {
    int idx = 0, n_names;
    char names_path[4096];
    dam_format(names_path, sizeof names_path, "%s/topics/topics.txt", w->data_dir);
    char **names = longeval_topic_names_load(names_path, &n_names);
    for (int si = 0; si < w->n_sizes; si++) {
        char *path = longeval_case_path(w->data_dir, "topics", w->sizes[si]);
        int nc;
        longeval_topics_case *c = longeval_topics_load(path, w->samples, &nc);
        if (nc < w->samples) dam_die(DAM_EXIT_INPUT, "%s: has %d cases, samples asks for %d", path, nc, w->samples);
        for (int k = 0; k < nc; k++, idx++) {
            if (c[k].n_topics != w->sizes[si])
                dam_die(DAM_EXIT_INPUT, "%s: case %d: %d topics, the file name says %d", path, k + 1, c[k].n_topics,
                        w->sizes[si]);
            example *e = &ex[idx];
            e->ids = prompt_ids(st, c[k].prompt, TOPICS_PREFIX, "", &e->n);
            char *gold = dam_malloc(strlen(c[k].topics[0]) + 2, "gold topic");
            sprintf(gold, "%s%s", st->chat ? "" : " ", c[k].topics[0]);
            set_answer(e, st, c[k].topics[0], gold);
            dam_free(gold);
            /* the answer must beat every other topic: the case's others and all known names */
            e->n_others = c[k].n_topics - 1 + n_names;
            e->others = dam_malloc(sizeof(char *) * (size_t)e->n_others, "other topics");
            for (int j = 1; j < c[k].n_topics; j++) e->others[j - 1] = dam_strdup(c[k].topics[j], "topic");
            for (int j = 0; j < n_names; j++) e->others[c[k].n_topics - 1 + j] = dam_strdup(names[j], "topic");
            e->rec.target_len = e->n;
            e->rec.depth = 0.0; /* the first topic opens the record */
            e->rec.sample = k;
        }
        longeval_topics_cases_free(c, nc);
        dam_free(path);
    }
    longeval_topic_names_free(names, n_names);
}

void longeval_build(const workload_cfg *w, const llama_model *m, uint64_t seed, example **out, int *n_out) {
    const int lines = strcmp(w->task, "longeval_lines") == 0;
    if (!lines && strcmp(w->task, "longeval_topics") != 0) dam_die(DAM_EXIT_INPUT, "longeval: unknown task \"%s\"", w->task);
    const int generate = lines && strcmp(w->source, "generate") == 0;
    prompt_style st = prompt_style_init(m, w->prompt);
    int total = generate ? w->n_lengths * w->n_depths * w->samples : w->n_sizes * w->samples;
    example *ex = dam_calloc(total ? total : 1, sizeof(example), "examples");
    uint64_t stream = 0;
    for (const char *c = w->task; *c; c++) stream = stream * 131 + (unsigned char)*c;
    if (generate) build_generated(w, &st, stream, seed, ex);
    else if (lines) build_lines_files(w, &st, ex);
    else build_topics_files(w, &st, ex);
    for (int i = 0; i < total; i++) {
        example *e = &ex[i];
        e->rec.task = dam_strdup(w->task, "task");
        e->rec.index = i;
        e->rec.n_tokens = e->n;
        e->max_new = w->max_new_tokens;
        ids_sha256(e->ids, e->n, e->rec.ids_sha256);
    }
    prompt_style_free(&st);
    *out = ex;
    *n_out = total;
}

double longeval_score(const example *e, const char *prediction) {
    if (strcmp(e->rec.task, "longeval_lines") == 0) return longeval_lines_score(prediction, strtoll(e->rec.answer, NULL, 10));
    return longeval_topics_score(prediction, e->rec.answer, e->others, e->n_others);
}
