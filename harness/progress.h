/* progress.h — the progress display of `dam run` on stderr (DESIGN §5: progress to stderr, data
 * to stdout): cells done / total, elapsed time and an ETA, kept up to date while a cell runs.
 *
 * Two styles:
 *   bar    one status line rewritten in place ("\r" + erase to end of line) once a second, for a
 *          terminal; lines printed through progress_log appear above it;
 *   lines  a plain line "dam run: progress D/T cells (P%), elapsed E, eta R, running ..." every
 *          `every_s` seconds (also in the middle of a long cell) and one at the end, for logs.
 * PROGRESS_AUTO picks bar when the stream is a terminal (and TERM is not "dumb"), lines otherwise.
 *
 * The ETA weighs cells by prompt length (`work`, e.g. tokens): remaining work times the seconds
 * per unit of work of the cells finished so far, minus the time already spent on the cell in
 * flight (never below 0). Skipped cells (already in a resumed journal) count as done but not
 * as time spent.
 *
 * A background thread (POSIX threads) ticks once a second; every call below is thread-safe with
 * respect to it. Output errors are ignored (progress is advisory). */
#ifndef DAM_HARNESS_PROGRESS_H
#define DAM_HARNESS_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

/* How progress is shown. */
typedef enum {
    PROGRESS_AUTO,  /* bar on a terminal, lines otherwise */
    PROGRESS_BAR,   /* status line rewritten in place */
    PROGRESS_LINES, /* periodic plain lines */
    PROGRESS_NONE,  /* nothing but progress_log's lines */
} progress_mode;

/* Parses "auto", "bar", "lines" or "none" into *mode; returns false for anything else. */
bool progress_mode_parse(const char *s, progress_mode *mode);

/* Opaque progress state (progress.c). */
typedef struct progress progress;

/* Starts a display on `out` (normally stderr; not owned) for `total` cells of total weight
 * `work_total` (> 0). every_s: seconds between lines in lines mode (> 0). Starts the ticker
 * thread (exits with status 3 if it cannot). Free with progress_finish. */
progress *progress_start(FILE *out, progress_mode mode, int total, double work_total, double every_s);

/* A cell begins: `what` (copied, e.g. "dam on passkey #3, 1024 tokens") is shown as running. */
void progress_cell_begin(progress *p, const char *what);

/* A cell ends: it had weight `work`; `ran` is false for a cell skipped without running (resume). */
void progress_cell_end(progress *p, double work, bool ran);

/* Prints one formatted line (the caller supplies the newline) on the display's stream without
 * mixing it into the status line: in bar mode the bar is erased first and redrawn after. */
void progress_log(progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stops the ticker, erases the status line (bar) and prints a final line "dam run: progress D/T
 * cells (100%), elapsed E" (bar and lines modes); frees p. NULL is a no-op. */
void progress_finish(progress *p);

/* Formats seconds as "42s", "3m05s" or "1h02m" into buf[len]; returns buf. */
const char *progress_duration(double seconds, char *buf, int len);

#endif
