/* longeval_topics.c — see longeval_topics.h. */
#include "datasets/longeval_topics.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/mem.h"
#include "datasets/jsonl_gz.h"

static const char *const STOP[] = {"a", "an", "the", "of", "on", "in", "and", "or", "for", "to", "with", "about", NULL};

enum { MAX_WORDS = 256, MAX_WORD = 64 };

static int is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* Splits `s` into normalised words (lower-case ASCII alphanumerics; longer words truncated to
 * MAX_WORD-1 characters). Returns the count, at most `max`. */
static int words(const char *s, char (*out)[MAX_WORD], int max) {
    int n = 0;
    for (const char *p = s; *p && n < max;) {
        if (!is_alnum(*p)) {
            p++;
            continue;
        }
        int len = 0;
        for (; is_alnum(*p); p++)
            if (len < MAX_WORD - 1) out[n][len++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        out[n++][len] = 0;
    }
    return n;
}

static int is_stop(const char *w) {
    for (int i = 0; STOP[i]; i++)
        if (strcmp(w, STOP[i]) == 0) return 1;
    return 0;
}

double longeval_topic_recall(const char *prediction, const char *topic) {
    char tw[MAX_WORDS][MAX_WORD];
    int max_pw = (int)(strlen(prediction) / 2 + 1); /* words are separated by at least one character */
    char(*pw)[MAX_WORD] = dam_malloc(sizeof(char[MAX_WORD]) * (size_t)max_pw, "prediction words");
    int nt = words(topic, tw, MAX_WORDS), np = words(prediction, pw, max_pw);
    int content = 0, found = 0;
    for (int i = 0; i < nt; i++) {
        if (is_stop(tw[i])) continue;
        int dup = 0;
        for (int j = 0; j < i && !dup; j++) dup = strcmp(tw[j], tw[i]) == 0;
        if (dup) continue;
        content++;
        for (int j = 0; j < np; j++)
            if (strcmp(pw[j], tw[i]) == 0) {
                found++;
                break;
            }
    }
    double r;
    if (content > 0) {
        r = (double)found / content;
    } else if (nt == 0) {
        r = 0;
    } else { /* only stop words: the whole word sequence must appear */
        r = 0;
        for (int s = 0; s + nt <= np && r == 0; s++) {
            int ok = 1;
            for (int k = 0; k < nt && ok; k++) ok = strcmp(pw[s + k], tw[k]) == 0;
            r = ok;
        }
    }
    dam_free(pw);
    return r;
}

/* Whether a and b have the same normalised word sequence. */
static int same_topic(const char *a, const char *b) {
    char wa[MAX_WORDS][MAX_WORD], wb[MAX_WORDS][MAX_WORD];
    int na = words(a, wa, MAX_WORDS), nb = words(b, wb, MAX_WORDS);
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (strcmp(wa[i], wb[i]) != 0) return 0;
    return 1;
}

int longeval_topics_score(const char *prediction, const char *topic, char *const *others, int n_others) {
    double r = longeval_topic_recall(prediction, topic);
    if (r < 0.6) return 0;
    for (int i = 0; i < n_others; i++)
        if (!same_topic(others[i], topic) && longeval_topic_recall(prediction, others[i]) >= r) return 0;
    return 1;
}

char **longeval_topic_names_load(const char *path, int *n) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open the topic names: %s", path, strerror(errno));
    char **names = NULL, line[1024];
    int count = 0;
    while (fgets(line, sizeof line, fp)) {
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = 0;
        if (len == 0) continue;
        names = dam_realloc(names, sizeof(char *) * (size_t)(count + 1), "topic names");
        names[count++] = dam_strdup(line, "topic name");
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) dam_die(DAM_EXIT_INPUT, "%s: read error", path);
    if (count == 0) dam_die(DAM_EXIT_INPUT, "%s: no topic names", path);
    *n = count;
    return names;
}

void longeval_topic_names_free(char **names, int n) {
    for (int i = 0; i < n; i++) dam_free(names[i]);
    dam_free(names);
}

longeval_topics_case *longeval_topics_load(const char *path, int max_cases, int *n) {
    int nr;
    json_t **recs = jsonl_read(path, max_cases, &nr);
    longeval_topics_case *c = dam_calloc(nr ? nr : 1, sizeof *c, "topics cases");
    for (int i = 0; i < nr; i++) {
        int line = i + 1;
        json_t *id = json_object_get(recs[i], "test_id"), *prompt = json_object_get(recs[i], "prompt"),
               *topics = json_object_get(recs[i], "topics");
        if (id == NULL || prompt == NULL || topics == NULL)
            dam_die(DAM_EXIT_INPUT, "%s: case %d: missing key \"%s\"", path, line,
                    id == NULL ? "test_id" : prompt == NULL ? "prompt" : "topics");
        if (!json_is_integer(id)) dam_die(DAM_EXIT_INPUT, "%s: case %d: key \"test_id\" must be an integer", path, line);
        if (!json_is_string(prompt)) dam_die(DAM_EXIT_INPUT, "%s: case %d: key \"prompt\" must be a string", path, line);
        if (!json_is_array(topics) || json_array_size(topics) == 0)
            dam_die(DAM_EXIT_INPUT, "%s: case %d: key \"topics\" must be a non-empty array of strings", path, line);
        c[i].test_id = (int)json_integer_value(id);
        c[i].prompt = dam_strdup(json_string_value(prompt), "case prompt");
        c[i].n_topics = (int)json_array_size(topics);
        c[i].topics = dam_calloc(c[i].n_topics, sizeof(char *), "case topics");
        for (int k = 0; k < c[i].n_topics; k++) {
            json_t *t = json_array_get(topics, k);
            if (!json_is_string(t) || json_string_length(t) == 0)
                dam_die(DAM_EXIT_INPUT, "%s: case %d: topics[%d] must be a non-empty string", path, line, k);
            c[i].topics[k] = dam_strdup(json_string_value(t), "topic");
        }
        /* the answer must be retrievable: the first topic's name occurs in the record */
        const char *t0 = c[i].topics[0], *p = c[i].prompt;
        size_t m = strlen(t0);
        int seen = 0;
        for (; *p && !seen; p++) seen = strncasecmp(p, t0, m) == 0;
        if (!seen) dam_die(DAM_EXIT_INPUT, "%s: case %d: topics[0] \"%s\" does not occur in the prompt", path, line, t0);
    }
    jsonl_free(recs, nr);
    *n = nr;
    return c;
}

void longeval_topics_cases_free(longeval_topics_case *c, int n) {
    if (c == NULL) return;
    for (int i = 0; i < n; i++) {
        dam_free(c[i].prompt);
        for (int k = 0; k < c[i].n_topics; k++) dam_free(c[i].topics[k]);
        dam_free(c[i].topics);
    }
    dam_free(c);
}
