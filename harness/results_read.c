/* results_read.c — see results_read.h. */
#include "harness/results_read.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"
#include "core/mem.h"

void results_read_fail(results_reader *r, const char *obj, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->file >= 0) H5Fclose(r->file);
    dam_die(DAM_EXIT_INPUT, "%s: %s: %s", r->path, obj, msg);
}

char *results_read_attr_str(results_reader *r, hid_t obj, const char *objpath, const char *name) {
    char where[600];
    snprintf(where, sizeof where, "%s%sattribute %s", objpath, *objpath ? " " : "", name);
    if (H5Aexists(obj, name) <= 0) results_read_fail(r, where, "missing");
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = H5Aget_type(a), sp = H5Aget_space(a);
    if (H5Tget_class(t) != H5T_STRING || H5Sget_simple_extent_npoints(sp) != 1) results_read_fail(r, where, "not a string");
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mt, H5Tget_cset(t));
    char *out;
    if (H5Tis_variable_str(t) > 0) {
        H5Tset_size(mt, H5T_VARIABLE);
        char *v = NULL;
        if (H5Aread(a, mt, &v) < 0) results_read_fail(r, where, "cannot read");
        out = dam_strdup(v ? v : "", "HDF5 string");
        H5free_memory(v);
    } else {
        size_t sz = H5Tget_size(t);
        H5Tset_size(mt, sz);
        out = dam_calloc(sz + 1, 1, "HDF5 string");
        if (H5Aread(a, mt, out) < 0) results_read_fail(r, where, "cannot read");
    }
    H5Tclose(mt); H5Sclose(sp); H5Tclose(t); H5Aclose(a);
    return out;
}
