/* sweep.h — config transforms applied to the JSON before it is validated (DESIGN §6):
 *   --set KEY=VALUE   overrides one value. KEY is a path of object keys and array indices
 *                     ("seed", "workloads[0].lengths", "methods[2].tau"), or METHOD.KEY for the
 *                     method instance named METHOD ("dam.tau"). VALUE is JSON (3, 0.1, [1,2],
 *                     "text", true); anything that does not parse as JSON is taken as a string.
 *   "sweep": {"NAME.KEY": [v1, v2, ...], ...}
 *                     replaces the method instance NAME by one instance per combination of the
 *                     listed values (cartesian over NAME's keys), named NAME[KEY=v1,KEY2=w1] with
 *                     the values in compact JSON, in key order then value order.
 * Errors (unknown path, index out of range, no such method, an empty or non-list sweep) exit with
 * status 2 naming the --set or the sweep key. */
#ifndef DAM_HARNESS_SWEEP_H
#define DAM_HARNESS_SWEEP_H

#include <jansson.h>

/* The VALUE of a command-line "KEY=VALUE" as JSON (a new reference): parsed as JSON (any type);
 * text that does not parse is a string, unless it starts like JSON ([, {, ", a digit or -), which
 * is an input error (exit 2) naming `flag` and the whole assignment. */
json_t *config_value(const char *value, const char *flag, const char *assignment);

/* Applies one "KEY=VALUE" override to root (a config object). `source` names the config. */
void config_apply_set(json_t *root, const char *assignment, const char *source);

/* Expands root's "sweep" (if any) into method instances; the "sweep" key itself is kept. */
void config_expand_sweep(json_t *root, const char *source);

#endif
