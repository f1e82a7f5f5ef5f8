/* cfg.c — see cfg.h. */
#include "harness/cfg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

void cfg_fail(const cfg_obj *c, const char *key, const char *fmt, ...) {
    char msg[512], where[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key) snprintf(where, sizeof where, "%s%s%s", c->path, *c->path ? "." : "", key);
    else snprintf(where, sizeof where, "%s", c->path);
    dam_die(DAM_EXIT_INPUT, "%s: %s%s%s", c->src, where, *where ? ": " : "", msg);
}

static cfg_key_trace_fn g_key_trace;

void cfg_set_key_trace(cfg_key_trace_fn fn) { g_key_trace = fn; }

void cfg_check_keys(const cfg_obj *c, const char *const *allowed) {
    if (g_key_trace) g_key_trace(c, allowed);
    const char *key;
    json_t *val;
    json_object_foreach(c->obj, key, val) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, key) == 0;
        if (!ok) cfg_fail(c, key, "unknown key");
    }
}

bool cfg_has(const cfg_obj *c, const char *key) { return json_object_get(c->obj, key) != NULL; }

long cfg_int(const cfg_obj *c, const char *key, long dflt, long lo, long hi, bool required) {
    json_t *v = json_object_get(c->obj, key);
    long r = dflt;
    if (v == NULL) {
        if (required) cfg_fail(c, key, "required key is missing");
    } else if (!json_is_integer(v)) {
        cfg_fail(c, key, "must be an integer");
    } else {
        json_int_t i = json_integer_value(v);
        if (i < lo || i > hi) cfg_fail(c, key, "%lld is out of range [%ld, %ld]", (long long)i, lo, hi);
        r = (long)i;
    }
    json_object_set_new(c->res, key, json_integer(r));
    return r;
}

double cfg_num(const cfg_obj *c, const char *key, double dflt, double lo, double hi) {
    json_t *v = json_object_get(c->obj, key);
    double r = dflt;
    if (v != NULL) {
        if (!json_is_number(v)) cfg_fail(c, key, "must be a number");
        r = json_number_value(v);
        if (!(r >= lo && r <= hi)) cfg_fail(c, key, "%g is out of range [%g, %g]", r, lo, hi);
    }
    json_object_set_new(c->res, key, json_real(r));
    return r;
}

bool cfg_bool(const cfg_obj *c, const char *key, bool dflt) {
    json_t *v = json_object_get(c->obj, key);
    bool r = dflt;
    if (v != NULL) {
        if (!json_is_boolean(v)) cfg_fail(c, key, "must be true or false");
        r = json_is_true(v);
    }
    json_object_set_new(c->res, key, json_boolean(r));
    return r;
}

char *cfg_str(const cfg_obj *c, const char *key, const char *dflt, bool required) {
    json_t *v = json_object_get(c->obj, key);
    const char *r = dflt;
    if (v == NULL) {
        if (required) cfg_fail(c, key, "required key is missing");
    } else {
        if (!json_is_string(v)) cfg_fail(c, key, "must be a string");
        r = json_string_value(v);
        if (*r == 0) cfg_fail(c, key, "must not be empty");
    }
    json_object_set_new(c->res, key, json_string(r));
    return dam_strdup(r, "config string");
}

/* One number of a parameter: type, range and integrality; `key` names the element ("tau[3][1]"). */
static double param_value(const cfg_obj *c, const char *key, json_t *e, double lo, double hi, bool integer) {
    if (!json_is_number(e)) cfg_fail(c, key, "must be a number");
    double x = json_number_value(e);
    if (!(x >= lo && x <= hi)) cfg_fail(c, key, "%g is out of range [%g, %g]", x, lo, hi);
    if (integer && x != floor(x)) cfg_fail(c, key, "%g must be an integer", x);
    return x;
}

param cfg_param(const cfg_obj *c, const char *key, double dflt, double lo, double hi, bool integer) {
    json_t *v = json_object_get(c->obj, key);
    if (v == NULL) {
        json_object_set_new(c->res, key, integer ? json_integer((json_int_t)dflt) : json_real(dflt));
        return param_scalar(dflt);
    }
    char where[200];
    if (!json_is_array(v)) {
        param p = param_scalar(param_value(c, key, v, lo, hi, integer));
        json_object_set(c->res, key, v);
        return p;
    }
    const int n_layers = (int)json_array_size(v);
    if (n_layers == 0) cfg_fail(c, key, "a per-layer list must not be empty");
    json_t *first = json_array_get(v, 0);
    const int n_heads = json_is_array(first) ? (int)json_array_size(first) : 0;
    snprintf(where, sizeof where, "%s[0]", key);
    if (json_is_array(first) && n_heads == 0) cfg_fail(c, where, "a per-head list must not be empty");
    param p = {n_layers, n_heads, dam_malloc(sizeof(double) * (size_t)n_layers * (n_heads ? n_heads : 1), "parameter")};
    for (int l = 0; l < n_layers; l++) {
        json_t *row = json_array_get(v, l);
        snprintf(where, sizeof where, "%s[%d]", key, l);
        if (n_heads == 0) {
            p.v[l] = param_value(c, where, row, lo, hi, integer);
            continue;
        }
        if (!json_is_array(row) || (int)json_array_size(row) != n_heads)
            cfg_fail(c, where, "must be a list of %d per-head values like row 0", n_heads);
        for (int h = 0; h < n_heads; h++) {
            snprintf(where, sizeof where, "%s[%d][%d]", key, l, h);
            p.v[(size_t)l * n_heads + h] = param_value(c, where, json_array_get(row, h), lo, hi, integer);
        }
    }
    json_object_set(c->res, key, v);
    return p;
}

cfg_obj cfg_child(const cfg_obj *c, const char *key, char *path_buf, size_t path_size) {
    json_t *v = json_object_get(c->obj, key);
    if (!json_is_object(v)) cfg_fail(c, key, "must be an object");
    snprintf(path_buf, path_size, "%s%s%s", c->path, *c->path ? "." : "", key);
    json_t *r = json_object();
    json_object_set_new(c->res, key, r);
    cfg_obj child = {c->src, path_buf, v, r};
    return child;
}

int cfg_list(const cfg_obj *c, const char *key, bool real, double lo, double hi, const char *dflt_json, void **out) {
    json_t *v = json_object_get(c->obj, key), *owned = NULL;
    if (v == NULL) {
        if (dflt_json == NULL) cfg_fail(c, key, "required key is missing");
        v = owned = json_loads(dflt_json, 0, NULL);
    }
    if (!json_is_array(v) || json_array_size(v) == 0) cfg_fail(c, key, "must be a non-empty array");
    int n = (int)json_array_size(v);
    void *arr = dam_malloc((real ? sizeof(double) : sizeof(int)) * n, "config list");
    json_t *copy = json_array();
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        char ki[160];
        snprintf(ki, sizeof ki, "%s[%d]", key, i);
        if (real ? !json_is_number(e) : !json_is_integer(e)) cfg_fail(c, ki, "must be %s", real ? "a number" : "an integer");
        double d = json_number_value(e);
        if (!(d >= lo && d <= hi)) cfg_fail(c, ki, "%.10g is out of range [%.10g, %.10g]", d, lo, hi);
        for (int j = 0; j < i; j++)
            if ((real ? ((double *)arr)[j] : ((int *)arr)[j]) == d) cfg_fail(c, ki, "%.10g appears twice", d);
        if (real) ((double *)arr)[i] = d, json_array_append_new(copy, json_real(d));
        else ((int *)arr)[i] = (int)d, json_array_append_new(copy, json_integer((json_int_t)d));
    }
    json_object_set_new(c->res, key, copy);
    json_decref(owned);
    *out = arr;
    return n;
}

char *cfg_choice(const cfg_obj *c, const char *key, const char *dflt, const char *const *choices) {
    char *v = cfg_str(c, key, dflt, false);
    for (int i = 0; choices[i]; i++)
        if (strcmp(v, choices[i]) == 0) return v;
    char list[256] = "";
    for (int i = 0; choices[i]; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", choices[i]);
    cfg_fail(c, key, "\"%s\" is not one of: %s", v, list);
}

void cfg_refuse(const cfg_obj *c, const char *key, const char *why) {
    if (cfg_has(c, key)) cfg_fail(c, key, "%s", why);
}

int cfg_str_list(const cfg_obj *c, const char *key, const char *dflt_json, char ***out) {
    json_t *v = json_object_get(c->obj, key), *owned = NULL;
    if (v == NULL) {
        if (dflt_json == NULL) cfg_fail(c, key, "required key is missing");
        v = owned = json_loads(dflt_json, 0, NULL);
    }
    if (!json_is_array(v) || json_array_size(v) == 0) cfg_fail(c, key, "must be a non-empty array of strings");
    int n = (int)json_array_size(v);
    char **arr = dam_calloc(n, sizeof(char *), "config list");
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        char ki[160];
        snprintf(ki, sizeof ki, "%s[%d]", key, i);
        if (!json_is_string(e) || json_string_length(e) == 0) cfg_fail(c, ki, "must be a non-empty string");
        for (int j = 0; j < i; j++)
            if (strcmp(arr[j], json_string_value(e)) == 0) cfg_fail(c, ki, "\"%s\" appears twice", arr[j]);
        arr[i] = dam_strdup(json_string_value(e), "config string");
    }
    json_object_set(c->res, key, v);
    json_decref(owned);
    *out = arr;
    return n;
}
