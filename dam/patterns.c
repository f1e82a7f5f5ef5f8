/* patterns.c — see patterns.h. Order: the in-memory set, writing, reading. Every HDF5 call of the
 * DAM method is in this file. */
#include "dam/patterns.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/maskplan.h"

enum { FORMAT_VERSION = 1 };
static const char *FORMAT_NAME = "dam-patterns";
static const char *BIT_ORDER =
    "true_mask[i][j / 8] bit (j % 8), least significant bit first (numpy bitorder='little'), is m(i, j)";

/* ---- the in-memory set -------------------------------------------------------------------- */

static int32_t *copy_i32(const int32_t *vals, int n, const char *what);

void dam_params_default(dam_params *p) {
    p->L = 512;
    p->lambda = 0.5;
    p->eps = 1e-10;
    p->tau = 0.3;
    p->mu = 0.8;
    p->min_pattern_cells = 0;
}

const char *dam_params_check(const dam_params *p) {
    if (p->L < 1 || p->L > 65536) return "pcl must be in [1, 65536]";
    if (!(isfinite(p->lambda) && p->lambda >= -5 && p->lambda <= 5)) return "lambda must be finite and in [-5, 5]";
    if (!(p->eps > 0 && p->eps < 1)) return "epsilon must be in (0, 1)";
    if (!(isfinite(p->tau) && p->tau >= 0)) return "tau must be finite and >= 0";
    if (!(p->mu >= 0 && p->mu <= 1)) return "mu must be in [0, 1]";
    if (p->min_pattern_cells < 0 || p->min_pattern_cells > p->L) return "min_pattern_cells must be in [0, pcl]";
    return NULL;
}

dam_patterns *dam_patterns_new(int n_layers, int n_heads, const dam_params *par) {
    const char *bad = dam_params_check(par);
    if (bad) dam_die(DAM_EXIT_INPUT, "DAM parameters: %s", bad);
    if (n_layers < 1 || n_heads < 1 || n_layers > 4096 || n_heads > 4096)
        dam_die(DAM_EXIT_INPUT, "DAM pattern set: %d layers x %d heads is out of range", n_layers, n_heads);
    dam_patterns *p = dam_calloc(1, sizeof *p, "DAM pattern set");
    p->par = *par;
    p->n_layers = n_layers;
    p->n_heads = n_heads;
    p->heads = dam_calloc((size_t)n_layers * n_heads, sizeof(dam_head), "DAM heads");
    const size_t words = (size_t)par->L * maskplan_bitmap_words(par->L);
    for (int i = 0; i < n_layers * n_heads; i++) {
        p->heads[i].L = par->L;
        p->heads[i].mask = dam_calloc(words, sizeof(uint64_t), "DAM true mask");
        p->heads[i].diags = dam_malloc(sizeof(int32_t), "DAM diagonals"); /* never 0 bytes: a 0-byte block's */
        p->heads[i].cols = dam_malloc(sizeof(int32_t), "DAM columns");    /* pointer is one past its end */
    }
    p->model_name = dam_strdup("", "DAM provenance");
    p->corpus = dam_strdup("", "DAM provenance");
    p->prefix = dam_strdup("none", "DAM provenance");
    return p;
}

void dam_patterns_free(dam_patterns *p) {
    if (p == NULL) return;
    for (int i = 0; i < p->n_layers * p->n_heads; i++) {
        dam_free(p->heads[i].mask);
        dam_free(p->heads[i].diags);
        dam_free(p->heads[i].cols);
    }
    dam_free(p->heads);
    dam_free(p->abar);
    dam_free(p->model_name);
    dam_free(p->corpus);
    dam_free(p->prefix);
    dam_free(p);
}

dam_patterns *dam_patterns_copy(const dam_patterns *p, bool with_abar) {
    dam_patterns *c = dam_calloc(1, sizeof *c, "DAM pattern set");
    *c = *p;
    const size_t words = (size_t)p->par.L * maskplan_bitmap_words(p->par.L), n = (size_t)p->n_layers * p->n_heads;
    c->heads = dam_calloc(n, sizeof(dam_head), "DAM heads");
    for (size_t i = 0; i < n; i++) {
        const dam_head *h = &p->heads[i];
        dam_head *o = &c->heads[i];
        *o = *h;
        o->mask = dam_malloc(sizeof(uint64_t) * words, "DAM true mask");
        memcpy(o->mask, h->mask, sizeof(uint64_t) * words);
        o->diags = copy_i32(h->diags, h->n_diags, "DAM diagonals");
        o->cols = copy_i32(h->cols, h->n_cols, "DAM columns");
    }
    c->model_name = dam_strdup(p->model_name, "DAM provenance");
    c->corpus = dam_strdup(p->corpus, "DAM provenance");
    c->prefix = dam_strdup(p->prefix, "DAM provenance");
    c->abar = NULL;
    if (with_abar && p->abar) {
        const size_t na = n * ((size_t)p->par.L * (p->par.L + 1) / 2);
        c->abar = dam_malloc(sizeof(float) * na, "DAM mean attention");
        memcpy(c->abar, p->abar, sizeof(float) * na);
    }
    return c;
}

dam_head *dam_patterns_head(const dam_patterns *p, int layer, int q_head) {
    if (layer < 0 || layer >= p->n_layers || q_head < 0 || q_head >= p->n_heads)
        dam_die(DAM_EXIT_INPUT, "DAM patterns: layer %d head %d is outside %d layers x %d heads", layer, q_head,
                p->n_layers, p->n_heads);
    return &p->heads[(size_t)layer * p->n_heads + q_head];
}

static int32_t *copy_i32(const int32_t *vals, int n, const char *what) {
    int32_t *out = dam_malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1), what);
    if (n > 0) memcpy(out, vals, sizeof(int32_t) * (size_t)n);
    return out;
}

void dam_head_set_diags(dam_head *h, const int32_t *vals, int n) {
    int32_t *c = copy_i32(vals, n, "DAM diagonals");
    dam_free(h->diags);
    h->diags = c;
    h->n_diags = n;
}

void dam_head_set_cols(dam_head *h, const int32_t *vals, int n) {
    int32_t *c = copy_i32(vals, n, "DAM columns");
    dam_free(h->cols);
    h->cols = c;
    h->n_cols = n;
}

void dam_patterns_set_str(char **field, const char *value) {
    char *c = dam_strdup(value, "DAM provenance");
    dam_free(*field);
    *field = c;
}

bool dam_patterns_equal(const dam_patterns *a, const dam_patterns *b) {
    const dam_params *x = &a->par, *y = &b->par;
    if (x->L != y->L || x->lambda != y->lambda || x->eps != y->eps || x->tau != y->tau || x->mu != y->mu ||
        x->min_pattern_cells != y->min_pattern_cells)
        return false;
    if (a->n_layers != b->n_layers || a->n_heads != b->n_heads || a->corpus_tokens != b->corpus_tokens ||
        a->n_sequences != b->n_sequences || strcmp(a->model_name, b->model_name) != 0 ||
        strcmp(a->model_sha256, b->model_sha256) != 0 || strcmp(a->corpus, b->corpus) != 0 ||
        strcmp(a->corpus_sha256, b->corpus_sha256) != 0 || strcmp(a->prefix, b->prefix) != 0)
        return false;
    const size_t words = (size_t)a->par.L * maskplan_bitmap_words(a->par.L);
    const size_t n_abar = (size_t)a->n_layers * a->n_heads * ((size_t)a->par.L * (a->par.L + 1) / 2);
    if ((a->abar == NULL) != (b->abar == NULL) || (a->abar && memcmp(a->abar, b->abar, sizeof(float) * n_abar) != 0))
        return false;
    for (int i = 0; i < a->n_layers * a->n_heads; i++) {
        const dam_head *u = &a->heads[i], *v = &b->heads[i];
        if (u->L != v->L || u->n_diags != v->n_diags || u->n_cols != v->n_cols || u->density != v->density) return false;
        if (memcmp(u->mask, v->mask, sizeof(uint64_t) * words) != 0) return false;
        if (u->n_diags && memcmp(u->diags, v->diags, sizeof(int32_t) * u->n_diags) != 0) return false;
        if (u->n_cols && memcmp(u->cols, v->cols, sizeof(int32_t) * u->n_cols) != 0) return false;
    }
    return true;
}

/* Bytes per row of the file's true_mask dataset, and the byte b of row i of a packed mask. */
static int mask_row_bytes(int L) { return (L + 7) / 8; }
static uint8_t mask_byte(const uint64_t *row, int b) { return (uint8_t)(row[b / 8] >> (8 * (b % 8))); }

static void group_name(char *buf, size_t cap, int layer, int head) {
    if (head < 0) snprintf(buf, cap, "/layer_%02d", layer);
    else snprintf(buf, cap, "/layer_%02d/head_%d", layer, head);
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct {
    const char *path; /* the final path (for messages) */
    char tmp[PATH_MAX + 32];
    hid_t file;
} writer;

_Noreturn static void write_fail(writer *w, const char *item) {
    if (w->file >= 0) H5Fclose(w->file);
    unlink(w->tmp);
    dam_die(DAM_EXIT_RUNTIME, "%s: writing %s failed (HDF5 error; disk full?)", w->path, item);
}

#define WCHECK(expr, item)                       \
    do {                                         \
        if ((expr) < 0) write_fail(w, (item));   \
    } while (0)

static void put_attr(writer *w, hid_t loc, const char *name, hid_t file_type, hid_t mem_type, const void *val) {
    hid_t sp = H5Screate(H5S_SCALAR);
    WCHECK(sp, name);
    hid_t a = H5Acreate2(loc, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    WCHECK(a, name);
    WCHECK(H5Awrite(a, mem_type, val), name);
    H5Aclose(a);
    H5Sclose(sp);
}

static void put_i32(writer *w, hid_t loc, const char *name, int32_t v) {
    put_attr(w, loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, &v);
}
static void put_i64(writer *w, hid_t loc, const char *name, int64_t v) {
    put_attr(w, loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
static void put_f64(writer *w, hid_t loc, const char *name, double v) {
    put_attr(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}
/* Fixed-length, NUL-terminated UTF-8 string (fixed length keeps the file free of heap garbage). */
static void put_str(writer *w, hid_t loc, const char *name, const char *s) {
    hid_t t = H5Tcopy(H5T_C_S1);
    WCHECK(t, name);
    WCHECK(H5Tset_size(t, strlen(s) + 1), name);
    WCHECK(H5Tset_strpad(t, H5T_STR_NULLTERM), name);
    WCHECK(H5Tset_cset(t, H5T_CSET_UTF8), name);
    put_attr(w, loc, name, t, t, s);
    H5Tclose(t);
}

/* An int32 vector dataset (contiguous; may be empty). */
static void put_i32_dataset(writer *w, hid_t loc, const char *name, const int32_t *v, int n, hid_t dcpl) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    WCHECK(sp, name);
    hid_t d = H5Dcreate2(loc, name, H5T_STD_I32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    WCHECK(d, name);
    if (n > 0) WCHECK(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), name);
    H5Dclose(d);
    H5Sclose(sp);
}

void dam_patterns_write(const dam_patterns *p, const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported once, by us */
    for (int i = 0; i < p->n_layers * p->n_heads; i++)
        if (p->heads[i].L != p->par.L)
            dam_die(DAM_EXIT_RUNTIME, "%s: a set derived with per-head pcl cannot be written as a pattern file", path);
    writer wr = {path, {0}, -1}, *w = &wr;
    const int L = p->par.L, W = maskplan_bitmap_words(L), RB = mask_row_bytes(L);
    if (snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof w->tmp)
        dam_die(DAM_EXIT_INPUT, "%s: path too long", path);

    /* No object timestamps anywhere (file, groups, datasets), format versions pinned to the 1.8
     * range: identical sets give identical bytes, readable by any HDF5 >= 1.8. */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), vcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t mcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (fcpl < 0 || fapl < 0 || gcpl < 0 || vcpl < 0 || mcpl < 0) write_fail(w, "property lists");
    WCHECK(H5Pset_obj_track_times(fcpl, 0), "file properties");
    WCHECK(H5Pset_obj_track_times(gcpl, 0), "group properties");
    WCHECK(H5Pset_obj_track_times(vcpl, 0), "dataset properties");
    WCHECK(H5Pset_obj_track_times(mcpl, 0), "dataset properties");
    WCHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110), "file access properties");
    hsize_t chunk[2] = {(hsize_t)L, (hsize_t)RB};
    WCHECK(H5Pset_chunk(mcpl, 2, chunk), "dataset properties");
    WCHECK(H5Pset_deflate(mcpl, 6), "dataset properties");

    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    if (w->file < 0) dam_die(DAM_EXIT_INPUT, "%s: cannot create the temporary file %s", path, w->tmp);

    hid_t root = w->file;
    put_str(w, root, "format", FORMAT_NAME);
    put_i32(w, root, "format_version", FORMAT_VERSION);
    put_i32(w, root, "pcl", L);
    put_f64(w, root, "lambda", p->par.lambda);
    put_f64(w, root, "epsilon", p->par.eps);
    put_f64(w, root, "tau", p->par.tau);
    put_f64(w, root, "mu", p->par.mu);
    put_i32(w, root, "min_pattern_cells", p->par.min_pattern_cells);
    put_i32(w, root, "n_layers", p->n_layers);
    put_i32(w, root, "n_heads", p->n_heads);
    put_str(w, root, "model_name", p->model_name);
    put_str(w, root, "model_sha256", p->model_sha256);
    put_str(w, root, "corpus", p->corpus);
    put_str(w, root, "corpus_sha256", p->corpus_sha256);
    put_i64(w, root, "corpus_tokens", p->corpus_tokens);
    put_str(w, root, "prefix", p->prefix);
    put_i32(w, root, "n_sequences", p->n_sequences);
    put_str(w, root, "mask_bit_order", BIT_ORDER);

    uint8_t *bytes = dam_malloc((size_t)L * RB, "DAM mask bytes");
    hsize_t mdims[2] = {(hsize_t)L, (hsize_t)RB};
    char name[64];
    for (int l = 0; l < p->n_layers; l++) {
        group_name(name, sizeof name, l, -1);
        hid_t lg = H5Gcreate2(w->file, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
        WCHECK(lg, name);
        for (int h = 0; h < p->n_heads; h++) {
            const dam_head *hd = &p->heads[(size_t)l * p->n_heads + h];
            group_name(name, sizeof name, l, h);
            hid_t g = H5Gcreate2(w->file, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            WCHECK(g, name);
            for (int i = 0; i < L; i++)
                for (int b = 0; b < RB; b++) bytes[(size_t)i * RB + b] = mask_byte(hd->mask + (size_t)i * W, b);
            hid_t sp = H5Screate_simple(2, mdims, NULL);
            WCHECK(sp, name);
            hid_t d = H5Dcreate2(g, "true_mask", H5T_STD_U8LE, sp, H5P_DEFAULT, mcpl, H5P_DEFAULT);
            WCHECK(d, name);
            WCHECK(H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes), name);
            H5Dclose(d);
            H5Sclose(sp);
            put_i32_dataset(w, g, "diagonals", hd->diags, hd->n_diags, vcpl);
            put_i32_dataset(w, g, "columns", hd->cols, hd->n_cols, vcpl);
            put_f64(w, g, "density", hd->density);
            put_i32(w, g, "n_diagonals", hd->n_diags);
            put_i32(w, g, "n_columns", hd->n_cols);
            H5Gclose(g);
        }
        H5Gclose(lg);
    }
    dam_free(bytes);
    if (p->abar) { /* Ā, one chunk per map, shuffled and deflated */
        const hsize_t tri = (hsize_t)L * (L + 1) / 2, adims[2] = {(hsize_t)p->n_layers * p->n_heads, tri};
        const hsize_t achunk[2] = {1, tri};
        hid_t acpl = H5Pcreate(H5P_DATASET_CREATE);
        WCHECK(acpl, "mean_attention");
        WCHECK(H5Pset_obj_track_times(acpl, 0), "mean_attention");
        WCHECK(H5Pset_chunk(acpl, 2, achunk), "mean_attention");
        WCHECK(H5Pset_shuffle(acpl), "mean_attention");
        WCHECK(H5Pset_deflate(acpl, 4), "mean_attention");
        hid_t sp = H5Screate_simple(2, adims, NULL);
        WCHECK(sp, "mean_attention");
        hid_t d = H5Dcreate2(w->file, "mean_attention", H5T_IEEE_F32LE, sp, H5P_DEFAULT, acpl, H5P_DEFAULT);
        WCHECK(d, "mean_attention");
        WCHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, p->abar), "mean_attention");
        H5Dclose(d);
        H5Sclose(sp);
        H5Pclose(acpl);
    }
    H5Pclose(fcpl); H5Pclose(fapl); H5Pclose(gcpl); H5Pclose(vcpl); H5Pclose(mcpl);
    if (H5Fclose(w->file) < 0) {
        w->file = -1;
        write_fail(w, "the file (close)");
    }
    w->file = -1;

    /* Durable before visible: fsync the data, then rename over the old file. */
    int fd = open(w->tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        if (fd >= 0) close(fd);
        write_fail(w, "the file (fsync)");
    }
    close(fd);
    if (rename(w->tmp, path) != 0) {
        int e = errno;
        unlink(w->tmp);
        dam_die(DAM_EXIT_RUNTIME, "%s: cannot rename %s into place: %s", path, w->tmp, strerror(e));
    }
}

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    hid_t file;
} reader;

#define RFAIL(r, ...) dam_die(DAM_EXIT_INPUT, __VA_ARGS__)

/* Opens attribute `name` of the object at `obj` (an HDF5 path, for messages), checks it holds one
 * value of class `cls`. */
static hid_t get_attr(reader *r, hid_t loc, const char *obj, const char *name, H5T_class_t cls) {
    htri_t ex = H5Aexists(loc, name);
    if (ex <= 0) RFAIL(r, "%s: %s attribute %s: missing", r->path, obj, name);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) RFAIL(r, "%s: %s attribute %s: cannot be read", r->path, obj, name);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    hssize_t npts = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    H5Sclose(sp);
    H5Tclose(t);
    const char *want = cls == H5T_INTEGER ? "an integer" : cls == H5T_FLOAT ? "a float" : "a string";
    if (c != cls || npts != 1) RFAIL(r, "%s: %s attribute %s: must be %s scalar", r->path, obj, name, want);
    return a;
}

static int64_t get_int(reader *r, hid_t loc, const char *obj, const char *name, int64_t lo, int64_t hi) {
    hid_t a = get_attr(r, loc, obj, name, H5T_INTEGER);
    int64_t v = 0;
    if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) RFAIL(r, "%s: %s attribute %s: cannot be read", r->path, obj, name);
    H5Aclose(a);
    if (v < lo || v > hi)
        RFAIL(r, "%s: %s attribute %s = %lld is out of range [%lld, %lld]", r->path, obj, name, (long long)v,
              (long long)lo, (long long)hi);
    return v;
}

static double get_f64(reader *r, hid_t loc, const char *obj, const char *name) {
    hid_t a = get_attr(r, loc, obj, name, H5T_FLOAT);
    double v = 0;
    if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) RFAIL(r, "%s: %s attribute %s: cannot be read", r->path, obj, name);
    H5Aclose(a);
    return v;
}

/* A string attribute (fixed or variable length) as a dam_malloc'd string. */
static char *get_str(reader *r, hid_t loc, const char *obj, const char *name) {
    hid_t a = get_attr(r, loc, obj, name, H5T_STRING);
    hid_t t = H5Aget_type(a);
    char *out = NULL;
    const H5T_cset_t cset = H5Tget_cset(t); /* HDF5 does not convert between ASCII and UTF-8 */
    if (H5Tis_variable_str(t) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, cset);
        char *s = NULL;
        if (H5Aread(a, mt, &s) < 0 || s == NULL) RFAIL(r, "%s: %s attribute %s: cannot be read", r->path, obj, name);
        out = dam_strdup(s, "DAM provenance");
        H5free_memory(s);
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(t);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        H5Tset_cset(mt, cset);
        out = dam_calloc(n + 2, 1, "DAM provenance");
        if (H5Aread(a, mt, out) < 0) RFAIL(r, "%s: %s attribute %s: cannot be read", r->path, obj, name);
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Aclose(a);
    return out;
}

static void get_sha(reader *r, const char *name, char out[65]) {
    char *s = get_str(r, r->file, "/", name);
    bool ok = strlen(s) == 64;
    for (int i = 0; ok && i < 64; i++) ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok) RFAIL(r, "%s: / attribute %s = \"%.80s\" is not a sha256 (64 lowercase hex digits)", r->path, name, s);
    memcpy(out, s, 65);
    dam_free(s);
}

/* Opens dataset `name` in group g (at HDF5 path gpath), checks its class and rank, and returns its
 * dimensions in dims[rank]. */
static hid_t get_dataset(reader *r, hid_t g, const char *gpath, const char *name, H5T_class_t cls, size_t elem,
                         int rank, hsize_t *dims) {
    htri_t ex = H5Lexists(g, name, H5P_DEFAULT);
    if (ex <= 0) RFAIL(r, "%s: %s/%s: missing", r->path, gpath, name);
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) RFAIL(r, "%s: %s/%s: not a dataset", r->path, gpath, name);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    bool ok = t >= 0 && H5Tget_class(t) == cls && H5Tget_size(t) == elem && sp >= 0 &&
              H5Sget_simple_extent_ndims(sp) == rank;
    if (ok) H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Tclose(t);
    H5Sclose(sp);
    if (!ok)
        RFAIL(r, "%s: %s/%s: must be a %d-dimensional %s dataset", r->path, gpath, name, rank,
              cls == H5T_INTEGER && elem == 1 ? "uint8" : "int32");
    return d;
}

/* Reads a sorted, unique pattern list in [0, L) and checks it against the count attribute. */
static int32_t *get_patterns(reader *r, hid_t g, const char *gpath, const char *name, const char *count_attr, int L,
                             int32_t *n_out) {
    hsize_t dims[1];
    hid_t d = get_dataset(r, g, gpath, name, H5T_INTEGER, 4, 1, dims);
    if (dims[0] > (hsize_t)L) RFAIL(r, "%s: %s/%s: %llu entries, more than pcl = %d", r->path, gpath, name, (unsigned long long)dims[0], L);
    int n = (int)dims[0];
    int32_t *v = dam_malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1), "DAM patterns");
    if (n > 0 && H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        RFAIL(r, "%s: %s/%s: cannot be read", r->path, gpath, name);
    H5Dclose(d);
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= L) RFAIL(r, "%s: %s/%s: value %d is outside [0, %d)", r->path, gpath, name, v[i], L);
        if (i > 0 && v[i] <= v[i - 1]) RFAIL(r, "%s: %s/%s: values are not sorted and unique", r->path, gpath, name);
    }
    int64_t cnt = get_int(r, g, gpath, count_attr, 0, L);
    if (cnt != n) RFAIL(r, "%s: %s attribute %s = %lld but %s has %d entries", r->path, gpath, count_attr, (long long)cnt, name, n);
    *n_out = n;
    return v;
}

static void read_head(reader *r, int l, int h, dam_head *hd, int L) {
    char lpath[32], gpath[48];
    group_name(lpath, sizeof lpath, l, -1);
    group_name(gpath, sizeof gpath, l, h);
    if (H5Lexists(r->file, lpath, H5P_DEFAULT) <= 0) RFAIL(r, "%s: group %s: missing", r->path, lpath);
    if (H5Lexists(r->file, gpath, H5P_DEFAULT) <= 0) RFAIL(r, "%s: group %s: missing", r->path, gpath);
    hid_t g = H5Gopen2(r->file, gpath, H5P_DEFAULT);
    if (g < 0) RFAIL(r, "%s: %s: not a group", r->path, gpath);

    const int W = maskplan_bitmap_words(L), RB = mask_row_bytes(L);
    hsize_t dims[2];
    hid_t d = get_dataset(r, g, gpath, "true_mask", H5T_INTEGER, 1, 2, dims);
    if (dims[0] != (hsize_t)L || dims[1] != (hsize_t)RB)
        RFAIL(r, "%s: %s/true_mask has shape [%llu][%llu], expected [%d][%d] for pcl = %d", r->path, gpath,
              (unsigned long long)dims[0], (unsigned long long)dims[1], L, RB, L);
    uint8_t *bytes = dam_malloc((size_t)L * RB, "DAM mask bytes");
    if (H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes) < 0)
        RFAIL(r, "%s: %s/true_mask: cannot be read", r->path, gpath);
    H5Dclose(d);
    int64_t set = 0;
    memset(hd->mask, 0, sizeof(uint64_t) * (size_t)L * W);
    for (int i = 0; i < L; i++)
        for (int b = 0; b < RB; b++) {
            uint8_t v = bytes[(size_t)i * RB + b];
            for (int t = 0; t < 8; t++) {
                if (!((v >> t) & 1)) continue;
                int j = b * 8 + t;
                if (j > i) RFAIL(r, "%s: %s/true_mask: bit (%d, %d) is set above the diagonal (non-causal)", r->path, gpath, i, j);
                hd->mask[(size_t)i * W + j / 64] |= 1ull << (j % 64);
                set++;
            }
        }
    dam_free(bytes);
    double dens = get_f64(r, g, gpath, "density");
    hd->density = (double)set / ((double)L * (L + 1) / 2.0);
    if (!(fabs(dens - hd->density) <= 1e-12))
        RFAIL(r, "%s: %s attribute density = %.17g disagrees with true_mask (%.17g)", r->path, gpath, dens, hd->density);
    int32_t n;
    int32_t *v = get_patterns(r, g, gpath, "diagonals", "n_diagonals", L, &n);
    dam_free(hd->diags);
    hd->diags = v;
    hd->n_diags = n;
    v = get_patterns(r, g, gpath, "columns", "n_columns", L, &n);
    dam_free(hd->cols);
    hd->cols = v;
    hd->n_cols = n;
    H5Gclose(g);
}

bool dam_patterns_is_pattern_file(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0 || H5Fis_hdf5(path) <= 0) return false;
    reader rd = {path, H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)};
    if (rd.file < 0) return false;
    bool is = false;
    if (H5Aexists(rd.file, "format") > 0) {
        char *fmt = get_str(&rd, rd.file, "/", "format");
        is = strcmp(fmt, FORMAT_NAME) == 0;
        dam_free(fmt);
    }
    H5Fclose(rd.file);
    return is;
}

dam_patterns *dam_patterns_read(const char *path, const dam_expect *e) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    reader rd = {path, -1}, *r = &rd;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open pattern file: %s", path, strerror(errno));
    fclose(fp);
    if (H5Fis_hdf5(path) <= 0) dam_die(DAM_EXIT_INPUT, "%s: not an HDF5 file (truncated or corrupted pattern file?)", path);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0) dam_die(DAM_EXIT_INPUT, "%s: cannot open as HDF5 (corrupted pattern file?)", path);

    if (H5Aexists(r->file, "format") <= 0) /* e.g. a results file given as the patterns */
        RFAIL(r, "%s: not a DAM pattern file (no / attribute format; `dam calibrate` writes pattern files)", path);
    char *fmt = get_str(r, r->file, "/", "format");
    if (strcmp(fmt, FORMAT_NAME) != 0)
        RFAIL(r, "%s: / attribute format = \"%.80s\", expected \"%s\" (not a DAM pattern file)", path, fmt, FORMAT_NAME);
    dam_free(fmt);
    int64_t ver = get_int(r, r->file, "/", "format_version", 0, INT32_MAX);
    if (ver != FORMAT_VERSION)
        RFAIL(r, "%s: / attribute format_version = %lld is not supported (this build reads %d)", path, (long long)ver,
              FORMAT_VERSION);

    dam_params par;
    par.L = (int)get_int(r, r->file, "/", "pcl", 1, 65536);
    par.lambda = get_f64(r, r->file, "/", "lambda");
    par.eps = get_f64(r, r->file, "/", "epsilon");
    par.tau = get_f64(r, r->file, "/", "tau");
    par.mu = get_f64(r, r->file, "/", "mu");
    par.min_pattern_cells = (int)get_int(r, r->file, "/", "min_pattern_cells", 0, 65536);
    const char *bad = dam_params_check(&par);
    if (bad) RFAIL(r, "%s: / attributes: %s", path, bad);
    int n_layers = (int)get_int(r, r->file, "/", "n_layers", 1, 4096);
    int n_heads = (int)get_int(r, r->file, "/", "n_heads", 1, 4096);
    if (e && e->L > 0 && par.L != e->L) RFAIL(r, "%s: / attribute pcl = %d, expected %d", path, par.L, e->L);
    if (e && e->n_layers > 0 && n_layers != e->n_layers)
        RFAIL(r, "%s: / attribute n_layers = %d but the model has %d layers", path, n_layers, e->n_layers);
    if (e && e->n_heads > 0 && n_heads != e->n_heads)
        RFAIL(r, "%s: / attribute n_heads = %d but the model has %d query heads", path, n_heads, e->n_heads);

    dam_patterns *p = dam_patterns_new(n_layers, n_heads, &par);
    dam_free(p->model_name);
    p->model_name = get_str(r, r->file, "/", "model_name");
    get_sha(r, "model_sha256", p->model_sha256);
    if (e && e->model_sha256 && strcmp(e->model_sha256, p->model_sha256) != 0)
        RFAIL(r, "%s: / attribute model_sha256 = %.12s... does not match the model in use (%.12s...): recalibrate "
              "with dam calibrate", path, p->model_sha256, e->model_sha256);
    dam_free(p->corpus);
    p->corpus = get_str(r, r->file, "/", "corpus");
    get_sha(r, "corpus_sha256", p->corpus_sha256);
    p->corpus_tokens = get_int(r, r->file, "/", "corpus_tokens", 0, INT64_MAX);
    dam_free(p->prefix);
    p->prefix = get_str(r, r->file, "/", "prefix");
    if (strcmp(p->prefix, "none") != 0 && strcmp(p->prefix, "chat") != 0)
        RFAIL(r, "%s: / attribute prefix = \"%.80s\" (expected \"none\" or \"chat\")", path, p->prefix);
    p->n_sequences = (int)get_int(r, r->file, "/", "n_sequences", 0, INT32_MAX);

    for (int l = 0; l < n_layers; l++)
        for (int h = 0; h < n_heads; h++) read_head(r, l, h, &p->heads[(size_t)l * n_heads + h], par.L);
    if (H5Lexists(r->file, "mean_attention", H5P_DEFAULT) > 0) {
        hsize_t dims[2];
        hid_t d = get_dataset(r, r->file, "/", "mean_attention", H5T_FLOAT, 4, 2, dims);
        const hsize_t tri = (hsize_t)par.L * (par.L + 1) / 2;
        if (dims[0] != (hsize_t)n_layers * n_heads || dims[1] != tri)
            RFAIL(r, "%s: /mean_attention has shape [%llu][%llu], expected [%d][%llu]", path, (unsigned long long)dims[0],
                  (unsigned long long)dims[1], n_layers * n_heads, (unsigned long long)tri);
        p->abar = dam_malloc(sizeof(float) * dims[0] * dims[1], "DAM mean attention");
        if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, p->abar) < 0)
            RFAIL(r, "%s: /mean_attention: cannot be read", path);
        for (hsize_t i = 0; i < dims[0] * dims[1]; i++)
            if (!(p->abar[i] >= 0 && p->abar[i] <= 1.000001f)) RFAIL(r, "%s: /mean_attention: value %g is not a probability", path, p->abar[i]);
        H5Dclose(d);
    }
    H5Fclose(r->file);
    return p;
}
