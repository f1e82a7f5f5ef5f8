/* cmd_inspect.c — `dam inspect RESULTS.h5 [--csv] [--ruler]`: a summary table per (task, method,
 * target length), or the per-example rows as CSV, or the RULER summary layout (text or CSV). */
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
#include "harness/summary.h"
#include "harness/summary_ruler.h"

static const char *HELP =
    "usage: dam inspect RESULTS.h5 [--csv] [--ruler] [--baseline NAME]\n"
    "\n"
    "Summarises a results file (docs/hdf5.md) on stdout: one row per (task, method, target length)\n"
    "with the number of examples, accuracy (mean score) and its Wilson 95% interval, mean answer NLL\n"
    "(nats/token), mean logit KL against full attention (nats), mean density, mean tail and spread\n"
    "mass recall (over layers, heads and examples), median prefill and mask-build time (ms) and the\n"
    "largest peak memory (MiB). Cells where the baseline itself scores below 0.5 are marked\n"
    "'uninformative' (docs/metrics.md): no method can be told apart from full attention there.\n"
    "  --csv            print the per-example rows as CSV instead: a header line, then one row per\n"
    "                   (method, example) with the example's fields and the mean of each alignment\n"
    "                   metric over layers and heads (NaN as \"nan\")\n"
    "  --baseline NAME  the full-attention method for the 'uninformative' flag (default full)\n"
    "  --ruler          the RULER summary instead: one row per (method, target length), one column\n"
    "                   per RULER task present (mean score in %, 2 decimals), and their average;\n"
    "                   with --csv the same as CSV (method,length,<tasks>,average)\n";

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
    fputs("method,task,index,target_len,n_tokens,n_truncated,depth,sample,answer,score,prediction,answer_nll,logit_kl,"
          "prefill_ms,mask_ms,decode_ms,n_generated,peak_bytes,kv_bytes,density", stdout);
    for (int m = 0; m < ALIGN_N_METRICS; m++) printf(",mean_%s", ALIGN_METRIC_NAMES[m]);
    putchar('\n');
    for (int i = 0; i < d->n_results; i++) {
        const result_record *r = &d->results[i];
        const example_record *e = run_data_find_example(d, r->task, r->index);
        csv_str(r->method); putchar(',');
        csv_str(r->task); putchar(',');
        printf("%d,%d,%d,%d,", r->index, e->target_len, e->n_tokens, e->n_truncated);
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

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL, *baseline = "full";
    int csv = 0, ruler = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--csv") == 0) csv = 1;
        else if (strcmp(a, "--ruler") == 0) ruler = 1;
        else if (strcmp(a, "--baseline") == 0) baseline = arg_value(argc, argv, &i);
        else if (a[0] == '-' && a[1] != 0) dam_die(DAM_EXIT_INPUT, "inspect: unknown argument %s (see --help)", a);
        else if (path) dam_die(DAM_EXIT_INPUT, "inspect: more than one results file (%s, %s)", path, a);
        else path = a;
    }
    if (path == NULL) dam_die(DAM_EXIT_INPUT, "inspect: give a results file (see --help)");
    run_data d;
    results_read_h5(path, &d);
    if (strcmp(baseline, "full") != 0 && run_data_find_method(&d, baseline) == NULL)
        dam_die(DAM_EXIT_INPUT, "%s: inspect: --baseline %s: no such method in this file", path, baseline);
    if (ruler) {
        summary_ruler_print(stdout, &d, path, csv);
        run_data_free(&d);
        return 0;
    }
    if (csv) {
        print_csv(&d);
        run_data_free(&d);
        return 0;
    }

    summary_print(stdout, &d, path, baseline);
    run_data_free(&d);
    return 0;
}
