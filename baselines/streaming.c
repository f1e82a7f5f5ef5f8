/* streaming.c — see streaming.h. */
#include "baselines/streaming.h"

#include <math.h>

#include "core/mem.h"

int streaming_window(const streaming_params *p, int n) {
    if (p->window > 0) return p->window;
    int w = (int)ceil(p->window_frac * n);
    return w < 1 ? 1 : w;
}

maskplan *streaming_plan(const streaming_params *p, int n) {
    int w = streaming_window(p, n);
    maskplan *plan = maskplan_new();
    int32_t *v = dam_malloc(sizeof(int32_t) * (size_t)(w > p->sinks ? w : p->sinks) + 4, "streaming plan");
    for (int i = 0; i < p->sinks; i++) v[i] = i;
    maskplan_set_cols(plan, v, p->sinks);
    for (int r = 0; r < w; r++) v[r] = r;
    maskplan_set_diags(plan, v, w);
    dam_free(v);
    return plan;
}
