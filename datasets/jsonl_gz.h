/* jsonl_gz.h — reading JSON Lines files that may be gzip-compressed (the LongEval test cases in
 * data/longeval are stored as `*.jsonl.gz`): zlib's gzopen reads gzip and plain files alike,
 * jansson parses each line. */
#ifndef DAM_DATASETS_JSONL_GZ_H
#define DAM_DATASETS_JSONL_GZ_H

#include <jansson.h>

/* Reads the JSON objects of `path`, one per line (empty lines and a missing final newline are
 * allowed), stopping after `max_records` objects when max_records > 0. Returns a dam_malloc'd
 * array of *n new references (free with jsonl_free). Exits with status 2 and one line naming
 * the file (and line number) when the file cannot be opened or decompressed, a line is not valid
 * JSON, or a line is not a JSON object. */
json_t **jsonl_read(const char *path, int max_records, int *n);

/* As jsonl_read, and stores in *line_nos a dam_malloc'd array of the 1-based line number of each
 * record in the file (for messages about a record's content; blank lines count). */
json_t **jsonl_read_lines(const char *path, int max_records, int *n, int **line_nos);

/* Releases the records of jsonl_read (NULL allowed). */
void jsonl_free(json_t **recs, int n);

#endif
