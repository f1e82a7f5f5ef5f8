/* full_eager.c — `full_eager`: dense causal attention computed the way Hugging Face's `eager`
 * attention and the DAM paper's "Original" baseline (docs/dam-spec.md §4) compute it — the whole score
 * matrix of a step is materialised, then softmaxed, then multiplied by V — through the kernel
 * attn_eager (kernels/cpu/attention_eager.h). Its result equals `full` up to fp rounding; what
 * differs is memory: the scores take 4 · n_heads · n_q · n_k bytes of the harness allocator per
 * layer call, so the run's peak_bytes grows with n². The run gives this method the whole prompt in
 * one prefill step (method_whole_prompt), as HF's forward does, so at prefill n_q = n_k = n: for
 * SmolLM2-135M (9 query heads) 36 · n² bytes, 151 MB at n = 2048, 604 MB at 4096, 9.7 GB at 16K.
 * Decode steps take 4 · 9 · n_k bytes. No parameters; no plan (density 1).
 * Simplified against HF eager: no additive mask tensor and no second probability tensor (HF holds
 * both), so HF's peak is higher than ours by about 4 · n_heads · n² + 4 · n² bytes. */
#include "core/mem.h"
#include "harness/method.h"
#include "kernels/cpu/attention_eager.h"

static void *full_eager_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", NULL};
    cfg_check_keys(c, keys);
    return dam_calloc(1, 1, "full_eager params");
}

const method_ops FULL_EAGER_OPS = {.kind = "full_eager",
                                   .summary = "dense causal attention materialising the n x n scores (HF eager, the paper's Original)",
                                   .parse = full_eager_parse,
                                   .attend = attn_eager};
