/* journal.h — the append-only, crash-safe record of a run (DESIGN §7, docs/hdf5.md §Crash safety).
 *
 * `<output>.journal` next to the results file holds one JSON object per line:
 *   {"type":"header", ...}   first line: run metadata, resolved config, seed, model, methods
 *                            (each dam instance with its pattern file's "patterns_sha256")
 *   {"type":"example", ...}  one finished example (example_record)
 *   {"type":"result", ...}   one finished (method, example) cell (result_record, with the
 *                            alignment [layers][heads][8] and head_density [layers][heads] arrays)
 * Each line is written with one write() and fsync'd before the append returns, so after kill -9
 * (or power loss) at any moment every appended record survives except the one in flight, which
 * can only leave a torn last line. JSON has no NaN or infinity: NaN is written as null, ±infinity
 * as the strings "inf" / "-inf"; floats are written with the fewest digits that read back to the
 * same float, doubles with 17 significant digits, so every value round-trips exactly.
 *
 * Errors: reading exits with status 2 naming the file and line; writing (full disk, I/O error)
 * exits with status 3 naming the file. */
#ifndef DAM_HARNESS_JOURNAL_H
#define DAM_HARNESS_JOURNAL_H

#include <stdbool.h>

#include "harness/record.h"
#include "harness/results_h5.h"

/* Format number written in the header line ("format": 2; 2 added the model facts of schema 1.2). */
#define JOURNAL_FORMAT 2

/* An open journal (append mode). */
typedef struct journal journal;

/* The journal path of a results file: "<output>.journal" (dam_malloc'd). */
char *journal_path(const char *output);

/* Creates (or truncates) the journal at `path` and writes and fsyncs the header line from the
 * metadata of `header` (its examples and results are not written; end_time is not recorded).
 * Whether an existing journal may be overwritten is the caller's decision (`dam run` without
 * --resume). Exits with status 3 if the file cannot be created or written. */
journal *journal_create(const char *path, const run_data *header);

/* Reopens the journal at `path` to continue a run (`--resume`): loads it into *loaded (as
 * journal_read), checks its header against `current` (journal_check_header), removes a torn last
 * line from the file so that new lines follow a complete one, and returns the journal open for
 * appending. *loaded keeps the journal's metadata (start time included), examples and results;
 * the run loop skips the cells journal_has_result reports and adds new records to *loaded. */
journal *journal_resume(const char *path, const run_data *current, run_data *loaded);

/* Appends one example / one result line and fsyncs it. Strings that are not valid UTF-8 are
 * written with U+FFFD replacements (see results_utf8_dup). Exits with status 3 on a write error. */
void journal_append_example(journal *j, const example_record *e);
void journal_append_result(journal *j, const result_record *r);

/* Closes the journal (everything is already durable) and frees the handle; NULL is a no-op. */
void journal_close(journal *j);

/* Loads the journal at `path` into *out (initialised here; free with run_data_free): metadata from
 * the header, then every example and result in canonical order (run_data_sort). A later line for
 * the same (task, index) example or (method, task, index) result replaces the earlier one. A torn
 * last line (no newline, or not valid JSON) is dropped with a warning. A missing or unreadable
 * file, a missing header, an unparsable line before the last, or a line with a missing or
 * mistyped field exits with status 2: "PATH:LINE: ...". */
void journal_read(const char *path, run_data *out);

/* True if `loaded` (from journal_read / journal_resume) holds the result (method, task, index). */
bool journal_has_result(const run_data *loaded, const char *method, const char *task, int index);

/* True if `loaded` holds the example (task, index). */
bool journal_has_example(const run_data *loaded, const char *task, int index);

/* Checks that a journal's header (`journal_run`, from journal_read) matches the current run:
 * the resolved config (compared as JSON values, so whitespace and key order do not matter), the
 * seed, the model facts and the methods with their layers and, where both record one, their DAM
 * pattern file hash (method_info.patterns_sha256; a changed file would mix masks). A mismatch exits with status 2 naming
 * `path` and the first difference ("config differs at methods[2].tau: journal 0.1, now 0.3").
 * A different harness version, git revision, host or device only warns. */
void journal_check_header(const char *path, const run_data *journal_run, const run_data *current);

#endif
