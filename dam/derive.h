/* derive.h — Stage 1 from a stored averaged attention map Ā (dam_patterns.abar): the true masks,
 * matched diagonals R and columns C of every head for given thresholds, without running the model
 * (docs/dam-spec.md §1.4-1.8). Calibration itself derives its masks through this function, so a
 * set re-derived with the calibration's own parameters is identical to the calibrated one.
 *
 * λ and ε are global: the shift Ã = B − min(B) takes one minimum over all layers and heads
 * (stage1.h Decision), which is only defined for one λ. τ, μ and min_pattern_cells may be given per
 * layer or per layer × query head (core/param.h) to ablate them; the heads are then derived with
 * their own values. */
#ifndef DAM_DAM_DERIVE_H
#define DAM_DAM_DERIVE_H

#include "core/param.h"
#include "dam/patterns.h"

/* Rebuilds every head of p (mask, density, R, C) from p->abar (must be present) with global λ and
 * per-head τ, μ, min_pattern_cells (each param scalar, per layer or per layer × head; shapes
 * already checked against p's layers and heads). p->par.lambda is set to λ; p->par.tau, mu and
 * min_pattern_cells to the scalars, or to NaN / -1 when given per layer or head. Exits with status
 * 2 naming the value if a per-head value is out of range (τ < 0, μ outside [0, 1], cells > L).
 * Deterministic: each head is computed on its own, in a fixed order of operations. */
void dam_derive(dam_patterns *p, double lambda, const param *tau, const param *mu, const param *min_cells);

#endif
