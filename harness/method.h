/* method.h — attention methods behind one interface (DESIGN §3-4). A method is a config name, its
 * own parameters, and the MaskPlan it gives for a (layer, query head, prompt length); kernels only
 * see plans. Each method lives in one file (baselines/ or dam/) that defines a method_ops and is
 * listed in the registry of harness/method.c; adding a method touches nothing else.
 * Several instances of one method may run side by side under unique names. */
#ifndef DAM_HARNESS_METHOD_H
#define DAM_HARNESS_METHOD_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/cfg.h"
#include "kernels/maskplan.h"
#include "model/llama.h"

typedef struct method method;
struct pattern_record; /* harness/results_h5.h */
struct est_cuda_ws;    /* kernels/cuda/estimate.h */

/* Decode-time KV eviction (DESIGN §3: "KV eviction removes a key only when no head of its group can
 * reach it"; docs/methods.md "Decode-time KV eviction"). What an instance does, from
 * method_ops.evicts: */
typedef enum {
    EVICT_NONE = 0, /* keeps every key (all stateless methods) */
    EVICT_PLAIN,    /* evicts by the plans' geometry alone (dam with evict_kv) */
    EVICT_SCORED    /* evicts by accumulated attention scores, which the attention context keeps for it
                       (h2o): evict_step.score */
} evict_kind;

/* What one eviction decision sees (method_ops.evict): one (layer, KV head) right after the row at
 * position `pos` has attended in that layer. The caller is the attention context's eviction state
 * (harness/kv_evict.h), which owns the held sets and the scores. */
typedef struct {
    int layer;
    int kv_head;
    int group;                    /* query heads of the KV head: kv_head·group .. kv_head·group + group − 1 */
    int pos;                      /* the row that has just attended: n_prompt − 1 (the prompt's last row,
                                     once the whole prompt has attended), then every later row */
    int n_prompt;                 /* prompt length (budgets given as fractions of it) */
    const maskplan *const *plans; /* [group] the group's plans for this prompt (a NULL entry: dense) */
    const double *score;          /* EVICT_SCORED: [pos + 1] the attention mass each key has received so far:
                                     Σ over the group's query heads and every row that has attended (the
                                     prompt's rows and the later ones) of the row's softmax probability of
                                     that key, float64 (0 for keys already evicted: never read). Else NULL */
} evict_step;

/* What a method implements. */
typedef struct {
    const char *kind;    /* config name ("streaming") */
    const char *summary; /* one line for help texts */
    /* Reads the method's keys from c (besides "method" and "name", which the caller read) with
     * defaults and range checks (exit 2 naming the key), returns its parameter block. */
    void *(*parse)(const cfg_obj *c);
    /* Checks the parameters against the model (per-layer / per-head shapes) and loads or builds
     * what the method needs (DAM: its pattern file); NULL when there is nothing to do. Exits 2
     * naming the method and key on a mismatch. */
    void (*prepare)(method *m, const llama_model *model);
    /* The plan of (layer, q_head) for a prompt of n tokens, valid for positions < n_total; caller
     * frees. NULL function: dense causal attention (the dense kernel, no plan). Must be pure (reads
     * the method's parameters only): attn_ctx_prepare calls it for all heads from OpenMP threads. */
    maskplan *(*plan)(const method *m, int layer, int q_head, int n, int n_total);
    /* Dynamic (input-dependent) methods set this instead of `plan`: the plans of every query
     * head of `layer` for the prompt, estimated from the layer's post-RoPE, unscaled queries
     * q [n][q_stride] (head h at h * d) and keys k [n_kv_heads][kv_cap][d] (positions 0 .. n-1);
     * out[h] receives head h's plan (caller frees). The run prefills dynamic methods in one step
     * (the whole prompt), times this call as mask-build time, and uses dense attention for rows
     * after the prompt (decode), as MInference, XAttention and FlexPrefill do. */
    void (*plan_layer)(const method *m, int layer, const float *q, int q_stride, int n, const float *k, int kv_cap,
                       int n_heads, int n_kv_heads, int d, maskplan **out);
    /* Optional GPU form of plan_layer (CUDA builds, `--device cuda`): the same plans, estimated
     * on the GPU (kernels/cuda/estimate.h) from the layer's bf16 device buffers q [n][q_stride]
     * (head h at h * d) and k [n_kv_heads][kv_cap][d]; ws is the caller's estimation workspace.
     * Plans equal plan_layer's up to rounding of the fp32 logits (docs/cuda.md). NULL: the GPU
     * hook copies q and k to the host and calls plan_layer. */
    void (*plan_layer_cuda)(const method *m, int layer, const uint16_t *q, int q_stride, int n, const uint16_t *k,
                            int kv_cap, int n_heads, int n_kv_heads, int d, struct est_cuda_ws *ws, maskplan **out);
    void (*free_params)(void *params); /* NULL: dam_free */
    /* Methods that bring their own attention kernel instead of a plan (full_eager) set this; the
     * attention context (harness/attn_ctx.c) then calls it for every layer and step in place of
     * attn_causal / attn_masked, with attn_causal's arguments and layouts (kernels/cpu/attention.h).
     * `plan` and `plan_layer` must be NULL; density is reported as 1 (dense causal). The run gives
     * such a method the whole prompt in one prefill step (method_whole_prompt), as an eager
     * framework's forward call would. NULL: the method's attention is attn_causal / attn_masked. */
    void (*attend)(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k, const float *v,
                   int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale);
    /* Decode-time KV eviction, optional (NULL: the method never evicts; stateless methods leave
     * both NULL and run exactly as before). `evicts` says whether this instance evicts and how
     * (dam evicts only with evict_kv). For an evicting instance the attention context keeps, per
     * example, a held set per (layer, KV head) (harness/kv_evict.h): the prompt attends with the
     * method's plans as usual; after the prompt's last row, and after every later row (generated
     * or teacher-forced; one row at a time), it calls `evict`, which clears in `held` (bit j of
     * word j / 64: key j is held) the keys that the KV head no longer keeps. `evict` may only
     * clear bits, and only of keys <= s->pos (the context checks both; a violation is an internal
     * error). Every row after the prompt attends exactly the held keys its plan keeps, plus its own
     * key, through attn_masked (evicted keys get exact −inf: probability 0 for every later row).
     * Eviction is logical: the CPU cache stays one preallocated buffer; kv_bytes reports the
     * bytes of the held entries. Not combinable with `attend`. */
    evict_kind (*evicts)(const method *m);
    void (*evict)(const method *m, const evict_step *s, uint64_t *held);
    /* Methods whose masks do not depend on the input and come from a file (dam) describe the masks
     * they apply, for the results file (`/patterns/<name>`, docs/hdf5.md): fills *out (a
     * pattern_record, harness/results_h5.h; the caller frees it with pattern_record_free). Called
     * after prepare. NULL: nothing to store (every other method; dam_online's masks are per input,
     * their per-head densities are in the results). */
    void (*store_patterns)(const method *m, struct pattern_record *out);
} method_ops;

/* One configured instance. */
struct method {
    const method_ops *ops;
    char *name;   /* unique instance name (default: the kind) */
    void *params; /* the ops' parameter block */
};

/* Reads a method object ("method", "name" and the method's keys) into *m. Exits 2 on an unknown
 * method name or a bad key. */
void method_parse(const cfg_obj *c, method *m);

/* The registered method of config name `kind`, or NULL. */
const method_ops *method_find(const char *kind);

/* The number of registered methods, and the config name of the i-th (registry order; NULL out of
 * range): for listings (`dam config --keys`). */
int method_n_kinds(void);
const char *method_kind_at(int i);

/* The registered method kinds, comma-separated, for messages and help ("full, streaming, dam"). */
const char *method_kinds(void);

/* True for the reference method `full` (its next-token distributions are the logit-KL reference). */
bool method_is_full(const method *m);

/* See method_ops.prepare (no-op when the method has none). */
void method_prepare(method *m, const llama_model *model);

/* True if the method estimates its plans from the input (method_ops.plan_layer). */
bool method_is_dynamic(const method *m);

/* True if the method must see the whole prompt in one prefill step: dynamic methods (plan_layer)
 * and methods with their own kernel (attend). Callers size the forward chunk to the prompt. */
bool method_whole_prompt(const method *m);

/* See method_ops.evicts: how this instance evicts KV entries during decode (EVICT_NONE when the
 * method has no eviction hooks). */
evict_kind method_evicts(const method *m);

/* See method_ops.plan; NULL for dense and dynamic methods. */
maskplan *method_plan(const method *m, int layer, int q_head, int n, int n_total);

void method_free(method *m);

/* See method_ops.store_patterns: fills *out and returns true, or returns false when the method
 * stores no masks. */
bool method_store_patterns(const method *m, struct pattern_record *out);

/* Exits with status 2 "method NAME: KEY NAME_OF_PROBLEM" if p does not fit the model's shape. */
void method_check_param(const method *m, const char *key, const param *p, const llama_model *model);

#endif
