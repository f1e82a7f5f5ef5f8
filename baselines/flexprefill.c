/* flexprefill.c — `flexprefill`: FlexPrefill's context-aware sparse prefill (Lai et al. 2025,
 * "FlexPrefill: A Context-Aware Sparse Attention Mechanism for Efficient Long-Sequence Inference",
 * ICLR'25; ByteDance-Seed/FlexPrefill, flex_prefill/ops/flex_prefill_attention.py get_active_blocks
 * and flex_prefill_attention, read in the kengchiawu/FlexPrefill copy).
 *
 * Definition, per layer and query head, for a prompt of n tokens, block size B = 64,
 * nb = ceil(n / B) blocks, budgets in blocks minb = max(1, ceil(min_budget / B)) and
 * maxb = min(nb, ceil(max_budget / B)) (max_budget 0: maxb = nb):
 *   0. Short prompts, n <= max(2B, minb · B), are dense (the original's flash fallback).
 *   1. The last B queries attend exactly: P[r][j] = softmax_j(q_{n-B+r} · k_j / sqrt(d)), causal.
 *      Token verticals v[j] = mean over the B rows of P[r][j]; token slashes s[o] = mean over the
 *      rows of P[r][i_r - o] (offset o = i - j).
 *   2. Budgets: cover(x) = 1 + the number of entries of x, sorted descending, whose inclusive
 *      cumulative sum is <= gamma (the tokens needed to cover gamma). nv = cover(v) / B + 1 and
 *      ns = cover(s) / B + 1 blocks (integer division), each raised to minb, then cut to maxb.
 *   3. Pattern choice: the estimated block distribution a = softmax over all key blocks kb of
 *      (mean of the last B query rows) · (mean of key block kb) / sqrt(d), against the true one
 *      V[kb] = sum of v[j] over the keys of kb. D = sqrt(JS(a, V)) with natural logs
 *      (JS = ½ KL(a‖m) + ½ KL(V‖m), m = (a + V) / 2, 0·log 0 = 0). D < tau: the head is
 *      query-aware, and nv = ns = minb; otherwise it is vertical-slash.
 *   4. Vertical-slash blocks: block columns ranked by V (key block 0 forced first), block
 *      diagonals ranked by SL[sd] = sum of s[o] over the offsets o with o / B = sd (diagonal 0
 *      forced first); the top nv columns and ns diagonals (ties: lower index). Query block qb
 *      keeps key block kb if kb is a chosen column (kb <= qb) or qb - kb is a chosen diagonal.
 *   5. Query-aware heads add: Ab[qb][kb] = softmax over kb <= qb of (mean of query block qb) ·
 *      (mean of key block kb) / sqrt(d) (the last block averages its real rows); all causal
 *      (qb, kb) pairs sorted by Ab descending (ties: lower qb · nb + kb), kept while the
 *      inclusive cumulative sum is <= gamma · nb (the map normalised to total 1, cut at gamma: one
 *      global selection over the whole block map, the paper's Algorithm "query-aware index
 *      search"), plus block (0, 0).
 *   The plan is that block part, causal inside the blocks.
 * Defaults: gamma 0.9, tau 0.1 (the paper's RULER settings), min_budget 512 tokens (its
 *   512-1024), max_budget 0 (none).
 * Simplified vs the original:
 *   - Block 64 instead of 128 (MaskPlan blocks are 64×64); step 2 divides by the block size B
 *     where the original divides by a hard-coded 128 (= its block size). min_budget 512 therefore
 *     means 8 blocks of 64 for each of columns and diagonals, and prompts of at most 512 tokens
 *     stay dense.
 *   - Slash pooling groups offsets o by o / B. The original pools its diagonal sums from the
 *     largest offset downwards, so when n is not a multiple of B its groups are shifted by
 *     n mod B against the block grid (which starts at position 0 in the original too); the
 *     aligned grouping is what "block diagonal sd" means on that grid. Same result for n % 64 = 0.
 *   - Scores in float64 after fp32 dot products (the original: bf16 inputs, fp32 softmax).
 * Parameters (each a `param`): gamma in (0, 1], tau >= 0, min_budget and max_budget in tokens.
 * Config: method "flexprefill". */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "baselines/estimate.h"
#include "core/mem.h"
#include "harness/method.h"
#include "kernels/cuda/estimate.h"

enum { FP_BLOCK = MASKPLAN_BLOCK };

/* Config keys of `flexprefill`. */
typedef struct {
    param gamma;      /* cumulative attention γ in (0, 1]; default 0.9 */
    param tau;        /* query-aware threshold on sqrt(JS divergence), >= 0; default 0.1 */
    param min_budget; /* tokens, >= 0; default 512 */
    param max_budget; /* tokens, >= 0; 0 = no limit (default) */
} flexprefill_params;

static void *flexprefill_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "gamma", "tau", "min_budget", "max_budget", NULL};
    cfg_check_keys(c, keys);
    flexprefill_params *p = dam_calloc(1, sizeof *p, "flexprefill params");
    p->gamma = cfg_param(c, "gamma", 0.9, 1e-9, 1.0, false);
    p->tau = cfg_param(c, "tau", 0.1, 0, 1e30, false);
    p->min_budget = cfg_param(c, "min_budget", 512, 0, 1 << 30, true);
    p->max_budget = cfg_param(c, "max_budget", 0, 0, 1 << 30, true);
    return p;
}

static void flexprefill_prepare(method *m, const llama_model *model) {
    flexprefill_params *p = m->params;
    method_check_param(m, "gamma", &p->gamma, model);
    method_check_param(m, "tau", &p->tau, model);
    method_check_param(m, "min_budget", &p->min_budget, model);
    method_check_param(m, "max_budget", &p->max_budget, model);
}

/* 1 + the number of entries of x[0 .. m), sorted descending, whose inclusive cumulative sum is <= g. */
static int cover(const double *x, int m, double g, int32_t *order) {
    est_order_desc(x, m, order);
    double cum = 0;
    int cnt = 0;
    for (int i = 0; i < m; i++) {
        cum += x[order[i]];
        if (cum <= g) cnt++;
    }
    return cnt + 1;
}

/* x log(x / m), 0 for x = 0. */
static double xlog(double x, double m) { return x > 0 ? x * log(x / m) : 0.0; }

/* What steps 2-5 read of a head's estimate (computed on the CPU by flexprefill_head, on the GPU by
 * flexprefill_plan_layer_cuda). v and s are the token verticals and slashes of step 1 (means over
 * the last B rows). */
typedef struct {
    int cover_v, cover_s; /* cover(v), cover(s) (step 2) */
    const double *V, *SL; /* [nb] sums of v over the keys of each block, of s over the offsets o / B */
    const double *kbar;   /* [nb][d] key block means (est_block_means) */
    const double *qlast;  /* [d] mean of the last B query rows */
} fp_estimate;

/* Short prompts are dense (step 0); else the block budgets minb <= maxb of (layer, head). */
static bool fp_dense(const flexprefill_params *p, int layer, int head, int n, int *minb, int *maxb) {
    const int B = FP_BLOCK, nb = (n + B - 1) / B;
    const long min_tok = (long)param_at(&p->min_budget, layer, head), max_tok = (long)param_at(&p->max_budget, layer, head);
    *minb = min_tok > B ? (int)((min_tok + B - 1) / B) : 1; /* >= 1: first and diagonal block */
    if (n <= (2 * B > *minb * B ? 2 * B : *minb * B)) return true;
    *maxb = max_tok > 0 ? (int)((max_tok + B - 1) / B) : nb;
    if (*maxb > nb) *maxb = nb;
    return false;
}

/* Keeps block (qb, kb) in keep [nb][words] bits (bit kb % 64 of word qb · words + kb / 64). */
static inline void keep_block(uint64_t *keep, int words, int qb, int kb) { keep[(size_t)qb * words + kb / 64] |= 1ull << (kb % 64); }

/* Steps 2-4 from the estimate, for a head that fp_dense found not dense: sets the vertical-slash
 * blocks in keep ([nb][words] bits, words = ceil(nb / 64), zeroed by the caller) and returns whether
 * the head is query-aware (step 3), i.e. needs step 5 (fp_query_aware). */
static bool fp_vertical_slash(const flexprefill_params *p, int layer, int head, int n, int d, const fp_estimate *e,
                              uint64_t *keep) {
    const int B = FP_BLOCK, nb = (n + B - 1) / B;
    const double tau = param_at(&p->tau, layer, head);
    int minb, maxb;
    fp_dense(p, layer, head, n, &minb, &maxb);
    const double scale = 1.0 / sqrt((double)d);
    int32_t *order = dam_malloc(sizeof(int32_t) * (size_t)nb, "flexprefill order");

    /* 2. budgets */
    int nv = e->cover_v / B + 1, ns = e->cover_s / B + 1;
    if (nv < minb) nv = minb;
    if (nv > maxb) nv = maxb;
    if (ns < minb) ns = minb;
    if (ns > maxb) ns = maxb;

    /* 3. estimated vs true block distribution of the last rows */
    double *V = dam_malloc(sizeof(double) * (size_t)nb, "flexprefill block verticals");
    double *SL = dam_malloc(sizeof(double) * (size_t)nb, "flexprefill block slashes");
    double *a = dam_malloc(sizeof(double) * (size_t)nb, "flexprefill estimate");
    memcpy(V, e->V, sizeof(double) * (size_t)nb);
    memcpy(SL, e->SL, sizeof(double) * (size_t)nb);
    double mx = -INFINITY, sum = 0;
    for (int kb = 0; kb < nb; kb++) {
        double z = 0;
        for (int c = 0; c < d; c++) z += e->qlast[c] * e->kbar[(size_t)kb * d + c];
        a[kb] = z * scale;
        if (a[kb] > mx) mx = a[kb];
    }
    for (int kb = 0; kb < nb; kb++) sum += a[kb] = exp(a[kb] - mx);
    double js = 0;
    for (int kb = 0; kb < nb; kb++) {
        a[kb] /= sum;
        const double mid = 0.5 * (a[kb] + V[kb]);
        js += 0.5 * xlog(a[kb], mid) + 0.5 * xlog(V[kb], mid);
    }
    const int query_aware = sqrt(js > 0 ? js : 0) < tau;
    if (query_aware) nv = ns = minb;
    if (nv > nb) nv = nb;
    if (ns > nb) ns = nb;

    /* 4. vertical-slash blocks */
    V[0] = INFINITY;
    est_order_desc(V, nb, order);
    for (int i = 0; i < nv; i++)
        for (int qb = order[i]; qb < nb; qb++) keep_block(keep, (nb + 63) / 64, qb, order[i]);
    SL[0] = INFINITY;
    est_order_desc(SL, nb, order);
    for (int i = 0; i < ns; i++)
        for (int qb = order[i]; qb < nb; qb++) keep_block(keep, (nb + 63) / 64, qb, qb - order[i]);

    dam_free(a);
    dam_free(SL);
    dam_free(V);
    dam_free(order);
    return query_aware;
}

/* Step 5 on the host: adds to keep ([nb][words] bits) the query-aware blocks of one head (one global
 * selection over the pooled block map, plus block (0, 0)), from the query and key block means
 * qbar, kbar ([nb][d] each). */
static void fp_query_aware(const flexprefill_params *p, int layer, int head, int n, int d, const double *qbar,
                           const double *kbar, uint64_t *keep) {
    const int nb = (n + FP_BLOCK - 1) / FP_BLOCK, words = (nb + 63) / 64;
    const double gamma = param_at(&p->gamma, layer, head), scale = 1.0 / sqrt((double)d);
    int32_t *order = dam_malloc(sizeof(int32_t) * (size_t)nb * nb, "flexprefill order");
    double *A = dam_calloc((size_t)nb * nb, sizeof(double), "flexprefill block map");
    for (int qb = 0; qb < nb; qb++) {
        double *row = A + (size_t)qb * nb, rmx = -INFINITY, rsum = 0;
        for (int kb = 0; kb <= qb; kb++) {
            double z = 0;
            for (int c = 0; c < d; c++) z += qbar[(size_t)qb * d + c] * kbar[(size_t)kb * d + c];
            row[kb] = z * scale;
            if (row[kb] > rmx) rmx = row[kb];
        }
        for (int kb = 0; kb <= qb; kb++) rsum += row[kb] = exp(row[kb] - rmx);
        for (int kb = 0; kb <= qb; kb++) row[kb] /= rsum;
        for (int kb = qb + 1; kb < nb; kb++) row[kb] = -1; /* not causal: never selected */
    }
    est_order_desc(A, nb * nb, order);
    double cum = 0;
    for (int i = 0; i < nb * nb && A[order[i]] >= 0; i++) {
        cum += A[order[i]];
        if (cum > gamma * nb) break;
        keep_block(keep, words, order[i] / nb, order[i] % nb);
    }
    keep_block(keep, words, 0, 0);
    dam_free(A);
    dam_free(order);
}

static maskplan *flexprefill_head(const method *m, int layer, int head, const est_head *h) {
    const flexprefill_params *p = m->params;
    const int n = h->n, d = h->d, B = FP_BLOCK, nb = (n + B - 1) / B;
    int minb, maxb;
    if (fp_dense(p, layer, head, n, &minb, &maxb)) return maskplan_dense();

    /* 1. the last B rows; block means */
    double *P = dam_malloc(sizeof(double) * (size_t)B * n, "flexprefill estimate");
    double *v = dam_malloc(sizeof(double) * (size_t)n, "flexprefill verticals");
    double *s = dam_malloc(sizeof(double) * (size_t)n, "flexprefill slashes");
    est_last_rows(h, B, P);
    est_column_sums(P, B, n, v);
    est_diagonal_sums(P, B, n, s);
    for (int j = 0; j < n; j++) v[j] /= B, s[j] /= B;
    int32_t *order = dam_malloc(sizeof(int32_t) * (size_t)n, "flexprefill order");
    double *V = dam_calloc((size_t)nb, sizeof(double), "flexprefill block verticals");
    double *SL = dam_calloc((size_t)nb, sizeof(double), "flexprefill block slashes");
    for (int j = 0; j < n; j++) V[j / B] += v[j], SL[j / B] += s[j];
    const double gamma = param_at(&p->gamma, layer, head);
    double *kbar = dam_malloc(sizeof(double) * (size_t)nb * d, "flexprefill key means");
    double *qlast = dam_malloc(sizeof(double) * (size_t)d, "flexprefill query mean");
    est_block_means(h->k, d, n, d, B, kbar);
    est_block_means(h->q + (long)(n - B) * h->q_stride, h->q_stride, B, d, B, qlast);
    const fp_estimate e = {cover(v, n, gamma, order), cover(s, n, gamma, order), V, SL, kbar, qlast};
    uint64_t *keep = dam_calloc((size_t)nb * ((nb + 63) / 64), sizeof(uint64_t), "flexprefill keep");
    if (fp_vertical_slash(p, layer, head, n, d, &e, keep)) { /* 5. query-aware: the query block means too */
        double *qbar = dam_malloc(sizeof(double) * (size_t)nb * d, "flexprefill query means");
        est_block_means(h->q, h->q_stride, n, d, B, qbar);
        fp_query_aware(p, layer, head, n, d, qbar, kbar, keep);
        dam_free(qbar);
    }
    maskplan *plan = maskplan_new();
    maskplan_set_blocks_bits(plan, nb, nb, keep);
    dam_free(keep);
    dam_free(qlast);
    dam_free(kbar);
    dam_free(SL);
    dam_free(V);
    dam_free(order);
    dam_free(s);
    dam_free(v);
    dam_free(P);
    return plan;
}

static void flexprefill_plan_layer(const method *m, int layer, const float *q, int q_stride, int n, const float *k,
                                   int kv_cap, int n_heads, int n_kv_heads, int d, maskplan **out) {
    est_plan_layer(m, layer, q, q_stride, n, k, kv_cap, n_heads, n_kv_heads, d, out, flexprefill_head);
}

/* On the GPU (kernels/cuda/estimate.h): step 1 (the column / diagonal sums of the last B rows, their
 * covers and block pools, the key block means, the last rows' query mean) and step 5 (the block map
 * and its global selection); steps 3-4 on the host from those O(nb · d) results
 * (fp_vertical_slash, OpenMP over heads), as on the CPU. */
static void flexprefill_plan_layer_cuda(const method *m, int layer, const uint16_t *q, int q_stride, int n,
                                        const uint16_t *k, int kv_cap, int n_heads, int n_kv_heads, int d,
                                        est_cuda_ws *ws, maskplan **out) {
    const flexprefill_params *p = m->params;
    const int B = FP_BLOCK, nb = (n + B - 1) / B, words = (nb + 63) / 64, group = n_heads / n_kv_heads;
    bool any = false;
    for (int h = 0; h < n_heads; h++) {
        int minb, maxb;
        out[h] = fp_dense(p, layer, h, n, &minb, &maxb) ? maskplan_dense() : NULL;
        any |= out[h] == NULL;
    }
    if (!any) return; /* else n > 2B */
    int *w = dam_malloc(sizeof(int) * (size_t)n_heads, "flexprefill rows");
    for (int h = 0; h < n_heads; h++) w[h] = B;
    double *d_col, *d_diag;
    est_cuda_vertical_slash(ws, q, q_stride, k, kv_cap, n, n_heads, n_kv_heads, d, w, &d_col, &d_diag);
    double *gamma = dam_malloc(sizeof(double) * (size_t)n_heads, "flexprefill gamma");
    for (int h = 0; h < n_heads; h++) gamma[h] = param_at(&p->gamma, layer, h);
    int *covers = dam_malloc(sizeof(int) * 2 * (size_t)n_heads, "flexprefill covers");
    double *pools = dam_malloc(sizeof(double) * 2 * (size_t)n_heads * nb, "flexprefill block pools");
    est_cuda_cover_pool(ws, d_col, d_diag, n, n_heads, B, gamma, covers, pools);
    double *kbar = dam_malloc(sizeof(double) * (size_t)n_kv_heads * nb * d, "flexprefill key means");
    double *qlast = dam_malloc(sizeof(double) * (size_t)n_heads * d, "flexprefill query means");
    est_cuda_row_means(ws, k, n_kv_heads, (long)kv_cap * d, d, 0, n, d, B, kbar);           /* [KV head][nb][d] */
    est_cuda_row_means(ws, q, n_heads, d, q_stride, n - B, B, d, B, qlast);                 /* [head][1][d] */
    const size_t hw = (size_t)nb * words; /* keep words per head */
    uint64_t *keep = dam_calloc((size_t)n_heads * hw, sizeof(uint64_t), "flexprefill keep");
    uint8_t *aware = dam_calloc((size_t)n_heads, 1, "flexprefill query-aware heads");
#pragma omp parallel for schedule(dynamic, 1)
    for (int h = 0; h < n_heads; h++) {
        if (out[h]) continue;
        const double *pool = pools + (size_t)h * 2 * nb;
        const fp_estimate e = {covers[2 * h], covers[2 * h + 1], pool, pool + nb, kbar + (size_t)(h / group) * nb * d,
                               qlast + (size_t)h * d};
        aware[h] = fp_vertical_slash(p, layer, h, n, d, &e, keep + (size_t)h * hw);
    }
    bool any_aware = false;
    for (int h = 0; h < n_heads; h++) any_aware |= aware[h];
    uint64_t *bits = NULL;
    if (any_aware) {
        bits = dam_malloc(sizeof(uint64_t) * (size_t)n_heads * hw, "flexprefill query-aware blocks");
        est_cuda_block_map_select(ws, q, q_stride, k, kv_cap, n, n_heads, n_kv_heads, d, aware, gamma, bits);
    }
    maskplan **fresh = dam_calloc((size_t)n_heads, sizeof *fresh, "flexprefill plans"); /* the heads not set yet */
    for (int h = 0; h < n_heads; h++) {
        if (out[h]) continue;
        uint64_t *kh = keep + (size_t)h * hw;
        if (aware[h])
            for (size_t i = 0; i < hw; i++) kh[i] |= bits[(size_t)h * hw + i];
        out[h] = fresh[h] = maskplan_new();
    }
    maskplan_set_blocks_bits_heads(fresh, n_heads, nb, nb, keep, MASKPLAN_BLOCKS_AUTO);
    dam_free(fresh);
    dam_free(bits);
    dam_free(gamma);
    dam_free(aware);
    dam_free(keep);
    dam_free(qlast);
    dam_free(kbar);
    dam_free(pools);
    dam_free(covers);
    dam_free(w);
}

static void flexprefill_free(void *params) {
    flexprefill_params *p = params;
    param_free(&p->gamma);
    param_free(&p->tau);
    param_free(&p->min_budget);
    param_free(&p->max_budget);
    dam_free(p);
}

const method_ops FLEXPREFILL_OPS = {
    .kind = "flexprefill",
    .summary = "FlexPrefill: per-head query-aware or vertical-slash 64-blocks by cumulative attention",
    .parse = flexprefill_parse,
    .prepare = flexprefill_prepare,
    .plan_layer = flexprefill_plan_layer,
    .plan_layer_cuda = flexprefill_plan_layer_cuda,
    .free_params = flexprefill_free,
};
