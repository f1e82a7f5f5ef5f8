/* streaming.h — StreamingLLM (Xiao et al. 2023, "Efficient Streaming Language Models with
 * Attention Sinks"), a.k.a. A-shape: every query keeps the first `sinks` tokens (attention
 * sinks) and the `window` most recent tokens, itself included. As a MaskPlan: columns
 * 0 .. sinks-1 and diagonals 0 .. window-1. The paper's baseline framework (MoA's) uses 4 sinks
 * and a window of half the sequence ("50% span"): window_frac = 0.5. */
#ifndef DAM_BASELINES_STREAMING_H
#define DAM_BASELINES_STREAMING_H

#include "kernels/maskplan.h"

/* StreamingLLM parameters (config keys sinks, window, window_frac). */
typedef struct {
    int sinks;          /* attention-sink tokens, >= 0 */
    int window;         /* recent tokens incl. the query itself; 0 = use window_frac */
    double window_frac; /* window as a fraction of the prompt length n (used when window == 0) */
} streaming_params;

/* The window in tokens for a prompt of n tokens: `window`, or max(1, ceil(window_frac · n)). */
int streaming_window(const streaming_params *p, int n);

/* The plan (same for every layer and head) for a prompt of n tokens. Caller frees. */
maskplan *streaming_plan(const streaming_params *p, int n);

#endif
