/* bench_layouts_dump.c — test helper for tests/t_peers_layouts.sh (not a self-checking test; built by
 * `make` as $(BUILD)/tests/tools/bench_layouts_dump).
 *
 *   bench_layouts_dump H n [n ...]
 *       For each n and each layout the CUDA benchmark times (tests/cuda/bench_layouts.h: dam_like for
 *       heads 0..H-1, sink128_win4096 and sink128_win1024 once, as they are the same for every head,
 *       and for n <= 16384 the block layouts blocks05 .. blocks30 for heads 0..min(H, 4)-1), prints
 *       one line per (layout, n, head):
 *         "LAYOUT n N head h cols C... diags D... kept K"          (columns and diagonals)
 *         "LAYOUT n N head h blocks B hash X kept K"               (block layouts)
 *       cols / diags: the plan's sorted unique parts (after maskplan_set_*); B: listed blocks, X: the
 *       FNV-1a 64 hash of the listed key blocks row by row (each kb, then 0xFFFFFFFF per query block);
 *       K: maskplan_kept_pairs(n), the exact kept causal pairs over rows 0..n-1. scripts/peers_attention.py --print-layouts
 *       prints the same lines from its Python port; the test compares the two outputs byte for byte.
 *       Exits 0, or 2 on bad arguments. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/maskplan.h"
#include "tests/cuda/bench_layouts.h"

static void print_blocks(const char *name, int64_t n, int h, const maskplan *p) {
    uint64_t x = 14695981039346656037ull;
    for (int qb = 0; qb < p->n_qblocks; qb++) {
        for (int i = p->blk_ptr[qb]; i < p->blk_ptr[qb + 1]; i++) x = (x ^ (uint64_t)p->blk_idx[i]) * 1099511628211ull;
        x = (x ^ 0xFFFFFFFFull) * 1099511628211ull;
    }
    printf("%s n %lld head %d blocks %d hash %llu kept %lld\n", name, (long long)n, h, p->n_qblocks ? p->blk_ptr[p->n_qblocks] : 0,
           (unsigned long long)x, (long long)maskplan_kept_pairs(p, n));
}

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
        for (int b = 0; b < 4 && n <= 16384; b++)
            for (int h = 0; h < H && h < 4; h++) {
                char name[64];
                snprintf(name, sizeof name, "blocks%02d", BENCH_BLOCK_PCT[b]);
                maskplan *p = bench_blocks(h, BENCH_BLOCK_PCT[b], (int)n);
                print_blocks(name, n, h, p);
                maskplan_free(p);
            }
    }
    return 0;
}
