/* method_util.h — a method from its JSON config text for a model of n_layers layers and n_heads
 * query heads (tests/test_dynamic.c, tests/cuda/test_estimate_cuda.c, tests/cuda/bench_estimate.c): method_parse and
 * method_prepare as `dam run` calls them; a bad text or key exits (1 or 2) with the message. */
#ifndef DAM_TESTS_METHOD_UTIL_H
#define DAM_TESTS_METHOD_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/method.h"

static inline void method_from_json(const char *text, int n_layers, int n_heads, method *m) {
    json_error_t err;
    json_t *obj = json_loads(text, 0, &err), *res = json_object();
    if (!obj) {
        fprintf(stderr, "bad method JSON %s: %s\n", text, err.text);
        exit(1);
    }
    cfg_obj c = {"test", "methods[0]", obj, res};
    method_parse(&c, m);
    llama_model model;
    memset(&model, 0, sizeof model);
    model.cfg.n_layers = n_layers;
    model.cfg.n_heads = n_heads;
    method_prepare(m, &model);
    json_decref(obj);
    json_decref(res);
}

#endif
