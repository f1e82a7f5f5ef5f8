/* cmd_check.c — `dam check RESULTS.h5 --baseline full --max-drop 0.01 [--metric score]`: the CI
 * accuracy gate (DESIGN §5). Exit 0 if no method falls more than max-drop behind the baseline on
 * any task, 1 if one does (each regression listed), 2 on usage or input errors.
 * `dam check RESULTS.h5 --expected FILE.tsv`: the regression gate against committed values (per
 * task, method and metric an expected mean and a tolerance; tests/t_regression.sh). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
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
    "usage: dam check RESULTS.h5 [--baseline NAME] [--max-drop X] [--metric M]\n"
    "\n"
    "The CI accuracy gate. For every task and every method other than the baseline, compares the\n"
    "method's mean metric with the baseline's over the examples both have (examples where either\n"
    "value is NaN are left out). A method regresses when it is worse than the baseline by more\n"
    "than X (absolute; 1e-9 slack for rounding). Prints a table on stdout and each regression on\n"
    "stderr. Exit status: 0 no regression, 1 at least one regression, 2 usage or input error\n"
    "(unreadable file, unknown baseline, a task where the method and the baseline share no example).\n"
    "  --baseline NAME  the reference method instance (default full)\n"
    "  --max-drop X     largest allowed drop, >= 0 (default 0.01)\n"
    "  --metric M       score (default; higher is better), answer_nll, logit_kl (lower is better),\n"
    "                   tail_mass_recall, spread_mass_recall (higher is better; mean over layers and heads)\n"
    "\n"
    "usage: dam check RESULTS.h5 --expected FILE.tsv\n"
    "\n"
    "Compares the run with committed expected values instead of a baseline. FILE.tsv has one line\n"
    "per check, fields separated by tabs or spaces, '#' starts a comment line:\n"
    "  TASK  METHOD  METRIC  EXPECTED  TOLERANCE\n"
    "(METRIC as for --metric). The mean of METRIC over METHOD's results on TASK (NaN skipped) must\n"
    "lie within TOLERANCE of EXPECTED (absolute, 1e-12 slack); a value outside, or no such results,\n"
    "fails the check (exit 1, each failure on stderr). Exit 2 for a malformed FILE (file:line named).\n";

typedef struct {
    const char *name;
    int higher_better;
} metric_def;

static const metric_def METRICS[] = {
    {"score", 1}, {"answer_nll", 0}, {"logit_kl", 0}, {"tail_mass_recall", 1}, {"spread_mass_recall", 1},
};
#define N_METRICS (int)(sizeof METRICS / sizeof METRICS[0])

static double metric_value(const result_record *r, int metric) {
    switch (metric) {
    case 0: return r->score;
    case 1: return r->answer_nll;
    case 2: return r->logit_kl;
    case 3: return result_alignment_mean(r, ALIGN_TAIL_MASS_RECALL);
    default: return result_alignment_mean(r, ALIGN_SPREAD_MASS_RECALL);
    }
}

static double arg_double(const char *flag, const char *value) {
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (errno != 0 || end == value || *end != 0 || !isfinite(v))
        dam_die(DAM_EXIT_INPUT, "%s: \"%s\" is not a number", flag, value);
    return v;
}

/* Mean of metric over the results of (method, task), NaN skipped; *n gets the results counted
 * (NaN included) and the result is NaN when none has a value. */
static double group_mean(const run_data *d, const char *method, const char *task, int metric, int *n) {
    double sum = 0;
    int k = 0;
    *n = 0;
    for (int i = 0; i < d->n_results; i++) {
        const result_record *r = &d->results[i];
        if (strcmp(r->method, method) || strcmp(r->task, task)) continue;
        (*n)++;
        double v = metric_value(r, metric);
        if (!isnan(v)) sum += v, k++;
    }
    return k ? sum / k : NAN;
}

/* `--expected FILE`: every line's (task, method, metric) mean within its tolerance. */
static int check_expected(const char *path, const char *expected) {
    FILE *fp = fopen(expected, "r");
    if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open: %s", expected, strerror(errno));
    run_data d;
    results_read_h5(path, &d);
    printf("check %s against the expected values of %s\n", path, expected);
    printf("%-10s  %-12s  %-18s  %5s  %12s  %12s  %10s  %10s  %s\n", "task", "method", "metric", "n", "expected", "value",
           "diff", "tolerance", "status");
    char line[1024], msgs[8192] = "";
    int lineno = 0, n_checks = 0, failures = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(fp)) dam_die(DAM_EXIT_INPUT, "%s:%d: line too long", expected, lineno);
        char task[256], method[256], metric_name[256], extra[2];
        double want, tol;
        const char *q = line + strspn(line, " \t\r\n");
        if (*q == 0 || *q == '#') continue;
        int got = sscanf(q, "%255s %255s %255s %lf %lf %1s", task, method, metric_name, &want, &tol, extra);
        if (got != 5 || !isfinite(want) || !isfinite(tol) || tol < 0)
            dam_die(DAM_EXIT_INPUT, "%s:%d: expected TASK METHOD METRIC EXPECTED TOLERANCE (numbers finite, tolerance >= 0)",
                    expected, lineno);
        int metric = 0;
        while (metric < N_METRICS && strcmp(METRICS[metric].name, metric_name) != 0) metric++;
        if (metric == N_METRICS) dam_die(DAM_EXIT_INPUT, "%s:%d: unknown metric \"%s\"", expected, lineno, metric_name);
        int n;
        double v = group_mean(&d, method, task, metric, &n);
        const double diff = v - want;
        const int bad = !(fabs(diff) <= tol + 1e-12); /* NaN (no results, no value) fails */
        n_checks++;
        failures += bad;
        printf("%-10s  %-12s  %-18s  %5d  %12.6f  %12.6f  %10.6f  %10.6f  %s\n", task, method, metric_name, n, want, v, diff, tol,
               bad ? (n ? "DRIFT" : "MISSING") : "ok");
        if (bad && strlen(msgs) < sizeof msgs - 600) {
            if (n == 0)
                snprintf(msgs + strlen(msgs), sizeof msgs - strlen(msgs), "dam: check failed: %s:%d: no results of %s on %s\n",
                         expected, lineno, method, task);
            else
                snprintf(msgs + strlen(msgs), sizeof msgs - strlen(msgs),
                         "dam: check failed: %s:%d: %s on %s: %s %.6f, expected %.6f +- %g (off by %.6f)\n", expected, lineno,
                         method, task, metric_name, v, want, tol, diff);
        }
    }
    if (ferror(fp)) dam_die(DAM_EXIT_INPUT, "%s: read error", expected);
    fclose(fp);
    if (n_checks == 0) dam_die(DAM_EXIT_INPUT, "%s: no expected values", expected);
    fflush(stdout);
    fputs(msgs, stderr);
    if (failures) fprintf(stderr, "dam: check failed: %d of %d expected values off\n", failures, n_checks);
    run_data_free(&d);
    return failures ? DAM_EXIT_CHECK : DAM_EXIT_OK;
}

/* One compared (task, method) cell. */
typedef struct {
    const char *task, *method;
    int n;
    double base, value, drop;
    int regressed;
} cell;

int cmd_check(int argc, char **argv) {
    const char *path = NULL, *baseline = "full", *metric_name = "score", *expected = NULL;
    bool gate_flags = false;
    double max_drop = 0.01;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--baseline") == 0) baseline = arg_value(argc, argv, &i), gate_flags = true;
        else if (strcmp(a, "--max-drop") == 0) max_drop = arg_double(a, arg_value(argc, argv, &i)), gate_flags = true;
        else if (strcmp(a, "--metric") == 0) metric_name = arg_value(argc, argv, &i), gate_flags = true;
        else if (strcmp(a, "--expected") == 0) expected = arg_value(argc, argv, &i);
        else if (a[0] == '-' && a[1] != 0) dam_die(DAM_EXIT_INPUT, "check: unknown argument %s (see --help)", a);
        else if (path) dam_die(DAM_EXIT_INPUT, "check: more than one results file (%s, %s)", path, a);
        else path = a;
    }
    if (path == NULL) dam_die(DAM_EXIT_INPUT, "check: give a results file (see --help)");
    if (expected) {
        if (gate_flags) dam_die(DAM_EXIT_INPUT, "check: --expected excludes --baseline, --max-drop and --metric (run check twice)");
        return check_expected(path, expected);
    }
    if (max_drop < 0) dam_die(DAM_EXIT_INPUT, "--max-drop: %g is negative", max_drop);
    int metric = 0;
    while (metric < N_METRICS && strcmp(METRICS[metric].name, metric_name) != 0) metric++;
    if (metric == N_METRICS)
        dam_die(DAM_EXIT_INPUT, "--metric: unknown metric \"%s\" (score, answer_nll, logit_kl, tail_mass_recall, spread_mass_recall)", metric_name);
    int sign = METRICS[metric].higher_better ? 1 : -1;

    run_data d;
    results_read_h5(path, &d);
    if (!run_data_find_method(&d, baseline)) {
        char names[512] = "";
        for (int m = 0; m < d.n_methods; m++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", m ? ", " : "", d.methods[m].name);
        dam_die(DAM_EXIT_INPUT, "%s: check: no baseline method \"%s\" (methods: %s)", path, baseline, *names ? names : "none");
    }
    if (d.n_methods < 2) dam_die(DAM_EXIT_INPUT, "%s: check: no method other than the baseline %s to check", path, baseline);

    const char **tasks;
    int nt = run_data_tasks(&d, &tasks);
    cell *cells = dam_malloc(sizeof(cell) * (size_t)(nt * d.n_methods + 1), "check cells");
    int nc = 0, regressions = 0;
    for (int t = 0; t < nt; t++) {
        int base_n = 0;
        for (int i = 0; i < d.n_results; i++)
            if (strcmp(d.results[i].method, baseline) == 0 && strcmp(d.results[i].task, tasks[t]) == 0) base_n++;
        for (int m = 0; m < d.n_methods; m++) {
            const char *mname = d.methods[m].name;
            if (strcmp(mname, baseline) == 0) continue;
            double sb = 0, sm = 0;
            int n = 0, have = 0;
            for (int i = 0; i < d.n_results; i++) {
                const result_record *r = &d.results[i];
                if (strcmp(r->method, mname) || strcmp(r->task, tasks[t])) continue;
                have++;
                const result_record *b = run_data_find_result(&d, baseline, r->task, r->index);
                if (!b) continue;
                double vm = metric_value(r, metric), vb = metric_value(b, metric);
                if (isnan(vm) || isnan(vb)) continue;
                sb += vb;
                sm += vm;
                n++;
            }
            if (have == 0 && base_n == 0) continue; /* neither ran this task */
            if (n == 0)
                dam_die(DAM_EXIT_INPUT, "%s: check: task %s: %s (%d results) and baseline %s (%d results) have no common example with a %s",
                        path, tasks[t], mname, have, baseline, base_n, metric_name);
            cell *c = &cells[nc++];
            c->task = tasks[t];
            c->method = mname;
            c->n = n;
            c->base = sb / n;
            c->value = sm / n;
            c->drop = sign * (c->base - c->value);
            c->regressed = c->drop > max_drop + 1e-9;
            regressions += c->regressed;
        }
    }
    if (nc == 0) dam_die(DAM_EXIT_INPUT, "%s: check: nothing to compare (no results besides the baseline's)", path);

    int wt = 4, wm = 6;
    for (int i = 0; i < nc; i++) {
        if ((int)strlen(cells[i].task) > wt) wt = (int)strlen(cells[i].task);
        if ((int)strlen(cells[i].method) > wm) wm = (int)strlen(cells[i].method);
    }
    printf("check %s: %s against %s, max drop %g (%s is better)\n", path, metric_name, baseline, max_drop,
           sign > 0 ? "higher" : "lower");
    printf("%-*s  %-*s  %5s  %10s  %10s  %10s  %s\n", wt, "task", wm, "method", "n", baseline, "method", "drop", "status");
    for (int i = 0; i < nc; i++) {
        const cell *c = &cells[i];
        printf("%-*s  %-*s  %5d  %10.4f  %10.4f  %10.4f  %s\n", wt, c->task, wm, c->method, c->n, c->base, c->value, c->drop,
               c->regressed ? "REGRESSION" : "ok");
    }
    fflush(stdout);
    for (int i = 0; i < nc; i++) {
        const cell *c = &cells[i];
        if (c->regressed)
            fprintf(stderr, "dam: check failed: %s on %s: %s %.4f vs %s %.4f over %d examples (drop %.4f > %g)\n", c->method,
                    c->task, metric_name, c->value, baseline, c->base, c->n, c->drop, max_drop);
    }
    if (regressions) fprintf(stderr, "dam: check failed: %d regression%s\n", regressions, regressions == 1 ? "" : "s");
    dam_free(cells);
    dam_free(tasks);
    run_data_free(&d);
    return regressions ? DAM_EXIT_CHECK : DAM_EXIT_OK;
}
