/* streaming.h — StreamingLLM (Xiao et al. 2023, "Efficient Streaming Language Models with
 * Attention Sinks"), a.k.a. A-shape: every query keeps the first `sinks` tokens (attention
 * sinks) and the `window` most recent tokens, itself included. As a MaskPlan: columns
 * 0 .. sinks-1 and diagonals 0 .. window-1. The paper's baseline framework (MoA's) uses 4 sinks
 * and a window of half the sequence ("50% span"): window_frac = 0.5. Every parameter may be
 * given per layer or per layer × head (core/param.h). Config: method "streaming". */
#ifndef DAM_BASELINES_STREAMING_H
#define DAM_BASELINES_STREAMING_H

#include "core/param.h"
#include "kernels/maskplan.h"

/* StreamingLLM parameters (config keys sinks, window, window_frac). */
typedef struct {
    param sinks;       /* attention-sink tokens, >= 0 (default 4) */
    param window;      /* recent tokens incl. the query itself; 0 = use window_frac */
    param window_frac; /* window as a fraction of the prompt length n (default 0.5) */
} streaming_params;

/* The window in tokens of (layer, head) for a prompt of n tokens: `window`, or
 * max(1, ceil(window_frac · n)). */
int streaming_window(const streaming_params *p, int layer, int head, int n);

/* The plan of (layer, head) for a prompt of n tokens. Caller frees. */
maskplan *streaming_plan(const streaming_params *p, int layer, int head, int n);

#endif
