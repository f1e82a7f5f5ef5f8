/* cmd_compare.c — `dam compare A.h5 B.h5`: how far two runs of the same examples agree, result by
 * result — e.g. the GPU backend against the CPU (docs/cuda.md), or two commits. Results are matched
 * by (method, task, index); their examples must have the same prompt token ids (ids_sha256), or the
 * comparison is refused. Per method: identical predictions (the generated text, byte for byte), equal
 * scores, and the mean and largest absolute differences of answer NLL, logit KL and density; then
 * every matched result whose prediction differs, with both predictions. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/args.h"
#include "harness/commands.h"
#include "harness/results_h5.h"

static const char *HELP =
    "usage: dam compare A.h5 B.h5 [--list N]\n"
    "\n"
    "Compares two results files of the same examples (e.g. `dam run --device cuda` against the CPU\n"
    "run of the same config): results are matched by (method, task, example index); an example whose\n"
    "prompt token ids differ between the files is an error; a method whose settings differ between\n"
    "the two configs, or different model files, get a warning. Prints, per method, how many matched\n"
    "results have identical predictions and equal scores, and the mean / largest absolute difference\n"
    "of answer NLL, logit KL and density; then the results whose predictions differ (at most N,\n"
    "default 100), with both predictions. Exit status 0, or 2 for unreadable files, different prompts\n"
    "or no matched result.\n";

typedef struct {
    int n, same_pred, same_score;
    double dnll, dnll_max, dkl, ddens;
} method_stats;

/* |a - b|, 0 when both are NaN (e.g. logit KL of methods without a full-attention reference) */
static double absdiff(double a, double b) { return isnan(a) && isnan(b) ? 0.0 : fabs(a - b); }

/* prints s with newlines and quotes escaped, at most `max` bytes */
static void print_escaped(const char *s, int max) {
    putchar('"');
    for (int i = 0; s && s[i] && i < max; i++) {
        if (s[i] == '\n') fputs("\\n", stdout);
        else if (s[i] == '"') fputs("\\\"", stdout);
        else putchar(s[i]);
    }
    if (s && (int)strlen(s) > max) fputs("...", stdout);
    putchar('"');
}

/* A config method object's instance name: its "name", else its "method" (NULL if neither). */
static const char *method_name(json_t *mo) {
    const char *n = json_string_value(json_object_get(mo, "name"));
    return n ? n : json_string_value(json_object_get(mo, "method"));
}

/* Warns for every method name whose settings differ between the two runs' resolved configs (the
 * same name can then mean different masks). Silent when a config is not readable JSON. */
static void warn_method_settings(const run_data *A, const run_data *B) {
    json_t *ca = A->config_json ? json_loads(A->config_json, 0, NULL) : NULL;
    json_t *cb = B->config_json ? json_loads(B->config_json, 0, NULL) : NULL;
    size_t i, j;
    json_t *ma, *mb;
    json_array_foreach(json_object_get(ca, "methods"), i, ma) {
        const char *n = method_name(ma);
        json_array_foreach(json_object_get(cb, "methods"), j, mb) {
            const char *nb = method_name(mb);
            if (n && nb && strcmp(n, nb) == 0 && !json_equal(ma, mb))
                dam_warn("method %s has different settings in the two runs: matched results compare different methods", n);
        }
    }
    json_decref(ca);
    json_decref(cb);
}

int cmd_compare(int argc, char **argv) {
    const char *pa = NULL, *pb = NULL;
    long list = 100;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--list") == 0) list = arg_long(a, arg_value(argc, argv, &i), 0, 1000000);
        else if (a[0] == '-') dam_die(DAM_EXIT_INPUT, "compare: unknown option %s (see --help)", a);
        else if (!pa) pa = a;
        else if (!pb) pb = a;
        else dam_die(DAM_EXIT_INPUT, "compare: more than two results files given");
    }
    if (!pb) dam_die(DAM_EXIT_INPUT, "compare: two results files needed (see --help)");
    run_data A, B;
    run_data_init(&A);
    run_data_init(&B);
    results_read_h5(pa, &A);
    results_read_h5(pb, &B);
    if (strcmp(A.model.file_sha256, B.model.file_sha256) != 0)
        dam_warn("the runs used different model files (sha256 %.12s vs %.12s)", A.model.file_sha256, B.model.file_sha256);
    for (int i = 0; i < A.n_examples; i++) {
        const example_record *ea = &A.examples[i], *eb = run_data_find_example(&B, ea->task, ea->index);
        if (eb && strcmp(ea->ids_sha256, eb->ids_sha256) != 0)
            dam_die(DAM_EXIT_INPUT, "%s #%d: the prompts differ between %s and %s (ids sha256 %.12s vs %.12s)", ea->task,
                    ea->index, pa, pb, ea->ids_sha256, eb->ids_sha256);
    }
    warn_method_settings(&A, &B);
    printf("# dam compare: A = %s (%s, %s), B = %s (%s, %s)\n", pa, A.device, A.git_revision, pb, B.device, B.git_revision);
    method_stats *st = dam_calloc(A.n_results > 0 ? A.n_results : 1, sizeof(method_stats), "compare");
    const char **names = dam_calloc(A.n_results > 0 ? A.n_results : 1, sizeof(char *), "compare");
    int n_names = 0, matched = 0, only_b = 0;
    for (int i = 0; i < A.n_results; i++) {
        const result_record *ra = &A.results[i], *rb = run_data_find_result(&B, ra->method, ra->task, ra->index);
        if (!rb) continue;
        int m = 0;
        while (m < n_names && strcmp(names[m], ra->method) != 0) m++;
        if (m == n_names) names[n_names++] = ra->method;
        method_stats *s = &st[m];
        const double dn = absdiff(ra->answer_nll, rb->answer_nll);
        s->n++;
        s->same_pred += strcmp(ra->prediction, rb->prediction) == 0;
        s->same_score += ra->score == rb->score;
        s->dnll += dn;
        s->dnll_max = dn > s->dnll_max ? dn : s->dnll_max;
        s->dkl += absdiff(ra->logit_kl, rb->logit_kl);
        s->ddens += absdiff(ra->density, rb->density);
        matched++;
    }
    for (int i = 0; i < B.n_results; i++)
        only_b += run_data_find_result(&A, B.results[i].method, B.results[i].task, B.results[i].index) == NULL;
    printf("# %d matched results, %d only in A, %d only in B\n", matched, A.n_results - matched, only_b);
    if (matched == 0) dam_die(DAM_EXIT_INPUT, "%s and %s have no result in common", pa, pb);
    printf("%-16s %5s %18s %18s %12s %12s %12s %14s\n", "method", "n", "same_prediction", "same_score", "mean|dNLL|",
           "max|dNLL|", "mean|dKL|", "mean|ddensity|");
    for (int m = 0; m < n_names; m++) {
        const method_stats *s = &st[m];
        char p[32], sc[32];
        snprintf(p, sizeof p, "%d (%.1f%%)", s->same_pred, 100.0 * s->same_pred / s->n);
        snprintf(sc, sizeof sc, "%d (%.1f%%)", s->same_score, 100.0 * s->same_score / s->n);
        printf("%-16s %5d %18s %18s %12.4f %12.4f %12.4f %14.2e\n", names[m], s->n, p, sc, s->dnll / s->n, s->dnll_max,
               s->dkl / s->n, s->ddens / s->n);
    }
    int listed = 0, differ = 0;
    for (int i = 0; i < A.n_results; i++) {
        const result_record *ra = &A.results[i], *rb = run_data_find_result(&B, ra->method, ra->task, ra->index);
        if (!rb || strcmp(ra->prediction, rb->prediction) == 0) continue;
        if (differ++ == 0) printf("# predictions that differ (A | B):\n");
        if (listed >= list) continue;
        listed++;
        printf("%s %s #%d: score %.2f | %.2f, nll %.3f | %.3f, ", ra->method, ra->task, ra->index, ra->score, rb->score,
               ra->answer_nll, rb->answer_nll);
        print_escaped(ra->prediction, 60);
        fputs(" | ", stdout);
        print_escaped(rb->prediction, 60);
        putchar('\n');
    }
    if (differ > listed) printf("# ... %d more not listed (--list)\n", differ - listed);
    if (differ == 0) printf("# every matched prediction is identical\n");
    dam_free(names);
    dam_free(st);
    run_data_free(&A);
    run_data_free(&B);
    return 0;
}
