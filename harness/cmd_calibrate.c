/* cmd_calibrate.c — `dam calibrate`: DAM Stage 1 (docs/dam-spec.md §1) for one model, written to a
 * pattern file (dam/patterns.h). Progress on stderr, a summary on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/timer.h"
#include "dam/calibrate.h"
#include "dam/patterns.h"
#include "harness/args.h"
#include "harness/commands.h"
#include "harness/registry.h"
#include "model/llama.h"

static const char *HELP =
    "usage: dam calibrate --model M [options] -o patterns/NAME.h5\n"
    "\n"
    "DAM Stage 1 (arXiv 2506.11104; docs/dam.md): runs the model with full attention on\n"
    "calibration sequences of exactly PCL tokens, averages every layer's and query head's attention\n"
    "map, amplifies it (Box-Cox, shift), thresholds it into the true mask and matches diagonal and\n"
    "vertical patterns. Writes the pattern file atomically (temporary file + rename).\n"
    "  --model M               GGUF file, HF directory or registered name (smollm2-135m)\n"
    "  --pcl L                 pattern capture length in tokens (default 512)\n"
    "  --corpus PATH           plain or .gz text (default data/jargon.txt.gz under the project root)\n"
    "  --sequences N           calibration sequences, cut at evenly spaced corpus offsets (default 16)\n"
    "  --prefix none|chat      how each sequence starts, as evaluation prompts do: none = raw text with\n"
    "                          the model's BOS policy (default); chat = the chat template's user-turn\n"
    "                          prefix\n"
    "  --lambda X              Box-Cox exponent, 0 = ln (default 0.5)\n"
    "  --tau X                 true-mask threshold on the shifted map (default 0.3)\n"
    "  --mu X                  pattern match threshold in [0, 1] (default 0.8)\n"
    "  --min-pattern-cells N   drop matched patterns with fewer cells (default 0 = paper)\n"
    "  --threads N             CPU threads (default 0: all cores)\n"
    "  -o PATH                 output pattern file (HDF5), required\n";

static double arg_double(const char *flag, const char *value, double lo, double hi) {
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (errno != 0 || end == value || *end != 0 || !isfinite(v))
        dam_die(DAM_EXIT_INPUT, "%s: \"%s\" is not a finite number", flag, value);
    if (v < lo || v > hi) dam_die(DAM_EXIT_INPUT, "%s: %g is out of range [%g, %g]", flag, v, lo, hi);
    return v;
}

/* Fails early (before the model runs) if -o cannot be written: creates and removes a probe file in
 * the output's folder. An existing file is replaced only if it is a DAM pattern file (a results file
 * or anything else given by mistake stays). */
static void check_output(const char *out) {
    struct stat st;
    if (stat(out, &st) == 0) {
        if (S_ISDIR(st.st_mode)) dam_die(DAM_EXIT_INPUT, "-o %s: is a directory", out);
        if (!dam_patterns_is_pattern_file(out))
            dam_die(DAM_EXIT_INPUT, "-o %s: exists and is not a DAM pattern file (calibrate replaces only pattern files; "
                                    "remove it or choose another path)", out);
    }
    char probe[PATH_MAX + 32];
    if (snprintf(probe, sizeof probe, "%s.tmp.%ld", out, (long)getpid()) >= (int)sizeof probe)
        dam_die(DAM_EXIT_INPUT, "-o %s: path too long", out);
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) dam_die(DAM_EXIT_INPUT, "-o %s: cannot write there: %s", out, strerror(errno));
    close(fd);
    unlink(probe);
}

static void print_summary(const dam_patterns *p, const llama_model *m, double seconds, const char *out) {
    const int H = p->n_heads;
    double dens_all = 0, r_all = 0, c_all = 0;
    int best_l = 0, best_h = 0, best = -1, n_global = 0;
    printf("# dam calibrate: %s (%s), pcl %d, %d sequences from %s (%lld tokens), prefix %s\n", p->model_name,
           out, p->par.L, p->n_sequences, p->corpus, (long long)p->corpus_tokens, p->prefix);
    printf("# lambda %g, epsilon %g, tau %g, mu %g, min_pattern_cells %d\n", p->par.lambda, p->par.eps, p->par.tau,
           p->par.mu, p->par.min_pattern_cells);
    printf("%5s %9s %7s %7s %7s %7s  %s\n", "layer", "density", "mean_R", "mean_C", "max_R", "max_C", "heads |R|+|C|");
    for (int l = 0; l < p->n_layers; l++) {
        if (!m->layers[l].global) { /* the hook never runs there: no map, no mask used */
            printf("%5d  sliding-window layer (%d tokens): part of the model, no method applies\n", l, m->layers[l].window);
            continue;
        }
        n_global++;
        double dens = 0, r = 0, c = 0;
        int max_r = 0, max_c = 0;
        char list[512] = "";
        size_t used = 0;
        for (int h = 0; h < H; h++) {
            const dam_head *hd = &p->heads[(size_t)l * H + h];
            dens += hd->density;
            r += hd->n_diags;
            c += hd->n_cols;
            max_r = hd->n_diags > max_r ? hd->n_diags : max_r;
            max_c = hd->n_cols > max_c ? hd->n_cols : max_c;
            if (hd->n_diags + hd->n_cols > best) {
                best = hd->n_diags + hd->n_cols;
                best_l = l;
                best_h = h;
            }
            if (used < sizeof list)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%d", h ? " " : "", hd->n_diags + hd->n_cols);
        }
        printf("%5d %9.5f %7.2f %7.2f %7d %7d  %s\n", l, dens / H, r / H, c / H, max_r, max_c, list);
        dens_all += dens;
        r_all += r;
        c_all += c;
    }
    const double n = (double)n_global * H;
    printf("# mean true-mask density %.5f, mean |R| %.2f, mean |C| %.2f over %d %slayers x %d heads; most patterns: "
           "layer %d head %d (|R| %d, |C| %d)\n",
           dens_all / n, r_all / n, c_all / n, n_global, n_global < p->n_layers ? "global " : "", H, best_l, best_h,
           p->heads[(size_t)best_l * H + best_h].n_diags, p->heads[(size_t)best_l * H + best_h].n_cols);
    printf("# wrote %s in %.1f s\n", out, seconds);
}

int cmd_calibrate(int argc, char **argv) {
    const char *model = NULL, *corpus = NULL, *prefix = "none", *out = NULL;
    long seqs = 16, threads = 0;
    dam_params par;
    dam_params_default(&par);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--model") == 0) model = arg_value(argc, argv, &i);
        else if (strcmp(a, "--pcl") == 0) par.L = (int)arg_long(a, arg_value(argc, argv, &i), 1, 65536);
        else if (strcmp(a, "--corpus") == 0) corpus = arg_value(argc, argv, &i);
        else if (strcmp(a, "--sequences") == 0) seqs = arg_long(a, arg_value(argc, argv, &i), 1, 1 << 20);
        else if (strcmp(a, "--prefix") == 0) {
            prefix = arg_value(argc, argv, &i);
            if (strcmp(prefix, "none") != 0 && strcmp(prefix, "chat") != 0)
                dam_die(DAM_EXIT_INPUT, "--prefix: \"%s\" is not one of none, chat", prefix);
        }
        else if (strcmp(a, "--lambda") == 0) par.lambda = arg_double(a, arg_value(argc, argv, &i), -5, 5);
        else if (strcmp(a, "--tau") == 0) par.tau = arg_double(a, arg_value(argc, argv, &i), 0, 1e6);
        else if (strcmp(a, "--mu") == 0) par.mu = arg_double(a, arg_value(argc, argv, &i), 0, 1);
        else if (strcmp(a, "--min-pattern-cells") == 0)
            par.min_pattern_cells = (int)arg_long(a, arg_value(argc, argv, &i), 0, 65536);
        else if (strcmp(a, "--threads") == 0) threads = arg_long(a, arg_value(argc, argv, &i), 0, 4096);
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) out = arg_value(argc, argv, &i);
        else dam_die(DAM_EXIT_INPUT, "calibrate: unknown argument %s (see --help)", a);
    }
    if (model == NULL) dam_die(DAM_EXIT_INPUT, "calibrate: --model is required (see --help)");
    if (out == NULL) dam_die(DAM_EXIT_INPUT, "calibrate: -o PATH is required (see --help)");
    if (strlen(out) < 4 || strcmp(out + strlen(out) - 3, ".h5") != 0)
        dam_die(DAM_EXIT_INPUT, "-o %s: the pattern file must end in .h5", out);
    if (par.min_pattern_cells > par.L)
        dam_die(DAM_EXIT_INPUT, "--min-pattern-cells: %d exceeds --pcl %d", par.min_pattern_cells, par.L);

    /* the default corpus lives under the project root; it is recorded by its root-relative name */
    char default_corpus[PATH_MAX + 32];
    const char *label = corpus;
    if (corpus == NULL) {
        snprintf(default_corpus, sizeof default_corpus, "%s/data/jargon.txt.gz", dam_root());
        corpus = default_corpus;
        label = "data/jargon.txt.gz";
    }
    FILE *fp = fopen(corpus, "rb");
    if (fp == NULL)
        dam_die(DAM_EXIT_INPUT, "--corpus %s: cannot open: %s%s", corpus, strerror(errno),
                label != corpus ? " (run `make data`)" : "");
    fclose(fp);
    check_output(out);
    set_threads((int)threads);

    const double t0 = now_ms();
    char *path = model_resolve(model);
    llama_model *m = llama_load(path);
    dam_calib_opts o = {corpus, label, prefix, (int)seqs, par, 1};
    dam_patterns *p = dam_calibrate(m, &o);
    dam_patterns_write(p, out);
    print_summary(p, m, (now_ms() - t0) / 1e3, out);
    dam_patterns_free(p);
    llama_free(m);
    dam_free(path);
    return 0;
}
