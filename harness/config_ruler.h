/* config_ruler.h — the config of a "ruler" workload (docs/config.md, `workloads[i]` with task
 * "ruler"; datasets/ruler.h): which RULER tasks, lengths, samples, prompt style, generation budget
 * and data paths. Called by harness/config.c for an entry whose task is "ruler". */
#ifndef DAM_HARNESS_CONFIG_RULER_H
#define DAM_HARNESS_CONFIG_RULER_H

#include "datasets/workload.h"
#include "harness/cfg.h"

/* Validates the object c (keys, types, ranges, distinct known task names, data keys only for the
 * tasks that read them; keys of other tasks refused with the reason) and fills *out (zeroed here;
 * strings and arrays dam_malloc'd, released by config_free). Defaults: tasks = RULER_DEFAULT_TASKS,
 * samples 1, prompt "completion", max_new_tokens absent = 0 (each task's own), haystack_dir
 * "data/pg_essays", words_dir "data/wordlists/wonderwords", qa_file
 * "data/qa/nq_open_oracle/nq-open-oracle.jsonl.gz"; squad_file / hotpotqa_file are required with
 * qa_1 / qa_2. Exits with status 2 naming the key path on any problem. */
void config_parse_ruler(const cfg_obj *c, workload_cfg *out);

#endif
