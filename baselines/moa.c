/* moa.c — `moa`: MoA, Mixture of Sparse Attention (Fu et al. 2024, "MoA: Mixture of Sparse
 * Attention for Automatic Large Language Model Compression", arXiv 2406.14909; code
 * thu-nics/MoA). Every (layer, query head) is a sliding window with attention sinks whose span
 * follows its own *elastic rule*: for a prompt of n tokens, head (l, h) keeps
 *   the w_{l,h}(n) = max(1, ⌊α_{l,h} + β_{l,h} · n⌋) most recent keys (the query included), and
 *   the first `sinks` positions (every later query attends them).
 * As a MaskPlan: columns 0 .. sinks − 1 and diagonals 0 .. w − 1. The window is fixed by the prompt
 * length n and stays the same for decode rows (MoA's decode cache per head is a static
 * sinks + window ring). α and β come from a profile file (`profile`, moa.h for the format — MoA's
 * own moa_alpha_beta.json layout); the harness ships configs/moa_smollm2-135m.json for the default
 * model, built by tests/tools/moa_search.c (docs/methods.md). A profile must match the model's
 * layers × query heads.
 * Defaults: profile = configs/moa_smollm2-135m.json under the project root (a given path is used
 * as given); sinks = 64 (MoA's kernels keep one 64-token global block: num_global_block = 1 with
 * block size 64 in MoA/universal/elastic_block_sparse.py).
 * Simplified: MoA's windows are block-granular (64-token bands of blocks); ours are token-exact. MoA
 * profiles by gradient-based attention influence on model-generated summaries and solves a MILP
 * under a density budget over several lengths; our search (tests/tools/moa_search.c) ranks
 * candidate rules by tail mass recall under full attention on the Jargon File and picks per head
 * the cheapest rule reaching a common recall target under a mean-density budget. Negative α, which
 * MoA's published profiles use (e.g. −1024 with β = 0.875), is rejected here as an input error.
 * Parameters: `profile` (string), `sinks` (param, integer >= 0). */
#include "baselines/moa.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/method.h"
#include "harness/registry.h"

/* Reads matrix `key` of the profile into out[n_layers][n_heads] with range [lo, hi]. */
static void read_matrix(const char *path, json_t *root, const char *key, int n_layers, int n_heads, double lo,
                        double hi, double *out) {
    json_t *a = json_object_get(root, key);
    if (a == NULL) dam_die(DAM_EXIT_INPUT, "%s: %s: required key is missing (a MoA profile has alphas and betas)", path, key);
    if (!json_is_array(a)) dam_die(DAM_EXIT_INPUT, "%s: %s: must be a list of per-layer lists", path, key);
    if ((int)json_array_size(a) != n_layers)
        dam_die(DAM_EXIT_INPUT, "%s: %s has %zu layer rows, the model has %d layers", path, key, json_array_size(a), n_layers);
    for (int l = 0; l < n_layers; l++) {
        json_t *row = json_array_get(a, l);
        if (!json_is_array(row) || (int)json_array_size(row) != n_heads)
            dam_die(DAM_EXIT_INPUT, "%s: %s[%d]: must be a list of %d per-head values (the model's query heads)", path, key, l,
                    n_heads);
        for (int h = 0; h < n_heads; h++) {
            json_t *e = json_array_get(row, h);
            if (!json_is_number(e)) dam_die(DAM_EXIT_INPUT, "%s: %s[%d][%d]: must be a number", path, key, l, h);
            const double x = json_number_value(e);
            if (!(x >= lo)) dam_die(DAM_EXIT_INPUT, "%s: %s[%d][%d]: %g must be >= %g", path, key, l, h, x, lo);
            if (!(x <= hi)) dam_die(DAM_EXIT_INPUT, "%s: %s[%d][%d]: %g must be <= %g", path, key, l, h, x, hi);
            out[(size_t)l * n_heads + h] = x;
        }
    }
}

moa_profile moa_profile_load(const char *path, int n_layers, int n_heads) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open the MoA profile", path);
    json_error_t err;
    json_t *root = json_loadf(f, 0, &err);
    fclose(f);
    if (root == NULL) dam_die(DAM_EXIT_INPUT, "%s: malformed JSON at line %d: %s", path, err.line, err.text);
    if (!json_is_object(root)) dam_die(DAM_EXIT_INPUT, "%s: a MoA profile must be a JSON object", path);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "alphas") && strcmp(key, "betas") && strcmp(key, "model") && strcmp(key, "meta"))
            dam_die(DAM_EXIT_INPUT, "%s: %s: unknown key (allowed: alphas, betas, model, meta)", path, key);
    }
    moa_profile p = {n_layers, n_heads, dam_malloc(sizeof(double) * (size_t)n_layers * n_heads, "MoA profile"),
                     dam_malloc(sizeof(double) * (size_t)n_layers * n_heads, "MoA profile")};
    read_matrix(path, root, "alphas", n_layers, n_heads, 0, 1e15, p.alpha);
    read_matrix(path, root, "betas", n_layers, n_heads, 0, 1, p.beta);
    json_decref(root);
    return p;
}

void moa_profile_free(moa_profile *p) {
    dam_free(p->alpha);
    dam_free(p->beta);
    memset(p, 0, sizeof *p);
}

/* Parameters (config keys profile, sinks) and the loaded profile. */
typedef struct {
    char *profile_path;
    param sinks;
    moa_profile prof; /* loaded by prepare */
    int loaded;
} moa_params;

static void *moa_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "profile", "sinks", NULL};
    cfg_check_keys(c, keys);
    moa_params *p = dam_calloc(1, sizeof *p, "moa params");
    p->profile_path = cfg_str(c, "profile", "configs/moa_smollm2-135m.json", false);
    if (!cfg_has(c, "profile")) { /* the default lives under the project root, like registered models */
        char buf[4096];
        dam_format(buf, sizeof buf, "%s/%s", dam_root(), p->profile_path);
        dam_free(p->profile_path);
        p->profile_path = dam_strdup(buf, "moa profile path");
    }
    p->sinks = cfg_param(c, "sinks", 64, 0, 1 << 24, true);
    return p;
}

static void moa_prepare(method *m, const llama_model *model) {
    moa_params *p = m->params;
    method_check_param(m, "sinks", &p->sinks, model);
    if (p->loaded) moa_profile_free(&p->prof);
    p->prof = moa_profile_load(p->profile_path, model->cfg.n_layers, model->cfg.n_heads);
    p->loaded = 1;
}

static maskplan *moa_plan(const method *m, int layer, int head, int n, int n_total) {
    const moa_params *p = m->params;
    if (!p->loaded) dam_die(DAM_EXIT_RUNTIME, "internal error: method %s used before prepare", m->name);
    const size_t lh = (size_t)layer * p->prof.n_heads + head;
    long w = moa_window(p->prof.alpha[lh], p->prof.beta[lh], n), s = (long)param_at(&p->sinks, layer, head);
    if (w > n_total) w = n_total; /* offsets and positions >= n_total never apply */
    if (s > n_total) s = n_total;
    int32_t *v = dam_malloc(sizeof(int32_t) * (size_t)(w > s ? w : s) + 4, "moa plan");
    maskplan *plan = maskplan_new();
    for (long r = 0; r < w; r++) v[r] = (int32_t)r;
    maskplan_set_diags(plan, v, (int)w);
    for (long i = 0; i < s; i++) v[i] = (int32_t)i;
    maskplan_set_cols(plan, v, (int)s);
    dam_free(v);
    return plan;
}

static void moa_free(void *params) {
    moa_params *p = params;
    dam_free(p->profile_path);
    param_free(&p->sinks);
    if (p->loaded) moa_profile_free(&p->prof);
    dam_free(p);
}

const method_ops MOA_OPS = {.kind = "moa",
                            .summary = "MoA: per-head elastic sliding windows alpha + beta*n with sinks, from a profile",
                            .parse = moa_parse,
                            .prepare = moa_prepare,
                            .plan = moa_plan,
                            .free_params = moa_free};
