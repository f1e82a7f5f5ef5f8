/* sweep.c — see sweep.h. */
#include "harness/sweep.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

/* The method instance named `name` in root's methods (its "name", or "method" when unnamed). */
static json_t *method_named(json_t *root, const char *name, size_t *index) {
    json_t *ms = json_object_get(root, "methods");
    for (size_t i = 0; json_is_array(ms) && i < json_array_size(ms); i++) {
        json_t *m = json_array_get(ms, i), *n = json_object_get(m, "name");
        if (!n) n = json_object_get(m, "method");
        if (json_is_string(n) && strcmp(json_string_value(n), name) == 0) {
            if (index) *index = i;
            return m;
        }
    }
    return NULL;
}

/* True if `obj` is a method instance of root's methods whose key `key` root's "sweep" varies: a
 * --set of it would be silently replaced by the sweep's values, so it is refused. */
static bool swept(json_t *root, json_t *obj, const char *key) {
    json_t *sw = json_object_get(root, "sweep"), *ms = json_object_get(root, "methods");
    if (!json_is_object(sw) || !json_is_array(ms)) return false;
    for (size_t i = 0; i < json_array_size(ms); i++) {
        if (json_array_get(ms, i) != obj) continue;
        json_t *n = json_object_get(obj, "name");
        if (!n) n = json_object_get(obj, "method");
        if (!json_is_string(n)) return false;
        char full[512];
        snprintf(full, sizeof full, "%s.%s", json_string_value(n), key);
        return json_object_get(sw, full) != NULL;
    }
    return false;
}

json_t *config_value(const char *value, const char *flag, const char *assignment) {
    json_error_t jerr;
    json_t *v = json_loads(value, JSON_DECODE_ANY, &jerr);
    if (v) return v;
    if (value[0] && strchr("[{\"-0123456789", value[0]))
        dam_die(DAM_EXIT_INPUT, "%s %s: the value is not valid JSON: %s", flag, assignment, jerr.text);
    return json_string(value);
}

void config_apply_set(json_t *root, const char *assignment, const char *source) {
    const char *eq = strchr(assignment, '=');
    if (eq == NULL || eq == assignment) dam_die(DAM_EXIT_INPUT, "--set %s: expected KEY=VALUE", assignment);
    char key[512];
    size_t klen = (size_t)(eq - assignment);
    if (klen >= sizeof key) dam_die(DAM_EXIT_INPUT, "--set %s: key too long", assignment);
    memcpy(key, assignment, klen);
    key[klen] = 0;
    json_t *value = config_value(eq + 1, "--set", assignment);

    /* walk the path: segments separated by '.', each NAME or NAME[i][j] */
    json_t *cur = root;
    char *save = NULL, *seg = strtok_r(key, ".", &save);
    bool first = true;
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        char name[256];
        const char *br = strchr(seg, '[');
        size_t nlen = br ? (size_t)(br - seg) : strlen(seg);
        if (nlen == 0 || nlen >= sizeof name) dam_die(DAM_EXIT_INPUT, "--set %s: malformed key", assignment);
        memcpy(name, seg, nlen);
        name[nlen] = 0;
        json_t *child = json_is_object(cur) ? json_object_get(cur, name) : NULL;
        if (first && child == NULL && br == NULL && next && method_named(root, name, NULL)) {
            child = method_named(root, name, NULL); /* METHOD.KEY */
        } else if (child == NULL && (br || next)) {
            dam_die(DAM_EXIT_INPUT, "%s: --set %s: no key %s", source, assignment, name);
        }
        first = false;
        while (br) { /* indices */
            char *end;
            long i = strtol(br + 1, &end, 10);
            if (*end != ']' || !json_is_array(child) || i < 0 || (size_t)i >= json_array_size(child))
                dam_die(DAM_EXIT_INPUT, "%s: --set %s: index [%s out of range or not an array", source, assignment, br + 1);
            if (end[1] == 0 && next == NULL) { /* the last segment ends in an index: replace the element */
                json_array_set_new(child, (size_t)i, value);
                return;
            }
            child = json_array_get(child, (size_t)i);
            br = end[1] == '[' ? end + 1 : NULL;
            if (!br && end[1] != 0) dam_die(DAM_EXIT_INPUT, "--set %s: malformed key", assignment);
        }
        if (next == NULL) { /* the last segment is a key of cur: set (or add) it */
            if (swept(root, cur, name))
                dam_die(DAM_EXIT_INPUT, "%s: --set %s: that key is swept (\"sweep\"); override the sweep's list instead",
                        source, assignment);
            json_object_set_new(cur, name, value);
            return;
        }
        if (!json_is_object(child)) dam_die(DAM_EXIT_INPUT, "%s: --set %s: %s is not an object", source, assignment, name);
        cur = child;
        seg = next;
    }
}

void config_expand_sweep(json_t *root, const char *source) {
    json_t *sw = json_object_get(root, "sweep");
    if (sw == NULL) return;
    if (!json_is_object(sw) || json_object_size(sw) == 0)
        dam_die(DAM_EXIT_INPUT, "%s: sweep: must be a non-empty object of \"METHOD.KEY\": [values]", source);
    json_t *ms = json_object_get(root, "methods");
    if (!json_is_array(ms)) dam_die(DAM_EXIT_INPUT, "%s: methods: must be a non-empty array", source);
    /* the method names the sweep addresses, in the order of their first key */
    const char *key;
    json_t *vals;
    char names[64][128];
    int n_names = 0;
    json_object_foreach(sw, key, vals) {
        const char *dot = strchr(key, '.');
        if (dot == NULL || dot == key || dot[1] == 0 || (size_t)(dot - key) >= sizeof names[0])
            dam_die(DAM_EXIT_INPUT, "%s: sweep.%s: keys are METHOD.KEY", source, key);
        if (!json_is_array(vals) || json_array_size(vals) == 0)
            dam_die(DAM_EXIT_INPUT, "%s: sweep.%s: must be a non-empty list of values", source, key);
        if (strcmp(dot + 1, "name") == 0 || strcmp(dot + 1, "method") == 0)
            dam_die(DAM_EXIT_INPUT, "%s: sweep.%s: \"name\" and \"method\" cannot be swept (list the instances)", source, key);
        char name[128];
        memcpy(name, key, (size_t)(dot - key));
        name[dot - key] = 0;
        if (method_named(root, name, NULL) == NULL) dam_die(DAM_EXIT_INPUT, "%s: sweep.%s: no method named %s", source, key, name);
        int seen = 0;
        for (int i = 0; i < n_names; i++) seen |= strcmp(names[i], name) == 0;
        if (!seen && n_names < 64) snprintf(names[n_names++], sizeof names[0], "%s", name);
    }
    for (int ni = 0; ni < n_names; ni++) {
        size_t at;
        json_t *base = method_named(root, names[ni], &at);
        /* this method's sweep keys */
        const char *keys[64];
        json_t *lists[64];
        int nk = 0;
        json_object_foreach(sw, key, vals) {
            size_t nl = strlen(names[ni]);
            if (strncmp(key, names[ni], nl) == 0 && key[nl] == '.' && nk < 64) keys[nk] = key + nl + 1, lists[nk++] = vals;
        }
        size_t total = 1;
        for (int k = 0; k < nk; k++) total *= json_array_size(lists[k]);
        json_t *expanded = json_array();
        for (size_t c = 0; c < total; c++) {
            json_t *inst = json_deep_copy(base);
            char label[1024];
            int len = snprintf(label, sizeof label, "%s[", names[ni]);
            size_t rest = c;
            /* the first key varies slowest */
            size_t stride = total;
            for (int k = 0; k < nk; k++) {
                stride /= json_array_size(lists[k]);
                json_t *v = json_array_get(lists[k], rest / stride);
                rest %= stride;
                json_object_set(inst, keys[k], v);
                char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
                len += snprintf(label + len, sizeof label - (size_t)len, "%s%s=%s", k ? "," : "", keys[k], txt);
                free(txt);
                if (len >= (int)sizeof label) dam_die(DAM_EXIT_INPUT, "%s: sweep of %s: instance name too long", source, names[ni]);
            }
            snprintf(label + len, sizeof label - (size_t)len, "]");
            json_object_set_new(inst, "name", json_string(label));
            json_array_append_new(expanded, inst);
        }
        json_array_remove(ms, at);
        for (size_t c = 0; c < total; c++) json_array_insert(ms, at + c, json_array_get(expanded, c));
        json_decref(expanded);
    }
}
