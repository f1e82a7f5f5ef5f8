/* results_patterns.h — the `/patterns` part of the HDF5 results file (docs/hdf5.md, schema 1.1):
 * the masks each DAM instance applied (results_h5.h pattern_record). Private to the results file
 * code: results_h5.c calls the writer while it builds a file; the reader is
 * results_read_patterns_h5 (results_h5.h). */
#ifndef DAM_HARNESS_RESULTS_PATTERNS_H
#define DAM_HARNESS_RESULTS_PATTERNS_H

#include <hdf5.h>
#include <stddef.h>

#include "harness/results_h5.h"

/* Writes the group /patterns into the open file `file` (always, empty when d has no patterns):
 * attribute `methods` (the instances stored, in run order), then one group per instance, a record
 * equal to an earlier one (pattern_record_same) as a hard link to that group. `str` is the
 * variable-length UTF-8 string type of the file. No timestamps: identical runs give identical
 * bytes. Returns 0, or -1 after an HDF5 failure with the object being written in obj[obj_size]
 * (the caller reports it and discards the file). */
int results_patterns_write(hid_t file, hid_t str, const run_data *d, char *obj, size_t obj_size);

#endif
