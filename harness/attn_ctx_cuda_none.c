/* attn_ctx_cuda_none.c — attn_ctx's GPU hook in a build without the CUDA backend: no GPU state can
 * be made there (model/llama_cuda_none.c exits first), so the hook is never called. */
#include "harness/attn_ctx.h"

#include "core/error.h"

void attn_ctx_cuda_fn(void *ctx, int layer, uint16_t *out, int out_stride, const uint16_t *q, int q_stride, int n_q,
                      const uint16_t *k, const uint16_t *v, int kv_cap, int n_k) {
    (void)ctx; (void)layer; (void)out; (void)out_stride; (void)q; (void)q_stride; (void)n_q; (void)k; (void)v;
    (void)kv_cap; (void)n_k;
    dam_die(DAM_EXIT_RUNTIME, "internal error: the GPU attention hook called in a build without CUDA");
}

void attn_ctx_cuda_release(struct attn_ctx_cuda *g) { (void)g; }
