// llama_cuda.cu — see llama_cuda.h. Reads top to bottom like llama.c: weights, state, one step,
// the forward pass.
#include "model/llama_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_bf16.h>

#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_masked.h"
#include "kernels/cuda/cublas_check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"
#include "kernels/cuda/ops.h"

#include "core/error.h"
extern "C" {
#include "core/mem.h"
}


namespace {

// rows of logits computed per GEMM (bounds the logits buffer: 256 x vocab fp32)
constexpr int LOGIT_ROWS = 256;

struct cuda_layer {
    dam_bf16 *wqkv, *wo, *w_gate_up, *w_down; // [out][in] bf16, as llama_layer
    float *attn_norm, *ffn_norm, *bqkv;        // fp32; bqkv NULL unless qwen2
};

} // namespace

struct llama_cuda_model {
    llama_config cfg;
    cuda_layer *layers;
    dam_bf16 *tok_embd; // [vocab][d_model]
    dam_bf16 *lm_head;  // [vocab][d_model]; == tok_embd when tied
    float *out_norm;    // [d_model]
    cublasHandle_t blas;
    size_t weight_bytes;
};

struct llama_cuda_state {
    const llama_cuda_model *g;
    int cap;             // device KV rows per head: capacity rounded up to 64 (16-byte aligned rows)
    dam_bf16 *k_cache;   // [n_layers][n_kv_heads][cap][head_dim]
    dam_bf16 *v_cache;
    float *x;            // [chunk][d_model] residual stream
    dam_bf16 *xn;        // [chunk][d_model] normed sub-layer input
    float *qkv;          // [chunk][(H + 2 Hkv) head_dim]
    dam_bf16 *q;         // [chunk][H head_dim] post-RoPE, scaled
    dam_bf16 *att;       // [chunk][H head_dim] attention output
    float *gu;           // [chunk][2 d_ff]
    dam_bf16 *hb;        // [chunk][d_ff]
    float *logits;       // [LOGIT_ROWS][vocab]
    float *cs, *sn;      // [chunk][head_dim / 2] RoPE tables (global layers)
    int32_t *ids;        // [chunk]
    attn_cuda_decode_ws *ws;
};

namespace {

// ---- weights -------------------------------------------------------------------------------

uint16_t bf16_rne(float f) { // round to nearest even (weights are finite: llama_check_finite)
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

dam_bf16 *upload_bf16(const float *w, size_t n, const char *what, size_t *bytes) {
    dam_bf16 *d = (dam_bf16 *)dam_cuda_malloc(n * sizeof(dam_bf16), what);
    const size_t block = (size_t)1 << 22;
    uint16_t *h = (uint16_t *)dam_malloc(sizeof(uint16_t) * (n < block ? n : block), "bf16 staging");
    for (size_t i0 = 0; i0 < n; i0 += block) {
        const size_t m = n - i0 < block ? n - i0 : block;
        for (size_t i = 0; i < m; i++) h[i] = bf16_rne(w[i0 + i]);
        CUDA_CHECK(cudaMemcpy(d + i0, h, m * sizeof(uint16_t), cudaMemcpyHostToDevice));
    }
    dam_free(h);
    *bytes += n * sizeof(dam_bf16);
    return d;
}

float *upload_f32(const float *w, size_t n, const char *what, size_t *bytes) {
    if (w == NULL) return NULL;
    float *d = (float *)dam_cuda_malloc(n * sizeof(float), what);
    CUDA_CHECK(cudaMemcpy(d, w, n * sizeof(float), cudaMemcpyHostToDevice));
    *bytes += n * sizeof(float);
    return d;
}

__global__ void synth_kernel(dam_bf16 *w, size_t n, uint64_t seed, float a) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull; // SplitMix64 of the index
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        const float u = (float)(z >> 40) * (1.0f / 16777216.0f); // [0, 1)
        __nv_bfloat16 b = __float2bfloat16_rn((2.0f * u - 1.0f) * a);
        w[i] = *reinterpret_cast<dam_bf16 *>(&b);
    }
}

__global__ void ones_kernel(float *w, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) w[i] = 1.0f;
}

dam_bf16 *synth_bf16(size_t n, size_t in, uint64_t seed, const char *what, size_t *bytes) {
    dam_bf16 *d = (dam_bf16 *)dam_cuda_malloc(n * sizeof(dam_bf16), what);
    synth_kernel<<<1024, 256>>>(d, n, seed, sqrtf(3.0f / (float)in));
    CUDA_LAUNCH_CHECK("synth_kernel");
    *bytes += n * sizeof(dam_bf16);
    return d;
}

float *synth_ones(size_t n, const char *what, size_t *bytes) {
    float *d = (float *)dam_cuda_malloc(n * sizeof(float), what);
    ones_kernel<<<64, 256>>>(d, n);
    CUDA_LAUNCH_CHECK("ones_kernel");
    *bytes += n * sizeof(float);
    return d;
}

// Exits with 2 if the GPU path cannot run this model.
void check_supported(const llama_model *m) {
    const llama_config *c = &m->cfg;
    const char *name = m->name ? m->name : "the model";
    if (c->swa_window > 0 || c->final_softcap > 0 || c->act != FFN_SILU)
        dam_die(DAM_EXIT_INPUT, "%s: architecture %s is not supported by the CUDA backend (sliding-window layers, QK norm, "
                "post-norms, GeGLU or soft-capping); run it with --device cpu", name, m->arch ? m->arch : "?");
    for (int l = 0; l < c->n_layers; l++)
        if (!m->layers[l].global || m->layers[l].q_norm || m->layers[l].post_attn_norm || m->layers[l].post_ffn_norm)
            dam_die(DAM_EXIT_INPUT, "%s: layer %d has sliding-window attention, QK norm or post-norms, which the CUDA backend "
                    "does not implement; run it with --device cpu", name, l);
    if (c->head_dim != 64 && c->head_dim != 128)
        dam_die(DAM_EXIT_INPUT, "%s: head_dim %d: the CUDA attention kernels support 64 and 128", name, c->head_dim);
    if (c->n_heads % c->n_kv_heads != 0 || c->n_heads / c->n_kv_heads > 8)
        dam_die(DAM_EXIT_INPUT, "%s: %d query heads over %d KV heads: the CUDA decode kernel supports GQA groups up to 8",
                name, c->n_heads, c->n_kv_heads);
}

llama_cuda_model *new_model(const llama_config *cfg) {
    dam_cuda_require_device();
    llama_cuda_model *g = (llama_cuda_model *)dam_calloc(1, sizeof *g, "GPU model");
    g->cfg = *cfg;
    g->layers = (cuda_layer *)dam_calloc(cfg->n_layers, sizeof(cuda_layer), "GPU layers");
    CUBLAS_CHECK(cublasCreate(&g->blas));
    // fp32 accumulation; no TF32 (inputs are bf16 anyway)
    CUBLAS_CHECK(cublasSetMathMode(g->blas, CUBLAS_DEFAULT_MATH));
    return g;
}

// Y[n][out] (row stride ldy, fp32) = X[n][in] (row stride ldx, bf16) · W[out][in]^T (bf16) + beta · Y.
// Row-major Y is column-major Y^T [out][n]: Y^T = W · X^T, with W row-major = (W^T column-major)^T.
void gemm(cublasHandle_t h, float *Y, int ldy, const dam_bf16 *X, int ldx, const dam_bf16 *W, int n, int in, int out,
          float beta) {
    const float alpha = 1.0f;
    CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &alpha, W, CUDA_R_16BF, in, X, CUDA_R_16BF, ldx,
                              &beta, Y, CUDA_R_32F, ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

} // namespace

extern "C" bool llama_cuda_built(void) { return true; }
extern "C" void llama_cuda_require_device(void) { dam_cuda_require_device(); }

namespace {

// Where the weights come from: the host model's fp32 arrays (rounded to bf16), or seeded random
// values made on the GPU (synthetic: matrices uniform in +-sqrt(3 / in), norms 1, no biases).
struct weight_source {
    bool synthetic;
    uint64_t seed; // advanced per synthetic matrix
    size_t *bytes; // weight bytes, accumulated
};

dam_bf16 *matrix(weight_source *w, const float *host, size_t n, size_t in) {
    if (!w->synthetic) return upload_bf16(host, n, "weights", w->bytes);
    return synth_bf16(n, in, w->seed += 0x1000003, "weights", w->bytes);
}

float *vector(weight_source *w, const float *host, size_t n, bool bias) {
    if (!w->synthetic) return upload_f32(host, n, "weights", w->bytes);
    return bias ? NULL : synth_ones(n, "weights", w->bytes);
}

// The weights of m's shape, from the source (model/llama.h lists the shapes).
llama_cuda_model *make_model(const llama_model *m, weight_source *w) {
    check_supported(m);
    const llama_config *c = &m->cfg;
    llama_cuda_model *g = new_model(c);
    w->bytes = &g->weight_bytes;
    const size_t d = c->d_model, hd = c->head_dim, ff = c->d_ff, att = (size_t)c->n_heads * hd;
    const size_t qkv = (size_t)(c->n_heads + 2 * c->n_kv_heads) * hd;
    for (int l = 0; l < c->n_layers; l++) {
        const llama_layer *L = &m->layers[l];
        cuda_layer *G = &g->layers[l];
        G->attn_norm = vector(w, L->attn_norm, d, false);
        G->ffn_norm = vector(w, L->ffn_norm, d, false);
        G->bqkv = vector(w, L->bqkv, qkv, true); // NULL without biases
        G->wqkv = matrix(w, L->wqkv, qkv * d, d);
        G->wo = matrix(w, L->wo, d * att, att);
        G->w_gate_up = matrix(w, L->w_gate_up, 2 * ff * d, d);
        G->w_down = matrix(w, L->w_down, d * ff, ff);
    }
    g->tok_embd = matrix(w, m->tok_embd, (size_t)c->vocab * d, 3); // synthetic: unit-variance embeddings
    g->lm_head = m->tied || w->synthetic ? g->tok_embd : matrix(w, m->lm_head, (size_t)c->vocab * d, d);
    g->out_norm = vector(w, m->out_norm, d, false);
    CUDA_CHECK(cudaDeviceSynchronize());
    return g;
}

} // namespace

extern "C" llama_cuda_model *llama_cuda_upload(const llama_model *m) {
    weight_source w = {false, 0, NULL};
    return make_model(m, &w);
}

extern "C" llama_cuda_model *llama_cuda_synthetic(const llama_model *m, uint64_t seed) {
    weight_source w = {true, seed, NULL};
    return make_model(m, &w);
}

extern "C" void llama_cuda_model_free(llama_cuda_model *g) {
    if (g == NULL) return;
    for (int l = 0; l < g->cfg.n_layers; l++) {
        cuda_layer *G = &g->layers[l];
        dam_cuda_free(G->attn_norm); dam_cuda_free(G->ffn_norm); dam_cuda_free(G->bqkv);
        dam_cuda_free(G->wqkv); dam_cuda_free(G->wo); dam_cuda_free(G->w_gate_up); dam_cuda_free(G->w_down);
    }
    if (g->lm_head != g->tok_embd) dam_cuda_free(g->lm_head);
    dam_cuda_free(g->tok_embd);
    dam_cuda_free(g->out_norm);
    CUBLAS_CHECK(cublasDestroy(g->blas));
    dam_free(g->layers);
    dam_free(g);
}

extern "C" size_t llama_cuda_weight_bytes(const llama_cuda_model *g) { return g->weight_bytes; }

// ---- state ---------------------------------------------------------------------------------

extern "C" llama_state *llama_cuda_state_new(const llama_model *m, const llama_cuda_model *g, int capacity, int chunk) {
    const llama_config *c = &g->cfg;
    if (capacity < 1) dam_die(DAM_EXIT_INPUT, "KV cache capacity %d must be positive", capacity);
    if (chunk <= 0) chunk = 512;
    if (chunk > capacity) chunk = capacity;
    (void)m;
    llama_state *s = (llama_state *)dam_calloc(1, sizeof *s, "state");
    s->capacity = capacity;
    s->chunk = chunk;
    s->kv_elem_bytes = (int)sizeof(dam_bf16);
    s->rope_cos = (float *)dam_malloc(sizeof(float) * chunk * c->head_dim / 2, "rope table");
    s->rope_sin = (float *)dam_malloc(sizeof(float) * chunk * c->head_dim / 2, "rope table");
    llama_cuda_state *G = (llama_cuda_state *)dam_calloc(1, sizeof *G, "GPU state");
    G->g = g;
    G->cap = (capacity + 63) / 64 * 64;
    const size_t hd = c->head_dim, H = c->n_heads, Hkv = c->n_kv_heads, ff = c->d_ff, d = c->d_model;
    const size_t kv = (size_t)c->n_layers * Hkv * G->cap * hd;
    G->k_cache = (dam_bf16 *)dam_cuda_malloc(kv * sizeof(dam_bf16), "KV cache (K)");
    G->v_cache = (dam_bf16 *)dam_cuda_malloc(kv * sizeof(dam_bf16), "KV cache (V)");
    G->x = (float *)dam_cuda_malloc(sizeof(float) * chunk * d, "activations");
    G->xn = (dam_bf16 *)dam_cuda_malloc(sizeof(dam_bf16) * chunk * d, "activations");
    G->qkv = (float *)dam_cuda_malloc(sizeof(float) * chunk * (H + 2 * Hkv) * hd, "activations");
    G->q = (dam_bf16 *)dam_cuda_malloc(sizeof(dam_bf16) * chunk * H * hd, "activations");
    G->att = (dam_bf16 *)dam_cuda_malloc(sizeof(dam_bf16) * chunk * H * hd, "activations");
    G->gu = (float *)dam_cuda_malloc(sizeof(float) * chunk * 2 * ff, "activations");
    G->hb = (dam_bf16 *)dam_cuda_malloc(sizeof(dam_bf16) * chunk * ff, "activations");
    G->logits = (float *)dam_cuda_malloc(sizeof(float) * LOGIT_ROWS * (size_t)c->vocab, "logits");
    G->cs = (float *)dam_cuda_malloc(sizeof(float) * chunk * hd / 2, "rope table");
    G->sn = (float *)dam_cuda_malloc(sizeof(float) * chunk * hd / 2, "rope table");
    G->ids = (int32_t *)dam_cuda_malloc(sizeof(int32_t) * chunk, "token ids");
    G->ws = attn_cuda_decode_ws_new(c->n_heads, c->head_dim, 0);
    s->gpu = G;
    return s;
}

extern "C" void llama_cuda_state_free_device(llama_cuda_state *G) {
    if (G == NULL) return;
    dam_cuda_free(G->k_cache); dam_cuda_free(G->v_cache);
    dam_cuda_free(G->x); dam_cuda_free(G->xn); dam_cuda_free(G->qkv); dam_cuda_free(G->q); dam_cuda_free(G->att);
    dam_cuda_free(G->gu); dam_cuda_free(G->hb); dam_cuda_free(G->logits);
    dam_cuda_free(G->cs); dam_cuda_free(G->sn); dam_cuda_free(G->ids);
    attn_cuda_decode_ws_free(G->ws);
    dam_free(G);
}

// ---- forward -------------------------------------------------------------------------------

namespace {

// One step of nc <= chunk tokens at positions n_past .. n_past+nc-1 (llama.c forward_chunk);
// leaves the final residual stream in G->x.
void forward_chunk(const llama_model *m, llama_state *s, const int32_t *tokens, int nc) {
    llama_cuda_state *G = s->gpu;
    const llama_cuda_model *g = G->g;
    const llama_config *c = &g->cfg;
    const int d = c->d_model, hd = c->head_dim, H = c->n_heads, Hkv = c->n_kv_heads, ff = c->d_ff;
    const int qkv_dim = (H + 2 * Hkv) * hd;
    const int pos0 = s->n_past, n_k = pos0 + nc;
    const size_t layer_kv = (size_t)Hkv * G->cap * hd;
    const float scale = 1.0f / sqrtf((float)hd);

    CUDA_CHECK(cudaMemcpy(G->ids, tokens, sizeof(int32_t) * nc, cudaMemcpyHostToDevice));
    cuda_embed(G->x, g->tok_embd, G->ids, nc, d, c->embd_scale);
    llama_rope_tables(m, s, nc); // host tables (shared with the CPU path), then uploaded
    CUDA_CHECK(cudaMemcpy(G->cs, s->rope_cos, sizeof(float) * nc * hd / 2, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(G->sn, s->rope_sin, sizeof(float) * nc * hd / 2, cudaMemcpyHostToDevice));
    // dense causal attention of this step (layers without a hook): one plan for every layer
    attn_cuda_plan *dense = nc > 1 && s->attn_cuda == NULL ? attn_cuda_plan_build(NULL, nc, n_k, H, Hkv) : NULL;

    for (int l = 0; l < c->n_layers; l++) {
        const cuda_layer *L = &g->layers[l];
        dam_bf16 *kc = G->k_cache + l * layer_kv, *vc = G->v_cache + l * layer_kv;

        // attention: n1 = RMSNorm(x); q, k, v = Wqkv n1 [+ bqkv]; RoPE(q, k); q *= q_scale; cache k, v
        cuda_rmsnorm(G->xn, d, G->x, L->attn_norm, nc, d, c->norm_eps);
        gemm(g->blas, G->qkv, qkv_dim, G->xn, d, L->wqkv, nc, d, qkv_dim, 0.0f);
        cuda_qkv_rope(G->q, kc, vc, G->qkv, L->bqkv, G->cs, G->sn, nc, H, Hkv, hd, G->cap, pos0, c->q_scale, (int)c->rope);
        if (s->attn_cuda)
            s->attn_cuda(s->attn_ctx, l, G->att, H * hd, G->q, H * hd, nc, kc, vc, G->cap, n_k);
        else if (nc == 1)
            attn_cuda_decode(G->att, G->q, kc, vc, G->cap, n_k, H, Hkv, hd, scale, NULL, NULL, 0, 0, G->ws);
        else
            attn_cuda_masked(G->att, H * hd, G->q, H * hd, nc, kc, vc, G->cap, n_k, H, Hkv, hd, scale, dense, NULL, NULL);
        // x += Wo Attn
        gemm(g->blas, G->x, d, G->att, H * hd, L->wo, nc, H * hd, d, 1.0f);

        // feed-forward: n2 = RMSNorm(x); x += Wdown (silu(Wgate n2) * Wup n2)
        cuda_rmsnorm(G->xn, d, G->x, L->ffn_norm, nc, d, c->norm_eps);
        gemm(g->blas, G->gu, 2 * ff, G->xn, d, L->w_gate_up, nc, d, 2 * ff, 0.0f);
        cuda_swiglu(G->hb, G->gu, nc, ff);
        gemm(g->blas, G->x, d, G->hb, ff, L->w_down, nc, ff, d, 1.0f);
    }
    attn_cuda_plan_free(dense); // (a dense plan holds no device memory: nothing the queued kernels read)
    s->n_past += nc;
}

} // namespace

extern "C" void llama_cuda_forward(const llama_model *m, llama_state *s, const int32_t *tokens, int n, float *logits,
                                   int n_logits) {
    llama_cuda_state *G = s->gpu;
    const llama_cuda_model *g = G->g;
    const llama_config *c = &g->cfg;
    const int first_logit = n - (logits ? n_logits : 0); // index of the first token whose logits we return
    for (int c0 = 0; c0 < n; c0 += s->chunk) {
        const int nc = n - c0 < s->chunk ? n - c0 : s->chunk;
        forward_chunk(m, s, tokens + c0, nc);
        if (logits == NULL || c0 + nc <= first_logit) continue;
        const int t0 = first_logit > c0 ? first_logit - c0 : 0; // first row of this chunk that needs logits
        for (int r0 = t0; r0 < nc; r0 += LOGIT_ROWS) {
            const int nl = nc - r0 < LOGIT_ROWS ? nc - r0 : LOGIT_ROWS;
            cuda_rmsnorm(G->xn, c->d_model, G->x + (size_t)r0 * c->d_model, g->out_norm, nl, c->d_model, c->norm_eps);
            gemm(g->blas, G->logits, c->vocab, G->xn, c->d_model, g->lm_head, nl, c->d_model, c->vocab, 0.0f);
            float *lg = logits + (size_t)(c0 + r0 - first_logit) * c->vocab;
            CUDA_CHECK(cudaMemcpy(lg, G->logits, sizeof(float) * nl * c->vocab, cudaMemcpyDeviceToHost));
        }
    }
}

extern "C" void llama_cuda_sync(void) { CUDA_CHECK(cudaDeviceSynchronize()); }
extern "C" size_t llama_cuda_mem_in_use(void) { return dam_cuda_mem_in_use(); }
extern "C" size_t llama_cuda_mem_peak(void) { return dam_cuda_mem_peak(); }
extern "C" void llama_cuda_mem_reset_peak(void) { dam_cuda_mem_reset_peak(); }
extern "C" void llama_cuda_device_info(char *name, size_t name_len, char *cuda, size_t cuda_len, char *driver,
                                       size_t driver_len) {
    dam_cuda_device_info(name, name_len, cuda, cuda_len, driver, driver_len);
}
