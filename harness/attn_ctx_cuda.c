/* attn_ctx_cuda.c — attn_ctx's attention hook for a state on the GPU (attn_ctx.h,
 * attn_ctx_cuda_fn). Built only with the CUDA backend (`make cuda-dam`); attn_ctx_cuda_none.c
 * stands in otherwise. The logic is attn_ctx.c's `attend` + `observe` on device buffers:
 *   1. a dynamic method's plans for this layer, estimated from the whole prompt (first step of a
 *      global layer): on the GPU by the method's plan_layer_cuda (minference, xattention,
 *      flexprefill, dam_online: kernels/cuda/estimate.h), else (a dynamic method without one) from
 *      host fp32 copies of q and k by its plan_layer, as on the CPU; timed as mask-build time after
 *      a device synchronisation;
 *   2. the attention: dense layers (no plan; dynamic methods after the prompt) through the dense
 *      kernels (decode kernel for one-token steps), planned layers through attn_cuda_plan_build +
 *      attn_cuda_masked; plan conversion is counted as mask-build time. A static method's plans are
 *      converted for every layer at the step's first planned layer (after a device synchronisation,
 *      so queued model work is not counted) and kept until the step's shape or the prompt's plans
 *      change: the forward's later layers then run with no host synchronisation but the empty-row
 *      count, read once per step at the last layer (per-layer builds synchronised the device twice
 *      each and every cudaFree once, which stalled the queue between layers: run 76, DAM's mask_ms
 *      12 ms at 8K against 4.8 ms of plan work; the build is now one batched GPU build for all
 *      layers, attn_cuda_plan_build_layers, and device frees are stream-ordered, cuda_mem.h). A
 *      dynamic method's plans are converted per layer, as they are estimated;
 *   3. alignment of the sampled rows on host copies of q, k, v and the output, timed as align_ms
 *      after a device synchronisation (the layer's queued attention belongs to the prefill time,
 *      which excludes align_ms). */
#include "harness/attn_ctx.h"

#include <math.h>
#include <stdio.h>

#include <cuda_runtime.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/timer.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_masked.h"
#include "kernels/cuda/attention_plan_gpu.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"
#include "kernels/cuda/estimate.h"

/* Device scratch of one attn_ctx, made on first use. */
struct attn_ctx_cuda {
    attn_cuda_decode_ws *ws; /* dense decode steps */
    int *d_empty;            /* empty-row counter of the masked kernel */
    attn_cuda_plan *dense;   /* the dense plan of the current step's (n_q, n_k), shared by its layers */
    est_cuda_ws *est;        /* dynamic methods' GPU estimation (method_ops.plan_layer_cuda) */
    attn_cuda_plan **layer_plans; /* [n_layers] a static method's device plans for the step (lp_n_q, lp_n_k)
                                     of plan generation lp_gen (attn_ctx.plan_gen); NULL: a layer without plans */
    int n_layers, lp_n_q, lp_n_k, lp_gen;
    bool empty_pending;      /* the masked kernel counted into d_empty since the last read */
};

/* Frees the kept device plans of every layer. */
static void layer_plans_free(struct attn_ctx_cuda *g) {
    for (int l = 0; g->layer_plans && l < g->n_layers; l++) {
        attn_cuda_plan_free(g->layer_plans[l]);
        g->layer_plans[l] = NULL;
    }
}

void attn_ctx_cuda_release(struct attn_ctx_cuda *g) {
    if (g == NULL) return;
    layer_plans_free(g);
    dam_free(g->layer_plans);
    attn_cuda_decode_ws_free(g->ws);
    attn_cuda_plan_free(g->dense);
    est_cuda_ws_free(g->est);
    dam_cuda_free(g->d_empty);
    attn_plan_parts_release();    /* the GPU list build's host staging (kept across builds) */
    attn_cuda_plan_gpu_release(); /* ... and its device scratch */
    dam_free(g);
}

/* Host fp32 copy of a layer's cache [n_kv_heads][n_k][d] (rows 0 .. n_k-1 of each head). */
static float *download_cache(const uint16_t *x, int n_kv_heads, int kv_cap, int n_k, int d) {
    float *h = dam_malloc(sizeof(float) * (size_t)n_kv_heads * n_k * d, "host copy of the KV cache");
    for (int g = 0; g < n_kv_heads; g++)
        dam_cuda_download_bf16(h + (size_t)g * n_k * d, x + (size_t)g * kv_cap * d, (size_t)n_k, (size_t)d, (size_t)d);
    return h;
}

/* A static method's device plan of `layer` for a step of n_q queries after n_k keys: every layer's
 * plans converted at once when the step's shape or the prompt's plans (plan_gen) differ from the kept
 * ones, timed as mask-build time after a device synchronisation; NULL for a layer without plans. */
static attn_cuda_plan *static_plan(attn_ctx *c, int layer, int n_q, int n_k) {
    struct attn_ctx_cuda *g = c->cuda;
    const llama_config *cfg = &c->model->cfg;
    const int H = cfg->n_heads, Hkv = cfg->n_kv_heads;
    if (g->layer_plans == NULL) {
        g->n_layers = cfg->n_layers;
        g->layer_plans = dam_calloc((size_t)g->n_layers, sizeof *g->layer_plans, "GPU plans of the layers");
        g->lp_gen = c->plan_gen - 1; /* none built yet */
    }
    if (g->lp_gen != c->plan_gen || g->lp_n_q != n_q || g->lp_n_k != n_k) {
        layer_plans_free(g);
        CUDA_CHECK(cudaDeviceSynchronize()); /* the queued model work is not mask time */
        const double t0 = now_ms();
        const maskplan *const **sets = dam_malloc(sizeof *sets * (size_t)g->n_layers, "plans of the layers");
        for (int l = 0; l < g->n_layers; l++)
            sets[l] = c->plans[l * H] != NULL ? (const maskplan *const *)(c->plans + l * H) : NULL;
        attn_cuda_plan_build_layers(sets, g->n_layers, n_q, n_k, H, Hkv, g->layer_plans); /* GPU builds batched */
        dam_free(sets);
        c->mask_ms += now_ms() - t0;
        g->lp_gen = c->plan_gen;
        g->lp_n_q = n_q;
        g->lp_n_k = n_k;
    }
    return g->layer_plans[layer];
}

void attn_ctx_cuda_fn(void *ctx, int layer, uint16_t *out, int out_stride, const uint16_t *q, int q_stride, int n_q,
                      const uint16_t *k, const uint16_t *v, int kv_cap, int n_k) {
    attn_ctx *c = ctx;
    const llama_config *cfg = &c->model->cfg;
    const int H = cfg->n_heads, Hkv = cfg->n_kv_heads, d = cfg->head_dim, p0 = n_k - n_q;
    const float scale = 1.0f / sqrtf((float)d);
    const bool dynamic = method_is_dynamic(c->method);
    if (c->cuda == NULL) {
        c->cuda = dam_calloc(1, sizeof *c->cuda, "GPU attention scratch");
        c->cuda->ws = attn_cuda_decode_ws_new(H, d, 0);
        c->cuda->d_empty = dam_cuda_calloc(sizeof(int), "empty-row counter");
    }

    /* 1. dynamic plans of this layer, from the whole prompt */
    if (dynamic && p0 < c->n_prompt && c->plans[layer * H] == NULL) {
        if (n_q != n_k || n_k != c->n_prompt)
            dam_die(DAM_EXIT_RUNTIME, "internal error: dynamic method %s needs the prompt in one prefill step", c->method->name);
        CUDA_CHECK(cudaDeviceSynchronize()); /* the layer's q and k are ready: time only the estimate */
        double t0 = now_ms();
        if (c->method->ops->plan_layer_cuda) {
            if (c->cuda->est == NULL) c->cuda->est = est_cuda_ws_new();
            c->method->ops->plan_layer_cuda(c->method, layer, q, q_stride, n_q, k, kv_cap, H, Hkv, d, c->cuda->est,
                                            c->plans + layer * H);
        } else {
            float *hq = dam_malloc(sizeof(float) * (size_t)n_q * H * d, "host copy of q");
            dam_cuda_download_bf16(hq, q, (size_t)n_q, (size_t)H * d, (size_t)q_stride);
            float *hk = download_cache(k, Hkv, kv_cap, n_k, d);
            c->method->ops->plan_layer(c->method, layer, hq, H * d, n_q, hk, n_k, H, Hkv, d, c->plans + layer * H);
            dam_free(hk);
            dam_free(hq);
        }
        int bad = -1;  /* the first head with an invalid plan (heads checked in parallel) */
        char why_bad[256] = "";
#pragma omp parallel for schedule(dynamic, 1)
        for (int h = 0; h < H; h++) {
            const char *why = maskplan_validate(c->plans[layer * H + h], n_k);
            if (why) {
#pragma omp critical(attn_ctx_cuda_validate)
                if (bad < 0 || h < bad) {
                    bad = h;
                    snprintf(why_bad, sizeof why_bad, "%s", why);
                }
            }
        }
        if (bad >= 0)
            dam_die(DAM_EXIT_RUNTIME, "method %s gives an invalid plan for layer %d head %d: %s", c->method->name, layer, bad, why_bad);
        c->mask_ms += now_ms() - t0;
    }

    /* 2. the attention */
    const bool dense = c->plans[layer * H] == NULL || (dynamic && p0 >= c->n_prompt);
    if (dense && n_q == 1) {
        attn_cuda_decode(out, q, k, v, kv_cap, n_k, H, Hkv, d, scale, NULL, NULL, 0, 0, c->cuda->ws);
    } else if (dense) { /* one dense plan per step, reused by every layer of it */
        struct attn_ctx_cuda *g = c->cuda;
        if (g->dense == NULL || g->dense->n_q != n_q || g->dense->n_k != n_k) {
            attn_cuda_plan_free(g->dense);
            g->dense = attn_cuda_plan_build(NULL, n_q, n_k, H, Hkv);
        }
        attn_cuda_masked(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, H, Hkv, d, scale, g->dense, NULL, NULL);
    } else if (!dynamic) { /* a static method: every layer's plans converted once per step */
        attn_cuda_plan *p = static_plan(c, layer, n_q, n_k);
        if (p == NULL) dam_die(DAM_EXIT_RUNTIME, "internal error: no device plan for layer %d of method %s", layer, c->method->name);
        attn_cuda_masked(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, H, Hkv, d, scale, p, c->cuda->d_empty, NULL);
        c->cuda->empty_pending = true;
    } else {
        double t0 = now_ms();
        attn_cuda_plan *p = attn_cuda_plan_build((const maskplan *const *)(c->plans + layer * H), n_q, n_k, H, Hkv);
        c->mask_ms += now_ms() - t0;
        attn_cuda_masked(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, H, Hkv, d, scale, p, c->cuda->d_empty, NULL);
        c->cuda->empty_pending = true;
        attn_cuda_plan_free(p);
    }
    /* the masked kernel's empty-row count: once per step, after the last layer */
    if (layer == cfg->n_layers - 1 && c->cuda->empty_pending) {
        int empty = 0;
        CUDA_CHECK(cudaMemcpy(&empty, c->cuda->d_empty, sizeof(int), cudaMemcpyDeviceToHost));
        if (empty) {
            c->empty_rows += empty;
            CUDA_CHECK(cudaMemset(c->cuda->d_empty, 0, sizeof(int)));
        }
        c->cuda->empty_pending = false;
    }

    /* 3. alignment on host copies */
    if (c->align && attn_ctx_observes(c, n_q, n_k)) {
        CUDA_CHECK(cudaDeviceSynchronize()); /* the queued forward up to here is prefill, not alignment */
        double t0 = now_ms();
        float *hq = dam_malloc(sizeof(float) * (size_t)n_q * H * d, "host copy of q");
        float *ho = dam_malloc(sizeof(float) * (size_t)n_q * H * d, "host copy of the attention output");
        dam_cuda_download_bf16(hq, q, (size_t)n_q, (size_t)H * d, (size_t)q_stride);
        dam_cuda_download_bf16(ho, out, (size_t)n_q, (size_t)H * d, (size_t)out_stride);
        float *hk = download_cache(k, Hkv, kv_cap, n_k, d), *hv = download_cache(v, Hkv, kv_cap, n_k, d);
        attn_ctx_observe(c, layer, ho, H * d, hq, H * d, n_q, hk, hv, n_k, n_k);
        dam_free(hv);
        dam_free(hk);
        dam_free(ho);
        dam_free(hq);
        c->align_ms += now_ms() - t0;
    }
}
