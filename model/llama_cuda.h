/* llama_cuda.h — the transformer of model/llama.h on an NVIDIA GPU: the same forward pass, with
 * bf16 weights and KV cache, fp32 residual stream and accumulation.
 *
 * Per step of nc tokens (as llama.c's forward_chunk): x = embd_scale · E[token] (fp32); per layer
 * n1 = RMSNorm(x) (bf16) → qkv = Wqkv n1 (cuBLAS, bf16 × bf16 → fp32) → + bqkv, RoPE, q_scale → q
 * (bf16) and the layer's K, V cache (bf16, [n_kv_heads][capacity][head_dim]) → attention
 * (kernels/cuda/attention_masked.h for prefill steps, attention_decode.h for one-token steps, or
 * the state's attn_cuda hook on global layers) → x += Wo · att (cuBLAS with beta = 1) → n2 =
 * RMSNorm(x) → gu = Wgate|up n2 (fp32) → h = silu(gate) ⊙ up (bf16) → x += Wdown h. Logits =
 * lm_head · RMSNorm(x) in fp32, copied to the host. Weights are the host model's fp32 weights
 * (dequantised from the file) rounded once to bf16 on upload; norms and biases stay fp32. The
 * RoPE tables come from llama_rope_tables (the CPU code), so both paths rotate identically.
 *
 * Supported: the llama and qwen2 architectures (model/arch.h) with head_dim 64 or 128. Gemma-3
 * (QK norm, post-norms, GeGLU, sliding-window layers, soft-capping) is refused by name.
 * Errors: an unsupported model is an input error (exit 2) naming it; CUDA / cuBLAS errors and out
 * of GPU memory exit with 3 naming the call or the buffer. A build without CUDA (the default `make`)
 * links model/llama_cuda_none.c instead, whose functions exit with 2 saying so.
 * Test: tests/cuda/test_model_cuda.c (teacher-forced agreement with the CPU forward). */
#ifndef DAM_MODEL_LLAMA_CUDA_H
#define DAM_MODEL_LLAMA_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "model/llama.h"

/* A model's weights on the GPU. Owns its device memory; release with llama_cuda_model_free. */
typedef struct llama_cuda_model llama_cuda_model;

/* true in a build with the CUDA backend (`make cuda-dam`), false otherwise. */
bool llama_cuda_built(void);

/* Exits with status 3 and one line unless a CUDA device of compute capability >= 9.0 is there
 * (kernels/cuda/cuda_mem.h); in a build without CUDA, with status 2 saying so. Callers run it
 * before loading or preparing anything for --device cuda. */
void llama_cuda_require_device(void);

/* Uploads m's weights as bf16 (m keeps its fp32 copy; it must outlive the result). Exits with 2 if
 * the architecture or head_dim is not supported on the GPU, with 3 on a CUDA error. */
llama_cuda_model *llama_cuda_upload(const llama_model *m);

/* Seeded synthetic weights for m's shape, generated on the GPU (no host copy): every matrix
 * uniform in ±sqrt(3 / in) (unit-variance outputs), norms 1, no biases. For latency and memory at
 * the shapes of larger models (tests/cuda/bench_model_cuda.c); the outputs mean nothing. m needs
 * only cfg and layers[l].global filled (weights may be NULL). */
llama_cuda_model *llama_cuda_synthetic(const llama_model *m, uint64_t seed);

void llama_cuda_model_free(llama_cuda_model *g);

/* Device bytes held by the weights. */
size_t llama_cuda_weight_bytes(const llama_cuda_model *g);

/* A state on the GPU for sequences of up to `capacity` tokens, `chunk` tokens per prefill step
 * (chunk <= 0 picks 512): a llama_state whose gpu field holds the device KV cache and activations
 * (its host buffers k_cache .. hb are NULL; the RoPE tables stay on the host). llama_forward,
 * llama_state_reset, llama_state_kv_bytes and llama_state_free work on it as on a CPU state. m and g
 * must outlive it. */
llama_state *llama_cuda_state_new(const llama_model *m, const llama_cuda_model *g, int capacity, int chunk);

/* For llama_state_free: frees the device part of a GPU state. */
void llama_cuda_state_free_device(struct llama_cuda_state *gs);

/* For llama_forward (which checks the arguments first): the step on the GPU. Synchronous when
 * logits are requested (they are copied to the host), else asynchronous on the default stream. */
void llama_cuda_forward(const llama_model *m, llama_state *s, const int32_t *tokens, int n, float *logits,
                        int n_logits);

/* Waits for the device (for timing). */
void llama_cuda_sync(void);

/* Device memory in use / high-water mark since the last reset, bytes (kernels/cuda/cuda_mem.h). */
size_t llama_cuda_mem_in_use(void);
size_t llama_cuda_mem_peak(void);
void llama_cuda_mem_reset_peak(void);

/* For results files: "<GPU> (sm_XY, N GiB)", the CUDA runtime and driver versions. */
void llama_cuda_device_info(char *name, size_t name_len, char *cuda, size_t cuda_len, char *driver, size_t driver_len);

#ifdef __cplusplus
}
#endif

#endif
