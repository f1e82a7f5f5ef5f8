/* io.c — small shared helpers of the subcommands: whole-file reads and thread counts. */
#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/commands.h"

char *read_text_file(const char *path, size_t *len) {
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = dam_malloc(cap, "text file");
    for (;;) {
        if (n + 1 >= cap) buf = dam_realloc(buf, cap *= 2, "text file");
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(fp) ? errno : 0; /* (a directory opens, then fails to read with EISDIR) */
    if (fp != stdin) fclose(fp);
    if (err) dam_die(DAM_EXIT_INPUT, "%s: cannot read: %s", path, strerror(err));
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

void set_threads(int n) {
    if (n <= 0) return;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}
