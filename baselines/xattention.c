/* xattention.c — `xattention`: XAttention's block-sparse attention with antidiagonal scoring
 * (Xu et al. 2025, "XAttention: Block Sparse Attention with Antidiagonal Scoring", ICML'25;
 * mit-han-lab/x-attention, xattn/src/Xattention.py xattn_estimate + utils.py find_blocks_chunked,
 * select_mode "inverse").
 *
 * Definition, per layer and query head, for a prompt of n tokens, block size B = 64, stride S
 * (S divides B):
 *   1. Strided reshape: N = ceil(n / S) super-tokens; query super-token u stacks the rows
 *      uS+S-1, uS+S-2, ..., uS (reversed), key super-token t the keys tS, tS+1, ..., tS+S-1;
 *      positions >= n are zero vectors. Their dot product is the sum of the S scores on the
 *      antidiagonal of the S×S tile (u, t):
 *        z[u][t] = sum_{m=0}^{S-1} q_{uS+S-1-m} · k_{tS+m} / (sqrt(d) · S).
 *   2. P[u][·] = softmax over t = 0 .. u (causal at super-token granularity, the tile t = u
 *      included whole, as in the original).
 *   3. Block importance: score[qb][kb] = sum of P[u][t] over the super-tokens u of query block qb
 *      and t of key block kb (B / S super-tokens per block).
 *   4. Per query block qb: the first key block and the diagonal block are always kept; the other
 *      causal key blocks follow in descending score (ties: lower block first) while the kept mass
 *      is still below threshold × (the row's total score), i.e. the fewest blocks whose cumulative
 *      score reaches the threshold. The total and the cumulative score are added in fixed point
 *      (est_xattention_fixed: trunc(score · 2^56)), exact in any order, so the GPU's parallel sums
 *      keep the same blocks as this sequential walk.
 *   The plan is that block part (query blocks 0 .. ceil(n / B) - 1), causal inside the blocks.
 * Defaults: stride 8 and threshold 0.9 (the paper's RULER / LongBench settings; its
 *   Xattention_prefill default is 0.8, xattn_estimate's 0.9).
 * Simplified vs the original:
 *   - Block 64 instead of 128: MaskPlan blocks are 64×64 (kernels/maskplan.h). Finer blocks
 *     select more precisely and keep fewer pairs at the same threshold.
 *   - No chunking of the estimate over 16K-row chunks (mathematically the same: every row's
 *     softmax covers all its causal super-tokens either way); rows are processed in chunks of 256
 *     super-tokens only to bound memory.
 *   - Scores in float64 after fp32 dot products (the original keeps them in bf16/fp16).
 *   - keep_sink / keep_recent (off by default in the original) and per-head thresholds from its
 *     profiler are not offered; thresholds per layer / head can be given as a `param`.
 * Parameters (each a `param`): stride (divides 64), threshold in (0, 1]. Config: "xattention". */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "baselines/estimate.h"
#include "core/mem.h"
#include "harness/method.h"
#include "kernels/cuda/estimate.h"

enum { XA_BLOCK = MASKPLAN_BLOCK, XA_CHUNK = 256 /* super-token rows per sgemm */ };

/* Config keys of `xattention`. */
typedef struct {
    param stride;    /* antidiagonal stride S, divides 64; default 8 */
    param threshold; /* cumulative score threshold τ in (0, 1]; default 0.9 */
} xattention_params;

static void *xattention_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "stride", "threshold", NULL};
    cfg_check_keys(c, keys);
    xattention_params *p = dam_calloc(1, sizeof *p, "xattention params");
    p->stride = cfg_param(c, "stride", 8, 1, XA_BLOCK, true);
    const size_t nv = (size_t)(p->stride.n_layers ? p->stride.n_layers : 1) * (p->stride.n_heads ? p->stride.n_heads : 1);
    for (size_t i = 0; i < nv; i++)
        if (XA_BLOCK % (int)p->stride.v[i] != 0)
            cfg_fail(c, "stride", "%g does not divide the block size 64 (use 1, 2, 4, 8, 16, 32 or 64)", p->stride.v[i]);
    p->threshold = cfg_param(c, "threshold", 0.9, 1e-9, 1.0, false);
    return p;
}

static void xattention_prepare(method *m, const llama_model *model) {
    xattention_params *p = m->params;
    method_check_param(m, "stride", &p->stride, model);
    method_check_param(m, "threshold", &p->threshold, model);
}


void est_xattention_cut(const double *score, int nb, double tau, uint8_t *keep) {
    memset(keep, 0, (size_t)nb * nb);
    int32_t *order = dam_malloc(sizeof(int32_t) * (size_t)(nb > 0 ? nb : 1), "xattention order");
    double *rest = dam_malloc(sizeof(double) * (size_t)(nb > 0 ? nb : 1), "xattention rest");
    for (int qb = 0; qb < nb; qb++) {
        const double *s = score + (size_t)qb * nb;
        uint64_t total = 0; /* fixed point: exact sums */
        for (int kb = 0; kb <= qb; kb++) total += est_xattention_fixed(s[kb]);
        /* the integer cum is below the double t = fl(tau · total) iff cum < ceil(t) */
        const uint64_t target = (uint64_t)ceil(tau * (double)total);
        uint8_t *kp = keep + (size_t)qb * nb;
        kp[0] = kp[qb] = 1;
        uint64_t cum = est_xattention_fixed(s[0]) + (qb > 0 ? est_xattention_fixed(s[qb]) : 0);
        const int m_rest = qb > 1 ? qb - 1 : 0; /* key blocks 1 .. qb-1 */
        for (int i = 0; i < m_rest; i++) rest[i] = s[1 + i];
        est_order_desc(rest, m_rest, order);
        for (int i = 0; i < m_rest && cum < target; i++) {
            kp[1 + order[i]] = 1;
            cum += est_xattention_fixed(rest[order[i]]);
        }
    }
    dam_free(rest);
    dam_free(order);
}
static maskplan *xattention_head(const method *m, int layer, int head, const est_head *h) {
    const xattention_params *p = m->params;
    const int n = h->n, d = h->d, S = (int)param_at(&p->stride, layer, head), SD = S * d;
    const int N = (n + S - 1) / S, nb = (n + XA_BLOCK - 1) / XA_BLOCK, per_blk = XA_BLOCK / S;
    const double tau = param_at(&p->threshold, layer, head), scale = 1.0 / (sqrt((double)d) * S);
    float *qr = dam_calloc((size_t)N * SD, sizeof(float), "xattention strided q"); /* [N][S·d] */
    float *kr = dam_calloc((size_t)N * SD, sizeof(float), "xattention strided k"); /* [N][S·d] */
    for (int u = 0; u < N; u++)
        for (int m_ = 0; m_ < S; m_++) {
            const int row = u * S + S - 1 - m_, key = u * S + m_;
            if (row < n) memcpy(qr + (size_t)u * SD + (size_t)m_ * d, h->q + (long)row * h->q_stride, sizeof(float) * d);
            if (key < n) memcpy(kr + (size_t)u * SD + (size_t)m_ * d, h->k + (long)key * d, sizeof(float) * d);
        }
    const int chunk = N < XA_CHUNK ? N : XA_CHUNK;
    float *z = dam_malloc(sizeof(float) * (size_t)chunk * N, "xattention strided scores"); /* [chunk][N] */
    double *e = dam_malloc(sizeof(double) * (size_t)N, "xattention row");
    double *score = dam_calloc((size_t)nb * nb, sizeof(double), "xattention block scores"); /* [nb][nb] */
    for (int u0 = 0; u0 < N; u0 += chunk) {
        const int rows = N - u0 < chunk ? N - u0 : chunk, cols = u0 + rows; /* keys t <= u < cols */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, SD, 1.0f, qr + (size_t)u0 * SD, SD, kr, SD,
                    0.0f, z, N);
        for (int r = 0; r < rows; r++) {
            const int u = u0 + r;
            double mx = -INFINITY, sum = 0;
            for (int t = 0; t <= u; t++) {
                e[t] = (double)z[(size_t)r * N + t] * scale;
                if (e[t] > mx) mx = e[t];
            }
            est_exp_shifted(e, u + 1, mx);
            for (int t = 0; t <= u; t++) sum += e[t];
            double *srow = score + (size_t)(u / per_blk) * nb;
            for (int t = 0; t <= u; t++) srow[t / per_blk] += e[t] / sum;
        }
    }
    uint8_t *keep = dam_malloc((size_t)nb * nb, "xattention keep");
    est_xattention_cut(score, nb, tau, keep);
    maskplan *plan = maskplan_new();
    est_set_blocks(plan, nb, nb, keep);
    dam_free(keep);
    dam_free(score);
    dam_free(e);
    dam_free(z);
    dam_free(kr);
    dam_free(qr);
    return plan;
}

static void xattention_plan_layer(const method *m, int layer, const float *q, int q_stride, int n, const float *k,
                                  int kv_cap, int n_heads, int n_kv_heads, int d, maskplan **out) {
    est_plan_layer(m, layer, q, q_stride, n, k, kv_cap, n_heads, n_kv_heads, d, out, xattention_head);
}

/* The same plans estimated on the GPU (kernels/cuda/estimate.h): antidiagonal scores, block sums
 * and the cumulative selection on the device; only the keep bits come back. */
static void xattention_plan_layer_cuda(const method *m, int layer, const uint16_t *q, int q_stride, int n,
                                       const uint16_t *k, int kv_cap, int n_heads, int n_kv_heads, int d,
                                       est_cuda_ws *ws, maskplan **out) {
    const xattention_params *p = m->params;
    const int nb = (n + XA_BLOCK - 1) / XA_BLOCK;
    int *stride = dam_malloc(sizeof(int) * (size_t)n_heads, "xattention strides");
    double *tau = dam_malloc(sizeof(double) * (size_t)n_heads, "xattention thresholds");
    for (int h = 0; h < n_heads; h++) {
        stride[h] = (int)param_at(&p->stride, layer, h);
        tau[h] = param_at(&p->threshold, layer, h);
    }
    const int words = (nb + 63) / 64;
    uint64_t *keep = est_cuda_host_buffer(ws, sizeof(uint64_t) * (size_t)n_heads * nb * words); /* ws owns it */
    est_cuda_xattention(ws, q, q_stride, k, kv_cap, n, n_heads, n_kv_heads, d, stride, tau, keep, NULL);
    for (int h = 0; h < n_heads; h++) out[h] = maskplan_new();
    maskplan_set_blocks_bits_heads(out, n_heads, nb, nb, keep, MASKPLAN_BLOCKS_AUTO);
    dam_free(tau);
    dam_free(stride);
}

static void xattention_free(void *params) {
    xattention_params *p = params;
    param_free(&p->stride);
    param_free(&p->threshold);
    dam_free(p);
}

const method_ops XATTENTION_OPS = {
    .kind = "xattention",
    .summary = "XAttention: 64-blocks by strided antidiagonal scores until a cumulative threshold",
    .parse = xattention_parse,
    .prepare = xattention_prepare,
    .plan_layer = xattention_plan_layer,
    .plan_layer_cuda = xattention_plan_layer_cuda,
    .free_params = xattention_free,
};
