/* config_include.c — see config_include.h. */
#include "harness/config_include.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/cfg.h"
#include "harness/method.h"

const char *const CONFIG_COMPOSE_KEYS[] = {"include", "defaults", NULL};

enum { INCLUDE_MAX_DEPTH = 8 };

/* The files being included, outermost first: for cycle detection (by real path) and messages. */
typedef struct {
    int n;
    const char *name[INCLUDE_MAX_DEPTH + 1]; /* as named (the top-level source first) */
    char *real[INCLUDE_MAX_DEPTH + 1];       /* realpath, or NULL (the embedded default) */
} chain;

/* "a.json -> b.json -> c.json" of the chain plus `last` into buf. */
static const char *chain_text(const chain *ch, const char *last, char *buf, size_t size) {
    buf[0] = 0;
    for (int i = 0; i < ch->n; i++) snprintf(buf + strlen(buf), size - strlen(buf), "%s -> ", ch->name[i]);
    snprintf(buf + strlen(buf), size - strlen(buf), "%s", last);
    return buf;
}

void config_merge(json_t *dst, json_t *src) {
    const char *key;
    json_t *val;
    json_object_foreach(src, key, val) {
        if (json_is_null(val)) {
            json_object_del(dst, key);
        } else if (json_is_object(val)) {
            json_t *d = json_object_get(dst, key);
            if (!json_is_object(d)) {
                d = json_object();
                json_object_set_new(dst, key, d);
            }
            config_merge(d, val);
        } else {
            json_object_set_new(dst, key, json_deep_copy(val));
        }
    }
}

/* Reads the included file `path` (named at key `where` of `source`) as a JSON object. */
static json_t *load_included(const char *path, const char *source, const char *where) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: %s: %s: cannot open: %s", source, where, path, strerror(errno));
    fclose(fp);
    json_error_t err;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (doc == NULL)
        dam_die(DAM_EXIT_INPUT, "%s:%d:%d: malformed JSON: %s (included by %s, %s)", path, err.line, err.column, err.text,
                source, where);
    if (!json_is_object(doc))
        dam_die(DAM_EXIT_INPUT, "%s: %s: %s: an included config must be a JSON object", source, where, path);
    return doc;
}

/* doc (an object, from ch's last file) with its includes merged in; a new reference. */
static json_t *resolve(json_t *doc, chain *ch) {
    const char *source = ch->name[ch->n - 1];
    json_t *inc = json_object_get(doc, "include"), *out = json_object();
    if (inc != NULL && !json_is_null(inc)) {
        bool list = json_is_array(inc);
        size_t n = list ? json_array_size(inc) : 1;
        if (!(json_is_string(inc) || (list && n > 0)))
            dam_die(DAM_EXIT_INPUT, "%s: include: must be a file name or a non-empty list of file names", source);
        for (size_t i = 0; i < n; i++) {
            json_t *e = list ? json_array_get(inc, i) : inc;
            char where[64], text[4096];
            if (list) snprintf(where, sizeof where, "include[%zu]", i);
            else snprintf(where, sizeof where, "include");
            if (!json_is_string(e) || json_string_length(e) == 0)
                dam_die(DAM_EXIT_INPUT, "%s: %s: must be a non-empty file name (string)", source, where);
            const char *path = json_string_value(e);
            if (ch->n > INCLUDE_MAX_DEPTH)
                dam_die(DAM_EXIT_INPUT, "%s: %s: %s: includes are nested more than %d deep (%s)", source, where, path,
                        INCLUDE_MAX_DEPTH, chain_text(ch, path, text, sizeof text));
            char *real = realpath(path, NULL);
            if (real == NULL) dam_die(DAM_EXIT_INPUT, "%s: %s: %s: cannot open: %s", source, where, path, strerror(errno));
            for (int k = 0; k < ch->n; k++)
                if (ch->real[k] && strcmp(ch->real[k], real) == 0)
                    dam_die(DAM_EXIT_INPUT, "%s: %s: %s: include cycle (%s)", source, where, path,
                            chain_text(ch, path, text, sizeof text));
            json_t *sub = load_included(path, source, where);
            ch->name[ch->n] = path;
            ch->real[ch->n++] = real;
            json_t *merged = resolve(sub, ch);
            ch->n--;
            free(real);
            config_merge(out, merged);
            json_decref(merged);
            json_decref(sub);
        }
    }
    json_t *own = json_deep_copy(doc);
    json_object_del(own, "include");
    config_merge(out, own);
    json_decref(own);
    return out;
}

json_t *config_resolve_includes(json_t *root, const char *source) {
    chain ch = {1, {source}, {realpath(source, NULL)}};
    json_t *out = resolve(root, &ch);
    free(ch.real[0]);
    return out;
}

/* Removes every null-valued key of the objects in v, at any depth (arrays are walked, their null
 * elements kept: those are errors for the parser to report). */
static void strip_nulls(json_t *v) {
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        void *tmp;
        json_object_foreach_safe(v, tmp, key, val) {
            if (json_is_null(val)) json_object_del(v, key);
            else strip_nulls(val);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) strip_nulls(json_array_get(v, i));
    }
}

void config_apply_defaults(json_t *root, const char *source) {
    static const char *const keys[] = {"methods", NULL};
    json_t *def = json_object_get(root, "defaults");
    if (def == NULL) {
        strip_nulls(root);
        return;
    }
    json_t *scratch = json_object();
    const cfg_obj top = {source, "", root, scratch};
    if (!json_is_object(def)) cfg_fail(&top, "defaults", "must be an object ({\"methods\": {\"KIND\": {...}}})");
    const cfg_obj dc = {source, "defaults", def, scratch};
    cfg_check_keys(&dc, keys);
    json_t *dm = json_object_get(def, "methods");
    if (dm != NULL && !json_is_object(dm)) cfg_fail(&dc, "methods", "must be an object of method kind: {key: value}");
    const char *kind;
    json_t *block;
    json_object_foreach(dm, kind, block) {
        char path[200];
        snprintf(path, sizeof path, "defaults.methods.%s", kind);
        const cfg_obj bc = {source, path, block, scratch};
        if (method_find(kind) == NULL) cfg_fail(&bc, NULL, "\"%s\" is not a method (%s)", kind, method_kinds());
        if (!json_is_object(block)) cfg_fail(&bc, NULL, "must be an object of the method's keys");
        cfg_refuse(&bc, "method", "cannot be a default (the block's name is the method)");
        cfg_refuse(&bc, "name", "cannot be a default (instance names must be unique)");
        json_t *ms = json_object_get(root, "methods");
        bool used = false;
        for (size_t i = 0; json_is_array(ms) && i < json_array_size(ms); i++) {
            json_t *m = json_array_get(ms, i), *k = json_object_get(m, "method");
            if (!json_is_object(m) || !json_is_string(k) || strcmp(json_string_value(k), kind) != 0) continue;
            json_t *merged = json_deep_copy(block);
            config_merge(merged, m);
            json_array_set_new(ms, i, merged);
            used = true;
        }
        if (!used) { /* validated on its own, so a typo in a block no instance uses is still an error */
            json_t *probe = json_deep_copy(block);
            json_object_set_new(probe, "method", json_string(kind));
            json_t *res = json_object();
            const cfg_obj pc = {source, path, probe, res};
            method m;
            method_parse(&pc, &m);
            method_free(&m);
            json_decref(res);
            json_decref(probe);
        }
    }
    json_decref(scratch);
    json_object_del(root, "defaults");
    strip_nulls(root);
}
