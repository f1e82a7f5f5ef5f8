/* config_ruler.c — see config_ruler.h. */
#include "harness/config_ruler.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "datasets/ruler.h"

/* The `tasks` list: a non-empty array of distinct known RULER task names (default all runnable). */
static void parse_tasks(const cfg_obj *c, workload_cfg *out) {
    json_t *v = json_object_get(c->obj, "tasks"), *copy = json_array();
    if (v == NULL) {
        for (int i = 0; RULER_DEFAULT_TASKS[i]; i++) json_array_append_new(copy, json_string(RULER_DEFAULT_TASKS[i]));
        v = copy;
    } else if (!json_is_array(v) || json_array_size(v) == 0) {
        cfg_fail(c, "tasks", "must be a non-empty array of RULER task names");
    }
    out->n_tasks = (int)json_array_size(v);
    out->tasks = dam_calloc((size_t)out->n_tasks, sizeof(char *), "ruler tasks");
    for (int i = 0; i < out->n_tasks; i++) {
        char key[64];
        snprintf(key, sizeof key, "tasks[%d]", i);
        json_t *e = json_array_get(v, (size_t)i);
        if (!json_is_string(e)) cfg_fail(c, key, "must be a string");
        const char *name = json_string_value(e);
        if (!ruler_is_task(name)) {
            char list[512] = "";
            for (int k = 0; RULER_TASK_NAMES[k]; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", RULER_TASK_NAMES[k]);
            cfg_fail(c, key, "\"%s\" is not a RULER task (%s)", name, list);
        }
        for (int j = 0; j < i; j++)
            if (strcmp(out->tasks[j], name) == 0) cfg_fail(c, key, "\"%s\" appears twice", name);
        out->tasks[i] = dam_strdup(name, "ruler task");
    }
    if (v != copy) json_array_extend(copy, v);
    json_object_set_new(c->res, "tasks", copy);
}

void config_parse_ruler(const cfg_obj *c, workload_cfg *out) {
    static const char *const keys[] = {"task", "tasks", "lengths", "samples", "max_new_tokens", "prompt", "haystack_dir",
                                       "words_dir", "qa_file", "squad_file", "hotpotqa_file", "depths", "source", "data_dir",
                                       "num_lines", "num_topics", NULL};
    static const char *const prompts[] = {"completion", "chat", NULL};
    cfg_check_keys(c, keys);
    memset(out, 0, sizeof *out);
    out->task = cfg_str(c, "task", NULL, true);
    cfg_refuse(c, "depths", "does not apply to ruler: RULER draws needle depths at random from the seed (docs/workloads.md)");
    static const char *const other[] = {"source", "data_dir", "num_lines", "num_topics", NULL};
    for (int i = 0; other[i]; i++) cfg_refuse(c, other[i], "only applies to the longeval tasks");
    parse_tasks(c, out);
    out->n_lengths = cfg_list(c, "lengths", false, 64, 1 << 24, NULL, (void **)&out->lengths);
    out->samples = (int)cfg_int(c, "samples", 1, 1, 100000, false);
    out->prompt = cfg_choice(c, "prompt", "completion", prompts);
    if (cfg_has(c, "max_new_tokens")) out->max_new_tokens = (int)cfg_int(c, "max_new_tokens", 0, 1, 4096, false);
    unsigned needs = 0;
    for (int i = 0; i < out->n_tasks; i++) needs |= ruler_task_needs(out->tasks[i]);
    /* a data key is read only when a listed task needs it; given otherwise, it is refused */
    const struct {
        const char *key;
        unsigned flag;
        const char *dflt, *who;
        char **dst;
    } data[] = {
        {"haystack_dir", RULER_NEEDS_ESSAY, "data/pg_essays", "the essay-haystack tasks (niah_single_2, niah_single_3, "
                                                              "niah_multikey_1, niah_multivalue, niah_multiquery)", &out->haystack_dir},
        {"words_dir", RULER_NEEDS_WORDS, "data/wordlists/wonderwords", "the tasks with word keys (niah_* but niah_multikey_3) "
                                                                       "and cwe", &out->words_dir},
        {"qa_file", RULER_NEEDS_NQ, "data/qa/nq_open_oracle/nq-open-oracle.jsonl.gz", "task qa_nq", &out->qa_file},
        {"squad_file", RULER_NEEDS_SQUAD, NULL, "task qa_1 (SQuAD v2 dev JSON)", &out->squad_file},
        {"hotpotqa_file", RULER_NEEDS_HOTPOT, NULL, "task qa_2 (HotpotQA dev distractor JSON)", &out->hotpotqa_file},
    };
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++) {
        char why[256];
        snprintf(why, sizeof why, "only applies to %s, which `tasks` does not list", data[i].who);
        if (needs & data[i].flag) *data[i].dst = cfg_str(c, data[i].key, data[i].dflt, data[i].dflt == NULL);
        else cfg_refuse(c, data[i].key, why);
    }
}
