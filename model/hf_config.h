/* hf_config.h — a Hugging Face config.json as the runtime's llama_config (model/arch.h).
 *
 * Architectures ("architectures": exactly one of):
 *   LlamaForCausalLM   (transformers models/llama/modeling_llama.py): Llama 2/3.x and configs in
 *                      its style; MistralForCausalLM only with "sliding_window": null (Mistral
 *                      v0.2+, the same computation as llama).
 *   Qwen2ForCausalLM   (transformers models/qwen2/modeling_qwen2.py; Qwen2, Qwen2.5): as llama
 *                      plus biases on q_proj, k_proj, v_proj (always: Qwen2Attention hard-codes
 *                      them, so attention_bias is not read), qkv_bias in llama_config;
 *                      use_sliding_window must be false (sliding_window / max_window_layers are
 *                      then unused, as in transformers).
 * Keys read: hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads (default num_attention_heads), head_dim (default hidden_size / heads),
 * vocab_size, rms_norm_eps, rope_theta (default 10000), max_position_embeddings,
 * tie_word_embeddings (default false, as LlamaConfig), rope_scaling (or transformers v5's
 * rope_parameters; model/rope.h lists the types and formulas; "type" is the old name of
 * "rope_type"; "default" means none).
 * Keys that change the computation must hold the one value implemented: hidden_act "silu",
 * attention_bias / mlp_bias false, partial_rotary_factor 1, pretraining_tp (any: it only splits
 * the same matmuls), use_sliding_window false, rope_interleaved false, layer_types all
 * "full_attention"; every other key must be in a list of informational
 * keys (ids of special tokens, dtype, versions, initializer_range, ...): an unknown key, such as
 * quantization_config, is refused by name rather than ignored.
 * RoPE pairing: rotate_half, (i, i + d/2) (ROPE_HALF): Hugging Face checkpoints are not permuted
 * (docs/models.md "Format"). */
#ifndef DAM_MODEL_HF_CONFIG_H
#define DAM_MODEL_HF_CONFIG_H

#include <stdbool.h>

#include "model/arch.h"

/* What config.json says beyond llama_config. */
typedef struct {
    bool tied; /* tie_word_embeddings: the LM head is embed_tokens */
} hf_extra;

/* Reads and checks `path` (a config.json) into c (every field; vocab from vocab_size) and x.
 * Exits with status 2 naming the file and the key on a missing, mistyped, out-of-range or
 * unsupported value, and on an unknown key or architecture. */
void hf_config_read(const char *path, llama_config *c, hf_extra *x);

#endif
