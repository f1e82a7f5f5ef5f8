/* alignment.h — how far a method's attention is from full attention, per query row
 * (docs/dam-spec.md §5), computed inside the same forward pass from the layer's q, K, V and the
 * method's output row (never a second model).
 *
 * For query position p of one head, with P_full = softmax(q·K[0..p]^T · scale):
 *   mass_recall    = Σ_{j kept by the plan} P_full(j)             (1 = all softmax mass kept)
 *   neg_log_recall = −log(mass_recall)  (the KL of the renormalised masked distribution from
 *                    P_full; KL(P_full || P_m) itself is infinite whenever mass is dropped)
 *   out_rel_l2     = ||o_m − o_full|| / ||o_full||,   o_full = Σ_j P_full(j) V[j]
 *   out_cos        = o_m · o_full / (||o_m|| ||o_full||)
 * Soft masks (a plan with a block bias, kernels/maskplan.h): the kept set is read the same way
 * (maskplan_row_word; a bias never drops a pair), so mass_recall counts every kept pair at face
 * value, down-weighted ones included; the bias's effect on the output shows in out_rel_l2 and
 * out_cos, which compare the method's real output.
 * Rows are sampled two ways (tail: the last 64 prompt rows; spread: 64 evenly spaced rows before
 * the tail) so a method cannot look good only where it estimated its mask. */
#ifndef DAM_HARNESS_ALIGNMENT_H
#define DAM_HARNESS_ALIGNMENT_H

#include "kernels/maskplan.h"

enum { ALIGN_ROWS = 64 }; /* rows per sample (tail, spread) */

/* The metrics of one row (see above). */
typedef struct {
    double mass_recall, neg_log_recall, out_rel_l2, out_cos;
} align_row_metrics;

/* Computes the metrics of the row at position `pos` for one head.
 * q: [d] the query (unscaled); k, v: [pos + 1][d] keys/values 0 .. pos of this head's KV head;
 * o_m: [d] the method's output for this row; plan: the method's plan (NULL = all causal kept; a
 * block bias is ignored here, see above);
 * work: caller scratch of at least pos + 1 floats and pos + 1 doubles (work_d); d <= 512.
 * Scores use OpenBLAS sgemv; the softmax and sums are accumulated in double. */
align_row_metrics align_row(const float *q, const float *k, const float *v, const float *o_m, int pos, int d,
                            float scale, const maskplan *plan, float *work, double *work_d);

/* The sampled rows for a prompt of n tokens: the tail rows max(0, n − 64) .. n − 1 and up to 64
 * distinct evenly spaced rows floor(i (n − 64) / 64) before the tail. Writes ascending positions
 * to tail[] and spread[] (capacity ALIGN_ROWS each) and their counts. */
void align_sample_rows(int n, int *tail, int *n_tail, int *spread, int *n_spread);

#endif
