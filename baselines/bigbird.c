/* bigbird.c — `bigbird`: BigBird's block-sparse attention (Zaheer et al. 2020, "Big Bird:
 * Transformers for Longer Sequences", NeurIPS; the ITC variant of its §2 and App. D) in causal form.
 * Blocks of B = 64 tokens (MASKPLAN_BLOCK, BigBird's block size 64): query block qb = ⌊p / 64⌋,
 * key block kb = ⌊j / 64⌋, always with j <= p. Query block qb keeps key block kb iff
 *   global:  kb < global_blocks (every query block attends the first global_blocks key blocks; the
 *            global query blocks, qb < global_blocks, attend everything before them, which causally
 *            lies inside the global key blocks already);
 *   window:  qb − window_blocks < kb <= qb (the diagonal block and the window_blocks − 1 before it;
 *            so no row is empty);
 *   random:  kb in R(qb): min(random_blocks, m) distinct blocks drawn uniformly from the earlier
 *            blocks that are neither global nor in the window, [global_blocks, qb − window_blocks]
 *            (m blocks; all of them when m <= random_blocks).
 * R(qb) (exact, so tests can rebuild it): with core/rng.h's SplitMix64,
 *   a = rng_seed(seed, layer); b = rng_seed(rng_next(&a), head); r = rng_seed(rng_next(&b), qb);
 *   Floyd's sampling of k = min(random_blocks, m) values from [0, m): for i = m − k .. m − 1,
 *   t = rng_range(&r, 0, i); take t unless already taken, else take i; kb = global_blocks + value.
 * So the plan depends on (seed, layer, head, block) only — never on the prompt length or on what
 * ran before (HF's BigBird switches to dense attention below ~700 tokens and, per
 * huggingface/transformers#20031, never switches back; here short inputs just have few blocks) —
 * and different heads and layers get different random blocks. As a MaskPlan: the `blocks` part for
 * every query block up to position n_total − 1.
 * Defaults (BigBird-ITC, HF BigBirdConfig): global_blocks = 2, window_blocks = 3, random_blocks = 3,
 * seed = 0. Simplified: BigBird's window is centred (one block each side) and its random blocks may
 * lie anywhere; causally the window is the diagonal block and the 2 before it and random blocks are
 * earlier blocks. Parameters: each a param (scalar, per layer, per layer × head), integers. */
#include "core/mem.h"
#include "core/rng.h"
#include "harness/method.h"

/* Parameters (config keys global_blocks, window_blocks, random_blocks, seed). */
typedef struct {
    param global_blocks; /* first key blocks every query block attends */
    param window_blocks; /* the diagonal block and the ones before it, >= 1 */
    param random_blocks; /* random earlier blocks per query block */
    param seed;          /* random block seed */
} bigbird_params;

static void *bigbird_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "global_blocks", "window_blocks", "random_blocks", "seed", NULL};
    cfg_check_keys(c, keys);
    bigbird_params *p = dam_calloc(1, sizeof *p, "bigbird params");
    p->global_blocks = cfg_param(c, "global_blocks", 2, 0, 1 << 20, true);
    p->window_blocks = cfg_param(c, "window_blocks", 3, 1, 1 << 20, true);
    p->random_blocks = cfg_param(c, "random_blocks", 3, 0, 1 << 20, true);
    p->seed = cfg_param(c, "seed", 0, 0, 4294967295.0, true);
    return p;
}

static void bigbird_prepare(method *m, const llama_model *model) {
    bigbird_params *p = m->params;
    method_check_param(m, "global_blocks", &p->global_blocks, model);
    method_check_param(m, "window_blocks", &p->window_blocks, model);
    method_check_param(m, "random_blocks", &p->random_blocks, model);
    method_check_param(m, "seed", &p->seed, model);
}

static maskplan *bigbird_plan(const method *m, int layer, int head, int n, int n_total) {
    (void)n;
    const bigbird_params *p = m->params;
    const long g = (long)param_at(&p->global_blocks, layer, head), w = (long)param_at(&p->window_blocks, layer, head);
    const long r = (long)param_at(&p->random_blocks, layer, head);
    const uint64_t seed = (uint64_t)param_at(&p->seed, layer, head);
    const int nqb = (n_total + MASKPLAN_BLOCK - 1) / MASKPLAN_BLOCK;
    rng_t a = rng_seed(seed, (uint64_t)layer);
    rng_t b = rng_seed(rng_next(&a), (uint64_t)head);
    const uint64_t head_seed = rng_next(&b);

    int32_t *ptr = dam_malloc(sizeof(int32_t) * (size_t)(nqb + 1), "bigbird plan");
    size_t cap = 64, used = 0;
    int32_t *idx = dam_malloc(sizeof(int32_t) * cap, "bigbird plan");
    int32_t *pick = dam_malloc(sizeof(int32_t) * (size_t)(nqb + 1), "bigbird plan"); /* Floyd's sample */
    ptr[0] = 0;
    for (long qb = 0; qb < nqb; qb++) {
        const long m_cand = qb - w - g + 1 > 0 ? qb - w - g + 1 : 0; /* candidates [g, qb − w] */
        const long k = r < m_cand ? r : m_cand;
        const long need = (g < qb + 1 ? g : qb + 1) + (w < qb + 1 ? w : qb + 1) + k;
        if (used + (size_t)need > cap) {
            while (used + (size_t)need > cap) cap *= 2;
            idx = dam_realloc(idx, sizeof(int32_t) * cap, "bigbird plan");
        }
        for (long kb = 0; kb < g && kb <= qb; kb++) idx[used++] = (int32_t)kb;
        for (long kb = qb - w + 1 > 0 ? qb - w + 1 : 0; kb <= qb; kb++) idx[used++] = (int32_t)kb;
        rng_t rr = rng_seed(head_seed, (uint64_t)qb);
        long got = 0;
        for (long i = m_cand - k; i < m_cand; i++) {
            long t = rng_range(&rr, 0, i), taken = 0;
            for (long u = 0; u < got; u++) taken |= pick[u] == t;
            pick[got++] = (int32_t)(taken ? i : t);
        }
        for (long u = 0; u < got; u++) idx[used++] = (int32_t)(g + pick[u]);
        ptr[qb + 1] = (int32_t)used; /* sorted and de-duplicated by maskplan_set_blocks */
    }
    maskplan *plan = maskplan_new();
    maskplan_set_blocks(plan, nqb, ptr, idx);
    dam_free(pick);
    dam_free(idx);
    dam_free(ptr);
    return plan;
}

static void bigbird_free(void *params) {
    bigbird_params *p = params;
    param_free(&p->global_blocks);
    param_free(&p->window_blocks);
    param_free(&p->random_blocks);
    param_free(&p->seed);
    dam_free(p);
}

const method_ops BIGBIRD_OPS = {.kind = "bigbird",
                                .summary = "BigBird block-sparse (64-token blocks): global + window + seeded random blocks",
                                .parse = bigbird_parse,
                                .prepare = bigbird_prepare,
                                .plan = bigbird_plan,
                                .free_params = bigbird_free};
