/* jsonl_gz.c — see jsonl_gz.h. The whole (decompressed) file is read into memory and split at
 * newlines: the LongEval files are at most a few MB and a line can be ~80 KB long. */
#include "datasets/jsonl_gz.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "core/mem.h"

/* The decompressed bytes of `path` (NUL-terminated, dam_malloc'd), length in *len. */
static char *read_gz(const char *path, size_t *len) {
    gzFile f = gzopen(path, "rb");
    if (f == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    size_t cap = 1 << 20, n = 0;
    char *buf = dam_malloc(cap, "jsonl text");
    for (;;) {
        if (cap - n < (1 << 16) + 1) buf = dam_realloc(buf, cap *= 2, "jsonl text");
        int got = gzread(f, buf + n, 1 << 16);
        if (got < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            dam_die(DAM_EXIT_INPUT, "%s: cannot decompress: %s", path, code == Z_ERRNO ? strerror(errno) : msg);
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

json_t **jsonl_read(const char *path, int max_records, int *n) { return jsonl_read_lines(path, max_records, n, NULL); }

json_t **jsonl_read_lines(const char *path, int max_records, int *n, int **line_nos) {
    size_t len;
    char *text = read_gz(path, &len);
    json_t **recs = NULL;
    int count = 0, line_no = 0, *lines = NULL;
    for (char *p = text; p < text + len && (max_records <= 0 || count < max_records);) {
        char *end = memchr(p, '\n', (size_t)(text + len - p));
        if (end == NULL) end = text + len;
        line_no++;
        size_t ll = (size_t)(end - p);
        int blank = 1;
        for (size_t i = 0; i < ll && blank; i++) blank = p[i] == ' ' || p[i] == '\t' || p[i] == '\r';
        if (!blank) {
            json_error_t err;
            json_t *v = json_loadb(p, ll, 0, &err);
            if (v == NULL) dam_die(DAM_EXIT_INPUT, "%s:%d: malformed JSON line (%s)", path, line_no, err.text);
            if (!json_is_object(v)) dam_die(DAM_EXIT_INPUT, "%s:%d: the line is not a JSON object", path, line_no);
            recs = dam_realloc(recs, sizeof(json_t *) * (size_t)(count + 1), "jsonl records");
            if (line_nos) {
                lines = dam_realloc(lines, sizeof(int) * (size_t)(count + 1), "jsonl line numbers");
                lines[count] = line_no;
            }
            recs[count++] = v;
        }
        p = end + 1;
    }
    dam_free(text);
    *n = count;
    if (line_nos) *line_nos = lines;
    return recs;
}

void jsonl_free(json_t **recs, int n) {
    for (int i = 0; i < n; i++) json_decref(recs[i]);
    dam_free(recs);
}
