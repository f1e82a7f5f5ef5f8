/* patterns_cmp.c — test helper for tests/t_dam_cli.sh (not a self-checking test; built by `make`
 * as $(BUILD)/tests/tools/patterns_cmp).
 *
 *   patterns_cmp A.h5 B.h5
 *       Reads two DAM pattern files (dam_patterns_read, full validation) with the same shape
 *       (layers, heads, PCL) and prints one line:
 *         "abar_max_abs D abar_max_rel R mask_cells_differ N of T heads_patterns_differ H of K"
 *       D: largest |Ā_a − Ā_b| over every causal cell of every map; R: the same divided by the
 *       largest |Ā_a| of that map; N: true-mask cells (causal) set in exactly one file; T: causal
 *       cells in all maps; H: heads whose matched diagonals or columns differ; K: heads.
 *       Exits 0, or 2 when a file cannot be read or the shapes differ.
 *
 * Why: a pattern file is byte-identical for the same corpus, parameters and thread count, but the
 * float32 forward's GEMMs (OpenBLAS) may sum in another order with another thread count, so two
 * thread counts agree only to rounding; this tool measures by how much. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "dam/patterns.h"
#include "kernels/maskplan.h"

static bool same_ints(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || memcmp(a, b, sizeof(int32_t) * (size_t)na) == 0);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: patterns_cmp A.h5 B.h5\n");
        return DAM_EXIT_INPUT;
    }
    dam_patterns *a = dam_patterns_read(argv[1], NULL), *b = dam_patterns_read(argv[2], NULL);
    if (a->n_layers != b->n_layers || a->n_heads != b->n_heads || a->par.L != b->par.L) {
        fprintf(stderr, "patterns_cmp: %s and %s differ in shape\n", argv[1], argv[2]);
        return DAM_EXIT_INPUT;
    }
    if ((a->abar == NULL) != (b->abar == NULL)) {
        fprintf(stderr, "patterns_cmp: only one of %s and %s keeps the mean attention\n", argv[1], argv[2]);
        return DAM_EXIT_INPUT;
    }
    const int L = a->par.L, maps = a->n_layers * a->n_heads;
    const size_t tri = (size_t)L * (L + 1) / 2;
    double max_abs = 0, max_rel = 0;
    long long cells_differ = 0, heads_differ = 0;
    for (int x = 0; x < maps; x++) {
        if (a->abar) {
            double scale = 0, diff = 0;
            for (size_t c = 0; c < tri; c++) {
                const double va = a->abar[tri * x + c], vb = b->abar[tri * x + c];
                scale = fmax(scale, fabs(va));
                diff = fmax(diff, fabs(va - vb));
            }
            max_abs = fmax(max_abs, diff);
            if (scale > 0) max_rel = fmax(max_rel, diff / scale);
        }
        const dam_head *ha = &a->heads[x], *hb = &b->heads[x];
        if (ha->L != hb->L) {
            fprintf(stderr, "patterns_cmp: map %d has PCL %d in %s but %d in %s\n", x, ha->L, argv[1], hb->L, argv[2]);
            return DAM_EXIT_INPUT;
        }
        const int words = maskplan_bitmap_words(ha->L);
        for (int i = 0; i < ha->L; i++)
            for (int w = 0; w < words; w++)
                cells_differ += __builtin_popcountll(ha->mask[(size_t)i * words + w] ^ hb->mask[(size_t)i * words + w]);
        if (!same_ints(ha->diags, ha->n_diags, hb->diags, hb->n_diags) ||
            !same_ints(ha->cols, ha->n_cols, hb->cols, hb->n_cols))
            heads_differ++;
    }
    printf("abar_max_abs %.3g abar_max_rel %.3g mask_cells_differ %lld of %lld heads_patterns_differ %lld of %d\n",
           max_abs, max_rel, cells_differ, (long long)(tri * (size_t)maps), heads_differ, maps);
    dam_patterns_free(a);
    dam_patterns_free(b);
    return 0;
}
