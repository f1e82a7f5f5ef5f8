/* results_patterns.c — see results_patterns.h; layout in docs/hdf5.md ("/patterns"). The true masks
 * are stored bit-packed in the pattern file's order (dam/patterns.h: byte j / 8 of row i, bit j % 8,
 * least significant first), one [PCL][ceil(PCL / 8)] plane per (layer, head), a head whose own PCL
 * L_h is smaller filling the top-left L_h x L_h corner (the rest 0). */
#include "harness/results_patterns.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/results_read.h"
#include "kernels/maskplan.h"

static const char *BIT_ORDER =
    "true_mask[l][h][i][j / 8] bit (j % 8), least significant bit first (numpy bitorder='little'), is m(i, j)";

void pattern_record_free(pattern_record *p) {
    dam_free(p->method);
    dam_free(p->source);
    dam_patterns_free(p->set);
    dam_free(p->lambda);
    dam_free(p->tau);
    dam_free(p->mu);
    dam_free(p->min_cells);
    memset(p, 0, sizeof *p);
}

bool pattern_record_same(const pattern_record *a, const pattern_record *b) {
    const dam_patterns *x = a->set, *y = b->set;
    if (strcmp(a->source_sha256, b->source_sha256) != 0 || x->n_layers != y->n_layers || x->n_heads != y->n_heads ||
        x->par.L != y->par.L || x->par.eps != y->par.eps)
        return false;
    const int n = x->n_layers * x->n_heads;
    for (int i = 0; i < n; i++) {
        const dam_head *u = &x->heads[i], *v = &y->heads[i];
        if (a->lambda[i] != b->lambda[i] || a->tau[i] != b->tau[i] || a->mu[i] != b->mu[i] ||
            a->min_cells[i] != b->min_cells[i] || u->L != v->L || u->n_diags != v->n_diags || u->n_cols != v->n_cols)
            return false;
        if (memcmp(u->mask, v->mask, sizeof(uint64_t) * (size_t)u->L * maskplan_bitmap_words(u->L)) != 0) return false;
        if (u->n_diags && memcmp(u->diags, v->diags, sizeof(int32_t) * (size_t)u->n_diags) != 0) return false;
        if (u->n_cols && memcmp(u->cols, v->cols, sizeof(int32_t) * (size_t)u->n_cols) != 0) return false;
    }
    return true;
}

/* ---- writer -------------------------------------------------------------------------------- */

#define TRY(expr)                      \
    do {                               \
        if ((expr) < 0) return -1;     \
    } while (0)

/* A scalar (rank 0) or 1-D (rank 1, n values) attribute. */
static int attr(hid_t obj, const char *name, hid_t mem, hid_t ftype, int rank, hsize_t n, const void *v) {
    hid_t sp = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    TRY(sp);
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    TRY(a);
    TRY(H5Awrite(a, mem, v));
    H5Aclose(a);
    H5Sclose(sp);
    return 0;
}

static int attr_str(hid_t obj, hid_t str, const char *name, const char *value) {
    char *v = results_utf8_dup(value, "HDF5 string");
    int rc = attr(obj, name, str, str, 0, 1, &v);
    dam_free(v);
    return rc;
}

/* A dataset of `rank` dims, chunked by `chunk` (NULL: the whole extent) and deflated (level 4)
 * when not empty; attributes units (if any), description and axes (a comma-separated list). */
static int dataset(hid_t g, hid_t str, const char *name, hid_t mem, hid_t ftype, int rank, const hsize_t *dims,
                   const hsize_t *chunk, const void *data, const char *units, const char *description, const char *axes) {
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    TRY(sp);
    TRY(dcpl);
    TRY(H5Pset_obj_track_times(dcpl, 0));
    if (total > 0) {
        TRY(H5Pset_chunk(dcpl, rank, chunk ? chunk : dims));
        if (H5Tget_size(ftype) > 1) TRY(H5Pset_shuffle(dcpl));
        TRY(H5Pset_deflate(dcpl, 4));
    }
    hid_t ds = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    TRY(ds);
    if (total > 0) TRY(H5Dwrite(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    if (units) TRY(attr_str(ds, str, "units", units));
    TRY(attr_str(ds, str, "description", description));
    TRY(attr_str(ds, str, "axes", axes));
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return 0;
}

/* One record as group `name` of g. */
static int write_record(hid_t g, hid_t str, const pattern_record *p, char *obj, size_t obj_size) {
    const dam_patterns *s = p->set;
    const int L = s->n_layers, H = s->n_heads, n = L * H, P = s->par.L, RB = (P + 7) / 8;
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    TRY(gcpl);
    TRY(H5Pset_obj_track_times(gcpl, 0));
    hid_t gm = H5Gcreate2(g, p->method, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    TRY(gm);
    const int64_t tokens = s->corpus_tokens;
    TRY(attr_str(gm, str, "source_file", p->source));
    TRY(attr_str(gm, str, "source_sha256", p->source_sha256));
    TRY(attr(gm, "pcl", H5T_NATIVE_INT, H5T_STD_I32LE, 0, 1, &P));
    TRY(attr(gm, "epsilon", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 0, 1, &s->par.eps));
    TRY(attr_str(gm, str, "model_name", s->model_name));
    TRY(attr_str(gm, str, "model_sha256", s->model_sha256));
    TRY(attr_str(gm, str, "corpus", s->corpus));
    TRY(attr_str(gm, str, "corpus_sha256", s->corpus_sha256));
    TRY(attr(gm, "corpus_tokens", H5T_NATIVE_INT64, H5T_STD_I64LE, 0, 1, &tokens));
    TRY(attr_str(gm, str, "prefix", s->prefix));
    TRY(attr(gm, "n_sequences", H5T_NATIVE_INT, H5T_STD_I32LE, 0, 1, &s->n_sequences));
    TRY(attr_str(gm, str, "mask_bit_order", BIT_ORDER));

    int *pcl = dam_malloc(sizeof(int) * (size_t)n, "patterns"), *nd = dam_malloc(sizeof(int) * (size_t)n, "patterns");
    int *nc = dam_malloc(sizeof(int) * (size_t)n, "patterns");
    double *dens = dam_malloc(sizeof(double) * (size_t)n, "patterns");
    size_t td = 0, tc = 0;
    for (int i = 0; i < n; i++) {
        pcl[i] = s->heads[i].L, nd[i] = s->heads[i].n_diags, nc[i] = s->heads[i].n_cols, dens[i] = s->heads[i].density;
        td += (size_t)nd[i], tc += (size_t)nc[i];
    }
    int32_t *diags = dam_malloc(sizeof(int32_t) * (td + 1), "patterns"), *cols = dam_malloc(sizeof(int32_t) * (tc + 1), "patterns");
    td = tc = 0;
    for (int i = 0; i < n; i++) {
        if (nd[i]) memcpy(diags + td, s->heads[i].diags, sizeof(int32_t) * (size_t)nd[i]);
        if (nc[i]) memcpy(cols + tc, s->heads[i].cols, sizeof(int32_t) * (size_t)nc[i]);
        td += (size_t)nd[i], tc += (size_t)nc[i];
    }
    const size_t plane = (size_t)P * RB;
    uint8_t *bytes = dam_calloc((size_t)n * plane, 1, "patterns true masks");
    for (int i = 0; i < n; i++) {
        const dam_head *hd = &s->heads[i];
        const int W = maskplan_bitmap_words(hd->L);
        for (int r = 0; r < hd->L; r++)
            for (int b = 0; b < (hd->L + 7) / 8; b++)
                bytes[(size_t)i * plane + (size_t)r * RB + b] = (uint8_t)(hd->mask[(size_t)r * W + b / 8] >> (8 * (b % 8)));
    }
    const hsize_t lh[2] = {(hsize_t)L, (hsize_t)H}, dd[1] = {td}, dc[1] = {tc};
    const hsize_t md[4] = {(hsize_t)L, (hsize_t)H, (hsize_t)P, (hsize_t)RB}, mc[4] = {1, 1, (hsize_t)P, (hsize_t)RB};
    char gpath[512]; /* obj holds the group's path on entry */
    snprintf(gpath, sizeof gpath, "%s", obj);
    int rc = 0;
#define DS(nm, mem, ft, rank, dims, chunk, data, units, desc, axes)                                   \
    if (rc == 0) {                                                                                     \
        snprintf(obj, obj_size, "%s/%s", gpath, nm);                                                   \
        rc = dataset(gm, str, nm, mem, ft, rank, dims, chunk, data, units, desc, axes);                \
    }
    DS("pcl", H5T_NATIVE_INT, H5T_STD_I32LE, 2, lh, NULL, pcl, "tokens",
       "each head's pattern capture length L_h: its true mask is the top-left L_h x L_h of true_mask", "layer, head")
    DS("lambda", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, lh, NULL, p->lambda, NULL, "Box-Cox lambda the masks were derived with",
       "layer, head")
    DS("tau", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, lh, NULL, p->tau, NULL, "true-mask threshold tau", "layer, head")
    DS("mu", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, lh, NULL, p->mu, NULL, "pattern match threshold mu", "layer, head")
    DS("min_pattern_cells", H5T_NATIVE_INT, H5T_STD_I32LE, 2, lh, NULL, p->min_cells, NULL,
       "matched patterns with fewer cells were dropped", "layer, head")
    DS("density", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, lh, NULL, dens, "fraction",
       "set bits of the true mask / (L_h (L_h + 1) / 2)", "layer, head")
    DS("n_diagonals", H5T_NATIVE_INT, H5T_STD_I32LE, 2, lh, NULL, nd, NULL, "matched diagonals |R| per head", "layer, head")
    DS("n_columns", H5T_NATIVE_INT, H5T_STD_I32LE, 2, lh, NULL, nc, NULL, "matched columns |C| per head", "layer, head")
    DS("diagonals", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, dd, NULL, diags, "tokens",
       "matched diagonal offsets r of every head, sorted per head, heads in (layer, head) order; head (l, h) "
       "starts at the sum of n_diagonals before it", "entry")
    DS("columns", H5T_NATIVE_INT32, H5T_STD_I32LE, 1, dc, NULL, cols, "tokens",
       "matched key columns c of every head, sorted per head, heads in (layer, head) order; head (l, h) starts at "
       "the sum of n_columns before it", "entry")
    DS("true_mask", H5T_NATIVE_UINT8, H5T_STD_U8LE, 4, md, mc, bytes, NULL,
       "the calibrated (or re-derived) true mask of each head, bit-packed per query row (mask_bit_order)",
       "layer, head, query, key byte")
#undef DS
    dam_free(pcl); dam_free(nd); dam_free(nc); dam_free(dens); dam_free(diags); dam_free(cols); dam_free(bytes);
    if (rc < 0) return -1;
    H5Gclose(gm);
    return 0;
}

int results_patterns_write(hid_t file, hid_t str, const run_data *d, char *obj, size_t obj_size) {
    snprintf(obj, obj_size, "/patterns");
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    TRY(gcpl);
    TRY(H5Pset_obj_track_times(gcpl, 0));
    hid_t g = H5Gcreate2(file, "patterns", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    TRY(g);
    /* run order: the order of d->methods */
    const pattern_record **order = dam_malloc(sizeof(pattern_record *) * (size_t)(d->n_patterns + 1), "patterns");
    const char **names = dam_malloc(sizeof(char *) * (size_t)(d->n_patterns + 1), "patterns");
    int n = 0;
    for (int m = 0; m < d->n_methods; m++) {
        const pattern_record *p = run_data_find_patterns(d, d->methods[m].name);
        if (p) order[n] = p, names[n++] = p->method;
    }
    int rc = attr(g, "methods", str, str, 1, (hsize_t)n, names);
    for (int i = 0; i < n && rc == 0; i++) {
        int same = -1;
        for (int k = 0; k < i && same < 0; k++)
            if (pattern_record_same(order[k], order[i])) same = k;
        snprintf(obj, obj_size, "/patterns/%s", order[i]->method);
        if (same >= 0) rc = H5Lcreate_hard(g, order[same]->method, g, order[i]->method, H5P_DEFAULT, H5P_DEFAULT) < 0 ? -1 : 0;
        else rc = write_record(g, str, order[i], obj, obj_size);
    }
    dam_free(order);
    dam_free(names);
    if (rc < 0) return -1;
    H5Gclose(g);
    return 0;
}

/* ---- reader -------------------------------------------------------------------------------- */

/* A scalar numeric attribute as a double (integers exactly up to 2^53). */
static double rnum(results_reader *r, hid_t obj, const char *opath, const char *name, double lo, double hi) {
    char where[600];
    snprintf(where, sizeof where, "%s attribute %s", opath, name);
    if (H5Aexists(obj, name) <= 0) results_read_fail(r, where, "missing");
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t c = H5Tget_class(t);
    double v = NAN;
    if ((c != H5T_INTEGER && c != H5T_FLOAT) || H5Sget_simple_extent_npoints(sp) != 1 ||
        H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0)
        results_read_fail(r, where, "is not a number");
    H5Sclose(sp); H5Tclose(t); H5Aclose(a);
    if (!(v >= lo && v <= hi)) results_read_fail(r, where, "%g is out of range [%g, %g]", v, lo, hi);
    return v;
}

/* Reads dataset `name` of g (numeric, rank `rank`, extent dims) converted to `mem` into a new buffer
 * of elem-byte values. */
static void *rdata(results_reader *r, hid_t g, const char *gpath, const char *name, hid_t mem, size_t elem, int rank,
                   const hsize_t *dims) {
    char where[700];
    snprintf(where, sizeof where, "%s/%s", gpath, name);
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) results_read_fail(r, where, "missing");
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) results_read_fail(r, where, "is not a dataset");
    hid_t sp = H5Dget_space(ds), t = H5Dget_type(ds);
    H5T_class_t c = H5Tget_class(t);
    hsize_t got[8];
    int rk = H5Sget_simple_extent_ndims(sp);
    if (rk != rank) results_read_fail(r, where, "has %d dimensions, want %d", rk, rank);
    H5Sget_simple_extent_dims(sp, got, NULL);
    size_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (got[i] != dims[i]) results_read_fail(r, where, "axis %d has %llu entries, want %llu", i, (unsigned long long)got[i], (unsigned long long)dims[i]);
        total *= (size_t)dims[i];
    }
    if (c != H5T_INTEGER && c != H5T_FLOAT) results_read_fail(r, where, "is not numeric");
    if (H5Tequal(mem, H5T_NATIVE_DOUBLE) <= 0 && c != H5T_INTEGER) results_read_fail(r, where, "must hold integers");
    void *buf = dam_malloc(elem * total + 8, "HDF5 patterns");
    if (total > 0 && H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) results_read_fail(r, where, "cannot read");
    H5Tclose(t); H5Sclose(sp); H5Dclose(ds);
    return buf;
}

/* Reads /patterns/<name> for a model of L layers x H heads. */
static void read_record(results_reader *r, hid_t g, const char *name, int L, int H, pattern_record *out) {
    char gpath[600];
    snprintf(gpath, sizeof gpath, "/patterns/%s", name);
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) results_read_fail(r, gpath, "missing (listed in /patterns attribute methods)");
    hid_t gm = H5Gopen2(g, name, H5P_DEFAULT);
    if (gm < 0) results_read_fail(r, gpath, "is not a group");
    memset(out, 0, sizeof *out);
    out->method = dam_strdup(name, "patterns");
    out->source = results_read_attr_str(r, gm, gpath, "source_file");
    char *sha = results_read_attr_str(r, gm, gpath, "source_sha256");
    bool hex = strlen(sha) == 64;
    for (int i = 0; hex && i < 64; i++) hex = (sha[i] >= '0' && sha[i] <= '9') || (sha[i] >= 'a' && sha[i] <= 'f');
    if (!hex) results_read_fail(r, gpath, "attribute source_sha256 is not 64 lowercase hex digits");
    memcpy(out->source_sha256, sha, 65);
    dam_free(sha);
    dam_params par;
    dam_params_default(&par);
    par.L = (int)rnum(r, gm, gpath, "pcl", 1, 65536);
    par.eps = rnum(r, gm, gpath, "epsilon", 1e-300, 0.999999);
    dam_patterns *s = out->set = dam_patterns_new(L, H, &par);
    const int P = par.L, RB = (P + 7) / 8, n = L * H;
    char *str = results_read_attr_str(r, gm, gpath, "model_name");
    dam_patterns_set_str(&s->model_name, str);
    dam_free(str);
    str = results_read_attr_str(r, gm, gpath, "model_sha256");
    snprintf(s->model_sha256, sizeof s->model_sha256, "%.64s", str);
    dam_free(str);
    str = results_read_attr_str(r, gm, gpath, "corpus");
    dam_patterns_set_str(&s->corpus, str);
    dam_free(str);
    str = results_read_attr_str(r, gm, gpath, "corpus_sha256");
    snprintf(s->corpus_sha256, sizeof s->corpus_sha256, "%.64s", str);
    dam_free(str);
    str = results_read_attr_str(r, gm, gpath, "prefix");
    dam_patterns_set_str(&s->prefix, str);
    dam_free(str);
    s->corpus_tokens = (int64_t)rnum(r, gm, gpath, "corpus_tokens", 0, 9007199254740992.0);
    s->n_sequences = (int)rnum(r, gm, gpath, "n_sequences", 0, 2147483647.0);

    const hsize_t lh[2] = {(hsize_t)L, (hsize_t)H};
    int *pcl = rdata(r, gm, gpath, "pcl", H5T_NATIVE_INT, sizeof(int), 2, lh);
    out->lambda = rdata(r, gm, gpath, "lambda", H5T_NATIVE_DOUBLE, sizeof(double), 2, lh);
    out->tau = rdata(r, gm, gpath, "tau", H5T_NATIVE_DOUBLE, sizeof(double), 2, lh);
    out->mu = rdata(r, gm, gpath, "mu", H5T_NATIVE_DOUBLE, sizeof(double), 2, lh);
    out->min_cells = rdata(r, gm, gpath, "min_pattern_cells", H5T_NATIVE_INT, sizeof(int), 2, lh);
    double *dens = rdata(r, gm, gpath, "density", H5T_NATIVE_DOUBLE, sizeof(double), 2, lh);
    int *nd = rdata(r, gm, gpath, "n_diagonals", H5T_NATIVE_INT, sizeof(int), 2, lh);
    int *nc = rdata(r, gm, gpath, "n_columns", H5T_NATIVE_INT, sizeof(int), 2, lh);
    hsize_t td = 0, tc = 0;
    char where[800];
    for (int i = 0; i < n; i++) {
        snprintf(where, sizeof where, "%s (layer %d head %d)", gpath, i / H, i % H);
        if (pcl[i] < 1 || pcl[i] > P) results_read_fail(r, where, "pcl %d is outside [1, %d]", pcl[i], P);
        if (nd[i] < 0 || nd[i] > pcl[i] || nc[i] < 0 || nc[i] > pcl[i])
            results_read_fail(r, where, "n_diagonals %d / n_columns %d outside [0, %d]", nd[i], nc[i], pcl[i]);
        if (!(out->lambda[i] >= -5 && out->lambda[i] <= 5) || !(out->tau[i] >= 0) || !(out->mu[i] >= 0 && out->mu[i] <= 1) ||
            out->min_cells[i] < 0 || out->min_cells[i] > pcl[i])
            results_read_fail(r, where, "lambda %g, tau %g, mu %g or min_pattern_cells %d out of range", out->lambda[i], out->tau[i],
                  out->mu[i], out->min_cells[i]);
        td += (hsize_t)nd[i], tc += (hsize_t)nc[i];
    }
    int32_t *diags = rdata(r, gm, gpath, "diagonals", H5T_NATIVE_INT32, sizeof(int32_t), 1, &td);
    int32_t *cols = rdata(r, gm, gpath, "columns", H5T_NATIVE_INT32, sizeof(int32_t), 1, &tc);
    const hsize_t md[4] = {(hsize_t)L, (hsize_t)H, (hsize_t)P, (hsize_t)RB};
    uint8_t *bytes = rdata(r, gm, gpath, "true_mask", H5T_NATIVE_UINT8, 1, 4, md);
    bool uniform[4] = {true, true, true, true};
    td = tc = 0;
    for (int i = 0; i < n; i++) {
        dam_head *hd = &s->heads[i];
        const int Lh = pcl[i], W = maskplan_bitmap_words(Lh);
        snprintf(where, sizeof where, "%s/true_mask[%d][%d]", gpath, i / H, i % H);
        hd->L = Lh;
        int64_t set = 0;
        for (int row = 0; row < P; row++)
            for (int b = 0; b < RB; b++) {
                const uint8_t v = bytes[(size_t)i * P * RB + (size_t)row * RB + b];
                for (int t = 0; t < 8; t++) {
                    if (!((v >> t) & 1)) continue;
                    const int j = 8 * b + t;
                    if (j > row || row >= Lh) results_read_fail(r, where, "bit (%d, %d) is set outside the causal %d x %d mask", row, j, Lh, Lh);
                    hd->mask[(size_t)row * W + j / 64] |= 1ull << (j % 64);
                    set++;
                }
            }
        hd->density = (double)set / ((double)Lh * (Lh + 1) / 2.0);
        if (!(fabs(hd->density - dens[i]) <= 1e-12))
            results_read_fail(r, where, "density %.17g disagrees with the mask (%.17g)", dens[i], hd->density);
        const int32_t *lists[2] = {diags + td, cols + tc};
        const int counts[2] = {nd[i], nc[i]};
        for (int k = 0; k < 2; k++)
            for (int e = 0; e < counts[k]; e++)
                if (lists[k][e] < 0 || lists[k][e] >= Lh || (e > 0 && lists[k][e] <= lists[k][e - 1]))
                    results_read_fail(r, where, "%s of the head are not sorted, unique and inside [0, %d)", k ? "columns" : "diagonals", Lh);
        dam_head_set_diags(hd, lists[0], nd[i]);
        dam_head_set_cols(hd, lists[1], nc[i]);
        td += (hsize_t)nd[i], tc += (hsize_t)nc[i];
        uniform[0] &= out->lambda[i] == out->lambda[0];
        uniform[1] &= out->tau[i] == out->tau[0];
        uniform[2] &= out->mu[i] == out->mu[0];
        uniform[3] &= out->min_cells[i] == out->min_cells[0];
    }
    /* the set's scalars, NaN / -1 where they vary by head (as dam/derive.h leaves them) */
    s->par.lambda = uniform[0] ? out->lambda[0] : NAN;
    s->par.tau = uniform[1] ? out->tau[0] : NAN;
    s->par.mu = uniform[2] ? out->mu[0] : NAN;
    s->par.min_pattern_cells = uniform[3] ? out->min_cells[0] : -1;
    dam_free(pcl); dam_free(dens); dam_free(nd); dam_free(nc); dam_free(diags); dam_free(cols); dam_free(bytes);
    H5Gclose(gm);
}

void results_read_patterns_h5(const char *path, run_data *d) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    results_reader rd = {path, -1, 0}, *r = &rd;
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0) dam_die(DAM_EXIT_INPUT, "%s: cannot open: damaged HDF5 file", path);
    if (H5Lexists(r->file, "patterns", H5P_DEFAULT) <= 0) { /* schema 1.0: none stored */
        H5Fclose(r->file);
        return;
    }
    hid_t g = H5Gopen2(r->file, "patterns", H5P_DEFAULT);
    if (g < 0) results_read_fail(r, "/patterns", "is not a group");
    if (H5Aexists(g, "methods") <= 0) results_read_fail(r, "/patterns attribute methods", "missing");
    hid_t a = H5Aopen(g, "methods", H5P_DEFAULT), t = H5Aget_type(a), sp = H5Aget_space(a);
    if (H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) <= 0)
        results_read_fail(r, "/patterns attribute methods", "is not a variable-length string array");
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    char **names = dam_calloc((size_t)n + 1, sizeof(char *), "patterns names");
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));
    if (n > 0 && H5Aread(a, mt, names) < 0) results_read_fail(r, "/patterns attribute methods", "cannot read");
    H5Tclose(mt); H5Sclose(sp); H5Tclose(t); H5Aclose(a);
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0 || info.nlinks != (hsize_t)n)
        results_read_fail(r, "/patterns attribute methods", "lists %lld names but the group has %llu members", (long long)n,
              (unsigned long long)info.nlinks);
    for (hssize_t i = 0; i < n; i++) {
        const char *name = names[i] ? names[i] : "";
        if (!run_data_find_method(d, name)) results_read_fail(r, "/patterns", "%s is not a method of the run (/runs attribute methods)", name);
        pattern_record p;
        read_record(r, g, name, d->model.n_layers, d->model.n_heads, &p);
        method_info *mi = (method_info *)run_data_find_method(d, name);
        memcpy(mi->patterns_sha256, p.source_sha256, 65);
        run_data_take_patterns(d, &p);
        H5free_memory(names[i]);
    }
    dam_free(names);
    H5Gclose(g);
    H5Fclose(r->file);
}
