/* h2o.c — `h2o`: H2O, Heavy-Hitter Oracle (Zhang et al. 2023, "H2O: Heavy-Hitter Oracle for
 * Efficient Generative Inference of Large Language Models"): decode-time KV eviction that keeps the
 * keys with the largest accumulated attention ("heavy hitters") plus a recent window.
 *
 * Definition (per layer l and KV head g; p is a position, n the prompt length):
 *   prefill   the prompt attends with full (dense causal) attention, as H2O's real-drop
 *             implementation does, and nothing is evicted while it runs;
 *   score     S(j) = Σ over the query heads h of g's GQA group and every row p that has attended
 *             so far (prompt rows, then each later row) of P_h(p, j), the softmax probability row
 *             p of head h gave key j over the keys it attended (1/√d scale); computed by the
 *             attention context from q and the cached keys (harness/kv_evict.h), float64;
 *   budgets   heavy = `heavy`, or ⌊heavy_frac · n⌋ when `heavy` is absent; recent = `recent`, or
 *             ⌊recent_frac · n⌋ (H2O's int(ratio · length)); the values of the group's first query
 *             head, all heads of a group must agree (budgets are per KV head);
 *   eviction  after the prompt's last row (pos = n − 1) and after every later row pos: the recent
 *             window is the keys pos − recent < j <= pos (all still held); among the other held
 *             keys, the `heavy` ones with the largest S stay (ties: the lower position stays) and
 *             the rest are evicted for good. At most heavy + recent keys remain after each step.
 *   decode    each later row attends its KV head's held keys plus its own key (dense otherwise).
 * With heavy + recent >= the keys held nothing is evicted. Defaults heavy_frac = recent_frac = 0.1
 * (the H2O repository's lm-eval setting, --heavy_ratio 0.1 --recent_ratio 0.1: a 20% KV budget).
 * The DAM paper's baseline framework used 1024 heavy + 1024 recent tokens, which evicts nothing
 * below 2K-token prompts; give `heavy` / `recent` in tokens for that setting.
 * Simplified: no fp16; the score is summed over the query heads of a GQA group (H2O is
 * multi-head); H2O's lm-eval simulation also evicts among the prompt's own rows, the real-drop
 * code (followed here) only after the prompt. */
#include <math.h>
#include <string.h>

#include "baselines/estimate.h"
#include "core/error.h"
#include "core/mem.h"
#include "harness/method.h"

/* Parameters (config keys heavy, heavy_frac, recent, recent_frac); a token count of -1 means
 * "use the fraction". */
typedef struct {
    param heavy, heavy_frac, recent, recent_frac;
} h2o_params;

static void *h2o_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "heavy", "heavy_frac", "recent", "recent_frac", NULL};
    cfg_check_keys(c, keys);
    h2o_params *p = dam_calloc(1, sizeof *p, "h2o params");
    if (cfg_has(c, "heavy") && cfg_has(c, "heavy_frac")) cfg_fail(c, NULL, "give either heavy or heavy_frac, not both");
    if (cfg_has(c, "recent") && cfg_has(c, "recent_frac")) cfg_fail(c, NULL, "give either recent or recent_frac, not both");
    if (cfg_has(c, "heavy")) {
        p->heavy = cfg_param(c, "heavy", 0, 0, 1 << 24, true);
        p->heavy_frac = param_scalar(0);
    } else {
        p->heavy = param_scalar(-1);
        p->heavy_frac = cfg_param(c, "heavy_frac", 0.1, 0, 1, false);
    }
    if (cfg_has(c, "recent")) {
        p->recent = cfg_param(c, "recent", 0, 0, 1 << 24, true);
        p->recent_frac = param_scalar(0);
    } else {
        p->recent = param_scalar(-1);
        p->recent_frac = cfg_param(c, "recent_frac", 0.1, 0, 1, false);
    }
    return p;
}

/* Budgets are per KV head: every query head of a group must carry the group's values. */
static void check_group(const method *m, const char *key, const param *p, const llama_model *model) {
    method_check_param(m, key, p, model);
    const int group = model->cfg.n_heads / model->cfg.n_kv_heads;
    for (int l = 0; l < model->cfg.n_layers; l++)
        for (int h = 0; h < model->cfg.n_heads; h++)
            if (param_at(p, l, h) != param_at(p, l, h - h % group))
                dam_die(DAM_EXIT_INPUT, "method %s: %s differs between query heads %d and %d of layer %d, which share a "
                        "KV head (budgets are per KV head)", m->name, key, h - h % group, h, l);
}

static void h2o_prepare(method *m, const llama_model *model) {
    h2o_params *p = m->params;
    check_group(m, "heavy", &p->heavy, model);
    check_group(m, "heavy_frac", &p->heavy_frac, model);
    check_group(m, "recent", &p->recent, model);
    check_group(m, "recent_frac", &p->recent_frac, model);
}

/* A budget in tokens: the count, or ⌊frac · n⌋. */
static int budget(const param *count, const param *frac, int layer, int head, int n) {
    const double c = param_at(count, layer, head);
    return c >= 0 ? (int)c : (int)floor(param_at(frac, layer, head) * n);
}

static evict_kind h2o_evicts(const method *m) {
    (void)m;
    return EVICT_SCORED;
}

static void h2o_evict(const method *m, const evict_step *s, uint64_t *held) {
    const h2o_params *p = m->params;
    const int h0 = s->kv_head * s->group;
    const int heavy = budget(&p->heavy, &p->heavy_frac, s->layer, h0, s->n_prompt);
    const int recent = budget(&p->recent, &p->recent_frac, s->layer, h0, s->n_prompt);
    const int w0 = s->pos - recent + 1; /* keys >= w0 are the recent window */
    if (w0 <= 0) return;
    /* candidates: held keys before the window */
    int n = 0;
    for (int w = 0; w * 64 < w0; w++) {
        uint64_t bits = held[w];
        if ((w + 1) * 64 > w0) bits &= (1ull << (w0 - w * 64)) - 1;
        n += __builtin_popcountll(bits);
    }
    if (n <= heavy) return;
    int32_t *cand = dam_malloc(sizeof(int32_t) * (size_t)n, "h2o candidates");
    double *sc = dam_malloc(sizeof(double) * (size_t)n, "h2o candidates");
    int32_t *top = dam_malloc(sizeof(int32_t) * (size_t)(heavy > 0 ? heavy : 1), "h2o candidates");
    int i = 0;
    for (int w = 0; w * 64 < w0; w++) {
        uint64_t bits = held[w];
        if ((w + 1) * 64 > w0) bits &= (1ull << (w0 - w * 64)) - 1;
        for (; bits; bits &= bits - 1) {
            const int j = w * 64 + __builtin_ctzll(bits);
            cand[i] = j;
            sc[i++] = s->score[j];
        }
    }
    est_top_k(sc, n, heavy, top); /* score descending, ties to the lower index = the lower position */
    for (i = 0; i < n; i++) held[cand[i] / 64] &= ~(1ull << (cand[i] % 64));
    for (i = 0; i < heavy; i++) held[cand[top[i]] / 64] |= 1ull << (cand[top[i]] % 64);
    dam_free(top);
    dam_free(sc);
    dam_free(cand);
}

static void h2o_free(void *params) {
    h2o_params *p = params;
    param_free(&p->heavy);
    param_free(&p->heavy_frac);
    param_free(&p->recent);
    param_free(&p->recent_frac);
    dam_free(p);
}

const method_ops H2O_OPS = {.kind = "h2o",
                            .summary = "H2O: decode-time KV eviction, heavy hitters by accumulated attention + recent window",
                            .parse = h2o_parse,
                            .prepare = h2o_prepare,
                            .free_params = h2o_free,
                            .evicts = h2o_evicts,
                            .evict = h2o_evict};
