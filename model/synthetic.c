/* synthetic.c — see synthetic.h. */
#include "model/synthetic.h"

#include <string.h>

#include "core/error.h"
#include "core/mem.h"

typedef struct {
    const char *name;
    int n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab, n_ctx;
    float rope_theta;
    rope_pairing rope;
} shape;

/* from each model's config.json (HuggingFaceTB/SmolLM2-135M-Instruct, meta-llama/Llama-3.2-1B,
 * meta-llama/Llama-3.1-8B, Qwen/Qwen2.5-7B-Instruct) */
static const shape SHAPES[] = {
    {"smollm2-135m", 30, 576, 9, 3, 64, 1536, 49152, 8192, 100000.0f, ROPE_ADJACENT},
    {"llama3.2-1b", 16, 2048, 32, 8, 64, 8192, 128256, 131072, 500000.0f, ROPE_ADJACENT},
    {"llama3.1-8b", 32, 4096, 32, 8, 128, 14336, 128256, 131072, 500000.0f, ROPE_ADJACENT},
    {"qwen2.5-7b", 28, 3584, 28, 4, 128, 18944, 152064, 32768, 1000000.0f, ROPE_HALF},
};

const char *llama_synthetic_names(void) { return "smollm2-135m, llama3.2-1b, llama3.1-8b, qwen2.5-7b"; }

llama_model *llama_synthetic_shape(const char *name) {
    const shape *s = NULL;
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
        if (strcmp(SHAPES[i].name, name) == 0) s = &SHAPES[i];
    if (s == NULL) dam_die(DAM_EXIT_INPUT, "--synthetic %s: unknown shape (known: %s)", name, llama_synthetic_names());
    llama_model *m = dam_calloc(1, sizeof *m, "synthetic model");
    llama_config *c = &m->cfg;
    c->arch = ARCH_LLAMA;
    c->n_layers = s->n_layers;
    c->d_model = s->d_model;
    c->n_heads = s->n_heads;
    c->n_kv_heads = s->n_kv_heads;
    c->head_dim = s->head_dim;
    c->d_ff = s->d_ff;
    c->vocab = s->vocab;
    c->n_ctx_train = s->n_ctx;
    c->rope_theta = c->rope_theta_swa = s->rope_theta;
    c->norm_eps = 1e-5f;
    c->rope = s->rope;
    c->act = FFN_SILU;
    c->embd_scale = 1.0f;
    c->q_scale = 1.0f;
    m->layers = dam_calloc(c->n_layers, sizeof(llama_layer), "synthetic layers");
    for (int l = 0; l < c->n_layers; l++) m->layers[l].global = true, m->layers[l].rope_theta = s->rope_theta;
    char title[96];
    dam_format(title, sizeof title, "synthetic %s (random weights: timing only)", s->name);
    m->name = dam_strdup(title, "synthetic model");
    m->arch = dam_strdup("llama", "synthetic model");
    m->quant = dam_strdup("BF16 (synthetic)", "synthetic model");
    m->path = dam_strdup(s->name, "synthetic model");
    m->tied = true;
    return m;
}
