/* moa.h — MoA's elastic windows and its profile file, shared by the method (baselines/moa.c) and
 * the profile search (tests/tools/moa_search.c). See moa.c for the method's definition. */
#ifndef DAM_BASELINES_MOA_H
#define DAM_BASELINES_MOA_H

#include <math.h>

/* The window of a head with elastic rule (alpha, beta) for a prompt of n tokens:
 * max(1, ⌊alpha + beta · n⌋) recent keys, the query included. */
static inline long moa_window(double alpha, double beta, long n) {
    const double w = floor(alpha + beta * (double)n);
    return w < 1 ? 1 : w > 1e15 ? (long)1e15 : (long)w;
}

/* A MoA profile: per layer × query head α (tokens) and β (fraction of the prompt length). */
typedef struct {
    int n_layers, n_heads;
    double *alpha; /* [n_layers][n_heads], >= 0 */
    double *beta;  /* [n_layers][n_heads], in [0, 1] */
} moa_profile;

/* Reads a profile file: a JSON object {"alphas": [[...]], "betas": [[...]]} (MoA's own
 * moa_alpha_beta.json layout: one list per layer, one number per query head), plus optional
 * "model" (string) and "meta" (object, ignored). Checks that both matrices are n_layers × n_heads,
 * that every α is a finite number >= 0 and every β a number in [0, 1], and that no other key is
 * present. Any problem (missing or unreadable file, malformed JSON, wrong shape, bad value) exits
 * with status 2 and a one-line message that starts with the path and names the key
 * ("configs/p.json: alphas[3][2]: -5 must be >= 0"). Caller frees with moa_profile_free. */
moa_profile moa_profile_load(const char *path, int n_layers, int n_heads);

/* Frees the profile's arrays and zeroes it. */
void moa_profile_free(moa_profile *p);

#endif
