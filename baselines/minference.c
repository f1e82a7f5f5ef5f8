/* minference.c — `minference`: MInference's vertical-slash pattern with online index estimation
 * (Jiang et al. 2024, "MInference 1.0: Accelerating Pre-filling for Long-Context LLMs via Dynamic
 * Sparse Attention", NeurIPS'24; microsoft/MInference, minference/modules/minference_forward.py,
 * vertical_and_slash_kernel).
 *
 * Definition, per layer and query head, for a prompt of n tokens:
 *   1. w = min(last_q, n). The last w queries attend to all keys exactly:
 *      P[r][j] = softmax_j(q_{n-w+r} · k_j / sqrt(d)), causal (the 1/sqrt(d) scale is in the
 *      estimate, as in MInference since PR #70).
 *   2. Vertical score of key j: the sum over the w rows of P[r][j]. Slash score of offset
 *      o = i - j: the sum over the w rows of P[r][(n-w+r) - o].
 *   3. Columns: the first sink_columns keys are always kept (MInference sets their score to +inf);
 *      then the best-scoring other keys up to vertical_size columns in all, where the budget is
 *      min(n, max(vertical_size, sink_columns)) (MInference: min(n, max(v, 30))).
 *   4. Diagonals: offsets 0 .. local_diagonals-1 are always kept (MInference sets the last 100
 *      slash scores to +inf), then the best-scoring other offsets up to
 *      min(n, max(slash_size, local_diagonals)) diagonals in all.
 *   Ties go to the lower key / offset (baselines/estimate.h). The plan is columns + diagonals, for
 *   every row of the prompt, the last w rows included: MInference computes those rows through the
 *   same vertical-slash kernel (they are not kept dense; only its separate `tri_shape` method keeps
 *   the last rows dense). Diagonal 0 is always in the plan, so no row is empty.
 * Defaults: last_q 64, sink_columns 30 and local_diagonals 100 (MInference's constants).
 *   vertical_size 64 and slash_size 256 instead of the shipped Llama-3 budgets 1000 / 6096, which
 *   are for 128K-token prompts: at our 1K-4K prompts those would keep nearly every causal pair,
 *   and the same density ratio (~11% at 128K) scaled to 2K gives budgets below MInference's own
 *   floors (30 sinks + 100 local diagonals), leaving no input-dependent choice at all. 64 / 256
 *   keep 34 chosen columns and 156 chosen diagonals beyond the forced ones; measured density on
 *   SmolLM2 NIAH prompts 0.37 at n = 1024 and 0.21 at 2048 (0.64 on a 512-token passkey).
 * Simplified vs the original:
 *   - Slashes are exact diagonals (the paper's vertical-slash definition). MInference's kernel
 *     (convert_vertical_slash_indexes + the block-sparse FlashAttention part) computes each slash
 *     as a 64-key range per 64-row block, i.e. a band up to 64 keys wide around the diagonal, so the
 *     original attends to more pairs than its index set says; MaskPlan has no such row-dependent
 *     band, and the exact definition is what the method selects.
 *   - One pattern for every head: the offline per-head search (A-shape / vertical-slash /
 *     block-sparse with per-head budgets) is not run; the shipped configs are vertical-slash for
 *     every head too (MInference issue #120). starting_layer = 0 (every layer sparse).
 *   - With slash_size < local_diagonals MInference's top-k takes an unspecified subset of the
 *     forced diagonals (ties at +inf); here all forced ones are kept.
 * Parameters (every one a `param`, per layer / per layer × head): vertical_size, slash_size,
 * last_q, sink_columns, local_diagonals. Config: method "minference". */
#include <math.h>

#include "baselines/estimate.h"
#include "core/mem.h"
#include "harness/method.h"
#include "kernels/cuda/estimate.h"

/* Config keys of `minference`. */
typedef struct {
    param vertical_size;   /* columns per head (with the sinks), >= 1; default 64 */
    param slash_size;      /* diagonals per head (with the local ones), >= 1; default 256 */
    param last_q;          /* estimation rows, >= 1; default 64 */
    param sink_columns;    /* first keys always kept, >= 0; default 30 */
    param local_diagonals; /* offsets 0 .. local_diagonals-1 always kept, >= 1; default 100 */
} minference_params;

static void *minference_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "vertical_size", "slash_size", "last_q", "sink_columns",
                                       "local_diagonals", NULL};
    cfg_check_keys(c, keys);
    minference_params *p = dam_calloc(1, sizeof *p, "minference params");
    p->vertical_size = cfg_param(c, "vertical_size", 64, 1, 1 << 30, true);
    p->slash_size = cfg_param(c, "slash_size", 256, 1, 1 << 30, true);
    p->last_q = cfg_param(c, "last_q", 64, 1, 1 << 20, true);
    p->sink_columns = cfg_param(c, "sink_columns", 30, 0, 1 << 30, true);
    p->local_diagonals = cfg_param(c, "local_diagonals", 100, 1, 1 << 30, true);
    return p;
}

static void minference_prepare(method *m, const llama_model *model) {
    minference_params *p = m->params;
    method_check_param(m, "vertical_size", &p->vertical_size, model);
    method_check_param(m, "slash_size", &p->slash_size, model);
    method_check_param(m, "last_q", &p->last_q, model);
    method_check_param(m, "sink_columns", &p->sink_columns, model);
    method_check_param(m, "local_diagonals", &p->local_diagonals, model);
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }
static int param_int(const param *p, int layer, int head) { return (int)fmin(param_at(p, layer, head), 1 << 30); }

/* One head's budgets (definition steps 1, 3 and 4) for a prompt of n tokens. */
typedef struct {
    int w;     /* estimation rows */
    int sinks; /* forced columns 0 .. sinks-1 */
    int local; /* forced diagonals 0 .. local-1 */
    int kv;    /* columns in all */
    int ks;    /* diagonals in all */
} minference_budget;

static minference_budget budget_of(const minference_params *p, int layer, int head, int n) {
    minference_budget b;
    b.w = imin(param_int(&p->last_q, layer, head), n);
    b.sinks = imin(param_int(&p->sink_columns, layer, head), n);
    b.local = imin(param_int(&p->local_diagonals, layer, head), n);
    b.kv = imin(n, imax(param_int(&p->vertical_size, layer, head), b.sinks));
    b.ks = imin(n, imax(param_int(&p->slash_size, layer, head), b.local));
    return b;
}

static maskplan *minference_head(const method *m, int layer, int head, const est_head *h) {
    const int n = h->n;
    const minference_budget b = budget_of(m->params, layer, head, n);
    double *P = dam_malloc(sizeof(double) * (size_t)b.w * n, "minference estimate");
    double *score = dam_malloc(sizeof(double) * (size_t)n, "minference scores");
    int32_t *order = dam_malloc(sizeof(int32_t) * (size_t)n, "minference order");
    est_last_rows(h, b.w, P);
    maskplan *plan = maskplan_new();
    est_column_sums(P, b.w, n, score);
    for (int j = 0; j < b.sinks; j++) score[j] = INFINITY;
    est_top_k(score, n, b.kv, order);
    maskplan_set_cols(plan, order, b.kv);
    est_diagonal_sums(P, b.w, n, score);
    for (int o = 0; o < b.local; o++) score[o] = INFINITY;
    est_top_k(score, n, b.ks, order);
    maskplan_set_diags(plan, order, b.ks);
    dam_free(order);
    dam_free(score);
    dam_free(P);
    return plan;
}

static void minference_plan_layer(const method *m, int layer, const float *q, int q_stride, int n, const float *k,
                                  int kv_cap, int n_heads, int n_kv_heads, int d, maskplan **out) {
    est_plan_layer(m, layer, q, q_stride, n, k, kv_cap, n_heads, n_kv_heads, d, out, minference_head);
}

/* The same plans estimated on the GPU (kernels/cuda/estimate.h): column and diagonal sums of every
 * head, then the two top-k selections, on the device; only the chosen indices come back. */
static void minference_plan_layer_cuda(const method *m, int layer, const uint16_t *q, int q_stride, int n,
                                       const uint16_t *k, int kv_cap, int n_heads, int n_kv_heads, int d,
                                       est_cuda_ws *ws, maskplan **out) {
    /* rows 0 .. H-1 of the selection are the heads' columns, rows H .. 2H-1 their diagonals (the sums
     * come in one device array, est_cuda_vertical_slash), so one top-k call selects both */
    int *v = dam_malloc(sizeof(int) * 5 * (size_t)n_heads, "minference budgets");
    int *w = v, *forced = v + n_heads, *kk = v + 3 * n_heads; /* forced, kk: [2][n_heads] */
    int k_max = 1;
    for (int h = 0; h < n_heads; h++) {
        const minference_budget b = budget_of(m->params, layer, h, n);
        w[h] = b.w, forced[h] = b.sinks, forced[n_heads + h] = b.local, kk[h] = b.kv, kk[n_heads + h] = b.ks;
        k_max = imax(k_max, imax(b.kv, b.ks));
    }
    double *col, *diag;
    est_cuda_vertical_slash(ws, q, q_stride, k, kv_cap, n, n_heads, n_kv_heads, d, w, &col, &diag);
    int32_t *top = dam_malloc(sizeof(int32_t) * 2 * (size_t)n_heads * k_max, "minference columns and diagonals");
    est_cuda_top_k(ws, col, n, 2 * n_heads, forced, kk, top, k_max);
    for (int h = 0; h < n_heads; h++) {
        out[h] = maskplan_new();
        maskplan_set_cols(out[h], top + (size_t)h * k_max, kk[h]);
        maskplan_set_diags(out[h], top + (size_t)(n_heads + h) * k_max, kk[n_heads + h]);
    }
    dam_free(top);
    dam_free(v);
}

static void minference_free(void *params) {
    minference_params *p = params;
    param_free(&p->vertical_size);
    param_free(&p->slash_size);
    param_free(&p->last_q);
    param_free(&p->sink_columns);
    param_free(&p->local_diagonals);
    dam_free(p);
}

const method_ops MINFERENCE_OPS = {
    .kind = "minference",
    .summary = "MInference: vertical-slash columns + diagonals estimated from the last 64 queries",
    .parse = minference_parse,
    .prepare = minference_prepare,
    .plan_layer = minference_plan_layer,
    .plan_layer_cuda = minference_plan_layer_cuda,
    .free_params = minference_free,
};
