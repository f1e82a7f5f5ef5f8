/* llama_cuda_none.c — model/llama_cuda.h in a build without the CUDA backend (the default `make`):
 * asking for the GPU exits with status 2 saying how to get a CUDA build; queries answer "none". */
#include "model/llama_cuda.h"

#include "core/error.h"

static void no_cuda(void) {
    dam_die(DAM_EXIT_INPUT, "--device cuda: this dam was built without the CUDA backend (build it with `make cuda-dam`, "
                            "which needs nvcc and cuBLAS; docs/cuda.md)");
}

bool llama_cuda_built(void) { return false; }
void llama_cuda_require_device(void) { no_cuda(); }
llama_cuda_model *llama_cuda_upload(const llama_model *m) { (void)m; no_cuda(); return NULL; }
llama_cuda_model *llama_cuda_synthetic(const llama_model *m, uint64_t seed) { (void)m; (void)seed; no_cuda(); return NULL; }
void llama_cuda_model_free(llama_cuda_model *g) { (void)g; }
size_t llama_cuda_weight_bytes(const llama_cuda_model *g) { (void)g; return 0; }
llama_state *llama_cuda_state_new(const llama_model *m, const llama_cuda_model *g, int capacity, int chunk) {
    (void)m; (void)g; (void)capacity; (void)chunk;
    no_cuda();
    return NULL;
}
void llama_cuda_state_free_device(struct llama_cuda_state *gs) { (void)gs; }
void llama_cuda_forward(const llama_model *m, llama_state *s, const int32_t *tokens, int n, float *logits, int n_logits) {
    (void)m; (void)s; (void)tokens; (void)n; (void)logits; (void)n_logits;
    no_cuda();
}
void llama_cuda_sync(void) {}
size_t llama_cuda_mem_in_use(void) { return 0; }
size_t llama_cuda_mem_peak(void) { return 0; }
void llama_cuda_mem_reset_peak(void) {}
void llama_cuda_device_info(char *name, size_t name_len, char *cuda, size_t cuda_len, char *driver, size_t driver_len) {
    dam_format(name, name_len, "none");
    dam_format(cuda, cuda_len, "none");
    dam_format(driver, driver_len, "none");
}
