/* kv_evict.h — decode-time KV eviction of one (method, example): the state an evicting method
 * (method_ops.evicts / evict, harness/method.h) needs, owned by the attention context
 * (harness/attn_ctx.h), which calls the functions below from its llama_attn_fn hook.
 *
 * State per (layer, KV head):
 *   held   a bitset over positions 0 .. n_total − 1 (bit j of word j / 64 set: key j is held),
 *          all set at the start; only the method's evict clears bits, nothing sets them again
 *          (except kv_evict_rewind, which restores the state after the prompt);
 *   score  (EVICT_SCORED only) [n_total] float64: the attention mass each key has received so far,
 *          Σ over the KV head's query heads and every row that has attended of that row's softmax
 *          probability of the key, computed here from the row's query and the cached keys over the
 *          keys the row attended (fp32 dot products, float64 scale 1/√d, softmax and sums).
 * Rows, per layer, in position order (a step that does not continue where the last one ended is
 * an internal error unless kv_evict_rewind came first):
 *   prompt rows (positions < n_prompt) attend with the method's plans, as for any method, in the
 *     context's usual path; kv_evict_prompt_rows then adds their probabilities to `score`
 *     (EVICT_SCORED; under the row's plan, dense for h2o) and, once the prompt's last row has
 *     attended, calls evict with pos = n_prompt − 1 and keeps a snapshot of the layer's state;
 *   later rows (generated or teacher-forced tokens, any number per step) go through
 *     kv_evict_decode_rows one row at a time: row p attends exactly the keys j < p that its KV
 *     head holds and its plan keeps at (p, j) (every held key for a method without a plan), plus
 *     its own key p, through attn_masked with a one-row plan per query head (those keys as
 *     columns + diagonal 0): evicted keys get exact −inf, probability 0 (the kernel skips the
 *     64-key blocks where the row keeps nothing; a block it computes densely may still load an
 *     evicted entry, multiplied by 0). Then the row's probabilities go into `score`
 *     (EVICT_SCORED) and evict runs with pos = p.
 * Eviction is logical: the CPU KV cache stays one preallocated buffer; attn_ctx_kv_bytes reports the
 * bytes of the entries still held. Costs per row after the prompt: O(n / 64) words per query head
 * for the row plans, O(held · d) per query head for the scores, plus the method's evict. */
#ifndef DAM_HARNESS_KV_EVICT_H
#define DAM_HARNESS_KV_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/method.h"
#include "model/llama.h"

typedef struct kv_evict kv_evict;

/* The eviction state of `meth` (which must outlive it) for a prompt of n_prompt tokens and up to
 * n_total positions in all, or NULL when the instance does not evict (method_evicts: EVICT_NONE).
 * An evicting method with its own kernel (method_ops.attend) is an internal error (exit 3). */
kv_evict *kv_evict_new(const method *meth, const llama_config *cfg, int n_prompt, int n_total);

/* NULL is a no-op. */
void kv_evict_free(kv_evict *e);

/* After the prompt rows p0 .. p0 + n_rows − 1 (all < n_prompt) of `layer` have attended with
 * `plans` ([n_heads], NULL or NULL entries: dense): adds their probabilities to the scores
 * (EVICT_SCORED) and, when the last of them is the prompt's last row, runs the first eviction
 * (pos = n_prompt − 1) and snapshots the layer. q row t (position p0 + t) at q + t · q_stride
 * (head h at h · d, unscaled); k the layer's cache [n_kv_heads][kv_cap][d]. */
void kv_evict_prompt_rows(kv_evict *e, int layer, const float *q, int q_stride, int p0, int n_rows, const float *k,
                          int kv_cap, const maskplan *const *plans);

/* Attention of the rows p0 .. p0 + n_rows − 1 (all >= n_prompt) of `layer`, one at a time, over
 * the held keys (see above), with scores and eviction after each row. Arguments as attn_masked's
 * (q, out row t at position p0 + t; k, v the layer's cache holding keys up to p0 + n_rows − 1);
 * plans [n_heads] the method's plans (NULL or NULL entries: every held key). Returns the number of
 * (row, head) pairs that kept no key (always 0: the own key is kept). */
int kv_evict_decode_rows(kv_evict *e, int layer, float *out, int out_stride, const float *q, int q_stride, int p0,
                         int n_rows, const float *k, const float *v, int kv_cap, const maskplan *const *plans);

/* Restores every layer's state to its snapshot after the prompt, so the next rows may start again
 * at position n_prompt (the run's teacher forcing restarts from the prompt's cache). An internal
 * error (exit 3) if some layer has not finished the prompt yet. */
void kv_evict_rewind(kv_evict *e);

/* Whether (layer, kv_head) holds key j. */
bool kv_evict_is_held(const kv_evict *e, int layer, int kv_head, int j);

/* Keys 0 .. n_past − 1 that (layer, kv_head) holds. */
int64_t kv_evict_held_count(const kv_evict *e, int layer, int kv_head, int n_past);

/* The accumulated score of key j of (layer, kv_head) (EVICT_SCORED), else NaN. */
double kv_evict_score(const kv_evict *e, int layer, int kv_head, int j);

#endif
