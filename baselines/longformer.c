/* longformer.c — `longformer`: Longformer's sliding window + global attention (Beltagy et al. 2020,
 * "Longformer: The Long-Document Transformer", §3.1), in causal form. Positions p (query), j (key),
 * always j <= p; n = prompt length. Kept iff
 *   window:        p − j < window (the `window` most recent keys, the query included);
 *   global head:   j < global_tokens (the first tokens are global: every later query attends them,
 *                  and they attend everything before them, which causally is only global tokens);
 *   global tail:   if global_tail > 0, with a = 64·⌊max(0, n − global_tail) / 64⌋ and
 *                  e = 64·(⌊(n − 1) / 64⌋ + 1): rows a <= p < e attend every earlier key (the
 *                  question at the end of the prompt attends the whole document), and
 *                  - global_decode = true (default): so does every later row p >= e (the generated
 *                    answer);
 *                  - global_decode = false: a later row p >= e attends the tail tokens a <= j < n
 *                    (everything attends the global tokens) besides its window and global head.
 * Longformer makes the question tokens global for QA and reads the answer off as a span; here the
 * answer is generated, and a generated token that cannot see the document cannot continue an answer
 * the question row started, so by default the rows after the prompt are global too (the harness's
 * dynamic methods likewise attend densely after the prompt); global_decode = false is the literal
 * prompt-only reading. The method sees no input, so the question is taken to be the last
 * `global_tail` prompt tokens (the passkey and niah questions plus answer prefixes are < 64 tokens).
 * The MaskPlan has no per-row part, so the global rows are expressed exactly as whole 64-row query
 * blocks of the `blocks` part (each listing all key blocks 0 .. qb): the global tail is rounded
 * outwards to block boundaries — up to 63 prompt rows before the last global_tail ones are global
 * too, and (global_decode = false) so are generated rows inside the prompt's last block (n .. e − 1).
 * The tail columns a .. n − 1 (global_decode = false) and the global head 0 .. global_tokens − 1 are
 * the `columns` part, the window is diagonals 0 .. window − 1. This is the definition the plan
 * implements exactly and tests/test_baselines.c checks cell by cell.
 * Defaults: window = 512 (Longformer's attention_window), global_tokens = 1 (its [CLS]-like first
 * token; for a decoder LLM the first token is also the attention sink), global_tail = 64,
 * global_decode = true.
 * Simplified: no dilation (use `dilated`), no separate global Q/K/V projections (Longformer trains
 * extra projections for global attention; a pretrained LLM has none, so global pairs use the
 * ordinary ones). Parameters: window, global_tokens, global_tail each a param (scalar, per layer, per
 * layer × head), integers; global_decode a boolean. */
#include "core/mem.h"
#include "harness/method.h"

/* Parameters (config keys window, global_tokens, global_tail). */
typedef struct {
    param window;        /* recent keys kept, the query included */
    param global_tokens; /* first positions that are global */
    param global_tail;   /* last prompt positions that are global (rounded out to 64-row blocks) */
    bool global_decode;  /* rows after the prompt are global too */
} longformer_params;

static void *longformer_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "window", "global_tokens", "global_tail", "global_decode", NULL};
    cfg_check_keys(c, keys);
    longformer_params *p = dam_calloc(1, sizeof *p, "longformer params");
    p->window = cfg_param(c, "window", 512, 1, 1 << 24, true);
    p->global_tokens = cfg_param(c, "global_tokens", 1, 0, 1 << 24, true);
    p->global_tail = cfg_param(c, "global_tail", 64, 0, 1 << 24, true);
    p->global_decode = cfg_bool(c, "global_decode", true);
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
    /* global query blocks a / 64 .. nqb − 1: to the prompt's last block, or to the last position */
    const long qb0 = a / MASKPLAN_BLOCK;
    const long nqb = tail <= 0 ? 0 : p->global_decode ? (n_total + MASKPLAN_BLOCK - 1) / MASKPLAN_BLOCK : (n - 1) / MASKPLAN_BLOCK + 1;
    const long n_tail_cols = tail > 0 && !p->global_decode ? n - a : 0, n_cols = gt + n_tail_cols;
    int32_t *v = dam_malloc(sizeof(int32_t) * (size_t)(w > n_cols ? w : n_cols) + 4, "longformer plan");
    maskplan *plan = maskplan_new();
    for (long r = 0; r < w; r++) v[r] = (int32_t)r;
    maskplan_set_diags(plan, v, (int)w);
    for (long i = 0; i < gt; i++) v[i] = (int32_t)i;
    for (long j = 0; j < n_tail_cols; j++) v[gt + j] = (int32_t)(a + j);
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
                                   .summary = "Longformer: sliding window + global first tokens + global question tail (and answer)",
                                   .parse = longformer_parse,
                                   .prepare = longformer_prepare,
                                   .plan = longformer_plan,
                                   .free_params = longformer_free};
