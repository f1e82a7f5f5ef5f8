/* config.h — the JSON experiment config of `dam run` (DESIGN §6), read with jansson.
 *
 * Every key is validated: an unknown key, a wrong type or an out-of-range value is an input
 * error (exit 2) whose one-line message names the file and the key path ("methods[2].tau").
 * Defaults are filled in and the fully resolved config is kept as JSON text (stored in the
 * results). docs/config.md is the reference for every key. */
#ifndef DAM_HARNESS_CONFIG_H
#define DAM_HARNESS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "datasets/workload.h"
#include "harness/method.h"

/* A parsed, validated run config. Owns every string and array; release with config_free. */
typedef struct {
    char *source;           /* the config file path, or "<embedded default>" */
    char *resolved_json;    /* the whole config with defaults filled, JSON (sorted keys, 2-space indent) */
    char *model;            /* GGUF path or registered name */
    uint64_t seed;
    char *output;           /* results file (.h5) */
    char *device;           /* "cpu" */
    int threads;            /* 0 = all cores */
    int prefill_chunk;      /* tokens per prefill step */
    bool alignment;         /* measure alignment vs full attention on sampled rows */
    int n_workloads;
    workload_cfg *workloads;
    int n_methods;
    method *methods;        /* unique names; `full` first if present (the reference for KL) */
} run_config;

/* The config compiled into the binary (configs/default.json at build time). */
extern const char DAM_DEFAULT_CONFIG[];

/* Parses and validates JSON text `text` from `source` (for messages), after merging its includes
 * (harness/config_include.h; paths relative to the working directory), applying the n_sets
 * "KEY=VALUE" overrides (--set), merging the per-method "defaults" and expanding "sweep"
 * (harness/sweep.h), in that order. Exits with status 2 on any problem, naming source and key path. */
void config_parse(const char *text, const char *source, const char *const *sets, int n_sets, run_config *c);

/* Reads `path` and parses it (with overrides); NULL loads the embedded default. */
void config_load(const char *path, const char *const *sets, int n_sets, run_config *c);

void config_free(run_config *c);

#endif
