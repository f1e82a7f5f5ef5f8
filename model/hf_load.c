/* hf_load.c — see hf_load.h. */
#include "model/hf_load.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/json_file.h"
#include "core/hash.h"
#include "core/mem.h"
#include "model/hf_config.h"
#include "model/safetensors.h"

/* The directory's safetensors files and, for sharded models, the index. */
typedef struct {
    const char *dir;
    char index_path[4096];
    json_t *weight_map; /* name -> file name; NULL for a single model.safetensors */
    int n_files;
    char **names;       /* file names inside dir, sorted */
    st_file **files;
    bool **used;        /* per file, per tensor */
} hf_files;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void open_files(hf_files *h) {
    struct stat st;
    dam_format(h->index_path, sizeof h->index_path, "%s/model.safetensors.index.json", h->dir);
    char single[4096];
    dam_format(single, sizeof single, "%s/model.safetensors", h->dir);
    if (stat(h->index_path, &st) == 0 && stat(single, &st) == 0) /* which one would be the model? never guess */
        dam_die(DAM_EXIT_INPUT, "%s: holds both model.safetensors and model.safetensors.index.json; remove the one that is not the model",
                h->dir);
    if (stat(h->index_path, &st) == 0) {
        json_t *ix = json_file_load(h->index_path, JSON_REJECT_DUPLICATES);
        json_t *wm = json_object_get(ix, "weight_map");
        if (!json_is_object(wm) || json_object_size(wm) == 0)
            dam_die(DAM_EXIT_INPUT, "%s: key \"weight_map\" must be a non-empty object", h->index_path);
        h->weight_map = json_incref(wm);
        json_decref(ix);
        h->names = dam_calloc(json_object_size(wm), sizeof(char *), "shard names");
        const char *k;
        json_t *v;
        json_object_foreach(wm, k, v) {
            const char *fn = json_string_value(v);
            if (fn == NULL || strchr(fn, '/') || fn[0] == 0 || fn[0] == '.')
                dam_die(DAM_EXIT_INPUT, "%s: weight_map[\"%s\"] must be a file name in the directory", h->index_path, k);
            bool seen = false;
            for (int i = 0; i < h->n_files; i++) seen |= strcmp(h->names[i], fn) == 0;
            if (!seen) h->names[h->n_files++] = dam_strdup(fn, "shard name");
        }
    } else {
        h->names = dam_calloc(1, sizeof(char *), "shard names");
        h->names[h->n_files++] = dam_strdup("model.safetensors", "shard name");
        char p[4096];
        dam_format(p, sizeof p, "%s/model.safetensors", h->dir);
        if (stat(p, &st) != 0)
            dam_die(DAM_EXIT_INPUT, "%s: neither model.safetensors nor model.safetensors.index.json is in the directory", h->dir);
    }
    qsort(h->names, (size_t)h->n_files, sizeof(char *), cmp_str);
    h->files = dam_calloc((size_t)h->n_files, sizeof(st_file *), "shards");
    h->used = dam_calloc((size_t)h->n_files, sizeof(bool *), "shards");
    for (int i = 0; i < h->n_files; i++) {
        char p[4096];
        dam_format(p, sizeof p, "%s/%s", h->dir, h->names[i]);
        h->files[i] = st_open(p); /* a missing shard: "cannot open safetensors file" naming it */
        h->used[i] = dam_calloc((size_t)h->files[i]->n_tensors + 1, sizeof(bool), "tensor use flags");
    }
}

/* The file holding tensor `name` and the tensor, or NULL (*fi = -1) if no file has it. */
static const st_tensor *find(const hf_files *h, const char *name, int *fi) {
    *fi = -1;
    if (h->weight_map) {
        json_t *v = json_object_get(h->weight_map, name);
        if (v == NULL) return NULL;
        for (int i = 0; i < h->n_files; i++)
            if (strcmp(h->names[i], json_string_value(v)) == 0) *fi = i;
        const st_tensor *t = st_find(h->files[*fi], name);
        if (t == NULL)
            dam_die(DAM_EXIT_INPUT, "%s: tensor %s is not in %s, where %s says it is", h->files[*fi]->path, name,
                    h->names[*fi], h->index_path);
        return t;
    }
    const st_tensor *t = st_find(h->files[0], name);
    if (t) *fi = 0;
    return t;
}

/* Converts tensor `name` of shape [rows][cols] (rows == 0: 1-D [cols]) into dst; marks it used. */
static void load(hf_files *h, const char *name, uint64_t rows, uint64_t cols, float *dst) {
    int fi;
    const st_tensor *t = find(h, name, &fi);
    if (t == NULL)
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s is missing", h->weight_map ? h->index_path : h->files[0]->path, name);
    const st_file *f = h->files[fi];
    h->used[fi][t - f->tensors] = true;
    bool ok = rows == 0 ? (t->n_dims == 1 && t->shape[0] == cols)
                        : (t->n_dims == 2 && t->shape[0] == rows && t->shape[1] == cols);
    if (!ok) {
        char got[96] = "[", *p = got + 1;
        for (int i = 0; i < t->n_dims && i < 4; i++)
            p += snprintf(p, 20, "%s%llu", i ? ", " : "", (unsigned long long)t->shape[i]);
        strcat(got, "]");
        if (rows == 0)
            dam_die(DAM_EXIT_INPUT, "%s: tensor %s has shape %s, expected [%llu]", f->path, name, got, (unsigned long long)cols);
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s has shape %s, expected [%llu, %llu]", f->path, name, got,
                (unsigned long long)rows, (unsigned long long)cols);
    }
    st_to_f32(f, t, dst);
    llama_check_finite(f->path, name, dst, t->n_elements);
}

/* Appends "<sha256 of path>  <name>\n" to man (len bytes used of cap). */
static void manifest_line(char *man, size_t cap, size_t *len, const char *path, const char *name) {
    char hex[65];
    if (sha256_file_hex(path, hex) != 0) dam_die(DAM_EXIT_INPUT, "%s: cannot read", path);
    *len += (size_t)snprintf(man + *len, cap - *len, "%s  %s\n", hex, name);
}

/* sha256 of the manifest of config.json, the shards and the index (if any), in name order
 * (config.json < model-* / model.safetensors < model.safetensors.index.json). */
static void manifest_sha256(const hf_files *h, const char *config_path, char out[65]) {
    size_t cap = (size_t)(h->n_files + 2) * 4200, len = 0;
    char *man = dam_malloc(cap, "manifest");
    manifest_line(man, cap, &len, config_path, "config.json");
    for (int i = 0; i < h->n_files; i++) {
        char hex[65];
        sha256_hex(h->files[i]->map, h->files[i]->size, hex); /* already mapped */
        len += (size_t)snprintf(man + len, cap - len, "%s  %s\n", hex, h->names[i]);
    }
    if (h->weight_map) manifest_line(man, cap, &len, h->index_path, "model.safetensors.index.json");
    sha256_hex(man, len, out);
    dam_free(man);
}

llama_model *llama_load_hf_weights(const char *dir) {
    char config_path[4096];
    dam_format(config_path, sizeof config_path, "%s/config.json", dir);
    llama_model *m = dam_calloc(1, sizeof *m, "model");
    m->path = dam_strdup(dir, "path");
    llama_config *c = &m->cfg;
    hf_extra x;
    hf_config_read(config_path, c, &x);
    m->arch = dam_strdup(arch_name(c->arch), "architecture");
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    size_t start = dl;
    while (start > 0 && dir[start - 1] != '/') start--;
    m->name = dam_malloc(dl - start + 1, "name");
    memcpy(m->name, dir + start, dl - start);
    m->name[dl - start] = 0;

    hf_files h = {.dir = dir};
    open_files(&h);
    const int d = c->d_model, hd = c->head_dim, H = c->n_heads, Hkv = c->n_kv_heads, ff = c->d_ff, V = c->vocab;
    const size_t qkv_rows = (size_t)(H + 2 * Hkv) * hd;

    m->tok_embd = llama_alloc_weights(m, (size_t)V * d, "model.embed_tokens.weight");
    load(&h, "model.embed_tokens.weight", V, d, m->tok_embd);
    m->out_norm = llama_alloc_weights(m, d, "model.norm.weight");
    load(&h, "model.norm.weight", 0, d, m->out_norm);
    m->tied = x.tied;
    int fi;
    if (m->tied) {
        if (find(&h, "lm_head.weight", &fi))
            dam_die(DAM_EXIT_INPUT, "%s: tie_word_embeddings is true but lm_head.weight is present (which one is meant?)", config_path);
        m->lm_head = m->tok_embd;
    } else {
        m->lm_head = llama_alloc_weights(m, (size_t)V * d, "lm_head.weight");
        load(&h, "lm_head.weight", V, d, m->lm_head);
    }

    m->layers = dam_calloc((size_t)c->n_layers, sizeof(llama_layer), "layers");
    char name[128];
#define T(suffix) (snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix), name)
    for (int l = 0; l < c->n_layers; l++) {
        llama_layer *L = &m->layers[l];
        L->global = true;
        L->window = 0;
        L->rope_theta = c->rope_theta;
        llama_alloc_layer(m, L);
        load(&h, T("input_layernorm.weight"), 0, d, L->attn_norm);
        load(&h, T("self_attn.q_proj.weight"), (uint64_t)H * hd, d, L->wqkv);
        load(&h, T("self_attn.k_proj.weight"), (uint64_t)Hkv * hd, d, L->wqkv + (size_t)H * hd * d);
        load(&h, T("self_attn.v_proj.weight"), (uint64_t)Hkv * hd, d, L->wqkv + (size_t)(H + Hkv) * hd * d);
        if (c->qkv_bias) { /* qwen2: 1-D [out] each, fused like the weights */
            L->bqkv = llama_alloc_weights(m, qkv_rows, "attn_qkv bias");
            load(&h, T("self_attn.q_proj.bias"), 0, (uint64_t)H * hd, L->bqkv);
            load(&h, T("self_attn.k_proj.bias"), 0, (uint64_t)Hkv * hd, L->bqkv + (size_t)H * hd);
            load(&h, T("self_attn.v_proj.bias"), 0, (uint64_t)Hkv * hd, L->bqkv + (size_t)(H + Hkv) * hd);
        }
        load(&h, T("self_attn.o_proj.weight"), d, (uint64_t)H * hd, L->wo);
        load(&h, T("post_attention_layernorm.weight"), 0, d, L->ffn_norm);
        load(&h, T("mlp.gate_proj.weight"), ff, d, L->w_gate_up);
        load(&h, T("mlp.up_proj.weight"), ff, d, L->w_gate_up + (size_t)ff * d);
        load(&h, T("mlp.down_proj.weight"), d, ff, L->w_down);
        const st_tensor *inv = find(&h, T("self_attn.rotary_emb.inv_freq"), &fi);
        if (inv) h.used[fi][inv - h.files[fi]->tensors] = true; /* derived buffer: recomputed from config.json */
    }
#undef T
    /* A tensor the architecture does not use (biases, ...) means a model this runtime would compute
     * wrongly: refuse it rather than ignore it. */
    for (int i = 0; i < h.n_files; i++)
        for (int t = 0; t < h.files[i]->n_tensors; t++)
            if (!h.used[i][t])
                dam_die(DAM_EXIT_INPUT, "%s: tensor %s is not used by the %s architecture as implemented here (not supported)",
                        h.files[i]->path, h.files[i]->tensors[t].name, m->arch);
    if (h.weight_map) { /* every name of the index was loaded (or is an ignored inv_freq buffer) */
        const char *k;
        json_t *v;
        json_object_foreach(h.weight_map, k, v) {
            int f2;
            const st_tensor *t = find(&h, k, &f2);
            if (!h.used[f2][t - h.files[f2]->tensors]) dam_die(DAM_EXIT_INPUT, "%s: tensor %s is not used", h.index_path, k);
        }
    }
    const st_tensor *q0 = find(&h, "model.layers.0.self_attn.q_proj.weight", &fi);
    m->quant = dam_strdup(q0->dtype, "quant");
    manifest_sha256(&h, config_path, m->sha256);

    for (int i = 0; i < h.n_files; i++) {
        st_close(h.files[i]);
        dam_free(h.used[i]);
        dam_free(h.names[i]);
    }
    dam_free(h.files);
    dam_free(h.used);
    dam_free(h.names);
    json_decref(h.weight_map);
    return m;
}
