/* method.h — an attention method instance as a run uses it: its kind, its name and parameters,
 * and the MaskPlan it gives for a (layer, query head, prompt length). Methods never touch
 * kernels; kernels only see plans (DESIGN §3-4).
 *   full       dense causal attention (flash-style tiled kernel; plan "all causal")
 *   streaming  StreamingLLM: sinks + recent window (baselines/streaming.h)
 *   dam        DAM, the paper's method: calibrated true masks + matched patterns
 *              (dam/patterns.h, dam/plan.h), input-independent */
#ifndef DAM_HARNESS_METHOD_H
#define DAM_HARNESS_METHOD_H

#include <stdbool.h>

#include "baselines/streaming.h"
#include "dam/patterns.h"
#include "kernels/maskplan.h"
#include "model/llama.h"

/* The implemented method kinds (config key `method`). */
typedef enum { METHOD_FULL = 0, METHOD_STREAMING = 1, METHOD_DAM = 2 } method_kind;

/* DAM settings: where the pattern file lives and how to calibrate it if it does not exist. */
typedef struct {
    char *patterns_path;   /* pattern file (HDF5); created by calibration when missing */
    dam_params par;        /* Stage 1 parameters (L = PCL, λ, ε, τ, μ, min_pattern_cells) */
    char *corpus;          /* calibration corpus (plain or .gz text) */
    char *prefix;          /* "none" or "chat" */
    int sequences;         /* calibration sequences of L tokens */
    dam_patterns *patterns; /* loaded patterns (owned), NULL until method_prepare */
} dam_method;

/* One configured method instance. Owns its strings and loaded patterns; release with method_free. */
typedef struct {
    method_kind kind;
    char *name;                 /* unique instance name (default: the kind) */
    streaming_params streaming; /* kind == METHOD_STREAMING */
    dam_method dam;             /* kind == METHOD_DAM */
} method;

/* The config name of a kind ("full", "streaming", "dam"). */
const char *method_kind_name(method_kind k);

/* Parses a kind name; returns false if unknown. */
bool method_kind_parse(const char *s, method_kind *k);

/* Makes the method ready for model m: for dam, reads the pattern file (checked against the
 * model's sha256, PCL, layers and heads), or, if the file does not exist, runs DAM calibration
 * with the method's settings and writes it first (progress on stderr). Other kinds: nothing. */
void method_prepare(method *meth, const llama_model *m);

/* The plan of (layer, q_head) for a prompt of n tokens, valid for every position < n_total
 * (n_total >= n covers generated tokens). NULL for `full` (dense kernel). Caller frees. The
 * method must be prepared (dam: patterns loaded). */
maskplan *method_plan(const method *m, int layer, int q_head, int n, int n_total);

void method_free(method *m);

#endif
