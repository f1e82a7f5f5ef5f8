/* summary_ruler.c — see summary_ruler.h. */
#include "harness/summary_ruler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "datasets/ruler.h"

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

/* Mean score x 100 of (method, task, length), NaN without results; *n gets the count. */
static double cell(const run_data *d, const char *method, const char *task, int len, int *n) {
    double sum = 0;
    *n = 0;
    for (int i = 0; i < d->n_results; i++) {
        const result_record *r = &d->results[i];
        if (strcmp(r->method, method) != 0 || strcmp(r->task, task) != 0) continue;
        const example_record *e = run_data_find_example(d, task, r->index);
        if (e == NULL || e->target_len != len) continue;
        sum += r->score;
        (*n)++;
    }
    return *n ? 100.0 * sum / *n : NAN;
}

void summary_ruler_print(FILE *out, const run_data *d, const char *path, bool csv) {
    /* the RULER tasks present, in RULER's order, and their target lengths */
    const char *tasks[32];
    int nt = 0;
    for (int k = 0; RULER_TASK_NAMES[k] && nt < 32; k++)
        for (int i = 0; i < d->n_examples; i++)
            if (strcmp(d->examples[i].task, RULER_TASK_NAMES[k]) == 0) {
                tasks[nt++] = RULER_TASK_NAMES[k];
                break;
            }
    if (nt == 0) dam_die(DAM_EXIT_INPUT, "%s: inspect --ruler: the file holds no RULER task (docs/workloads.md, \"ruler\")", path);
    int *lens = dam_malloc(sizeof(int) * (size_t)(d->n_examples + 1), "ruler lengths");
    int nl = 0;
    for (int i = 0; i < d->n_examples; i++) {
        if (!ruler_is_task(d->examples[i].task)) continue;
        int k = 0;
        while (k < nl && lens[k] != d->examples[i].target_len) k++;
        if (k == nl) lens[nl++] = d->examples[i].target_len;
    }
    qsort(lens, (size_t)nl, sizeof(int), cmp_int);

    int wm = 6, nmin = -1, nmax = 0;
    for (int m = 0; m < d->n_methods; m++) wm = (int)strlen(d->methods[m].name) > wm ? (int)strlen(d->methods[m].name) : wm;
    if (csv) {
        fputs("method,length", out);
        for (int t = 0; t < nt; t++) fprintf(out, ",%s", tasks[t]);
        fputs(",average\n", out);
    } else {
        fprintf(out, "%s: RULER summary (score = mean per-example string match, %%; average = mean over the tasks shown)\n\n", path);
        fprintf(out, "%-*s  %6s", wm, "method", "length");
        for (int t = 0; t < nt; t++) fprintf(out, "  %*s", (int)strlen(tasks[t]) > 6 ? (int)strlen(tasks[t]) : 6, tasks[t]);
        fprintf(out, "  %7s\n", "average");
    }
    double *row = dam_malloc(sizeof(double) * (size_t)nt, "ruler row");
    for (int m = 0; m < d->n_methods; m++)
        for (int l = 0; l < nl; l++) {
            double sum = 0;
            int present = 0;
            for (int t = 0; t < nt; t++) {
                int n;
                row[t] = cell(d, d->methods[m].name, tasks[t], lens[l], &n);
                if (n > 0) {
                    sum += row[t], present++;
                    nmin = nmin < 0 || n < nmin ? n : nmin;
                    nmax = n > nmax ? n : nmax;
                }
            }
            if (present == 0) continue;
            const double avg = sum / present;
            if (csv) {
                fprintf(out, "%s,%d", d->methods[m].name, lens[l]);
                for (int t = 0; t < nt; t++) {
                    if (isnan(row[t])) fputs(",", out);
                    else fprintf(out, ",%.2f", row[t]);
                }
                fprintf(out, ",%.2f\n", avg);
            } else {
                fprintf(out, "%-*s  %6d", wm, d->methods[m].name, lens[l]);
                for (int t = 0; t < nt; t++) {
                    int w = (int)strlen(tasks[t]) > 6 ? (int)strlen(tasks[t]) : 6;
                    if (isnan(row[t])) fprintf(out, "  %*s", w, "-");
                    else fprintf(out, "  %*.2f", w, row[t]);
                }
                fprintf(out, "  %7.2f\n", avg);
            }
        }
    if (!csv && nmax > 0) {
        if (nmin == nmax) fprintf(out, "\n%d examples per (method, task, length)\n", nmax);
        else fprintf(out, "\n%d to %d examples per (method, task, length)\n", nmin, nmax);
    }
    dam_free(row);
    dam_free(lens);
}
