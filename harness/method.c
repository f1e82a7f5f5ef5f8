/* method.c — see method.h: the registry of methods and dispatch. */
#include "harness/method.h"

#include <stdbool.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

extern const method_ops FULL_OPS, STREAMING_OPS, DAM_OPS;
extern const method_ops FULL_EAGER_OPS; /* baselines/full_eager.c */
extern const method_ops MINFERENCE_OPS, XATTENTION_OPS, FLEXPREFILL_OPS, DAM_ONLINE_OPS; /* dynamic */
extern const method_ops SLIDING_WINDOW_OPS, DILATED_OPS, BIGBIRD_OPS, LONGFORMER_OPS, MOA_OPS; /* baselines/ */
extern const method_ops H2O_OPS; /* baselines/h2o.c: decode-time KV eviction */

/* The registry: every method a config can name. */
static const method_ops *const REGISTRY[] = {&FULL_OPS, &STREAMING_OPS, &DAM_OPS,
                                             &FULL_EAGER_OPS, &SLIDING_WINDOW_OPS, &DILATED_OPS, &BIGBIRD_OPS,
                                             &LONGFORMER_OPS, &MOA_OPS,
                                             &MINFERENCE_OPS, &XATTENTION_OPS, &FLEXPREFILL_OPS, &DAM_ONLINE_OPS,
                                             &H2O_OPS};
enum { N_METHODS = sizeof REGISTRY / sizeof REGISTRY[0] };

const char *method_kinds(void) {
    static char list[512];
    if (list[0] == 0)
        for (int i = 0; i < N_METHODS; i++) {
            if (i) strcat(list, ", ");
            strcat(list, REGISTRY[i]->kind);
        }
    return list;
}

const method_ops *method_find(const char *kind) {
    for (int i = 0; i < N_METHODS; i++)
        if (strcmp(REGISTRY[i]->kind, kind) == 0) return REGISTRY[i];
    return NULL;
}

int method_n_kinds(void) { return N_METHODS; }

const char *method_kind_at(int i) { return i >= 0 && i < N_METHODS ? REGISTRY[i]->kind : NULL; }

void method_parse(const cfg_obj *c, method *m) {
    memset(m, 0, sizeof *m);
    char *kind = cfg_str(c, "method", NULL, true);
    m->ops = method_find(kind);
    if (m->ops == NULL) cfg_fail(c, "method", "\"%s\" is not a supported method (%s)", kind, method_kinds());
    dam_free(kind);
    m->name = cfg_str(c, "name", m->ops->kind, false);
    bool printable = true;
    for (const unsigned char *q = (const unsigned char *)m->name; *q; q++) printable &= *q >= 0x20 && *q < 0x7f && *q != '/';
    if (!printable || strcmp(m->name, ".") == 0)
        cfg_fail(c, "name", "\"%s\" must be printable ASCII without '/' and not \".\" (it names an HDF5 group)", m->name);
    m->params = m->ops->parse(c);
}

bool method_is_dynamic(const method *m) { return m->ops->plan_layer != NULL; }

bool method_whole_prompt(const method *m) { return m->ops->plan_layer != NULL || m->ops->attend != NULL; }

evict_kind method_evicts(const method *m) {
    if (m->ops->evicts == NULL || m->ops->evict == NULL) return EVICT_NONE;
    return m->ops->evicts(m);
}

bool method_is_full(const method *m) { return strcmp(m->ops->kind, "full") == 0; }

void method_prepare(method *m, const llama_model *model) {
    if (m->ops->prepare) m->ops->prepare(m, model);
}

maskplan *method_plan(const method *m, int layer, int q_head, int n, int n_total) {
    return m->ops->plan ? m->ops->plan(m, layer, q_head, n, n_total) : NULL;
}

bool method_store_patterns(const method *m, struct pattern_record *out) {
    if (m->ops->store_patterns == NULL) return false;
    m->ops->store_patterns(m, out);
    return true;
}

void method_free(method *m) {
    if (m->ops && m->params) {
        if (m->ops->free_params) m->ops->free_params(m->params);
        else dam_free(m->params);
    }
    dam_free(m->name);
    memset(m, 0, sizeof *m);
}

void method_check_param(const method *m, const char *key, const param *p, const llama_model *model) {
    const char *why = param_fits(p, model->cfg.n_layers, model->cfg.n_heads);
    if (why) dam_die(DAM_EXIT_INPUT, "method %s: %s %s", m->name, key, why);
}
