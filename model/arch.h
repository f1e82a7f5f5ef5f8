/* arch.h — the supported decoder-only architectures and their hyper-parameters, read from GGUF
 * metadata (<arch>.* keys) with each architecture's conventions where the file is silent.
 *
 *   llama   (Touvron et al. 2023; llama.cpp LLM_ARCH_LLAMA): pre-norm RMSNorm blocks, SwiGLU FFN,
 *           RoPE on adjacent pairs (the GGUF converter permuted Q/K; docs models.md §4), every layer
 *           full causal attention.
 *   gemma3  (Gemma Team 2025, "Gemma 3 Technical Report"; llama.cpp src/models/gemma3.cpp, which is
 *           the reference the fixtures compare against): as llama, plus RMSNorm on every query and
 *           key head (QK norm) before RoPE, RMSNorm on the attention and FFN outputs before the
 *           residual add (post-norms; GGUF stores every norm weight as 1 + w already), GeGLU FFN
 *           with the tanh GELU, token embeddings multiplied by sqrt(d_model), RoPE on (i, i + d/2)
 *           pairs ("NeoX"), head_dim from attention.key_length (not d_model / heads), and
 *           interleaved sliding-window layers: a layer is a sliding-window layer unless
 *           l % P == P - 1 (P = attention.sliding_window_pattern, default 6: layers 5, 11, 17, ...
 *           attend globally; an array-valued key lists per layer whether it slides), with window
 *           attention.sliding_window tokens (a query at position p sees keys p - W + 1 .. p) and
 *           RoPE base rope.freq_base_swa (default 10000) on those layers, rope.freq_base (1e6)
 *           on the global ones. Queries are scaled by 1/sqrt(query_pre_attn_scalar) with
 *           query_pre_attn_scalar = head_dim, except n_embd / n_heads for the 62-layer 27B model
 *           (llama.cpp's rule; the GGUF does not store it). Final logits are soft-capped,
 *           c * tanh(z / c), only if final_logit_softcapping is in the file (Gemma 3 has none).
 *   qwen2   (Qwen Team 2024, "Qwen2 Technical Report"; llama.cpp src/models/qwen2.cpp): as llama,
 *           plus a bias added to each of the Q, K and V projections (blk.N.attn_{q,k,v}.bias, F32;
 *           llama_layer.bqkv), and RoPE on (i, i + d/2) pairs ("NeoX": the converter does not
 *           permute Qwen2's Q/K; llama.cpp LLAMA_ROPE_TYPE_NEOX). No QK norm, no post-norms,
 *           every layer full causal (the file's sliding-window keys, if any, are not used by
 *           llama.cpp's qwen2 graph either). Output: output.weight, or tied when absent.
 * Anything else (another architecture, a rope.scaling.type other than none / linear, partial rotary, key length != value
 * length) is an input error naming the file and the key. */
#ifndef DAM_MODEL_ARCH_H
#define DAM_MODEL_ARCH_H

#include <stdbool.h>

#include "kernels/cpu/ops.h"
#include "model/gguf.h"
#include "model/rope.h"

typedef enum { ARCH_LLAMA = 0, ARCH_GEMMA3 = 1, ARCH_QWEN2 = 2 } model_arch;

/* FFN gate activation: SwiGLU silu(g) * u, or GeGLU gelu_tanh(g) * u. */
typedef enum { FFN_SILU = 0, FFN_GELU_TANH = 1 } ffn_activation;

/* Hyper-parameters of a loaded model. */
typedef struct {
    model_arch arch;
    int n_layers;
    int d_model;     /* hidden size */
    int n_heads;     /* query heads */
    int n_kv_heads;  /* key/value heads (GQA; 1 = MQA) */
    int head_dim;
    int d_ff;        /* FFN inner size */
    int vocab;
    int n_ctx_train; /* trained context length, tokens (HF: max_position_embeddings) */
    float rope_theta;     /* RoPE base of the full-attention (global) layers */
    rope_scaling rope_scaling; /* context-extension scaling of the global layers' RoPE (model/rope.h);
                                  GGUF: NONE or LINEAR (rope.scaling.factor); llama-3.1's
                                  rope_freqs tensor is in llama_model.rope_freq_div instead */
    float rope_theta_swa; /* RoPE base of the sliding-window layers (== rope_theta if there are none) */
    int swa_window;       /* tokens a sliding-window layer's query sees, itself included; 0: no such layers */
    float norm_eps;
    rope_pairing rope;
    bool qk_norm;         /* RMSNorm per query / key head before RoPE */
    bool qkv_bias;        /* a bias is added to the Q, K and V projections (qwen2) */
    bool post_norms;      /* RMSNorm on the attention and FFN outputs before the residual add */
    ffn_activation act;
    float embd_scale;     /* token embeddings are multiplied by this (1 or sqrt(d_model)) */
    float q_scale;        /* queries are multiplied by this after RoPE, so that every attention kernel's
                             1/sqrt(head_dim) gives the architecture's 1/sqrt(query_pre_attn_scalar) */
    float final_softcap;  /* c of c * tanh(logit / c); 0 = none */
} llama_config;

/* The architecture named by general.architecture, or exits with status 2 naming the file and the
 * value (the message lists the supported ones). */
model_arch arch_from_gguf(const gguf_file *f);

/* Reads every hyper-parameter except vocab (the caller takes it from token_embd) and checks it;
 * exits with status 2 naming the file and key on a missing, out-of-range or unsupported value. */
void arch_read_config(const gguf_file *f, llama_config *c);

/* Whether layer l (0-based, < c->n_layers) is a sliding-window layer (always false when
 * c->swa_window == 0). Exits with status 2 if the file's pattern key is malformed. */
bool arch_layer_swa(const gguf_file *f, const llama_config *c, int l);

/* "llama", "gemma3", "qwen2". */
const char *arch_name(model_arch a);

#endif
