/* param.h — a numeric method parameter as a config may give it (DESIGN §6): a scalar, a
 * per-layer list [n_layers], or a per-layer × per-query-head matrix [n_layers][n_heads]. Methods
 * read it per (layer, head) with param_at, so any numeric parameter can be ablated per layer and
 * per head. */
#ifndef DAM_CORE_PARAM_H
#define DAM_CORE_PARAM_H

#include <stddef.h>

typedef struct {
    int n_layers; /* 0 for a scalar */
    int n_heads;  /* 0 for a scalar or a per-layer list */
    double *v;    /* [1], [n_layers] or [n_layers * n_heads] (row-major by layer); owned */
} param;

/* The value for (layer, head). The caller has checked the shape with param_fits. */
static inline double param_at(const param *p, int layer, int head) {
    if (p->n_layers == 0) return p->v[0];
    if (p->n_heads == 0) return p->v[layer];
    return p->v[(size_t)layer * p->n_heads + head];
}

/* A scalar parameter (dam_malloc'd storage). */
param param_scalar(double x);

/* NULL if the shape fits a model of n_layers × n_heads, else a static message
 * ("has 12 layer entries, the model has 30 layers"). */
const char *param_fits(const param *p, int n_layers, int n_heads);

/* The largest value over all layers and heads. */
double param_max(const param *p);

void param_free(param *p);

#endif
