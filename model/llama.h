/* llama.h — the llama-family decoder-only transformer (Touvron et al. 2023) on the CPU, fp32, and
 * its Gemma-3 and Qwen2 variants (model/arch.h lists what differs and where each convention comes from).
 *
 * x = embd_scale · token_embd[token]; then per layer:
 *   q, k, v = Wq n1, Wk n1, Wv n1 with n1 = RMSNorm(x);  [qwen2: + bq, bk, bv]
 *   [gemma3: q, k = RMSNorm per head]
 *   q, k = RoPE(q), RoPE(k) with the layer's base;  q *= q_scale;  cache k, v;
 *   a = Wo · Attn(q, k, v)  (full causal, or a sliding window on the layer's window);
 *   x += a  [gemma3: x += RMSNorm(a)];
 *   f = Wdown · (act(Wgate n2) ⊙ Wup n2) with n2 = RMSNorm(x), act = silu or gelu_tanh;
 *   x += f  [gemma3: x += RMSNorm(f)].
 * Then logits = Wout · RMSNorm(x), where Wout = token_embd when the file has no output.weight
 * (tied embeddings), soft-capped if the architecture says so. GQA: query head h reads KV head
 * h / (n_heads / n_kv_heads). RoPE pairing follows the file format (models.md §4). Keys are
 * cached after RoPE.
 *
 * Weights are dequantised once at load into fp32 (dam_malloc, counted); Q|K|V and gate|up are
 * stored fused so each is one GEMM. Read the code top to bottom like the architecture diagram. */
#ifndef DAM_MODEL_LLAMA_H
#define DAM_MODEL_LLAMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu/ops.h"
#include "model/arch.h"
#include "model/tokenizer.h"

/* One layer's weights, fp32 row-major [out][in], and its attention kind. */
typedef struct {
    bool global;      /* full causal attention (attention methods apply here); false: sliding window */
    int window;       /* sliding-window layers: a query at position p sees keys p - window + 1 .. p;
                         0 for global layers */
    float rope_theta; /* RoPE base of this layer */
    float *attn_norm; /* [d_model] */
    float *q_norm;    /* [head_dim] per-head RMSNorm of queries (gemma3), else NULL */
    float *k_norm;    /* [head_dim] per-head RMSNorm of keys (gemma3), else NULL */
    float *post_attn_norm; /* [d_model] RMSNorm of the attention output (gemma3), else NULL */
    float *post_ffn_norm;  /* [d_model] RMSNorm of the FFN output (gemma3), else NULL */
    float *wqkv;      /* [(n_heads + 2 n_kv_heads) head_dim][d_model]: Wq rows, then Wk, then Wv */
    float *bqkv;      /* [(n_heads + 2 n_kv_heads) head_dim]: bq, then bk, then bv, added to Wqkv n1
                         (qwen2); NULL for architectures without projection biases */
    float *wo;        /* [d_model][n_heads head_dim] */
    float *ffn_norm;  /* [d_model] */
    float *w_gate_up; /* [2 d_ff][d_model]: Wgate rows, then Wup */
    float *w_down;    /* [d_model][d_ff] */
} llama_layer;

/* A loaded model. Owns everything; release with llama_free. */
typedef struct {
    llama_config cfg;
    char *path;        /* the GGUF file, or the Hugging Face model directory */
    char sha256[65];   /* GGUF: of the file; HF directory: of the manifest of lines "<sha256>  <name>\n"
                          for config.json, the safetensors files in name order, then
                          model.safetensors.index.json if sharded (model/hf_load.c) */
    char *name;        /* general.name, or the file / directory name */
    char *arch;        /* general.architecture ("llama", "gemma3", "qwen2"); HF: the same names */
    char *quant;       /* quantisation: general.file_type as llama.cpp names it ("Q4_1", "Q4_K_M"),
                          else the weight type of blk.0.attn_q; HF: the dtype of
                          model.layers.0.self_attn.q_proj.weight ("BF16", "F16", "F32") */
    char *chat_template; /* tokenizer.chat_template (Jinja source) or NULL */
    float *tok_embd;   /* [vocab][d_model] */
    float *out_norm;   /* [d_model] */
    float *lm_head;    /* [vocab][d_model]; == tok_embd when tied */
    float *rope_freq_div; /* [head_dim / 2] GGUF rope_freqs.weight (llama-3.1: per-frequency
                             divisors of the global layers' RoPE), else NULL */
    bool tied;
    llama_layer *layers;
    tokenizer *tok;    /* NULL when loaded by llama_load_*_weights */
    size_t weight_bytes; /* fp32 bytes held for weights */
} llama_model;

/* Loads a model: a GGUF file of a supported architecture (model/arch.h), or a Hugging Face model
 * directory (config.json + safetensors; model/hf_load.h). GGUF: checks architecture,
 * hyper-parameters and every tensor's shape, dequantises all weights, builds the tokenizer and
 * hashes the file. Any problem is an input error (exit 2) naming the file and the key or tensor:
 * an unsupported architecture or tensor type, a missing tensor, or a tensor the architecture does
 * not use (e.g. biases), which this runtime would otherwise silently ignore. A directory: config.json,
 * tokenizer.json (+ tokenizer_config.json: model/tokenizer_hf.h; at most vocab_size tokens), then the
 * weights (llama_load_hf_weights); chat_template from tokenizer_config.json. */
llama_model *llama_load(const char *path);

/* As llama_load for a GGUF file, without the tokenizer (m->tok == NULL; the file needs no
 * tokenizer.* keys): for tests that compare weight paths. */
llama_model *llama_load_gguf_weights(const char *path);

/* Allocates n floats for a weight (dam_malloc), counted in m->weight_bytes; `what` names it for
 * out-of-memory messages. For the loaders (llama.c, hf_load.c). */
float *llama_alloc_weights(llama_model *m, size_t n, const char *what);

/* Exits with status 2 naming the file, the tensor and the element if x[0..n) holds a NaN or an
 * infinity (a damaged checkpoint would otherwise run and produce empty or garbage text). */
void llama_check_finite(const char *path, const char *tensor, const float *x, uint64_t n);

/* Allocates the weights every architecture's layer has (attn_norm, wqkv, wo, ffn_norm, w_gate_up,
 * w_down; shapes in llama_layer) with llama_alloc_weights; the optional ones stay NULL. */
void llama_alloc_layer(llama_model *m, llama_layer *L);

void llama_free(llama_model *m);

/* One layer's attention, called by llama_forward for every global (full-attention) layer of every
 * step in place of the default dense causal attention (attn_causal). Sliding-window layers
 * (Gemma-3's local layers) are part of the model, not a method: they always run the windowed
 * dense kernel and never call this hook. Arguments are those of attn_causal
 * (kernels/cpu/attention.h): q [n_q][q_stride] post-RoPE, with the architecture's query scaling
 * folded in (q_scale) so that the kernel's 1/sqrt(head_dim) is the model's scale, this layer's caches
 * k, v [n_kv_heads][kv_cap][head_dim] holding keys 0 .. n_k-1 (the step's own keys included),
 * queries at positions n_k - n_q .. n_k - 1; the function writes out [n_q][out_stride].
 * This is where attention methods (MaskPlans), alignment metrics and DAM's calibration hook in. */
typedef void (*llama_attn_fn)(void *ctx, int layer, float *out, int out_stride, const float *q, int q_stride,
                              int n_q, const float *k, const float *v, int kv_cap, int n_k);

/* The same hook for a state on the GPU (llama_cuda_state_new, model/llama_cuda.h): identical
 * arguments, but every pointer is a device pointer to bf16 values (uint16_t bit patterns) and the
 * call is made on the default CUDA stream; the function writes out [n_q][out_stride] bf16 before it
 * returns or on that stream. */
typedef void (*llama_attn_cuda_fn)(void *ctx, int layer, uint16_t *out, int out_stride, const uint16_t *q, int q_stride,
                                   int n_q, const uint16_t *k, const uint16_t *v, int kv_cap, int n_k);

struct llama_cuda_state; /* model/llama_cuda.h */

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
    float *rope_cos; /* [chunk][head_dim / 2], global layers: rope_theta, cfg.rope_scaling, rope_freq_div */
    float *rope_sin; /* [chunk][head_dim / 2] */
    float *rope_cos_swa; /* [chunk][head_dim / 2], sliding-window layers: base rope_theta_swa, no
                            scaling; NULL if the model has no such layers */
    float *rope_sin_swa;
    int64_t rope_len;   /* dynamic NTK scaling: the sequence length the global layers' frequencies
                           were last computed for (see forward_chunk in llama.c) */
    llama_attn_fn attn; /* NULL: dense causal attention */
    llama_attn_cuda_fn attn_cuda; /* the hook of a GPU state (gpu != NULL); NULL: dense causal attention */
    void *attn_ctx;     /* passed to attn / attn_cuda */
    int kv_elem_bytes;  /* bytes of one cached K or V element: 4 (fp32, CPU), 2 (bf16, GPU) */
    struct llama_cuda_state *gpu; /* NULL: the CPU state above; else a state on the GPU made by
                                     llama_cuda_state_new: k_cache .. hb are NULL, the KV cache and
                                     activations live on the device, llama_forward runs there */
} llama_state;

/* Allocates a state for sequences of up to `capacity` tokens, prefilled `chunk` tokens at a time
 * (chunk <= 0 picks 512). */
llama_state *llama_state_new(const llama_model *m, int capacity, int chunk);

/* Forgets the cached tokens (n_past = 0); buffers are kept. */
void llama_state_reset(llama_state *s);

void llama_state_free(llama_state *s);

/* Positions of layer `layer`'s KV cache that attention can still read after n_past tokens: n_past
 * for global layers, min(n_past, window) for sliding-window layers (what a ring cache would hold;
 * this runtime keeps every position, see docs/models.md). */
int llama_layer_kv_rows(const llama_model *m, int layer, int n_past);

/* KV-cache bytes for the state's current n_past tokens: Σ over layers of llama_layer_kv_rows ·
 * n_kv_heads · head_dim · 2 (K and V) · kv_elem_bytes (4: fp32 on the CPU; 2: bf16 on the GPU). For models with sliding-window layers this is
 * less than the buffer this runtime allocates (peak memory shows that). */
size_t llama_state_kv_bytes(const llama_model *m, const llama_state *s);

/* Runs tokens[0..n) at positions n_past .. n_past+n-1, appending their keys and values to the
 * cache (n_past += n). If logits is not NULL, writes the logits of the last n_logits of these
 * tokens to logits[n_logits][vocab] (1 <= n_logits <= n). Exits with status 2 if the tokens do
 * not fit in the cache or an id is out of range. */
void llama_forward(const llama_model *m, llama_state *s, const int32_t *tokens, int n, float *logits, int n_logits);

/* The RoPE tables of the next step of nc tokens at positions s->n_past .. s->n_past+nc-1, into
 * s->rope_cos / rope_sin ([nc][head_dim/2], global layers: rope_theta with the config's scaling
 * and GGUF divisors) and s->rope_cos_swa / rope_sin_swa (sliding-window layers, if any). Updates
 * s->rope_len (dynamic NTK scaling). Shared by the CPU and GPU forward passes. */
void llama_rope_tables(const llama_model *m, llama_state *s, int nc);

#endif
