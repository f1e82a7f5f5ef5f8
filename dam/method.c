/* method.c — `dam` as a harness method (harness/method.h): the paper's DAM, input-independent.
 * prepare reads the pattern file or, when it does not exist, runs Stage 1 (dam/calibrate.h) and
 * writes it first. The file must come from the same model, corpus, prefix, sequences, PCL and ε
 * (they determine the averaged attention Ā); when this instance's λ, τ, μ or min_pattern_cells
 * differ from the file's — or are given per layer / head — its masks are re-derived from the
 * file's stored Ā (dam/derive.h), so a threshold sweep calibrates once. plan is Stage 2
 * (dam/plan.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/timer.h"
#include "dam/calibrate.h"
#include "dam/derive.h"
#include "dam/evict.h"
#include "dam/patterns.h"
#include "dam/plan.h"
#include "harness/method.h"
#include "harness/registry.h"
#include "harness/results_h5.h"

/* DAM settings: where the pattern file lives and how to calibrate it if it does not exist. */
typedef struct {
    char *patterns_path;    /* pattern file (HDF5), as resolved (defaults under the project root) */
    dam_params par;         /* Stage 1 parameters used to calibrate a missing file: L = the largest PCL, ε,
                               and λ, τ, μ, cells as scalars (the paper's where given per layer / head) */
    param pcl, lambda, tau, mu, cells; /* per-head values (scalar, per layer or per layer x head) */
    char *corpus;           /* calibration corpus (plain or .gz text), as resolved */
    char *corpus_label;     /* the corpus as the config names it (recorded in the pattern file) */
    char *prefix;           /* "none" or "chat" */
    int sequences;          /* calibration sequences of L tokens */
    dam_patterns *patterns; /* loaded by prepare (owned) */
    bool evict_kv;          /* decode-time KV eviction of unreachable keys (dam/evict.h) */
} dam_method;

/* <project root>/rel, replacing (and freeing) rel. */
static char *under_root(char *rel) {
    char buf[4096];
    dam_format(buf, sizeof buf, "%s/%s", dam_root(), rel);
    dam_free(rel);
    return dam_strdup(buf, "path");
}

/* The largest PCL the dam instances parsed in this process ask of each pattern path: a missing
 * file is calibrated at that length, so every instance sharing the path (a pcl sweep, in any order)
 * can use its top-left corner. Paths beyond the table's size keep their own instance's PCL. */
enum { PCL_PATHS = 32 };
static struct {
    char path[1024];
    int L;
} g_pcl_need[PCL_PATHS];
static int g_n_pcl_need;

static void note_pcl(const char *path, int L) {
    for (int i = 0; i < g_n_pcl_need; i++)
        if (strcmp(g_pcl_need[i].path, path) == 0) {
            if (L > g_pcl_need[i].L) g_pcl_need[i].L = L;
            return;
        }
    if (g_n_pcl_need == PCL_PATHS || strlen(path) >= sizeof g_pcl_need[0].path) return;
    snprintf(g_pcl_need[g_n_pcl_need].path, sizeof g_pcl_need[0].path, "%s", path);
    g_pcl_need[g_n_pcl_need++].L = L;
}

static int needed_pcl(const char *path, int L) {
    for (int i = 0; i < g_n_pcl_need; i++)
        if (strcmp(g_pcl_need[i].path, path) == 0 && g_pcl_need[i].L > L) return g_pcl_need[i].L;
    return L;
}

static void *dam_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", "patterns", "pcl", "lambda", "epsilon", "tau", "mu",
                                       "min_pattern_cells", "corpus", "prefix", "sequences", "evict_kv", NULL};
    cfg_check_keys(c, keys);
    dam_method *d = dam_calloc(1, sizeof *d, "dam params");
    dam_params_default(&d->par);
    /* defaults live under the project root, like registered models; given paths are as given */
    d->patterns_path = cfg_str(c, "patterns", "patterns/smollm2-135m.h5", false);
    if (!cfg_has(c, "patterns")) d->patterns_path = under_root(d->patterns_path);
    d->pcl = cfg_param(c, "pcl", d->par.L, 1, 65536, true);
    d->par.L = (int)param_max(&d->pcl); /* the file holds the largest; smaller ones use its corner */
    d->lambda = cfg_param(c, "lambda", d->par.lambda, -5, 5, false);
    if (d->lambda.n_layers == 0) d->par.lambda = d->lambda.v[0];
    d->par.eps = cfg_num(c, "epsilon", d->par.eps, 1e-300, 0.999999);
    d->tau = cfg_param(c, "tau", d->par.tau, 0, 1e30, false);
    d->mu = cfg_param(c, "mu", d->par.mu, 0, 1, false);
    d->cells = cfg_param(c, "min_pattern_cells", 0, 0, 65536, true);
    /* a file that does not exist yet is calibrated with the scalars (the paper's where per-head) */
    if (d->tau.n_layers == 0) d->par.tau = d->tau.v[0];
    if (d->mu.n_layers == 0) d->par.mu = d->mu.v[0];
    if (d->cells.n_layers == 0) d->par.min_pattern_cells = (int)d->cells.v[0];
    d->corpus_label = cfg_str(c, "corpus", "data/jargon.txt.gz", false);
    d->corpus = cfg_has(c, "corpus") ? dam_strdup(d->corpus_label, "corpus") : under_root(dam_strdup(d->corpus_label, "corpus"));
    d->prefix = cfg_str(c, "prefix", "none", false);
    if (strcmp(d->prefix, "none") != 0 && strcmp(d->prefix, "chat") != 0)
        cfg_fail(c, "prefix", "\"%s\" must be \"none\" or \"chat\"", d->prefix);
    d->sequences = (int)cfg_int(c, "sequences", 16, 1, 100000, false);
    d->evict_kv = cfg_bool(c, "evict_kv", false);
    const char *why = dam_params_check(&d->par);
    if (why) cfg_fail(c, NULL, "%s", why);
    note_pcl(d->patterns_path, d->par.L);
    return d;
}

static void dam_prepare(method *meth, const llama_model *m) {
    dam_method *d = meth->params;
    if (d->patterns) return;
    struct stat st;
    if (stat(d->patterns_path, &st) != 0) {
        /* fail before a calibration whose result could not be written */
        char dir[4096];
        dam_format(dir, sizeof dir, "%s", d->patterns_path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        if (access(slash ? (*dir ? dir : "/") : ".", W_OK) != 0)
            dam_die(DAM_EXIT_INPUT, "method %s: patterns %s: cannot write there: %s", meth->name, d->patterns_path,
                    strerror(errno));
        dam_params par = d->par;
        par.L = needed_pcl(d->patterns_path, d->par.L); /* the largest any instance of this path asks for */
        fprintf(stderr, "dam: no pattern file %s: calibrating DAM (PCL %d, %d sequences of %s)\n", d->patterns_path,
                par.L, d->sequences, d->corpus);
        dam_calib_opts o = {d->corpus, d->corpus_label, d->prefix, d->sequences, par, 1};
        double t0 = now_ms();
        dam_patterns *p = dam_calibrate(m, &o);
        dam_patterns_write(p, d->patterns_path);
        fprintf(stderr, "dam: calibration done in %.1f s, wrote %s\n", (now_ms() - t0) / 1e3, d->patterns_path);
        dam_patterns_free(p);
    }
    dam_expect e = {m->sha256, 0, m->cfg.n_layers, m->cfg.n_heads}; /* a larger file PCL serves smaller ones */
    d->patterns = dam_patterns_read(d->patterns_path, &e);
    const dam_patterns *pf = d->patterns;
    if (strcmp(pf->prefix, d->prefix) != 0 || pf->n_sequences != d->sequences || strcmp(pf->corpus, d->corpus_label) != 0)
        dam_die(DAM_EXIT_INPUT,
                "%s: calibrated on %s (%d sequences, prefix %s), but method %s asks for %s (%d sequences, prefix %s) "
                "(delete the file or use another patterns path)",
                d->patterns_path, pf->corpus, pf->n_sequences, pf->prefix, meth->name, d->corpus_label, d->sequences,
                d->prefix);
    const dam_params *a = &pf->par, *b = &d->par;
    if (a->eps != b->eps)
        dam_die(DAM_EXIT_INPUT, "%s: calibrated with epsilon %g, but method %s asks for %g (delete the file or use another "
                "patterns path)", d->patterns_path, a->eps, meth->name, b->eps);
    method_check_param(meth, "pcl", &d->pcl, m);
    method_check_param(meth, "lambda", &d->lambda, m);
    method_check_param(meth, "tau", &d->tau, m);
    method_check_param(meth, "mu", &d->mu, m);
    method_check_param(meth, "min_pattern_cells", &d->cells, m);
    if (pf->par.L < d->par.L)
        dam_die(DAM_EXIT_INPUT, "%s: calibrated with pcl %d, but method %s asks for pcl %d (use another patterns path)",
                d->patterns_path, pf->par.L, meth->name, d->par.L);
    const bool same = d->pcl.n_layers == 0 && (int)d->pcl.v[0] == pf->par.L && d->lambda.n_layers == 0 && d->tau.n_layers == 0 &&
                      d->mu.n_layers == 0 && d->cells.n_layers == 0 && a->lambda == d->lambda.v[0] &&
                      a->tau == d->tau.v[0] && a->mu == d->mu.v[0] && a->min_pattern_cells == (int)d->cells.v[0];
    if (!same) {
        if (d->patterns->abar == NULL)
            dam_die(DAM_EXIT_INPUT,
                    "%s: calibrated with lambda %g, tau %g, mu %g, min_pattern_cells %d and holds no mean attention to "
                    "re-derive method %s's thresholds from (delete it to recalibrate, or use another patterns path)",
                    d->patterns_path, a->lambda, a->tau, a->mu, a->min_pattern_cells, meth->name);
        double t0 = now_ms();
        dam_derive(d->patterns, &d->lambda, &d->tau, &d->mu, &d->cells, &d->pcl);
        fprintf(stderr, "dam: method %s: masks re-derived from %s's mean attention in %.1f s\n", meth->name,
                d->patterns_path, (now_ms() - t0) / 1e3);
    }
    dam_free(d->patterns->abar); /* Stage 2 needs only the masks, R and C */
    d->patterns->abar = NULL;
}

/* SHA-256 of pattern files, by path: every instance of a sweep shares one file (hashed once). */
enum { SHA_PATHS = 32 };
static struct {
    char path[1024];
    char sha[65];
} g_sha[SHA_PATHS];
static int g_n_sha;

static void pattern_file_sha(const char *path, char out[65]) {
    for (int i = 0; i < g_n_sha; i++)
        if (strcmp(g_sha[i].path, path) == 0) {
            memcpy(out, g_sha[i].sha, 65);
            return;
        }
    if (sha256_file_hex(path, out) != 0) dam_die(DAM_EXIT_INPUT, "%s: cannot read the pattern file: %s", path, strerror(errno));
    if (g_n_sha < SHA_PATHS && strlen(path) < sizeof g_sha[0].path) {
        snprintf(g_sha[g_n_sha].path, sizeof g_sha[0].path, "%s", path);
        memcpy(g_sha[g_n_sha++].sha, out, 65);
    }
}

/* The masks this instance applies (prepared): the loaded or re-derived set and its per-head
 * parameters, with the pattern file's path and hash. */
static void dam_method_store(const method *meth, pattern_record *out) {
    const dam_method *d = meth->params;
    if (d->patterns == NULL) dam_die(DAM_EXIT_RUNTIME, "internal error: method %s stored before prepare", meth->name);
    const dam_patterns *p = d->patterns;
    const int n = p->n_layers * p->n_heads;
    memset(out, 0, sizeof *out);
    out->method = dam_strdup(meth->name, "patterns");
    out->source = dam_strdup(d->patterns_path, "patterns");
    pattern_file_sha(d->patterns_path, out->source_sha256);
    out->set = dam_patterns_copy(p, false);
    out->lambda = dam_malloc(sizeof(double) * (size_t)n, "patterns");
    out->tau = dam_malloc(sizeof(double) * (size_t)n, "patterns");
    out->mu = dam_malloc(sizeof(double) * (size_t)n, "patterns");
    out->min_cells = dam_malloc(sizeof(int) * (size_t)n, "patterns");
    for (int i = 0; i < n; i++) {
        const int l = i / p->n_heads, h = i % p->n_heads;
        out->lambda[i] = param_at(&d->lambda, l, h);
        out->tau[i] = param_at(&d->tau, l, h);
        out->mu[i] = param_at(&d->mu, l, h);
        out->min_cells[i] = (int)param_at(&d->cells, l, h);
    }
}

static maskplan *dam_method_plan(const method *meth, int layer, int q_head, int n, int n_total) {
    (void)n, (void)n_total; /* DAM's plan is defined for every position */
    const dam_method *d = meth->params;
    if (d->patterns == NULL) dam_die(DAM_EXIT_RUNTIME, "internal error: method %s used before prepare", meth->name);
    return dam_plan(d->patterns, layer, q_head);
}

static evict_kind dam_method_evicts(const method *meth) {
    return ((const dam_method *)meth->params)->evict_kv ? EVICT_PLAIN : EVICT_NONE;
}

static void dam_method_free(void *params) {
    dam_method *d = params;
    dam_free(d->patterns_path);
    param_free(&d->pcl);
    param_free(&d->lambda);
    param_free(&d->tau);
    param_free(&d->mu);
    param_free(&d->cells);
    dam_free(d->corpus);
    dam_free(d->corpus_label);
    dam_free(d->prefix);
    dam_patterns_free(d->patterns);
    dam_free(d);
}

const method_ops DAM_OPS = {.kind = "dam",
                            .summary = "DAM (arXiv 2506.11104): calibrated true masks + matched diagonals/columns",
                            .parse = dam_parse,
                            .prepare = dam_prepare,
                            .plan = dam_method_plan,
                            .free_params = dam_method_free,
                            .evicts = dam_method_evicts,
                            .evict = dam_evict_unreachable,
                            .store_patterns = dam_method_store};
