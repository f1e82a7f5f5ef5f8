/* cfg.h — reading one JSON object of a config with validation (DESIGN §6), for the run config and
 * for each method's own keys. Every reader checks type and range and records the value it used
 * (given or default) in the resolved config `res`. Any problem is an input error (exit 2) with one
 * line naming the source file and the key path: "cfg.json: methods[2].tau: 3 is out of range [0, 1]". */
#ifndef DAM_HARNESS_CFG_H
#define DAM_HARNESS_CFG_H

#include <jansson.h>
#include <stdbool.h>

#include "core/param.h"

/* One object being read: where it comes from, its key path, the JSON, and the resolved copy. */
typedef struct {
    const char *src;  /* config file path (or "<embedded default>", "--method") for messages */
    const char *path; /* key path of this object ("methods[2]"; "" at the top level) */
    json_t *obj;      /* the object as given (borrowed) */
    json_t *res;      /* the resolved object being built (borrowed) */
} cfg_obj;

/* Fails with "src: path.key: message". key may be NULL (the object itself). */
_Noreturn void cfg_fail(const cfg_obj *c, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fails on the first key of the object that is not in the NULL-terminated list `allowed`. Every
 * parser calls this once per object, before anything that can fail, with the static list of every
 * key the object may have: those lists are the parser's key tables, which `dam config --keys`
 * collects (cfg_set_key_trace) to check docs/config.md against the code. */
void cfg_check_keys(const cfg_obj *c, const char *const *allowed);

/* Called by cfg_check_keys with the object and its `allowed` list, before checking, when set. */
typedef void (*cfg_key_trace_fn)(const cfg_obj *c, const char *const *allowed);

/* Sets (or, with NULL, clears) the process-wide key trace (`dam config --keys` only). */
void cfg_set_key_trace(cfg_key_trace_fn fn);

/* True if the object has `key`. */
bool cfg_has(const cfg_obj *c, const char *key);

/* Integer in [lo, hi]; absent: dflt, or an error if `required`. */
long cfg_int(const cfg_obj *c, const char *key, long dflt, long lo, long hi, bool required);

/* Number in [lo, hi]; absent: dflt. */
double cfg_num(const cfg_obj *c, const char *key, double dflt, double lo, double hi);

/* true / false; absent: dflt. */
bool cfg_bool(const cfg_obj *c, const char *key, bool dflt);

/* Non-empty string; absent: dflt (a copy), or an error if `required`. Caller frees (dam_free). */
char *cfg_str(const cfg_obj *c, const char *key, const char *dflt, bool required);

/* A numeric method parameter (core/param.h): a number, a per-layer array of numbers, or an array
 * of per-layer arrays (all of one length) — every value in [lo, hi] and, if `integer`, integral.
 * Absent: the scalar dflt. The shape is checked against the model later (param_fits). */
param cfg_param(const cfg_obj *c, const char *key, double dflt, double lo, double hi, bool integer);

/* A non-empty array of distinct integers in [lo, hi] (of numbers when `real`) into *out (dam_malloc'd
 * int[] or double[]); returns its length. Absent: parsed from `dflt_json`, or an error if that is NULL. */
int cfg_list(const cfg_obj *c, const char *key, bool real, double lo, double hi, const char *dflt_json, void **out);

/* A non-empty array of distinct non-empty strings into *out (dam_malloc'd array of dam_malloc'd
 * strings); returns its length. Absent: parsed from `dflt_json`, or an error if that is NULL. */
int cfg_str_list(const cfg_obj *c, const char *key, const char *dflt_json, char ***out);

/* A string restricted to the NULL-terminated `choices`; absent: dflt. Caller frees (dam_free). */
char *cfg_choice(const cfg_obj *c, const char *key, const char *dflt, const char *const *choices);

/* Fails if `key` is present: it does not apply here (`why` says where it does). */
void cfg_refuse(const cfg_obj *c, const char *key, const char *why);

/* A child object reader for obj[key] (an error if it is not an object); the resolved child is
 * created in res. */
cfg_obj cfg_child(const cfg_obj *c, const char *key, char *path_buf, size_t path_size);

#endif
