/* journal.c — see journal.h. */
#include "harness/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"

struct journal {
    int fd;
    char *path;
};

char *journal_path(const char *output) {
    size_t n = strlen(output);
    char *p = dam_malloc(n + 9, "journal path");
    memcpy(p, output, n);
    memcpy(p + n, ".journal", 9);
    return p;
}

/* ------------------------------------------------------------------------------------------------
 * encoding
 * ---------------------------------------------------------------------------------------------- */

/* A growable text buffer (dam_malloc'd). */
typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        while (b->n + n + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 4096;
        b->s = dam_realloc(b->s, b->cap, "journal line");
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* NaN -> null, ±inf -> "inf" / "-inf", else a JSON real (17 significant digits: exact). */
static json_t *enc_double(double x) {
    if (isnan(x)) return json_null();
    if (isinf(x)) return json_string(x > 0 ? "inf" : "-inf");
    return json_real(x);
}

/* The shortest %g text that reads back as the same float; NaN -> null, ±inf -> "inf"/"-inf". */
static void sb_float(sbuf *b, float f) {
    if (isnan(f)) { sb_puts(b, "null"); return; }
    if (isinf(f)) { sb_puts(b, f > 0 ? "\"inf\"" : "\"-inf\""); return; }
    char t[32];
    for (int p = 6; p <= 9; p++) {
        snprintf(t, sizeof t, "%.*g", p, (double)f);
        if (strtof(t, NULL) == f) break;
    }
    sb_puts(b, t);
}

static void sb_floats(sbuf *b, const char *key, const float *v, size_t n) {
    sb_puts(b, ",\"");
    sb_puts(b, key);
    sb_puts(b, "\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_put(b, ",", 1);
        sb_float(b, v[i]);
    }
    sb_put(b, "]", 1);
}

static json_t *jstr(const char *s) {
    char *c = results_utf8_dup(s, "journal string");
    json_t *j = json_string(c);
    dam_free(c);
    return j;
}

/* JSON for the run metadata of d (the header line). */
static json_t *header_json(const run_data *d) {
    json_t *h = json_object();
    json_object_set_new(h, "type", json_string("header"));
    json_object_set_new(h, "format", json_integer(JOURNAL_FORMAT));
    json_object_set_new(h, "harness_version", jstr(d->harness_version));
    json_object_set_new(h, "git_revision", jstr(d->git_revision));
    json_object_set_new(h, "host", jstr(d->host));
    json_object_set_new(h, "device", jstr(d->device));
    json_object_set_new(h, "cuda_version", jstr(d->cuda_version));
    json_object_set_new(h, "driver_version", jstr(d->driver_version));
    json_object_set_new(h, "start_time", jstr(d->start_time));
    if (d->seed <= (uint64_t)INT64_MAX) json_object_set_new(h, "seed", json_integer((json_int_t)d->seed));
    else {
        char s[32];
        snprintf(s, sizeof s, "%" PRIu64, d->seed);
        json_object_set_new(h, "seed", json_string(s));
    }
    json_t *m = json_object();
    const model_info *mi = &d->model;
    json_object_set_new(m, "name", jstr(mi->name));
    json_object_set_new(m, "architecture", jstr(mi->architecture));
    json_object_set_new(m, "n_layers", json_integer(mi->n_layers));
    json_object_set_new(m, "n_heads", json_integer(mi->n_heads));
    json_object_set_new(m, "n_kv_heads", json_integer(mi->n_kv_heads));
    json_object_set_new(m, "head_dim", json_integer(mi->head_dim));
    json_object_set_new(m, "context_length", json_integer(mi->context_length));
    json_object_set_new(m, "rope_theta", enc_double(mi->rope_theta));
    json_object_set_new(m, "file_sha256", jstr(mi->file_sha256));
    json_object_set_new(m, "quantisation", jstr(mi->quantisation));
    json_object_set_new(m, "format", jstr(mi->format));
    json_object_set_new(m, "d_model", json_integer(mi->d_model));
    json_object_set_new(m, "vocab", json_integer(mi->vocab));
    json_object_set_new(m, "sliding_window", json_integer(mi->sliding_window));
    json_object_set_new(m, "rope_theta_swa", enc_double(mi->rope_theta_swa));
    json_object_set_new(m, "rope_scaling", jstr(mi->rope_scaling));
    json_t *gl = json_array();
    for (int k = 0; k < mi->n_global; k++) json_array_append_new(gl, json_integer(mi->global_layers[k]));
    json_object_set_new(m, "global_layers", gl);
    json_object_set_new(h, "model", m);
    json_t *ms = json_array();
    for (int i = 0; i < d->n_methods; i++) {
        json_t *o = json_object(), *l = json_array();
        json_object_set_new(o, "name", jstr(d->methods[i].name));
        for (int k = 0; k < d->methods[i].n_layers; k++) json_array_append_new(l, json_integer(d->methods[i].layers[k]));
        json_object_set_new(o, "layers", l);
        if (d->methods[i].patterns_sha256[0]) json_object_set_new(o, "patterns_sha256", jstr(d->methods[i].patterns_sha256));
        json_array_append_new(ms, o);
    }
    json_object_set_new(h, "methods", ms);
    json_object_set_new(h, "config_json", jstr(d->config_json));
    return h;
}

static json_t *example_json(const example_record *e) {
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("example"));
    json_object_set_new(o, "task", jstr(e->task));
    json_object_set_new(o, "index", json_integer(e->index));
    json_object_set_new(o, "target_len", json_integer(e->target_len));
    json_object_set_new(o, "n_tokens", json_integer(e->n_tokens));
    json_object_set_new(o, "n_truncated", json_integer(e->n_truncated));
    json_object_set_new(o, "depth", enc_double(e->depth));
    json_object_set_new(o, "sample", json_integer(e->sample));
    json_object_set_new(o, "answer", jstr(e->answer));
    json_object_set_new(o, "ids_sha256", jstr(e->ids_sha256));
    return o;
}

/* The scalar fields of a result; the float arrays are appended as text by append_result. */
static json_t *result_json(const result_record *r) {
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("result"));
    json_object_set_new(o, "method", jstr(r->method));
    json_object_set_new(o, "task", jstr(r->task));
    json_object_set_new(o, "index", json_integer(r->index));
    json_object_set_new(o, "score", enc_double(r->score));
    json_object_set_new(o, "prediction", jstr(r->prediction));
    json_object_set_new(o, "answer_nll", enc_double(r->answer_nll));
    json_object_set_new(o, "logit_kl", enc_double(r->logit_kl));
    json_object_set_new(o, "prefill_ms", enc_double(r->prefill_ms));
    json_object_set_new(o, "mask_ms", enc_double(r->mask_ms));
    json_object_set_new(o, "decode_ms", enc_double(r->decode_ms));
    json_object_set_new(o, "n_generated", json_integer(r->n_generated));
    json_object_set_new(o, "peak_bytes", enc_double(r->peak_bytes));
    json_object_set_new(o, "kv_bytes", enc_double(r->kv_bytes));
    json_object_set_new(o, "density", enc_double(r->density));
    int lh = r->n_layers > 0 && r->n_heads > 0;
    json_object_set_new(o, "n_layers", json_integer(lh ? r->n_layers : 0));
    json_object_set_new(o, "n_heads", json_integer(lh ? r->n_heads : 0));
    return o;
}

/* ------------------------------------------------------------------------------------------------
 * writing
 * ---------------------------------------------------------------------------------------------- */

static void write_line(journal *j, const char *line, size_t n) {
    for (size_t done = 0; done < n;) {
        ssize_t w = write(j->fd, line + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) dam_die(DAM_EXIT_RUNTIME, "%s: cannot append to the journal: %s", j->path, w < 0 ? strerror(errno) : "short write");
        done += (size_t)w;
    }
    if (fsync(j->fd) != 0) dam_die(DAM_EXIT_RUNTIME, "%s: cannot fsync the journal: %s", j->path, strerror(errno));
}

static void append_json(journal *j, json_t *o, const result_record *arrays) {
    char *txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (txt == NULL) dam_die(DAM_EXIT_RUNTIME, "%s: cannot encode a journal record", j->path);
    sbuf b = {0};
    size_t n = strlen(txt);
    if (arrays) {
        sb_put(&b, txt, n - 1); /* drop the closing brace */
        size_t lh = arrays->n_layers > 0 && arrays->n_heads > 0 ? (size_t)arrays->n_layers * (size_t)arrays->n_heads : 0;
        static const float none[1] = {0};
        sb_floats(&b, "alignment", lh ? arrays->alignment : none, lh * ALIGN_N_METRICS);
        sb_floats(&b, "head_density", lh ? arrays->head_density : none, lh);
        sb_puts(&b, "}\n");
    } else {
        sb_put(&b, txt, n);
        sb_puts(&b, "\n");
    }
    free(txt);
    write_line(j, b.s, b.n);
    dam_free(b.s);
}

static void fsync_dir_of(const char *path) {
    char *dir = dam_strdup(path, "path");
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
    dam_free(dir);
}

/* Opens the journal for appending and takes an exclusive lock on it (flock), so two runs cannot
 * write one journal; `truncate` empties it only once the lock is held. */
static journal *journal_open_fd(const char *path, int flags, bool truncate) {
    int fd = open(path, flags | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) dam_die(DAM_EXIT_RUNTIME, "%s: cannot open the journal for writing: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        dam_die(DAM_EXIT_INPUT, "%s: another dam run is writing this journal (same output file)", path);
    if (truncate && ftruncate(fd, 0) != 0) dam_die(DAM_EXIT_RUNTIME, "%s: cannot truncate: %s", path, strerror(errno));
    journal *j = dam_malloc(sizeof *j, "journal");
    j->fd = fd;
    j->path = dam_strdup(path, "journal path");
    return j;
}

journal *journal_create(const char *path, const run_data *header) {
    journal *j = journal_open_fd(path, O_CREAT, true);
    append_json(j, header_json(header), NULL);
    fsync_dir_of(path);
    return j;
}

void journal_append_example(journal *j, const example_record *e) { append_json(j, example_json(e), NULL); }

void journal_append_result(journal *j, const result_record *r) {
    size_t lh = r->n_layers > 0 && r->n_heads > 0 ? (size_t)r->n_layers * (size_t)r->n_heads : 0;
    if (lh && (!r->alignment || !r->head_density))
        dam_die(DAM_EXIT_RUNTIME, "%s: result %s/%s/%d has no alignment or head_density arrays", j->path, r->method, r->task, r->index);
    append_json(j, result_json(r), r);
}

void journal_close(journal *j) {
    if (j == NULL) return;
    close(j->fd);
    dam_free(j->path);
    dam_free(j);
}

/* ------------------------------------------------------------------------------------------------
 * reading
 * ---------------------------------------------------------------------------------------------- */

/* Field access with an error message (first error wins) instead of exiting, so that a bad last
 * line can be told apart from a bad middle line by the caller. */
typedef struct {
    char err[256];
} pctx;

static void perr(pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(pctx *p, const char *fmt, ...) {
    if (p->err[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
}

static char *get_str(pctx *p, json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) { perr(p, "field \"%s\" is missing or not a string", key); return dam_strdup("", "journal string"); }
    return dam_strdup(json_string_value(v), "journal string");
}

static int get_int(pctx *p, json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX) {
        perr(p, "field \"%s\" is missing or not a 32-bit integer", key);
        return 0;
    }
    return (int)json_integer_value(v);
}

/* A number, null (NaN) or "inf" / "-inf". */
static double dec_double(pctx *p, json_t *v, const char *key) {
    if (json_is_number(v)) return json_number_value(v);
    if (json_is_null(v)) return NAN;
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "inf") == 0) return INFINITY;
        if (strcmp(json_string_value(v), "-inf") == 0) return -INFINITY;
    }
    perr(p, "field \"%s\" is not a number, null, \"inf\" or \"-inf\"", key);
    return NAN;
}

static double get_double(pctx *p, json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (v == NULL) { perr(p, "field \"%s\" is missing", key); return NAN; }
    return dec_double(p, v, key);
}

static float *get_floats(pctx *p, json_t *o, const char *key, size_t n) {
    float *out = dam_malloc(sizeof(float) * n, "journal floats");
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a) || json_array_size(a) != n) {
        perr(p, "field \"%s\" is missing or not an array of %zu numbers", key, n);
        for (size_t i = 0; i < n; i++) out[i] = NAN;
        return out;
    }
    for (size_t i = 0; i < n; i++) out[i] = (float)dec_double(p, json_array_get(a, i), key);
    return out;
}

static void parse_header(pctx *p, json_t *o, run_data *d) {
    int fmt = get_int(p, o, "format");
    if (!p->err[0] && fmt != JOURNAL_FORMAT) perr(p, "journal format %d is not supported (this dam writes %d)", fmt, JOURNAL_FORMAT);
    d->harness_version = get_str(p, o, "harness_version");
    d->git_revision = get_str(p, o, "git_revision");
    d->host = get_str(p, o, "host");
    d->device = get_str(p, o, "device");
    d->cuda_version = get_str(p, o, "cuda_version");
    d->driver_version = get_str(p, o, "driver_version");
    d->start_time = get_str(p, o, "start_time");
    d->end_time = dam_strdup("", "end time");
    d->config_json = get_str(p, o, "config_json");
    json_t *s = json_object_get(o, "seed");
    if (json_is_integer(s) && json_integer_value(s) >= 0) d->seed = (uint64_t)json_integer_value(s);
    else if (json_is_string(s) && sscanf(json_string_value(s), "%" SCNu64, &d->seed) == 1) {}
    else perr(p, "field \"seed\" is missing or not a non-negative integer");
    json_t *m = json_object_get(o, "model");
    if (!json_is_object(m)) { perr(p, "field \"model\" is missing or not an object"); m = json_object(); }
    else json_incref(m);
    model_info *mi = &d->model;
    mi->name = get_str(p, m, "name");
    mi->architecture = get_str(p, m, "architecture");
    mi->n_layers = get_int(p, m, "n_layers");
    mi->n_heads = get_int(p, m, "n_heads");
    mi->n_kv_heads = get_int(p, m, "n_kv_heads");
    mi->head_dim = get_int(p, m, "head_dim");
    mi->context_length = get_int(p, m, "context_length");
    mi->rope_theta = get_double(p, m, "rope_theta");
    mi->file_sha256 = get_str(p, m, "file_sha256");
    mi->quantisation = get_str(p, m, "quantisation");
    mi->format = get_str(p, m, "format");
    mi->d_model = get_int(p, m, "d_model");
    mi->vocab = get_int(p, m, "vocab");
    mi->sliding_window = get_int(p, m, "sliding_window");
    mi->rope_theta_swa = get_double(p, m, "rope_theta_swa");
    mi->rope_scaling = get_str(p, m, "rope_scaling");
    json_t *gl = json_object_get(m, "global_layers");
    size_t ng = json_is_array(gl) ? json_array_size(gl) : 0;
    mi->global_layers = dam_malloc(sizeof(int) * (ng ? ng : 1), "journal global layers");
    mi->n_global = (int)ng;
    if (!json_is_array(gl) || ng > 4096) perr(p, "field \"global_layers\" is missing or not an array of layer indices");
    for (size_t k = 0; k < ng && !p->err[0]; k++) {
        json_t *x = json_array_get(gl, k);
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 4095) perr(p, "global_layers[%zu] is not a layer index", k);
        else mi->global_layers[k] = (int)json_integer_value(x);
    }
    json_decref(m);
    json_t *ms = json_object_get(o, "methods");
    if (!json_is_array(ms)) { perr(p, "field \"methods\" is missing or not an array"); return; }
    for (size_t i = 0; i < json_array_size(ms) && !p->err[0]; i++) {
        json_t *mo = json_array_get(ms, i), *l = json_object_get(mo, "layers");
        if (!json_is_object(mo) || !json_is_string(json_object_get(mo, "name")) || !json_is_array(l)) {
            perr(p, "methods[%zu] is not {\"name\": string, \"layers\": [integers]}", i);
            return;
        }
        const char *name = json_string_value(json_object_get(mo, "name"));
        if (run_data_find_method(d, name)) { perr(p, "methods[%zu]: name \"%s\" appears twice", i, name); return; }
        size_t nl = json_array_size(l);
        int *layers = dam_malloc(sizeof(int) * nl + 1, "method layers");
        for (size_t k = 0; k < nl; k++) {
            json_t *v = json_array_get(l, k);
            if (!json_is_integer(v)) perr(p, "methods[%zu].layers[%zu] is not an integer", i, k);
            layers[k] = (int)json_integer_value(v);
        }
        run_data_add_method(d, name, (int)nl, layers);
        dam_free(layers);
        json_t *sha = json_object_get(mo, "patterns_sha256"); /* optional: DAM instances only */
        if (sha && (!json_is_string(sha) || json_string_length(sha) != 64)) {
            perr(p, "methods[%zu].patterns_sha256 is not 64 hex digits", i);
            return;
        }
        if (sha) memcpy(d->methods[d->n_methods - 1].patterns_sha256, json_string_value(sha), 65);
    }
}

static void parse_example(pctx *p, json_t *o, example_record *e) {
    e->task = get_str(p, o, "task");
    e->index = get_int(p, o, "index");
    e->target_len = get_int(p, o, "target_len");
    e->n_tokens = get_int(p, o, "n_tokens");
    e->n_truncated = json_object_get(o, "n_truncated") ? get_int(p, o, "n_truncated") : 0; /* absent before schema 1.1 */
    e->depth = get_double(p, o, "depth");
    e->sample = get_int(p, o, "sample");
    e->answer = get_str(p, o, "answer");
    char *h = get_str(p, o, "ids_sha256");
    if (strlen(h) != 64) perr(p, "field \"ids_sha256\" is not 64 hex digits");
    snprintf(e->ids_sha256, sizeof e->ids_sha256, "%s", h);
    dam_free(h);
}

static void parse_result(pctx *p, json_t *o, result_record *r) {
    r->method = get_str(p, o, "method");
    r->task = get_str(p, o, "task");
    r->index = get_int(p, o, "index");
    r->score = get_double(p, o, "score");
    r->prediction = get_str(p, o, "prediction");
    r->answer_nll = get_double(p, o, "answer_nll");
    r->logit_kl = get_double(p, o, "logit_kl");
    r->prefill_ms = get_double(p, o, "prefill_ms");
    r->mask_ms = get_double(p, o, "mask_ms");
    r->decode_ms = get_double(p, o, "decode_ms");
    r->n_generated = get_int(p, o, "n_generated");
    r->peak_bytes = get_double(p, o, "peak_bytes");
    r->kv_bytes = get_double(p, o, "kv_bytes");
    r->density = get_double(p, o, "density");
    r->n_layers = get_int(p, o, "n_layers");
    r->n_heads = get_int(p, o, "n_heads");
    if (r->n_layers < 0 || r->n_heads < 0 || (double)r->n_layers * r->n_heads > 1e8) {
        perr(p, "n_layers %d x n_heads %d is out of range", r->n_layers, r->n_heads);
        r->n_layers = r->n_heads = 0;
    }
    size_t lh = (size_t)r->n_layers * (size_t)r->n_heads;
    r->alignment = get_floats(p, o, "alignment", lh * ALIGN_N_METRICS);
    r->head_density = get_floats(p, o, "head_density", lh);
}

/* Loads the journal; *valid_end gets the byte offset just after the last line kept. */
static void journal_load(const char *path, run_data *d, long *valid_end) {
    run_data_init(d);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open the journal: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, bad_line = 0, end = 0;
    char bad_msg[300] = "";
    bool have_header = false;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        if (bad_line) /* a line follows an unparsable one: the damage is not a torn tail */
            dam_die(DAM_EXIT_INPUT, "%s:%ld: corrupt journal line (%s); only the last line may be incomplete", path, bad_line, bad_msg);
        bool complete = len > 0 && line[len - 1] == '\n';
        json_error_t jerr;
        json_t *o = complete ? json_loadb(line, (size_t)len, 0, &jerr) : NULL;
        if (o == NULL || !json_is_object(o)) {
            bad_line = lineno;
            snprintf(bad_msg, sizeof bad_msg, "%s", !complete ? "no newline" : o ? "not a JSON object" : jerr.text);
            json_decref(o);
            continue;
        }
        pctx p = {{0}};
        json_t *type = json_object_get(o, "type");
        const char *t = json_is_string(type) ? json_string_value(type) : "";
        if (lineno == 1 && strcmp(t, "header") != 0)
            dam_die(DAM_EXIT_INPUT, "%s:1: the first line is not a journal header (\"type\": \"header\")", path);
        if (strcmp(t, "header") == 0) {
            if (have_header) dam_die(DAM_EXIT_INPUT, "%s:%ld: a second journal header", path, lineno);
            parse_header(&p, o, d);
            have_header = true;
        } else if (strcmp(t, "example") == 0) {
            example_record e = {0};
            parse_example(&p, o, &e);
            const example_record *old = run_data_find_example(d, e.task, e.index);
            if (!p.err[0] && old && strcmp(old->ids_sha256, e.ids_sha256) != 0)
                dam_warn("%s:%ld: example %s/%d was recorded before with different token ids", path, lineno, e.task, e.index);
            if (!p.err[0]) run_data_take_example(d, &e);
            example_record_free(&e);
        } else if (strcmp(t, "result") == 0) {
            result_record r = {0};
            parse_result(&p, o, &r);
            if (!p.err[0]) run_data_take_result(d, &r);
            result_record_free(&r);
        } else {
            perr(&p, "unknown record type \"%s\"", t);
        }
        json_decref(o);
        if (p.err[0]) dam_die(DAM_EXIT_INPUT, "%s:%ld: %s", path, lineno, p.err);
        end = ftell(fp);
    }
    bool read_error = ferror(fp);
    free(line);
    fclose(fp);
    if (read_error) dam_die(DAM_EXIT_INPUT, "%s: read error", path);
    if (bad_line && bad_line > 1)
        dam_warn("%s:%ld: dropped an incomplete last line (%s): the record in flight when the run stopped", path, bad_line, bad_msg);
    if (!have_header)
        dam_die(DAM_EXIT_INPUT, "%s: %s: the run stopped before its header was written; delete the journal and start again",
                path, lineno == 0 ? "empty journal" : "no complete header line");
    char vbuf[512];
    const char *bad = run_data_validate(d, vbuf, sizeof vbuf);
    if (bad) dam_die(DAM_EXIT_INPUT, "%s: inconsistent journal: %s", path, bad);
    run_data_sort(d);
    if (valid_end) *valid_end = end;
}

void journal_read(const char *path, run_data *out) { journal_load(path, out, NULL); }

bool journal_has_result(const run_data *loaded, const char *method, const char *task, int index) {
    return run_data_find_result(loaded, method, task, index) != NULL;
}

bool journal_has_example(const run_data *loaded, const char *task, int index) {
    return run_data_find_example(loaded, task, index) != NULL;
}

/* ------------------------------------------------------------------------------------------------
 * header comparison
 * ---------------------------------------------------------------------------------------------- */

/* Finds the first difference between JSON values a and b; writes its path ("methods[2].tau")
 * into path (prefix already there) and returns true if they differ. */
static bool json_first_diff(json_t *a, json_t *b, char *path, size_t cap) {
    size_t n = strlen(path);
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *va;
        json_object_foreach(a, key, va) {
            snprintf(path + n, cap - n, "%s%s", n ? "." : "", key);
            json_t *vb = json_object_get(b, key);
            if (vb == NULL || json_first_diff(va, vb, path, cap)) return true;
        }
        json_t *vb;
        json_object_foreach(b, key, vb) {
            if (json_object_get(a, key) == NULL) { snprintf(path + n, cap - n, "%s%s", n ? "." : "", key); return true; }
        }
        path[n] = 0;
        return false;
    }
    if (json_is_array(a) && json_is_array(b)) {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            snprintf(path + n, cap - n, "[%zu]", i);
            if (json_first_diff(json_array_get(a, i), json_array_get(b, i), path, cap)) return true;
        }
        if (na != nb) { snprintf(path + n, cap - n, "[%zu]", na < nb ? na : nb); return true; }
        path[n] = 0;
        return false;
    }
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) != json_number_value(b);
    return !json_equal(a, b);
}

/* A short JSON text of v (or "(absent)"), truncated to fit out. */
static void json_short(json_t *v, char *out, size_t cap) {
    if (v == NULL) { snprintf(out, cap, "(absent)"); return; }
    if (json_is_real(v)) { /* the shortest text that reads back as the same double */
        double x = json_real_value(v);
        for (int p = 1; p <= 17; p++) {
            snprintf(out, cap, "%.*g", p, x);
            if (strtod(out, NULL) == x) break;
        }
        return;
    }
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, cap, "%s%s", t ? t : "?", t && strlen(t) >= cap ? "..." : "");
    free(t);
}

/* The value at a path produced by json_first_diff, or NULL. */
static json_t *json_at(json_t *root, const char *path) {
    json_t *v = root;
    char key[256];
    for (const char *p = path; *p && v;) {
        if (*p == '.') p++;
        if (*p == '[') {
            size_t i = strtoul(p + 1, (char **)&p, 10);
            p++; /* ']' */
            v = json_array_get(v, i);
        } else {
            size_t k = strcspn(p, ".[");
            snprintf(key, sizeof key, "%.*s", (int)k, p);
            v = json_object_get(v, key);
            p += k;
        }
    }
    return v;
}

static bool same(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

void journal_check_header(const char *path, const run_data *jr, const run_data *cur) {
    json_error_t e1, e2;
    json_t *a = json_loads(jr->config_json ? jr->config_json : "", JSON_DECODE_ANY, &e1);
    json_t *b = json_loads(cur->config_json ? cur->config_json : "", JSON_DECODE_ANY, &e2);
    if (a && b) {
        char p[512] = "";
        if (json_first_diff(a, b, p, sizeof p)) {
            char va[96], vb[96];
            json_short(json_at(a, p), va, sizeof va);
            json_short(json_at(b, p), vb, sizeof vb);
            json_decref(a); json_decref(b);
            dam_die(DAM_EXIT_INPUT, "%s: --resume: the config differs from the journal's at %s (journal: %s, now: %s)",
                    path, *p ? p : "(root)", va, vb);
        }
    } else if (!same(jr->config_json, cur->config_json)) {
        dam_die(DAM_EXIT_INPUT, "%s: --resume: the config text differs from the journal's", path);
    }
    json_decref(a);
    json_decref(b);
    if (jr->seed != cur->seed)
        dam_die(DAM_EXIT_INPUT, "%s: --resume: seed differs (journal: %" PRIu64 ", now: %" PRIu64 ")", path, jr->seed, cur->seed);
    const model_info *x = &jr->model, *y = &cur->model;
#define CMP_S(f) if (!same(x->f, y->f)) dam_die(DAM_EXIT_INPUT, "%s: --resume: model " #f " differs (journal: %s, now: %s)", path, x->f ? x->f : "", y->f ? y->f : "")
#define CMP_I(f) if (x->f != y->f) dam_die(DAM_EXIT_INPUT, "%s: --resume: model " #f " differs (journal: %d, now: %d)", path, x->f, y->f)
    CMP_S(file_sha256); CMP_S(name); CMP_S(architecture); CMP_S(quantisation); CMP_S(format); CMP_S(rope_scaling);
    CMP_I(n_layers); CMP_I(n_heads); CMP_I(n_kv_heads); CMP_I(head_dim); CMP_I(context_length);
    CMP_I(d_model); CMP_I(vocab); CMP_I(sliding_window); CMP_I(n_global);
#undef CMP_S
#undef CMP_I
    if (!(x->rope_theta == y->rope_theta || (isnan(x->rope_theta) && isnan(y->rope_theta))))
        dam_die(DAM_EXIT_INPUT, "%s: --resume: model rope_theta differs (journal: %g, now: %g)", path, x->rope_theta, y->rope_theta);
    for (int i = 0; i < jr->n_methods || i < cur->n_methods; i++) {
        const char *mj = i < jr->n_methods ? jr->methods[i].name : "(none)";
        const char *mc = i < cur->n_methods ? cur->methods[i].name : "(none)";
        if (strcmp(mj, mc) != 0) dam_die(DAM_EXIT_INPUT, "%s: --resume: method %d differs (journal: %s, now: %s)", path, i, mj, mc);
        const method_info *p = &jr->methods[i], *q = &cur->methods[i];
        if (p->n_layers != q->n_layers || (p->n_layers && memcmp(p->layers, q->layers, sizeof(int) * (size_t)p->n_layers) != 0))
            dam_die(DAM_EXIT_INPUT, "%s: --resume: the layers method %s applies to differ", path, mj);
        if (p->patterns_sha256[0] && q->patterns_sha256[0] && strcmp(p->patterns_sha256, q->patterns_sha256) != 0)
            dam_die(DAM_EXIT_INPUT, "%s: --resume: the pattern file of method %s changed since the run started (sha256 "
                    "journal: %.12s..., now: %.12s...); restore it or start the run again", path, mj, p->patterns_sha256,
                    q->patterns_sha256);
    }
    if (!same(jr->git_revision, cur->git_revision))
        dam_warn("%s: resuming a run started at git revision %s with %s", path, jr->git_revision, cur->git_revision);
    if (!same(jr->harness_version, cur->harness_version))
        dam_warn("%s: resuming a run started with dam %s with dam %s", path, jr->harness_version, cur->harness_version);
    if (!same(jr->device, cur->device) || !same(jr->host, cur->host))
        dam_warn("%s: resuming a run started on %s (%s) on %s (%s): timings will mix", path, jr->host, jr->device, cur->host, cur->device);
}

journal *journal_resume(const char *path, const run_data *current, run_data *loaded) {
    journal *j = journal_open_fd(path, 0, false); /* locked before anything is read or cut */
    long end = 0;
    journal_load(path, loaded, &end);
    journal_check_header(path, loaded, current);
    struct stat st;
    if (fstat(j->fd, &st) == 0 && st.st_size > end) {
        /* drop the torn tail so that the next line starts on a line of its own */
        if (ftruncate(j->fd, end) != 0) dam_die(DAM_EXIT_RUNTIME, "%s: cannot remove the torn last line: %s", path, strerror(errno));
    }
    if (fsync(j->fd) != 0) dam_die(DAM_EXIT_RUNTIME, "%s: cannot fsync the journal: %s", path, strerror(errno));
    return j;
}
