/* online.c — `dam_online`: this project's context-aware, zero-shot DAM variant (docs/dam-spec.md §3).
 * It is NOT the paper's method (that is `dam`, input-independent masks from calibration): it
 * rebuilds DAM's steps per input from a cheap estimate of the attention map, adds a coverage gate,
 * and needs no calibration or training.
 *
 * Definition, per layer and query head, for a prompt of n tokens, block size B = 64,
 * nb = ceil(n / B), probe rows W = min(last_q, n) (positions n-W .. n-1):
 *   (a) Estimate. Token level: the probe rows attend exactly, P[r][j] = softmax_j(q_i · k_j /
 *       sqrt(d)) for i = n-W+r, causal. Block level: block means q̄_qb, k̄_kb (the last block
 *       averages its real rows) and A[qb][kb] = softmax over kb <= qb of q̄_qb · k̄_kb / sqrt(d).
 *   (b) Box-Cox + τ, on dam's scale (dam/stage1.h): Ã(p) = B(max(p, ε)) − B(ε) with the Box-Cox
 *       transform B of exponent λ; a cell is on iff Ã(p) >= τ. Token cells: (i, j), j <= i, of
 *       the probe rows with p = P. Block cells: every causal (i, j) of block (qb, kb) with
 *       p = A[qb][kb] / c(i, kb), c(i, kb) = the causal keys of row i in block kb (the block's mass
 *       spread evenly over them).
 *   (c) Pattern matching (μ), as dam's γ = on cells / cells: column c over the probe cells (i, c),
 *       i >= c; diagonal r over the probe cells (i, i − r), i >= r; block (qb, kb) over its
 *       causal cells. A pattern matches iff γ >= μ and it has >= min_pattern_cells cells. Plan:
 *       the matched columns, the matched diagonals plus diagonal 0, the matched blocks.
 *   (d) Gate. coverage(plan) = mean over the probe rows of the P mass the plan keeps. While it is
 *       below `coverage`: depth t = 1, 2, ...: every query block qb adds its t-th key block in
 *       descending A[qb][·] (ties: lower kb; nothing once t > qb + 1), i.e. the probe rows decide
 *       how deep into its own block ranking every query block goes. If all causal blocks are
 *       needed, or the resulting plan keeps more than max_density of the causal pairs, the head
 *       is dense.
 *   (e) mask_mode "soft" (dam-spec §3: a log w logit bias from the estimate instead of a hard 0/1
 *       decision). Steps (a)-(d) run unchanged, so a head is dense in soft mode iff it is dense in
 *       hard mode, and a non-dense head keeps everything the hard plan keeps, at weight 1 (its
 *       columns, diagonals and blocks). The block decision the hard plan made with a 0 becomes a
 *       weight: every causal block (qb, kb) the hard plan does not keep gets
 *       w = A[qb][kb] / max_kb' A[qb][kb'] (the block map's importance relative to the query
 *       block's best key block, in (0, 1]) and is kept with the logit bias log w (MaskPlan's block
 *       bias) if w >= w_min; blocks with w < w_min stay dropped (by the estimate they carry under
 *       w_min of the best block's mass, and dropping them keeps the plan small when the map is
 *       peaked). Pairs of such a block that a column or diagonal keeps weigh 1 (MaskPlan's rule).
 *       max_density applies to the hard part only; the soft plan's kept pairs can exceed it.
 * Short patterns never extrapolate: a column c > n-W or a diagonal r > n-W only covers probe
 * rows, exactly the cells it was matched on.
 * Defaults: λ 0.5, ε 1e-10, τ 0.3, μ 0.8, min_pattern_cells 0 (dam's, so τ means the same
 *   thing), last_q 64, coverage 0.95, max_density 0.5 (above that a dense pass is the cheaper
 *   and exact choice), mask_mode "hard"; with "soft", w_min 1e-3 (a key only for soft: given with
 *   "hard" it is refused).
 * Cost per head: O(W · n · d) for the probe rows (one sgemm), O(n · d + nb² · d) for the block
 * map, O(W · n + nb²) for matching, the gate and the soft weights. A soft plan holds up to
 * nb (nb + 1) / 2 listed blocks (8 bytes each with the bias).
 * Parameters (each a `param`): lambda, epsilon, tau, mu, min_pattern_cells, last_q, coverage,
 * max_density, w_min. Config: method "dam_online". */
#include <math.h>
#include <string.h>

#include "baselines/estimate.h"
#include "core/mem.h"
#include "dam/stage1.h"
#include "harness/method.h"
#include "kernels/cuda/estimate.h"

enum { DO_BLOCK = MASKPLAN_BLOCK };

/* Config keys of `dam_online`. */
typedef struct {
    param lambda, epsilon, tau, mu; /* Box-Cox λ, ε, true-mask τ, match μ (dam's meaning) */
    param min_pattern_cells;        /* patterns with fewer cells never match; default 0 */
    param last_q;                   /* probe rows, >= 1; default 64 */
    param coverage;                 /* target kept mass on the probe rows, (0, 1]; default 0.95 */
    param max_density;              /* dense above this plan density, (0, 1]; default 0.5 */
    bool soft;                      /* mask_mode "soft": step (e) */
    param w_min;                    /* soft: smallest block weight kept, (0, 1]; default 1e-3 */
} dam_online_params;

static void *dam_online_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "lambda", "epsilon", "tau", "mu", "min_pattern_cells",
                                       "last_q", "coverage", "max_density", "mask_mode", "w_min", NULL};
    cfg_check_keys(c, keys);
    dam_online_params *p = dam_calloc(1, sizeof *p, "dam_online params");
    p->lambda = cfg_param(c, "lambda", 0.5, -5, 5, false);
    p->epsilon = cfg_param(c, "epsilon", 1e-10, 1e-300, 0.999999, false);
    p->tau = cfg_param(c, "tau", 0.3, 0, 1e30, false);
    p->mu = cfg_param(c, "mu", 0.8, 0, 1, false);
    p->min_pattern_cells = cfg_param(c, "min_pattern_cells", 0, 0, 1 << 30, true);
    p->last_q = cfg_param(c, "last_q", 64, 1, 1 << 20, true);
    p->coverage = cfg_param(c, "coverage", 0.95, 1e-9, 1, false);
    p->max_density = cfg_param(c, "max_density", 0.5, 1e-9, 1, false);
    char *mode = cfg_str(c, "mask_mode", "hard", false);
    if (strcmp(mode, "hard") != 0 && strcmp(mode, "soft") != 0)
        cfg_fail(c, "mask_mode", "\"%s\" must be \"hard\" or \"soft\"", mode);
    p->soft = strcmp(mode, "soft") == 0;
    dam_free(mode);
    if (p->soft) p->w_min = cfg_param(c, "w_min", 1e-3, 1e-300, 1, false);
    else if (json_object_get(c->obj, "w_min"))
        cfg_fail(c, "w_min", "applies to mask_mode \"soft\" only");
    else p->w_min = param_scalar(1e-3); /* unused */
    return p;
}

static void dam_online_prepare(method *m, const llama_model *model) {
    dam_online_params *p = m->params;
    const char *names[] = {"lambda",  "epsilon",  "tau",         "mu",   "min_pattern_cells",
                           "last_q",  "coverage", "max_density", "w_min"};
    const param *ps[] = {&p->lambda, &p->epsilon, &p->tau, &p->mu, &p->min_pattern_cells, &p->last_q, &p->coverage,
                         &p->max_density, &p->w_min};
    for (int i = 0; i < 9; i++) method_check_param(m, names[i], ps[i], model);
}

/* Decides Ã(p) >= τ (step b) with dam_amplify, skipping the pow() for the cells far from the
 * boundary: Ã is increasing in p, so the cut p* solving Ã(p*) = τ is computed once and only
 * cells within 1e-9 (relative) of it are evaluated exactly. */
typedef struct {
    dam_params dp;
    double base; /* B(ε): Ã(p) = B(max(p, ε)) − B(ε) */
    double tau;
    double cut;  /* p*; +inf when no p reaches τ */
} on_rule;

static on_rule on_rule_new(double lambda, double eps, double tau) {
    on_rule o = {.dp = {.L = 1, .lambda = lambda, .eps = eps}, .tau = tau};
    o.base = dam_amplify(0.0, &o.dp);
    const double b = o.base + tau;
    if (lambda == 0) o.cut = exp(b);
    else {
        const double x = lambda * b + 1.0; /* B(p*) = b  <=>  p*^λ = λ b + 1 */
        o.cut = x > 0 ? pow(x, 1.0 / lambda) : INFINITY;
    }
    return o;
}

static inline bool on_cell(const on_rule *o, double p) {
    const double v = p > o->dp.eps ? p : o->dp.eps;
    if (v < o->cut * (1 - 1e-9)) return false;
    if (v > o->cut * (1 + 1e-9)) return true;
    return dam_amplify(p, &o->dp) - o->base >= o->tau;
}

/* The gate's state: per probe row, which keys the plan keeps (bit j % 64 of word j / 64) and the
 * P mass they hold. */
typedef struct {
    int W, n, words, i0;
    uint64_t *kept; /* [W][words] */
    double mass;    /* sum over probe rows of the kept P mass */
} gate;

/* Adds key block kb to probe row r (if causal) and its newly kept mass. */
static void gate_add(gate *g, const double *P, int r, int kb) {
    const int i = g->i0 + r, j0 = kb * DO_BLOCK;
    if (j0 > i) return;
    const int t = i - j0; /* keys j0 .. i are causal */
    const uint64_t causal = t >= 63 ? ~0ull : (2ull << t) - 1;
    uint64_t *w = &g->kept[(size_t)r * g->words + kb], add = causal & ~*w;
    *w |= add;
    const double *pr = P + (size_t)r * g->n + j0;
    for (; add; add &= add - 1) g->mass += pr[__builtin_ctzll(add)];
}

/* Step (e) on a hard plan that is not dense: every causal block (qb, kb) that keep [nb][nb] does not
 * hold gets w = A[qb][kb] / max over kb' of A[qb][kb'] and is kept with the bias log w if w >= w_min.
 * keep is updated; the plan's blocks and bias matrix are replaced. */
static void soften(maskplan *plan, const double *A, uint8_t *keep, int nb, double w_min) {
    float *bias = dam_calloc((size_t)nb * nb, sizeof(float), "dam_online soft weights");
    for (int qb = 0; qb < nb; qb++) {
        const double *row = A + (size_t)qb * nb;
        double mx = 0;
        for (int kb = 0; kb <= qb; kb++) mx = row[kb] > mx ? row[kb] : mx;
        for (int kb = 0; kb <= qb; kb++) {
            const double w = row[kb] / mx;
            if (keep[(size_t)qb * nb + kb] || !(w >= w_min)) continue;
            keep[(size_t)qb * nb + kb] = 1;
            bias[(size_t)qb * nb + kb] = w < 1 ? (float)log(w) : 0.0f;
        }
    }
    est_set_blocks(plan, nb, nb, keep);
    maskplan_set_block_bias_matrix(plan, bias, nb);
    dam_free(bias);
}

static maskplan *dam_online_head(const method *m, int layer, int head, const est_head *h) {
    const dam_online_params *p = m->params;
    const int n = h->n, d = h->d, B = DO_BLOCK, nb = (n + B - 1) / B;
    int W = (int)fmin(param_at(&p->last_q, layer, head), n);
    const int i0 = n - W;
    const on_rule rule = on_rule_new(param_at(&p->lambda, layer, head), param_at(&p->epsilon, layer, head),
                                     param_at(&p->tau, layer, head));
    const double mu = param_at(&p->mu, layer, head), min_cells = param_at(&p->min_pattern_cells, layer, head);
    const double target = param_at(&p->coverage, layer, head);
#define ON(prob) on_cell(&rule, (prob))

    /* (a) token-level estimate of the probe rows */
    double *P = dam_malloc(sizeof(double) * (size_t)W * n, "dam_online estimate");
    est_last_rows(h, W, P);

    /* (b, c) columns and diagonals: on cells per pattern over the probe rows */
    int32_t *hit_c = dam_calloc((size_t)n, sizeof(int32_t), "dam_online columns");
    int32_t *hit_d = dam_calloc((size_t)n, sizeof(int32_t), "dam_online diagonals");
    for (int r = 0; r < W; r++) {
        const int i = i0 + r;
        for (int j = 0; j <= i; j++)
            if (ON(P[(size_t)r * n + j])) hit_c[j]++, hit_d[i - j]++;
    }
    int32_t *sel = dam_malloc(sizeof(int32_t) * (size_t)(n + 1), "dam_online patterns");
    int ns = 0;
    for (int c = 0; c < n; c++) { /* cells of column c and of diagonal c: the probe rows i >= c */
        const int cells = n - (c > i0 ? c : i0);
        if (cells >= min_cells && (double)hit_c[c] / cells >= mu) sel[ns++] = c;
    }
    maskplan *plan = maskplan_new();
    maskplan_set_cols(plan, sel, ns);
    ns = 0;
    sel[ns++] = 0; /* diagonal 0: no row is empty */
    for (int r = 0; r < n; r++) {
        const int cells = n - (r > i0 ? r : i0);
        if (cells >= min_cells && (double)hit_d[r] / cells >= mu) sel[ns++] = r;
    }
    maskplan_set_diags(plan, sel, ns);

    /* (a) block map; (b, c) matched blocks */
    double *qbar = dam_malloc(sizeof(double) * (size_t)nb * d, "dam_online query means");
    double *kbar = dam_malloc(sizeof(double) * (size_t)nb * d, "dam_online key means");
    double *A = dam_malloc(sizeof(double) * (size_t)nb * nb, "dam_online block map"); /* [qb][kb], kb <= qb */
    uint8_t *keep = dam_calloc((size_t)nb * nb, 1, "dam_online blocks");
    est_block_means(h->q, h->q_stride, n, d, B, qbar);
    est_block_means(h->k, d, n, d, B, kbar);
    const double scale = 1.0 / sqrt((double)d);
    for (int qb = 0; qb < nb; qb++) {
        double *row = A + (size_t)qb * nb, mx = -INFINITY, sum = 0;
        for (int kb = 0; kb <= qb; kb++) {
            double z = 0;
            for (int c = 0; c < d; c++) z += qbar[(size_t)qb * d + c] * kbar[(size_t)kb * d + c];
            row[kb] = z * scale;
            if (row[kb] > mx) mx = row[kb];
        }
        for (int kb = 0; kb <= qb; kb++) sum += row[kb] = exp(row[kb] - mx);
        const int r0 = qb * B, r1 = r0 + B < n ? r0 + B : n;
        for (int kb = 0; kb <= qb; kb++) {
            row[kb] /= sum;
            const int j0 = kb * B, j1 = j0 + B < n ? j0 + B : n;
            double on = 0, cells = 0;
            for (int i = r0; i < r1; i++) { /* row i keeps c = its causal keys of the block */
                const int c = (i < j1 ? i + 1 : j1) - j0;
                cells += c;
                if (ON(row[kb] / c)) on += c;
            }
            if (cells >= min_cells && on / cells >= mu) keep[(size_t)qb * nb + kb] = 1;
        }
        for (int kb = qb + 1; kb < nb; kb++) row[kb] = 0;
    }
    est_set_blocks(plan, nb, nb, keep);

    /* (d) the gate on the probe rows */
    gate g = {W, n, (n + 63) / 64, i0, dam_calloc((size_t)W * ((n + 63) / 64), sizeof(uint64_t), "dam_online gate"), 0};
    for (int r = 0; r < W; r++)
        for (int wd = 0; wd < g.words; wd++) {
            uint64_t bits = maskplan_row_word(plan, i0 + r, (int64_t)wd * 64);
            g.kept[(size_t)r * g.words + wd] = bits;
            for (; bits; bits &= bits - 1) g.mass += P[(size_t)r * n + wd * 64 + __builtin_ctzll(bits)];
        }
    bool dense = false;
    if (g.mass < target * W) {
        int32_t *rank = dam_malloc(sizeof(int32_t) * (size_t)nb * nb, "dam_online ranks"); /* [qb][t] */
        for (int qb = 0; qb < nb; qb++) est_order_desc(A + (size_t)qb * nb, qb + 1, rank + (size_t)qb * nb);
        int t = 0;
        for (; t < nb && g.mass < target * W; t++) {
            for (int qb = t; qb < nb; qb++) keep[(size_t)qb * nb + rank[(size_t)qb * nb + t]] = 1;
            for (int r = 0; r < W; r++) {
                const int qb = (i0 + r) / B;
                if (t <= qb) gate_add(&g, P, r, rank[(size_t)qb * nb + t]);
            }
        }
        dense = t >= nb; /* every causal block is kept */
        dam_free(rank);
        if (!dense) est_set_blocks(plan, nb, nb, keep);
    }
    if (!dense && maskplan_density(plan, n) > param_at(&p->max_density, layer, head)) dense = true;
    if (dense) {
        maskplan_free(plan);
        plan = maskplan_dense();
    } else if (p->soft) {
        soften(plan, A, keep, nb, param_at(&p->w_min, layer, head));
    }
#undef ON
    dam_free(g.kept);
    dam_free(keep);
    dam_free(A);
    dam_free(kbar);
    dam_free(qbar);
    dam_free(sel);
    dam_free(hit_d);
    dam_free(hit_c);
    dam_free(P);
    return plan;
}

static void dam_online_plan_layer(const method *m, int layer, const float *q, int q_stride, int n, const float *k,
                                  int kv_cap, int n_heads, int n_kv_heads, int d, maskplan **out) {
    est_plan_layer(m, layer, q, q_stride, n, k, kv_cap, n_heads, n_kv_heads, d, out, dam_online_head);
}

/* The plan of head h from the GPU's patterns (sel: [n] columns then [n] diagonals) and blocks
 * ([nb][words] bits, the gate's deepening included), or NULL when the GPU found it dense (every causal
 * block needed, or r->kept above max_density of the causal pairs: the same count maskplan_density
 * takes). Soft mode (A: the head's block map [nb][nb], else NULL) adds the weighted blocks (step e). */
static maskplan *plan_from_gpu(const dam_online_params *p, int layer, int h, int n, const est_dam_online_result *r,
                               const uint8_t *sel, const uint64_t *blocks, const double *A) {
    const int nb = (n + DO_BLOCK - 1) / DO_BLOCK, words = (nb + 63) / 64;
    if (r->depth >= nb || (double)r->kept / ((double)n * (double)(n + 1) / 2.0) > param_at(&p->max_density, layer, h))
        return maskplan_dense();
    maskplan *plan = maskplan_new();
    est_set_patterns(plan, n, sel);
    maskplan_set_blocks_bits(plan, nb, nb, blocks);
    if (A) {
        uint8_t *keep = dam_malloc((size_t)nb * nb, "dam_online blocks");
        for (int qb = 0; qb < nb; qb++)
            for (int kb = 0; kb < nb; kb++) keep[(size_t)qb * nb + kb] = blocks[(size_t)qb * words + kb / 64] >> (kb % 64) & 1;
        soften(plan, A, keep, nb, param_at(&p->w_min, layer, h));
        dam_free(keep);
    }
    return plan;
}

/* The same plans with steps (a)-(d) on the GPU (est_cuda_dam_online): hard mode, all heads of the
 * layer in one call, then the plans of the heads that are not dense on the host, OpenMP over heads;
 * soft mode, one head per call (so one block map is held at a time). The gate adds sums of P per
 * (probe row, block) and per depth, so its coverage can differ from the CPU's by rounding. */
static void dam_online_plan_layer_cuda(const method *m, int layer, const uint16_t *q, int q_stride, int n,
                                       const uint16_t *k, int kv_cap, int n_heads, int n_kv_heads, int d,
                                       est_cuda_ws *ws, maskplan **out) {
    const dam_online_params *p = m->params;
    const int B = DO_BLOCK, nb = (n + B - 1) / B, words = (nb + 63) / 64;
    est_dam_online_head *par = dam_malloc(sizeof *par * (size_t)n_heads, "dam_online head settings");
    for (int h = 0; h < n_heads; h++) {
        const on_rule rule = on_rule_new(param_at(&p->lambda, layer, h), param_at(&p->epsilon, layer, h),
                                         param_at(&p->tau, layer, h));
        par[h] = (est_dam_online_head){(int)fmin(param_at(&p->last_q, layer, h), n),
                                       {rule.dp.eps, rule.dp.lambda, rule.base, rule.tau, rule.cut},
                                       param_at(&p->mu, layer, h), param_at(&p->min_pattern_cells, layer, h),
                                       param_at(&p->coverage, layer, h)};
    }
    est_dam_online_result *res = dam_malloc(sizeof *res * (size_t)n_heads, "dam_online gate results");
    /* sel [H][columns | diagonals] bytes, then blocks [H][nb][words] in ws's page-locked buffer (ws
     * owns it): the copies back run at full speed and write no freshly mapped pages (run 78: with
     * malloc'd buffers, ~0.24 ms of a 0.75 ms estimate at 32K was outside the kernels) */
    const size_t sel_bytes = ((size_t)n_heads * 2 * n + 7) & ~(size_t)7;
    uint8_t *sel = est_cuda_host_buffer(ws, sel_bytes + sizeof(uint64_t) * (size_t)n_heads * nb * words);
    uint64_t *blocks = (uint64_t *)(sel + sel_bytes);
    if (p->soft) {
        double *A = dam_malloc(sizeof(double) * (size_t)nb * nb, "dam_online block map");
        for (int h = 0; h < n_heads; h++) {
            uint8_t *sh = sel + (size_t)h * 2 * n;
            uint64_t *bh = blocks + (size_t)h * nb * words;
            est_cuda_dam_online(ws, q, q_stride, k, kv_cap, n, n_heads, n_kv_heads, d, h, h + 1, par + h, res + h, sh, bh);
            if (res[h].depth < nb) est_cuda_dam_online_map(ws, n, A);
            out[h] = plan_from_gpu(p, layer, h, n, res + h, sh, bh, A);
        }
        dam_free(A);
    } else {
        est_cuda_dam_online(ws, q, q_stride, k, kv_cap, n, n_heads, n_kv_heads, d, 0, n_heads, par, res, sel, blocks);
        int sparse = 0;
        for (int h = 0; h < n_heads; h++) sparse += res[h].depth < nb;
#pragma omp parallel for schedule(dynamic, 1) if (sparse > 1)
        for (int h = 0; h < n_heads; h++) /* host: the plans of the heads that are not dense */
            out[h] = plan_from_gpu(p, layer, h, n, res + h, sel + (size_t)h * 2 * n, blocks + (size_t)h * nb * words, NULL);
    }
    dam_free(res);
    dam_free(par);
}

static void dam_online_free(void *params) {
    dam_online_params *p = params;
    param *ps[] = {&p->lambda, &p->epsilon, &p->tau, &p->mu, &p->min_pattern_cells, &p->last_q, &p->coverage,
                   &p->max_density, &p->w_min};
    for (int i = 0; i < 9; i++) param_free(ps[i]);
    dam_free(p);
}

const method_ops DAM_ONLINE_OPS = {
    .kind = "dam_online",
    .summary = "dam_online (ours, not the paper's): per-input DAM patterns from a cheap estimate + coverage gate",
    .parse = dam_online_parse,
    .prepare = dam_online_prepare,
    .plan_layer = dam_online_plan_layer,
    .plan_layer_cuda = dam_online_plan_layer_cuda,
    .free_params = dam_online_free,
};
