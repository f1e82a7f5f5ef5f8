/* plan.h — DAM Stage 2 (docs/dam-spec.md §2): the MaskPlan of one (layer, query head), valid for any
 * sequence length n.
 *
 * The extended mask of §2 is exactly a MaskPlan (kernels/maskplan.h) with three parts:
 *   bitmap    the L x L true mask of (l, h) with the main diagonal OR-ed in; inside its region
 *             (i < L and j < L) it alone decides, so for n <= L the mask is the top-left n x n block
 *             of the true mask AND causal, and matched patterns add no cells there (§2);
 *   diags     R ∪ {0};
 *   cols      C;
 * and every causal pair outside the region is kept iff (i − j) ∈ R ∪ {0} or j ∈ C. Decisions
 * (docs/dam-spec.md §2): the rule covers rows i >= L with j < L too (late rows reach early columns),
 * and the main diagonal (r = 0) is always kept, inside the bitmap as well, so no row is empty. The
 * plan depends on (layer, head) only, never on n or the input; n enters only when a kernel walks it.
 *
 * Reachability (§2): R and C lie in [0, L), so in one layer row i >= 2L reaches only keys in
 * (i − L, i] and the columns C; keys in [L, i − L) are unreachable (tests/test_dam.c checks it). */
#ifndef DAM_DAM_PLAN_H
#define DAM_DAM_PLAN_H

#include "dam/patterns.h"
#include "kernels/maskplan.h"

/* The Stage 2 plan of (layer, q_head) of pattern set p; caller frees with maskplan_free. Exits
 * with status 2 if layer or q_head is out of range. Cost O(L² / 64 + |R| + |C|). */
maskplan *dam_plan(const dam_patterns *p, int layer, int q_head);

#endif
