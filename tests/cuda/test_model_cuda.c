/* test_model_cuda.c — the whole model on the GPU (model/llama_cuda.h) against the CPU forward
 * (model/llama.h, fp32 weights, itself checked against llama.cpp and a float64 forward in
 * tests/test_forward.c), teacher-forced over 512 positions of natural text (a Paul Graham essay of
 * data/pg_essays, tokenized with the model's tokenizer, BOS first):
 *   1. one-shot prefill: top-1 agreement >= 99% (bf16 weights flip near-ties only), mean relative
 *      L2 error of the logits <= 5% (a wrong RoPE, norm or GEMM layout gives ~100%);
 *   2. chunked prefill (chunks of 100 tokens: partial query tiles, n_q < n_k) equals the one-shot GPU
 *      logits to rel L2 <= 1% and the same top-1 at >= 99% of positions;
 *   3. decode: the last 112 positions one token at a time (the split-K decode kernel) against the
 *      one-shot GPU logits, same tolerances;
 *   4. state reuse: llama_state_reset then the same prompt again gives bit-identical logits, and
 *      every device byte is freed at the end.
 * Usage: test_model_cuda [MODEL] (default models/SmolLM2-135M-Instruct.Q4_1.gguf). Skips (exit 0,
 * "skip: ...") without a CUDA device, the model or the essays (make model data). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cuda_runtime_api.h>

#include "core/mem.h"
#include "kernels/cpu/ops.h"
#include "model/llama.h"
#include "model/llama_cuda.h"
#include "tests/test.h"

enum { N_POS = 512 };

static double rel_l2(const float *a, const float *ref, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]), den += (double)ref[i] * ref[i];
    return sqrt(num / (den > 0 ? den : 1));
}

/* Compares rows [r0, r1) of two logits arrays [N_POS][V]: top-1 agreement and mean / max rel L2. */
static void compare(const char *what, const float *got, const float *ref, int r0, int r1, int V, double min_agree,
                    double max_mean_rel) {
    int agree = 0, nan = 0;
    double sum = 0, worst = 0;
    for (int t = r0; t < r1; t++) {
        const float *g = got + (size_t)t * V, *r = ref + (size_t)t * V;
        for (int i = 0; i < V; i++) nan += isnan(g[i]);
        agree += op_argmax(g, V) == op_argmax(r, V);
        const double e = rel_l2(g, r, V);
        sum += e;
        worst = e > worst ? e : worst;
    }
    const int n = r1 - r0;
    printf("  %-44s top-1 agreement %d/%d (%.2f%%), logits rel L2 mean %.2e max %.2e\n", what, agree, n,
           100.0 * agree / n, sum / n, worst);
    CHECK(nan == 0, "%s: %d NaN logits", what, nan);
    CHECK(agree >= min_agree * n, "%s: top-1 agreement %d/%d below %.0f%%", what, agree, n, 100 * min_agree);
    CHECK(sum / n <= max_mean_rel, "%s: mean rel L2 %.3e above %.0e", what, sum / n, max_mean_rel);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = dam_malloc((size_t)n + 1, "essay");
    s[fread(s, 1, (size_t)n, f)] = 0;
    fclose(f);
    return s;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "models/SmolLM2-135M-Instruct.Q4_1.gguf";
    const char *essay = "data/pg_essays/addiction.txt";
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) { printf("skip: test_model_cuda: no CUDA device\n"); return 0; }
    if (access(path, R_OK) != 0) { printf("skip: test_model_cuda: no model %s (make model)\n", path); return 0; }
    char *text = read_file(essay);
    if (!text) { printf("skip: test_model_cuda: no %s (make data)\n", essay); return 0; }

    llama_model *m = llama_load(path);
    const int V = m->cfg.vocab;
    int32_t *ids;
    int n_ids = tok_encode(m->tok, text, strlen(text), true, false, &ids);
    CHECK(n_ids > N_POS, "%s: %d tokens, need %d", essay, n_ids, N_POS + 1);
    if (n_ids <= N_POS) return test_done("test_model_cuda");
    printf("  %s: %s, %d layers, %d/%d heads, d %d; %d positions of %s\n", path, m->arch, m->cfg.n_layers,
           m->cfg.n_heads, m->cfg.n_kv_heads, m->cfg.head_dim, N_POS, essay);
    float *cpu = dam_malloc(sizeof(float) * N_POS * V, "logits"), *gpu = dam_malloc(sizeof(float) * N_POS * V, "logits");
    float *other = dam_malloc(sizeof(float) * N_POS * V, "logits");

    /* CPU reference: positions 0 .. 511 predict tokens 1 .. 512 */
    llama_state *cs = llama_state_new(m, N_POS, N_POS);
    llama_forward(m, cs, ids, N_POS, cpu, N_POS);
    llama_state_free(cs);

    llama_cuda_model *g = llama_cuda_upload(m);
    printf("  weights on the GPU: %.1f MB bf16\n", llama_cuda_weight_bytes(g) / 1e6);

    /* 1. one-shot prefill */
    llama_state *s = llama_cuda_state_new(m, g, N_POS, N_POS);
    llama_forward(m, s, ids, N_POS, gpu, N_POS);
    compare("GPU one-shot vs CPU fp32", gpu, cpu, 0, N_POS, V, 0.99, 5e-2);
    int hit_cpu = 0, hit_gpu = 0; /* next-token accuracy of each, for the record */
    for (int t = 0; t < N_POS; t++) {
        hit_cpu += op_argmax(cpu + (size_t)t * V, V) == ids[t + 1];
        hit_gpu += op_argmax(gpu + (size_t)t * V, V) == ids[t + 1];
    }
    printf("  next-token top-1 accuracy: CPU %d/%d, GPU %d/%d\n", hit_cpu, N_POS, hit_gpu, N_POS);

    /* 4. the same state again after a reset: bit-identical */
    llama_state_reset(s);
    llama_forward(m, s, ids, N_POS, other, N_POS);
    CHECK(memcmp(other, gpu, sizeof(float) * N_POS * V) == 0, "logits after llama_state_reset differ from the first run");
    llama_state_free(s);

    /* 2. chunked prefill */
    s = llama_cuda_state_new(m, g, N_POS, 100);
    llama_forward(m, s, ids, N_POS, other, N_POS);
    compare("GPU chunks of 100 vs GPU one-shot", other, gpu, 0, N_POS, V, 0.99, 1e-2);
    llama_state_free(s);

    /* 3. decode the last 112 positions */
    const int n_pre = N_POS - 112;
    s = llama_cuda_state_new(m, g, N_POS, N_POS);
    llama_forward(m, s, ids, n_pre, other + (size_t)(n_pre - 1) * V, 1);
    for (int t = n_pre; t < N_POS; t++) llama_forward(m, s, ids + t, 1, other + (size_t)t * V, 1);
    compare("GPU decode steps vs GPU one-shot", other, gpu, n_pre - 1, N_POS, V, 0.99, 1e-2);
    CHECK(llama_state_kv_bytes(m, s) == (size_t)2 * m->cfg.n_layers * m->cfg.n_kv_heads * m->cfg.head_dim * 2 * N_POS,
          "kv bytes %zu: bf16 K and V of %d tokens expected", llama_state_kv_bytes(m, s), N_POS);
    llama_state_free(s);

    llama_cuda_model_free(g);
    CHECK(llama_cuda_mem_in_use() == 0, "%zu device bytes still allocated", llama_cuda_mem_in_use());
    dam_free(cpu); dam_free(gpu); dam_free(other); dam_free(ids); dam_free(text);
    llama_free(m);
    return test_done("test_model_cuda");
}
