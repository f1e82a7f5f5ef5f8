/* metrics_longbench.c — see metrics_longbench.h. */
#include "datasets/metrics_longbench.h"

#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "datasets/metrics_text.h"

double lb_qa_f1(const char *pred, const char *gold) {
    char **p, **g;
    int np = text_squad_tokens(pred, &p), ng = text_squad_tokens(gold, &g);
    double f = text_f1(p, np, g, ng);
    text_tokens_free(p, np);
    text_tokens_free(g, ng);
    return f;
}

double lb_qa_f1_zh(const char *pred, const char *gold) {
    char **p, **g;
    int np = text_zh_char_tokens(pred, &p), ng = text_zh_char_tokens(gold, &g);
    double f = text_f1(p, np, g, ng);
    text_tokens_free(p, np);
    text_tokens_free(g, ng);
    return f;
}

double lb_rouge(const char *pred, const char *gold) { return text_rouge_l(pred, gold); }

/* Every character of s followed by a space. */
static char *spaced_chars(const char *s) {
    uint32_t *cp;
    int n = text_utf8_decode(s, &cp);
    uint32_t *sp = dam_malloc(sizeof(uint32_t) * (size_t)(2 * n + 1), "spaced text");
    for (int i = 0; i < n; i++) sp[2 * i] = cp[i], sp[2 * i + 1] = ' ';
    char *out = text_utf8_encode(sp, 2 * n);
    dam_free(cp);
    dam_free(sp);
    return out;
}

double lb_rouge_zh(const char *pred, const char *gold) {
    char *p = spaced_chars(pred), *g = spaced_chars(gold);
    double r = text_rouge_l(p, g);
    dam_free(p);
    dam_free(g);
    return r;
}

double lb_classification(const char *pred, const char *gold, char *const *classes, int n) {
    const char **match = dam_malloc(sizeof(char *) * (size_t)(n + 1), "class matches");
    int nm = 0;
    for (int i = 0; i < n; i++)
        if (strstr(pred, classes[i])) match[nm++] = classes[i];
    for (int i = 0; i < nm; i++) {
        const char *t = match[i];
        if (strstr(gold, t) && strcmp(t, gold) != 0) {
            int f = 0;
            while (strcmp(match[f], t) != 0) f++; /* list.remove: the first equal entry */
            memmove(match + f, match + f + 1, sizeof(char *) * (size_t)(nm - f - 1));
            nm--;
        }
    }
    double score = 0.0;
    for (int i = 0; i < nm; i++)
        if (strcmp(match[i], gold) == 0) score = 1.0 / nm;
    dam_free(match);
    return score;
}

char *lb_retrieval_id(const char *gold, int zh) {
    const char *key = zh ? "段落" : "Paragraph ";
    size_t kl = strlen(key);
    for (const char *p = strstr(gold, key); p; p = strstr(p + 1, key)) {
        const char *d = p + kl, *e = d;
        while (*e >= '0' && *e <= '9') e++;
        if (e > d) {
            char *id = dam_malloc((size_t)(e - d) + 1, "paragraph id");
            memcpy(id, d, (size_t)(e - d));
            id[e - d] = 0;
            return id;
        }
    }
    return NULL;
}

/* Fraction of the digit runs of pred equal to `want`; 0 without runs. */
static double run_share(const char *pred, const char *want) {
    char **runs;
    int n = text_digit_runs(pred, &runs), right = 0;
    for (int i = 0; i < n; i++) right += strcmp(runs[i], want) == 0;
    text_tokens_free(runs, n);
    return n == 0 ? 0.0 : (double)right / n;
}

double lb_retrieval(const char *pred, const char *gold, int zh) {
    char *id = lb_retrieval_id(gold, zh);
    double s = id ? run_share(pred, id) : 0.0;
    dam_free(id);
    return s;
}

double lb_count(const char *pred, const char *gold) { return run_share(pred, gold); }

double lb_code_sim(const char *pred, const char *gold) {
    while (*pred == '\n') pred++;
    const char *line = "";
    size_t len = 0;
    for (const char *p = pred;;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        bool clean = true;
        for (size_t i = 0; i < l && clean; i++)
            clean = p[i] != '`' && p[i] != '#' && !(p[i] == '/' && i + 1 < l && p[i + 1] == '/');
        if (clean) {
            line = p, len = l;
            break;
        }
        if (!e) break;
        p = e + 1;
    }
    char *first = dam_malloc(len + 1, "code line");
    memcpy(first, line, len);
    first[len] = 0;
    double s = text_fuzz_ratio(first, gold) / 100.0;
    dam_free(first);
    return s;
}

char *lb_first_line(const char *pred) {
    while (*pred == '\n') pred++;
    const char *e = strchr(pred, '\n');
    size_t l = e ? (size_t)(e - pred) : strlen(pred);
    char *out = dam_malloc(l + 1, "first line");
    memcpy(out, pred, l);
    out[l] = 0;
    return out;
}
