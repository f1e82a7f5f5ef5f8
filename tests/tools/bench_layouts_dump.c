/* bench_layouts_dump.c — test helper for tests/t_peers_layouts.sh (not a self-checking test; built by
 * `make` as $(BUILD)/tests/tools/bench_layouts_dump).
 *
 *   bench_layouts_dump H n [n ...]
 *       For each n and each layout the CUDA benchmark times (tests/cuda/bench_layouts.h: dam_like for
 *       heads 0..H-1, sink128_win4096 and sink128_win1024 once, as they are the same for every head),
 *       prints one line per (layout, n, head):
 *         "LAYOUT n N head h cols C... diags D... kept K"
 *       cols / diags: the plan's sorted unique parts (after maskplan_set_*), K: maskplan_kept_pairs(n),
 *       the exact kept causal pairs over rows 0..n-1. scripts/peers_attention.py --print-layouts
 *       prints the same lines from its Python port; the test compares the two outputs byte for byte.
 *       Exits 0, or 2 on bad arguments. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/maskplan.h"
#include "tests/cuda/bench_layouts.h"

static void print_plan(const char *name, int64_t n, int h, const maskplan *p) {
    printf("%s n %lld head %d cols", name, (long long)n, h);
    for (int i = 0; i < p->n_cols; i++) printf(" %d", p->cols[i]);
    printf(" diags");
    for (int i = 0; i < p->n_diags; i++) printf(" %d", p->diags[i]);
    printf(" kept %lld\n", (long long)maskplan_kept_pairs(p, n));
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_layouts_dump H n [n ...]\n");
        return 2;
    }
    const int H = atoi(argv[1]);
    if (H < 1) {
        fprintf(stderr, "bench_layouts_dump: H must be >= 1, got '%s'\n", argv[1]);
        return 2;
    }
    for (int a = 2; a < argc; a++) {
        const int64_t n = atoll(argv[a]);
        if (n < 1) {
            fprintf(stderr, "bench_layouts_dump: n must be >= 1, got '%s'\n", argv[a]);
            return 2;
        }
        for (int h = 0; h < H; h++) {
            maskplan *p = bench_dam_like(h);
            print_plan("dam_like", n, h, p);
            maskplan_free(p);
        }
        const int windows[2] = {4096, 1024};
        for (int w = 0; w < 2; w++) {
            char name[64];
            snprintf(name, sizeof name, "sink128_win%d", windows[w]);
            maskplan *p = bench_sink_window(128, windows[w]);
            print_plan(name, n, 0, p);
            maskplan_free(p);
        }
    }
    return 0;
}
