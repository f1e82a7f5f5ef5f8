/* json_file.h — reading a whole JSON file with jansson, with the project's one-line input errors. */
#ifndef DAM_CORE_JSON_FILE_H
#define DAM_CORE_JSON_FILE_H

#include <jansson.h>

/* Loads `path` with jansson's json_load_file and `flags` (e.g. JSON_REJECT_DUPLICATES). Returns a
 * new reference (the caller json_decref's it). Exits with status 2 and one line: "PATH: cannot
 * read: REASON" when the file cannot be opened or read, "PATH:LINE:COLUMN: malformed JSON: REASON"
 * otherwise. */
json_t *json_file_load(const char *path, size_t flags);

#endif
