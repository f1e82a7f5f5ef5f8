/* json_file.c — see json_file.h. */
#include "core/json_file.h"

#include "core/error.h"

json_t *json_file_load(const char *path, size_t flags) {
    json_error_t err;
    json_t *doc = json_load_file(path, flags, &err);
    if (doc == NULL) {
        if (err.line <= 0) dam_die(DAM_EXIT_INPUT, "%s: cannot read: %s", path, err.text);
        dam_die(DAM_EXIT_INPUT, "%s:%d:%d: malformed JSON: %s", path, err.line, err.column, err.text);
    }
    return doc;
}
