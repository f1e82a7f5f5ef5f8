/* test_config.c — the run config and method parameters: the embedded default equals
 * configs/default.json; defaults are filled into the resolved config; per-layer and per-layer ×
 * head parameter values reach the plans of the right (layer, head); shape mismatches with the
 * model and malformed values exit with status 2 (checked in forked children). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/mem.h"
#include "harness/commands.h"
#include "harness/config.h"
#include "test.h"

/* Runs f(arg) in a child with stderr silenced; returns its exit status (-1 if it did not exit). */
static int child_status(void (*f)(const char *), const char *arg) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        f(arg);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void parse_only(const char *text) {
    run_config c;
    config_parse(text, "t.json", NULL, 0, &c);
}

/* Parses, then checks the methods against a fake 2-layer, 3-head model. */
/* Parses a fixed config that sweeps dam.tau, with one --set `set` (child_status target). */
static void parse_swept_with_set(const char *set) {
    run_config c;
    const char *text = "{\"workloads\": [{\"task\": \"passkey\", \"lengths\": [512]}], \"methods\": [{\"method\": \"full\"},"
                       " {\"method\": \"dam\"}], \"sweep\": {\"dam.tau\": [0.1, 0.3]}}";
    config_parse(text, "t.json", &set, 1, &c);
    config_free(&c);
}

static void parse_and_prepare(const char *text) {
    run_config c;
    config_parse(text, "t.json", NULL, 0, &c);
    llama_model m;
    memset(&m, 0, sizeof m);
    m.cfg.n_layers = 2;
    m.cfg.n_heads = 3;
    for (int i = 0; i < c.n_methods; i++) method_prepare(&c.methods[i], &m);
}

int main(void) {
    size_t len;
    char *file = read_text_file("configs/default.json", &len);
    CHECK(strcmp(file, DAM_DEFAULT_CONFIG) == 0, "the embedded default differs from configs/default.json (rebuild)");
    dam_free(file);

    run_config c;
    config_parse(DAM_DEFAULT_CONFIG, "<embedded default>", NULL, 0, &c);
    CHECK(c.n_methods == 3 && method_is_full(&c.methods[0]), "default methods");
    CHECK(c.n_workloads == 2 && c.workloads[1].n_lengths == 3 && c.workloads[1].lengths[2] == 4096, "default grid");
    json_t *res = json_loads(c.resolved_json, 0, NULL);
    CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(res, "methods"), 1), "sinks")) == 4,
          "resolved streaming sinks");
    CHECK(json_real_value(json_object_get(json_array_get(json_object_get(res, "methods"), 2), "tau")) == 0.3,
          "resolved dam tau");
    CHECK(json_integer_value(json_object_get(res, "prefill_chunk")) == 512, "resolved default prefill_chunk");
    json_decref(res);
    config_free(&c);

    /* full moves first; per-layer x head windows reach the right plan */
    const char *per_head =
        "{\"workloads\": [{\"task\": \"passkey\", \"lengths\": [512]}], \"methods\": ["
        "{\"method\": \"streaming\", \"name\": \"s2\", \"sinks\": [1, 2], \"window\": [[4, 8, 16], [32, 64, 128]]},"
        "{\"method\": \"full\"}]}";
    config_parse(per_head, "t.json", NULL, 0, &c);
    CHECK(method_is_full(&c.methods[0]) && strcmp(c.methods[1].name, "s2") == 0, "full is moved first");
    for (int l = 0; l < 2; l++)
        for (int h = 0; h < 3; h++) {
            maskplan *p = method_plan(&c.methods[1], l, h, 1000, 1010);
            int want_w = (l ? 32 : 4) << h, want_s = l + 1;
            CHECK(p->n_diags == want_w && p->diags[want_w - 1] == want_w - 1 && p->n_cols == want_s,
                  "layer %d head %d: %d diagonals (want %d), %d sinks (want %d)", l, h, p->n_diags, want_w, p->n_cols, want_s);
            maskplan_free(p);
        }
    config_free(&c);

    const char *W = "{\"workloads\": [{\"task\": \"passkey\", \"lengths\": [512]}], \"methods\": [";
    char buf[1024];
#define BAD(call, methods)                                                           \
    do {                                                                             \
        snprintf(buf, sizeof buf, "%s%s]}", W, methods);                             \
        CHECK(child_status(call, buf) == 2, "%s should be refused with status 2", methods); \
    } while (0)
    BAD(parse_only, "{\"method\": \"streaming\", \"window\": [[4, 8], [1]]}");           /* ragged matrix */
    BAD(parse_only, "{\"method\": \"streaming\", \"window\": [4, 0]}");                  /* out of range */
    BAD(parse_only, "{\"method\": \"streaming\", \"window\": 2.5}");                     /* not an integer */
    BAD(parse_only, "{\"method\": \"streaming\", \"window\": 8, \"window_frac\": 0.5}"); /* both */
    BAD(parse_only, "{\"method\": \"streaming\", \"sinks\": []}");                        /* empty list */
    BAD(parse_and_prepare, "{\"method\": \"streaming\", \"window\": [4, 8, 16]}");       /* 3 layers vs 2 */
    BAD(parse_and_prepare, "{\"method\": \"streaming\", \"window\": [[4, 8], [4, 8]]}"); /* 2 heads vs 3 */
    snprintf(buf, sizeof buf, "%s{\"method\": \"streaming\", \"window\": [[4, 8, 16], [32, 64, 128]]}]}", W);
    CHECK(child_status(parse_and_prepare, buf) == 0, "a fitting matrix is accepted");
    /* --set overrides and sweep expansion */
    const char *sets[] = {"seed=7", "workloads[0].lengths=[1024,2048]", "dam.tau=0.1", "methods[0].name=\"x\"",
                          "workloads[0].depths[0]=0.25"};
    const char *cfg_text = "{\"workloads\": [{\"task\": \"passkey\", \"lengths\": [512], \"depths\": [0.5, 0.9]}],"
                           " \"methods\": [{\"method\": \"streaming\"}, {\"method\": \"dam\"}]}";
    config_parse(cfg_text, "t.json", sets, 5, &c);
    CHECK(c.seed == 7 && c.workloads[0].n_lengths == 2 && c.workloads[0].lengths[1] == 2048 &&
              c.workloads[0].depths[0] == 0.25 && c.workloads[0].depths[1] == 0.9,
          "--set on seed / lengths / depths[0]");
    CHECK(strcmp(c.methods[0].name, "x") == 0, "--set methods[0].name: %s", c.methods[0].name);
    res = json_loads(c.resolved_json, 0, NULL);
    CHECK(json_real_value(json_object_get(json_array_get(json_object_get(res, "methods"), 1), "tau")) == 0.1,
          "--set dam.tau reaches the dam instance");
    json_decref(res);
    config_free(&c);
    const char *sweep_text =
        "{\"workloads\": [{\"task\": \"passkey\", \"lengths\": [512]}], \"methods\": [{\"method\": \"full\"},"
        " {\"method\": \"dam\"}, {\"method\": \"streaming\", \"name\": \"s\"}],"
        " \"sweep\": {\"dam.tau\": [0.1, 0.3], \"dam.mu\": [0.7, 0.8, 0.9], \"s.window\": [64, 128]}}";
    config_parse(sweep_text, "t.json", NULL, 0, &c);
    CHECK(c.n_methods == 1 + 6 + 2, "sweep: %d instances, want 9", c.n_methods);
    CHECK(strcmp(c.methods[1].name, "dam[tau=0.1,mu=0.7]") == 0 && strcmp(c.methods[6].name, "dam[tau=0.3,mu=0.9]") == 0 &&
              strcmp(c.methods[8].name, "s[window=128]") == 0,
          "sweep names: %s %s %s", c.methods[1].name, c.methods[6].name, c.methods[8].name);
    config_free(&c);
    BAD(parse_only, "{\"method\": \"full\"}], \"sweep\": {\"nope.tau\": [1]}, \"x\": [0"); /* unknown method */
    snprintf(buf, sizeof buf, "%s{\"method\": \"dam\"}], \"sweep\": {\"dam.tau\": []}}", W);
    CHECK(child_status(parse_only, buf) == 2, "an empty sweep list is refused");
    snprintf(buf, sizeof buf, "%s{\"method\": \"dam\"}], \"sweep\": {\"dam.name\": [\"a\", \"b\"]}}", W);
    CHECK(child_status(parse_only, buf) == 2, "sweeping a method's name is refused");
    CHECK(child_status(parse_swept_with_set, "dam.tau=0.2") == 2, "--set of a swept key (METHOD.KEY) is refused");
    CHECK(child_status(parse_swept_with_set, "methods[1].tau=0.2") == 2, "--set of a swept key (methods[i]) is refused");
    CHECK(child_status(parse_swept_with_set, "dam.mu=0.5") == 0, "--set of a key the sweep leaves alone works");
    CHECK(child_status(parse_swept_with_set, "seed=[1,") == 2, "--set with malformed JSON is refused");
    CHECK(child_status(parse_swept_with_set, "sweep={\"dam.tau\": [0.05]}") == 0, "--set may replace the sweep itself");
    /* niah_multi: needles default to upstream's three names; needles elsewhere, empty, duplicated
       or non-string names are refused */
    {
        run_config c;
        config_parse("{\"workloads\": [{\"task\": \"niah_multi\", \"lengths\": [512]}], \"methods\": [{\"method\": \"full\"}]}",
                     "t.json", NULL, 0, &c);
        CHECK(c.workloads[0].n_needles == 3 && strcmp(c.workloads[0].needles[2], "Goat cheese") == 0 &&
                  c.workloads[0].max_new_tokens == 32 && strstr(c.resolved_json, "\"Prosciutto\""),
              "niah_multi defaults");
        config_free(&c);
        const char *bad[] = {"{\"task\": \"niah\", \"lengths\": [512], \"needles\": [\"a\"]}",
                             "{\"task\": \"niah_multi\", \"lengths\": [512], \"needles\": []}",
                             "{\"task\": \"niah_multi\", \"lengths\": [512], \"needles\": [\"a\", \"a\"]}",
                             "{\"task\": \"niah_multi\", \"lengths\": [512], \"needles\": [\"a\", 3]}",
                             "{\"task\": \"niah_multi\", \"lengths\": [512], \"needles\": [\"\"]}"};
        for (int i = 0; i < 5; i++) {
            snprintf(buf, sizeof buf, "{\"workloads\": [%s], \"methods\": [{\"method\": \"full\"}]}", bad[i]);
            CHECK(child_status(parse_only, buf) == 2, "refused: %s", bad[i]);
        }
    }
    return test_done("config");
}
