/* results_h5.c — run_data (in-memory run) and the HDF5 results file; see results_h5.h and
 * docs/hdf5.md for the layout. */
#include "harness/results_h5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/results_patterns.h"
#include "harness/results_read.h"

/* ------------------------------------------------------------------------------------------------
 * run_data: storage and hash indexes
 * ---------------------------------------------------------------------------------------------- */

static char *dup_or_null(const char *s, const char *what) { return s ? dam_strdup(s, what) : NULL; }

void run_data_init(run_data *d) { memset(d, 0, sizeof *d); }

static void model_info_free(model_info *m) {
    dam_free(m->name); dam_free(m->architecture); dam_free(m->file_sha256); dam_free(m->quantisation);
    dam_free(m->format); dam_free(m->rope_scaling); dam_free(m->global_layers);
    memset(m, 0, sizeof *m);
}

static void meta_free(run_data *d) {
    char **s[] = {&d->harness_version, &d->git_revision, &d->config_json, &d->host, &d->device,
                  &d->cuda_version, &d->driver_version, &d->start_time, &d->end_time};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) { dam_free(*s[i]); *s[i] = NULL; }
    model_info_free(&d->model);
    for (int i = 0; i < d->n_methods; i++) { dam_free(d->methods[i].name); dam_free(d->methods[i].layers); }
    dam_free(d->methods);
    d->methods = NULL;
    d->n_methods = d->cap_methods = 0;
}

void run_data_free(run_data *d) {
    meta_free(d);
    for (int i = 0; i < d->n_examples; i++) example_record_free(&d->examples[i]);
    for (int i = 0; i < d->n_results; i++) result_record_free(&d->results[i]);
    for (int i = 0; i < d->n_patterns; i++) pattern_record_free(&d->patterns[i]);
    dam_free(d->examples); dam_free(d->results); dam_free(d->ex_slots); dam_free(d->res_slots); dam_free(d->patterns);
    memset(d, 0, sizeof *d);
}

void run_data_copy_meta(run_data *dst, const run_data *src) {
    if (dst == src) return;
    meta_free(dst);
    dst->harness_version = dup_or_null(src->harness_version, "run metadata");
    dst->git_revision = dup_or_null(src->git_revision, "run metadata");
    dst->config_json = dup_or_null(src->config_json, "run config");
    dst->host = dup_or_null(src->host, "run metadata");
    dst->device = dup_or_null(src->device, "run metadata");
    dst->cuda_version = dup_or_null(src->cuda_version, "run metadata");
    dst->driver_version = dup_or_null(src->driver_version, "run metadata");
    dst->start_time = dup_or_null(src->start_time, "run metadata");
    dst->end_time = dup_or_null(src->end_time, "run metadata");
    dst->seed = src->seed;
    dst->model = src->model;
    dst->model.name = dup_or_null(src->model.name, "model info");
    dst->model.architecture = dup_or_null(src->model.architecture, "model info");
    dst->model.file_sha256 = dup_or_null(src->model.file_sha256, "model info");
    dst->model.quantisation = dup_or_null(src->model.quantisation, "model info");
    dst->model.format = dup_or_null(src->model.format, "model info");
    dst->model.rope_scaling = dup_or_null(src->model.rope_scaling, "model info");
    dst->model.global_layers = dam_malloc(sizeof(int) * (size_t)(src->model.n_global > 0 ? src->model.n_global : 1), "model info");
    if (src->model.n_global > 0) memcpy(dst->model.global_layers, src->model.global_layers, sizeof(int) * (size_t)src->model.n_global);
    for (int i = 0; i < src->n_methods; i++) {
        run_data_add_method(dst, src->methods[i].name, src->methods[i].n_layers, src->methods[i].layers);
        memcpy(dst->methods[i].patterns_sha256, src->methods[i].patterns_sha256, 65);
    }
}

void run_data_add_method(run_data *d, const char *name, int n_layers, const int *layers) {
    if (run_data_find_method(d, name)) dam_die(DAM_EXIT_INPUT, "method name \"%s\" is used twice", name);
    if (d->n_methods == d->cap_methods) {
        d->cap_methods = d->cap_methods ? 2 * d->cap_methods : 8;
        d->methods = dam_realloc(d->methods, sizeof(method_info) * d->cap_methods, "run methods");
    }
    method_info *m = &d->methods[d->n_methods++];
    m->name = dam_strdup(name, "method name");
    m->patterns_sha256[0] = 0;
    m->n_layers = n_layers > 0 ? n_layers : 0;
    m->layers = dam_malloc(sizeof(int) * (size_t)m->n_layers, "method layers");
    if (m->n_layers) memcpy(m->layers, layers, sizeof(int) * (size_t)m->n_layers);
}

void run_data_add_method_all_layers(run_data *d, const char *name, int n_layers) {
    int *l = dam_malloc(sizeof(int) * (size_t)(n_layers > 0 ? n_layers : 0), "method layers");
    for (int i = 0; i < n_layers; i++) l[i] = i;
    run_data_add_method(d, name, n_layers, l);
    dam_free(l);
}

const method_info *run_data_find_method(const run_data *d, const char *name) {
    for (int i = 0; i < d->n_methods; i++)
        if (strcmp(d->methods[i].name, name) == 0) return &d->methods[i];
    return NULL;
}

void run_data_take_patterns(run_data *d, pattern_record *p) {
    pattern_record *slot = (pattern_record *)run_data_find_patterns(d, p->method);
    if (slot) {
        pattern_record_free(slot);
    } else {
        d->patterns = dam_realloc(d->patterns, sizeof(pattern_record) * (size_t)(d->n_patterns + 1), "run patterns");
        slot = &d->patterns[d->n_patterns++];
    }
    *slot = *p;
    memset(p, 0, sizeof *p);
}

const pattern_record *run_data_find_patterns(const run_data *d, const char *method) {
    for (int i = 0; i < d->n_patterns; i++)
        if (strcmp(d->patterns[i].method, method) == 0) return &d->patterns[i];
    return NULL;
}

/* FNV-1a over "method\0task\0" + index; method may be NULL (examples). */
static uint64_t key_hash(const char *method, const char *task, int index) {
    uint64_t h = 1469598103934665603ull;
    const char *parts[2] = {method ? method : "", task ? task : ""};
    for (int p = 0; p < 2; p++) {
        for (const unsigned char *s = (const unsigned char *)parts[p]; *s; s++) h = (h ^ *s) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    for (int b = 0; b < 4; b++) h = (h ^ (((unsigned)index >> (8 * b)) & 0xff)) * 1099511628211ull;
    return h;
}

static bool streq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* Open addressing, linear probing; a slot holds record index + 1, 0 = empty. */
static int slot_find(const int *slots, int cap, uint64_t h, const void *recs, bool results,
                     const char *method, const char *task, int index) {
    if (cap == 0) return -1;
    for (int s = (int)(h & (uint64_t)(cap - 1));; s = (s + 1) & (cap - 1)) {
        int v = slots[s];
        if (v == 0) return -1 - s; /* empty slot s: not found */
        if (results) {
            const result_record *r = &((const result_record *)recs)[v - 1];
            if (r->index == index && streq(r->task, task) && streq(r->method, method)) return v - 1;
        } else {
            const example_record *e = &((const example_record *)recs)[v - 1];
            if (e->index == index && streq(e->task, task)) return v - 1;
        }
    }
}

static void slot_insert(int *slots, int cap, uint64_t h, int value) {
    int s = (int)(h & (uint64_t)(cap - 1));
    while (slots[s]) s = (s + 1) & (cap - 1);
    slots[s] = value;
}

static void index_rebuild(run_data *d, bool results) {
    int n = results ? d->n_results : d->n_examples;
    int cap = 64;
    while (cap < 2 * (n + 1)) cap *= 2;
    int *slots = dam_calloc((size_t)cap, sizeof(int), "run index");
    for (int i = 0; i < n; i++) {
        uint64_t h = results ? key_hash(d->results[i].method, d->results[i].task, d->results[i].index)
                             : key_hash(NULL, d->examples[i].task, d->examples[i].index);
        slot_insert(slots, cap, h, i + 1);
    }
    if (results) { dam_free(d->res_slots); d->res_slots = slots; d->res_cap = cap; }
    else { dam_free(d->ex_slots); d->ex_slots = slots; d->ex_cap = cap; }
}

const example_record *run_data_find_example(const run_data *d, const char *task, int index) {
    int i = slot_find(d->ex_slots, d->ex_cap, key_hash(NULL, task, index), d->examples, false, NULL, task, index);
    return i >= 0 ? &d->examples[i] : NULL;
}

const result_record *run_data_find_result(const run_data *d, const char *method, const char *task, int index) {
    int i = slot_find(d->res_slots, d->res_cap, key_hash(method, task, index), d->results, true, method, task, index);
    return i >= 0 ? &d->results[i] : NULL;
}

static void sanitize(char **s, const char *what) {
    if (*s && results_utf8_valid(*s)) return;
    char *c = results_utf8_dup(*s, what);
    dam_free(*s);
    *s = c;
}

example_record *run_data_take_example(run_data *d, example_record *e) {
    sanitize(&e->task, "example task");
    sanitize(&e->answer, "example answer");
    uint64_t h = key_hash(NULL, e->task, e->index);
    int i = slot_find(d->ex_slots, d->ex_cap, h, d->examples, false, NULL, e->task, e->index);
    if (i >= 0) {
        example_record_free(&d->examples[i]);
        d->examples[i] = *e;
    } else {
        if (d->n_examples == d->cap_examples) {
            d->cap_examples = d->cap_examples ? 2 * d->cap_examples : 64;
            d->examples = dam_realloc(d->examples, sizeof(example_record) * d->cap_examples, "run examples");
        }
        i = d->n_examples++;
        d->examples[i] = *e;
        if (2 * (d->n_examples + 1) > d->ex_cap) index_rebuild(d, false);
        else slot_insert(d->ex_slots, d->ex_cap, h, i + 1);
    }
    memset(e, 0, sizeof *e);
    return &d->examples[i];
}

result_record *run_data_take_result(run_data *d, result_record *r) {
    sanitize(&r->method, "result method");
    sanitize(&r->task, "result task");
    sanitize(&r->prediction, "result prediction");
    uint64_t h = key_hash(r->method, r->task, r->index);
    int i = slot_find(d->res_slots, d->res_cap, h, d->results, true, r->method, r->task, r->index);
    if (i >= 0) {
        result_record_free(&d->results[i]);
        d->results[i] = *r;
    } else {
        if (d->n_results == d->cap_results) {
            d->cap_results = d->cap_results ? 2 * d->cap_results : 64;
            d->results = dam_realloc(d->results, sizeof(result_record) * d->cap_results, "run results");
        }
        i = d->n_results++;
        d->results[i] = *r;
        if (2 * (d->n_results + 1) > d->res_cap) index_rebuild(d, true);
        else slot_insert(d->res_slots, d->res_cap, h, i + 1);
    }
    memset(r, 0, sizeof *r);
    return &d->results[i];
}

example_record *run_data_add_example(run_data *d, const example_record *e) {
    example_record c = *e;
    c.task = results_utf8_dup(e->task, "example task");
    c.answer = results_utf8_dup(e->answer, "example answer");
    return run_data_take_example(d, &c);
}

result_record *run_data_add_result(run_data *d, const result_record *r) {
    result_record c = *r;
    c.method = results_utf8_dup(r->method, "result method");
    c.task = results_utf8_dup(r->task, "result task");
    c.prediction = results_utf8_dup(r->prediction, "result prediction");
    size_t lh = r->n_layers > 0 && r->n_heads > 0 ? (size_t)r->n_layers * (size_t)r->n_heads : 0;
    c.alignment = dam_malloc(sizeof(float) * lh * ALIGN_N_METRICS, "result alignment");
    c.head_density = dam_malloc(sizeof(float) * lh, "result head density");
    if (lh && r->alignment) memcpy(c.alignment, r->alignment, sizeof(float) * lh * ALIGN_N_METRICS);
    else for (size_t i = 0; i < lh * ALIGN_N_METRICS; i++) c.alignment[i] = NAN;
    if (lh && r->head_density) memcpy(c.head_density, r->head_density, sizeof(float) * lh);
    else for (size_t i = 0; i < lh; i++) c.head_density[i] = NAN;
    return run_data_take_result(d, &c);
}

double result_alignment_mean(const result_record *r, int metric) {
    size_t lh = r->n_layers > 0 && r->n_heads > 0 && r->alignment ? (size_t)r->n_layers * (size_t)r->n_heads : 0;
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < lh; i++) {
        float v = r->alignment[i * ALIGN_N_METRICS + (size_t)metric];
        if (!isnan(v)) { s += v; m++; }
    }
    return m ? s / (double)m : NAN;
}

/* ------------------------------------------------------------------------------------------------
 * UTF-8
 * ---------------------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s, or 0 if the byte at s does not start one. */
static int utf8_seq(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) { n = 3; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
    else return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++) if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

bool results_utf8_valid(const char *s) {
    if (s == NULL) return true;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_seq(p);
        if (n == 0) return false;
        p += n;
    }
    return true;
}

char *results_utf8_dup(const char *s, const char *what) {
    if (s == NULL) s = "";
    size_t len = strlen(s);
    char *out = dam_malloc(3 * len + 1, what), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_seq(p);
        if (n == 0) { memcpy(o, "\xef\xbf\xbd", 3); o += 3; p++; }
        else { memcpy(o, p, (size_t)n); o += n; p += n; }
    }
    *o = 0;
    return dam_realloc(out, (size_t)(o - out) + 1, what);
}

/* ------------------------------------------------------------------------------------------------
 * canonical order and validation
 * ---------------------------------------------------------------------------------------------- */

int run_data_tasks(const run_data *d, const char ***tasks) {
    const char **t = dam_malloc(sizeof(char *) * (size_t)(d->n_examples + 1), "task list");
    int n = 0;
    for (int i = 0; i < d->n_examples; i++) {
        int k = 0;
        while (k < n && strcmp(t[k], d->examples[i].task) != 0) k++;
        if (k == n) t[n++] = d->examples[i].task;
    }
    *tasks = t;
    return n;
}

typedef struct {
    int mpos, tpos, index, orig;
    const char *mname, *tname;
} sort_key;

static int sort_key_cmp(const void *pa, const void *pb) {
    const sort_key *a = pa, *b = pb;
    if (a->mpos != b->mpos) return a->mpos < b->mpos ? -1 : 1;
    int c = strcmp(a->mname ? a->mname : "", b->mname ? b->mname : "");
    if (c) return c;
    if (a->tpos != b->tpos) return a->tpos < b->tpos ? -1 : 1;
    c = strcmp(a->tname ? a->tname : "", b->tname ? b->tname : "");
    if (c) return c;
    if (a->index != b->index) return a->index < b->index ? -1 : 1;
    return a->orig - b->orig;
}

static int task_pos(const char **tasks, int n_tasks, const char *t) {
    for (int k = 0; k < n_tasks; k++) if (streq(tasks[k], t)) return k;
    return n_tasks;
}

void run_data_sort(run_data *d) {
    const char **tasks;
    int nt = run_data_tasks(d, &tasks);
    /* examples: (task position, index) */
    sort_key *k = dam_malloc(sizeof(sort_key) * (size_t)(d->n_examples > d->n_results ? d->n_examples : d->n_results) + 1, "sort keys");
    for (int i = 0; i < d->n_examples; i++)
        k[i] = (sort_key){0, task_pos(tasks, nt, d->examples[i].task), d->examples[i].index, i, NULL, NULL};
    qsort(k, (size_t)d->n_examples, sizeof *k, sort_key_cmp);
    /* permute through a copy, keeping the storage: an already sorted run stays where it was */
    example_record *ex = dam_malloc(sizeof(example_record) * (size_t)d->n_examples + 1, "run examples");
    for (int i = 0; i < d->n_examples; i++) ex[i] = d->examples[k[i].orig];
    if (d->n_examples) memcpy(d->examples, ex, sizeof(example_record) * (size_t)d->n_examples);
    dam_free(ex);
    /* results: (method position, task position, index); strings of unknown methods/tasks break ties */
    for (int i = 0; i < d->n_results; i++) {
        const result_record *r = &d->results[i];
        int mp = d->n_methods;
        for (int m = 0; m < d->n_methods; m++) if (streq(d->methods[m].name, r->method)) { mp = m; break; }
        int tp = task_pos(tasks, nt, r->task);
        k[i] = (sort_key){mp, tp, r->index, i, mp == d->n_methods ? r->method : NULL, tp == nt ? r->task : NULL};
    }
    qsort(k, (size_t)d->n_results, sizeof *k, sort_key_cmp);
    result_record *rs = dam_malloc(sizeof(result_record) * (size_t)d->n_results + 1, "run results");
    for (int i = 0; i < d->n_results; i++) rs[i] = d->results[k[i].orig];
    if (d->n_results) memcpy(d->results, rs, sizeof(result_record) * (size_t)d->n_results);
    dam_free(rs);
    dam_free(k);
    dam_free(tasks);
    index_rebuild(d, false);
    index_rebuild(d, true);
}

static const char *bad_name(const char *s) {
    if (s == NULL || *s == 0) return "is empty";
    if (strchr(s, '/')) return "contains '/'";
    if (strcmp(s, ".") == 0) return "is \".\"";
    return NULL;
}

const char *run_data_validate(const run_data *d, char *buf, int len) {
    const char *why;
    for (int m = 0; m < d->n_methods; m++) {
        if ((why = bad_name(d->methods[m].name))) { snprintf(buf, (size_t)len, "method name \"%s\" %s", d->methods[m].name ? d->methods[m].name : "", why); return buf; }
        if (d->methods[m].n_layers < 0) { snprintf(buf, (size_t)len, "method %s has a negative layer count", d->methods[m].name); return buf; }
    }
    for (int i = 0; i < d->n_examples; i++) {
        const example_record *e = &d->examples[i];
        if ((why = bad_name(e->task))) { snprintf(buf, (size_t)len, "example %d: task name \"%s\" %s", i, e->task ? e->task : "", why); return buf; }
        if (e->index < 0) { snprintf(buf, (size_t)len, "example %s/%d: negative index", e->task, e->index); return buf; }
    }
    for (int i = 0; i < d->n_patterns; i++) {
        const pattern_record *p = &d->patterns[i];
        if (!p->method || !run_data_find_method(d, p->method)) { snprintf(buf, (size_t)len, "patterns of method %s, which is not among the run's methods", p->method ? p->method : ""); return buf; }
        if (!p->set || !p->source || !p->lambda || !p->tau || !p->mu || !p->min_cells) { snprintf(buf, (size_t)len, "patterns of method %s are incomplete", p->method); return buf; }
    }
    /* first result of each (method, task) group, for the shape check */
    int ng = 0, capg = 16;
    int *first = dam_malloc(sizeof(int) * (size_t)capg, "validate groups");
    const char *err = NULL;
    for (int i = 0; i < d->n_results && !err; i++) {
        const result_record *r = &d->results[i];
        if ((why = bad_name(r->method))) { snprintf(buf, (size_t)len, "result %d: method name \"%s\" %s", i, r->method ? r->method : "", why); err = buf; break; }
        if ((why = bad_name(r->task))) { snprintf(buf, (size_t)len, "result %d: task name \"%s\" %s", i, r->task ? r->task : "", why); err = buf; break; }
        if (!run_data_find_method(d, r->method)) { snprintf(buf, (size_t)len, "result %s/%s/%d: method %s is not among the run's methods", r->method, r->task, r->index, r->method); err = buf; break; }
        if (!run_data_find_example(d, r->task, r->index)) { snprintf(buf, (size_t)len, "result %s/%s/%d: no example %s/%d", r->method, r->task, r->index, r->task, r->index); err = buf; break; }
        if (r->n_layers < 0 || r->n_heads < 0) { snprintf(buf, (size_t)len, "result %s/%s/%d: negative layer or head count", r->method, r->task, r->index); err = buf; break; }
        if (r->n_layers * r->n_heads > 0 && (!r->alignment || !r->head_density)) { snprintf(buf, (size_t)len, "result %s/%s/%d: alignment or head_density missing", r->method, r->task, r->index); err = buf; break; }
        int g = 0;
        while (g < ng && !(streq(d->results[first[g]].method, r->method) && streq(d->results[first[g]].task, r->task))) g++;
        if (g == ng) {
            if (ng == capg) first = dam_realloc(first, sizeof(int) * (size_t)(capg *= 2), "validate groups");
            first[ng++] = i;
        } else {
            const result_record *f = &d->results[first[g]];
            if (f->n_layers * f->n_heads != r->n_layers * r->n_heads || (r->n_layers * r->n_heads > 0 && (f->n_layers != r->n_layers || f->n_heads != r->n_heads))) {
                snprintf(buf, (size_t)len, "results %s/%s: example %d has %d layers x %d heads, example %d has %d x %d",
                         r->method, r->task, f->index, f->n_layers, f->n_heads, r->index, r->n_layers, r->n_heads);
                err = buf;
            }
        }
    }
    dam_free(first);
    return err;
}

void results_utc_now(char out[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------------------------------------------
 * HDF5 layout tables (docs/hdf5.md)
 * ---------------------------------------------------------------------------------------------- */

typedef enum { COL_INT, COL_F64, COL_STR, COL_HEX } col_kind; /* COL_HEX: inline char[65] */

typedef struct {
    const char *name;
    col_kind kind;
    size_t off;          /* offset of the field in the record */
    const char *units;   /* "" = dimensionless / not applicable */
    const char *description;
} col_def;

/* Columns added by schema minor version 1 (1.1): files of 1.0 lack them, and they read as 0. */
static const char *const COLS_SINCE_1_1[] = {"n_truncated", NULL};

static bool added_after(const char *col, int minor) {
    for (int i = 0; minor < 1 && COLS_SINCE_1_1[i]; i++)
        if (strcmp(COLS_SINCE_1_1[i], col) == 0) return true;
    return false;
}

static const col_def EXAMPLE_COLS[] = {
    {"index", COL_INT, offsetof(example_record, index), "", "example number within the task (0-based)"},
    {"target_len", COL_INT, offsetof(example_record, target_len), "tokens", "requested prompt length"},
    {"n_tokens", COL_INT, offsetof(example_record, n_tokens), "tokens", "actual prompt length"},
    {"n_truncated", COL_INT, offsetof(example_record, n_truncated), "tokens", "tokens cut out of the prompt to fit the task's budget (longbench / lveval middle truncation), 0 if none"},
    {"depth", COL_F64, offsetof(example_record, depth), "fraction", "needle position in the haystack, 0..1, -1 if none"},
    {"sample", COL_INT, offsetof(example_record, sample), "", "sample number within the (length, depth) cell"},
    {"answer", COL_STR, offsetof(example_record, answer), "", "gold answer text"},
    {"ids_sha256", COL_HEX, offsetof(example_record, ids_sha256), "", "SHA-256 of the prompt token ids (int32 little-endian), hex"},
};
#define N_EXAMPLE_COLS (int)(sizeof EXAMPLE_COLS / sizeof EXAMPLE_COLS[0])

static const col_def RESULT_COLS[] = {
    {"index", COL_INT, offsetof(result_record, index), "", "example index within the task (joins /examples/<task>/index)"},
    {"score", COL_F64, offsetof(result_record, score), "", "task score in [0, 1]"},
    {"prediction", COL_STR, offsetof(result_record, prediction), "", "generated text"},
    {"answer_nll", COL_F64, offsetof(result_record, answer_nll), "nats/token", "mean NLL of the gold answer tokens under teacher forcing"},
    {"logit_kl", COL_F64, offsetof(result_record, logit_kl), "nats", "mean KL(full || method) of next-token distributions at the answer positions"},
    {"prefill_ms", COL_F64, offsetof(result_record, prefill_ms), "ms", "prompt forward pass incl. mask building (time to first token)"},
    {"mask_ms", COL_F64, offsetof(result_record, mask_ms), "ms", "of which building masks / estimating patterns"},
    {"decode_ms", COL_F64, offsetof(result_record, decode_ms), "ms/token", "decode time per generated token after the first"},
    {"n_generated", COL_INT, offsetof(result_record, n_generated), "tokens", "generated tokens"},
    {"peak_bytes", COL_F64, offsetof(result_record, peak_bytes), "bytes", "high-water mark of the harness allocator during the example"},
    {"kv_bytes", COL_F64, offsetof(result_record, kv_bytes), "bytes", "KV-cache bytes the method holds: the prompt's, or for methods that evict during decode the entries held at the end of generation"},
    {"mean_density", COL_F64, offsetof(result_record, density), "fraction", "mean over layers and heads of the exact per-head density"},
};
#define N_RESULT_COLS (int)(sizeof RESULT_COLS / sizeof RESULT_COLS[0])

static const char *const ROOT_STR_ATTRS[] = {"harness_version", "git_revision", "host", "device", "cuda_version",
                                             "driver_version", "start_time", "end_time"};
static char **root_str_field(run_data *d, int i) {
    char **f[] = {&d->harness_version, &d->git_revision, &d->host, &d->device, &d->cuda_version,
                  &d->driver_version, &d->start_time, &d->end_time};
    return f[i];
}
#define N_ROOT_STR_ATTRS 8

static void h5_quiet(void) {
    static int done;
    if (!done) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); done = 1; }
}

/* The innermost HDF5 error description, shortened to its system error message if it has one. */
static herr_t h5_err_walk(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    if (e->desc && *e->desc) snprintf((char *)data, 256, "%s", e->desc);
    return 0;
}
static void h5_error_text(char *buf, size_t len) {
    char desc[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, h5_err_walk, desc);
    const char *m = strstr(desc, "error message = '");
    if (m) {
        m += strlen("error message = '");
        const char *q = strchr(m, '\'');
        snprintf(buf, len, "%.*s", q ? (int)(q - m) : (int)strlen(m), m);
    } else snprintf(buf, len, "%s", *desc ? desc : "HDF5 error");
}

static hid_t vlen_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* ------------------------------------------------------------------------------------------------
 * writer
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
    const char *path;
    char *tmp;
    hid_t file;
    hid_t str;      /* vlen UTF-8 string type */
    char obj[1024]; /* object being written, for the error message */
} wctx;

static _Noreturn void wfail(wctx *w, const char *why) {
    char msg[300];
    if (why) snprintf(msg, sizeof msg, "%s", why);
    else h5_error_text(msg, sizeof msg);
    if (w->file >= 0) H5Fclose(w->file); /* H5F_CLOSE_STRONG: closes every open object too */
    unlink(w->tmp);
    dam_die(DAM_EXIT_RUNTIME, "%s: cannot write %s: %s", w->path, w->obj, msg);
}

#define WCHK(w, expr) do { if ((expr) < 0) wfail((w), NULL); } while (0)

static hid_t wgroup(wctx *w, hid_t parent, const char *name) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    WCHK(w, gcpl);
    WCHK(w, H5Pset_obj_track_times(gcpl, 0));
    hid_t g = H5Gcreate2(parent, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    WCHK(w, g);
    return g;
}

static void wattr(wctx *w, hid_t obj, const char *name, hid_t type, int rank, hsize_t n, const void *data) {
    hid_t sp = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    WCHK(w, sp);
    hid_t ftype = type;
    if (type == H5T_NATIVE_INT) ftype = H5T_STD_I32LE;
    else if (type == H5T_NATIVE_DOUBLE) ftype = H5T_IEEE_F64LE;
    else if (type == H5T_NATIVE_UINT64) ftype = H5T_STD_U64LE;
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    WCHK(w, a);
    WCHK(w, H5Awrite(a, type, data));
    H5Aclose(a);
    H5Sclose(sp);
}

static void wattr_str(wctx *w, hid_t obj, const char *name, const char *value) {
    char *v = results_utf8_dup(value, "HDF5 string");
    wattr(w, obj, name, w->str, 0, 1, &v);
    dam_free(v);
}

static void wattr_strs(wctx *w, hid_t obj, const char *name, int n, const char *const *values) {
    wattr(w, obj, name, w->str, 1, (hsize_t)n, values);
}

/* A dataset of `rank` dims (first axis = rows), chunked along rows to about 1 MiB and compressed
 * (shuffle + deflate); a zero-sized dataset is stored contiguous (chunks cannot be empty). */
static void wdataset(wctx *w, hid_t grp, const char *name, hid_t memtype, hid_t filetype, int rank,
                     const hsize_t *dims, const void *data, const char *units, const char *description) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    WCHK(w, sp);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    WCHK(w, dcpl);
    WCHK(w, H5Pset_obj_track_times(dcpl, 0));
    hsize_t total = 1, row = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    for (int i = 1; i < rank; i++) row *= dims[i];
    if (total > 0) {
        bool is_str = H5Tget_class(filetype) == H5T_STRING;
        size_t elem = is_str ? 16 : H5Tget_size(filetype);
        hsize_t rows = (1u << 20) / (row * elem);
        if (rows < 1) rows = 1;
        if (rows > dims[0]) rows = dims[0];
        hsize_t chunk[8];
        chunk[0] = rows;
        for (int i = 1; i < rank; i++) chunk[i] = dims[i];
        WCHK(w, H5Pset_chunk(dcpl, rank, chunk));
        if (!is_str) WCHK(w, H5Pset_shuffle(dcpl));
        WCHK(w, H5Pset_deflate(dcpl, 4));
    }
    hid_t ds = H5Dcreate2(grp, name, filetype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    WCHK(w, ds);
    if (total > 0) WCHK(w, H5Dwrite(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    if (units && *units) wattr_str(w, ds, "units", units);
    if (description && *description) wattr_str(w, ds, "description", description);
    if (strcmp(name, "alignment") == 0) {
        wattr_strs(w, ds, "metrics", ALIGN_N_METRICS, ALIGN_METRIC_NAMES);
        const char *axes[4] = {"example", "layer", "head", "metric"};
        wattr_strs(w, ds, "axes", 4, axes);
    } else if (strcmp(name, "density") == 0) {
        const char *axes[3] = {"example", "layer", "head"};
        wattr_strs(w, ds, "axes", 3, axes);
    }
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(sp);
}

/* Writes the columns of `cols` for n records of size `rec_size` starting at `recs`. */
static void wcolumns(wctx *w, hid_t grp, const char *gpath, const col_def *cols, int ncols, const void *recs,
                     size_t rec_size, int n) {
    void *buf = dam_malloc((size_t)n * 8 + 8, "HDF5 column");
    hsize_t dims[1] = {(hsize_t)n};
    for (int c = 0; c < ncols; c++) {
        const col_def *cd = &cols[c];
        snprintf(w->obj, sizeof w->obj, "%s/%s", gpath, cd->name);
        for (int i = 0; i < n; i++) {
            const char *rec = (const char *)recs + (size_t)i * rec_size + cd->off;
            switch (cd->kind) {
            case COL_INT: ((int *)buf)[i] = *(const int *)rec; break;
            case COL_F64: ((double *)buf)[i] = *(const double *)rec; break;
            case COL_STR: ((char **)buf)[i] = results_utf8_dup(*(char *const *)rec, "HDF5 string"); break;
            case COL_HEX: ((const char **)buf)[i] = rec; break;
            }
        }
        hid_t mt = cd->kind == COL_INT ? H5T_NATIVE_INT : cd->kind == COL_F64 ? H5T_NATIVE_DOUBLE : w->str;
        hid_t ft = cd->kind == COL_INT ? H5T_STD_I32LE : cd->kind == COL_F64 ? H5T_IEEE_F64LE : w->str;
        wdataset(w, grp, cd->name, mt, ft, 1, dims, buf, cd->units, cd->description);
        if (cd->kind == COL_STR) for (int i = 0; i < n; i++) dam_free(((char **)buf)[i]);
    }
    dam_free(buf);
}

/* fsync of the directory holding `path`, so that a rename into it is durable (best effort: some
 * file systems refuse fsync on directories). */
static void fsync_dir(const char *path) {
    char *dir = dam_strdup(path, "path");
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { (void)fsync(fd); close(fd); }
    dam_free(dir);
}

/* Starts writing `path`: w names "<path>.tmp" (a stale one is removed) and the file is built in
 * memory (core driver, no backing store) until wcommit writes its image with write() + fsync: every
 * disk error is seen there, and a failed HDF5 close on a full disk (which leaves HDF5 1.10 to
 * crash in its exit handler) cannot happen. `bad`: non-NULL = refuse to write, naming it. */
static void wbegin(wctx *w, const char *path, const char *bad) {
    h5_quiet();
    *w = (wctx){.path = path, .file = -1};
    size_t plen = strlen(path);
    w->tmp = dam_malloc(plen + 5, "path");
    memcpy(w->tmp, path, plen);
    memcpy(w->tmp + plen, ".tmp", 5);
    snprintf(w->obj, sizeof w->obj, "/");
    if (bad) wfail(w, bad);
    unlink(w->tmp); /* a stale temporary file from a killed writer */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = H5Pcreate(H5P_FILE_ACCESS);
    WCHK(w, H5Pset_obj_track_times(fcpl, 0));
    WCHK(w, H5Pset_fapl_core(fapl, (size_t)1 << 20, 0));
    WCHK(w, H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG));
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (w->file < 0) {
        snprintf(w->obj, sizeof w->obj, "%s", w->tmp);
        wfail(w, NULL);
    }
    w->str = vlen_str_type();
}

static void wcommit(wctx *w);

void results_write_h5(const char *path, run_data *d) {
    run_data_sort(d);
    char vbuf[512], msg[600];
    const char *bad = run_data_validate(d, vbuf, sizeof vbuf);
    if (bad) snprintf(msg, sizeof msg, "inconsistent run data: %s", bad);
    wctx w;
    wbegin(&w, path, bad ? msg : NULL);

    /* root attributes and /config */
    wattr_str(&w, w.file, "schema_version", RESULTS_SCHEMA_VERSION);
    for (int i = 0; i < N_ROOT_STR_ATTRS; i++) {
        snprintf(w.obj, sizeof w.obj, "attribute /%s", ROOT_STR_ATTRS[i]);
        wattr_str(&w, w.file, ROOT_STR_ATTRS[i], *root_str_field(d, i));
    }
    snprintf(w.obj, sizeof w.obj, "attribute /seed");
    wattr(&w, w.file, "seed", H5T_NATIVE_UINT64, 0, 1, &d->seed);
    snprintf(w.obj, sizeof w.obj, "/config");
    {
        hid_t sp = H5Screate(H5S_SCALAR), dcpl = H5Pcreate(H5P_DATASET_CREATE);
        WCHK(&w, H5Pset_obj_track_times(dcpl, 0));
        hid_t ds = H5Dcreate2(w.file, "config", w.str, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        WCHK(&w, ds);
        char *cfg = results_utf8_dup(d->config_json, "HDF5 config");
        WCHK(&w, H5Dwrite(ds, w.str, H5S_ALL, H5S_ALL, H5P_DEFAULT, &cfg));
        dam_free(cfg);
        wattr_str(&w, ds, "description", "the fully resolved config, JSON");
        H5Dclose(ds); H5Pclose(dcpl); H5Sclose(sp);
    }

    /* /model */
    snprintf(w.obj, sizeof w.obj, "/model");
    hid_t g = wgroup(&w, w.file, "model");
    const model_info *mi = &d->model;
    wattr_str(&w, g, "name", mi->name);
    wattr_str(&w, g, "architecture", mi->architecture);
    wattr(&w, g, "n_layers", H5T_NATIVE_INT, 0, 1, &mi->n_layers);
    wattr(&w, g, "n_heads", H5T_NATIVE_INT, 0, 1, &mi->n_heads);
    wattr(&w, g, "n_kv_heads", H5T_NATIVE_INT, 0, 1, &mi->n_kv_heads);
    wattr(&w, g, "head_dim", H5T_NATIVE_INT, 0, 1, &mi->head_dim);
    wattr(&w, g, "context_length", H5T_NATIVE_INT, 0, 1, &mi->context_length);
    wattr(&w, g, "rope_theta", H5T_NATIVE_DOUBLE, 0, 1, &mi->rope_theta);
    wattr_str(&w, g, "file_sha256", mi->file_sha256);
    wattr_str(&w, g, "quantisation", mi->quantisation);
    wattr_str(&w, g, "format", mi->format);
    wattr(&w, g, "d_model", H5T_NATIVE_INT, 0, 1, &mi->d_model);
    wattr(&w, g, "vocab", H5T_NATIVE_INT, 0, 1, &mi->vocab);
    wattr(&w, g, "sliding_window", H5T_NATIVE_INT, 0, 1, &mi->sliding_window);
    wattr(&w, g, "rope_theta_swa", H5T_NATIVE_DOUBLE, 0, 1, &mi->rope_theta_swa);
    wattr_str(&w, g, "rope_scaling", mi->rope_scaling);
    wattr(&w, g, "global_layers", H5T_NATIVE_INT, 1, (hsize_t)mi->n_global, mi->global_layers);
    H5Gclose(g);

    /* /examples/<task> */
    const char **tasks;
    int nt = run_data_tasks(d, &tasks);
    snprintf(w.obj, sizeof w.obj, "/examples");
    hid_t gex = wgroup(&w, w.file, "examples");
    wattr_strs(&w, gex, "tasks", nt, tasks);
    for (int a = 0; a < d->n_examples;) {
        int b = a;
        while (b < d->n_examples && strcmp(d->examples[b].task, d->examples[a].task) == 0) b++;
        char gpath[300];
        snprintf(gpath, sizeof gpath, "/examples/%s", d->examples[a].task);
        snprintf(w.obj, sizeof w.obj, "%s", gpath);
        hid_t gt = wgroup(&w, gex, d->examples[a].task);
        wcolumns(&w, gt, gpath, EXAMPLE_COLS, N_EXAMPLE_COLS, &d->examples[a], sizeof(example_record), b - a);
        H5Gclose(gt);
        a = b;
    }
    H5Gclose(gex);

    /* /runs/<method>/<task> */
    snprintf(w.obj, sizeof w.obj, "/runs");
    hid_t gruns = wgroup(&w, w.file, "runs");
    const char **mnames = dam_malloc(sizeof(char *) * (size_t)(d->n_methods + 1), "method names");
    for (int m = 0; m < d->n_methods; m++) mnames[m] = d->methods[m].name;
    wattr_strs(&w, gruns, "methods", d->n_methods, mnames);
    dam_free(mnames);
    int r = 0;
    for (int m = 0; m < d->n_methods; m++) {
        const method_info *mt = &d->methods[m];
        snprintf(w.obj, sizeof w.obj, "/runs/%s", mt->name);
        hid_t gm = wgroup(&w, gruns, mt->name);
        wattr(&w, gm, "layers", H5T_NATIVE_INT, 1, (hsize_t)mt->n_layers, mt->layers);
        while (r < d->n_results && strcmp(d->results[r].method, mt->name) == 0) {
            int b = r;
            while (b < d->n_results && strcmp(d->results[b].method, mt->name) == 0 &&
                   strcmp(d->results[b].task, d->results[r].task) == 0) b++;
            const result_record *r0 = &d->results[r];
            int n = b - r;
            char gpath[600];
            snprintf(gpath, sizeof gpath, "/runs/%s/%s", mt->name, r0->task);
            snprintf(w.obj, sizeof w.obj, "%s", gpath);
            hid_t gt = wgroup(&w, gm, r0->task);
            wcolumns(&w, gt, gpath, RESULT_COLS, N_RESULT_COLS, r0, sizeof(result_record), n);
            size_t lh = r0->n_layers > 0 && r0->n_heads > 0 ? (size_t)r0->n_layers * (size_t)r0->n_heads : 0;
            hsize_t L = lh ? (hsize_t)r0->n_layers : 0, H = lh ? (hsize_t)r0->n_heads : 0;
            float *al = dam_malloc(sizeof(float) * (size_t)n * lh * ALIGN_N_METRICS + 4, "HDF5 alignment");
            float *de = dam_malloc(sizeof(float) * (size_t)n * lh + 4, "HDF5 density");
            for (int i = 0; i < n; i++) {
                if (!lh) break;
                memcpy(al + (size_t)i * lh * ALIGN_N_METRICS, d->results[r + i].alignment, sizeof(float) * lh * ALIGN_N_METRICS);
                memcpy(de + (size_t)i * lh, d->results[r + i].head_density, sizeof(float) * lh);
            }
            hsize_t adims[4] = {(hsize_t)n, L, H, ALIGN_N_METRICS}, ddims[3] = {(hsize_t)n, L, H};
            snprintf(w.obj, sizeof w.obj, "%s/alignment", gpath);
            wdataset(&w, gt, "alignment", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 4, adims, al, "",
                     "alignment with full attention per example, layer, query head and metric (docs/metrics.md); NaN = not measured");
            snprintf(w.obj, sizeof w.obj, "%s/density", gpath);
            wdataset(&w, gt, "density", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 3, ddims, de, "fraction",
                     "exact density (kept causal pairs / causal pairs) per example, layer and query head");
            dam_free(al);
            dam_free(de);
            H5Gclose(gt);
            r = b;
        }
        H5Gclose(gm);
    }
    H5Gclose(gruns);
    dam_free(tasks);

    /* /patterns/<method> (harness/results_patterns.c) */
    if (results_patterns_write(w.file, w.str, d, w.obj, sizeof w.obj) < 0) wfail(&w, NULL);
    wcommit(&w);
}

/* Ends what wbegin started: the in-memory file's image goes to "<path>.tmp" (write + fsync), which
 * is renamed over path (then the directory is fsynced). Any failure: wfail. */
static void wcommit(wctx *w) {
    const char *path = w->path;
    H5Tclose(w->str);
    snprintf(w->obj, sizeof w->obj, "%s", w->tmp);
    WCHK(w, H5Fflush(w->file, H5F_SCOPE_GLOBAL));
    ssize_t size = H5Fget_file_image(w->file, NULL, 0);
    WCHK(w, size);
    char *image = dam_malloc((size_t)size, "HDF5 file image");
    WCHK(w, H5Fget_file_image(w->file, image, (size_t)size));
    herr_t st = H5Fclose(w->file);
    w->file = -1;
    if (st < 0) wfail(w, NULL);

    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *err = fd < 0 ? "cannot create" : NULL;
    int eno = fd < 0 ? errno : 0;
    for (size_t done = 0; !err && done < (size_t)size;) {
        ssize_t k = write(fd, image + done, (size_t)size - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { err = "write"; eno = k < 0 ? errno : ENOSPC; }
        else done += (size_t)k;
    }
    if (!err && fsync(fd) != 0) { err = "fsync"; eno = errno; }
    if (fd >= 0 && close(fd) != 0 && !err) { err = "close"; eno = errno; }
    dam_free(image);
    if (err) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s: %s", err, strerror(eno));
        wfail(w, msg);
    }
    if (rename(w->tmp, path) != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "rename to %s: %s", path, strerror(errno));
        wfail(w, msg);
    }
    fsync_dir(path); /* make the rename itself durable */
    dam_free(w->tmp);
}

void results_write_table_h5(const char *path, const char *const (*attrs)[2], int n_attrs, const char *group,
                            const results_column *cols, int n_cols, int n_rows) {
    wctx w;
    wbegin(&w, path, NULL);
    for (int i = 0; i < n_attrs; i++) {
        snprintf(w.obj, sizeof w.obj, "attribute /%s", attrs[i][0]);
        wattr_str(&w, w.file, attrs[i][0], attrs[i][1]);
    }
    snprintf(w.obj, sizeof w.obj, "/%s", group);
    hid_t g = wgroup(&w, w.file, group);
    const hsize_t dims[1] = {(hsize_t)n_rows};
    for (int c = 0; c < n_cols; c++) {
        const results_column *rc = &cols[c];
        snprintf(w.obj, sizeof w.obj, "/%s/%s", group, rc->name);
        if (rc->kind == RESULTS_COL_STR) {
            char **v = dam_malloc(sizeof(char *) * (size_t)(n_rows > 0 ? n_rows : 1), "HDF5 column");
            for (int i = 0; i < n_rows; i++) v[i] = results_utf8_dup(((const char *const *)rc->data)[i], "HDF5 string");
            wdataset(&w, g, rc->name, w.str, w.str, 1, dims, v, rc->units, rc->description);
            for (int i = 0; i < n_rows; i++) dam_free(v[i]);
            dam_free(v);
        } else if (rc->kind == RESULTS_COL_I64) {
            wdataset(&w, g, rc->name, H5T_NATIVE_INT64, H5T_STD_I64LE, 1, dims, rc->data, rc->units, rc->description);
        } else {
            wdataset(&w, g, rc->name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dims, rc->data, rc->units, rc->description);
        }
    }
    H5Gclose(g);
    wcommit(&w);
}

/* ------------------------------------------------------------------------------------------------
 * reader
 * ---------------------------------------------------------------------------------------------- */

/* Reads a numeric attribute with `n` elements (n < 0: any count; *count gets it) converted to
 * memtype; returns a dam_malloc'd buffer of elem-size entries. */
static void *rattr_num(results_reader *r, hid_t obj, const char *objpath, const char *name, hid_t memtype, H5T_class_t cls,
                       int n, int *count) {
    char where[600];
    snprintf(where, sizeof where, "%s%sattribute %s", objpath, *objpath ? " " : "", name);
    if (H5Aexists(obj, name) <= 0) results_read_fail(r, where, "missing");
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t c = H5Tget_class(t);
    if (c != cls && !(cls == H5T_FLOAT && c == H5T_INTEGER))
        results_read_fail(r, where, "has the wrong type (want %s)", cls == H5T_INTEGER ? "an integer" : "a number");
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (np < 0 || (n >= 0 && np != n)) results_read_fail(r, where, "has %lld values, want %d", (long long)np, n);
    void *buf = dam_malloc(H5Tget_size(memtype) * (size_t)np + 8, "HDF5 attribute");
    if (np > 0 && H5Aread(a, memtype, buf) < 0) results_read_fail(r, where, "cannot read");
    if (count) *count = (int)np;
    H5Sclose(sp); H5Tclose(t); H5Aclose(a);
    return buf;
}

static int rattr_int(results_reader *r, hid_t obj, const char *objpath, const char *name) {
    int *v = rattr_num(r, obj, objpath, name, H5T_NATIVE_INT, H5T_INTEGER, 1, NULL);
    int x = *v;
    dam_free(v);
    return x;
}

static double rattr_double(results_reader *r, hid_t obj, const char *objpath, const char *name) {
    double *v = rattr_num(r, obj, objpath, name, H5T_NATIVE_DOUBLE, H5T_FLOAT, 1, NULL);
    double x = *v;
    dam_free(v);
    return x;
}

/* Reads a 1-D string array attribute; returns the count, *out gets dam_malloc'd strings. */
static int rattr_strs(results_reader *r, hid_t obj, const char *objpath, const char *name, char ***out) {
    char where[600];
    snprintf(where, sizeof where, "%s attribute %s", objpath, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) results_read_fail(r, where, "cannot open");
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    if (H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) <= 0) results_read_fail(r, where, "not a variable-length string array");
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    char **v = dam_calloc((size_t)n + 1, sizeof(char *), "HDF5 strings");
    hid_t mt = vlen_str_type();
    H5Tset_cset(mt, H5Tget_cset(t));
    if (n > 0 && H5Aread(a, mt, v) < 0) results_read_fail(r, where, "cannot read");
    char **o = dam_malloc(sizeof(char *) * ((size_t)n + 1), "HDF5 strings");
    for (hssize_t i = 0; i < n; i++) { o[i] = dam_strdup(v[i] ? v[i] : "", "HDF5 string"); H5free_memory(v[i]); }
    dam_free(v);
    H5Tclose(mt); H5Sclose(sp); H5Tclose(t); H5Aclose(a);
    *out = o;
    return (int)n;
}

static void free_strs(char **s, int n) {
    for (int i = 0; i < n; i++) dam_free(s[i]);
    dam_free(s);
}

/* Names of the links in group g, sorted by name; returns the count. */
static int rlinks(results_reader *r, hid_t g, const char *gpath, char ***out) {
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) results_read_fail(r, gpath, "cannot list");
    char **names = dam_malloc(sizeof(char *) * (size_t)(info.nlinks + 1), "HDF5 names");
    for (hsize_t i = 0; i < info.nlinks; i++) {
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        if (len < 0) results_read_fail(r, gpath, "cannot list");
        names[i] = dam_malloc((size_t)len + 1, "HDF5 name");
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, names[i], (size_t)len + 1, H5P_DEFAULT);
    }
    *out = names;
    return (int)info.nlinks;
}

static hid_t rgroup(results_reader *r, hid_t parent, const char *name, const char *path) {
    if (H5Lexists(parent, name, H5P_DEFAULT) <= 0) results_read_fail(r, path, "missing");
    hid_t o = H5Oopen(parent, name, H5P_DEFAULT);
    if (o < 0) results_read_fail(r, path, "cannot open");
    if (H5Iget_type(o) != H5I_GROUP) results_read_fail(r, path, "is not a group");
    return o;
}

/* Opens dataset name in g, checks its rank and, for dims[i] >= 0, its extent; fills dims. */
static hid_t rdataset(results_reader *r, hid_t g, const char *name, const char *path, int rank, long long *dims) {
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) results_read_fail(r, path, "missing");
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) results_read_fail(r, path, "cannot open");
    if (H5Iget_type(o) != H5I_DATASET) results_read_fail(r, path, "is not a dataset");
    hid_t sp = H5Dget_space(o);
    int rk = H5Sget_simple_extent_ndims(sp);
    if (rk != rank) results_read_fail(r, path, "has %d dimensions, want %d", rk, rank);
    hsize_t d[8];
    H5Sget_simple_extent_dims(sp, d, NULL);
    for (int i = 0; i < rank; i++) {
        if (dims[i] >= 0 && (long long)d[i] != dims[i])
            results_read_fail(r, path, "axis %d has %llu entries, want %lld", i, (unsigned long long)d[i], dims[i]);
        dims[i] = (long long)d[i];
    }
    H5Sclose(sp);
    return o;
}

/* Reads n strings of a 1-D string dataset (variable or fixed length) into dam_malloc'd copies. */
static void rstrings(results_reader *r, hid_t ds, const char *path, long long n, char **out) {
    hid_t t = H5Dget_type(ds);
    if (H5Tget_class(t) != H5T_STRING) results_read_fail(r, path, "is not a string dataset");
    if (H5Tis_variable_str(t) > 0) {
        hid_t mt = vlen_str_type();
        H5Tset_cset(mt, H5Tget_cset(t));
        char **v = dam_calloc((size_t)n + 1, sizeof(char *), "HDF5 strings");
        if (n > 0 && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) results_read_fail(r, path, "cannot read");
        for (long long i = 0; i < n; i++) { out[i] = dam_strdup(v[i] ? v[i] : "", "HDF5 string"); H5free_memory(v[i]); }
        dam_free(v);
        H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(t);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz);
        H5Tset_cset(mt, H5Tget_cset(t));
        char *buf = dam_calloc((size_t)n * sz + 1, 1, "HDF5 strings");
        if (n > 0 && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) results_read_fail(r, path, "cannot read");
        for (long long i = 0; i < n; i++) {
            out[i] = dam_calloc(sz + 1, 1, "HDF5 string");
            memcpy(out[i], buf + (size_t)i * sz, sz);
        }
        dam_free(buf);
        H5Tclose(mt);
    }
    H5Tclose(t);
}

/* Reads the columns of a table group into n records (the count comes from the `index` column). */
static int rcolumns(results_reader *r, hid_t g, const char *gpath, const col_def *cols, int ncols, void **recs_out, size_t rec_size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/index", gpath);
    long long dims[1] = {-1};
    H5Dclose(rdataset(r, g, "index", path, 1, dims));
    long long n = dims[0];
    char *recs = dam_calloc((size_t)n + 1, rec_size, "HDF5 records");
    void *buf = dam_malloc((size_t)n * 8 + 8, "HDF5 column");
    for (int c = 0; c < ncols; c++) {
        const col_def *cd = &cols[c];
        snprintf(path, sizeof path, "%s/%s", gpath, cd->name);
        long long dd[1] = {n};
        if (added_after(cd->name, r->minor) && H5Lexists(g, cd->name, H5P_DEFAULT) <= 0) continue; /* older file: 0 */
        hid_t ds = rdataset(r, g, cd->name, path, 1, dd);
        if (cd->kind == COL_STR || cd->kind == COL_HEX) {
            rstrings(r, ds, path, n, (char **)buf);
            for (long long i = 0; i < n; i++) {
                char *s = ((char **)buf)[i];
                char *field = recs + (size_t)i * rec_size + cd->off;
                if (cd->kind == COL_STR) *(char **)field = s;
                else {
                    if (strlen(s) != 64) results_read_fail(r, path, "row %lld is not 64 hex digits", i);
                    memcpy(field, s, 65);
                    dam_free(s);
                }
            }
        } else {
            hid_t t = H5Dget_type(ds);
            H5T_class_t cl = H5Tget_class(t);
            H5Tclose(t);
            if (cd->kind == COL_INT ? cl != H5T_INTEGER : (cl != H5T_FLOAT && cl != H5T_INTEGER))
                results_read_fail(r, path, "has the wrong type (want %s)", cd->kind == COL_INT ? "integers" : "numbers");
            hid_t mt = cd->kind == COL_INT ? H5T_NATIVE_INT : H5T_NATIVE_DOUBLE;
            if (n > 0 && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) results_read_fail(r, path, "cannot read");
            for (long long i = 0; i < n; i++) {
                char *field = recs + (size_t)i * rec_size + cd->off;
                if (cd->kind == COL_INT) *(int *)field = ((int *)buf)[i];
                else *(double *)field = ((double *)buf)[i];
            }
        }
        H5Dclose(ds);
    }
    dam_free(buf);
    *recs_out = recs;
    return (int)n;
}

/* Orders names by the list in attribute `attr` of g (if present: it must name exactly the members);
 * otherwise keeps them sorted by name. */
static void rorder(results_reader *r, hid_t g, const char *gpath, const char *attr, char **names, int n) {
    if (H5Aexists(g, attr) <= 0) return;
    char **order;
    int no = rattr_strs(r, g, gpath, attr, &order);
    char where[300];
    snprintf(where, sizeof where, "%s attribute %s", gpath, attr);
    if (no != n) results_read_fail(r, where, "lists %d names but the group has %d members", no, n);
    for (int i = 0; i < n; i++) {
        int k = i;
        while (k < n && strcmp(names[k], order[i]) != 0) k++;
        if (k == n) results_read_fail(r, where, "names \"%s\", which is not a member", order[i]);
        char *t = names[i]; names[i] = names[k]; names[k] = t;
    }
    free_strs(order, no);
}

/* Opens `path` read-only into r->file (exit 2 with a one-line message if it is missing or not
 * HDF5). */
static void ropen(results_reader *r, const char *path) {
    h5_quiet();
    r->path = path;
    r->file = -1;
    if (access(path, R_OK) != 0) dam_die(DAM_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0) dam_die(DAM_EXIT_INPUT, "%s: cannot open: not an HDF5 file", path);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0) dam_die(DAM_EXIT_INPUT, "%s: cannot open: damaged HDF5 file", path);
}

/* Refuses (exit 2) a file without schema_version or of another major version. */
static void check_schema(results_reader *r) {
    if (H5Aexists(r->file, "schema_version") <= 0) results_read_fail(r, "/", "no schema_version attribute: not a dam results file");
    char *sv = results_read_attr_str(r, r->file, "", "schema_version");
    int major = -1, minor = -1;
    char tail;
    if (sscanf(sv, "%d.%d%c", &major, &minor, &tail) != 2 || major < 0 || minor < 0)
        results_read_fail(r, "attribute schema_version", "\"%s\" is not major.minor", sv);
    if (major != RESULTS_SCHEMA_MAJOR)
        results_read_fail(r, "attribute schema_version", "schema %s is not supported (this dam reads %d.x; %s)", sv,
              RESULTS_SCHEMA_MAJOR, major > RESULTS_SCHEMA_MAJOR ? "upgrade dam" : "re-run with this dam");
    r->minor = minor;
    dam_free(sv);
}

void results_check_schema_h5(const char *path) {
    results_reader r;
    ropen(&r, path);
    check_schema(&r);
    H5Fclose(r.file);
}

void results_read_h5(const char *path, run_data *d) {
    run_data_init(d);
    results_reader r;
    ropen(&r, path);
    check_schema(&r);
    for (int i = 0; i < N_ROOT_STR_ATTRS; i++) *root_str_field(d, i) = results_read_attr_str(&r, r.file, "", ROOT_STR_ATTRS[i]);
    {
        uint64_t *s = rattr_num(&r, r.file, "", "seed", H5T_NATIVE_UINT64, H5T_INTEGER, 1, NULL);
        d->seed = *s;
        dam_free(s);
    }
    {
        long long dims[1];
        if (H5Lexists(r.file, "config", H5P_DEFAULT) <= 0) results_read_fail(&r, "/config", "missing");
        hid_t ds = H5Oopen(r.file, "config", H5P_DEFAULT);
        if (ds < 0 || H5Iget_type(ds) != H5I_DATASET) results_read_fail(&r, "/config", "is not a dataset");
        hid_t sp = H5Dget_space(ds);
        if (H5Sget_simple_extent_npoints(sp) != 1) results_read_fail(&r, "/config", "is not a scalar string");
        H5Sclose(sp);
        char *one[1];
        (void)dims;
        rstrings(&r, ds, "/config", 1, one);
        d->config_json = one[0];
        H5Dclose(ds);
    }

    hid_t g = rgroup(&r, r.file, "model", "/model");
    model_info *mi = &d->model;
    mi->name = results_read_attr_str(&r, g, "/model", "name");
    mi->architecture = results_read_attr_str(&r, g, "/model", "architecture");
    mi->n_layers = rattr_int(&r, g, "/model", "n_layers");
    mi->n_heads = rattr_int(&r, g, "/model", "n_heads");
    mi->n_kv_heads = rattr_int(&r, g, "/model", "n_kv_heads");
    mi->head_dim = rattr_int(&r, g, "/model", "head_dim");
    mi->context_length = rattr_int(&r, g, "/model", "context_length");
    mi->rope_theta = rattr_double(&r, g, "/model", "rope_theta");
    mi->file_sha256 = results_read_attr_str(&r, g, "/model", "file_sha256");
    mi->quantisation = results_read_attr_str(&r, g, "/model", "quantisation");
    if (r.minor >= 2) {
        mi->format = results_read_attr_str(&r, g, "/model", "format");
        mi->d_model = rattr_int(&r, g, "/model", "d_model");
        mi->vocab = rattr_int(&r, g, "/model", "vocab");
        mi->sliding_window = rattr_int(&r, g, "/model", "sliding_window");
        mi->rope_theta_swa = rattr_double(&r, g, "/model", "rope_theta_swa");
        mi->rope_scaling = results_read_attr_str(&r, g, "/model", "rope_scaling");
        mi->global_layers = rattr_num(&r, g, "/model", "global_layers", H5T_NATIVE_INT, H5T_INTEGER, -1, &mi->n_global);
        for (int i = 0; i < mi->n_global; i++)
            if (mi->global_layers[i] < 0 || mi->global_layers[i] >= mi->n_layers || (i && mi->global_layers[i] <= mi->global_layers[i - 1]))
                results_read_fail(&r, "/model attribute global_layers", "is not an ascending list of layers below n_layers %d", mi->n_layers);
    } else { /* 1.0 / 1.1: the facts were not recorded; every layer counted as global */
        mi->format = dam_strdup("", "model info");
        mi->rope_scaling = dam_strdup("", "model info");
        mi->rope_theta_swa = NAN;
        mi->n_global = mi->n_layers > 0 ? mi->n_layers : 0;
        mi->global_layers = dam_malloc(sizeof(int) * (size_t)(mi->n_global > 0 ? mi->n_global : 1), "model info");
        for (int i = 0; i < mi->n_global; i++) mi->global_layers[i] = i;
    }
    H5Oclose(g);

    /* /examples/<task> */
    char **tasks;
    hid_t gex = rgroup(&r, r.file, "examples", "/examples");
    int nt = rlinks(&r, gex, "/examples", &tasks);
    rorder(&r, gex, "/examples", "tasks", tasks, nt);
    for (int t = 0; t < nt; t++) {
        char gpath[400];
        snprintf(gpath, sizeof gpath, "/examples/%s", tasks[t]);
        hid_t gt = rgroup(&r, gex, tasks[t], gpath);
        void *recs;
        int n = rcolumns(&r, gt, gpath, EXAMPLE_COLS, N_EXAMPLE_COLS, &recs, sizeof(example_record));
        example_record *ex = recs;
        for (int i = 0; i < n; i++) {
            ex[i].task = dam_strdup(tasks[t], "example task");
            if (run_data_find_example(d, ex[i].task, ex[i].index)) results_read_fail(&r, gpath, "index %d appears twice", ex[i].index);
            run_data_take_example(d, &ex[i]);
        }
        dam_free(recs);
        H5Oclose(gt);
    }
    H5Oclose(gex);

    /* /runs/<method>/<task> */
    char **methods;
    hid_t gruns = rgroup(&r, r.file, "runs", "/runs");
    int nm = rlinks(&r, gruns, "/runs", &methods);
    rorder(&r, gruns, "/runs", "methods", methods, nm);
    for (int m = 0; m < nm; m++) {
        char mpath[400];
        snprintf(mpath, sizeof mpath, "/runs/%s", methods[m]);
        hid_t gm = rgroup(&r, gruns, methods[m], mpath);
        int nl = 0;
        int *layers = rattr_num(&r, gm, mpath, "layers", H5T_NATIVE_INT, H5T_INTEGER, -1, &nl);
        run_data_add_method(d, methods[m], nl, layers);
        dam_free(layers);
        char **mt;
        int nmt = rlinks(&r, gm, mpath, &mt);
        for (int t = 0; t < nmt; t++) {
            char gpath[800];
            snprintf(gpath, sizeof gpath, "%s/%s", mpath, mt[t]);
            hid_t gt = rgroup(&r, gm, mt[t], gpath);
            void *recs;
            int n = rcolumns(&r, gt, gpath, RESULT_COLS, N_RESULT_COLS, &recs, sizeof(result_record));
            result_record *rs = recs;
            char apath[1024];
            snprintf(apath, sizeof apath, "%s/alignment", gpath);
            long long ad[4] = {n, -1, -1, ALIGN_N_METRICS};
            hid_t da = rdataset(&r, gt, "alignment", apath, 4, ad);
            snprintf(apath, sizeof apath, "%s/density", gpath);
            long long dd[3] = {n, ad[1], ad[2]};
            hid_t dn = rdataset(&r, gt, "density", apath, 3, dd);
            size_t lh = (size_t)ad[1] * (size_t)ad[2];
            float *al = dam_malloc(sizeof(float) * (size_t)n * lh * ALIGN_N_METRICS + 4, "HDF5 alignment");
            float *de = dam_malloc(sizeof(float) * (size_t)n * lh + 4, "HDF5 density");
            if (n > 0 && lh > 0) {
                snprintf(apath, sizeof apath, "%s/alignment", gpath);
                if (H5Dread(da, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, al) < 0) results_read_fail(&r, apath, "cannot read");
                snprintf(apath, sizeof apath, "%s/density", gpath);
                if (H5Dread(dn, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, de) < 0) results_read_fail(&r, apath, "cannot read");
            }
            H5Dclose(da);
            H5Dclose(dn);
            for (int i = 0; i < n; i++) {
                rs[i].method = dam_strdup(methods[m], "result method");
                rs[i].task = dam_strdup(mt[t], "result task");
                rs[i].n_layers = lh ? (int)ad[1] : 0;
                rs[i].n_heads = lh ? (int)ad[2] : 0;
                rs[i].alignment = dam_malloc(sizeof(float) * lh * ALIGN_N_METRICS, "result alignment");
                rs[i].head_density = dam_malloc(sizeof(float) * lh, "result head density");
                if (lh) {
                    memcpy(rs[i].alignment, al + (size_t)i * lh * ALIGN_N_METRICS, sizeof(float) * lh * ALIGN_N_METRICS);
                    memcpy(rs[i].head_density, de + (size_t)i * lh, sizeof(float) * lh);
                }
                if (run_data_find_result(d, rs[i].method, rs[i].task, rs[i].index)) results_read_fail(&r, gpath, "index %d appears twice", rs[i].index);
                run_data_take_result(d, &rs[i]);
            }
            dam_free(al);
            dam_free(de);
            dam_free(recs);
            H5Oclose(gt);
        }
        free_strs(mt, nmt);
        H5Oclose(gm);
    }
    H5Oclose(gruns);
    free_strs(methods, nm);
    free_strs(tasks, nt);
    H5Fclose(r.file);
    r.file = -1;

    char vbuf[512];
    const char *bad = run_data_validate(d, vbuf, sizeof vbuf);
    if (bad) dam_die(DAM_EXIT_INPUT, "%s: %s", path, bad);
    run_data_sort(d);
}
