/* stage1.h — DAM Stage 1 on an averaged attention map: Box-Cox amplification, shift, true mask,
 * pattern matching (docs/dam-spec.md §1.4-1.8). Pure functions of Ā and the parameters, independent of
 * the model, so they can be checked by hand (tests/test_dam.c).
 *
 * Maps are float64, row-major [L][L]: cell (i, j) = query position i, key position j; only causal
 * cells j <= i carry attention. A stack of maps is [n_layers][n_heads][L][L].
 *
 * Decision (docs/dam-spec.md §1.5, "Ã = B − min(B) over all layers, heads, positions"): the minimum
 * runs over ALL L x L cells of ALL maps, the non-causal upper triangle included, where Ā = 0 (it
 * is never accumulated). Since X = max(Ā, ε) and B is increasing in X for every λ, any cell with
 * Ā <= ε gives min(B) = B(ε); for L >= 2 the upper triangle guarantees one, so Ã = B(X) − B(ε),
 * which for λ = 0.5 is the doc's closed form 2(sqrt(X) − sqrt(ε)) and for λ = 0 is ln(X / ε).
 * The shift is therefore a global constant, not a per-head normalisation. */
#ifndef DAM_DAM_STAGE1_H
#define DAM_DAM_STAGE1_H

#include <stdint.h>

#include "dam/patterns.h"

/* Box-Cox transform of x > 0 (§1.4): (x^λ − 1) / λ for λ != 0, ln x for λ = 0. */
double dam_boxcox(double x, double lambda);

/* B = Box-Cox(max(abar, ε)) with the parameters' λ and ε (§1.4). */
double dam_amplify(double abar, const dam_params *p);

/* min(B) over the L x L cells of one map abar[L][L], the upper triangle counted as Ā = 0 whatever
 * it holds (see the Decision above). The global min(B) is the minimum of this over all maps. */
double dam_map_min_amplified(const double *abar, int L, const dam_params *p);

/* Ã = B(max(Ā, ε)) − bmin (§1.5) for every cell of abar[L][L] into atilde[L][L]; upper-triangle
 * cells get B(ε) − bmin (0 when bmin is the global minimum). */
void dam_shift_map(const double *abar, int L, const dam_params *p, double bmin, double *atilde);

/* True mask (§1.6): bit (i, j) of mask (maskplan bitmap layout, [L][ceil(L / 64)] words, cleared
 * here first) is set iff j <= i and atilde[i][j] >= tau. Returns the number of set bits. */
int64_t dam_true_mask(const double *atilde, int L, double tau, uint64_t *mask);

/* Match scores (§1.8) of the 2L patterns against a true mask: gamma_diag[r] = fraction of the
 * L − r cells (i, i − r), i = r .. L−1, that are set; gamma_col[c] = fraction of the L − c cells
 * (i, c), i = c .. L−1, that are set. Both outputs [L]. γ is computed as (double)hits / cells. */
void dam_match_scores(const uint64_t *mask, int L, double *gamma_diag, double *gamma_col);

/* Matched patterns (§1.8 and the min_pattern_cells guard): writes to out (capacity L), ascending,
 * every k in [0, L) with gamma[k] >= mu and L − k >= min_cells (pattern k of either family has
 * L − k cells); returns their number. */
int dam_select_patterns(const double *gamma, int L, double mu, int min_cells, int32_t *out);

/* Stage 1 for one (layer, head): Ã from abar[L][L] and the global bmin, the true mask into
 * h->mask (allocated by the caller, [L][ceil(L / 64)] words), h->density, and R, C (replacing
 * h's previous arrays). L is p->L. */
void dam_stage1_head(const double *abar, const dam_params *p, double bmin, dam_head *h);

/* Stage 1 for a whole stack abar[n_layers][n_heads][L][L] (L = p->L): computes the global
 * min(B), then every head (OpenMP over heads; each head is independent, so the result does not
 * depend on the thread count). Returns a new pattern set with empty provenance (caller fills it
 * and frees the set). */
dam_patterns *dam_stage1(const double *abar, int n_layers, int n_heads, const dam_params *p);

#endif
