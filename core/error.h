/* error.h — one way to fail: a one-line message on stderr and an exit status (DESIGN §5).
 *
 * Exit statuses: 0 ok, 1 check failed (`dam check`), 2 usage or input error (bad file, key or
 * value), 3 runtime failure (out of memory, CUDA error, I/O error while writing results).
 * Messages are printed as "dam: <message>\n"; the message must name the file, key or value. */
#ifndef DAM_CORE_ERROR_H
#define DAM_CORE_ERROR_H

enum {
    DAM_EXIT_OK = 0,
    DAM_EXIT_CHECK = 1,
    DAM_EXIT_INPUT = 2,
    DAM_EXIT_RUNTIME = 3,
};

#ifdef __cplusplus /* the CUDA backend's C++ files include this header too */
extern "C" {
#define DAM_NORETURN [[noreturn]]
#else
#define DAM_NORETURN _Noreturn
#endif

/* Prints "dam: " + the formatted message + newline to stderr, flushes stdout, and exits with
 * `status`. Never returns. Callers pass a message naming what is wrong (file, key, value). */
DAM_NORETURN void dam_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "dam: warning: " + message to stderr and returns. */
void dam_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* snprintf into buf[size] that treats truncation as an input error (exit 2, "... too long"):
 * for paths and command lines built from user input. */
void dam_format(char *buf, unsigned long size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
