/* sliding_window.c — `sliding_window`: local (banded) causal attention. Query position p keeps the
 * `window` most recent keys, itself included: j in [p − window + 1, p]; no attention sinks, no
 * global tokens. As a MaskPlan: diagonals 0 .. window − 1.
 * Source: the local attention of Longformer (Beltagy et al. 2020, "Longformer: The Long-Document
 * Transformer", §3.1 "Sliding Window"; causal here, so the whole window lies behind the query) and
 * Mistral-7B's sliding-window layers; StreamingLLM (Xiao et al. 2023) is the same window plus sinks
 * and reports that dropping the sinks makes perplexity explode once n exceeds the window — a
 * reference point, not a method meant to win.
 * Default: window = 512 (Longformer's default `attention_window`, there counted over both sides;
 * here all of it lies behind the query). Rows p < window are dense (causal).
 * Parameters: `window` (param, integer >= 1), per layer / per layer × head. */
#include "core/mem.h"
#include "harness/method.h"

/* Parameters (config key window). */
typedef struct {
    param window; /* recent keys kept, the query included */
} sliding_window_params;

static void *sliding_window_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "window", NULL};
    cfg_check_keys(c, keys);
    sliding_window_params *p = dam_calloc(1, sizeof *p, "sliding_window params");
    p->window = cfg_param(c, "window", 512, 1, 1 << 24, true);
    return p;
}

static void sliding_window_prepare(method *m, const llama_model *model) {
    sliding_window_params *p = m->params;
    method_check_param(m, "window", &p->window, model);
}

static maskplan *sliding_window_plan(const method *m, int layer, int head, int n, int n_total) {
    (void)n;
    const sliding_window_params *p = m->params;
    int w = (int)param_at(&p->window, layer, head);
    if (w > n_total) w = n_total; /* offsets >= n_total never apply */
    if (w < 1) w = 1;
    int32_t *v = dam_malloc(sizeof(int32_t) * (size_t)w, "sliding_window plan");
    for (int r = 0; r < w; r++) v[r] = r;
    maskplan *plan = maskplan_new();
    maskplan_set_diags(plan, v, w);
    dam_free(v);
    return plan;
}

static void sliding_window_free(void *params) {
    sliding_window_params *p = params;
    param_free(&p->window);
    dam_free(p);
}

const method_ops SLIDING_WINDOW_OPS = {.kind = "sliding_window",
                                       .summary = "local window of the most recent keys, no sinks (Longformer's sliding window)",
                                       .parse = sliding_window_parse,
                                       .prepare = sliding_window_prepare,
                                       .plan = sliding_window_plan,
                                       .free_params = sliding_window_free};
