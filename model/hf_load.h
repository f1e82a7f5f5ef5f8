/* hf_load.h — the weights of a Hugging Face model directory as a llama_model (model/llama.h).
 *
 * A directory holds config.json (model/hf_config.h) and either model.safetensors or shards listed
 * by model.safetensors.index.json ("weight_map": tensor name -> shard file in the directory).
 * Tensors (transformers' LlamaForCausalLM / Qwen2ForCausalLM state_dict names, [out][in] row-major,
 * which is the runtime's layout; dtypes F32, F16, BF16, converted to fp32 exactly):
 *   model.embed_tokens.weight [vocab][d]          -> tok_embd
 *   model.norm.weight [d]                          -> out_norm
 *   lm_head.weight [vocab][d]                      -> lm_head (absent iff tie_word_embeddings)
 *   model.layers.N.input_layernorm.weight          -> attn_norm
 *   model.layers.N.self_attn.{q,k,v}_proj.weight   -> wqkv rows (Q, then K, then V), unpermuted:
 *                                                     the pairing is rotate_half (ROPE_HALF)
 *   model.layers.N.self_attn.o_proj.weight         -> wo
 *   model.layers.N.post_attention_layernorm.weight -> ffn_norm
 *   model.layers.N.mlp.{gate,up}_proj.weight       -> w_gate_up rows (gate, then up)
 *   model.layers.N.mlp.down_proj.weight            -> w_down
 * model.layers.N.self_attn.rotary_emb.inv_freq (a buffer older checkpoints saved) is ignored: the
 * frequencies come from config.json. Any other tensor, a missing one, a wrong shape, an unsupported
 * dtype, a missing shard or an index naming a tensor its shard lacks is an input error (exit 2)
 * naming the file and the tensor. */
#ifndef DAM_MODEL_HF_LOAD_H
#define DAM_MODEL_HF_LOAD_H

#include "model/llama.h"

/* Loads the weights and hyper-parameters of the model directory `dir` (m->tok == NULL,
 * m->chat_template == NULL). sha256 is that of the manifest of the files read (llama.h). The
 * caller frees with llama_free. */
llama_model *llama_load_hf_weights(const char *dir);

#endif
