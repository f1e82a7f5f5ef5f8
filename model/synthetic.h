/* synthetic.h — named shapes of larger models, for timing and memory only (no weights on the host).
 * A shape is a llama_model with cfg and layers[].global filled and every weight pointer NULL: pass it
 * to llama_cuda_synthetic (model/llama_cuda.h), which makes seeded random bf16 weights on the GPU.
 * The hyper-parameters are those of the models' published config.json files (layers, hidden size,
 * heads, KV heads, head_dim, FFN size, vocabulary, RoPE base, trained context). Results obtained with
 * them carry no accuracy and must say so. */
#ifndef DAM_MODEL_SYNTHETIC_H
#define DAM_MODEL_SYNTHETIC_H

#include "model/llama.h"

/* The shape called `name`, or exits with status 2 listing the known names. Free with llama_free. */
llama_model *llama_synthetic_shape(const char *name);

/* "smollm2-135m, llama3.2-1b, llama3.1-8b, qwen2.5-7b" (for help texts and messages). */
const char *llama_synthetic_names(void);

#endif
