/* test_dam.c — DAM Stage 1 and Stage 2 (dam/, docs/dam-spec.md §1-2) against values worked out by
 * hand, the pattern file, and the calibration capture:
 *   1. Box-Cox and the shift: literals for λ = 0.5, 1/3, 0 (the ln branch) and the global min(B);
 *   2. a hand-built average Ā (L = 6, 1 layer, 2 heads): Ã values, true masks, match scores,
 *      matched diagonals R and columns C (corner patterns included), min_pattern_cells dropping
 *      them, and the extended Stage 2 mask for n = L + 3 = 9 cell by cell;
 *   3. the λ = 0 branch end to end on the same Ā (τ = 20);
 *   4. reachability of an extended mask (L = 8, n = 30): exact key sets of late rows;
 *   5. the pattern file: write → read round trip (L = 6 and L = 70, not a multiple of 8 or 64),
 *      byte-identical rewrites, and 16 corrupted or mismatching files that must each give one
 *      line naming the file and the item, exit status 2 (read in a forked child);
 *   6. calibration pieces: evenly spaced offsets, the capture hook on hand-made q, K, V (softmax
 *      probabilities 1/3, 2/3, 1/6, ... and the attention output), and on the real model: the hook
 *      leaves the forward pass bit-identical, rows of Ā sum to 1, prefix policies.
 * Run: make build/tests/test_dam && build/tests/test_dam (from the project root). */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/mem.h"
#include "dam/calibrate.h"
#include "dam/patterns.h"
#include "dam/plan.h"
#include "dam/stage1.h"
#include "kernels/cpu/attention.h"
#include "kernels/maskplan.h"
#include "model/llama.h"
#include "test.h"

#define MODEL "models/SmolLM2-135M-Instruct.Q4_1.gguf"

static char tmpdir[256];
static int in_child; /* set in forked children that exit through dam_die on purpose */

/* LeakSanitizer's hook (ASan builds): no leak check in such children — they exit holding live
 * blocks by design, and the parent's OpenMP threads make LSan's stop-the-world unreliable there. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return in_child; }

/* ---- helpers ------------------------------------------------------------------------------ */

static int get_bit(const uint64_t *mask, int L, int i, int j) {
    return (int)((mask[(size_t)i * maskplan_bitmap_words(L) + j / 64] >> (j % 64)) & 1u);
}

/* Checks a mask's causal rows against strings of '0'/'1' (row i has i + 1 characters). */
static void check_mask_rows(const uint64_t *mask, int L, const char *const *rows, const char *what) {
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++) {
            int want = j <= i ? rows[i][j] - '0' : 0;
            CHECK(get_bit(mask, L, i, j) == want, "%s: bit (%d, %d) is %d, want %d", what, i, j, get_bit(mask, L, i, j),
                  want);
        }
}

static void check_list(const int32_t *got, int n_got, const int32_t *want, int n_want, const char *what) {
    int same = n_got == n_want;
    for (int i = 0; same && i < n_got; i++) same = got[i] == want[i];
    char buf[256] = "";
    size_t u = 0;
    for (int i = 0; i < n_got && u < sizeof buf - 16; i++) u += (size_t)snprintf(buf + u, sizeof buf - u, " %d", got[i]);
    CHECK(same, "%s: got {%s } (%d entries), want %d entries", what, buf, n_got, n_want);
}

/* Checks the kept set of a plan over rows 0 .. n-1 against strings (row i: i + 1 characters). */
static void check_plan_rows(const maskplan *mp, int n, const char *const *rows, const char *what) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            int want = rows[i][j] - '0';
            CHECK((int)maskplan_kept(mp, i, j) == want, "%s: (%d, %d) kept %d, want %d", what, i, j,
                  (int)maskplan_kept(mp, i, j), want);
        }
}

/* ---- 1. Box-Cox and the shift ------------------------------------------------------------- */

static void test_boxcox(void) {
    /* (x^λ − 1) / λ: (0.25^0.5 − 1) / 0.5 = (0.5 − 1) / 0.5 = −1; (4^0.5 − 1) / 0.5 = 2;
     * (8^(1/3) − 1) / (1/3) = (2 − 1) * 3 = 3; λ = 0: ln e = 1, ln 1 = 0. */
    CHECK_NEAR(dam_boxcox(0.25, 0.5), -1.0, 1e-15, 0, "boxcox(0.25, 0.5)");
    CHECK_NEAR(dam_boxcox(4.0, 0.5), 2.0, 1e-15, 0, "boxcox(4, 0.5)");
    CHECK_NEAR(dam_boxcox(8.0, 1.0 / 3.0), 3.0, 1e-14, 0, "boxcox(8, 1/3)");
    CHECK_NEAR(dam_boxcox(exp(1.0), 0.0), 1.0, 1e-15, 0, "boxcox(e, 0)");
    CHECK(dam_boxcox(1.0, 0.0) == 0.0, "boxcox(1, 0)");
    dam_params p;
    dam_params_default(&p);
    /* X = max(Ā, ε): Ā = 0 and Ā = 1e-12 both give B(ε) = (sqrt(1e-10) − 1) / 0.5 = 2 (1e-5 − 1) = −1.99998 */
    CHECK_NEAR(dam_amplify(0.0, &p), -1.99998, 1e-12, 0, "B(0) = B(eps)");
    CHECK_NEAR(dam_amplify(1e-12, &p), -1.99998, 1e-12, 0, "B(1e-12) = B(eps)");
    /* Global min over all maps, L = 1 (no upper triangle): maps [0.25] and [0.04]:
     * B(0.25) = −1, B(0.04) = (0.2 − 1) / 0.5 = −1.6 → min = −1.6; Ã of map 0 = −1 − (−1.6) = 0.6. */
    p.L = 1;
    double m0[1] = {0.25}, m1[1] = {0.04}, at[1];
    double bmin = fmin(dam_map_min_amplified(m0, 1, &p), dam_map_min_amplified(m1, 1, &p));
    CHECK_NEAR(bmin, -1.6, 1e-12, 0, "global min over two L = 1 maps");
    dam_shift_map(m0, 1, &p, bmin, at);
    CHECK_NEAR(at[0], 0.6, 1e-12, 0, "shifted value with the min from the other map");
    /* L = 2: the upper triangle (Ā = 0) makes min(B) = B(ε) even when every causal cell is large. */
    double m2[4] = {1.0, 123.0 /* upper cell: ignored, counts as 0 */, 0.5, 0.5};
    p.L = 2;
    CHECK_NEAR(dam_map_min_amplified(m2, 2, &p), -1.99998, 1e-12, 0, "upper triangle gives B(eps)");
}

/* ---- 2. the hand-built average, L = 6 ----------------------------------------------------- */

enum { HL = 6 };
/* Ā[layer 0][head][i][j], rows sum to 1. Head 0: a sink column, the main diagonal, the first
 * sub-diagonal on 4 of its 5 cells, column 3. Head 1: a pure sink (column 0). Upper triangle 0. */
static const double ABAR[2][HL][HL] = {
    {{1.00},
     {0.64, 0.36},
     {0.36, 0.0226, 0.6174},
     {0.25, 0.0225, 0.09, 0.6375},
     {0.01, 0.0, 0.0001, 0.04, 0.9499},
     {0.16, 0.0004, 0.0009, 0.04, 0.0016, 0.7971}},
    {{1.00},
     {0.99, 0.01},
     {0.98, 0.01, 0.01},
     {0.97, 0.01, 0.01, 0.01},
     {0.96, 0.01, 0.01, 0.01, 0.01},
     {0.95, 0.01, 0.01, 0.01, 0.01, 0.01}},
};

static dam_patterns *hand_stage1(double lambda, double tau, int min_cells) {
    dam_params p;
    dam_params_default(&p);
    p.L = HL;
    p.lambda = lambda;
    p.tau = tau;
    p.min_pattern_cells = min_cells;
    return dam_stage1(&ABAR[0][0][0], 1, 2, &p);
}

static void test_hand_stage1(void) {
    dam_params p;
    dam_params_default(&p);
    p.L = HL;
    /* λ = 0.5: Ã = B(X) − B(ε) = 2 (sqrt(X) − sqrt(ε)) = 2 sqrt(X) − 2e-5 (docs/dam-spec.md §1.5);
     * kept iff 2 sqrt(X) − 2e-5 >= 0.3, i.e. sqrt(X) >= 0.15001, X >= 0.0225030001. */
    double bmin = fmin(dam_map_min_amplified(&ABAR[0][0][0], HL, &p), dam_map_min_amplified(&ABAR[1][0][0], HL, &p));
    CHECK_NEAR(bmin, -1.99998, 1e-12, 0, "min(B) = B(eps) = 2 (1e-5 - 1)");
    double at[HL * HL];
    dam_shift_map(&ABAR[0][0][0], HL, &p, bmin, at);
    CHECK_NEAR(at[0 * HL + 0], 1.99998, 1e-12, 0, "Ã(0,0) = 2·1 − 2e-5");
    CHECK_NEAR(at[1 * HL + 1], 1.19998, 1e-12, 0, "Ã(1,1) = 2·0.6 − 2e-5");
    CHECK_NEAR(at[2 * HL + 1], 0.30064592756745815, 1e-12, 0, "Ã(2,1) = 2 sqrt(0.0226) − 2e-5 = 2·0.150332964 − 2e-5");
    CHECK_NEAR(at[3 * HL + 1], 0.29998, 1e-12, 0, "Ã(3,1) = 2·0.15 − 2e-5 (below τ: the sqrt(ε) shift decides)");
    CHECK_NEAR(at[4 * HL + 0], 0.19998, 1e-12, 0, "Ã(4,0) = 2·0.1 − 2e-5");
    CHECK(at[4 * HL + 1] == 0.0, "Ã(4,1) = 0 exactly (Ā = 0 → X = ε), got %.17g", at[4 * HL + 1]);
    CHECK_NEAR(at[5 * HL + 4], 0.07998, 1e-12, 0, "Ã(5,4) = 2·0.04 − 2e-5");
    CHECK(at[0 * HL + 5] == 0.0, "upper triangle Ã = 0");

    dam_patterns *ps = hand_stage1(0.5, 0.3, 0);
    const dam_head *h0 = dam_patterns_head(ps, 0, 0), *h1 = dam_patterns_head(ps, 0, 1);
    /* head 0 true mask (Ā >= 0.0225030001): */
    static const char *const M0[HL] = {"1", "11", "111", "1011", "00011", "100101"};
    check_mask_rows(h0->mask, HL, M0, "head 0 true mask");
    /* 14 of the 21 causal cells */
    CHECK_NEAR(h0->density, 14.0 / 21.0, 1e-15, 0, "head 0 density");
    double gd[HL], gc[HL];
    dam_match_scores(h0->mask, HL, gd, gc);
    /* diagonals: r = 0: 6/6; r = 1: (1,0) (2,1) (3,2) (4,3) on, (5,4) off → 4/5 = 0.8 = μ (matches:
     * γ >= μ); r = 2: (2,0) (5,3) of 4 → 0.5; r = 3: (3,0) of 3; r = 4: 0 of 2; r = 5: (5,0) of 1 → 1. */
    const double want_gd[HL] = {1.0, 0.8, 0.5, 1.0 / 3.0, 0.0, 1.0};
    /* columns: c = 0: all but (4,0) → 5/6; c = 1: (1,1) (2,1) of 5; c = 2: (2,2) (3,2) of 4;
     * c = 3: (3,3) (4,3) (5,3) of 3; c = 4: (4,4) of 2; c = 5: (5,5) of 1. */
    const double want_gc[HL] = {5.0 / 6.0, 0.4, 0.5, 1.0, 0.5, 1.0};
    for (int k = 0; k < HL; k++) {
        CHECK(gd[k] == want_gd[k], "gamma diag %d = %.17g, want %.17g", k, gd[k], want_gd[k]);
        CHECK(gc[k] == want_gc[k], "gamma col %d = %.17g, want %.17g", k, gc[k], want_gc[k]);
    }
    /* μ = 0.8 → R = {0, 1, 5}, C = {0, 3, 5}; r = 5 and c = 5 are corner patterns of one cell each */
    check_list(h0->diags, h0->n_diags, (const int32_t[]){0, 1, 5}, 3, "head 0 R");
    check_list(h0->cols, h0->n_cols, (const int32_t[]){0, 3, 5}, 3, "head 0 C");

    /* head 1: column 0 is 0.95..1 everywhere; every other cell 0.01 (Ã = 0.19998) is off */
    static const char *const M1[HL] = {"1", "10", "100", "1000", "10000", "100000"};
    check_mask_rows(h1->mask, HL, M1, "head 1 true mask");
    CHECK_NEAR(h1->density, 6.0 / 21.0, 1e-15, 0, "head 1 density");
    /* diagonal r: only (r, 0) is on, 1 of 6 − r cells → matches only r = 5 (1/1, the corner);
     * r = 0 has only (0,0): 1/6. Column 0: 6/6; columns 1..5: 0. */
    check_list(h1->diags, h1->n_diags, (const int32_t[]){5}, 1, "head 1 R (corner only)");
    check_list(h1->cols, h1->n_cols, (const int32_t[]){0}, 1, "head 1 C");

    /* Stage 2, n = L + 3 = 9 (docs/dam-spec.md §2). Head 0: rows 0..5 = the true mask (diagonal
     * already on); rows 6..8 keep j with i − j ∈ {0, 1, 5} or j ∈ {0, 3, 5}:
     *   row 6: j = 0 (col), 1 (6 − 1 = 5), 3 (col), 5 (col; 6 − 5 = 1), 6 (r = 0)
     *   row 7: j = 0 (col), 2 (r = 5), 3, 5 (cols), 6 (r = 1), 7
     *   row 8: j = 0, 3 (col; r = 5), 5 (col), 7 (r = 1), 8 — j = 1, 2, 4, 6 are not kept. */
    static const char *const E0[9] = {"1",      "11",      "111",      "1011",     "00011",
                                      "100101", "1101011", "10110111", "100101011"};
    maskplan *mp = dam_plan(ps, 0, 0);
    check_plan_rows(mp, 9, E0, "head 0 extended (n = 9)");
    CHECK(maskplan_kept_pairs(mp, 9) == 30, "head 0 kept pairs n = 9: 14 + 5 + 6 + 5 = 30, got %lld",
          (long long)maskplan_kept_pairs(mp, 9));
    CHECK(maskplan_validate(mp, 9) == NULL, "head 0 plan invalid: %s", maskplan_validate(mp, 9));
    maskplan_free(mp);
    /* Head 1: bitmap = true mask | main diagonal (Decision: r = 0 always kept) → rows 0..5 = {0, i};
     * rows 6..8: column 0, diagonal 0 and the corner diagonal r = 5 extended over the full length:
     *   row 6: {0, 1, 6}; row 7: {0, 2, 7}; row 8: {0, 3, 8}. */
    static const char *const E1[9] = {"1",      "11",      "101",      "1001",     "10001",
                                      "100001", "1100001", "10100001", "100100001"};
    mp = dam_plan(ps, 0, 1);
    check_plan_rows(mp, 9, E1, "head 1 extended (n = 9)");
    CHECK(maskplan_kept_pairs(mp, 9) == 1 + 2 * 5 + 3 * 3, "head 1 kept pairs n = 9 = 20, got %lld",
          (long long)maskplan_kept_pairs(mp, 9));
    maskplan_free(mp);
    dam_patterns_free(ps);

    /* min_pattern_cells = 2 drops the one-cell corner patterns r = 5 and c = 5 (pattern k has 6 − k
     * cells): head 0 R = {0, 1}, C = {0, 3}; head 1 R = {}, so rows 6..8 keep only {0, i}. */
    ps = hand_stage1(0.5, 0.3, 2);
    h0 = dam_patterns_head(ps, 0, 0);
    h1 = dam_patterns_head(ps, 0, 1);
    check_list(h0->diags, h0->n_diags, (const int32_t[]){0, 1}, 2, "head 0 R, min cells 2");
    check_list(h0->cols, h0->n_cols, (const int32_t[]){0, 3}, 2, "head 0 C, min cells 2");
    CHECK(h1->n_diags == 0, "head 1 R, min cells 2: %d entries", h1->n_diags);
    static const char *const E1g[9] = {"1",      "11",      "101",      "1001",     "10001",
                                       "100001", "1000001", "10000001", "100000001"};
    mp = dam_plan(ps, 0, 1);
    check_plan_rows(mp, 9, E1g, "head 1 extended, min cells 2");
    maskplan_free(mp);
    dam_patterns_free(ps);
    /* min_pattern_cells = 4: diagonals r <= 2 and columns c <= 2 remain candidates → R = {0, 1}, C = {0} */
    ps = hand_stage1(0.5, 0.3, 4);
    h0 = dam_patterns_head(ps, 0, 0);
    check_list(h0->diags, h0->n_diags, (const int32_t[]){0, 1}, 2, "head 0 R, min cells 4");
    check_list(h0->cols, h0->n_cols, (const int32_t[]){0}, 1, "head 0 C, min cells 4");
    dam_patterns_free(ps);
}

/* ---- 3. the λ = 0 branch ------------------------------------------------------------------ */

static void test_ln_branch(void) {
    /* λ = 0: B = ln X, min(B) = ln ε, Ã = ln(X / ε) = ln X + 23.025850929940457.
     * τ = 20 keeps X >= ε e^20 = 1e-10 · 4.85165195e8 = 0.0485165195. */
    dam_params p;
    dam_params_default(&p);
    p.L = HL;
    p.lambda = 0.0;
    p.tau = 20.0;
    double bmin = dam_map_min_amplified(&ABAR[0][0][0], HL, &p);
    CHECK_NEAR(bmin, -23.025850929940457, 1e-12, 0, "min(B) = ln(1e-10)");
    double at[HL * HL];
    dam_shift_map(&ABAR[0][0][0], HL, &p, bmin, at);
    CHECK_NEAR(at[0], 23.025850929940457, 1e-12, 0, "Ã(0,0) = ln(1 / 1e-10)");
    CHECK_NEAR(at[1 * HL + 1], 22.004199682408476, 1e-12, 0, "Ã(1,1) = ln 0.36 + 23.0259 = -1.02165 + 23.02585");
    CHECK_NEAR(at[5 * HL + 0], 21.193269466192147, 1e-12, 0, "Ã(5,0) = ln 0.16 + 23.02585 = -1.83258 + 23.02585");
    CHECK_NEAR(at[4 * HL + 3], 19.806975105072256, 1e-12, 0, "Ã(4,3) = ln 0.04 + 23.02585 (< τ = 20)");
    CHECK(at[4 * HL + 1] == 0.0, "Ã(4,1) = ln(ε/ε) = 0");

    dam_patterns *ps = hand_stage1(0.0, 20.0, 0);
    const dam_head *h0 = dam_patterns_head(ps, 0, 0);
    /* kept: Ā >= 0.0485: (0,0) (1,0) (1,1) (2,0) (2,2) (3,0) (3,2) (3,3) (4,4) (5,0) (5,5) */
    static const char *const M0[HL] = {"1", "11", "101", "1011", "00001", "100001"};
    check_mask_rows(h0->mask, HL, M0, "λ = 0 head 0 true mask");
    /* diagonals: r = 0 6/6; r = 1: (1,0) (3,2) of 5 = 0.4; r = 5: (5,0) 1/1.
     * columns: c = 0: 5/6; c = 1: 1/5; c = 2: 2/4; c = 3: 1/3; c = 4: 1/2; c = 5: 1/1. */
    check_list(h0->diags, h0->n_diags, (const int32_t[]){0, 5}, 2, "λ = 0 head 0 R");
    check_list(h0->cols, h0->n_cols, (const int32_t[]){0, 5}, 2, "λ = 0 head 0 C");
    CHECK_NEAR(h0->density, 11.0 / 21.0, 1e-15, 0, "λ = 0 head 0 density");
    dam_patterns_free(ps);
}

/* ---- 4. reachability ---------------------------------------------------------------------- */

static void test_reachability(void) {
    /* L = 8, a dense true mask (every causal pair of the 8 x 8 head on), R = {1, 6}, C = {0, 2}.
     * Plan: diagonals {0, 1, 6}, columns {0, 2}. For a row i >= L the kept keys are
     * {i, i − 1, i − 6} ∪ {0, 2}: all within L positions behind i, or matched columns. */
    dam_params p;
    dam_params_default(&p);
    p.L = 8;
    dam_patterns *ps = dam_patterns_new(1, 1, &p);
    dam_head *h = dam_patterns_head(ps, 0, 0);
    for (int i = 0; i < 8; i++) h->mask[i] = (2ull << i) - 1; /* bits 0..i */
    dam_head_set_diags(h, (const int32_t[]){1, 6}, 2);
    dam_head_set_cols(h, (const int32_t[]){0, 2}, 2);
    maskplan *mp = dam_plan(ps, 0, 0);
    const int n = 30;
    struct { int row, n; int keys[8]; } want[] = {
        {29, 5, {0, 2, 23, 28, 29}}, /* 29 − 6 = 23, 29 − 1 = 28 */
        {20, 5, {0, 2, 14, 19, 20}},
        {16, 5, {0, 2, 10, 15, 16}}, /* i = 2L */
        {9, 5, {0, 2, 3, 8, 9}},     /* i >= L, j < L: the structural rule (key 1 is dropped although
                                        the true mask is dense there: the bitmap covers i < L only) */
        {8, 4, {0, 2, 7, 8}},        /* 8 − 6 = 2 is a column too */
        {7, 8, {0, 1, 2, 3, 4, 5, 6, 7}}, /* inside the bitmap: dense */
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        int got[64], ng = 0;
        for (int j = 0; j <= want[w].row; j++)
            if (maskplan_kept(mp, want[w].row, j) && ng < 64) got[ng++] = j;
        char what[64];
        snprintf(what, sizeof what, "reachable keys of row %d", want[w].row);
        check_list(got, ng, want[w].keys, want[w].n, what);
    }
    /* for every row i in [2L, n): keys in [L, i − L) are unreachable; every kept key is in C or
     * in (i − L, i] */
    int bad = 0, unreachable_checked = 0;
    for (int i = 16; i < n; i++)
        for (int j = 0; j <= i; j++) {
            bool kept = maskplan_kept(mp, i, j);
            if (j >= 8 && j < i - 8) {
                unreachable_checked++;
                bad += kept;
            }
            if (kept && !(j == 0 || j == 2 || j > i - 8)) bad++;
        }
    CHECK(bad == 0, "%d kept keys outside the columns and the last L positions", bad);
    CHECK(unreachable_checked == 91, "cells checked in [L, i − L): %d (sum over i = 16..29 of i − 16 = 91)",
          unreachable_checked);
    maskplan_free(mp);

    /* An all-zero true mask with no patterns still gives a valid plan: one key (the diagonal) per row. */
    dam_head_set_diags(h, NULL, 0);
    dam_head_set_cols(h, NULL, 0);
    for (int i = 0; i < 8; i++) h->mask[i] = 0;
    mp = dam_plan(ps, 0, 0);
    CHECK(maskplan_validate(mp, 100) == NULL, "empty-mask plan invalid: %s", maskplan_validate(mp, 100));
    CHECK(maskplan_kept_pairs(mp, 100) == 100, "empty-mask plan keeps the diagonal only: %lld pairs",
          (long long)maskplan_kept_pairs(mp, 100));
    maskplan_free(mp);
    dam_patterns_free(ps);
}

/* ---- 5. the pattern file ------------------------------------------------------------------ */

static void set_provenance(dam_patterns *ps) {
    dam_patterns_set_str(&ps->model_name, "hand-built");
    memcpy(ps->model_sha256, "1111111111111111111111111111111111111111111111111111111111111111", 65);
    dam_patterns_set_str(&ps->corpus, "tests/hand");
    memcpy(ps->corpus_sha256, "2222222222222222222222222222222222222222222222222222222222222222", 65);
    dam_patterns_set_str(&ps->prefix, "chat");
    ps->corpus_tokens = 12345;
    ps->n_sequences = 3;
}

static char *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, fp);
    fclose(fp);
    return b;
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    char *b = slurp(from, &n);
    FILE *fp = fopen(to, "wb");
    fwrite(b, 1, n, fp);
    fclose(fp);
    free(b);
}

/* Reads `path` in a forked child (dam_patterns_read exits on error); returns the child's exit
 * status (-1 if it crashed) and its stderr in err. */
static int read_in_child(const char *path, const dam_expect *e, char *err, size_t cap) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        in_child = 1;
        dup2(fds[1], 2);
        close(fds[0]);
        dam_patterns *p = dam_patterns_read(path, e);
        dam_patterns_free(p);
        exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = read(fds[0], err + n, cap - 1 - n)) > 0) n += (size_t)got;
    err[n] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Expects reading `path` to fail with status 2 and one stderr line naming the file and `item`. */
static void expect_read_error(const char *name, const char *path, const dam_expect *e, const char *item) {
    char err[4096];
    int st = read_in_child(path, e, err, sizeof err);
    int lines = 0;
    for (const char *c = err; *c; c++) lines += *c == '\n';
    CHECK(st == 2 && lines == 1 && strstr(err, path) != NULL && strstr(err, item) != NULL,
          "corrupt/%s: exit %d, %d lines, want exit 2 naming \"%s\": %s", name, st, lines, item, err);
}

/* Opens a copy of the good file for modification by HDF5 directly. */
static hid_t corrupt_copy(const char *good, const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s.h5", tmpdir, name);
    copy_file(good, path);
    return H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
}

static void test_file(void) {
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/a.h5", tmpdir);
    snprintf(b, sizeof b, "%s/b.h5", tmpdir);
    dam_patterns *ps = hand_stage1(0.5, 0.3, 0);
    set_provenance(ps);
    dam_patterns_write(ps, a);
    dam_patterns_write(ps, b);
    size_t na, nb;
    char *ba = slurp(a, &na), *bb = slurp(b, &nb);
    CHECK(ba && bb && na == nb && memcmp(ba, bb, na) == 0, "two writes of the same set differ (%zu vs %zu bytes)", na, nb);
    free(ba);
    free(bb);
    char tmpname[320];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", a, (long)getpid());
    CHECK(access(tmpname, F_OK) != 0, "temporary file %s left behind", tmpname);
    dam_expect ex = {ps->model_sha256, HL, 1, 2};
    dam_patterns *rd = dam_patterns_read(a, &ex);
    CHECK(dam_patterns_equal(ps, rd), "round trip L = 6 differs");
    CHECK(strcmp(rd->prefix, "chat") == 0 && rd->corpus_tokens == 12345 && rd->n_sequences == 3 &&
              rd->par.tau == 0.3 && rd->par.eps == 1e-10,
          "round trip provenance");
    dam_patterns_free(rd);

    /* L = 70 (rows of 9 bytes / 2 words), 2 layers x 3 heads, pseudo-random causal masks and lists */
    dam_params p;
    dam_params_default(&p);
    p.L = 70;
    p.tau = 0.25;
    p.min_pattern_cells = 3;
    dam_patterns *big = dam_patterns_new(2, 3, &p);
    set_provenance(big);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int hh = 0; hh < 6; hh++) {
        dam_head *h = &big->heads[hh];
        int64_t set = 0;
        for (int i = 0; i < 70; i++)
            for (int j = 0; j <= i; j++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                if (x % 5 == 0 || j == i) {
                    h->mask[i * 2 + j / 64] |= 1ull << (j % 64);
                    set++;
                }
            }
        h->density = (double)set / (70.0 * 71.0 / 2.0);
        int32_t d[3] = {0, hh, 60 + hh}, c[2] = {hh, 69};
        dam_head_set_diags(h, d + (hh == 0), 3 - (hh == 0));
        dam_head_set_cols(h, c, hh == 5 ? 0 : 2);
    }
    snprintf(b, sizeof b, "%s/big.h5", tmpdir);
    dam_patterns_write(big, b);
    rd = dam_patterns_read(b, NULL);
    CHECK(dam_patterns_equal(big, rd), "round trip L = 70 differs");
    CHECK(rd->heads[5].n_cols == 0, "empty column list round trip");
    dam_patterns_free(rd);
    dam_patterns_free(big);

    /* corrupted and mismatching files */
    char path[320];
    dam_expect other = {"3333333333333333333333333333333333333333333333333333333333333333", 0, 0, 0};
    expect_read_error("model_sha256", a, &other, "model_sha256");
    dam_expect wrong_L = {NULL, 8, 0, 0};
    expect_read_error("pcl", a, &wrong_L, "pcl = 6, expected 8");
    dam_expect wrong_layers = {NULL, 0, 30, 0};
    expect_read_error("n_layers", a, &wrong_layers, "n_layers");
    snprintf(path, sizeof path, "%s/missing.h5", tmpdir);
    expect_read_error("missing_file", path, NULL, "cannot open");
    snprintf(path, sizeof path, "%s/truncated.h5", tmpdir);
    {
        size_t n;
        char *bytes = slurp(a, &n);
        FILE *fp = fopen(path, "wb");
        fwrite(bytes, 1, n / 2, fp);
        fclose(fp);
        free(bytes);
    }
    expect_read_error("truncated", path, NULL, "truncated.h5");
    snprintf(path, sizeof path, "%s/text.h5", tmpdir);
    {
        FILE *fp = fopen(path, "w");
        fputs("not hdf5\n", fp);
        fclose(fp);
    }
    expect_read_error("not_hdf5", path, NULL, "not an HDF5 file");

    hid_t f = corrupt_copy(a, "no_columns", path, sizeof path);
    H5Ldelete(f, "/layer_00/head_1/columns", H5P_DEFAULT);
    H5Fclose(f);
    expect_read_error("no_columns", path, NULL, "/layer_00/head_1/columns: missing");

    f = corrupt_copy(a, "no_head", path, sizeof path);
    H5Ldelete(f, "/layer_00/head_1", H5P_DEFAULT);
    H5Fclose(f);
    expect_read_error("no_head", path, NULL, "group /layer_00/head_1: missing");

    f = corrupt_copy(a, "no_tau", path, sizeof path);
    H5Adelete(f, "tau");
    H5Fclose(f);
    expect_read_error("no_tau", path, NULL, "attribute tau: missing");

    f = corrupt_copy(a, "tau_string", path, sizeof path);
    H5Adelete(f, "tau");
    {
        hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
        H5Tset_size(t, 4);
        hid_t at = H5Acreate2(f, "tau", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, t, "0.3");
        H5Aclose(at);
        H5Sclose(sp);
        H5Tclose(t);
    }
    H5Fclose(f);
    expect_read_error("tau_string", path, NULL, "attribute tau: must be a float");

    f = corrupt_copy(a, "mask_shape", path, sizeof path);
    H5Ldelete(f, "/layer_00/head_0/true_mask", H5P_DEFAULT);
    {
        hsize_t dims[2] = {5, 1};
        uint8_t zero[5] = {0};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(f, "/layer_00/head_0/true_mask", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, zero);
        H5Dclose(d);
        H5Sclose(sp);
    }
    H5Fclose(f);
    expect_read_error("mask_shape", path, NULL, "true_mask has shape [5][1], expected [6][1]");

    f = corrupt_copy(a, "mask_noncausal", path, sizeof path);
    {
        /* row 0 byte 0 = 0b11: bit (0, 1) is above the diagonal */
        hid_t d = H5Dopen2(f, "/layer_00/head_0/true_mask", H5P_DEFAULT);
        uint8_t rows[6] = {0x03, 0x03, 0x07, 0x0D, 0x18, 0x29};
        H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
        H5Dclose(d);
    }
    H5Fclose(f);
    expect_read_error("mask_noncausal", path, NULL, "bit (0, 1) is set above the diagonal");

    f = corrupt_copy(a, "mask_density", path, sizeof path);
    {
        /* head 0's true mask with bit (4, 0) added: data and the density attribute disagree */
        hid_t d = H5Dopen2(f, "/layer_00/head_0/true_mask", H5P_DEFAULT);
        uint8_t rows[6] = {0x01, 0x03, 0x07, 0x0D, 0x19, 0x29};
        H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
        H5Dclose(d);
    }
    H5Fclose(f);
    expect_read_error("mask_density", path, NULL, "/layer_00/head_0 attribute density");

    f = corrupt_copy(a, "diag_range", path, sizeof path);
    {
        hid_t d = H5Dopen2(f, "/layer_00/head_0/diagonals", H5P_DEFAULT);
        int32_t v[3] = {0, 1, 9};
        H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        H5Dclose(d);
    }
    H5Fclose(f);
    expect_read_error("diag_range", path, NULL, "/layer_00/head_0/diagonals: value 9 is outside [0, 6)");

    f = corrupt_copy(a, "col_count", path, sizeof path);
    {
        /* delete and re-create (HDF5 1.10 cannot rewrite an attribute in place here) */
        hid_t g = H5Gopen2(f, "/layer_00/head_1", H5P_DEFAULT);
        H5Adelete(g, "n_columns");
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t at = H5Acreate2(g, "n_columns", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        int32_t v = 2;
        H5Awrite(at, H5T_NATIVE_INT32, &v);
        H5Aclose(at);
        H5Sclose(sp);
        H5Gclose(g);
    }
    H5Fclose(f);
    expect_read_error("col_count", path, NULL, "n_columns = 2 but columns has 1 entries");

    f = corrupt_copy(a, "format", path, sizeof path);
    H5Adelete(f, "format");
    H5Fclose(f);
    expect_read_error("format", path, NULL, "not a DAM pattern file (no / attribute format");
    dam_patterns_free(ps);
}

/* ---- 6. calibration pieces ---------------------------------------------------------------- */

static void test_offsets(void) {
    int64_t o[4];
    /* N = 100 tokens, bodies of 10, 4 sequences: last start 90, o_s = s · 90 / 3 = 0, 30, 60, 90 */
    CHECK(dam_calib_offsets(100, 10, 4, o) == 0 && o[0] == 0 && o[1] == 30 && o[2] == 60 && o[3] == 90,
          "offsets 100/10/4: %lld %lld %lld %lld", (long long)o[0], (long long)o[1], (long long)o[2], (long long)o[3]);
    /* N = 101: last start 91, floor(91/3) = 30, floor(182/3) = 60, 91 */
    CHECK(dam_calib_offsets(101, 10, 4, o) == 0 && o[1] == 30 && o[2] == 60 && o[3] == 91, "offsets 101/10/4");
    CHECK(dam_calib_offsets(13, 10, 4, o) == 0 && o[0] == 0 && o[1] == 1 && o[2] == 2 && o[3] == 3, "offsets 13/10/4");
    CHECK(dam_calib_offsets(12, 10, 4, o) == -1, "12 tokens have only 3 distinct starts for bodies of 10");
    CHECK(dam_calib_offsets(9, 10, 1, o) == -1, "9 tokens are too short for a body of 10");
    CHECK(dam_calib_offsets(10, 10, 1, o) == 0 && o[0] == 0, "exactly one body");
}

/* The hook on hand-made inputs: 1 layer, 2 query heads sharing 1 KV head, head_dim 4 (scale 1/2).
 * q (all rows): head 0 = (1, 0, 0, 0), head 1 = (0, 1, 0, 0). Keys k_j = (a_j, b_j, 0, 0) with
 * a = (0, 2 ln 2, 2 ln 3), b = (0, 0, −2 ln 2): head-0 scores a_j / 2 = 0, ln 2, ln 3 → e^s = 1, 2, 3;
 * head-1 scores 0, 0, −ln 2 → 1, 1, 1/2. So
 *   head 0: row 0 (1), row 1 (1/3, 2/3), row 2 (1/6, 2/6, 3/6)
 *   head 1: row 0 (1), row 1 (1/2, 1/2), row 2 (0.4, 0.4, 0.2).
 * Values v_j = (j, 1, 0, 0): output of head 0 row 2 = (0·1/6 + 1·2/6 + 2·3/6, 1) = (4/3, 1);
 * head 1 row 2 = (0.4 + 0.4, 1) = (0.8, 1). */
static void test_capture_hook(void) {
    /* two layers like Gemma-3's start: layer 0 slides (never calls the hook), layer 1 is global;
     * the pair counts C must come from layer 1 (they once came from layer 0 only: Ā = A / 0) */
    llama_model fake;
    memset(&fake, 0, sizeof fake);
    llama_layer layers[2] = {{.global = false, .window = 512}, {.global = true}};
    fake.layers = layers;
    fake.cfg.n_layers = 2;
    fake.cfg.n_heads = 2;
    fake.cfg.n_kv_heads = 1;
    fake.cfg.head_dim = 4;
    const int L = 3, cap = 5, qs = 8;
    float q[3 * 8] = {0}, k[5 * 4] = {0}, v[5 * 4] = {0}, out[3 * 8], ref[3 * 8];
    for (int t = 0; t < 3; t++) {
        q[t * qs + 0] = 1.0f;
        q[t * qs + 4 + 1] = 1.0f;
    }
    const float a[3] = {0.0f, 2.0f * logf(2.0f), 2.0f * logf(3.0f)}, b[3] = {0.0f, 0.0f, -2.0f * logf(2.0f)};
    for (int j = 0; j < 3; j++) {
        k[j * 4 + 0] = a[j];
        k[j * 4 + 1] = b[j];
        v[j * 4 + 0] = (float)j;
        v[j * 4 + 1] = 1.0f;
    }
    dam_capture *c = dam_capture_new(&fake, L);
    dam_capture_attn(c, 1, out, 8, q, qs, 3, k, v, cap, 3);
    attn_causal(ref, 8, q, qs, 3, k, v, cap, 3, 2, 1, 4, 0.5f);
    CHECK(memcmp(out, ref, sizeof out) == 0, "hook output differs from attn_causal");
    CHECK_NEAR(out[2 * 8 + 0], 4.0 / 3.0, 1e-6, 0, "head 0 row 2 output = 4/3");
    CHECK_NEAR(out[2 * 8 + 4], 0.8, 1e-6, 0, "head 1 row 2 output = 0.8");
    CHECK_NEAR(out[2 * 8 + 5], 1.0, 1e-6, 0, "head 1 row 2 output[1] = 1");
    double abar[9];
    const double want0[9] = {1, 0, 0, 1.0 / 3, 2.0 / 3, 0, 1.0 / 6, 2.0 / 6, 3.0 / 6};
    const double want1[9] = {1, 0, 0, 0.5, 0.5, 0, 0.4, 0.4, 0.2};
    dam_capture_average(c, 1, 0, 1e-10, abar);
    for (int x = 0; x < 9; x++) CHECK_NEAR(abar[x], want0[x], 1e-6, 0, "head 0 Ā[%d][%d] = %.9f", x / 3, x % 3, abar[x]);
    dam_capture_average(c, 1, 1, 1e-10, abar);
    for (int x = 0; x < 9; x++) CHECK_NEAR(abar[x], want1[x], 1e-6, 0, "head 1 Ā[%d][%d] = %.9f", x / 3, x % 3, abar[x]);
    /* A decode-style call (n_q = 1: one query at position 2) adds row 2 only and makes C(2, j) = 2
     * while rows 0 and 1 keep C = 1. Its query (0, 0, 0, 0) attends uniformly (1/3 each), so head 0
     * row 2 becomes the mean of (1/6, 2/6, 3/6) and (1/3, 1/3, 1/3) = (1/4, 1/3, 5/12). */
    float q2[8] = {0};
    dam_capture_attn(c, 1, out, 8, q2, 8, 1, k, v, cap, 3);
    dam_capture_average(c, 1, 0, 1e-10, abar);
    CHECK_NEAR(abar[6], 0.25, 1e-6, 0, "row 2 after decode call: (1/6 + 1/3) / 2");
    CHECK_NEAR(abar[7], 1.0 / 3.0, 1e-6, 0, "row 2 after decode call: (1/3 + 1/3) / 2");
    CHECK_NEAR(abar[8], 5.0 / 12.0, 1e-6, 0, "row 2 after decode call: (1/2 + 1/3) / 2");
    CHECK_NEAR(abar[4], 2.0 / 3.0, 1e-6, 0, "row 1 untouched by the decode call");
    dam_capture_free(c);
}

/* The real model: the capture leaves the forward pass bit-identical, every row of Ā sums to 1 with
 * Ā(0, 0) = 1 (one sequence: Ā = P / (1 + ε)), and the prefix policies of SmolLM2. */
static void test_capture_model(void) {
    if (access(MODEL, R_OK) != 0) {
        CHECK(0, "model %s missing (make model)", MODEL);
        return;
    }
    llama_model *m = llama_load(MODEL);
    const int L = 40;
    const char *text = "The Jargon File is a glossary of hacker slang. It was started in 1975 and grew over the "
                       "years into a large compendium of hacker culture, folklore and humor, maintained by a "
                       "succession of editors who collected terms from many computing communities.";
    int32_t *ids = NULL;
    int n = tok_encode(m->tok, text, strlen(text), false, false, &ids);
    CHECK(n >= L, "test text has %d tokens, need %d", n, L);
    llama_state *plain = llama_state_new(m, L, L), *hooked = llama_state_new(m, L, L);
    llama_forward(m, plain, ids, L, NULL, 0);
    dam_capture *c = dam_capture_new(m, L);
    dam_capture_run(c, hooked, ids);
    CHECK(hooked->attn == NULL, "hook not restored");
    CHECK(memcmp(plain->x, hooked->x, sizeof(float) * L * m->cfg.d_model) == 0,
          "final residual stream differs with the capture hook");
    CHECK(dam_capture_count(c) == 1, "sequence count");
    double *abar = dam_malloc(sizeof(double) * L * L, "abar");
    double worst = 0;
    int upper_zero = 1;
    for (int l = 0; l < m->cfg.n_layers; l += 7)
        for (int h = 0; h < m->cfg.n_heads; h += 4) {
            dam_capture_average(c, l, h, 1e-10, abar);
            for (int i = 0; i < L; i++) {
                double s = 0;
                for (int j = 0; j < L; j++) {
                    s += abar[i * L + j];
                    if (j > i && abar[i * L + j] != 0) upper_zero = 0;
                }
                worst = fmax(worst, fabs(s - 1.0));
            }
            CHECK_NEAR(abar[0], 1.0, 1e-9, 0, "Ā(0,0) of layer %d head %d", l, h);
        }
    CHECK(worst < 1e-9, "row sums of Ā differ from 1 by %.3g", worst);
    CHECK(upper_zero, "Ā has non-zero cells above the diagonal");
    dam_free(abar);

    int32_t *pre = NULL;
    CHECK(dam_calib_prefix(m, "none", &pre) == 0, "SmolLM2 adds no BOS: empty prefix");
    dam_free(pre);
    int np = dam_calib_prefix(m, "chat", &pre);
    char *dec = tok_decode(m->tok, pre, np, true);
    CHECK(strcmp(dec, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
                      "Face<|im_end|>\n<|im_start|>user\n") == 0,
          "chat prefix decodes to \"%s\"", dec);
    /* the prefix tokens are the first tokens of a whole evaluation prompt */
    const char *prompt = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
                         "Face<|im_end|>\n<|im_start|>user\nHello there<|im_end|>\n";
    int32_t *full = NULL;
    int nf = tok_encode(m->tok, prompt, strlen(prompt), true, true, &full);
    CHECK(nf > np && memcmp(full, pre, sizeof(int32_t) * np) == 0, "chat prefix is not a prefix of a full prompt");
    dam_free(full);
    dam_free(dec);
    dam_free(pre);
    dam_capture_free(c);
    llama_state_free(plain);
    llama_state_free(hooked);
    dam_free(ids);
    llama_free(m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_dam.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_boxcox();
    test_hand_stage1();
    test_ln_branch();
    test_reachability();
    test_file();
    test_offsets();
    test_capture_hook();
    test_capture_model();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_done("test_dam");
}
