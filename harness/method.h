/* method.h — attention methods behind one interface (DESIGN §3-4). A method is a config name, its
 * own parameters, and the MaskPlan it gives for a (layer, query head, prompt length); kernels only
 * see plans. Each method lives in one file (baselines/ or dam/) that defines a method_ops and is
 * listed in the registry of harness/method.c; adding a method touches nothing else.
 * Several instances of one method may run side by side under unique names. */
#ifndef DAM_HARNESS_METHOD_H
#define DAM_HARNESS_METHOD_H

#include <stdbool.h>

#include "harness/cfg.h"
#include "kernels/maskplan.h"
#include "model/llama.h"

typedef struct method method;

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
     * frees. NULL function: dense causal attention (the dense kernel, no plan). */
    maskplan *(*plan)(const method *m, int layer, int q_head, int n, int n_total);
    /* Dynamic (input-dependent) methods set this instead of `plan`: the plans of every query
     * head of `layer` for the prompt, estimated from the layer's post-RoPE, unscaled queries
     * q [n][q_stride] (head h at h * d) and keys k [n_kv_heads][kv_cap][d] (positions 0 .. n-1);
     * out[h] receives head h's plan (caller frees). The run prefills dynamic methods in one step
     * (the whole prompt), times this call as mask-build time, and uses dense attention for rows
     * after the prompt (decode), as MInference, XAttention and FlexPrefill do. */
    void (*plan_layer)(const method *m, int layer, const float *q, int q_stride, int n, const float *k, int kv_cap,
                       int n_heads, int n_kv_heads, int d, maskplan **out);
    void (*free_params)(void *params); /* NULL: dam_free */
    /* Methods that bring their own attention kernel instead of a plan (full_eager) set this; the
     * attention context (harness/attn_ctx.c) then calls it for every layer and step in place of
     * attn_causal / attn_masked, with attn_causal's arguments and layouts (kernels/cpu/attention.h).
     * `plan` and `plan_layer` must be NULL; density is reported as 1 (dense causal). The run gives
     * such a method the whole prompt in one prefill step (method_whole_prompt), as an eager
     * framework's forward call would. NULL: the method's attention is attn_causal / attn_masked. */
    void (*attend)(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k, const float *v,
                   int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale);
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

/* See method_ops.plan; NULL for dense and dynamic methods. */
maskplan *method_plan(const method *m, int layer, int q_head, int n, int n_total);

void method_free(method *m);

/* Exits with status 2 "method NAME: KEY NAME_OF_PROBLEM" if p does not fit the model's shape. */
void method_check_param(const method *m, const char *key, const param *p, const llama_model *model);

#endif
