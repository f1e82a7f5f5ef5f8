/* method.c — see method.h. */
#include "harness/method.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/timer.h"
#include "dam/calibrate.h"
#include "dam/plan.h"

static const char *const NAMES[] = {"full", "streaming", "dam"};

const char *method_kind_name(method_kind k) { return NAMES[k]; }

bool method_kind_parse(const char *s, method_kind *k) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, NAMES[i]) == 0) {
            *k = (method_kind)i;
            return true;
        }
    return false;
}

void method_prepare(method *meth, const llama_model *m) {
    if (meth->kind != METHOD_DAM || meth->dam.patterns) return;
    dam_method *d = &meth->dam;
    struct stat st;
    if (stat(d->patterns_path, &st) != 0) {
        fprintf(stderr, "dam: no pattern file %s: calibrating DAM (PCL %d, %d sequences of %s)\n", d->patterns_path,
                d->par.L, d->sequences, d->corpus);
        dam_calib_opts o = {d->corpus, d->corpus, d->prefix, d->sequences, d->par, 1};
        double t0 = now_ms();
        dam_patterns *p = dam_calibrate(m, &o);
        dam_patterns_write(p, d->patterns_path);
        fprintf(stderr, "dam: calibration done in %.1f s, wrote %s\n", (now_ms() - t0) / 1e3, d->patterns_path);
        dam_patterns_free(p);
    }
    dam_expect e = {m->sha256, d->par.L, m->cfg.n_layers, m->cfg.n_heads};
    d->patterns = dam_patterns_read(d->patterns_path, &e);
    const dam_params *a = &d->patterns->par, *b = &d->par;
    if (a->lambda != b->lambda || a->eps != b->eps || a->tau != b->tau || a->mu != b->mu ||
        a->min_pattern_cells != b->min_pattern_cells)
        dam_die(DAM_EXIT_INPUT,
                "%s: calibrated with lambda %g, epsilon %g, tau %g, mu %g, min_pattern_cells %d, but method %s asks "
                "for lambda %g, epsilon %g, tau %g, mu %g, min_pattern_cells %d (delete the file or use another "
                "patterns path)",
                d->patterns_path, a->lambda, a->eps, a->tau, a->mu, a->min_pattern_cells, meth->name, b->lambda, b->eps,
                b->tau, b->mu, b->min_pattern_cells);
}

maskplan *method_plan(const method *m, int layer, int q_head, int n, int n_total) {
    (void)n_total; /* static plans are defined for every position */
    switch (m->kind) {
    case METHOD_FULL:
        return NULL;
    case METHOD_STREAMING:
        return streaming_plan(&m->streaming, n);
    case METHOD_DAM:
        if (m->dam.patterns == NULL) dam_die(DAM_EXIT_RUNTIME, "internal error: method %s used before method_prepare", m->name);
        return dam_plan(m->dam.patterns, layer, q_head);
    }
    return NULL;
}

void method_free(method *m) {
    dam_free(m->name);
    dam_free(m->dam.patterns_path);
    dam_free(m->dam.corpus);
    dam_free(m->dam.prefix);
    dam_patterns_free(m->dam.patterns);
    memset(m, 0, sizeof *m);
}
