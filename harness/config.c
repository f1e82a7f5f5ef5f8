/* config.c — see config.h. Parsing walks the JSON once, validating each key against its type
 * and range, and builds the resolved config (defaults filled) alongside. */
#include "harness/config.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/commands.h"

typedef struct {
    const char *src;
} cfg_ctx;

_Noreturn static void fail(const cfg_ctx *x, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(const cfg_ctx *x, const char *path, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dam_die(DAM_EXIT_INPUT, "%s: %s%s%s", x->src, path, *path ? ": " : "", msg);
}

/* "prefix.key" or "key" into buf. */
static const char *join(char *buf, size_t n, const char *prefix, const char *key) {
    snprintf(buf, n, "%s%s%s", prefix, *prefix ? "." : "", key);
    return buf;
}

static void check_keys(const cfg_ctx *x, json_t *obj, const char *path, const char *const *allowed) {
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, key) == 0;
        if (!ok) {
            char p[256];
            fail(x, join(p, sizeof p, path, key), "unknown key");
        }
    }
}

/* Integer key in [lo, hi]; absent -> dflt (or an error if required). Records the value in res. */
static long get_int(const cfg_ctx *x, json_t *obj, json_t *res, const char *path, const char *key, long dflt, long lo,
                    long hi, bool required) {
    char p[256];
    join(p, sizeof p, path, key);
    json_t *v = json_object_get(obj, key);
    long r = dflt;
    if (v == NULL) {
        if (required) fail(x, p, "required key is missing");
    } else if (!json_is_integer(v)) {
        fail(x, p, "must be an integer");
    } else {
        json_int_t i = json_integer_value(v);
        if (i < lo || i > hi) fail(x, p, "%lld is out of range [%ld, %ld]", (long long)i, lo, hi);
        r = (long)i;
    }
    json_object_set_new(res, key, json_integer(r));
    return r;
}

static double get_num(const cfg_ctx *x, json_t *obj, json_t *res, const char *path, const char *key, double dflt,
                      double lo, double hi) {
    char p[256];
    join(p, sizeof p, path, key);
    json_t *v = json_object_get(obj, key);
    double r = dflt;
    if (v != NULL) {
        if (!json_is_number(v)) fail(x, p, "must be a number");
        r = json_number_value(v);
        if (!(r >= lo && r <= hi)) fail(x, p, "%g is out of range [%g, %g]", r, lo, hi);
    }
    json_object_set_new(res, key, json_real(r));
    return r;
}

static bool get_bool(const cfg_ctx *x, json_t *obj, json_t *res, const char *path, const char *key, bool dflt) {
    char p[256];
    join(p, sizeof p, path, key);
    json_t *v = json_object_get(obj, key);
    bool r = dflt;
    if (v != NULL) {
        if (!json_is_boolean(v)) fail(x, p, "must be true or false");
        r = json_is_true(v);
    }
    json_object_set_new(res, key, json_boolean(r));
    return r;
}

static char *get_str(const cfg_ctx *x, json_t *obj, json_t *res, const char *path, const char *key, const char *dflt,
                     bool required) {
    char p[256];
    join(p, sizeof p, path, key);
    json_t *v = json_object_get(obj, key);
    const char *r = dflt;
    if (v == NULL) {
        if (required) fail(x, p, "required key is missing");
    } else {
        if (!json_is_string(v)) fail(x, p, "must be a string");
        r = json_string_value(v);
        if (*r == 0) fail(x, p, "must not be empty");
    }
    json_object_set_new(res, key, json_string(r));
    return dam_strdup(r, "config string");
}

/* A non-empty array of integers in [lo, hi] (or of numbers when `real`) into *out (dam_malloc'd). */
static int get_list(const cfg_ctx *x, json_t *obj, json_t *res, const char *path, const char *key, bool real, double lo,
                    double hi, const char *dflt_json, void **out) {
    char p[256];
    join(p, sizeof p, path, key);
    json_t *v = json_object_get(obj, key), *owned = NULL;
    if (v == NULL) {
        if (dflt_json == NULL) fail(x, p, "required key is missing");
        v = owned = json_loads(dflt_json, 0, NULL);
    }
    if (!json_is_array(v) || json_array_size(v) == 0) fail(x, p, "must be a non-empty array");
    int n = (int)json_array_size(v);
    void *arr = dam_malloc((real ? sizeof(double) : sizeof(int)) * n, "config list");
    json_t *copy = json_array();
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        char pi[300];
        snprintf(pi, sizeof pi, "%s[%d]", p, i);
        if (real ? !json_is_number(e) : !json_is_integer(e)) fail(x, pi, "must be %s", real ? "a number" : "an integer");
        double d = json_number_value(e);
        if (!(d >= lo && d <= hi)) fail(x, pi, "%g is out of range [%g, %g]", d, lo, hi);
        if (real) ((double *)arr)[i] = d, json_array_append_new(copy, json_real(d));
        else ((int *)arr)[i] = (int)d, json_array_append_new(copy, json_integer((json_int_t)d));
    }
    json_object_set_new(res, key, copy);
    json_decref(owned);
    *out = arr;
    return n;
}

static void parse_workload(const cfg_ctx *x, json_t *w, json_t *res, const char *path, workload_cfg *out) {
    static const char *const keys[] = {"task", "lengths", "depths", "samples", "max_new_tokens", "haystack_dir", NULL};
    if (!json_is_object(w)) fail(x, path, "must be an object");
    check_keys(x, w, path, keys);
    memset(out, 0, sizeof *out);
    out->task = get_str(x, w, res, path, "task", NULL, true);
    bool passkey = strcmp(out->task, "passkey") == 0, niah = strcmp(out->task, "niah") == 0;
    if (!passkey && !niah) {
        char p[256];
        fail(x, join(p, sizeof p, path, "task"), "\"%s\" is not a supported task (passkey, niah)", out->task);
    }
    out->n_lengths = get_list(x, w, res, path, "lengths", false, 64, 1 << 24, NULL, (void **)&out->lengths);
    out->n_depths = get_list(x, w, res, path, "depths", true, 0, 1, "[0.5]", (void **)&out->depths);
    out->samples = (int)get_int(x, w, res, path, "samples", 1, 1, 100000, false);
    out->max_new_tokens = (int)get_int(x, w, res, path, "max_new_tokens", passkey ? 10 : 24, 1, 4096, false);
    if (niah) out->haystack_dir = get_str(x, w, res, path, "haystack_dir", "data/pg_essays", false);
    else if (json_object_get(w, "haystack_dir")) {
        char p[256];
        fail(x, join(p, sizeof p, path, "haystack_dir"), "only applies to task niah");
    }
}

static void parse_method(const cfg_ctx *x, json_t *m, json_t *res, const char *path, method *out) {
    static const char *const k_full[] = {"method", "name", NULL};
    static const char *const k_stream[] = {"method", "name", "sinks", "window", "window_frac", NULL};
    static const char *const k_dam[] = {"method", "name", "patterns", "pcl", "lambda", "epsilon", "tau", "mu",
                                        "min_pattern_cells", "corpus", "prefix", "sequences", NULL};
    if (!json_is_object(m)) fail(x, path, "must be an object");
    memset(out, 0, sizeof *out);
    char *kind = get_str(x, m, res, path, "method", NULL, true);
    if (!method_kind_parse(kind, &out->kind)) {
        char p[256];
        fail(x, join(p, sizeof p, path, "method"), "\"%s\" is not a supported method (full, streaming, dam)", kind);
    }
    dam_free(kind);
    out->name = get_str(x, m, res, path, "name", method_kind_name(out->kind), false);
    if (out->kind == METHOD_FULL) {
        check_keys(x, m, path, k_full);
    } else if (out->kind == METHOD_STREAMING) {
        check_keys(x, m, path, k_stream);
        out->streaming.sinks = (int)get_int(x, m, res, path, "sinks", 4, 0, 1 << 24, false);
        bool has_window = json_object_get(m, "window") != NULL, has_frac = json_object_get(m, "window_frac") != NULL;
        if (has_window && has_frac) fail(x, path, "give either window or window_frac, not both");
        if (has_window) out->streaming.window = (int)get_int(x, m, res, path, "window", 0, 1, 1 << 24, true);
        else out->streaming.window_frac = get_num(x, m, res, path, "window_frac", 0.5, 1e-9, 1.0);
    } else {
        check_keys(x, m, path, k_dam);
        dam_method *d = &out->dam;
        dam_params_default(&d->par);
        d->patterns_path = get_str(x, m, res, path, "patterns", "patterns/smollm2-135m.h5", false);
        d->par.L = (int)get_int(x, m, res, path, "pcl", d->par.L, 1, 65536, false);
        d->par.lambda = get_num(x, m, res, path, "lambda", d->par.lambda, -5, 5);
        d->par.eps = get_num(x, m, res, path, "epsilon", d->par.eps, 1e-300, 0.999999);
        d->par.tau = get_num(x, m, res, path, "tau", d->par.tau, 0, 1e30);
        d->par.mu = get_num(x, m, res, path, "mu", d->par.mu, 0, 1);
        d->par.min_pattern_cells = (int)get_int(x, m, res, path, "min_pattern_cells", 0, 0, 65536, false);
        d->corpus = get_str(x, m, res, path, "corpus", "data/jargon.txt.gz", false);
        d->prefix = get_str(x, m, res, path, "prefix", "none", false);
        if (strcmp(d->prefix, "none") != 0 && strcmp(d->prefix, "chat") != 0) {
            char p[256];
            fail(x, join(p, sizeof p, path, "prefix"), "\"%s\" must be \"none\" or \"chat\"", d->prefix);
        }
        d->sequences = (int)get_int(x, m, res, path, "sequences", 16, 1, 100000, false);
        const char *why = dam_params_check(&d->par);
        if (why) fail(x, path, "%s", why);
    }
}

void config_parse(const char *text, const char *source, run_config *c) {
    static const char *const keys[] = {"model", "seed", "output", "device", "threads", "prefill_chunk",
                                       "alignment", "workloads", "methods", NULL};
    cfg_ctx x = {source};
    json_error_t err;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) dam_die(DAM_EXIT_INPUT, "%s:%d:%d: malformed JSON: %s", source, err.line, err.column, err.text);
    if (!json_is_object(root)) fail(&x, "", "the config must be a JSON object");
    check_keys(&x, root, "", keys);
    memset(c, 0, sizeof *c);
    c->source = dam_strdup(source, "config source");
    json_t *res = json_object();
    c->model = get_str(&x, root, res, "", "model", "smollm2-135m", false);
    c->seed = (uint64_t)get_int(&x, root, res, "", "seed", 1234, 0, 0x7fffffffL, false);
    c->output = get_str(&x, root, res, "", "output", "results/default.h5", false);
    c->device = get_str(&x, root, res, "", "device", "cpu", false);
    if (strcmp(c->device, "cpu") != 0)
        fail(&x, "device", "\"%s\" is not available in this build (cpu; cuda needs `make CUDA=1`)", c->device);
    c->threads = (int)get_int(&x, root, res, "", "threads", 0, 0, 4096, false);
    c->prefill_chunk = (int)get_int(&x, root, res, "", "prefill_chunk", 512, 16, 1 << 20, false);
    c->alignment = get_bool(&x, root, res, "", "alignment", true);

    json_t *w = json_object_get(root, "workloads");
    if (!json_is_array(w) || json_array_size(w) == 0) fail(&x, "workloads", "must be a non-empty array");
    c->n_workloads = (int)json_array_size(w);
    c->workloads = dam_calloc(c->n_workloads, sizeof(workload_cfg), "workloads");
    json_t *wres = json_array();
    for (int i = 0; i < c->n_workloads; i++) {
        char p[64];
        snprintf(p, sizeof p, "workloads[%d]", i);
        json_t *r = json_object();
        parse_workload(&x, json_array_get(w, i), r, p, &c->workloads[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(c->workloads[j].task, c->workloads[i].task) == 0) fail(&x, p, "task \"%s\" appears twice", c->workloads[i].task);
        json_array_append_new(wres, r);
    }
    json_object_set_new(res, "workloads", wres);

    json_t *m = json_object_get(root, "methods");
    if (!json_is_array(m) || json_array_size(m) == 0) fail(&x, "methods", "must be a non-empty array");
    c->n_methods = (int)json_array_size(m);
    c->methods = dam_calloc(c->n_methods, sizeof(method), "methods");
    json_t *mres = json_array();
    for (int i = 0; i < c->n_methods; i++) {
        char p[64];
        snprintf(p, sizeof p, "methods[%d]", i);
        json_t *r = json_object();
        parse_method(&x, json_array_get(m, i), r, p, &c->methods[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(c->methods[j].name, c->methods[i].name) == 0)
                fail(&x, p, "name \"%s\" is used twice (give each instance a unique name)", c->methods[i].name);
        json_array_append_new(mres, r);
    }
    json_object_set_new(res, "methods", mres);
    /* the full-attention reference runs first so later methods can be compared to it */
    for (int i = 1; i < c->n_methods; i++)
        if (c->methods[i].kind == METHOD_FULL && c->methods[0].kind != METHOD_FULL) {
            method t = c->methods[0];
            c->methods[0] = c->methods[i];
            c->methods[i] = t;
        }
    char *dump = json_dumps(res, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    c->resolved_json = dam_strdup(dump, "resolved config");
    free(dump);
    json_decref(res);
    json_decref(root);
}

void config_load(const char *path, run_config *c) {
    if (path == NULL) {
        config_parse(DAM_DEFAULT_CONFIG, "<embedded default>", c);
        return;
    }
    char *text = read_text_file(path, NULL);
    config_parse(text, path, c);
    dam_free(text);
}

void config_free(run_config *c) {
    for (int i = 0; i < c->n_workloads; i++) {
        workload_cfg *w = &c->workloads[i];
        dam_free(w->task); dam_free(w->lengths); dam_free(w->depths); dam_free(w->haystack_dir);
    }
    dam_free(c->workloads);
    for (int i = 0; i < c->n_methods; i++) method_free(&c->methods[i]);
    dam_free(c->methods);
    dam_free(c->source); dam_free(c->resolved_json); dam_free(c->model); dam_free(c->output); dam_free(c->device);
    memset(c, 0, sizeof *c);
}
