/* summary.c — see summary.h. */
#include "harness/summary.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "harness/stats.h"

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

static void num(FILE *out, double x, int width, int prec) {
    if (isnan(x)) fprintf(out, " %*s", width, "-");
    else fprintf(out, " %*.*f", width, prec, x);
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

void summary_print(FILE *out, const run_data *d, const char *path, const char *baseline) {
    fprintf(out, "%s: model %s (%s, %d layers x %d heads, %s), device %s, seed %llu\n", path, d->model.name, d->model.architecture,
           d->model.n_layers, d->model.n_heads, d->model.quantisation, d->device, (unsigned long long)d->seed);
    if (d->model.n_global < d->model.n_layers) { /* sliding-window layers: say where the methods applied */
        fprintf(out, "methods apply to the %d global layers (", d->model.n_global);
        for (int i = 0; i < d->model.n_global; i++) fprintf(out, "%s%d", i ? ", " : "", d->model.global_layers[i]);
        fprintf(out, "); the other %d layers are the model's %d-token sliding-window attention; density and alignment are over the global layers\n",
                d->model.n_layers - d->model.n_global, d->model.sliding_window);
    }
    fprintf(out, "run %s .. %s, dam %s (%s): %d examples, %d results, %d methods\n", d->start_time,
           *d->end_time ? d->end_time : "(in progress)", d->harness_version, d->git_revision, d->n_examples, d->n_results, d->n_methods);
    const char **tasks;
    int nt = run_data_tasks(d, &tasks);
    int wt = 4, wm = 6;
    for (int t = 0; t < nt; t++) if ((int)strlen(tasks[t]) > wt) wt = (int)strlen(tasks[t]);
    for (int m = 0; m < d->n_methods; m++) if ((int)strlen(d->methods[m].name) > wm) wm = (int)strlen(d->methods[m].name);
    bool have_baseline = run_data_find_method(d, baseline) != NULL;
    fprintf(out, "\n%-*s  %-*s  %7s %4s  %5s  %-13s %7s %7s %7s %7s %7s %10s %8s %8s\n", wt, "task", wm, "method", "len", "n",
           "acc", "95% CI", "nll", "kl", "density", "tail_rc", "sprd_rc", "prefill_ms", "mask_ms", "peak_MiB");
    double *buf = dam_malloc(sizeof(double) * (size_t)(d->n_results + 1), "inspect column");
    int *lens = dam_malloc(sizeof(int) * (size_t)(d->n_examples + 1), "inspect lengths");
    int flagged = 0;
    for (int t = 0; t < nt; t++) {
        int nl = 0;
        for (int i = 0; i < d->n_examples; i++) {
            if (strcmp(d->examples[i].task, tasks[t]) != 0) continue;
            int k = 0;
            while (k < nl && lens[k] != d->examples[i].target_len) k++;
            if (k == nl) lens[nl++] = d->examples[i].target_len;
        }
        qsort(lens, (size_t)nl, sizeof(int), cmp_int);
        for (int l = 0; l < nl; l++) {
            bool uninformative = false;
            if (have_baseline) {
                summary b = summarise(d, baseline, tasks[t], lens[l], buf);
                uninformative = b.n > 0 && !(b.acc >= 0.5);
            }
            for (int m = 0; m < d->n_methods; m++) {
                summary s = summarise(d, d->methods[m].name, tasks[t], lens[l], buf);
                if (s.n == 0) continue;
                fprintf(out, "%-*s  %-*s  %7d %4zu ", wt, tasks[t], wm, d->methods[m].name, lens[l], s.n);
                num(out, s.acc, 5, 3);
                if (isnan(s.lo)) fprintf(out, "  %-13s", "-");
                else fprintf(out, "  [%.3f,%.3f]", s.lo, s.hi);
                num(out, s.nll, 7, 3); num(out, s.kl, 7, 4); num(out, s.density, 7, 4); num(out, s.tail, 7, 4); num(out, s.spread, 7, 4);
                num(out, s.prefill, 10, 1); num(out, s.mask, 8, 2); num(out, s.peak_mib, 8, 1);
                if (uninformative) { fputs("  uninformative", out); flagged++; }
                fputc('\n', out);
            }
        }
    }
    if (flagged) fprintf(out, "\nuninformative: %s itself scores below 0.5 there, so methods cannot be compared on accuracy.\n", baseline);
    if (!have_baseline) fprintf(out, "\n(no method named \"%s\" in this file: cells are not flagged; see --baseline)\n", baseline);
    dam_free(buf);
    dam_free(lens);
    dam_free(tasks);
}
