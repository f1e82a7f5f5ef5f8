/* args.h — command-line helpers shared by the `dam` subcommands. Every malformed value is a
 * usage error (exit 2) whose message names the flag and the value. */
#ifndef DAM_HARNESS_ARGS_H
#define DAM_HARNESS_ARGS_H

#include <stdbool.h>

/* Parses a decimal integer for flag `flag` and checks lo <= value <= hi. */
long arg_long(const char *flag, const char *value, long lo, long hi);

/* Returns argv[*i + 1] (advancing *i) or exits "flag needs a value". */
const char *arg_value(int argc, char **argv, int *i);

/* Parses a comma-separated list of integers in [lo, hi] into out[0..max); returns the count. */
int arg_long_list(const char *flag, const char *value, long lo, long hi, long *out, int max);

#endif
