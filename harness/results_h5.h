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

#include "harness/record.h"

/* Schema version written to the root attribute `schema_version` ("major.minor"). Readers refuse a
 * file of another major version; a newer minor only adds objects that older readers ignore. */
#define RESULTS_SCHEMA_MAJOR 1
#define RESULTS_SCHEMA_MINOR 1
#define RESULTS_SCHEMA_VERSION "1.1"

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
} model_info;

/* One method instance of the run (the `/runs/<name>` group). */
typedef struct {
    char *name;            /* unique instance name (config `name`, default the method) */
    int n_layers;          /* length of `layers` */
    int *layers;           /* [n_layers] sorted layer indices the method's masks applied to;
                              the other layers ran full attention */
} method_info;

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

/* Reads the HDF5 results file `path` into d (d is initialised here; free with run_data_free).
 * Validates schema_version (an unknown major version is refused) and structure (required objects,
 * types, matching lengths). On error exits with status 2 and a one-line message naming the file
 * and object. Results come back in canonical order. */
void results_read_h5(const char *path, run_data *d);

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
