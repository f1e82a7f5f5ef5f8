/* ruler.c — see ruler.h: the task table, per-example length fitting, prompt styles, examples and
 * the score dispatch. */
#include "datasets/ruler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/rng.h"
#include "datasets/prompt.h"
#include "datasets/ruler_common.h"
#include "datasets/ruler_cwe.h"
#include "datasets/ruler_fwe.h"
#include "datasets/ruler_niah.h"
#include "datasets/ruler_qa.h"
#include "datasets/ruler_score.h"
#include "datasets/ruler_vt.h"

typedef enum { K_NIAH, K_VT, K_CWE, K_FWE, K_QA } task_kind;

typedef struct {
    const char *name;
    task_kind kind;
    int max_new;          /* RULER's tokens_to_generate */
    ruler_niah_cfg niah;  /* K_NIAH */
    ruler_qa_format qa;   /* K_QA */
} task_spec;

static const task_spec SPECS[] = {
    {"niah_single_1", K_NIAH, 128, {RULER_HAY_NOISE, RULER_WORDS, RULER_NUMBERS, 1, 1, 1}, 0},
    {"niah_single_2", K_NIAH, 128, {RULER_HAY_ESSAY, RULER_WORDS, RULER_NUMBERS, 1, 1, 1}, 0},
    {"niah_single_3", K_NIAH, 128, {RULER_HAY_ESSAY, RULER_WORDS, RULER_UUIDS, 1, 1, 1}, 0},
    {"niah_multikey_1", K_NIAH, 128, {RULER_HAY_ESSAY, RULER_WORDS, RULER_NUMBERS, 4, 1, 1}, 0},
    {"niah_multikey_2", K_NIAH, 128, {RULER_HAY_NEEDLE, RULER_WORDS, RULER_NUMBERS, 1, 1, 1}, 0},
    {"niah_multikey_3", K_NIAH, 128, {RULER_HAY_NEEDLE, RULER_UUIDS, RULER_UUIDS, 1, 1, 1}, 0},
    {"niah_multivalue", K_NIAH, 128, {RULER_HAY_ESSAY, RULER_WORDS, RULER_NUMBERS, 1, 4, 1}, 0},
    {"niah_multiquery", K_NIAH, 128, {RULER_HAY_ESSAY, RULER_WORDS, RULER_NUMBERS, 4, 1, 4}, 0},
    {"vt", K_VT, 30, {0}, 0},
    {"cwe", K_CWE, 120, {0}, 0},
    {"fwe", K_FWE, 50, {0}, 0},
    {"qa_nq", K_QA, 32, {0}, RULER_QA_NQ},
    {"qa_1", K_QA, 32, {0}, RULER_QA_SQUAD},
    {"qa_2", K_QA, 32, {0}, RULER_QA_HOTPOTQA},
};
enum { N_SPECS = sizeof SPECS / sizeof SPECS[0] };

const char *const RULER_TASK_NAMES[] = {"niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1", "niah_multikey_2",
                                        "niah_multikey_3", "niah_multivalue", "niah_multiquery", "vt", "cwe", "fwe", "qa_nq",
                                        "qa_1", "qa_2", NULL};
const char *const RULER_DEFAULT_TASKS[] = {"niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1",
                                           "niah_multikey_2", "niah_multikey_3", "niah_multivalue", "niah_multiquery", "vt",
                                           "cwe", "fwe", "qa_nq", NULL};

static const task_spec *find_spec(const char *name) {
    for (int i = 0; i < N_SPECS; i++)
        if (strcmp(SPECS[i].name, name) == 0) return &SPECS[i];
    return NULL;
}

bool ruler_is_task(const char *name) { return find_spec(name) != NULL; }

int ruler_task_max_new(const char *name) {
    const task_spec *t = find_spec(name);
    return t ? t->max_new : 0;
}

unsigned ruler_task_needs(const char *name) {
    const task_spec *t = find_spec(name);
    if (t == NULL) return 0;
    switch (t->kind) {
    case K_NIAH: {
        unsigned f = t->niah.hay == RULER_HAY_ESSAY ? RULER_NEEDS_ESSAY : 0;
        if (t->niah.key == RULER_WORDS || t->niah.value == RULER_WORDS) f |= RULER_NEEDS_WORDS;
        return f;
    }
    case K_CWE: return RULER_NEEDS_WORDS;
    case K_QA: return t->qa == RULER_QA_NQ ? RULER_NEEDS_NQ : t->qa == RULER_QA_SQUAD ? RULER_NEEDS_SQUAD : RULER_NEEDS_HOTPOT;
    default: return 0;
    }
}

/* Everything one example's generator needs (borrowed). */
typedef struct {
    const task_spec *spec;
    const ruler_niah_data *niah;
    const ruler_words *cwe_pool;
    const ruler_vt_icl *icl;
    const ruler_qa_set *qa;
    int question;          /* QA: the question asked */
    const int *cand;       /* QA: candidate documents after the gold */
    uint64_t ex_seed, run_seed;
    int S;                 /* target length */
} job;

static void make(const job *j, int n, ruler_inst *x) {
    memset(x, 0, sizeof *x);
    switch (j->spec->kind) {
    case K_NIAH: ruler_niah_make(&j->spec->niah, j->niah, j->ex_seed, j->run_seed, n, x); break;
    case K_VT: ruler_vt_make(j->icl, j->ex_seed, n, x); break;
    case K_CWE: ruler_cwe_make(j->cwe_pool, j->S, j->ex_seed, j->run_seed, n, x); break;
    case K_FWE: ruler_fwe_make(j->S, j->ex_seed, j->run_seed, n, x); break;
    case K_QA: ruler_qa_make(j->qa, j->question, j->cand, n, j->run_seed, x); break;
    }
}

/* What the haystack size counts, for messages. */
static const char *unit_name(const task_spec *t) {
    switch (t->kind) {
    case K_NIAH: return t->niah.hay == RULER_HAY_ESSAY ? "essay words" : t->niah.hay == RULER_HAY_NOISE ? "noise lines" : "distractor needles";
    case K_VT: return "noise lines";
    case K_CWE: return "distinct words";
    case K_FWE: return "words";
    default: return "documents";
    }
}

/* Tries size n: the instance and its prompt ids if they fit `budget` tokens (returns 1), else 0. */
static int try_size(const prompt_style *st, const job *j, int n, int budget, ruler_inst *best, int32_t **ids, int *n_ids, int *m) {
    ruler_inst x;
    make(j, n, &x);
    int32_t *xi = prompt_ids(st, x.user, x.prefix, x.prefix, m);
    if (*m > budget) {
        dam_free(xi);
        ruler_inst_free(&x);
        return 0;
    }
    ruler_inst_free(best);
    dam_free(*ids);
    *best = x, *ids = xi, *n_ids = *m;
    return 1;
}

/* The largest size in [lo, hi] whose prompt fits `budget` tokens (doubling from lo, then binary
 * search), its instance in *best and ids in *ids. Exits with status 2 if lo does not fit, or if hi
 * still fits and `hi_is_limit` (the data cannot fill the length). */
static void fit(const prompt_style *st, const job *j, int budget, int lo, int hi, int hi_is_limit, ruler_inst *best,
                int32_t **ids, int *n_ids) {
    const task_spec *t = j->spec;
    int m;
    memset(best, 0, sizeof *best);
    *ids = NULL;
    if (!try_size(st, j, lo, budget, best, ids, n_ids, &m))
        dam_die(DAM_EXIT_INPUT, "ruler %s: length %d is too small: the smallest prompt (%d %s) has %d tokens, plus %d to generate",
                t->name, j->S, lo, unit_name(t), m, j->S - budget);
    int good = lo, bad = -1;
    for (long k = 2L * lo > lo + 1 ? 2L * lo : lo + 1; bad < 0 && good < hi; k *= 2) {
        if (k > hi) k = hi;
        if (try_size(st, j, (int)k, budget, best, ids, n_ids, &m)) good = (int)k;
        else bad = (int)k;
    }
    if (bad < 0) {
        if (hi_is_limit)
            dam_die(DAM_EXIT_INPUT, "ruler %s: length %d needs more than the %d %s available (their prompt has %d tokens)", t->name,
                    j->S, hi, unit_name(t), *n_ids);
        return;
    }
    /* the kept instance is always the last size that fitted, i.e. `good` */
    while (bad - good > 1) {
        int mid = good + (bad - good) / 2;
        if (try_size(st, j, mid, budget, best, ids, n_ids, &m)) good = mid;
        else bad = mid;
    }
}

/* Data the workload's tasks read, loaded once. */
typedef struct {
    ruler_words adjs, nouns, cwe_pool;
    ruler_essay essay;
    ruler_niah_data niah;
    ruler_qa_set *qa[3]; /* by ruler_qa_format */
} ruler_data;

static void data_load(const workload_cfg *w, uint64_t seed, ruler_data *d) {
    memset(d, 0, sizeof *d);
    unsigned needs = 0;
    int cwe = 0;
    for (int i = 0; i < w->n_tasks; i++) {
        needs |= ruler_task_needs(w->tasks[i]);
        cwe |= strcmp(w->tasks[i], "cwe") == 0;
    }
    if (needs & RULER_NEEDS_WORDS) {
        static const char *const adj[] = {"adjectivelist.txt", NULL}, *const noun[] = {"nounlist.txt", NULL};
        d->adjs = ruler_words_load(w->words_dir, adj);
        d->nouns = ruler_words_load(w->words_dir, noun);
    }
    if (cwe) d->cwe_pool = ruler_cwe_pool(w->words_dir, seed);
    if (needs & RULER_NEEDS_ESSAY) d->essay = ruler_essay_load(w->haystack_dir);
    d->niah = (ruler_niah_data){&d->adjs, &d->nouns, &d->essay};
    if (needs & RULER_NEEDS_NQ) d->qa[RULER_QA_NQ] = ruler_qa_load(w->qa_file, RULER_QA_NQ);
    if (needs & RULER_NEEDS_SQUAD) d->qa[RULER_QA_SQUAD] = ruler_qa_load(w->squad_file, RULER_QA_SQUAD);
    if (needs & RULER_NEEDS_HOTPOT) d->qa[RULER_QA_HOTPOTQA] = ruler_qa_load(w->hotpotqa_file, RULER_QA_HOTPOTQA);
}

static void data_free(ruler_data *d) {
    ruler_words_free(&d->adjs);
    ruler_words_free(&d->nouns);
    ruler_words_free(&d->cwe_pool);
    ruler_essay_free(&d->essay);
    for (int i = 0; i < 3; i++) ruler_qa_free(d->qa[i]);
}

void ruler_build(const workload_cfg *w, const llama_model *m, uint64_t seed, example **out, int *n_out) {
    for (int i = 0; i < w->n_tasks; i++)
        if (!ruler_is_task(w->tasks[i])) dam_die(DAM_EXIT_INPUT, "ruler: unknown task \"%s\"", w->tasks[i]);
    prompt_style st = prompt_style_init(m, w->prompt);
    ruler_data d;
    data_load(w, seed, &d);
    const int total = w->n_tasks * w->n_lengths * w->samples;
    example *ex = dam_calloc(total ? total : 1, sizeof(example), "examples");
    int at = 0;
    for (int ti = 0; ti < w->n_tasks; ti++) {
        const task_spec *t = find_spec(w->tasks[ti]);
        const int T = w->max_new_tokens > 0 ? w->max_new_tokens : t->max_new;
        uint64_t stream = 0;
        for (const char *c = t->name; *c; c++) stream = stream * 131 + (unsigned char)*c;
        ruler_vt_icl icl = {0, {0}};
        if (t->kind == K_VT) icl = ruler_vt_icl_fit(m->tok, seed);
        const ruler_qa_set *qa = t->kind == K_QA ? d.qa[t->qa] : NULL;
        if (qa && w->samples > qa->n_items)
            dam_die(DAM_EXIT_INPUT, "ruler %s: samples %d exceeds the %d questions of %s", t->name, w->samples, qa->n_items, qa->path);
        int idx = 0;
        for (int li = 0; li < w->n_lengths; li++)
            for (int s = 0; s < w->samples; s++, idx++, at++) {
                const int S = w->lengths[li];
                rng_t base = rng_seed(seed, stream * 1000003u + (uint64_t)idx);
                job j = {t, &d.niah, &d.cwe_pool, &icl, qa, s, NULL, rng_next(&base), seed, S};
                int lo = 1, hi = 1 << 24, limit = 0, n_cand = 0;
                int *cand = NULL;
                switch (t->kind) {
                case K_NIAH: lo = t->niah.hay == RULER_HAY_ESSAY ? 1 : (t->niah.k > t->niah.q ? t->niah.k : t->niah.q) * t->niah.v; break;
                case K_VT: lo = 5; break;
                case K_CWE: lo = 10, hi = d.cwe_pool.n, limit = 1; break;
                case K_FWE: lo = 64; break;
                case K_QA:
                    cand = ruler_qa_candidates(qa, s, j.ex_seed, &n_cand);
                    j.cand = cand;
                    lo = qa->items[s].n_gold, hi = lo + n_cand, limit = 1;
                    break;
                }
                if (S - T < 1) dam_die(DAM_EXIT_INPUT, "ruler %s: length %d leaves no room after the %d tokens to generate", t->name, S, T);
                ruler_inst x;
                example *e = &ex[at];
                fit(&st, &j, S - T, lo, hi, limit, &x, &e->ids, &e->n);
                dam_free(cand);
                e->rec.task = dam_strdup(t->name, "task");
                e->rec.index = idx;
                e->rec.target_len = S;
                e->rec.n_tokens = e->n;
                e->rec.depth = x.depth;
                e->rec.sample = s;
                ids_sha256(e->ids, e->n, e->rec.ids_sha256);
                e->answer_ids = prompt_text_ids(m->tok, x.gold, &e->n_answer);
                e->max_new = T;
                example_set_refs(e, x.refs, x.n_refs);
                x.refs = NULL, x.n_refs = 0;
                ruler_inst_free(&x);
            }
    }
    data_free(&d);
    prompt_style_free(&st);
    *out = ex;
    *n_out = total;
}

double ruler_score(const example *e, const char *prediction) {
    const task_spec *t = find_spec(e->rec.task);
    if (t && t->kind == K_QA) return ruler_match_part(prediction, e->refs, e->n_refs);
    return ruler_match_all(prediction, e->refs, e->n_refs);
}
