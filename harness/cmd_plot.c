/* cmd_plot.c — `dam plot RESULTS.h5 [-o DIR]`: exports the tables the gnuplot scripts under plots/
 * read (TSV, DIR/data/) and runs gnuplot on them (PNG + SVG, DESIGN §8):
 *   <task>_accuracy     accuracy vs prompt length, one line per method, Wilson 95% intervals
 *   <task>_heatmap      length × depth grid of mean scores, one panel per method
 *   <task>_mass_recall  tail mass recall per (layer, query head), one panel per non-full method
 *   <task>_pareto       accuracy vs mean density, one point per method instance
 *   <task>_cost         prefill ms, decode ms/token, peak and KV memory vs length (log axes), one
 *                       line per method, with each method's prefill crossover against `full`
 *   <method>_mask_lLL_hH  the true and extended DAM mask of chosen heads of every dam instance,
 *                       from the masks stored in the results file (/patterns) or, with --patterns,
 *                       from a pattern file */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/args.h"
#include "harness/commands.h"
#include "harness/registry.h"
#include "harness/results_h5.h"
#include "harness/stats.h"
#include "dam/patterns.h"
#include "dam/plan.h"
#include "kernels/maskplan.h"

static const char *HELP =
    "usage: dam plot RESULTS.h5 [-o DIR] [--heads L:H,...] [--length N]\n"
    "       dam plot --patterns PATTERNS.h5 [--heads L:H,...] [--length N] [-o DIR]\n"
    "\n"
    "Renders the plots of a results file with gnuplot into DIR (default: RESULTS without .h5,\n"
    "plus _plots), as PNG and SVG, with the exported tables in DIR/data/:\n"
    "  <task>_accuracy.png     accuracy vs prompt length per method (Wilson 95% intervals)\n"
    "  <task>_heatmap.png      length x depth grid of mean scores, one panel per method\n"
    "  <task>_mass_recall.png  tail mass recall per layer and query head, per sparse method\n"
    "  <task>_pareto.png       accuracy vs mean density, one point per method instance (sweeps)\n"
    "  <task>_cost.png         median prefill ms, decode ms/token, peak and KV MiB vs prompt length\n"
    "                          (log axes), one line per method; where a method's median prefill\n"
    "                          first falls below full's (the speed-up crossover), it is marked\n"
    "  <method>_mask_lLL_hH.png  DAM masks each dam instance applied (stored in the results file):\n"
    "                          for each chosen head (--heads L:H,..., default 0:0 and the head with\n"
    "                          the most patterns) the true mask beside the extended mask at --length\n"
    "                          tokens (default 4096)\n"
    "Titles name the task, the model and the harness commit recorded in the file.\n"
    "With --patterns, draws the masks of a pattern file instead, as dam_mask_lLL_hH.png / .svg in DIR\n"
    "(default: the pattern file without .h5, plus _plots).\n";

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }
static int cmp_dbl(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

/* Sorted distinct target lengths and depths of a task's examples. */
static void task_axes(const run_data *d, const char *task, int *lens, int *n_len, double *deps, int *n_dep, int cap) {
    *n_len = *n_dep = 0;
    for (int i = 0; i < d->n_examples; i++) {
        const example_record *e = &d->examples[i];
        if (strcmp(e->task, task) != 0) continue;
        int seen = 0;
        for (int k = 0; k < *n_len; k++) seen |= lens[k] == e->target_len;
        if (!seen && *n_len < cap) lens[(*n_len)++] = e->target_len;
        seen = 0;
        for (int k = 0; k < *n_dep; k++) seen |= deps[k] == e->depth;
        if (!seen && *n_dep < cap) deps[(*n_dep)++] = e->depth;
    }
    qsort(lens, *n_len, sizeof(int), cmp_int);
    qsort(deps, *n_dep, sizeof(double), cmp_dbl);
}

/* Sum of scores and count of the results of (method, task) whose example has target length `len`
 * and, unless `any_depth`, depth `depth`. */
static double cell_sum(const run_data *d, const char *method, const char *task, int len, bool any_depth, double depth,
                       int *n) {
    double sum = 0;
    *n = 0;
    for (int r = 0; r < d->n_results; r++) {
        const result_record *res = &d->results[r];
        if (strcmp(res->method, method) || strcmp(res->task, task)) continue;
        const example_record *e = run_data_find_example(d, task, res->index);
        if (e && e->target_len == len && (any_depth || e->depth == depth)) sum += res->score, (*n)++;
    }
    return sum;
}

static FILE *open_out(const char *path) {
    FILE *fp = fopen(path, "w");
    if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot write: %s", path, strerror(errno));
    return fp;
}

/* Runs gnuplot -e SETTINGS SCRIPT; exits with status 3 if it fails. */
static void gnuplot(const char *settings, const char *script) {
    pid_t pid = fork();
    if (pid < 0) dam_die(DAM_EXIT_RUNTIME, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", "-e", settings, script, (char *)NULL);
        fprintf(stderr, "dam: gnuplot not found (install gnuplot-nox; `make setup` does)\n");
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) dam_die(DAM_EXIT_RUNTIME, "gnuplot failed on %s", script);
}

static void mkdir_p(const char *dir) {
    char buf[4096];
    dam_format(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0777);
            *p = '/';
        }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) dam_die(DAM_EXIT_INPUT, "%s: cannot create: %s", dir, strerror(errno));
}

/* Medians over the results of (method, task) with target length `len` of prefill ms, decode
 * ms/token, peak bytes and KV bytes into v[4]; returns the number of results (0: v untouched). */
static int cost_cell(const run_data *d, const char *method, const char *task, int len, double v[4]) {
    int n = 0;
    for (int r = 0; r < d->n_results; r++) n += !strcmp(d->results[r].method, method) && !strcmp(d->results[r].task, task);
    if (n == 0) return 0;
    double *col = dam_malloc(sizeof(double) * 4 * (size_t)n, "cost columns");
    int k = 0;
    for (int r = 0; r < d->n_results; r++) {
        const result_record *res = &d->results[r];
        if (strcmp(res->method, method) || strcmp(res->task, task)) continue;
        const example_record *e = run_data_find_example(d, task, res->index);
        if (!e || e->target_len != len) continue;
        col[k] = res->prefill_ms, col[n + k] = res->decode_ms, col[2 * n + k] = res->peak_bytes, col[3 * n + k] = res->kv_bytes;
        k++;
    }
    for (int c = 0; c < 4 && k > 0; c++) v[c] = median(col + (size_t)c * n, (size_t)k);
    dam_free(col);
    return k;
}

/* Writes a matrix file of the extended mask of plan p over n tokens, binned to `bin` tokens per
 * cell: each cell holds the fraction of its causal pairs the plan keeps (0 above the diagonal). */
static void write_extended(const char *path, const maskplan *p, int n, int bin) {
    const int nb = (n + bin - 1) / bin;
    double *kept = dam_calloc((size_t)nb * nb, sizeof(double), "mask image");
    for (int i = 0; i < n; i++)
        for (int j0 = 0; j0 <= i; j0 += 64) {
            uint64_t w = maskplan_row_word(p, i, j0);
            for (; w; w &= w - 1) {
                int j = j0 + __builtin_ctzll(w);
                kept[(size_t)(i / bin) * nb + j / bin] += 1;
            }
        }
    FILE *fp = open_out(path);
    for (int bi = 0; bi < nb; bi++) {
        for (int bj = 0; bj < nb; bj++) {
            /* causal pairs in the cell (rows bi*bin.., keys bj*bin..) */
            double pairs = 0;
            for (int i = bi * bin; i < (bi + 1) * bin && i < n; i++) {
                int lo = bj * bin, hi = (bj + 1) * bin - 1;
                if (hi > i) hi = i;
                if (hi >= lo) pairs += hi - lo + 1;
            }
            fprintf(fp, bj ? " %.4g" : "%.4g", pairs > 0 ? kept[(size_t)bi * nb + bj] / pairs : 0.0);
        }
        fputc('\n', fp);
    }
    fclose(fp);
    dam_free(kept);
}

/* The heads to draw of set p: the --heads list ("L:H,L:H"), else the first head with a non-empty
 * true mask (0:0, except for models whose first layers slide: Gemma-3's sliding-window layers are
 * never captured, so their masks are empty) and the head with the most matched patterns. Returns
 * the count (at most 64) in sel. */
static int mask_heads(const dam_patterns *p, const char *heads, int sel[64][2]) {
    int n_sel = 0;
    if (heads) {
        const char *q = heads;
        while (*q && n_sel < 64) {
            int l, h, used;
            if (sscanf(q, "%d:%d%n", &l, &h, &used) != 2 || l < 0 || l >= p->n_layers || h < 0 || h >= p->n_heads)
                dam_die(DAM_EXIT_INPUT, "--heads %s: expected LAYER:HEAD pairs within %d layers x %d heads", heads,
                        p->n_layers, p->n_heads);
            sel[n_sel][0] = l, sel[n_sel][1] = h, n_sel++;
            q += used;
            if (*q == ',') q++;
            else if (*q) dam_die(DAM_EXIT_INPUT, "--heads %s: expected LAYER:HEAD pairs separated by commas", heads);
        }
        return n_sel;
    }
    int first = 0, best = 0;
    while (first + 1 < p->n_layers * p->n_heads && !(p->heads[first].density > 0)) first++;
    if (!(p->heads[first].density > 0)) first = 0;
    for (int x = 1; x < p->n_layers * p->n_heads; x++)
        if (p->heads[x].n_diags + p->heads[x].n_cols > p->heads[best].n_diags + p->heads[best].n_cols) best = x;
    sel[0][0] = first / p->n_heads, sel[0][1] = first % p->n_heads, n_sel = 1;
    if (best != first) sel[1][0] = best / p->n_heads, sel[1][1] = best % p->n_heads, n_sel = 2;
    return n_sel;
}

/* True and extended DAM masks of the chosen heads of set p into DIR/<prefix>_lLL_hH.png / .svg
 * (data in datadir), titled with `source`; returns the number of figures. */
static int draw_masks(const dam_patterns *p, const char *heads, int length, const char *dir, const char *datadir,
                      const char *prefix, const char *source) {
    char path[4400], path2[4400], out[4400], settings[8192], script[4400];
    int sel[64][2];
    const int n_sel = mask_heads(p, heads, sel), bin = length > 512 ? (length + 511) / 512 : 1;
    for (int k = 0; k < n_sel; k++) {
        const int l = sel[k][0], h = sel[k][1];
        const dam_head *hd = dam_patterns_head(p, l, h);
        const int W = maskplan_bitmap_words(hd->L);
        dam_format(path, sizeof path, "%s/%s_l%02d_h%d_true.txt", datadir, prefix, l, h);
        FILE *fp = open_out(path);
        for (int i = 0; i < hd->L; i++) {
            for (int j = 0; j < hd->L; j++)
                fprintf(fp, j ? " %d" : "%d", j <= i ? (int)((hd->mask[(size_t)i * W + j / 64] >> (j % 64)) & 1) : 0);
            fputc('\n', fp);
        }
        fclose(fp);
        maskplan *mp = dam_plan(p, l, h);
        dam_format(path2, sizeof path2, "%s/%s_l%02d_h%d_ext.txt", datadir, prefix, l, h);
        write_extended(path2, mp, length, bin);
        double dens = maskplan_density(mp, length);
        maskplan_free(mp);
        dam_format(out, sizeof out, "%s/%s_l%02d_h%d", dir, prefix, l, h);
        dam_format(settings, sizeof settings,
                   "truem='%s'; ext='%s'; L=%d; n=%d; bin=%d; out='%s'; ttl='DAM layer %d head %d (|R| %d, |C| %d, "
                   "true-mask density %.4f, density at n=%d: %.4f) - %s'",
                   path, path2, hd->L, length, bin, out, l, h, hd->n_diags, hd->n_cols, hd->density, length, dens, source);
        dam_format(script, sizeof script, "%s/plots/mask.gp", dam_root());
        gnuplot(settings, script);
    }
    return n_sel;
}

/* `dam plot --patterns`: true and extended DAM masks of chosen heads of a pattern file. */
static int plot_masks(const char *pattern_path, const char *heads, int length, const char *outdir) {
    dam_patterns *p = dam_patterns_read(pattern_path, NULL);
    char dir[4096];
    if (outdir) dam_format(dir, sizeof dir, "%s", outdir);
    else {
        dam_format(dir, sizeof dir, "%s", pattern_path);
        size_t n = strlen(dir);
        if (n > 3 && strcmp(dir + n - 3, ".h5") == 0) dir[n - 3] = 0;
        strncat(dir, "_plots", sizeof dir - strlen(dir) - 1);
    }
    mkdir_p(dir);
    int n_sel = draw_masks(p, heads, length, dir, dir, "dam_mask", pattern_path);
    fprintf(stderr, "dam plot: wrote %d mask figures (png + svg) to %s\n", n_sel, dir);
    dam_patterns_free(p);
    return 0;
}

/* The DAM masks stored in results file `in` (/patterns), one figure per chosen head of every
 * instance: DIR/<method>_mask_lLL_hH (the method name with characters other than letters, digits
 * and ._=,+- replaced by _). Returns the number of files written. */
static int plot_result_masks(const char *in, run_data *d, const char *heads, int length, const char *dir,
                             const char *datadir) {
    results_read_patterns_h5(in, d);
    int n_files = 0;
    for (int m = 0; m < d->n_methods; m++) {
        const pattern_record *pr = run_data_find_patterns(d, d->methods[m].name);
        if (pr == NULL) continue;
        char prefix[300], source[1024];
        int k = 0;
        for (const char *c = pr->method; *c && k < 280; c++)
            prefix[k++] = (isalnum((unsigned char)*c) || strchr("._=,+-", *c)) ? *c : '_';
        snprintf(prefix + k, sizeof prefix - (size_t)k, "_mask");
        snprintf(source, sizeof source, "method %s on %s (%s) - commit %s", pr->method, d->model.name,
                 d->model.quantisation, d->git_revision);
        n_files += 2 * draw_masks(pr->set, heads, length, dir, datadir, prefix, source);
    }
    return n_files;
}

int cmd_plot(int argc, char **argv) {
    const char *in = NULL, *outdir = NULL, *patterns = NULL, *heads = NULL;
    long length = 4096;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(argv[i], "-o") == 0) outdir = arg_value(argc, argv, &i);
        else if (strcmp(argv[i], "--patterns") == 0) patterns = arg_value(argc, argv, &i);
        else if (strcmp(argv[i], "--heads") == 0) heads = arg_value(argc, argv, &i);
        else if (strcmp(argv[i], "--length") == 0) {
            const char *opt = argv[i]; // (arg_value advances i: the name is read first)
            length = arg_long(opt, arg_value(argc, argv, &i), 1, 1 << 20);
        }
        else if (argv[i][0] == '-') dam_die(DAM_EXIT_INPUT, "plot: unknown option %s (see --help)", argv[i]);
        else if (in == NULL) in = argv[i];
        else dam_die(DAM_EXIT_INPUT, "plot: more than one results file given");
    }
    if (patterns) {
        if (in) dam_die(DAM_EXIT_INPUT, "plot: give a results file or --patterns, not both");
        return plot_masks(patterns, heads, (int)length, outdir);
    }
    if (in == NULL) dam_die(DAM_EXIT_INPUT, "plot: a results file is required (see --help)");
    run_data d;
    results_read_h5(in, &d);
    char dir[4096], datadir[4200], path[4400], out[4400], settings[8192], script[4400];
    if (outdir) dam_format(dir, sizeof dir, "%s", outdir);
    else {
        dam_format(dir, sizeof dir, "%s", in);
        size_t n = strlen(dir);
        if (n > 3 && strcmp(dir + n - 3, ".h5") == 0) dir[n - 3] = 0;
        strncat(dir, "_plots", sizeof dir - strlen(dir) - 1);
    }
    dam_format(datadir, sizeof datadir, "%s/data", dir);
    mkdir_p(datadir);
    char names[2048] = "";
    for (int k = 0; k < d.n_methods; k++) {
        strncat(names, k ? " " : "", sizeof names - strlen(names) - 1);
        strncat(names, d.methods[k].name, sizeof names - strlen(names) - 1);
    }
    const char **tasks;
    int n_tasks = run_data_tasks(&d, &tasks);
    enum { CAP = 256 };
    int lens[CAP], n_len;
    double deps[CAP];
    int n_dep;
    int n_files = 0;
    for (int t = 0; t < n_tasks; t++) {
        const char *task = tasks[t];
        task_axes(&d, task, lens, &n_len, deps, &n_dep, CAP);
        char ttl[1024];
        dam_format(ttl, sizeof ttl, "%s on %s (%s) - commit %s", task, d.model.name, d.model.quantisation, d.git_revision);

        /* accuracy vs length */
        dam_format(path, sizeof path, "%s/%s_accuracy.tsv", datadir, task);
        FILE *fp = open_out(path);
        for (int k = 0; k < d.n_methods; k++) {
            for (int l = 0; l < n_len; l++) {
                int n;
                double sum = cell_sum(&d, d.methods[k].name, task, lens[l], true, 0, &n);
                if (n == 0) continue;
                double lo, hi;
                wilson_interval(sum, n, 1.96, &lo, &hi);
                fprintf(fp, "%d\t%d\t%.6f\t%.6f\t%.6f\t%d\n", k, lens[l], sum / n, lo, hi, n);
            }
            fputs("\n\n", fp);
        }
        fclose(fp);
        dam_format(out, sizeof out, "%s/%s_accuracy", dir, task);
        dam_format(settings, sizeof settings, "data='%s'; names='%s'; out='%s'; ttl='%s: accuracy vs length'", path, names, out, ttl);
        dam_format(script, sizeof script, "%s/plots/accuracy_vs_length.gp", dam_root());
        gnuplot(settings, script);
        n_files += 2;

        /* length x depth heat map */
        dam_format(path, sizeof path, "%s/%s_heatmap.tsv", datadir, task);
        fp = open_out(path);
        for (int k = 0; k < d.n_methods; k++) {
            for (int l = 0; l < n_len; l++) {
                for (int q = 0; q < n_dep; q++) {
                    int n;
                    double sum = cell_sum(&d, d.methods[k].name, task, lens[l], false, deps[q], &n);
                    fprintf(fp, "%d\t%d\t%d\t%.6f\n", k, l, q, n ? sum / n : NAN);
                }
                fputc('\n', fp);
            }
            fputs("\n", fp);
        }
        fclose(fp);
        char xl[2048] = "", yl[2048] = "";
        for (int l = 0; l < n_len; l++) snprintf(xl + strlen(xl), sizeof xl - strlen(xl), "%s%d", l ? " " : "", lens[l]);
        for (int q = 0; q < n_dep; q++) snprintf(yl + strlen(yl), sizeof yl - strlen(yl), "%s%.0f", q ? " " : "", deps[q] * 100);
        dam_format(out, sizeof out, "%s/%s_heatmap", dir, task);
        dam_format(settings, sizeof settings, "data='%s'; names='%s'; xlabels='%s'; ylabels='%s'; out='%s'; ttl='%s: score by length and depth'",
                 path, names, xl, yl, out, ttl);
        dam_format(script, sizeof script, "%s/plots/heatmap.gp", dam_root());
        gnuplot(settings, script);
        n_files += 2;

        /* accuracy vs density, one point per method instance */
        dam_format(path, sizeof path, "%s/%s_pareto.tsv", datadir, task);
        fp = open_out(path);
        for (int k = 0; k < d.n_methods; k++) {
            double sum = 0, dens = 0;
            int n = 0;
            for (int r = 0; r < d.n_results; r++) {
                const result_record *res = &d.results[r];
                if (strcmp(res->method, d.methods[k].name) || strcmp(res->task, task)) continue;
                sum += res->score, dens += res->density, n++;
            }
            if (n == 0) continue;
            double lo, hi;
            wilson_interval(sum, n, 1.96, &lo, &hi);
            fprintf(fp, "%s\t%.6g\t%.6f\t%.6f\t%.6f\t%d\n", d.methods[k].name, dens / n, sum / n, lo, hi, n);
        }
        fclose(fp);
        dam_format(out, sizeof out, "%s/%s_pareto", dir, task);
        dam_format(settings, sizeof settings, "data='%s'; out='%s'; ttl='%s: accuracy vs density'", path, out, ttl);
        dam_format(script, sizeof script, "%s/plots/pareto.gp", dam_root());
        gnuplot(settings, script);
        n_files += 2;

        /* latency and memory vs length (log axes) with the prefill crossover against full */
        dam_format(path, sizeof path, "%s/%s_cost.tsv", datadir, task);
        fp = open_out(path);
        const int kfull = run_data_find_method(&d, "full") ? (int)(run_data_find_method(&d, "full") - d.methods) : -1;
        double full_prefill[CAP];
        for (int l = 0; l < n_len; l++) {
            double v[4];
            full_prefill[l] = kfull >= 0 && cost_cell(&d, "full", task, lens[l], v) ? v[0] : NAN;
        }
        char cross[2048] = "";
        int n_cross = 0, has[4] = {0, 0, 0, 0}; /* a positive value in each panel's column */
        for (int k = 0; k < d.n_methods; k++) {
            bool crossed = false;
            for (int l = 0; l < n_len; l++) {
                double v[4];
                int n = cost_cell(&d, d.methods[k].name, task, lens[l], v);
                if (n == 0) continue;
                /* log axes: a zero (decode time with one generated token) is not drawn */
                for (int c = 0; c < 4; c++) v[c] = v[c] > 0 ? v[c] : NAN;
                for (int c = 0; c < 4; c++) has[c] |= v[c] > 0;
                fprintf(fp, "%d\t%d\t%.6g\t%.6g\t%.6g\t%.6g\t%d\n", k, lens[l], v[0], v[1], v[2] / 1048576.0, v[3] / 1048576.0, n);
                if (k != kfull && !crossed && v[0] < full_prefill[l]) { /* NaN compares false */
                    crossed = true;
                    snprintf(cross + strlen(cross), sizeof cross - strlen(cross), "%s%d %d %.6g", n_cross ? " " : "", k, lens[l], v[0]);
                    n_cross++;
                }
            }
            fputs("\n\n", fp);
        }
        fclose(fp);
        dam_format(out, sizeof out, "%s/%s_cost", dir, task);
        dam_format(settings, sizeof settings,
                   "data='%s'; names='%s'; cross='%s'; hasfull=%d; has='%d %d %d %d'; out='%s'; ttl='%s: latency and memory vs length'",
                   path, names, cross, kfull >= 0, has[0], has[1], has[2], has[3], out, ttl);
        dam_format(script, sizeof script, "%s/plots/cost_vs_length.gp", dam_root());
        gnuplot(settings, script);
        n_files += 2;

        /* tail mass recall per layer x head, sparse methods only */
        dam_format(path, sizeof path, "%s/%s_mass_recall.tsv", datadir, task);
        fp = open_out(path);
        char snames[2048] = "";
        int n_sparse = 0;
        const int L = d.model.n_layers, H = d.model.n_heads;
        double *acc = dam_malloc(sizeof(double) * L * H, "plot sums");
        int *cnt = dam_malloc(sizeof(int) * L * H, "plot counts");
        for (int k = 0; k < d.n_methods; k++) {
            /* full holds 1 by definition, not a measurement: an all-white panel says nothing */
            if (strcmp(d.methods[k].name, "full") == 0) continue;
            memset(acc, 0, sizeof(double) * L * H);
            memset(cnt, 0, sizeof(int) * L * H);
            int any = 0;
            for (int r = 0; r < d.n_results; r++) {
                const result_record *res = &d.results[r];
                if (strcmp(res->method, d.methods[k].name) || strcmp(res->task, task) || !res->alignment ||
                    res->n_layers != L || res->n_heads != H)
                    continue;
                for (int i = 0; i < L * H; i++) {
                    float v = res->alignment[(size_t)i * ALIGN_N_METRICS + ALIGN_TAIL_MASS_RECALL];
                    if (!isnan(v)) acc[i] += v, cnt[i]++, any = 1;
                }
            }
            if (!any) continue;
            for (int l = 0; l < L; l++) {
                for (int h = 0; h < H; h++) fprintf(fp, "%d\t%d\t%d\t%.6f\n", n_sparse, h, l, cnt[l * H + h] ? acc[l * H + h] / cnt[l * H + h] : NAN);
                fputc('\n', fp);
            }
            fputs("\n", fp);
            snprintf(snames + strlen(snames), sizeof snames - strlen(snames), "%s%s", n_sparse ? " " : "", d.methods[k].name);
            n_sparse++;
        }
        fclose(fp);
        dam_free(acc);
        dam_free(cnt);
        if (n_sparse > 0) {
            dam_format(out, sizeof out, "%s/%s_mass_recall", dir, task);
            dam_format(settings, sizeof settings, "data='%s'; names='%s'; nlayers=%d; nheads=%d; metric='tail mass recall'; out='%s'; ttl='%s: mass recall vs full attention (tail rows)'",
                     path, snames, L, H, out, ttl);
            dam_format(script, sizeof script, "%s/plots/layer_head.gp", dam_root());
            gnuplot(settings, script);
            n_files += 2;
        }
    }
    dam_free((void *)tasks);
    n_files += plot_result_masks(in, &d, heads, (int)length, dir, datadir);
    fprintf(stderr, "dam plot: wrote %d files to %s\n", n_files, dir);
    run_data_free(&d);
    return 0;
}
