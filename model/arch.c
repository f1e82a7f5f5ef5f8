/* arch.c — see arch.h. */
#include "model/arch.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

static const char *const ARCH_NAMES[] = {"llama", "gemma3", "qwen2"};

const char *arch_name(model_arch a) { return ARCH_NAMES[a]; }

model_arch arch_from_gguf(const gguf_file *f) {
    gguf_str s = gguf_get_str(f, "general.architecture");
    for (size_t i = 0; i < sizeof ARCH_NAMES / sizeof ARCH_NAMES[0]; i++)
        if (gguf_str_eq(s, ARCH_NAMES[i])) return (model_arch)i;
    dam_die(DAM_EXIT_INPUT, "%s: general.architecture \"%.*s\" is not supported (supported: llama, gemma3, qwen2)", f->path,
            (int)(s.len > 64 ? 64 : s.len), s.ptr);
}

/* "<arch>.<key>" into buf. */
static const char *akey(char *buf, size_t cap, const llama_config *c, const char *key) {
    snprintf(buf, cap, "%s.%s", arch_name(c->arch), key);
    return buf;
}

void arch_read_config(const gguf_file *f, llama_config *c) {
    char key[128];
    const char *an = arch_name(c->arch = arch_from_gguf(f));
    const bool gemma = c->arch == ARCH_GEMMA3;
    c->n_layers = (int)gguf_get_u32(f, akey(key, sizeof key, c, "block_count"));
    c->d_model = (int)gguf_get_u32(f, akey(key, sizeof key, c, "embedding_length"));
    c->d_ff = (int)gguf_get_u32(f, akey(key, sizeof key, c, "feed_forward_length"));
    c->n_heads = (int)gguf_get_u32(f, akey(key, sizeof key, c, "attention.head_count"));
    c->n_kv_heads = (int)gguf_get_u32_or(f, akey(key, sizeof key, c, "attention.head_count_kv"), (uint32_t)c->n_heads);
    c->n_ctx_train = (int)gguf_get_u32(f, akey(key, sizeof key, c, "context_length"));
    c->rope_theta = gguf_get_f32_or(f, akey(key, sizeof key, c, "rope.freq_base"), 10000.0f);
    c->norm_eps = gguf_get_f32(f, akey(key, sizeof key, c, "attention.layer_norm_rms_epsilon"));

    if (c->n_layers < 1 || c->n_layers > 1024) dam_die(DAM_EXIT_INPUT, "%s: %s.block_count = %d is out of range", f->path, an, c->n_layers);
    if (c->d_model < 1 || c->n_heads < 1)
        dam_die(DAM_EXIT_INPUT, "%s: %s.embedding_length = %d, head_count = %d must be positive", f->path, an, c->d_model,
                c->n_heads);
    if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads != 0)
        dam_die(DAM_EXIT_INPUT, "%s: head_count = %d is not a multiple of head_count_kv = %d", f->path, c->n_heads,
                c->n_kv_heads);
    /* head_dim: attention.key_length when present (gemma3: 256 with d_model 640 and 4 heads), else
     * d_model / heads; llama requires the two to agree. */
    const int derived = c->d_model / c->n_heads;
    c->head_dim = (int)gguf_get_u32_or(f, akey(key, sizeof key, c, "attention.key_length"), (uint32_t)derived);
    if (!gemma && (c->d_model % c->n_heads != 0 || c->head_dim != derived))
        dam_die(DAM_EXIT_INPUT, "%s: %s = %d differs from embedding_length / head_count = %d (not supported for %s)",
                f->path, key, c->head_dim, derived, an);
    if (c->head_dim < 2 || c->head_dim > 512 || c->head_dim % 2 != 0)
        dam_die(DAM_EXIT_INPUT, "%s: head_dim %d must be even and in 2..512", f->path, c->head_dim);
    int vl = (int)gguf_get_u32_or(f, akey(key, sizeof key, c, "attention.value_length"), (uint32_t)c->head_dim);
    if (vl != c->head_dim)
        dam_die(DAM_EXIT_INPUT, "%s: %s = %d differs from the key length %d (not supported)", f->path, key, vl, c->head_dim);
    int rd = (int)gguf_get_u32_or(f, akey(key, sizeof key, c, "rope.dimension_count"), (uint32_t)c->head_dim);
    if (rd != c->head_dim)
        dam_die(DAM_EXIT_INPUT, "%s: %s = %d: partial rotary embeddings are not supported (head_dim %d)", f->path, key,
                rd, c->head_dim);
    /* RoPE scaling: "none", or "linear" with rope.scaling.factor (llama.cpp: freq_scale = 1 / factor,
     * the same inv_freq / factor as transformers' linear); yarn's llama.cpp parameters are not read */
    c->rope_scaling = (rope_scaling){.type = ROPE_SCALING_NONE, .attn_factor = 1.0};
    const gguf_kv *scaling = gguf_find_kv(f, akey(key, sizeof key, c, "rope.scaling.type"));
    if (scaling && scaling->value.type == GGUF_TYPE_STRING && gguf_str_eq(scaling->value.str, "linear")) {
        c->rope_scaling.type = ROPE_SCALING_LINEAR;
        c->rope_scaling.factor = gguf_get_f32(f, akey(key, sizeof key, c, "rope.scaling.factor"));
        if (!(c->rope_scaling.factor >= 1))
            dam_die(DAM_EXIT_INPUT, "%s: %s = %g must be >= 1", f->path, key, c->rope_scaling.factor);
    } else if (scaling && !(scaling->value.type == GGUF_TYPE_STRING && gguf_str_eq(scaling->value.str, "none"))) {
        dam_die(DAM_EXIT_INPUT, "%s: %s is set: RoPE scaling other than linear is not supported for GGUF files", f->path, key);
    }
    if (c->d_ff < 1) dam_die(DAM_EXIT_INPUT, "%s: %s.feed_forward_length = %d", f->path, an, c->d_ff);
    if (!(c->rope_theta > 0) || !(c->norm_eps > 0))
        dam_die(DAM_EXIT_INPUT, "%s: rope freq_base %g and rms epsilon %g must be positive", f->path, c->rope_theta,
                c->norm_eps);

    /* defaults: llama */
    c->rope = ROPE_ADJACENT; /* GGUF llama: Q/K permuted by the converter (models.md §4) */
    c->rope_theta_swa = c->rope_theta;
    c->swa_window = 0;
    c->qk_norm = false;
    c->qkv_bias = false;
    c->post_norms = false;
    c->act = FFN_SILU;
    c->embd_scale = 1.0f;
    c->q_scale = 1.0f;
    c->final_softcap = 0.0f;
    if (c->arch == ARCH_QWEN2) {
        c->rope = ROPE_HALF; /* not permuted: NeoX pairing (llama.cpp LLAMA_ROPE_TYPE_NEOX for qwen2) */
        c->qkv_bias = true;
        return;
    }
    if (!gemma) return;

    c->rope = ROPE_HALF; /* not permuted: NeoX pairing (llama.cpp LLAMA_ROPE_TYPE_NEOX for gemma3) */
    c->qk_norm = true;
    c->post_norms = true;
    c->act = FFN_GELU_TANH;
    c->embd_scale = sqrtf((float)c->d_model);
    /* query_pre_attn_scalar: head_dim, or d_model / heads for the 27B model (62 layers) */
    const float qpas = c->n_layers == 62 ? (float)(c->d_model / c->n_heads) : (float)c->head_dim;
    c->q_scale = sqrtf((float)c->head_dim) / sqrtf(qpas);
    c->final_softcap = gguf_get_f32_or(f, akey(key, sizeof key, c, "final_logit_softcapping"), 0.0f);
    if (c->final_softcap < 0)
        dam_die(DAM_EXIT_INPUT, "%s: %s = %g must not be negative", f->path, key, c->final_softcap);
    c->swa_window = (int)gguf_get_u32_or(f, akey(key, sizeof key, c, "attention.sliding_window"), 0);
    if (c->swa_window > 0) {
        c->rope_theta_swa = gguf_get_f32_or(f, akey(key, sizeof key, c, "rope.freq_base_swa"), 10000.0f);
        if (!(c->rope_theta_swa > 0)) dam_die(DAM_EXIT_INPUT, "%s: %s = %g must be positive", f->path, key, c->rope_theta_swa);
        for (int l = 0; l < c->n_layers; l++) (void)arch_layer_swa(f, c, l); /* validates the pattern key */
    }
}

bool arch_layer_swa(const gguf_file *f, const llama_config *c, int l) {
    if (c->swa_window <= 0) return false;
    char key[128];
    const gguf_kv *kv = gguf_find_kv(f, akey(key, sizeof key, c, "attention.sliding_window_pattern"));
    if (kv && kv->value.type == GGUF_TYPE_ARRAY) { /* per layer: true = sliding window */
        if (kv->value.arr_type != GGUF_TYPE_BOOL || kv->value.arr_n != (uint64_t)c->n_layers)
            dam_die(DAM_EXIT_INPUT, "%s: %s must be an ARRAY of %d BOOL (one per layer)", f->path, key, c->n_layers);
        return kv->value.arr_data[l] != 0;
    }
    uint32_t period = kv ? gguf_get_u32(f, key) : 6; /* llama.cpp's gemma3 default */
    if (period == 0) return true;                    /* llama.cpp: every layer slides */
    return (uint32_t)l % period < period - 1;
}
