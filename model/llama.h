/* llama.h — the llama-family transformer (Touvron et al. 2023) on the CPU, fp32.
 *
 * Per layer: x += Wo · Attn(RoPE(Wq · n1), RoPE(Wk · n1), Wv · n1) with n1 = RMSNorm(x);
 *            x += Wdown · (silu(Wgate · n2) ⊙ Wup · n2) with n2 = RMSNorm(x).
 * Then logits = Wout · RMSNorm(x), where Wout = token_embd when the file has no output.weight
 * (tied embeddings). GQA: query head h reads KV head h / (n_heads / n_kv_heads). RoPE pairing
 * follows the file format (GGUF llama: adjacent pairs, models.md §4). Keys are cached after RoPE.
 *
 * Weights are dequantised once at load into fp32 (dam_malloc, counted); Q|K|V and gate|up are
 * stored fused so each is one GEMM. Read the code top to bottom like the architecture diagram. */
#ifndef DAM_MODEL_LLAMA_H
#define DAM_MODEL_LLAMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu/ops.h"
#include "model/tokenizer.h"

/* Hyper-parameters, read from the GGUF metadata (<arch>.* keys). */
typedef struct {
    int n_layers;
    int d_model;     /* hidden size */
    int n_heads;     /* query heads */
    int n_kv_heads;  /* key/value heads (GQA) */
    int head_dim;
    int d_ff;        /* FFN inner size */
    int vocab;
    int n_ctx_train; /* trained context length, tokens */
    float rope_theta;
    float norm_eps;
    rope_pairing rope;
} llama_config;

/* One layer's weights, fp32 row-major [out][in]. */
typedef struct {
    float *attn_norm; /* [d_model] */
    float *wqkv;      /* [(n_heads + 2 n_kv_heads) head_dim][d_model]: Wq rows, then Wk, then Wv */
    float *wo;        /* [d_model][n_heads head_dim] */
    float *ffn_norm;  /* [d_model] */
    float *w_gate_up; /* [2 d_ff][d_model]: Wgate rows, then Wup */
    float *w_down;    /* [d_model][d_ff] */
} llama_layer;

/* A loaded model. Owns everything; release with llama_free. */
typedef struct {
    llama_config cfg;
    char *path;
    char sha256[65];   /* of the model file */
    char *name;        /* general.name, or the file name */
    char *arch;        /* general.architecture */
    char *quant;       /* weight type of the projections, e.g. "Q4_1" */
    char *chat_template; /* tokenizer.chat_template (Jinja source) or NULL */
    float *tok_embd;   /* [vocab][d_model] */
    float *out_norm;   /* [d_model] */
    float *lm_head;    /* [vocab][d_model]; == tok_embd when tied */
    bool tied;
    llama_layer *layers;
    tokenizer *tok;
    size_t weight_bytes; /* fp32 bytes held for weights */
} llama_model;

/* Loads a GGUF llama-architecture model: checks architecture, hyper-parameters and every tensor's
 * shape, dequantises all weights, builds the tokenizer and hashes the file. Any problem is an
 * input error (exit 2) naming the file and the key or tensor. */
llama_model *llama_load(const char *path);

void llama_free(llama_model *m);

/* One layer's attention, called by llama_forward for every layer of every step in place of the
 * default dense causal attention (attn_causal). Arguments are those of attn_causal
 * (kernels/cpu/attention.h): q [n_q][q_stride] post-RoPE and unscaled, this layer's caches
 * k, v [n_kv_heads][kv_cap][head_dim] holding keys 0 .. n_k-1 (the step's own keys included),
 * queries at positions n_k - n_q .. n_k - 1; the function writes out [n_q][out_stride].
 * This is where attention methods (MaskPlans), alignment metrics and DAM's calibration hook in. */
typedef void (*llama_attn_fn)(void *ctx, int layer, float *out, int out_stride, const float *q, int q_stride,
                              int n_q, const float *k, const float *v, int kv_cap, int n_k);

/* Per-sequence state: the KV cache and the activation buffers for one forward step of up to
 * `chunk` tokens (llama2.c's RunState). All buffers are allocated once, counted by core/mem. */
typedef struct {
    int capacity;    /* KV cache size, tokens */
    int n_past;      /* tokens already in the cache (= position of the next token) */
    int chunk;       /* most tokens per forward step; longer inputs are prefilled in chunks */
    float *k_cache;  /* [n_layers][n_kv_heads][capacity][head_dim], post-RoPE */
    float *v_cache;  /* [n_layers][n_kv_heads][capacity][head_dim] */
    float *x;        /* [chunk][d_model] residual stream */
    float *xn;       /* [chunk][d_model] normed input of the current sub-layer */
    float *qkv;      /* [chunk][(n_heads + 2 n_kv_heads) head_dim] */
    float *att;      /* [chunk][n_heads head_dim] attention output */
    float *proj;     /* [chunk][d_model] output of Wo / Wdown */
    float *gu;       /* [chunk][2 d_ff] gate | up */
    float *hb;       /* [chunk][d_ff] silu(gate) * up */
    float *rope_cos; /* [chunk][head_dim / 2] */
    float *rope_sin; /* [chunk][head_dim / 2] */
    llama_attn_fn attn; /* NULL: dense causal attention */
    void *attn_ctx;     /* passed to attn */
} llama_state;

/* Allocates a state for sequences of up to `capacity` tokens, prefilled `chunk` tokens at a time
 * (chunk <= 0 picks 512). */
llama_state *llama_state_new(const llama_model *m, int capacity, int chunk);

/* Forgets the cached tokens (n_past = 0); buffers are kept. */
void llama_state_reset(llama_state *s);

void llama_state_free(llama_state *s);

/* KV-cache bytes the state holds for its current n_past tokens (K and V, all layers), fp32. */
size_t llama_state_kv_bytes(const llama_model *m, const llama_state *s);

/* Runs tokens[0..n) at positions n_past .. n_past+n-1, appending their keys and values to the
 * cache (n_past += n). If logits is not NULL, writes the logits of the last n_logits of these
 * tokens to logits[n_logits][vocab] (1 <= n_logits <= n). Exits with status 2 if the tokens do
 * not fit in the cache or an id is out of range. */
void llama_forward(const llama_model *m, llama_state *s, const int32_t *tokens, int n, float *logits, int n_logits);

#endif
