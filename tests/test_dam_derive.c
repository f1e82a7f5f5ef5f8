/* test_dam_derive.c — DAM masks re-derived from a pattern file's stored mean attention Ā
 * (dam/derive.h) equal the masks a fresh calibration with those thresholds gives, head by head:
 * for the calibration's own parameters, for another scalar τ and μ, and for per-layer and
 * per-layer x head values (each head equals the calibration with its own value). The stored Ā
 * round-trips through the HDF5 file bit for bit, and rewriting gives identical bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "dam/calibrate.h"
#include "dam/derive.h"
#include "dam/plan.h"
#include "dam/stage1.h"
#include "kernels/maskplan.h"
#include "test.h"

#define MODEL "models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define CORPUS "data/jargon.txt.gz"

static dam_patterns *calibrate(const llama_model *m, double tau, double mu, int cells) {
    dam_params par;
    dam_params_default(&par);
    par.L = 48;
    par.tau = tau;
    par.mu = mu;
    par.min_pattern_cells = cells;
    dam_calib_opts o = {CORPUS, CORPUS, "none", 2, par, 0};
    return dam_calibrate(m, &o);
}

static int same_head(const dam_head *a, const dam_head *b, int L) {
    const size_t words = (size_t)L * maskplan_bitmap_words(L);
    return a->n_diags == b->n_diags && a->n_cols == b->n_cols && a->density == b->density &&
           memcmp(a->mask, b->mask, sizeof(uint64_t) * words) == 0 &&
           (a->n_diags == 0 || memcmp(a->diags, b->diags, sizeof(int32_t) * a->n_diags) == 0) &&
           (a->n_cols == 0 || memcmp(a->cols, b->cols, sizeof(int32_t) * a->n_cols) == 0);
}

static int files_equal(const char *x, const char *y) {
    FILE *a = fopen(x, "rb"), *b = fopen(y, "rb");
    int eq = a && b;
    for (int c; eq && (c = fgetc(a)) != EOF;) eq = c == fgetc(b);
    if (eq) eq = fgetc(b) == EOF;
    if (a) fclose(a);
    if (b) fclose(b);
    return eq;
}

int main(void) {
    llama_model *m = llama_load(MODEL);
    const int L = 48, NL = m->cfg.n_layers, NH = m->cfg.n_heads;
    dam_patterns *base = calibrate(m, 0.3, 0.8, 0), *low = calibrate(m, 0.1, 0.6, 2);
    CHECK(base->abar != NULL, "calibration keeps the mean attention");
    int differ = 0;
    for (int x = 0; x < NL * NH; x++) differ += !same_head(&base->heads[x], &low->heads[x], L);
    CHECK(differ > NL * NH / 2, "tau 0.1 / mu 0.6 should change most heads (changed %d)", differ);

    /* file round trip of Ā, and deterministic bytes */
    char f1[] = "/tmp/dam_derive_XXXXXX";
    int fd = mkstemp(f1);
    close(fd);
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "%s.h5", f1);
    snprintf(p2, sizeof p2, "%s.b.h5", f1);
    dam_patterns_write(base, p1);
    dam_patterns_write(base, p2);
    CHECK(files_equal(p1, p2), "rewriting the same set gives identical bytes");
    dam_patterns *back = dam_patterns_read(p1, NULL);
    CHECK(dam_patterns_equal(base, back), "pattern file with mean attention round-trips");

    /* same parameters: identical */
    param l05 = param_scalar(0.5), p48 = param_scalar(L);
    param t03 = param_scalar(0.3), m08 = param_scalar(0.8), c0 = param_scalar(0);
    dam_derive(back, &l05, &t03, &m08, &c0, &p48);
    CHECK(dam_patterns_equal(base, back), "re-deriving with the calibration's parameters changes nothing");

    /* other scalars: equal to a calibration with them */
    param t01 = param_scalar(0.1), m06 = param_scalar(0.6), c2 = param_scalar(2);
    dam_derive(back, &l05, &t01, &m06, &c2, &p48);
    int bad = 0;
    for (int x = 0; x < NL * NH; x++) bad += !same_head(&back->heads[x], &low->heads[x], L);
    CHECK(bad == 0, "%d heads differ from a calibration with tau 0.1, mu 0.6, cells 2", bad);

    /* per layer (tau, mu, cells all per layer: layer 3 low, others base) and per layer x head */
    param tl = {NL, 0, malloc(sizeof(double) * NL)}, ml = {NL, 0, malloc(sizeof(double) * NL)};
    param cl = {NL, 0, malloc(sizeof(double) * NL)};
    for (int l = 0; l < NL; l++) tl.v[l] = l == 3 ? 0.1 : 0.3, ml.v[l] = l == 3 ? 0.6 : 0.8, cl.v[l] = l == 3 ? 2 : 0;
    dam_derive(back, &l05, &tl, &ml, &cl, &p48);
    bad = 0;
    for (int x = 0; x < NL * NH; x++) bad += !same_head(&back->heads[x], x / NH == 3 ? &low->heads[x] : &base->heads[x], L);
    CHECK(bad == 0, "per-layer thresholds: %d heads differ from their own calibration", bad);
    CHECK(back->par.tau != back->par.tau && back->par.min_pattern_cells == -1, "per-layer values are not scalars");
    param th = {NL, NH, malloc(sizeof(double) * NL * NH)}, mh = {NL, NH, malloc(sizeof(double) * NL * NH)};
    param ch = {NL, NH, malloc(sizeof(double) * NL * NH)};
    for (int x = 0; x < NL * NH; x++) {
        int lowh = x % 7 == 2;
        th.v[x] = lowh ? 0.1 : 0.3, mh.v[x] = lowh ? 0.6 : 0.8, ch.v[x] = lowh ? 2 : 0;
    }
    dam_derive(back, &l05, &th, &mh, &ch, &p48);
    bad = 0;
    for (int x = 0; x < NL * NH; x++) bad += !same_head(&back->heads[x], x % 7 == 2 ? &low->heads[x] : &base->heads[x], L);
    CHECK(bad == 0, "per-head thresholds: %d heads differ from their own calibration", bad);

    /* per-head λ: the heads with λ = 0 equal a set derived with λ = 0 everywhere */
    param lh = {NL, NH, malloc(sizeof(double) * NL * NH)}, l0 = param_scalar(0.0);
    for (int x = 0; x < NL * NH; x++) lh.v[x] = x % 5 == 1 ? 0.0 : 0.5;
    dam_derive(back, &l0, &t03, &m08, &c0, &p48);
    dam_patterns *all0 = dam_patterns_read(p1, NULL);
    dam_derive(all0, &l0, &t03, &m08, &c0, &p48);
    dam_derive(back, &lh, &t03, &m08, &c0, &p48);
    bad = 0;
    for (int x = 0; x < NL * NH; x++) bad += !same_head(&back->heads[x], x % 5 == 1 ? &all0->heads[x] : &base->heads[x], L);
    CHECK(bad == 0, "per-head lambda: %d heads differ", bad);
    /* per-layer PCL: a head with L_h = 24 is Stage 1 on the top-left 24 x 24 corner of its Ā,
       computed here with the Stage 1 functions directly */
    param pl = {NL, 0, malloc(sizeof(double) * NL)};
    for (int l = 0; l < NL; l++) pl.v[l] = l == 5 ? 24 : L;
    dam_derive(back, &l05, &t03, &m08, &c0, &pl);
    bad = 0;
    for (int h = 0; h < NH; h++) {
        const int x = 5 * NH + h, Lh = 24;
        double *corner = malloc(sizeof(double) * Lh * Lh);
        const float *a = base->abar + (size_t)x * (L * (L + 1) / 2);
        for (int i = 0; i < Lh; i++)
            for (int j = 0; j < Lh; j++) corner[i * Lh + j] = j <= i ? (double)a[i * (i + 1) / 2 + j] : 0.0;
        dam_params ph;
        dam_params_default(&ph);
        ph.L = Lh;
        dam_head ref = {Lh, calloc((size_t)Lh * maskplan_bitmap_words(Lh), sizeof(uint64_t)), 0, dam_malloc(4, "d"), 0,
                        dam_malloc(4, "c"), 0};
        dam_stage1_head(corner, &ph, dam_boxcox(ph.eps, ph.lambda), &ref);
        bad += !(back->heads[x].L == Lh && same_head(&back->heads[x], &ref, Lh));
        free(corner);
        free(ref.mask);
        dam_free(ref.diags);
        dam_free(ref.cols);
    }
    CHECK(bad == 0, "per-layer pcl: %d heads of layer 5 differ from Stage 1 on the 24 x 24 corner", bad);
    for (int x = 0; x < NL * NH; x++)
        if (x / NH != 5) bad += !same_head(&back->heads[x], &base->heads[x], L);
    CHECK(bad == 0, "per-layer pcl changed %d heads of other layers", bad);
    maskplan *mp = dam_plan(back, 5, 0);
    CHECK(mp->bitmap_L == 24, "the plan of a 24-token-PCL head has a %d x %d bitmap", mp->bitmap_L, mp->bitmap_L);
    maskplan_free(mp);
    free(lh.v);
    free(pl.v);
    param_free(&l0);
    dam_patterns_free(all0);

    param_free(&l05); param_free(&p48);
    param_free(&t03); param_free(&m08); param_free(&c0); param_free(&t01); param_free(&m06); param_free(&c2);
    free(tl.v); free(ml.v); free(cl.v); free(th.v); free(mh.v); free(ch.v);
    unlink(f1);
    unlink(p1);
    unlink(p2);
    dam_patterns_free(back);
    dam_patterns_free(base);
    dam_patterns_free(low);
    llama_free(m);
    return test_done("dam_derive");
}
