/* config.c — see config.h. Parsing walks the JSON once, validating each key against its type
 * and range, and builds the resolved config (defaults filled) alongside. */
#include "harness/config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/cfg.h"
#include "harness/commands.h"
#include "harness/config_include.h"
#include "harness/config_longdoc.h"
#include "harness/config_ruler.h"
#include "harness/sweep.h"
#include "model/llama_cuda.h"

static void parse_workload(const cfg_obj *c, workload_cfg *out) {
    static const char *const keys[] = {"task", "lengths", "depths", "samples", "max_new_tokens", "haystack_dir", "source",
                                       "prompt", "data_dir", "words_dir", "num_lines", "num_topics", "needles", NULL};
    static const char *const sources[] = {"generate", "file", NULL}, *const prompts[] = {"completion", "chat", NULL};
    if (!json_is_object(c->obj)) cfg_fail(c, NULL, "must be an object");
    json_t *t = json_object_get(c->obj, "task");
    if (json_is_string(t) && config_is_longdoc(json_string_value(t))) {
        config_parse_longdoc(c, out);
        return;
    }
    if (json_is_string(t) && strcmp(json_string_value(t), "ruler") == 0) {
        config_parse_ruler(c, out);
        return;
    }
    cfg_check_keys(c, keys);
    memset(out, 0, sizeof *out);
    out->task = cfg_str(c, "task", NULL, true);
    bool passkey = strcmp(out->task, "passkey") == 0, niah = strcmp(out->task, "niah") == 0;
    bool multi = strcmp(out->task, "niah_multi") == 0;
    bool lines = strcmp(out->task, "longeval_lines") == 0, topics = strcmp(out->task, "longeval_topics") == 0;
    if (!passkey && !niah && !multi && !lines && !topics)
        cfg_fail(c, "task", "\"%s\" is not a supported task (passkey, niah, niah_multi, longeval_lines, longeval_topics, longbench, lveval, ruler)", out->task);
    if (!niah && !multi) cfg_refuse(c, "haystack_dir", "only applies to tasks niah and niah_multi");
    if (!multi) cfg_refuse(c, "needles", "only applies to task niah_multi");
    static const char *const longeval_keys[] = {"source", "prompt", "data_dir", "words_dir", "num_lines", "num_topics", NULL};
    for (int i = 0; !lines && !topics && longeval_keys[i]; i++) cfg_refuse(c, longeval_keys[i], "only applies to the longeval tasks");
    if (!lines) cfg_refuse(c, "num_lines", "only applies to task longeval_lines (source \"file\")");
    if (!lines) cfg_refuse(c, "words_dir", "only applies to task longeval_lines (source \"generate\")");
    if (!topics) cfg_refuse(c, "num_topics", "only applies to task longeval_topics");
    if (topics) cfg_refuse(c, "source", "longeval_topics always reads its test-case files (no key source)");

    bool files = topics;
    if (lines) {
        out->source = cfg_choice(c, "source", "generate", sources);
        files = strcmp(out->source, "file") == 0;
    }
    if (lines || topics) out->prompt = cfg_choice(c, "prompt", "completion", prompts);
    bool chat = out->prompt && strcmp(out->prompt, "chat") == 0;
    if (files) {
        const char *why = "does not apply to LongEval test-case files (their lengths and positions are fixed; "
                          "choose files with num_lines / num_topics)";
        cfg_refuse(c, "lengths", why);
        cfg_refuse(c, "depths", why);
        cfg_refuse(c, "words_dir", "only applies to source \"generate\"");
        if (lines) out->n_sizes = cfg_list(c, "num_lines", false, 1, 1000000, NULL, (void **)&out->sizes);
        else out->n_sizes = cfg_list(c, "num_topics", false, 1, 100000, NULL, (void **)&out->sizes);
        out->data_dir = cfg_str(c, "data_dir", "data/longeval", false);
        out->samples = (int)cfg_int(c, "samples", 50, 1, 100000, false);
    } else {
        if (lines) {
            cfg_refuse(c, "num_lines", "only applies to source \"file\" (generated prompts are sized by lengths)");
            cfg_refuse(c, "data_dir", "only applies to source \"file\" (the generator reads words_dir)");
            out->words_dir = cfg_str(c, "words_dir", "data/wordlists/wonderwords", false);
        }
        out->n_lengths = cfg_list(c, "lengths", false, 64, 1 << 24, NULL, (void **)&out->lengths);
        out->n_depths = cfg_list(c, "depths", true, 0, 1, "[0.5]", (void **)&out->depths);
        out->samples = (int)cfg_int(c, "samples", 1, 1, 100000, false);
    }
    int dflt_new = passkey ? 10 : niah ? 24 : multi ? 32 : lines ? (chat ? 100 : 10) : (chat ? 50 : 16);
    out->max_new_tokens = (int)cfg_int(c, "max_new_tokens", dflt_new, 1, 4096, false);
    if (niah || multi) out->haystack_dir = cfg_str(c, "haystack_dir", "data/pg_essays", false);
    if (multi) out->n_needles = cfg_str_list(c, "needles", "[\"Figs\", \"Prosciutto\", \"Goat cheese\"]", &out->needles);
}

void config_parse(const char *text, const char *source, const char *const *sets, int n_sets, run_config *c) {
    static const char *const keys[] = {"model", "seed", "output", "device", "threads", "prefill_chunk",
                                       "alignment", "workloads", "methods", "sweep", NULL};
    json_error_t err;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) dam_die(DAM_EXIT_INPUT, "%s:%d:%d: malformed JSON: %s", source, err.line, err.column, err.text);
    if (json_is_object(root)) { /* includes, then --set, then per-method defaults, then sweeps */
        json_t *merged = config_resolve_includes(root, source);
        json_decref(root);
        root = merged;
        for (int i = 0; i < n_sets; i++) config_apply_set(root, sets[i], source);
        if (json_object_get(root, "include"))
            dam_die(DAM_EXIT_INPUT, "%s: include: cannot be set with --set (includes are read before overrides)", source);
        config_apply_defaults(root, source);
        config_expand_sweep(root, source);
    }
    json_t *res = json_object();
    const cfg_obj top = {source, "", root, res};
    if (!json_is_object(root)) cfg_fail(&top, NULL, "the config must be a JSON object");
    cfg_check_keys(&top, keys);
    memset(c, 0, sizeof *c);
    c->source = dam_strdup(source, "config source");
    c->model = cfg_str(&top, "model", "smollm2-135m", false);
    c->seed = (uint64_t)cfg_int(&top, "seed", 1234, 0, 0x7fffffffL, false);
    c->output = cfg_str(&top, "output", "results/default.h5", false);
    static const char *const devices[] = {"cpu", "cuda", NULL};
    c->device = cfg_choice(&top, "device", "cpu", devices);
    if (strcmp(c->device, "cuda") == 0 && !llama_cuda_built())
        cfg_fail(&top, "device", "\"cuda\": this dam was built without the CUDA backend (build it with `make cuda-dam`; docs/cuda.md)");
    c->threads = (int)cfg_int(&top, "threads", 0, 0, 4096, false);
    c->prefill_chunk = (int)cfg_int(&top, "prefill_chunk", 512, 16, 1 << 20, false);
    c->alignment = cfg_bool(&top, "alignment", true);
    if (json_object_get(root, "sweep")) json_object_set(res, "sweep", json_object_get(root, "sweep"));

    json_t *w = json_object_get(root, "workloads");
    if (!json_is_array(w) || json_array_size(w) == 0) cfg_fail(&top, "workloads", "must be a non-empty array");
    c->n_workloads = (int)json_array_size(w);
    c->workloads = dam_calloc(c->n_workloads, sizeof(workload_cfg), "workloads");
    json_t *wres = json_array();
    for (int i = 0; i < c->n_workloads; i++) {
        char p[64];
        snprintf(p, sizeof p, "workloads[%d]", i);
        json_t *r = json_object();
        const cfg_obj wc = {source, p, json_array_get(w, i), r};
        parse_workload(&wc, &c->workloads[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(c->workloads[j].task, c->workloads[i].task) == 0) cfg_fail(&wc, NULL, "task \"%s\" appears twice", c->workloads[i].task);
        json_array_append_new(wres, r);
    }
    json_object_set_new(res, "workloads", wres);

    json_t *m = json_object_get(root, "methods");
    if (!json_is_array(m) || json_array_size(m) == 0) cfg_fail(&top, "methods", "must be a non-empty array");
    c->n_methods = (int)json_array_size(m);
    c->methods = dam_calloc(c->n_methods, sizeof(method), "methods");
    json_t *mres = json_array();
    for (int i = 0; i < c->n_methods; i++) {
        char p[64];
        snprintf(p, sizeof p, "methods[%d]", i);
        json_t *r = json_object();
        const cfg_obj mc = {source, p, json_array_get(m, i), r};
        if (!json_is_object(mc.obj)) cfg_fail(&mc, NULL, "must be an object");
        method_parse(&mc, &c->methods[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(c->methods[j].name, c->methods[i].name) == 0)
                cfg_fail(&mc, NULL, "name \"%s\" is used twice (give each instance a unique name)", c->methods[i].name);
        json_array_append_new(mres, r);
    }
    json_object_set_new(res, "methods", mres);
    /* the full-attention reference runs first so later methods can be compared to it */
    for (int i = 1; i < c->n_methods; i++)
        if (method_is_full(&c->methods[i]) && !method_is_full(&c->methods[0])) {
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

void config_load(const char *path, const char *const *sets, int n_sets, run_config *c) {
    if (path == NULL) {
        config_parse(DAM_DEFAULT_CONFIG, "<embedded default>", sets, n_sets, c);
        return;
    }
    char *text = read_text_file(path, NULL);
    config_parse(text, path, sets, n_sets, c);
    dam_free(text);
}

void config_free(run_config *c) {
    for (int i = 0; i < c->n_workloads; i++) {
        workload_cfg *w = &c->workloads[i];
        dam_free(w->task); dam_free(w->lengths); dam_free(w->depths); dam_free(w->haystack_dir);
        dam_free(w->source); dam_free(w->prompt); dam_free(w->data_dir); dam_free(w->words_dir); dam_free(w->sizes);
        for (int k = 0; k < w->n_needles; k++) dam_free(w->needles[k]);
        dam_free(w->needles);
        for (int k = 0; k < w->n_datasets; k++) dam_free(w->datasets[k]);
        for (int k = 0; k < w->n_levels; k++) dam_free(w->levels[k]);
        dam_free(w->datasets); dam_free(w->levels); dam_free(w->truncation);
        for (int t = 0; t < w->n_tasks; t++) dam_free(w->tasks[t]);
        dam_free(w->tasks); dam_free(w->qa_file); dam_free(w->squad_file); dam_free(w->hotpotqa_file);
    }
    dam_free(c->workloads);
    for (int i = 0; i < c->n_methods; i++) method_free(&c->methods[i]);
    dam_free(c->methods);
    dam_free(c->source); dam_free(c->resolved_json); dam_free(c->model); dam_free(c->output); dam_free(c->device);
    memset(c, 0, sizeof *c);
}
