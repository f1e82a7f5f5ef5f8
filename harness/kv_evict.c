/* kv_evict.c — see kv_evict.h. */
#include "harness/kv_evict.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "baselines/estimate.h"
#include "core/error.h"
#include "core/mem.h"
#include "kernels/cpu/attention_masked.h"

enum { TILE = 64, BATCH_TILES = 8 }; /* prompt rows are scored in tiles of 64, 8 tiles per batch */

struct kv_evict {
    const method *meth;
    evict_kind kind;
    int n_layers, n_heads, n_kv_heads, d, group;
    int n_prompt, n_total, words;
    uint64_t *held, *held0;       /* [n_layers][n_kv_heads][words]: now, and the snapshot after the prompt */
    double *score, *score0;       /* [n_layers][n_kv_heads][n_total] (EVICT_SCORED), else NULL */
    int *next_pos;                /* [n_layers] position of the next row each layer expects */
    uint8_t *snap;                /* [n_layers] the layer's snapshot exists */
    const maskplan **no_plans;    /* [n_heads] NULL entries (a method without plans) */
    uint64_t *before;             /* [words] scratch: held before an evict call */
};

static uint64_t *held_of(const kv_evict *e, int layer, int g) {
    return e->held + ((size_t)layer * e->n_kv_heads + g) * e->words;
}

static double *score_of(const kv_evict *e, int layer, int g) {
    return e->score ? e->score + ((size_t)layer * e->n_kv_heads + g) * e->n_total : NULL;
}

kv_evict *kv_evict_new(const method *meth, const llama_config *cfg, int n_prompt, int n_total) {
    const evict_kind kind = method_evicts(meth);
    if (kind == EVICT_NONE) return NULL;
    if (meth->ops->attend)
        dam_die(DAM_EXIT_RUNTIME, "internal error: method %s evicts KV entries but brings its own kernel", meth->name);
    if (n_prompt < 1 || n_total < n_prompt)
        dam_die(DAM_EXIT_RUNTIME, "internal error: eviction for %d prompt tokens of %d positions", n_prompt, n_total);
    kv_evict *e = dam_calloc(1, sizeof *e, "KV eviction state");
    e->meth = meth;
    e->kind = kind;
    e->n_layers = cfg->n_layers;
    e->n_heads = cfg->n_heads;
    e->n_kv_heads = cfg->n_kv_heads;
    e->d = cfg->head_dim;
    e->group = cfg->n_heads / cfg->n_kv_heads;
    e->n_prompt = n_prompt;
    e->n_total = n_total;
    e->words = (n_total + 63) / 64;
    const size_t nh = (size_t)e->n_layers * e->n_kv_heads * e->words;
    e->held = dam_malloc(sizeof(uint64_t) * nh, "KV held sets");
    e->held0 = dam_malloc(sizeof(uint64_t) * nh, "KV held sets");
    memset(e->held, 0xff, sizeof(uint64_t) * nh);
    if (kind == EVICT_SCORED) {
        const size_t ns = (size_t)e->n_layers * e->n_kv_heads * n_total;
        e->score = dam_calloc(ns, sizeof(double), "KV eviction scores");
        e->score0 = dam_calloc(ns, sizeof(double), "KV eviction scores");
    }
    e->next_pos = dam_calloc((size_t)e->n_layers, sizeof(int), "KV eviction positions");
    e->snap = dam_calloc((size_t)e->n_layers, 1, "KV eviction snapshots");
    e->no_plans = dam_calloc((size_t)e->n_heads, sizeof(maskplan *), "KV eviction plans");
    e->before = dam_malloc(sizeof(uint64_t) * e->words, "KV eviction scratch");
    return e;
}

void kv_evict_free(kv_evict *e) {
    if (e == NULL) return;
    dam_free(e->held);
    dam_free(e->held0);
    dam_free(e->score);
    dam_free(e->score0);
    dam_free(e->next_pos);
    dam_free(e->snap);
    dam_free(e->no_plans);
    dam_free(e->before);
    dam_free(e);
}

/* Rows must continue where the layer's last step ended. */
static void check_rows(kv_evict *e, int layer, int p0, int n_rows) {
    if (layer < 0 || layer >= e->n_layers || n_rows < 1 || p0 != e->next_pos[layer] || p0 + n_rows > e->n_total)
        dam_die(DAM_EXIT_RUNTIME,
                "internal error: method %s: layer %d rows %d .. %d, but the eviction state expects row %d (of %d)",
                e->meth->name, layer, p0, p0 + n_rows - 1, layer >= 0 && layer < e->n_layers ? e->next_pos[layer] : -1,
                e->n_total);
    e->next_pos[layer] = p0 + n_rows;
}

/* The method's eviction decision for every KV head of `layer` after row `pos`, checked: bits may
 * only be cleared, and only for keys <= pos. Scores of evicted keys are zeroed. */
static void run_evict(kv_evict *e, int layer, int pos, const maskplan *const *plans) {
    if (plans == NULL) plans = e->no_plans;
    const int last = pos / 64;
    for (int g = 0; g < e->n_kv_heads; g++) {
        uint64_t *hb = held_of(e, layer, g);
        memcpy(e->before, hb, sizeof(uint64_t) * e->words);
        const evict_step s = {layer, g, e->group, pos, e->n_prompt, plans + (size_t)g * e->group, score_of(e, layer, g)};
        e->meth->ops->evict(e->meth, &s, hb);
        const uint64_t above = pos % 64 == 63 ? 0 : ~0ull << (pos % 64 + 1); /* bits of keys > pos in word `last` */
        bool ok = (hb[last] & above) == (e->before[last] & above);
        for (int w = 0; w <= last; w++) ok &= (hb[w] & ~e->before[w]) == 0;
        for (int w = last + 1; w < e->words; w++) ok &= hb[w] == e->before[w];
        if (!ok)
            dam_die(DAM_EXIT_RUNTIME, "internal error: method %s: eviction at layer %d KV head %d row %d set a bit or "
                    "touched a later key", e->meth->name, layer, g, pos);
        double *sc = score_of(e, layer, g);
        if (sc)
            for (int w = 0; w <= last; w++)
                for (uint64_t gone = e->before[w] & ~hb[w]; gone; gone &= gone - 1) sc[w * 64 + __builtin_ctzll(gone)] = 0;
    }
}

/* The softmax of one row over the keys whose logits (q·k, unscaled, fp32) are in s[0 .. m), with
 * the keys the row does not attend at -inf in w afterwards: w[i] = probability, float64. */
static void softmax_row(const float *s, int m, double scale, const uint8_t *skip, double *w) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < m; i++) {
        w[i] = skip && skip[i] ? -INFINITY : (double)s[i] * scale;
        if (w[i] > mx) mx = w[i];
    }
    est_exp_shifted(w, m, mx);
    for (int i = 0; i < m; i++) sum += w[i];
    for (int i = 0; i < m; i++) w[i] /= sum;
}

/* Adds the probabilities of prompt rows p0 .. p0 + n_rows − 1 to the scores: tasks (query head,
 * 64-row tile) in batches of BATCH_TILES tiles write partial column sums, reduced in a fixed order
 * (head, tile), so the scores do not depend on the thread count. */
static void score_prompt_rows(kv_evict *e, int layer, const float *q, int q_stride, int p0, int n_rows, const float *k,
                              int kv_cap, const maskplan *const *plans) {
    const int H = e->n_heads, d = e->d;
    const double scale = 1.0 / sqrt((double)d);
    for (int b0 = 0; b0 < n_rows; b0 += TILE * BATCH_TILES) {
        const int b1 = b0 + TILE * BATCH_TILES < n_rows ? b0 + TILE * BATCH_TILES : n_rows;
        const int nt = (b1 - b0 + TILE - 1) / TILE, nk = p0 + b1; /* keys 0 .. nk − 1 */
        double *part = dam_calloc((size_t)H * nt * nk, sizeof(double), "KV eviction scores (rows)");
#pragma omp parallel for schedule(dynamic, 1)
        for (int task = 0; task < H * nt; task++) {
            const int h = task / nt, t = task % nt, g = h / e->group;
            const int r0 = b0 + t * TILE, r1 = r0 + TILE < b1 ? r0 + TILE : b1, nr = r1 - r0;
            const int kmax = p0 + r1; /* keys the tile's rows can see */
            const maskplan *plan = plans ? plans[h] : NULL;
            float *s = dam_malloc(sizeof(float) * (size_t)nr * kmax, "KV eviction scores (tile)");
            double *w = dam_malloc(sizeof(double) * (size_t)kmax, "KV eviction scores (tile)");
            uint8_t *skip = plan ? dam_malloc((size_t)kmax, "KV eviction scores (tile)") : NULL;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, kmax, d, 1.0f, q + (size_t)r0 * q_stride + (size_t)h * d,
                        q_stride, k + (size_t)g * kv_cap * d, d, 0.0f, s, kmax);
            double *acc = part + (size_t)task * nk;
            for (int i = 0; i < nr; i++) {
                const int p = p0 + r0 + i;
                if (skip)
                    for (int j0 = 0; j0 <= p; j0 += 64) {
                        const uint64_t bits = maskplan_row_word(plan, p, j0);
                        for (int j = j0; j < j0 + 64 && j <= p; j++) skip[j] = !((bits >> (j - j0)) & 1);
                    }
                softmax_row(s + (size_t)i * kmax, p + 1, scale, skip, w);
                for (int j = 0; j <= p; j++) acc[j] += w[j];
            }
            dam_free(skip);
            dam_free(w);
            dam_free(s);
        }
        for (int h = 0; h < H; h++) {
            double *sc = score_of(e, layer, h / e->group);
            for (int t = 0; t < nt; t++) {
                const double *acc = part + ((size_t)h * nt + t) * nk;
                for (int j = 0; j < nk; j++) sc[j] += acc[j];
            }
        }
        dam_free(part);
    }
}

void kv_evict_prompt_rows(kv_evict *e, int layer, const float *q, int q_stride, int p0, int n_rows, const float *k,
                          int kv_cap, const maskplan *const *plans) {
    check_rows(e, layer, p0, n_rows);
    if (p0 + n_rows > e->n_prompt)
        dam_die(DAM_EXIT_RUNTIME, "internal error: prompt rows up to %d of a %d-token prompt", p0 + n_rows - 1, e->n_prompt);
    if (e->kind == EVICT_SCORED) score_prompt_rows(e, layer, q, q_stride, p0, n_rows, k, kv_cap, plans);
    if (p0 + n_rows == e->n_prompt) {
        run_evict(e, layer, e->n_prompt - 1, plans);
        const size_t hw = (size_t)e->n_kv_heads * e->words, sw = (size_t)e->n_kv_heads * e->n_total;
        memcpy(e->held0 + layer * hw, e->held + layer * hw, sizeof(uint64_t) * hw);
        if (e->score) memcpy(e->score0 + layer * sw, e->score + layer * sw, sizeof(double) * sw);
        e->snap[layer] = 1;
    }
}

/* Dot product of two d-vectors in fp32 with 8 partial sums (fixed order). */
static float dot8(const float *a, const float *b, int d) {
    float acc[8] = {0};
    int c = 0;
    for (; c + 8 <= d; c += 8)
        for (int u = 0; u < 8; u++) acc[u] += a[c + u] * b[c + u];
    for (; c < d; c++) acc[0] += a[c] * b[c];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

int kv_evict_decode_rows(kv_evict *e, int layer, float *out, int out_stride, const float *q, int q_stride, int p0,
                         int n_rows, const float *k, const float *v, int kv_cap, const maskplan *const *plans) {
    check_rows(e, layer, p0, n_rows);
    if (p0 < e->n_prompt || !e->snap[layer])
        dam_die(DAM_EXIT_RUNTIME, "internal error: decode row %d before the %d-token prompt has attended", p0, e->n_prompt);
    if (plans == NULL) plans = e->no_plans;
    const int H = e->n_heads, d = e->d;
    const float scale = 1.0f / sqrtf((float)d);
    int32_t *cols = dam_malloc(sizeof(int32_t) * (size_t)H * e->n_total, "KV eviction row plans");
    int *ncols = dam_malloc(sizeof(int) * (size_t)H, "KV eviction row plans");
    maskplan **step = dam_malloc(sizeof(maskplan *) * (size_t)H, "KV eviction row plans");
    double *prob = e->score ? dam_malloc(sizeof(double) * (size_t)H * e->n_total, "KV eviction scores (row)") : NULL;
    float *logit = e->score ? dam_malloc(sizeof(float) * (size_t)H * e->n_total, "KV eviction scores (row)") : NULL;
    int empty = 0;
    const int32_t zero = 0;
    for (int t = 0; t < n_rows; t++) {
        const int p = p0 + t;
        /* row p of head h: held keys j < p that the plan keeps, as columns; its own key as diagonal 0 */
        for (int h = 0; h < H; h++) {
            const uint64_t *hb = held_of(e, layer, h / e->group);
            int32_t *c = cols + (size_t)h * e->n_total;
            int n = 0;
            for (int w = 0; w * 64 < p; w++) {
                uint64_t bits = hb[w];
                if (plans[h]) bits &= maskplan_row_word(plans[h], p, (int64_t)w * 64);
                if ((w + 1) * 64 > p) bits &= (1ull << (p - w * 64)) - 1;
                for (; bits; bits &= bits - 1) c[n++] = w * 64 + __builtin_ctzll(bits);
            }
            ncols[h] = n;
            step[h] = maskplan_new();
            maskplan_set_cols(step[h], c, n);
            maskplan_set_diags(step[h], &zero, 1);
        }
        empty += attn_masked(out + (size_t)t * out_stride, out_stride, q + (size_t)t * q_stride, q_stride, 1, k, v, kv_cap,
                             p + 1, H, e->n_kv_heads, d, scale, (const maskplan *const *)step);
        for (int h = 0; h < H; h++) maskplan_free(step[h]);
        if (e->score) {
            /* the row's probabilities per head over the keys it attended (columns, then its own key);
               threads only when there is enough work to pay for a parallel region */
            long work = 0;
            for (int h = 0; h < H; h++) work += (long)(ncols[h] + 1) * d;
#pragma omp parallel for schedule(static) if (work > 1L << 16)
            for (int h = 0; h < H; h++) {
                const int g = h / e->group, n = ncols[h];
                const float *qh = q + (size_t)t * q_stride + (size_t)h * d, *kg = k + (size_t)g * kv_cap * d;
                const int32_t *c = cols + (size_t)h * e->n_total;
                float *s = logit + (size_t)h * e->n_total;
                for (int i = 0; i < n; i++) s[i] = dot8(qh, kg + (size_t)c[i] * d, d);
                s[n] = dot8(qh, kg + (size_t)p * d, d);
                softmax_row(s, n + 1, 1.0 / sqrt((double)d), NULL, prob + (size_t)h * e->n_total);
            }
            for (int h = 0; h < H; h++) { /* fixed order: head by head */
                double *sc = score_of(e, layer, h / e->group);
                const double *pr = prob + (size_t)h * e->n_total;
                const int32_t *c = cols + (size_t)h * e->n_total;
                for (int i = 0; i < ncols[h]; i++) sc[c[i]] += pr[i];
                sc[p] += pr[ncols[h]];
            }
        }
        run_evict(e, layer, p, plans);
    }
    dam_free(logit);
    dam_free(prob);
    dam_free(step);
    dam_free(ncols);
    dam_free(cols);
    return empty;
}

void kv_evict_rewind(kv_evict *e) {
    for (int l = 0; l < e->n_layers; l++)
        if (!e->snap[l])
            dam_die(DAM_EXIT_RUNTIME, "internal error: method %s: rewind before layer %d finished the prompt", e->meth->name, l);
    memcpy(e->held, e->held0, sizeof(uint64_t) * (size_t)e->n_layers * e->n_kv_heads * e->words);
    if (e->score) memcpy(e->score, e->score0, sizeof(double) * (size_t)e->n_layers * e->n_kv_heads * e->n_total);
    for (int l = 0; l < e->n_layers; l++) e->next_pos[l] = e->n_prompt;
}

bool kv_evict_is_held(const kv_evict *e, int layer, int kv_head, int j) {
    if (j < 0 || j >= e->n_total) return false;
    return (held_of(e, layer, kv_head)[j / 64] >> (j % 64)) & 1;
}

int64_t kv_evict_held_count(const kv_evict *e, int layer, int kv_head, int n_past) {
    if (n_past > e->n_total) n_past = e->n_total;
    const uint64_t *hb = held_of(e, layer, kv_head);
    int64_t n = 0;
    for (int w = 0; w * 64 < n_past; w++) {
        uint64_t bits = hb[w];
        if ((w + 1) * 64 > n_past) bits &= (1ull << (n_past - w * 64)) - 1;
        n += __builtin_popcountll(bits);
    }
    return n;
}

double kv_evict_score(const kv_evict *e, int layer, int kv_head, int j) {
    const double *sc = score_of(e, layer, kv_head);
    return sc && j >= 0 && j < e->n_total ? sc[j] : NAN;
}
