/* streaming.c — see streaming.h. */
#include "baselines/streaming.h"

#include <math.h>

#include "core/mem.h"
#include "harness/method.h"

int streaming_window(const streaming_params *p, int layer, int head, int n) {
    int w = (int)param_at(&p->window, layer, head);
    if (w > 0) return w;
    w = (int)ceil(param_at(&p->window_frac, layer, head) * n);
    return w < 1 ? 1 : w;
}

maskplan *streaming_plan(const streaming_params *p, int layer, int head, int n) {
    const int w = streaming_window(p, layer, head, n), s = (int)param_at(&p->sinks, layer, head);
    maskplan *plan = maskplan_new();
    int32_t *v = dam_malloc(sizeof(int32_t) * (size_t)(w > s ? w : s) + 4, "streaming plan");
    for (int i = 0; i < s; i++) v[i] = i;
    maskplan_set_cols(plan, v, s);
    for (int r = 0; r < w; r++) v[r] = r;
    maskplan_set_diags(plan, v, w);
    dam_free(v);
    return plan;
}

static void *streaming_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "sinks", "window", "window_frac", NULL};
    cfg_check_keys(c, keys);
    streaming_params *p = dam_calloc(1, sizeof *p, "streaming params");
    p->sinks = cfg_param(c, "sinks", 4, 0, 1 << 24, true);
    if (cfg_has(c, "window") && cfg_has(c, "window_frac")) cfg_fail(c, NULL, "give either window or window_frac, not both");
    if (cfg_has(c, "window")) {
        p->window = cfg_param(c, "window", 0, 1, 1 << 24, true);
        p->window_frac = param_scalar(0);
    } else {
        p->window = param_scalar(0);
        p->window_frac = cfg_param(c, "window_frac", 0.5, 1e-9, 1.0, false);
    }
    return p;
}

static void streaming_prepare(method *m, const llama_model *model) {
    streaming_params *p = m->params;
    method_check_param(m, "sinks", &p->sinks, model);
    method_check_param(m, "window", &p->window, model);
    method_check_param(m, "window_frac", &p->window_frac, model);
}

static maskplan *streaming_method_plan(const method *m, int layer, int head, int n, int n_total) {
    (void)n_total;
    return streaming_plan(m->params, layer, head, n);
}

static void streaming_free(void *params) {
    streaming_params *p = params;
    param_free(&p->sinks);
    param_free(&p->window);
    param_free(&p->window_frac);
    dam_free(p);
}

const method_ops STREAMING_OPS = {.kind = "streaming",
                                  .summary = "StreamingLLM: attention sinks + recent window",
                                  .parse = streaming_parse,
                                  .prepare = streaming_prepare,
                                  .plan = streaming_method_plan,
                                  .free_params = streaming_free};
