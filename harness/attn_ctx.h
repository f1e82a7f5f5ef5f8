/* attn_ctx.h — the attention of one (method, example) forward pass: it implements the
 * llama_attn_fn hook (model/llama.h), so every layer's attention goes through the method's
 * MaskPlans, and it measures, in the same pass, how far the method is from full attention on
 * sampled query rows (harness/alignment.h) and each head's exact density.
 *
 * Lifecycle per example: attn_ctx_prepare (builds the plans for this prompt length, timed as
 * mask-build time, and chooses the sampled rows) → llama_forward / generate (the hook runs) →
 * attn_ctx_collect (per layer × head alignment means and densities).
 *
 * Methods that evict KV entries during decode (method_ops.evicts, harness/method.h) get an
 * eviction state per example (harness/kv_evict.h): the prompt attends as usual (its score
 * bookkeeping and the eviction after the prompt are timed as mask-build time, inside prefill), and
 * every row after the prompt attends only the keys its KV head still holds (that bookkeeping is part
 * of the decode time). Before restarting from the prompt's cache (teacher forcing), callers call
 * attn_ctx_rewind_to_prompt; attn_ctx_kv_bytes gives the KV bytes the method holds. */
#ifndef DAM_HARNESS_ATTN_CTX_H
#define DAM_HARNESS_ATTN_CTX_H

#include <stdbool.h>

#include "harness/alignment.h"
#include "harness/kv_evict.h"
#include "harness/method.h"
#include "harness/record.h"
#include "model/llama.h"

/* The attention context of one (method, example); owns its plans and alignment sums. */
typedef struct {
    const llama_model *model;
    const method *method;
    maskplan **plans;     /* [n_layers][n_heads] for the current prompt; NULL entries for `full` and for
                             sliding-window layers (part of the model: no method applies there) */
    int plan_n;           /* prompt length the plans were built for */
    int plan_gen;         /* incremented by each attn_ctx_prepare (new plans): the GPU hook rebuilds the
                             device form of static plans when it changes */
    double mask_ms;       /* time spent building plans since the last attn_ctx_prepare, ms (static plans
                             at prepare; dynamic plans layer by layer during the prompt's forward; on the
                             GPU also each planned layer's conversion to the kernel's lists,
                             harness/attn_ctx_cuda.c) */
    bool align;           /* measure alignment on sampled rows */
    int n_prompt;         /* rows 0 .. n_prompt-1 are the prompt (decode rows are not sampled) */
    int tail[ALIGN_ROWS], n_tail, spread[ALIGN_ROWS], n_spread;
    double *acc;          /* [n_layers][n_heads][ALIGN_N_METRICS] sums over sampled rows */
    int *cnt;             /* [n_layers][n_heads][2] rows summed (tail, spread) */
    int empty_rows;       /* rows the masked kernel found empty (a method bug; reported) */
    double align_ms;      /* time spent measuring alignment since the last prepare, ms (callers
                             subtract it from latency figures) */
    kv_evict *ev;         /* decode-time KV eviction state of this example; NULL: the method keeps every key */
    struct attn_ctx_cuda *cuda; /* device scratch of the GPU hook (harness/attn_ctx_cuda.c), made on first use */
} attn_ctx;

/* Binds a context to a model and a prepared method (both must outlive it). */
void attn_ctx_init(attn_ctx *c, const llama_model *m, const method *meth);

/* For a prompt of n_prompt tokens followed by up to n_total - n_prompt generated tokens: builds
 * every (global layer, head) plan (OpenMP over the heads; timed into mask_ms), validates it (an
 * invalid plan is a runtime failure naming the method, layer and head, exit 3), clears the alignment sums and picks the
 * sampled rows if `align`. */
void attn_ctx_prepare(attn_ctx *c, int n_prompt, int n_total, bool align);

/* Before a caller restarts from the prompt's cache (sets n_past back to n_prompt, as the run's
 * teacher forcing does): restores the eviction state to what it was right after the prompt. No-op
 * for methods that do not evict. */
void attn_ctx_rewind_to_prompt(attn_ctx *c);

/* KV-cache bytes the method holds for the state's n_past tokens: llama_state_kv_bytes (fp32 K and
 * V, all layers; sliding-window layers count their window) for methods that do not evict; for
 * evicting methods the global layers count only the entries still held (kv_evict_held_count, per
 * KV head) and sliding-window layers their window. */
size_t attn_ctx_kv_bytes(const attn_ctx *c, const llama_state *s);

/* Installs the context as the state's attention hook (the GPU hook for a state on the GPU). */
void attn_ctx_attach(attn_ctx *c, llama_state *s);

/* Exits with status 2 naming the method if it cannot run on the GPU: methods that evict KV entries
 * during decode (kv_evict runs on host copies of the cache) and methods with their own CPU kernel
 * (full_eager). Called before a run with --device cuda starts. */
void attn_ctx_check_cuda(const method *m);

/* The llama_attn_cuda_fn implementation (harness/attn_ctx_cuda.c; ctx is an attn_ctx *): the same
 * semantics as attn_ctx_fn on device bf16 buffers. Plans go to the GPU kernel through
 * attn_cuda_plan_build (timed as mask-build time, as are dynamic methods' plans, which are
 * estimated on host fp32 copies of the layer's q and k); dense layers use the dense kernels;
 * alignment is measured on host copies of the sampled rows (timed as align_ms). In a build without
 * CUDA (harness/attn_ctx_cuda_none.c) it is never reached: no GPU state can be made. */
void attn_ctx_cuda_fn(void *ctx, int layer, uint16_t *out, int out_stride, const uint16_t *q, int q_stride, int n_q,
                      const uint16_t *k, const uint16_t *v, int kv_cap, int n_k);

/* Frees the GPU hook's device scratch (NULL-safe); attn_ctx_free calls it. */
void attn_ctx_cuda_release(struct attn_ctx_cuda *g);

/* true if a row sampled for alignment lies in the prompt rows n_k - n_q .. n_k - 1 of this step. */
bool attn_ctx_observes(const attn_ctx *c, int n_q, int n_k);

/* Adds the alignment of the sampled rows in this step to the sums (what attn_ctx_fn does after the
 * method's attention): host fp32 buffers, arguments as attn_ctx_fn, out the method's output. */
void attn_ctx_observe(attn_ctx *c, int layer, const float *out, int out_stride, const float *q, int q_stride, int n_q,
                      const float *k, const float *v, int kv_cap, int n_k);
/* The llama_attn_fn implementation (ctx is an attn_ctx *). */
void attn_ctx_fn(void *ctx, int layer, float *out, int out_stride, const float *q, int q_stride, int n_q,
                 const float *k, const float *v, int kv_cap, int n_k);

/* Writes alignment[n_layers][n_heads][ALIGN_N_METRICS] (means over sampled rows, NaN where no
 * row was sampled) and density[n_layers][n_heads] (exact, over the n_prompt × n_prompt causal map;
 * NaN for sliding-window layers, which are part of the model and no method applies to); returns
 * the mean density over the global layers' heads. Either output may be NULL. */
double attn_ctx_collect(const attn_ctx *c, float *alignment, float *density);

void attn_ctx_free(attn_ctx *c);

#endif
