/* record.h — the in-memory form of what one run produces, shared by the run loop, the journal
 * (append-only, crash-safe), the HDF5 results file and `dam inspect` / `dam plot`.
 *
 * A run evaluates every method on every example of every workload. An example is one prompt
 * (identical token ids for every method, proved by `ids_sha256`); a result is one (method,
 * example) cell. Alignment metrics follow docs/dam-spec.md §5: per layer and query head, over two
 * disjoint samples of query rows, `tail` (the last 64 prompt rows) and `spread` (64 evenly
 * spaced rows before the tail); density is exact over the whole prompt. */
#ifndef DAM_HARNESS_RECORD_H
#define DAM_HARNESS_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Alignment metrics, in the order of the last axis of result.alignment. */
enum {
    ALIGN_TAIL_MASS_RECALL = 0,   /* Σ kept P_full / Σ P_full per row, averaged over the tail rows */
    ALIGN_TAIL_NEG_LOG_RECALL,    /* −log(mass_recall) per row, averaged */
    ALIGN_TAIL_OUT_REL_L2,        /* ||O_m − O_full|| / ||O_full|| per row, averaged */
    ALIGN_TAIL_OUT_COS,           /* cos(O_m, O_full) per row, averaged */
    ALIGN_SPREAD_MASS_RECALL,
    ALIGN_SPREAD_NEG_LOG_RECALL,
    ALIGN_SPREAD_OUT_REL_L2,
    ALIGN_SPREAD_OUT_COS,
    ALIGN_N_METRICS
};

/* Names of the metrics above ("tail_mass_recall", ...), ALIGN_N_METRICS entries. */
extern const char *const ALIGN_METRIC_NAMES[ALIGN_N_METRICS];

/* One example of a workload. Strings are dam_malloc'd and owned by the record. */
typedef struct {
    char *task;          /* workload name, e.g. "passkey", "niah" */
    int index;           /* example number within the task (0-based), stable across runs */
    int target_len;      /* requested prompt length, tokens */
    int n_tokens;        /* actual prompt length, tokens */
    int n_truncated;     /* tokens cut out of the prompt to fit the task's budget (longbench / lveval
                            middle truncation); 0 when nothing was cut */
    double depth;        /* needle / key position as a fraction of the haystack, 0..1 (-1 if none) */
    int sample;          /* sample number within the (length, depth) cell */
    char *answer;        /* gold answer text (what the scorer compares against) */
    char ids_sha256[65]; /* SHA-256 of the prompt token ids (int32 little-endian) */
} example_record;

/* One (method, example) result. */
typedef struct {
    char *method;        /* method instance name (e.g. "dam", "streaming") */
    char *task;
    int index;           /* example index within the task */
    double score;        /* task score in [0, 1] */
    char *prediction;    /* generated text */
    double answer_nll;   /* mean NLL of the gold answer tokens under teacher forcing, nats/token */
    double logit_kl;     /* mean KL(full || method) of next-token distributions at the answer positions, nats */
    double prefill_ms;   /* prompt forward pass incl. mask building (time to first token) */
    double mask_ms;      /* of which building masks / estimating patterns */
    double decode_ms;    /* per generated token after the first */
    int n_generated;
    double peak_bytes;   /* high-water mark of the harness allocator during the example */
    double kv_bytes;     /* KV-cache bytes the method holds: the prompt's; for methods that evict
                            during decode, the entries still held at the end of generation */
    double density;      /* mean over layers and heads of the exact per-head density */
    int n_layers, n_heads;
    float *alignment;    /* [n_layers][n_heads][ALIGN_N_METRICS], NaN where not measured */
    float *head_density; /* [n_layers][n_heads] */
} result_record;

void example_record_free(example_record *e);
void result_record_free(result_record *r);

#endif
