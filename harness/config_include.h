/* config_include.h — composing a run config from several files (DESIGN §6, docs/config.md
 * "Includes and defaults"), applied to the JSON before it is validated:
 *
 *   "include": "configs/base_smollm2.json"      (or a non-empty list of file names)
 *       The included files are read (each may include others, at most 8 levels deep; a file that
 *       includes itself, directly or through others, is an error), merged in list order, and the
 *       including file is merged over the result. Merge rule, for every key of the file merged
 *       over: an object merges key by key (recursively); any other value (number, string, array —
 *       `workloads` and `methods` included) replaces the earlier value whole; null removes the key.
 *       File names are relative to the working directory, like every other path of a config.
 *   "defaults": {"methods": {"KIND": {KEY: VALUE, ...}, ...}}
 *       Per-method defaults: every methods[i] whose "method" is KIND is merged over the block (its
 *       own keys win, null removes a default), before sweeps are expanded. KIND must be a
 *       registered method; a block may not set "method" or "name". Blocks of kinds no instance
 *       uses are validated as a method entry of their own ("defaults.methods.KIND.KEY").
 *
 * Both keys are consumed here: the resolved config (results /config) holds the merged values and
 * neither key. Every error is an input error (exit 2) with one line naming the file and the key. */
#ifndef DAM_HARNESS_CONFIG_INCLUDE_H
#define DAM_HARNESS_CONFIG_INCLUDE_H

#include <jansson.h>

/* The top-level keys consumed here ("include", "defaults"), NULL-terminated: the config parser
 * never sees them (`dam config --keys` lists them with the top-level keys). */
extern const char *const CONFIG_COMPOSE_KEYS[];

/* Returns a new reference: the object `root` (read from `source`, for messages) with its includes
 * merged in as described above and "include" removed. root is not modified. */
json_t *config_resolve_includes(json_t *root, const char *source);

/* Merges root's "defaults" into its method entries and removes "defaults"; then removes every
 * null-valued key of every object in root (an override's null, from --set or a method entry,
 * means "no value: take the default"). */
void config_apply_defaults(json_t *root, const char *source);

/* Merges object src over object dst in place by the include rule above (objects recursively,
 * other values replace, null removes). src is not modified. */
void config_merge(json_t *dst, json_t *src);

#endif
