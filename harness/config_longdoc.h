/* config_longdoc.h — the workload keys of the long-document tasks `longbench` and `lveval`
 * (datasets/longdoc.h; docs/config.md), read with harness/cfg.h like every workload. */
#ifndef DAM_HARNESS_CONFIG_LONGDOC_H
#define DAM_HARNESS_CONFIG_LONGDOC_H

#include <stdbool.h>

#include "datasets/workload.h"
#include "harness/cfg.h"

/* True for the tasks parsed here. */
bool config_is_longdoc(const char *task);

/* Reads workload object c of task "longbench" or "lveval" into *out (zeroed first; strings and
 * lists dam_malloc'd, released by config_free): task, data_dir, datasets, levels (lveval),
 * longbench_e (longbench), samples, max_length, prompt, truncation. Unknown keys, keys of other
 * tasks, wrong types, unknown dataset names and repeated names are errors naming the key path
 * (exit 2). max_new_tokens is refused: each dataset has its upstream budget. */
void config_parse_longdoc(const cfg_obj *c, workload_cfg *out);

#endif
