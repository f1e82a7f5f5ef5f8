/* longformer.c — `longformer`: Longformer's sliding window + global attention (Beltagy et al. 2020,
 * "Longformer: The Long-Document Transformer", §3.1), in causal form. Positions p (query), j (key),
 * always j <= p; n = prompt length. Kept iff
 *   window:        p − j < window (the `window` most recent keys, the query included);
 *   global head:   j < global_tokens (the first tokens are global: every later query attends them,
 *                  and they attend everything before them, which causally is only global tokens);
 *   global tail:   if global_tail > 0, let a = 64·⌊max(0, n − global_tail) / 64⌋ and
 *                  e = 64·(⌊(n − 1) / 64⌋ + 1): rows a <= p < e attend every earlier key (the question
 *                  attends the whole document), and every later row p >= e attends the tail tokens
 *                  a <= j < n (everything attends the global tokens).
 * Longformer makes the question tokens global for QA; the method sees no input here, so the global
 * span is the last `global_tail` prompt tokens, where the harness's prompts put the question
 * (passkey and niah questions plus answer prefixes are < 64 tokens). The MaskPlan has no per-row
 * part, so the tail rows are expressed exactly as whole 64-row query blocks of the `blocks` part
 * (each listing all key blocks 0 .. qb): the global tail is rounded outwards to block boundaries —
 * up to 63 prompt rows before the last global_tail ones are global too, and so are decode rows that
 * fall in the prompt's last block (positions n .. e − 1). The tail columns a .. n − 1 are the
 * `columns` part (with 0 .. global_tokens − 1); the window is diagonals 0 .. window − 1. This is
 * the definition the plan implements exactly and tests/test_baselines.c checks cell by cell.
 * Defaults: window = 512 (Longformer's attention_window), global_tokens = 1 (its [CLS]-like first
 * token; for a decoder LLM the first token is also the attention sink), global_tail = 64.
 * Simplified: no dilation (use `dilated`), no separate global Q/K/V projections (Longformer trains
 * extra projections for global attention; a pretrained LLM has none, so global pairs use the
 * ordinary ones). Parameters: each a param (scalar, per layer, per layer × head), integers. */
#include "core/mem.h"
#include "harness/method.h"

/* Parameters (config keys window, global_tokens, global_tail). */
typedef struct {
    param window;        /* recent keys kept, the query included */
    param global_tokens; /* first positions that are global */
    param global_tail;   /* last prompt positions that are global (rounded out to 64-row blocks) */
} longformer_params;

static void *longformer_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "window", "global_tokens", "global_tail", NULL};
    cfg_check_keys(c, keys);
    longformer_params *p = dam_calloc(1, sizeof *p, "longformer params");
    p->window = cfg_param(c, "window", 512, 1, 1 << 24, true);
    p->global_tokens = cfg_param(c, "global_tokens", 1, 0, 1 << 24, true);
    p->global_tail = cfg_param(c, "global_tail", 64, 0, 1 << 24, true);
    return p;
}

static void longformer_prepare(method *m, const llama_model *model) {
    longformer_params *p = m->params;
    method_check_param(m, "window", &p->window, model);
    method_check_param(m, "global_tokens", &p->global_tokens, model);
    method_check_param(m, "global_tail", &p->global_tail, model);
}

static maskplan *longformer_plan(const method *m, int layer, int head, int n, int n_total) {
    const longformer_params *p = m->params;
    long w = (long)param_at(&p->window, layer, head), gt = (long)param_at(&p->global_tokens, layer, head);
    const long tail = (long)param_at(&p->global_tail, layer, head);
    if (w > n_total) w = n_total; /* offsets and positions >= n_total never apply */
    if (gt > n_total) gt = n_total;
    const long a = tail > 0 ? (n - tail > 0 ? n - tail : 0) / MASKPLAN_BLOCK * MASKPLAN_BLOCK : n;
    const long qb0 = a / MASKPLAN_BLOCK, nqb = tail > 0 ? (n - 1) / MASKPLAN_BLOCK + 1 : 0;
    const long n_cols = gt + (n - a);
    int32_t *v = dam_malloc(sizeof(int32_t) * (size_t)(w > n_cols ? w : n_cols) + 4, "longformer plan");
    maskplan *plan = maskplan_new();
    for (long r = 0; r < w; r++) v[r] = (int32_t)r;
    maskplan_set_diags(plan, v, (int)w);
    for (long i = 0; i < gt; i++) v[i] = (int32_t)i;
    for (long j = a; j < n; j++) v[gt + j - a] = (int32_t)j;
    maskplan_set_cols(plan, v, (int)n_cols);
    dam_free(v);
    if (nqb > 0) {
        int32_t *ptr = dam_malloc(sizeof(int32_t) * (size_t)(nqb + 1), "longformer plan");
        const long total = (nqb - qb0) * (qb0 + nqb + 1) / 2; /* Σ (qb + 1) over qb0 .. nqb − 1 */
        int32_t *idx = dam_malloc(sizeof(int32_t) * (size_t)(total > 0 ? total : 1), "longformer plan");
        long used = 0;
        ptr[0] = 0;
        for (long qb = 0; qb < nqb; qb++) {
            if (qb >= qb0)
                for (long kb = 0; kb <= qb; kb++) idx[used++] = (int32_t)kb;
            ptr[qb + 1] = (int32_t)used;
        }
        maskplan_set_blocks(plan, (int)nqb, ptr, idx);
        dam_free(idx);
        dam_free(ptr);
    }
    return plan;
}

static void longformer_free(void *params) {
    longformer_params *p = params;
    param_free(&p->window);
    param_free(&p->global_tokens);
    param_free(&p->global_tail);
    dam_free(p);
}

const method_ops LONGFORMER_OPS = {.kind = "longformer",
                                   .summary = "Longformer: sliding window + global first tokens + global question tail",
                                   .parse = longformer_parse,
                                   .prepare = longformer_prepare,
                                   .plan = longformer_plan,
                                   .free_params = longformer_free};
