/* results_read.h — what the readers of a results file share (harness/results_h5.c for runs and
 * examples, harness/results_patterns.c for /patterns): the reader's context and the one way a
 * damaged or foreign file is reported (exit 2, "FILE: OBJECT: message", the file closed first). */
#ifndef DAM_HARNESS_RESULTS_READ_H
#define DAM_HARNESS_RESULTS_READ_H

#include <hdf5.h>

/* An open results file being read. */
typedef struct {
    const char *path; /* the file, for messages (borrowed) */
    hid_t file;       /* open HDF5 file, or < 0 */
    int minor;        /* the file's schema minor version (set by the reader once known) */
} results_reader;

/* Closes r->file (if open) and exits with status 2: "<path>: <obj>: <message>". */
_Noreturn void results_read_fail(results_reader *r, const char *obj, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A scalar string attribute `name` of obj (variable or fixed length, its character set kept) as
 * a dam_malloc'd string; objpath names obj in messages. Missing, not a scalar string, or
 * unreadable: results_read_fail. */
char *results_read_attr_str(results_reader *r, hid_t obj, const char *objpath, const char *name);

#endif
