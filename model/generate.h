/* generate.h — greedy decoding (argmax at every step, no sampling), as used by every benchmark
 * in the harness (workloads.md: all upstream evaluations decode greedily). */
#ifndef DAM_MODEL_GENERATE_H
#define DAM_MODEL_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "model/llama.h"

/* Timings and memory of one generation. */
typedef struct {
    int n_prompt;       /* prompt tokens */
    int n_generated;    /* new tokens produced (the end-of-generation token included if hit) */
    double prefill_ms;  /* prompt forward pass incl. the first token's logits (time to first token) */
    double decode_ms;   /* all later single-token steps together */
    size_t peak_bytes;  /* high-water mark of the harness allocator during the call */
    size_t kv_bytes;    /* KV cache bytes held at the end */
} gen_stats;

/* Prefills prompt[0..n_prompt) (after whatever the state already holds), then greedily generates
 * up to max_new tokens into out[0..), stopping after an end-of-generation token (which is stored
 * and counted). Returns the number of tokens written. The state must have room for
 * n_prompt + max_new tokens (exit 2 otherwise). stats may be NULL. */
int generate_greedy(const llama_model *m, llama_state *s, const int32_t *prompt, int n_prompt, int max_new,
                    int32_t *out, gen_stats *stats);

#endif
