/* ruler_qa.c — see ruler_qa.h. */
#include "datasets/ruler_qa.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json_file.h"
#include "core/mem.h"
#include "datasets/jsonl_gz.h"

static const char *TEMPLATE =
    "Answer the question based on the given documents. Only give me the answer and do not output any other words.\n\n"
    "The following are given documents.\n\n{context}\n\nAnswer the question based on the given documents. Only give me "
    "the answer and do not output any other words.\n\nQuestion: {query}";
static const char *PREFIX = " Answer:";

/* Documents as read (with repeats) and the gold texts of each item, before de-duplication. */
typedef struct {
    ruler_qa_set *s;
    char **text, **group;    /* every document occurrence */
    int n_text;
    char ***gold_text;       /* [n_items][n_gold] */
} loader;

static void add_doc(loader *L, const char *text, const char *group) {
    L->text = dam_realloc(L->text, sizeof(char *) * (size_t)(L->n_text + 1), "qa documents");
    L->group = dam_realloc(L->group, sizeof(char *) * (size_t)(L->n_text + 1), "qa documents");
    L->text[L->n_text] = dam_strdup(text, "qa document");
    L->group[L->n_text++] = group ? dam_strdup(group, "qa group") : NULL;
}

/* Appends an item (query, refs copied) with its gold document texts (copied). */
static void add_item(loader *L, const char *query, const char *const *refs, int n_refs, const char *const *gold, int n_gold,
                     const char *group) {
    ruler_qa_set *s = L->s;
    s->items = dam_realloc(s->items, sizeof(ruler_qa_item) * (size_t)(s->n_items + 1), "qa items");
    L->gold_text = dam_realloc(L->gold_text, sizeof(char **) * (size_t)(s->n_items + 1), "qa items");
    ruler_qa_item *it = &s->items[s->n_items];
    it->query = dam_strdup(query, "qa question");
    it->n_refs = n_refs;
    it->refs = dam_malloc(sizeof(char *) * (size_t)n_refs, "qa answers");
    for (int i = 0; i < n_refs; i++) it->refs[i] = dam_strdup(refs[i], "qa answer");
    it->n_gold = n_gold;
    it->gold = dam_malloc(sizeof(int) * (size_t)n_gold, "qa gold");
    L->gold_text[s->n_items] = dam_malloc(sizeof(char *) * (size_t)n_gold, "qa gold");
    for (int i = 0; i < n_gold; i++) L->gold_text[s->n_items][i] = dam_strdup(gold[i], "qa gold");
    it->group = group ? dam_strdup(group, "qa group") : NULL;
    s->n_items++;
}

static const char *const *g_text; /* qsort context of finish() */
static int cmp_by_text(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b, c = strcmp(g_text[x], g_text[y]);
    return c ? c : (x > y) - (x < y);
}

/* De-duplicates the documents (sorted by text; a document's group is that of its first
 * occurrence in the file) and resolves the gold texts to indices. */
static void finish(loader *L) {
    ruler_qa_set *s = L->s;
    if (s->n_items == 0) dam_die(DAM_EXIT_INPUT, "%s: no questions", s->path);
    int *ord = dam_malloc(sizeof(int) * (size_t)L->n_text, "qa order");
    for (int i = 0; i < L->n_text; i++) ord[i] = i;
    g_text = (const char *const *)L->text;
    qsort(ord, (size_t)L->n_text, sizeof(int), cmp_by_text);
    s->docs = dam_malloc(sizeof(char *) * (size_t)L->n_text, "qa documents");
    s->doc_group = dam_malloc(sizeof(char *) * (size_t)L->n_text, "qa documents");
    for (int i = 0; i < L->n_text; i++) {
        int o = ord[i];
        if (s->n_docs > 0 && strcmp(s->docs[s->n_docs - 1], L->text[o]) == 0) {
            dam_free(L->text[o]);
            dam_free(L->group[o]);
            continue;
        }
        s->docs[s->n_docs] = L->text[o];
        s->doc_group[s->n_docs++] = L->group[o];
    }
    dam_free(ord);
    dam_free(L->text);
    dam_free(L->group);
    for (int q = 0; q < s->n_items; q++) {
        ruler_qa_item *it = &s->items[q];
        for (int g = 0; g < it->n_gold; g++) {
            int lo = 0, hi = s->n_docs - 1, at = -1;
            while (lo <= hi) {
                int mid = (lo + hi) / 2, c = strcmp(s->docs[mid], L->gold_text[q][g]);
                if (c == 0) { at = mid; break; }
                if (c < 0) lo = mid + 1;
                else hi = mid - 1;
            }
            it->gold[g] = at; /* every gold text was added as a document */
            dam_free(L->gold_text[q][g]);
        }
        dam_free(L->gold_text[q]);
    }
    dam_free(L->gold_text);
}

/* A required non-empty string member of o; `where` names the record for the message. */
static const char *get_str(const char *where, json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (v == NULL) dam_die(DAM_EXIT_INPUT, "%s: missing key \"%s\"", where, key);
    if (!json_is_string(v)) dam_die(DAM_EXIT_INPUT, "%s: key \"%s\" must be a string", where, key);
    if (json_string_length(v) == 0) dam_die(DAM_EXIT_INPUT, "%s: key \"%s\" is empty", where, key);
    return json_string_value(v);
}

static json_t *get_array(const char *where, json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (v == NULL) dam_die(DAM_EXIT_INPUT, "%s: missing key \"%s\"", where, key);
    if (!json_is_array(v) || json_array_size(v) == 0) dam_die(DAM_EXIT_INPUT, "%s: key \"%s\" must be a non-empty array", where, key);
    return v;
}

static void load_nq(loader *L) {
    int n, *lines;
    json_t **recs = jsonl_read_lines(L->s->path, 0, &n, &lines);
    for (int r = 0; r < n; r++) {
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", L->s->path, lines[r]);
        const char *q = get_str(where, recs[r], "question");
        json_t *ans = get_array(where, recs[r], "answers");
        const char **refs = dam_malloc(sizeof(char *) * json_array_size(ans), "qa answers");
        for (size_t i = 0; i < json_array_size(ans); i++) {
            json_t *a = json_array_get(ans, i);
            if (!json_is_string(a) || json_string_length(a) == 0)
                dam_die(DAM_EXIT_INPUT, "%s: answers[%zu] must be a non-empty string", where, i);
            refs[i] = json_string_value(a);
        }
        json_t *c0 = json_array_get(get_array(where, recs[r], "ctxs"), 0);
        char w2[4300];
        snprintf(w2, sizeof w2, "%s: ctxs[0]", where);
        if (!json_is_object(c0)) dam_die(DAM_EXIT_INPUT, "%s must be an object", w2);
        const char *title = get_str(w2, c0, "title"), *text = get_str(w2, c0, "text");
        ruler_str d = {0};
        ruler_str_addf(&d, "%s\n%s", title, text);
        char *doc = ruler_str_take(&d);
        add_doc(L, doc, title);
        const char *gold[1] = {doc};
        add_item(L, q, refs, (int)json_array_size(ans), gold, 1, title);
        dam_free(doc);
        dam_free(refs);
    }
    jsonl_free(recs, n);
    dam_free(lines);
}

static json_t *load_json(const char *path) {
    return json_file_load(path, 0);
}

static void load_squad(loader *L) {
    const char *path = L->s->path;
    json_t *root = load_json(path);
    if (!json_is_object(root)) dam_die(DAM_EXIT_INPUT, "%s: the top level must be an object with key \"data\" (SQuAD)", path);
    json_t *data = get_array(path, root, "data");
    char where[4300], art[32];
    for (size_t a = 0; a < json_array_size(data); a++) {
        snprintf(where, sizeof where, "%s: data[%zu]", path, a);
        json_t *article = json_array_get(data, a);
        if (!json_is_object(article)) dam_die(DAM_EXIT_INPUT, "%s must be an object", where);
        json_t *paras = get_array(where, article, "paragraphs");
        snprintf(art, sizeof art, "%zu", a);
        for (size_t p = 0; p < json_array_size(paras); p++) {
            snprintf(where, sizeof where, "%s: data[%zu].paragraphs[%zu]", path, a, p);
            json_t *para = json_array_get(paras, p);
            if (!json_is_object(para)) dam_die(DAM_EXIT_INPUT, "%s must be an object", where);
            const char *ctx = get_str(where, para, "context");
            add_doc(L, ctx, art);
            json_t *qas = json_object_get(para, "qas");
            if (!json_is_array(qas)) dam_die(DAM_EXIT_INPUT, "%s: key \"qas\" must be an array", where);
            for (size_t k = 0; k < json_array_size(qas); k++) {
                char wq[4400];
                snprintf(wq, sizeof wq, "%s.qas[%zu]", where, k);
                json_t *qa = json_array_get(qas, k);
                if (!json_is_object(qa)) dam_die(DAM_EXIT_INPUT, "%s must be an object", wq);
                json_t *imp = json_object_get(qa, "is_impossible");
                if (imp && !json_is_boolean(imp)) dam_die(DAM_EXIT_INPUT, "%s: key \"is_impossible\" must be true or false", wq);
                if (json_is_true(imp)) continue;
                const char *q = get_str(wq, qa, "question");
                json_t *ans = get_array(wq, qa, "answers");
                const char **refs = dam_malloc(sizeof(char *) * json_array_size(ans), "qa answers");
                for (size_t i = 0; i < json_array_size(ans); i++) {
                    char wa[4500];
                    snprintf(wa, sizeof wa, "%s.answers[%zu]", wq, i);
                    json_t *ao = json_array_get(ans, i);
                    if (!json_is_object(ao)) dam_die(DAM_EXIT_INPUT, "%s must be an object", wa);
                    refs[i] = get_str(wa, ao, "text");
                }
                const char *gold[1] = {ctx};
                add_item(L, q, refs, (int)json_array_size(ans), gold, 1, art);
                dam_free(refs);
            }
        }
    }
    json_decref(root);
}

static void load_hotpotqa(loader *L) {
    const char *path = L->s->path;
    json_t *root = load_json(path);
    if (!json_is_array(root)) dam_die(DAM_EXIT_INPUT, "%s: the top level must be an array of questions (HotpotQA)", path);
    for (size_t r = 0; r < json_array_size(root); r++) {
        char where[4300];
        snprintf(where, sizeof where, "%s: [%zu]", path, r);
        json_t *o = json_array_get(root, r);
        if (!json_is_object(o)) dam_die(DAM_EXIT_INPUT, "%s must be an object", where);
        const char *q = get_str(where, o, "question"), *ans = get_str(where, o, "answer");
        json_t *ctx = get_array(where, o, "context");
        int ng = (int)json_array_size(ctx);
        char **gold = dam_malloc(sizeof(char *) * (size_t)ng, "qa gold");
        for (int c = 0; c < ng; c++) {
            json_t *e = json_array_get(ctx, (size_t)c), *sents = json_array_get(e, 1);
            if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(json_array_get(e, 0)) || !json_is_array(sents))
                dam_die(DAM_EXIT_INPUT, "%s.context[%d] must be [title, [sentences]]", where, c);
            ruler_str d = {0};
            ruler_str_addf(&d, "%s\n", json_string_value(json_array_get(e, 0)));
            for (size_t k = 0; k < json_array_size(sents); k++) {
                json_t *s = json_array_get(sents, k);
                if (!json_is_string(s)) dam_die(DAM_EXIT_INPUT, "%s.context[%d][1][%zu] must be a string", where, c, k);
                ruler_str_add(&d, json_string_value(s));
            }
            gold[c] = ruler_str_take(&d);
            add_doc(L, gold[c], NULL);
        }
        const char *refs[1] = {ans};
        add_item(L, q, refs, 1, (const char *const *)gold, ng, NULL);
        for (int c = 0; c < ng; c++) dam_free(gold[c]);
        dam_free(gold);
    }
    json_decref(root);
}

ruler_qa_set *ruler_qa_load(const char *path, ruler_qa_format fmt) {
    ruler_qa_set *s = dam_calloc(1, sizeof *s, "qa set");
    s->path = dam_strdup(path, "qa path");
    loader L = {s, NULL, NULL, 0, NULL};
    if (fmt == RULER_QA_NQ) load_nq(&L);
    else if (fmt == RULER_QA_SQUAD) load_squad(&L);
    else load_hotpotqa(&L);
    finish(&L);
    return s;
}

void ruler_qa_free(ruler_qa_set *s) {
    if (s == NULL) return;
    for (int i = 0; i < s->n_docs; i++) dam_free(s->docs[i]), dam_free(s->doc_group[i]);
    for (int q = 0; q < s->n_items; q++) {
        ruler_qa_item *it = &s->items[q];
        dam_free(it->query);
        for (int i = 0; i < it->n_refs; i++) dam_free(it->refs[i]);
        dam_free(it->refs);
        dam_free(it->gold);
        dam_free(it->group);
    }
    dam_free(s->items);
    dam_free(s->docs);
    dam_free(s->doc_group);
    dam_free(s->path);
    dam_free(s);
}

int *ruler_qa_candidates(const ruler_qa_set *s, int q, uint64_t ex_seed, int *n) {
    const ruler_qa_item *it = &s->items[q];
    int *more = dam_malloc(sizeof(int) * (size_t)s->n_docs, "qa candidates");
    int *other = dam_malloc(sizeof(int) * (size_t)s->n_docs, "qa candidates");
    int nm = 0, no = 0;
    for (int d = 0; d < s->n_docs; d++) {
        int is_gold = 0;
        for (int g = 0; g < it->n_gold; g++) is_gold |= it->gold[g] == d;
        if (is_gold) continue;
        if (it->group && s->doc_group[d] && strcmp(it->group, s->doc_group[d]) == 0) more[nm++] = d;
        else other[no++] = d;
    }
    rng_t r = rng_seed(ex_seed, 1);
    ruler_shuffle(&r, more, nm);
    ruler_shuffle(&r, other, no);
    memcpy(more + nm, other, sizeof(int) * (size_t)no);
    dam_free(other);
    *n = nm + no;
    return more;
}

void ruler_qa_make(const ruler_qa_set *s, int q, const int *cand, int D, uint64_t run_seed, ruler_inst *out) {
    const ruler_qa_item *it = &s->items[q];
    int *all = dam_malloc(sizeof(int) * (size_t)D, "qa documents");
    for (int i = 0; i < D; i++) all[i] = i < it->n_gold ? it->gold[i] : cand[i - it->n_gold];
    int *perm = ruler_shuffle_fixed(run_seed, D);
    ruler_str ctx = {0};
    size_t gold_off = 0;
    for (int j = 0; j < D; j++) {
        if (j) ruler_str_add(&ctx, "\n\n");
        if (perm[j] == 0) gold_off = ctx.len;
        ruler_str_addf(&ctx, "Document %d:\n", j + 1);
        ruler_str_add(&ctx, s->docs[all[perm[j]]]);
    }
    const size_t len = ctx.len;
    char *context = ruler_str_take(&ctx);
    char *t = ruler_replace(TEMPLATE, "{query}", it->query);
    out->user = ruler_replace(t, "{context}", context);
    out->prefix = dam_strdup(PREFIX, "prefix");
    out->n_refs = it->n_refs;
    out->refs = dam_malloc(sizeof(char *) * (size_t)it->n_refs, "qa answers");
    for (int i = 0; i < it->n_refs; i++) out->refs[i] = dam_strdup(it->refs[i], "qa answer");
    ruler_str g = {0};
    ruler_str_addf(&g, " %s", it->refs[0]);
    out->gold = ruler_str_take(&g);
    out->depth = len > 0 ? (double)gold_off / (double)len : 0.0;
    dam_free(t);
    dam_free(context);
    dam_free(perm);
    dam_free(all);
}
