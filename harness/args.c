/* args.c — see args.h. */
#include "harness/args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

long arg_long(const char *flag, const char *value, long lo, long hi) {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != 0)
        dam_die(DAM_EXIT_INPUT, "%s: \"%s\" is not an integer", flag, value);
    if (v < lo || v > hi) dam_die(DAM_EXIT_INPUT, "%s: %ld is out of range [%ld, %ld]", flag, v, lo, hi);
    return v;
}

const char *arg_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) dam_die(DAM_EXIT_INPUT, "%s needs a value (see --help)", argv[*i]);
    return argv[++*i];
}

int arg_long_list(const char *flag, const char *value, long lo, long hi, long *out, int max) {
    int n = 0;
    const char *p = value;
    char buf[64];
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= sizeof buf) dam_die(DAM_EXIT_INPUT, "%s: malformed list \"%s\"", flag, value);
        if (n == max) dam_die(DAM_EXIT_INPUT, "%s: more than %d values", flag, max);
        memcpy(buf, p, len);
        buf[len] = 0;
        out[n++] = arg_long(flag, buf, lo, hi);
        p += len + (comma ? 1 : 0);
        if (comma && *p == 0) dam_die(DAM_EXIT_INPUT, "%s: malformed list \"%s\"", flag, value);
    }
    if (n == 0) dam_die(DAM_EXIT_INPUT, "%s: empty list", flag);
    return n;
}
