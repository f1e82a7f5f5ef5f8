/* attn_ctx.c — see attn_ctx.h. */
#include "harness/attn_ctx.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/timer.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_masked.h"

void attn_ctx_init(attn_ctx *c, const llama_model *m, const method *meth) {
    memset(c, 0, sizeof *c);
    c->model = m;
    c->method = meth;
    const int LH = m->cfg.n_layers * m->cfg.n_heads;
    c->plans = dam_calloc(LH, sizeof(maskplan *), "mask plans");
    c->acc = dam_calloc((size_t)LH * ALIGN_N_METRICS, sizeof(double), "alignment sums");
    c->cnt = dam_calloc((size_t)LH * 2, sizeof(int), "alignment counts");
}

static void free_plans(attn_ctx *c) {
    const int LH = c->model->cfg.n_layers * c->model->cfg.n_heads;
    for (int i = 0; i < LH; i++) {
        maskplan_free(c->plans[i]);
        c->plans[i] = NULL;
    }
}

void attn_ctx_prepare(attn_ctx *c, int n_prompt, int n_total, bool align) {
    const llama_config *cfg = &c->model->cfg;
    free_plans(c);
    double t0 = now_ms();
    /* every (layer, head) in parallel (method_ops.plan is pure); the first invalid plan in (layer, head)
     * order is reported, whatever the thread that met it. Methods without static plans (full, the
     * dynamic ones: every entry stays NULL) skip the loop and the OpenMP region, whose start costs
     * 0.3 ms on the H200 machine's 16 cores and ~0.05 ms on first use even with one thread, so their
     * mask_ms stays ~0 */
    const int LH = cfg->n_layers * cfg->n_heads;
    int bad = LH;
    char why_bad[256] = "";
    if (c->method->ops->plan != NULL) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < LH; i++) {
            const int l = i / cfg->n_heads, h = i % cfg->n_heads;
            if (!c->model->layers[l].global) continue; /* sliding-window layers: no plan */
            maskplan *p = method_plan(c->method, l, h, n_prompt, n_total);
            const char *why = p ? maskplan_validate(p, n_total) : NULL;
            if (why) {
#pragma omp critical(attn_ctx_prepare_validate)
                if (i < bad) {
                    bad = i;
                    snprintf(why_bad, sizeof why_bad, "%s", why);
                }
            }
            c->plans[i] = p;
        }
    }
    if (bad < LH)
        dam_die(DAM_EXIT_RUNTIME, "method %s gives an invalid plan for layer %d head %d: %s", c->method->name,
                bad / cfg->n_heads, bad % cfg->n_heads, why_bad);
    c->mask_ms = now_ms() - t0;
    c->plan_gen++;
    kv_evict_free(c->ev);
    c->ev = kv_evict_new(c->method, cfg, n_prompt, n_total);
    c->plan_n = n_prompt;
    c->n_prompt = n_prompt;
    c->align = align;
    c->empty_rows = 0;
    c->align_ms = 0;
    memset(c->acc, 0, sizeof(double) * LH * ALIGN_N_METRICS);
    memset(c->cnt, 0, sizeof(int) * LH * 2);
    align_sample_rows(n_prompt, c->tail, &c->n_tail, c->spread, &c->n_spread);
}

void attn_ctx_rewind_to_prompt(attn_ctx *c) {
    if (c->ev) kv_evict_rewind(c->ev);
}

size_t attn_ctx_kv_bytes(const attn_ctx *c, const llama_state *s) {
    if (c->ev == NULL) return llama_state_kv_bytes(c->model, s);
    const llama_config *cfg = &c->model->cfg;
    int64_t n = 0; /* held (position, KV head) entries */
    for (int l = 0; l < cfg->n_layers; l++) {
        if (!c->model->layers[l].global) { /* no method evicts there */
            n += (int64_t)llama_layer_kv_rows(c->model, l, s->n_past) * cfg->n_kv_heads;
            continue;
        }
        for (int g = 0; g < cfg->n_kv_heads; g++) n += kv_evict_held_count(c->ev, l, g, s->n_past);
    }
    return (size_t)n * 2 * (size_t)cfg->head_dim * sizeof(float);
}

void attn_ctx_attach(attn_ctx *c, llama_state *s) {
    if (s->gpu) s->attn_cuda = attn_ctx_cuda_fn;
    else s->attn = attn_ctx_fn;
    s->attn_ctx = c;
}

void attn_ctx_check_cuda(const method *m) {
    if (method_evicts(m) != EVICT_NONE)
        dam_die(DAM_EXIT_INPUT, "method %s evicts KV entries during decode, which the CUDA backend does not implement; "
                "run it with --device cpu", m->name);
    if (m->ops->attend)
        dam_die(DAM_EXIT_INPUT, "method %s has its own CPU attention kernel; run it with --device cpu", m->name);
}

/* The sampled prompt rows among positions n_k - n_q .. n_k - 1 into rows[], their kind (0 tail,
 * 1 spread) into kind[] (both NULL to count only; else sized 2 ALIGN_ROWS); returns their number. */
static int step_rows(const attn_ctx *c, int n_q, int n_k, int *rows, int *kind) {
    const int p0 = n_k - n_q;
    int nr = 0;
    for (int s = 0; s < 2; s++) {
        const int *r = s ? c->spread : c->tail, n = s ? c->n_spread : c->n_tail;
        for (int i = 0; i < n; i++)
            if (r[i] >= p0 && r[i] < n_k && r[i] < c->n_prompt) {
                if (rows) rows[nr] = r[i], kind[nr] = s;
                nr++;
            }
    }
    return nr;
}

bool attn_ctx_observes(const attn_ctx *c, int n_q, int n_k) { return step_rows(c, n_q, n_k, NULL, NULL) > 0; }

void attn_ctx_observe(attn_ctx *c, int layer, const float *out, int out_stride, const float *q, int q_stride, int n_q,
                    const float *k, const float *v, int kv_cap, int n_k) {
    const llama_config *cfg = &c->model->cfg;
    const int H = cfg->n_heads, d = cfg->head_dim, group = cfg->n_heads / cfg->n_kv_heads;
    const int p0 = n_k - n_q;
    int rows[2 * ALIGN_ROWS], kind[2 * ALIGN_ROWS];
    const int nr = step_rows(c, n_q, n_k, rows, kind);
    if (nr == 0) return;
    const float scale = 1.0f / sqrtf((float)d);
    const int n_threads = omp_get_max_threads();
    float *wf = dam_malloc(sizeof(float) * (size_t)n_k * n_threads, "alignment scratch");
    double *wd = dam_malloc(sizeof(double) * (size_t)n_k * n_threads, "alignment scratch");
    align_row_metrics *res = dam_malloc(sizeof(align_row_metrics) * nr * H, "alignment rows");
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int i = 0; i < nr; i++)
        for (int h = 0; h < H; h++) {
            const int t = omp_get_thread_num(), p = rows[i], g = h / group;
            const float *qr = q + (long)(p - p0) * q_stride + (long)h * d;
            const float *om = out + (long)(p - p0) * out_stride + (long)h * d;
            res[i * H + h] = align_row(qr, k + (long)g * kv_cap * d, v + (long)g * kv_cap * d, om, p, d, scale,
                                       c->plans[layer * H + h], wf + (size_t)t * n_k, wd + (size_t)t * n_k);
        }
    for (int i = 0; i < nr; i++)
        for (int h = 0; h < H; h++) {
            const align_row_metrics *r = &res[i * H + h];
            double *a = c->acc + ((size_t)layer * H + h) * ALIGN_N_METRICS + (kind[i] ? ALIGN_SPREAD_MASS_RECALL : 0);
            a[0] += r->mass_recall;
            a[1] += r->neg_log_recall;
            a[2] += r->out_rel_l2;
            a[3] += r->out_cos;
            c->cnt[((size_t)layer * H + h) * 2 + kind[i]]++;
        }
    dam_free(res);
    dam_free(wd);
    dam_free(wf);
}

/* The method's attention for rows n_k - n_q .. n_k - 1 (plans, dynamic plans, own kernel or dense). */
static void attend(attn_ctx *c, int layer, float *out, int out_stride, const float *q, int q_stride, int n_q,
                   const float *k, const float *v, int kv_cap, int n_k) {
    const llama_config *cfg = &c->model->cfg;
    const int H = cfg->n_heads;
    const float scale = 1.0f / sqrtf((float)cfg->head_dim);
    const bool dynamic = method_is_dynamic(c->method);
    if (dynamic && n_k - n_q < c->n_prompt && c->plans[layer * H] == NULL) {
        /* input-dependent plans of this layer, from the whole prompt (one prefill step) */
        if (n_q != n_k || n_k != c->n_prompt)
            dam_die(DAM_EXIT_RUNTIME, "internal error: dynamic method %s needs the prompt in one prefill step", c->method->name);
        double t0 = now_ms();
        c->method->ops->plan_layer(c->method, layer, q, q_stride, n_q, k, kv_cap, H, cfg->n_kv_heads, cfg->head_dim,
                                   c->plans + layer * H);
        for (int h = 0; h < H; h++) {
            const char *why = maskplan_validate(c->plans[layer * H + h], n_k);
            if (why) dam_die(DAM_EXIT_RUNTIME, "method %s gives an invalid plan for layer %d head %d: %s", c->method->name, layer, h, why);
        }
        c->mask_ms += now_ms() - t0;
    }
    if (c->method->ops->attend) { /* the method's own kernel (full_eager) */
        c->method->ops->attend(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, H, cfg->n_kv_heads, cfg->head_dim,
                               scale);
    } else if (c->plans[layer * H] == NULL || (dynamic && n_k - n_q >= c->n_prompt)) { /* dense; dynamic: after the prompt */
        attn_causal(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, H, cfg->n_kv_heads, cfg->head_dim, scale);
    } else {
        c->empty_rows += attn_masked(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, H, cfg->n_kv_heads,
                                     cfg->head_dim, scale, (const maskplan *const *)(c->plans + layer * H));
    }
}

void attn_ctx_fn(void *ctx, int layer, float *out, int out_stride, const float *q, int q_stride, int n_q,
                 const float *k, const float *v, int kv_cap, int n_k) {
    attn_ctx *c = ctx;
    if (c->ev == NULL) {
        attend(c, layer, out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k);
    } else { /* decode-time KV eviction: prompt rows as usual, later rows over the held keys */
        const int H = c->model->cfg.n_heads, p0 = n_k - n_q;
        const int n_pre = p0 >= c->n_prompt ? 0 : (n_k <= c->n_prompt ? n_q : c->n_prompt - p0);
        const maskplan *const *plans = (const maskplan *const *)(c->plans + layer * H);
        if (n_pre > 0) {
            attend(c, layer, out, out_stride, q, q_stride, n_pre, k, v, kv_cap, p0 + n_pre);
            double t0 = now_ms();
            kv_evict_prompt_rows(c->ev, layer, q, q_stride, p0, n_pre, k, kv_cap, plans);
            c->mask_ms += now_ms() - t0;
        }
        if (n_pre < n_q) /* dynamic methods attend densely after the prompt: no plans there */
            c->empty_rows += kv_evict_decode_rows(c->ev, layer, out + (size_t)n_pre * out_stride, out_stride,
                                                  q + (size_t)n_pre * q_stride, q_stride, p0 + n_pre, n_q - n_pre, k, v,
                                                  kv_cap, method_is_dynamic(c->method) ? NULL : plans);
    }
    if (c->align) {
        double t0 = now_ms();
        attn_ctx_observe(c, layer, out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k);
        c->align_ms += now_ms() - t0;
    }
}

double attn_ctx_collect(const attn_ctx *c, float *alignment, float *density) {
    const llama_config *cfg = &c->model->cfg;
    const int H = cfg->n_heads, L = cfg->n_layers;
    double sum = 0;
    int n_global = 0;
    for (int l = 0; l < L; l++) {
        const bool global = c->model->layers[l].global;
        n_global += global;
        for (int h = 0; h < H; h++) {
            const size_t lh = (size_t)l * H + h;
            if (alignment)
                for (int m = 0; m < ALIGN_N_METRICS; m++) {
                    int n = c->cnt[lh * 2 + (m >= ALIGN_SPREAD_MASS_RECALL)];
                    alignment[lh * ALIGN_N_METRICS + m] = n ? (float)(c->acc[lh * ALIGN_N_METRICS + m] / n) : NAN;
                }
            double dens = !global ? NAN : c->plans[lh] ? maskplan_density(c->plans[lh], c->n_prompt) : 1.0;
            if (density) density[lh] = (float)dens;
            if (global) sum += dens;
        }
    }
    return n_global ? sum / ((double)n_global * H) : NAN;
}

void attn_ctx_free(attn_ctx *c) {
    if (c->plans) free_plans(c);
    kv_evict_free(c->ev);
    attn_ctx_cuda_release(c->cuda);
    dam_free(c->plans);
    dam_free(c->acc);
    dam_free(c->cnt);
    memset(c, 0, sizeof *c);
}
