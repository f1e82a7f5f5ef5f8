/* llama.c — see llama.h. Order: loading (hyper-parameters, tensors), state, forward. */
#include "model/llama.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/mem.h"
#include "kernels/cpu/attention.h"
#include "model/dequant.h"
#include "model/gguf.h"
#include "model/hf_config.h"
#include "model/hf_load.h"
#include "model/llama_cuda.h"
#include "model/rope.h"
#include "model/tokenizer_hf.h"

/* ---- loading ------------------------------------------------------------------------------ */

/* Finds tensor `name`, checks it is 2-D [in = ne0, out = ne1] (or 1-D [ne0] when out == 0),
 * dequantises it into dst and marks it used (used[tensor index], f->n_tensors entries). */
static void load_tensor(const gguf_file *f, bool *used, const char *name, uint64_t in, uint64_t out, float *dst) {
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (t == NULL) dam_die(DAM_EXIT_INPUT, "%s: tensor %s is missing", f->path, name);
    used[t - f->tensors] = true;
    bool ok = out == 0 ? (t->n_dims == 1 && t->ne[0] == in) : (t->n_dims == 2 && t->ne[0] == in && t->ne[1] == out);
    if (!ok)
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s has shape [%llu, %llu], expected [%llu, %llu]", f->path, name,
                (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (unsigned long long)in,
                (unsigned long long)(out ? out : 1));
    dequant_tensor(f, t, dst);
    llama_check_finite(f->path, name, dst, out ? in * out : in);
}

/* The file's quantisation: general.file_type as llama.cpp names it (LLAMA_FTYPE_MOSTLY_*, e.g.
 * "Q4_K_M" for a mixed K-quant file), else the type of blk.0.attn_q.weight. */
static const char *quant_name(const gguf_file *f) {
    static const struct {
        uint32_t id;
        const char *name;
    } FTYPES[] = {{0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
                  {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
                  {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {32, "BF16"}};
    uint32_t ft = gguf_get_u32_or(f, "general.file_type", UINT32_MAX);
    for (size_t i = 0; i < sizeof FTYPES / sizeof FTYPES[0]; i++)
        if (FTYPES[i].id == ft) return FTYPES[i].name;
    return ggml_type_get(gguf_find_tensor(f, "blk.0.attn_q.weight")->type)->name;
}

float *llama_alloc_weights(llama_model *m, size_t n, const char *what) {
    m->weight_bytes += n * sizeof(float);
    return dam_malloc(n * sizeof(float), what);
}

void llama_check_finite(const char *path, const char *tensor, const float *x, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            dam_die(DAM_EXIT_INPUT, "%s: tensor %s: element %llu is %s (damaged weights)", path, tensor,
                    (unsigned long long)i, isnan(x[i]) ? "NaN" : "infinite");
}

void llama_alloc_layer(llama_model *m, llama_layer *L) {
    const llama_config *c = &m->cfg;
    const size_t d = (size_t)c->d_model, hd = (size_t)c->head_dim, ff = (size_t)c->d_ff;
    const size_t qkv_rows = (size_t)(c->n_heads + 2 * c->n_kv_heads) * hd;
    L->attn_norm = llama_alloc_weights(m, d, "attn_norm");
    L->wqkv = llama_alloc_weights(m, qkv_rows * d, "attn_qkv");
    L->wo = llama_alloc_weights(m, d * c->n_heads * hd, "attn_output");
    L->ffn_norm = llama_alloc_weights(m, d, "ffn_norm");
    L->w_gate_up = llama_alloc_weights(m, 2 * ff * d, "ffn_gate_up");
    L->w_down = llama_alloc_weights(m, d * ff, "ffn_down");
}

/* Loads a GGUF file; builds the tokenizer when with_tok. */
static llama_model *load_gguf(const char *path, bool with_tok) {
    gguf_file *f = gguf_open(path);
    llama_model *m = dam_calloc(1, sizeof *m, "model");
    m->path = dam_strdup(path, "path");
    llama_config *c = &m->cfg;
    arch_read_config(f, c); /* checks the architecture first */
    m->arch = dam_strdup(arch_name(c->arch), "architecture");
    const gguf_kv *nm = gguf_find_kv(f, "general.name");
    if (nm && nm->value.type == GGUF_TYPE_STRING) {
        m->name = gguf_str_dup(nm->value.str);
    } else {
        const char *slash = strrchr(path, '/');
        m->name = dam_strdup(slash ? slash + 1 : path, "name");
    }

    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (emb == NULL) dam_die(DAM_EXIT_INPUT, "%s: tensor token_embd.weight is missing", path);
    c->vocab = (int)emb->ne[1];
    const int d = c->d_model, hd = c->head_dim, H = c->n_heads, Hkv = c->n_kv_heads, ff = c->d_ff;
    const size_t qkv_rows = (size_t)(H + 2 * Hkv) * hd;
    bool *used = dam_calloc(f->n_tensors ? f->n_tensors : 1, sizeof(bool), "tensor use flags");

    m->tok_embd = llama_alloc_weights(m, (size_t)c->vocab * d, "token_embd.weight");
    load_tensor(f, used, "token_embd.weight", d, c->vocab, m->tok_embd);
    m->out_norm = llama_alloc_weights(m, d, "output_norm.weight");
    load_tensor(f, used, "output_norm.weight", d, 0, m->out_norm);
    m->tied = gguf_find_tensor(f, "output.weight") == NULL;
    if (m->tied) {
        m->lm_head = m->tok_embd;
    } else {
        m->lm_head = llama_alloc_weights(m, (size_t)c->vocab * d, "output.weight");
        load_tensor(f, used, "output.weight", d, c->vocab, m->lm_head);
    }

    m->layers = dam_calloc(c->n_layers, sizeof(llama_layer), "layers");
    char name[96];
#define LAYER_TENSOR(suffix, in, out, ptr)                        \
    do {                                                                 \
        snprintf(name, sizeof name, "blk.%d.%s.weight", l, suffix);      \
        load_tensor(f, used, name, in, out, ptr);                        \
    } while (0)
    for (int l = 0; l < c->n_layers; l++) {
        llama_layer *L = &m->layers[l];
        L->global = !arch_layer_swa(f, c, l);
        L->window = L->global ? 0 : c->swa_window;
        L->rope_theta = L->global ? c->rope_theta : c->rope_theta_swa;
        llama_alloc_layer(m, L);
        LAYER_TENSOR("attn_norm", d, 0, L->attn_norm);
        LAYER_TENSOR("attn_q", d, H * hd, L->wqkv);
        LAYER_TENSOR("attn_k", d, Hkv * hd, L->wqkv + (size_t)H * hd * d);
        LAYER_TENSOR("attn_v", d, Hkv * hd, L->wqkv + (size_t)(H + Hkv) * hd * d);
        LAYER_TENSOR("attn_output", H * hd, d, L->wo);
        LAYER_TENSOR("ffn_norm", d, 0, L->ffn_norm);
        LAYER_TENSOR("ffn_gate", d, ff, L->w_gate_up);
        LAYER_TENSOR("ffn_up", d, ff, L->w_gate_up + (size_t)ff * d);
        LAYER_TENSOR("ffn_down", ff, d, L->w_down);
        if (c->qkv_bias) { /* 1-D [out] each, fused like the weights */
            L->bqkv = llama_alloc_weights(m, qkv_rows, "attn_qkv bias");
            snprintf(name, sizeof name, "blk.%d.attn_q.bias", l);
            load_tensor(f, used, name, (uint64_t)H * hd, 0, L->bqkv);
            snprintf(name, sizeof name, "blk.%d.attn_k.bias", l);
            load_tensor(f, used, name, (uint64_t)Hkv * hd, 0, L->bqkv + (size_t)H * hd);
            snprintf(name, sizeof name, "blk.%d.attn_v.bias", l);
            load_tensor(f, used, name, (uint64_t)Hkv * hd, 0, L->bqkv + (size_t)(H + Hkv) * hd);
        }
        if (c->qk_norm) {
            L->q_norm = llama_alloc_weights(m, hd, "attn_q_norm");
            L->k_norm = llama_alloc_weights(m, hd, "attn_k_norm");
            LAYER_TENSOR("attn_q_norm", hd, 0, L->q_norm);
            LAYER_TENSOR("attn_k_norm", hd, 0, L->k_norm);
        }
        if (c->post_norms) {
            L->post_attn_norm = llama_alloc_weights(m, d, "post_attention_norm");
            L->post_ffn_norm = llama_alloc_weights(m, d, "post_ffw_norm");
            LAYER_TENSOR("post_attention_norm", d, 0, L->post_attn_norm);
            LAYER_TENSOR("post_ffw_norm", d, 0, L->post_ffn_norm);
        }
    }
#undef LAYER_TENSOR
    /* llama-3.1 GGUFs: the llama3 RoPE scaling as per-frequency divisors (llama.cpp's rope_freqs). */
    if (c->arch == ARCH_LLAMA && gguf_find_tensor(f, "rope_freqs.weight")) {
        m->rope_freq_div = llama_alloc_weights(m, (size_t)hd / 2, "rope_freqs.weight");
        load_tensor(f, used, "rope_freqs.weight", (uint64_t)hd / 2, 0, m->rope_freq_div);
        for (int i = 0; i < hd / 2; i++)
            if (!(m->rope_freq_div[i] > 0) || !isfinite(m->rope_freq_div[i]))
                dam_die(DAM_EXIT_INPUT, "%s: tensor rope_freqs.weight[%d] = %g must be positive and finite", path, i,
                        m->rope_freq_div[i]);
    }
    /* A tensor this architecture does not use (biases, rope_freqs, ...) means a model this runtime
     * would compute wrongly: refuse it rather than ignore it. */
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (!used[i])
            dam_die(DAM_EXIT_INPUT, "%s: tensor %.*s is not used by the %s architecture as implemented here (not supported)",
                    path, (int)f->tensors[i].name.len, f->tensors[i].name.ptr, m->arch);
    dam_free(used);
    m->quant = dam_strdup(quant_name(f), "quant");

    const gguf_kv *ct = gguf_find_kv(f, "tokenizer.chat_template");
    if (ct && ct->value.type == GGUF_TYPE_STRING) m->chat_template = gguf_str_dup(ct->value.str);
    if (with_tok) {
        m->tok = tok_load(f);
        if (tok_vocab_size(m->tok) != c->vocab)
            dam_die(DAM_EXIT_INPUT, "%s: tokenizer has %d tokens but token_embd.weight has %d rows", path,
                    tok_vocab_size(m->tok), c->vocab);
    }
    sha256_hex(f->map, f->size, m->sha256);
    gguf_close(f);
    return m;
}

llama_model *llama_load_gguf_weights(const char *path) { return load_gguf(path, false); }

llama_model *llama_load(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* cheap checks first: config.json, then the tokenizer, then the weights */
        char cp[4096];
        dam_format(cp, sizeof cp, "%s/config.json", path);
        llama_config c;
        hf_extra x;
        hf_config_read(cp, &c, &x);
        tokenizer *tok = tok_load_hf(path);
        if (tok_vocab_size(tok) > c.vocab)
            dam_die(DAM_EXIT_INPUT, "%s/tokenizer.json: %d tokens, more than config.json vocab_size %d", path,
                    tok_vocab_size(tok), c.vocab);
        llama_model *m = llama_load_hf_weights(path);
        m->tok = tok; /* fewer tokens than embedding rows (padded vocabularies): the extra ids decode to nothing */
        m->chat_template = tok_hf_chat_template(path);
        return m;
    }
    return load_gguf(path, true);
}

void llama_free(llama_model *m) {
    if (m == NULL) return;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        llama_layer *L = &m->layers[l];
        dam_free(L->attn_norm); dam_free(L->wqkv); dam_free(L->wo);
        dam_free(L->ffn_norm); dam_free(L->w_gate_up); dam_free(L->w_down);
        dam_free(L->bqkv); dam_free(L->q_norm); dam_free(L->k_norm); dam_free(L->post_attn_norm); dam_free(L->post_ffn_norm);
    }
    dam_free(m->layers);
    if (!m->tied) dam_free(m->lm_head);
    dam_free(m->tok_embd);
    dam_free(m->out_norm);
    dam_free(m->rope_freq_div);
    if (m->tok) tok_free(m->tok);
    dam_free(m->path); dam_free(m->name); dam_free(m->arch); dam_free(m->quant);
    dam_free(m->chat_template);
    dam_free(m);
}

/* ---- state -------------------------------------------------------------------------------- */

llama_state *llama_state_new(const llama_model *m, int capacity, int chunk) {
    const llama_config *c = &m->cfg;
    if (capacity < 1) dam_die(DAM_EXIT_INPUT, "KV cache capacity %d must be positive", capacity);
    if (chunk <= 0) chunk = 512;
    if (chunk > capacity) chunk = capacity;
    llama_state *s = dam_calloc(1, sizeof *s, "state");
    s->capacity = capacity;
    s->chunk = chunk;
    s->kv_elem_bytes = (int)sizeof(float);
    s->rope_len = 0; /* dynamic NTK: starts from the unscaled base (forward_chunk) */
    size_t kv = (size_t)c->n_layers * c->n_kv_heads * capacity * c->head_dim;
    s->k_cache = dam_malloc(kv * sizeof(float), "KV cache (K)");
    s->v_cache = dam_malloc(kv * sizeof(float), "KV cache (V)");
    size_t qkv_dim = (size_t)(c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
    s->x = dam_malloc(sizeof(float) * chunk * c->d_model, "activations");
    s->xn = dam_malloc(sizeof(float) * chunk * c->d_model, "activations");
    s->qkv = dam_malloc(sizeof(float) * chunk * qkv_dim, "activations");
    s->att = dam_malloc(sizeof(float) * chunk * c->n_heads * c->head_dim, "activations");
    s->proj = dam_malloc(sizeof(float) * chunk * c->d_model, "activations");
    s->gu = dam_malloc(sizeof(float) * chunk * 2 * c->d_ff, "activations");
    s->hb = dam_malloc(sizeof(float) * chunk * c->d_ff, "activations");
    s->rope_cos = dam_malloc(sizeof(float) * chunk * c->head_dim / 2, "rope table");
    s->rope_sin = dam_malloc(sizeof(float) * chunk * c->head_dim / 2, "rope table");
    if (c->swa_window > 0) { /* sliding-window layers: their own base, never the global layers' scaling */
        s->rope_cos_swa = dam_malloc(sizeof(float) * chunk * c->head_dim / 2, "rope table");
        s->rope_sin_swa = dam_malloc(sizeof(float) * chunk * c->head_dim / 2, "rope table");
    }
    return s;
}

void llama_state_reset(llama_state *s) {
    s->n_past = 0;
    s->rope_len = 0; /* dynamic NTK: a new sequence starts from the unscaled base (forward_chunk) */
}

void llama_state_free(llama_state *s) {
    if (s == NULL) return;
    if (s->gpu) llama_cuda_state_free_device(s->gpu);
    dam_free(s->k_cache); dam_free(s->v_cache);
    dam_free(s->x); dam_free(s->xn); dam_free(s->qkv); dam_free(s->att); dam_free(s->proj);
    dam_free(s->gu); dam_free(s->hb); dam_free(s->rope_cos); dam_free(s->rope_sin);
    dam_free(s->rope_cos_swa); dam_free(s->rope_sin_swa);
    dam_free(s);
}

int llama_layer_kv_rows(const llama_model *m, int layer, int n_past) {
    const llama_layer *L = &m->layers[layer];
    return L->global || n_past < L->window ? n_past : L->window;
}

size_t llama_state_kv_bytes(const llama_model *m, const llama_state *s) {
    const llama_config *c = &m->cfg;
    size_t rows = 0;
    for (int l = 0; l < c->n_layers; l++) rows += (size_t)llama_layer_kv_rows(m, l, s->n_past);
    return 2 * rows * c->n_kv_heads * c->head_dim * (size_t)s->kv_elem_bytes;
}

/* ---- forward ------------------------------------------------------------------------------ */

void llama_rope_tables(const llama_model *m, llama_state *s, int nc) {
    const llama_config *c = &m->cfg;
    const int hd = c->head_dim;
    const int64_t pos0 = s->n_past;
    /* Global layers: rope_theta with the config's scaling and GGUF divisors (model/rope.h).
     * Dynamic NTK scaling follows transformers' dynamic_rope_update, one forward call per chunk: the
     * base is recomputed for L = pos0 + nc (the chunk's last position + 1) when L exceeds the
     * length it was last computed for, and returns to the unscaled base when L < max_position_embeddings
     * after having grown; keys are cached after RoPE, so earlier keys keep the rotation of their own
     * chunk (as in transformers' KV cache). Chunked and one-shot prefill of a prompt longer than
     * max_position_embeddings therefore differ, as they do in transformers. */
    double inv_freq[256];
    const int64_t L = pos0 + nc, M = c->n_ctx_train;
    if (L > s->rope_len) s->rope_len = L;
    if (L < M && s->rope_len > M) s->rope_len = M;
    double att = rope_inv_freq(inv_freq, hd, c->rope_theta, &c->rope_scaling, c->n_ctx_train, s->rope_len, m->rope_freq_div);
    op_rope_table(s->rope_cos, s->rope_sin, pos0, nc, hd, inv_freq, att);
    if (s->rope_cos_swa) {
        rope_inv_freq(inv_freq, hd, c->rope_theta_swa, NULL, c->n_ctx_train, 0, NULL);
        op_rope_table(s->rope_cos_swa, s->rope_sin_swa, pos0, nc, hd, inv_freq, 1.0);
    }
}

/* One step of nc <= chunk tokens at positions n_past .. n_past+nc-1; leaves the final residual
 * stream in s->x. */
static void forward_chunk(const llama_model *m, llama_state *s, const int32_t *tokens, int nc) {
    const llama_config *c = &m->cfg;
    const int d = c->d_model, hd = c->head_dim, H = c->n_heads, Hkv = c->n_kv_heads, ff = c->d_ff;
    const int qkv_dim = (H + 2 * Hkv) * hd;
    const int pos0 = s->n_past;
    const size_t layer_kv = (size_t)Hkv * s->capacity * hd;

    for (int t = 0; t < nc; t++) memcpy(s->x + (size_t)t * d, m->tok_embd + (size_t)tokens[t] * d, sizeof(float) * d);
    if (c->embd_scale != 1.0f) op_scale(s->x, c->embd_scale, (int64_t)nc * d);
    llama_rope_tables(m, s, nc);

    for (int l = 0; l < c->n_layers; l++) {
        const llama_layer *L = &m->layers[l];
        float *kc = s->k_cache + l * layer_kv, *vc = s->v_cache + l * layer_kv;
        const bool swa_table = !L->global;
        const float *rc = swa_table ? s->rope_cos_swa : s->rope_cos, *rs = swa_table ? s->rope_sin_swa : s->rope_sin;

        /* attention: n1 = RMSNorm(x); q, k, v = Wqkv n1 [+ bqkv]; [QK norm]; RoPE(q, k); cache k, v */
        op_rmsnorm(s->xn, s->x, L->attn_norm, nc, d, c->norm_eps);
        op_linear(s->qkv, s->xn, L->wqkv, nc, d, qkv_dim);
        if (L->bqkv)
            for (int t = 0; t < nc; t++) op_add(s->qkv + (size_t)t * qkv_dim, L->bqkv, qkv_dim);
        if (L->q_norm)
            for (int t = 0; t < nc; t++) { /* each head of a row is normalised on its own */
                float *qt = s->qkv + (size_t)t * qkv_dim;
                op_rmsnorm(qt, qt, L->q_norm, H, hd, c->norm_eps);
                op_rmsnorm(qt + (size_t)H * hd, qt + (size_t)H * hd, L->k_norm, Hkv, hd, c->norm_eps);
            }
        op_rope(s->qkv, nc, qkv_dim, H + Hkv, hd, rc, rs, c->rope); /* q and k heads */
        if (c->q_scale != 1.0f)
            for (int t = 0; t < nc; t++) op_scale(s->qkv + (size_t)t * qkv_dim, c->q_scale, (int64_t)H * hd);
        for (int t = 0; t < nc; t++)
            for (int g = 0; g < Hkv; g++) {
                const float *kt = s->qkv + (size_t)t * qkv_dim + (size_t)(H + g) * hd;
                const float *vt = kt + (size_t)Hkv * hd;
                memcpy(kc + ((size_t)g * s->capacity + pos0 + t) * hd, kt, sizeof(float) * hd);
                memcpy(vc + ((size_t)g * s->capacity + pos0 + t) * hd, vt, sizeof(float) * hd);
            }
        /* global layers: the method's hook (or dense causal); sliding-window layers: always the window */
        if (L->global && s->attn)
            s->attn(s->attn_ctx, l, s->att, H * hd, s->qkv, qkv_dim, nc, kc, vc, s->capacity, pos0 + nc);
        else
            attn_causal_window(s->att, H * hd, s->qkv, qkv_dim, nc, kc, vc, s->capacity, pos0 + nc, H, Hkv, hd,
                               1.0f / sqrtf((float)hd), L->window);
        /* x += Wo Attn  [gemma3: x += RMSNorm(Wo Attn)] */
        op_linear(s->proj, s->att, L->wo, nc, H * hd, d);
        if (L->post_attn_norm) op_rmsnorm(s->proj, s->proj, L->post_attn_norm, nc, d, c->norm_eps);
        op_add(s->x, s->proj, (int64_t)nc * d);

        /* feed-forward: n2 = RMSNorm(x); x += Wdown (act(Wgate n2) * Wup n2)  [gemma3: RMSNorm of it] */
        op_rmsnorm(s->xn, s->x, L->ffn_norm, nc, d, c->norm_eps);
        op_linear(s->gu, s->xn, L->w_gate_up, nc, d, 2 * ff);
        if (c->act == FFN_GELU_TANH) op_geglu_tanh(s->hb, s->gu, s->gu + ff, nc, ff, 2 * ff);
        else op_swiglu(s->hb, s->gu, s->gu + ff, nc, ff, 2 * ff);
        op_linear(s->proj, s->hb, L->w_down, nc, ff, d);
        if (L->post_ffn_norm) op_rmsnorm(s->proj, s->proj, L->post_ffn_norm, nc, d, c->norm_eps);
        op_add(s->x, s->proj, (int64_t)nc * d);
    }
    s->n_past += nc;
}

void llama_forward(const llama_model *m, llama_state *s, const int32_t *tokens, int n, float *logits, int n_logits) {
    const llama_config *c = &m->cfg;
    if (n < 1) dam_die(DAM_EXIT_INPUT, "forward called with %d tokens", n);
    if (n > s->capacity - s->n_past)
        dam_die(DAM_EXIT_INPUT, "%d tokens do not fit in the KV cache (%d of %d tokens used)", n, s->n_past, s->capacity);
    if (logits && (n_logits < 1 || n_logits > n)) dam_die(DAM_EXIT_INPUT, "n_logits %d must be in 1..%d", n_logits, n);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab)
            dam_die(DAM_EXIT_INPUT, "token id %d at index %d is outside the vocabulary (0..%d)", tokens[i], i, c->vocab - 1);

    if (s->gpu) { /* a state on the GPU (model/llama_cuda.h) */
        llama_cuda_forward(m, s, tokens, n, logits, n_logits);
        return;
    }
    const int first_logit = n - (logits ? n_logits : 0); /* index of the first token whose logits we return */
    for (int c0 = 0; c0 < n; c0 += s->chunk) {
        int nc = n - c0 < s->chunk ? n - c0 : s->chunk;
        forward_chunk(m, s, tokens + c0, nc);
        if (logits == NULL || c0 + nc <= first_logit) continue;
        int t0 = first_logit > c0 ? first_logit - c0 : 0; /* first row of this chunk that needs logits */
        int nl = nc - t0;
        op_rmsnorm(s->xn, s->x + (size_t)t0 * c->d_model, m->out_norm, nl, c->d_model, c->norm_eps);
        float *lg = logits + (size_t)(c0 + t0 - first_logit) * c->vocab;
        op_linear(lg, s->xn, m->lm_head, nl, c->d_model, c->vocab);
        if (c->final_softcap > 0) /* c * tanh(z / c) */
            for (size_t i = 0; i < (size_t)nl * c->vocab; i++) lg[i] = c->final_softcap * tanhf(lg[i] / c->final_softcap);
    }
}
