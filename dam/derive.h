/* derive.h — Stage 1 from a stored averaged attention map Ā (dam_patterns.abar): the true masks,
 * matched diagonals R and columns C of every head for given thresholds, without running the model
 * (docs/dam-spec.md §1.4-1.8). Calibration itself derives its masks through this function, so a
 * set re-derived with the calibration's own parameters is identical to the calibrated one.
 *
 * λ, τ, μ, min_pattern_cells and the PCL may be given per layer or per layer × query head
 * (core/param.h); each head is derived with its own values:
 *   - λ: the shift Ã = B − min(B) is taken over all layers, heads and positions (stage1.h
 *     Decision). Because X = max(Ā, ε) ≥ ε and the empty upper triangle has X = ε in every map,
 *     that minimum is exactly B_λ(ε); with per-head λ each head is shifted by B_{λ_h}(ε), which is
 *     the same rule (and the same bits when λ is uniform).
 *   - PCL: a head's L_h ≤ the file's L uses the top-left L_h × L_h corner of its Ā. Causal attention
 *     of rows i < L_h sees only tokens ≤ i, so that corner is what capturing L_h-token sequences
 *     from the same sequence starts would give. ε stays global (it is part of Ā = A / (C + ε)). */
#ifndef DAM_DAM_DERIVE_H
#define DAM_DAM_DERIVE_H

#include "core/param.h"
#include "dam/patterns.h"

/* Rebuilds every head of p (L, mask, density, R, C) from p->abar (must be present) with per-head
 * λ, τ, μ, min_pattern_cells and PCL (each param scalar, per layer or per layer × head; shapes
 * already checked against p's layers and heads). p->par's lambda, tau, mu and min_pattern_cells
 * become the scalars, or NaN / -1 when given per layer or head (par.L stays the file's L). Exits
 * with status 2 naming the layer, head and value if a value is out of range (λ outside [-5, 5],
 * τ < 0, μ outside [0, 1], cells > L_h, L_h outside [1, par.L]). Deterministic: each head is
 * computed on its own, in a fixed order of operations. */
void dam_derive(dam_patterns *p, const param *lambda, const param *tau, const param *mu, const param *min_cells,
                const param *pcl);

#endif
