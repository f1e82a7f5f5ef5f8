/* config_longdoc.c — see config_longdoc.h. */
#include "harness/config_longdoc.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "datasets/longbench.h"
#include "datasets/longdoc.h"
#include "datasets/lveval.h"

bool config_is_longdoc(const char *task) { return strcmp(task, "longbench") == 0 || strcmp(task, "lveval") == 0; }

/* The names of the task's datasets, ", "-separated, for messages. */
static void dataset_names(bool lv, bool e, char *buf, size_t cap) {
    buf[0] = 0;
    const longdoc_spec *specs = lv ? LVEVAL_SPECS : LONGBENCH_SPECS;
    const int n = lv ? LVEVAL_N_SPECS : LONGBENCH_N_SPECS;
    for (int i = 0; i < n; i++) {
        bool ok = !e;
        for (int k = 0; e && LONGBENCH_E_DATASETS[k]; k++) ok |= strcmp(LONGBENCH_E_DATASETS[k], specs[i].name) == 0;
        if (ok) snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", *buf ? ", " : "", specs[i].name);
    }
}

/* A required non-empty array of distinct strings, each accepted by ok(); recorded in the resolved
 * config. */
static int str_list(const cfg_obj *c, const char *key, bool (*ok)(const char *, const void *), const void *arg,
                    const char *what, char ***out) {
    json_t *v = json_object_get(c->obj, key);
    if (v == NULL) cfg_fail(c, key, "required key is missing");
    if (!json_is_array(v) || json_array_size(v) == 0) cfg_fail(c, key, "must be a non-empty array of strings");
    int n = (int)json_array_size(v);
    char **s = dam_malloc(sizeof(char *) * (size_t)n, key);
    for (int i = 0; i < n; i++) {
        char ki[160];
        snprintf(ki, sizeof ki, "%s[%d]", key, i);
        json_t *e = json_array_get(v, (size_t)i);
        if (!json_is_string(e)) cfg_fail(c, ki, "must be a string");
        const char *t = json_string_value(e);
        if (!ok(t, arg)) cfg_fail(c, ki, "\"%s\" is not %s", t, what);
        for (int j = 0; j < i; j++)
            if (strcmp(s[j], t) == 0) cfg_fail(c, ki, "\"%s\" appears twice", t);
        s[i] = dam_strdup(t, key);
    }
    json_object_set(c->res, key, v);
    *out = s;
    return n;
}

typedef struct {
    bool lv, e;
} which;

static bool known_dataset(const char *name, const void *arg) {
    const which *w = arg;
    if (!longdoc_find(w->lv ? "lveval" : "longbench", name)) return false;
    if (!w->e) return true;
    for (int k = 0; LONGBENCH_E_DATASETS[k]; k++)
        if (strcmp(LONGBENCH_E_DATASETS[k], name) == 0) return true;
    return false;
}

/* An LV-Eval length level: digits then 'k' ("16k"), as upstream's file names. */
static bool level_name(const char *s, const void *arg) {
    (void)arg;
    size_t d = strspn(s, "0123456789");
    return d > 0 && d <= 4 && strcmp(s + d, "k") == 0;
}

void config_parse_longdoc(const cfg_obj *c, workload_cfg *out) {
    static const char *const keys[] = {"task", "data_dir", "datasets", "levels", "longbench_e", "samples", "max_length",
                                       "prompt", "truncation", NULL};
    static const char *const prompts[] = {"chat", "completion", NULL}, *const truncs[] = {"middle_context", "middle_prompt", NULL};
    memset(out, 0, sizeof *out);
    out->task = cfg_str(c, "task", NULL, true);
    const bool lv = strcmp(out->task, "lveval") == 0;
    if (cfg_has(c, "max_new_tokens")) cfg_fail(c, "max_new_tokens", "does not apply to %s: each dataset has its upstream budget (docs/workloads.md)", out->task);
    static const char *const others[] = {"lengths", "depths", "haystack_dir", "source", "words_dir", "num_lines", "num_topics", NULL};
    for (int i = 0; others[i]; i++)
        if (cfg_has(c, others[i])) cfg_fail(c, others[i], "does not apply to task %s (it reads its JSONL files; docs/config.md)", out->task);
    cfg_check_keys(c, keys);
    if (lv) cfg_refuse(c, "longbench_e", "only applies to task longbench");
    else cfg_refuse(c, "levels", "only applies to task lveval (LongBench files have no length levels)");
    out->data_dir = cfg_str(c, "data_dir", lv ? "data/lveval" : "data/longbench", false);
    if (!lv) out->longbench_e = cfg_bool(c, "longbench_e", false);
    which w = {lv, out->longbench_e};
    char names[1024];
    dataset_names(lv, out->longbench_e, names, sizeof names);
    char what[1100];
    snprintf(what, sizeof what, "a %s dataset (%s)", lv ? "LV-Eval" : out->longbench_e ? "LongBench-E" : "LongBench", names);
    out->n_datasets = str_list(c, "datasets", known_dataset, &w, what, &out->datasets);
    if (lv) out->n_levels = str_list(c, "levels", level_name, NULL, "a length level like \"16k\"", &out->levels);
    out->samples = (int)cfg_int(c, "samples", 0, 0, 1000000, false);
    out->max_length = (int)cfg_int(c, "max_length", 7500, 64, 1 << 24, false);
    out->prompt = cfg_choice(c, "prompt", "chat", prompts);
    out->truncation = cfg_choice(c, "truncation", "middle_context", truncs);
}
