/* results_h5.h — everything one run produced (run_data) and its HDF5 results file (DESIGN §7).
 *
 * run_data is the in-memory form shared by the run loop, the journal (journal.h), the HDF5
 * writer and reader below, and the readers `dam inspect`, `dam check` and `dam plot`. The file
 * layout is a contract documented in docs/hdf5.md (schema version RESULTS_SCHEMA_VERSION).
 *
 * Crash safety: results_write_h5 builds the complete file as "<path>.tmp", fsyncs it, renames it
 * over <path> and fsyncs the directory, so the published <path> is always either the previous or
 * the new complete file. Records are persisted one by one in the journal; the HDF5 file is a
 * snapshot re-published periodically and at the end of a run.
 *
 * Pointers to records (from the add, take and find functions) stay valid until the next add or
 * take (which may move the arrays) and keep their address across run_data_sort, which reorders
 * records in place (so after a sort a pointer may designate another record; look it up again).
 *
 * Ownership: every string and array reachable from a run_data is dam_malloc'd and owned by it;
 * run_data_free releases everything. Errors: the reader exits with status 2 and a one-line message
 * naming the file and object; the writer exits with status 3 (I/O failure) after removing its
 * temporary file, leaving the previously published file untouched. */
#ifndef DAM_HARNESS_RESULTS_H5_H
#define DAM_HARNESS_RESULTS_H5_H

#include <stdbool.h>
#include <stdint.h>

#include "dam/patterns.h"
#include "harness/record.h"

/* Schema version written to the root attribute `schema_version` ("major.minor"). Readers refuse a
 * file of another major version; a newer minor only adds objects that older readers ignore. */
#define RESULTS_SCHEMA_MAJOR 1
#define RESULTS_SCHEMA_MINOR 2
#define RESULTS_SCHEMA_VERSION "1.2"

/* Facts about the model a run used (the `/model` group). Strings owned. */
typedef struct {
    char *name;            /* registry name or file name, e.g. "smollm2-135m" */
    char *architecture;    /* general.architecture, e.g. "llama" */
    int n_layers;          /* transformer blocks */
    int n_heads;           /* query heads per layer */
    int n_kv_heads;        /* key/value heads per layer (GQA: n_heads / n_kv_heads queries share one) */
    int head_dim;          /* dimension of one head */
    int context_length;    /* trained context length, tokens */
    double rope_theta;     /* RoPE base frequency */
    char *file_sha256;     /* SHA-256 of the model file, 64 lowercase hex digits */
    char *quantisation;    /* weight type of the file, e.g. "Q4_1", "bf16" */
    /* Since schema 1.2 (files of 1.0 / 1.1 read as format "", d_model = vocab = 0, no sliding
     * window, rope_scaling "", every layer global): */
    char *format;          /* "gguf" (a GGUF file) or "safetensors" (a Hugging Face directory) */
    int d_model;           /* hidden size */
    int vocab;             /* vocabulary size, tokens */
    int sliding_window;    /* tokens a sliding-window layer's query sees, itself included; 0: no such layers */
    double rope_theta_swa; /* RoPE base of the sliding-window layers; NaN when there are none */
    char *rope_scaling;    /* RoPE scaling of the global layers' frequencies: "none" or the scheme's name */
    int n_global;          /* layers with full causal attention: the only layers attention methods apply to */
    int *global_layers;    /* [n_global] ascending layer indices (all layers unless the model has
                              sliding-window layers, e.g. Gemma-3's 5, 11, 17) */
} model_info;

/* One method instance of the run (the `/runs/<name>` group). */
typedef struct {
    char *name;            /* unique instance name (config `name`, default the method) */
    int n_layers;          /* length of `layers` */
    int *layers;           /* [n_layers] sorted layer indices the method's masks applied to;
                              the other layers ran full attention */
    char patterns_sha256[65]; /* SHA-256 of the DAM pattern file the instance's masks came from
                                 (pattern_record.source_sha256), "" for other methods: kept in the
                                 journal header so --resume refuses a pattern file that changed */
} method_info;

/* The masks one DAM method instance applied (the `/patterns/<method>` group, schema 1.1): DAM's
 * masks do not depend on the input, so they are stored once per instance, exactly as Stage 2 used
 * them — the pattern file's masks, or the ones the instance re-derived from the file's mean
 * attention at its own λ, τ, μ, min_pattern_cells and PCL (per layer / head values included).
 * Owns every field (dam_malloc'd; `set` through dam_patterns_free); free with pattern_record_free. */
typedef struct pattern_record {
    char *method;           /* instance name: a method of the run */
    char *source;           /* the pattern file as the instance resolved it (path) */
    char source_sha256[65]; /* SHA-256 of that file's bytes, 64 lowercase hex digits */
    dam_patterns *set;      /* per head: L_h (the head's PCL), true mask, R, C, density; par.L = the
                               file's PCL, par.eps = ε; provenance as in the file; abar NULL */
    double *lambda;         /* [n_layers * n_heads] per head (l * n_heads + h): λ, τ, μ the masks */
    double *tau;            /*   were derived with */
    double *mu;
    int *min_cells;         /* [n_layers * n_heads] min_pattern_cells per head */
} pattern_record;

/* Releases everything p owns and zeroes it. */
void pattern_record_free(pattern_record *p);

/* True if a and b store the same masks: same source hash, per-head parameters, L_h, true masks,
 * R and C (the writer stores the second as a hard link to the first). */
bool pattern_record_same(const pattern_record *a, const pattern_record *b);

/* One run: metadata, model, methods, examples and results. Zero-initialise (or run_data_init)
 * before use. Strings may be NULL while being built; the writer stores NULL as "". */
typedef struct {
    char *harness_version;  /* `dam` version string */
    char *git_revision;     /* `git describe --always --dirty` of the harness, or "unknown" */
    char *config_json;      /* the fully resolved config, JSON text */
    char *host;             /* host name */
    char *device;           /* "cpu" or the GPU name */
    char *cuda_version;     /* CUDA runtime version, "none" on CPU */
    char *driver_version;   /* GPU driver version, "none" on CPU */
    char *start_time;       /* ISO-8601 UTC, "2025-01-31T12:00:00Z" */
    char *end_time;         /* ISO-8601 UTC; "" while the run is in progress */
    uint64_t seed;          /* master seed of the run */
    model_info model;

    int n_methods;          /* methods in run order (config order; plots keep it) */
    method_info *methods;
    int n_examples;         /* examples; canonical order (run_data_sort): task order, then index */
    example_record *examples;
    int n_results;          /* results; canonical order: method order, task order, index */
    result_record *results;
    int n_patterns;         /* DAM masks of the instances that have them (dam), any order; the file
                               lists them in method order */
    pattern_record *patterns;

    /* private: hash indexes over examples and results (rebuilt on demand) */
    int *ex_slots, *res_slots;
    int ex_cap, res_cap;
    int cap_methods, cap_examples, cap_results;
} run_data;

/* Zero-initialises d. */
void run_data_init(run_data *d);

/* Releases everything d owns and zero-initialises it. */
void run_data_free(run_data *d);

/* Deep-copies the metadata, model and methods of src into dst (dst's old metadata is freed; its
 * examples and results are kept). Used to carry a run's header into a journal or a new file. */
void run_data_copy_meta(run_data *dst, const run_data *src);

/* Appends a method instance (name copied; layers copied, n_layers entries, may be NULL when
 * n_layers == 0). Exits with status 2 if a method of that name exists. */
void run_data_add_method(run_data *d, const char *name, int n_layers, const int *layers);

/* Appends a method that applies to every layer 0..n_layers-1. */
void run_data_add_method_all_layers(run_data *d, const char *name, int n_layers);

/* The method named `name`, or NULL. */
const method_info *run_data_find_method(const run_data *d, const char *name);

/* Adds a deep copy of e. An example with the same (task, index) is replaced. Returns the stored
 * record (valid until the next add). */
example_record *run_data_add_example(run_data *d, const example_record *e);

/* Adds a deep copy of r (alignment: n_layers*n_heads*ALIGN_N_METRICS floats, head_density:
 * n_layers*n_heads floats; either may be NULL when n_layers*n_heads == 0). A result with the
 * same (method, task, index) is replaced. Returns the stored record (valid until the next add). */
result_record *run_data_add_result(run_data *d, const result_record *r);

/* Like run_data_add_result but takes ownership of r's strings and arrays (r is zeroed). */
result_record *run_data_take_result(run_data *d, result_record *r);

/* Like run_data_add_example but takes ownership of e's strings (e is zeroed). */
example_record *run_data_take_example(run_data *d, example_record *e);

/* Takes ownership of *p (zeroed on return) as the masks of method p->method, replacing earlier
 * ones of that method. run_data_validate checks that the method is one of the run's. */
void run_data_take_patterns(run_data *d, pattern_record *p);

/* The masks stored for `method`, or NULL. */
const pattern_record *run_data_find_patterns(const run_data *d, const char *method);

/* The example (task, index), or NULL. O(1) expected. */
const example_record *run_data_find_example(const run_data *d, const char *task, int index);

/* The result (method, task, index), or NULL. O(1) expected. */
const result_record *run_data_find_result(const run_data *d, const char *method, const char *task, int index);

/* Puts examples and results in canonical order: tasks by first appearance in examples, examples
 * by (task, index), results by (position of the method in methods[], task, index); results whose
 * method is not in methods[] go last, by name. */
void run_data_sort(run_data *d);

/* Distinct task names in order of first appearance in examples[]. Returns the count; *tasks gets a
 * dam_malloc'd array of pointers into d (free the array only). */
int run_data_tasks(const run_data *d, const char ***tasks);

/* Checks the cross-references the file layout relies on: non-empty names without '/' (HDF5 path
 * separator) and not "." ; every result's method is in methods[] and its (task, index) example
 * exists; alignment / head_density shapes agree within each (method, task) and sizes are
 * non-negative. Returns NULL if d is consistent, else a message in buf (size len). */
const char *run_data_validate(const run_data *d, char *buf, int len);

/* Writes d as the HDF5 results file `path` (layout: docs/hdf5.md): builds "<path>.tmp", fsyncs
 * it, renames it over `path`, fsyncs the directory. d is sorted into canonical order first. On any
 * failure (an inconsistent d: status 3 too, as it is a harness bug; a full disk; an HDF5 error) the
 * temporary file is removed, the previous `path` is left as it was, and the process exits with
 * status 3 naming the file and the object being written. */
void results_write_h5(const char *path, run_data *d);

/* One column of a flat table file (results_write_table_h5): n_rows values at data, of kind
 * RESULTS_COL_I64 (int64_t[]), RESULTS_COL_F64 (double[]) or RESULTS_COL_STR (const char *[], UTF-8;
 * invalid bytes are replaced as in results files). units / description: NULL or the attribute. */
enum { RESULTS_COL_I64, RESULTS_COL_F64, RESULTS_COL_STR };
typedef struct {
    const char *name;
    int kind;
    const void *data;
    const char *units, *description;
} results_column;

/* Writes a flat table as the HDF5 file `path` (`dam bench -o`, docs/hdf5.md), atomically as
 * results_write_h5 does (built in memory, "<path>.tmp" written and fsynced, renamed over path):
 * root string attributes attrs[i][0] = attrs[i][1], then group `group` with one 1-D dataset of
 * n_rows values per column (chunked, compressed; units / description attributes). On failure the
 * temporary file is removed, the previous `path` stays as it was, and the process exits with
 * status 3 naming the file and the object. */
void results_write_table_h5(const char *path, const char *const (*attrs)[2], int n_attrs, const char *group,
                            const results_column *cols, int n_cols, int n_rows);

/* Reads the HDF5 results file `path` into d (d is initialised here; free with run_data_free).
 * Validates schema_version (an unknown major version is refused) and structure (required objects,
 * types, matching lengths). On error exits with status 2 and a one-line message naming the file
 * and object. Results come back in canonical order. The DAM masks (`/patterns`, megabytes per
 * instance) are not read: results_read_patterns_h5 adds them. */
void results_read_h5(const char *path, run_data *d);

/* Adds the DAM masks of results file `path` (`/patterns`; none in a schema 1.0 file) to d, which
 * results_read_h5 filled from the same file. Checks every dataset's type and shape against the
 * group's PCL and d's model, masks causal and inside each head's PCL, R and C sorted, unique and
 * inside it, densities consistent; exits with status 2 naming the file and object otherwise. */
void results_read_patterns_h5(const char *path, run_data *d);

/* Checks only that `path` is a dam results file whose schema_version has this dam's major version
 * (RESULTS_SCHEMA_MAJOR): what `dam run --resume` needs before it replaces the file. On error
 * exits with status 2 and one line naming the file and the version, as results_read_h5 does. */
void results_check_schema_h5(const char *path);

/* Mean over layers and heads of alignment metric `metric` (ALIGN_*) of r, NaN cells skipped; NaN
 * if none was measured. */
double result_alignment_mean(const result_record *r, int metric);

/* A dam_malloc'd copy of s (NULL gives "") in which every byte that does not belong to a valid
 * UTF-8 sequence is replaced by U+FFFD. JSON (the journal) and HDF5 UTF-8 strings (h5py's
 * .asstr()) need valid UTF-8, but byte-level BPE can emit a partial character at the end of a
 * prediction; run_data stores only valid UTF-8 (the add and take functions apply this). */
char *results_utf8_dup(const char *s, const char *what);

/* True if s (NULL counts as "") is valid UTF-8. */
bool results_utf8_valid(const char *s);

/* The current UTC time as ISO-8601 "YYYY-MM-DDTHH:MM:SSZ" in out[32]. */
void results_utc_now(char out[32]);

#endif
