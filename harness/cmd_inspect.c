/* cmd_inspect.c — `dam inspect RESULTS.h5 [--csv]`: a summary table per (task, method, target
 * length), or the per-example rows as CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/args.h"
#include "harness/commands.h"
#include "harness/results_h5.h"
#include "harness/stats.h"

static const char *HELP =
    "usage: dam inspect RESULTS.h5 [--csv] [--baseline NAME]\n"
    "\n"
    "Summarises a results file (docs/hdf5.md) on stdout: one row per (task, method, target length)\n"
    "with the number of examples, accuracy (mean score) and its Wilson 95% interval, mean answer NLL\n"
    "(nats/token), mean logit KL against full attention (nats), mean density, mean tail and spread\n"
    "mass recall (over layers, heads and examples), median prefill and mask-build time (ms) and the\n"
    "largest peak memory (MiB). Cells where the baseline itself scores below 0.5 are marked\n"
    "'uninformative' (dam-method.md §5): no method can be told apart from full attention there.\n"
    "  --csv            print the per-example rows as CSV instead: a header line, then one row per\n"
    "                   (method, example) with the example's fields and the mean of each alignment\n"
    "                   metric over layers and heads (NaN as \"nan\")\n"
    "  --baseline NAME  the full-attention method for the 'uninformative' flag (default full)\n";

/* Prints a CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
static void csv_str(const char *s) {
    if (s == NULL) s = "";
    if (strpbrk(s, ",\"\r\n") == NULL) { fputs(s, stdout); return; }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void csv_num(double x) {
    if (isnan(x)) fputs("nan", stdout);
    else if (isinf(x)) fputs(x > 0 ? "inf" : "-inf", stdout);
    else printf("%.10g", x);
}

static void print_csv(const run_data *d) {
    fputs("method,task,index,target_len,n_tokens,depth,sample,answer,score,prediction,answer_nll,logit_kl,"
          "prefill_ms,mask_ms,decode_ms,n_generated,peak_bytes,kv_bytes,density", stdout);
    for (int m = 0; m < ALIGN_N_METRICS; m++) printf(",mean_%s", ALIGN_METRIC_NAMES[m]);
    putchar('\n');
    for (int i = 0; i < d->n_results; i++) {
        const result_record *r = &d->results[i];
        const example_record *e = run_data_find_example(d, r->task, r->index);
        csv_str(r->method); putchar(',');
        csv_str(r->task); putchar(',');
        printf("%d,%d,%d,", r->index, e->target_len, e->n_tokens);
        csv_num(e->depth);
        printf(",%d,", e->sample);
        csv_str(e->answer); putchar(',');
        csv_num(r->score); putchar(',');
        csv_str(r->prediction);
        const double v[] = {r->answer_nll, r->logit_kl, r->prefill_ms, r->mask_ms, r->decode_ms};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) { putchar(','); csv_num(v[k]); }
        printf(",%d", r->n_generated);
        const double w[] = {r->peak_bytes, r->kv_bytes, r->density};
        for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) { putchar(','); csv_num(w[k]); }
        for (int m = 0; m < ALIGN_N_METRICS; m++) { putchar(','); csv_num(result_alignment_mean(r, m)); }
        putchar('\n');
    }
}

/* One summary row. */
typedef struct {
    size_t n;
    double acc, lo, hi, nll, kl, density, tail, spread, prefill, mask, peak_mib;
} summary;

static summary summarise(const run_data *d, const char *method, const char *task, int len, double *buf) {
    summary s = {0};
    /* gather the matching results once, then each column */
    int nr = 0;
    const result_record **rs = dam_malloc(sizeof(*rs) * (size_t)(d->n_results + 1), "inspect rows");
    for (int i = 0; i < d->n_results; i++) {
        const result_record *r = &d->results[i];
        if (strcmp(r->method, method) || strcmp(r->task, task)) continue;
        if (run_data_find_example(d, task, r->index)->target_len != len) continue;
        rs[nr++] = r;
    }
    s.n = (size_t)nr;
#define COLUMN(expr) do { for (int i = 0; i < nr; i++) { const result_record *r = rs[i]; buf[i] = (expr); } } while (0)
    size_t scored;
    COLUMN(r->score);
    s.acc = mean_nonnan(buf, (size_t)nr, &scored);
    wilson_interval(s.acc * (double)scored, (double)scored, 1.96, &s.lo, &s.hi);
    COLUMN(r->answer_nll); s.nll = mean_nonnan(buf, (size_t)nr, NULL);
    COLUMN(r->logit_kl); s.kl = mean_nonnan(buf, (size_t)nr, NULL);
    COLUMN(r->density); s.density = mean_nonnan(buf, (size_t)nr, NULL);
    COLUMN(result_alignment_mean(r, ALIGN_TAIL_MASS_RECALL)); s.tail = mean_nonnan(buf, (size_t)nr, NULL);
    COLUMN(result_alignment_mean(r, ALIGN_SPREAD_MASS_RECALL)); s.spread = mean_nonnan(buf, (size_t)nr, NULL);
    COLUMN(r->prefill_ms); s.prefill = median(buf, (size_t)nr);
    COLUMN(r->mask_ms); s.mask = median(buf, (size_t)nr);
    s.peak_mib = NAN;
    for (int i = 0; i < nr; i++)
        if (!isnan(rs[i]->peak_bytes) && (isnan(s.peak_mib) || rs[i]->peak_bytes / 1048576.0 > s.peak_mib)) s.peak_mib = rs[i]->peak_bytes / 1048576.0;
#undef COLUMN
    dam_free(rs);
    return s;
}

static void num(double x, int width, int prec) {
    if (isnan(x)) printf(" %*s", width, "-");
    else printf(" %*.*f", width, prec, x);
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL, *baseline = "full";
    int csv = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--csv") == 0) csv = 1;
        else if (strcmp(a, "--baseline") == 0) baseline = arg_value(argc, argv, &i);
        else if (a[0] == '-' && a[1] != 0) dam_die(DAM_EXIT_INPUT, "inspect: unknown argument %s (see --help)", a);
        else if (path) dam_die(DAM_EXIT_INPUT, "inspect: more than one results file (%s, %s)", path, a);
        else path = a;
    }
    if (path == NULL) dam_die(DAM_EXIT_INPUT, "inspect: give a results file (see --help)");
    run_data d;
    results_read_h5(path, &d);
    if (csv) {
        print_csv(&d);
        run_data_free(&d);
        return 0;
    }

    printf("%s: model %s (%s, %d layers x %d heads, %s), device %s, seed %llu\n", path, d.model.name, d.model.architecture,
           d.model.n_layers, d.model.n_heads, d.model.quantisation, d.device, (unsigned long long)d.seed);
    printf("run %s .. %s, dam %s (%s): %d examples, %d results, %d methods\n", d.start_time,
           *d.end_time ? d.end_time : "(in progress)", d.harness_version, d.git_revision, d.n_examples, d.n_results, d.n_methods);
    const char **tasks;
    int nt = run_data_tasks(&d, &tasks);
    int wt = 4, wm = 6;
    for (int t = 0; t < nt; t++) if ((int)strlen(tasks[t]) > wt) wt = (int)strlen(tasks[t]);
    for (int m = 0; m < d.n_methods; m++) if ((int)strlen(d.methods[m].name) > wm) wm = (int)strlen(d.methods[m].name);
    bool have_baseline = run_data_find_method(&d, baseline) != NULL;
    printf("\n%-*s  %-*s  %7s %4s  %5s  %-13s %7s %7s %7s %7s %7s %10s %8s %8s\n", wt, "task", wm, "method", "len", "n",
           "acc", "95% CI", "nll", "kl", "density", "tail_rc", "sprd_rc", "prefill_ms", "mask_ms", "peak_MiB");
    double *buf = dam_malloc(sizeof(double) * (size_t)(d.n_results + 1), "inspect column");
    int *lens = dam_malloc(sizeof(int) * (size_t)(d.n_examples + 1), "inspect lengths");
    int flagged = 0;
    for (int t = 0; t < nt; t++) {
        int nl = 0;
        for (int i = 0; i < d.n_examples; i++) {
            if (strcmp(d.examples[i].task, tasks[t]) != 0) continue;
            int k = 0;
            while (k < nl && lens[k] != d.examples[i].target_len) k++;
            if (k == nl) lens[nl++] = d.examples[i].target_len;
        }
        qsort(lens, (size_t)nl, sizeof(int), cmp_int);
        for (int l = 0; l < nl; l++) {
            bool uninformative = false;
            if (have_baseline) {
                summary b = summarise(&d, baseline, tasks[t], lens[l], buf);
                uninformative = b.n > 0 && !(b.acc >= 0.5);
            }
            for (int m = 0; m < d.n_methods; m++) {
                summary s = summarise(&d, d.methods[m].name, tasks[t], lens[l], buf);
                if (s.n == 0) continue;
                printf("%-*s  %-*s  %7d %4zu ", wt, tasks[t], wm, d.methods[m].name, lens[l], s.n);
                num(s.acc, 5, 3);
                if (isnan(s.lo)) printf("  %-13s", "-");
                else printf("  [%.3f,%.3f]", s.lo, s.hi);
                num(s.nll, 7, 3); num(s.kl, 7, 4); num(s.density, 7, 4); num(s.tail, 7, 4); num(s.spread, 7, 4);
                num(s.prefill, 10, 1); num(s.mask, 8, 2); num(s.peak_mib, 8, 1);
                if (uninformative) { fputs("  uninformative", stdout); flagged++; }
                putchar('\n');
            }
        }
    }
    if (flagged) printf("\nuninformative: %s itself scores below 0.5 there, so methods cannot be compared on accuracy.\n", baseline);
    if (!have_baseline) printf("\n(no method named \"%s\" in this file: cells are not flagged; see --baseline)\n", baseline);
    dam_free(buf);
    dam_free(lens);
    dam_free(tasks);
    run_data_free(&d);
    return 0;
}
