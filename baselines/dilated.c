/* dilated.c — `dilated`: a causal dilated (strided) sliding window, optionally with attention sinks.
 * Definition (exact): query position p keeps the keys p − k·dilation for k = 0 .. window − 1 (those
 * >= 0): `window` keys spread over the last (window − 1)·dilation + 1 positions, the query itself
 * always included (k = 0); plus the first `sinks` positions (j < sinks) for every p >= j. As a
 * MaskPlan: diagonals {0, dilation, 2·dilation, .., (window − 1)·dilation} and columns
 * 0 .. sinks − 1. dilation = 1 is `sliding_window` (plus sinks: `streaming`).
 * Source: Longformer's "dilated sliding window" (Beltagy et al. 2020, §3.1: a window of w keys with
 * gaps of size d − 1, receptive field (w − 1)·d per layer, different dilations per head; used in the
 * autoregressive char-LM with small dilations on some heads of higher layers), in its causal form.
 * Related but not this: LongNet's dilated attention (Ding et al. 2023) splits the sequence into
 * segments and sparsifies within segments; Sparse Transformer's strided pattern (Child et al. 2019)
 * pairs a stride with a local window.
 * Defaults: window = 256 keys, dilation = 2 (the same 511-token reach as a 512 sliding window with
 * half its keys), sinks = 0 (Longformer has none). Give `dilation` per layer × head to mix dilated
 * and undilated heads as Longformer does.
 * Parameters: `window` (integer >= 1), `dilation` (integer >= 1), `sinks` (integer >= 0), each a param
 * (scalar, per layer or per layer × head). */
#include "core/mem.h"
#include "harness/method.h"

/* Parameters (config keys window, dilation, sinks). */
typedef struct {
    param window;   /* keys kept behind (and including) the query */
    param dilation; /* distance between consecutive kept keys */
    param sinks;    /* first positions every later query keeps */
} dilated_params;

static void *dilated_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "window", "dilation", "sinks", NULL};
    cfg_check_keys(c, keys);
    dilated_params *p = dam_calloc(1, sizeof *p, "dilated params");
    p->window = cfg_param(c, "window", 256, 1, 1 << 24, true);
    p->dilation = cfg_param(c, "dilation", 2, 1, 1 << 24, true);
    p->sinks = cfg_param(c, "sinks", 0, 0, 1 << 24, true);
    return p;
}

static void dilated_prepare(method *m, const llama_model *model) {
    dilated_params *p = m->params;
    method_check_param(m, "window", &p->window, model);
    method_check_param(m, "dilation", &p->dilation, model);
    method_check_param(m, "sinks", &p->sinks, model);
}

static maskplan *dilated_plan(const method *m, int layer, int head, int n, int n_total) {
    (void)n;
    const dilated_params *p = m->params;
    const long w = (long)param_at(&p->window, layer, head), dil = (long)param_at(&p->dilation, layer, head);
    long s = (long)param_at(&p->sinks, layer, head);
    if (s > n_total) s = n_total; /* positions >= n_total never apply */
    long nd = 0;                  /* offsets k·dil < n_total, k < w */
    while (nd < w && nd * dil < n_total) nd++;
    int32_t *v = dam_malloc(sizeof(int32_t) * (size_t)(nd > s ? nd : s) + 4, "dilated plan");
    maskplan *plan = maskplan_new();
    for (long k = 0; k < nd; k++) v[k] = (int32_t)(k * dil);
    maskplan_set_diags(plan, v, (int)nd);
    for (long i = 0; i < s; i++) v[i] = (int32_t)i;
    maskplan_set_cols(plan, v, (int)s);
    dam_free(v);
    return plan;
}

static void dilated_free(void *params) {
    dilated_params *p = params;
    param_free(&p->window);
    param_free(&p->dilation);
    param_free(&p->sinks);
    dam_free(p);
}

const method_ops DILATED_OPS = {.kind = "dilated",
                                .summary = "dilated sliding window: keys p - k*dilation, k < window, plus optional sinks (Longformer)",
                                .parse = dilated_parse,
                                .prepare = dilated_prepare,
                                .plan = dilated_plan,
                                .free_params = dilated_free};
