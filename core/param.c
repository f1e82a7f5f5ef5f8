/* param.c — see param.h. */
#include "core/param.h"

#include <stdio.h>

#include "core/mem.h"

param param_scalar(double x) {
    param p = {0, 0, dam_malloc(sizeof(double), "parameter")};
    p.v[0] = x;
    return p;
}

const char *param_fits(const param *p, int n_layers, int n_heads) {
    static _Thread_local char msg[128];
    if (p->n_layers == 0) return NULL;
    if (p->n_layers != n_layers) {
        snprintf(msg, sizeof msg, "has %d layer entries, the model has %d layers", p->n_layers, n_layers);
        return msg;
    }
    if (p->n_heads != 0 && p->n_heads != n_heads) {
        snprintf(msg, sizeof msg, "has %d head entries per layer, the model has %d query heads", p->n_heads, n_heads);
        return msg;
    }
    return NULL;
}

double param_max(const param *p) {
    size_t n = p->n_layers == 0 ? 1 : (size_t)p->n_layers * (p->n_heads ? p->n_heads : 1);
    double m = p->v[0];
    for (size_t i = 1; i < n; i++) m = p->v[i] > m ? p->v[i] : m;
    return m;
}

void param_free(param *p) {
    dam_free(p->v);
    p->v = NULL;
    p->n_layers = p->n_heads = 0;
}
