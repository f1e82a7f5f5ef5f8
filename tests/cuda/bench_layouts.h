// bench_layouts.h — the sparse MaskPlan layouts the CUDA attention benchmark times, in one place so
// that scripts/peers_attention.py (which ports them to FlexAttention mask_mods) can be checked against
// the very same C code (tests/tools/bench_layouts_dump.c, tests/t_peers_layouts.sh). Header-only, C11
// and CUDA C++; included by tests/cuda/bench_attention_masked_cuda.cu and the dump tool. Layouts:
// DAM-like (columns and diagonals), sinks + window, and blocks at 5-30 % (bench_blocks).
#ifndef DAM_TESTS_CUDA_BENCH_LAYOUTS_H
#define DAM_TESTS_CUDA_BENCH_LAYOUTS_H

#include <stdint.h>
#include <stdlib.h>

#include "kernels/maskplan.h"

// Raw parts of the DAM-like layout of anchors.md §0b for query head h (h >= 0): cols[0..16) = the 4
// sinks 0..3, then 12 columns in 4..511 from an xorshift64 stream seeded per head (duplicates
// possible; maskplan_set_cols removes them); diags[0..68) = the 64-token window 0..63, then 4 far
// diagonals at offsets 448 + 16 i + ((7 h + 5 i) mod 16), i = 0..3. Columns and diagonals vary by head.
static inline void bench_dam_like_parts(int h, int32_t cols[16], int32_t diags[68]) {
    uint64_t s = 0x2545F4914F6CDD1Dull ^ (uint64_t)(h + 1) * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 4; i++) cols[i] = i;
    for (int i = 0; i < 12; i++) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        cols[4 + i] = 4 + (int)((s * 2685821657736338717ull >> 33) % 508);
    }
    for (int i = 0; i < 64; i++) diags[i] = i;
    for (int i = 0; i < 4; i++) diags[64 + i] = 448 + 16 * i + (int)((h * 7 + i * 5) % 16);
}

// The DAM-like plan of head h (bench_dam_like_parts as a MaskPlan: 4 sinks + 12 scattered columns
// below 512 + a 64-token window + 4 far diagonals at offsets 448..511). Caller frees (maskplan_free).
static inline maskplan *bench_dam_like(int h) {
    int32_t cols[16], diags[68];
    bench_dam_like_parts(h, cols, diags);
    maskplan *p = maskplan_new();
    maskplan_set_cols(p, cols, 16);
    maskplan_set_diags(p, diags, 68);
    return p;
}

// The plan "sinks + window" (the same for every head): columns 0..sinks-1 and diagonals
// 0..window-1 (a row keeps itself and the window-1 keys before it). Caller frees (maskplan_free).
static inline maskplan *bench_sink_window(int sinks, int window) {
    int32_t *cols = (int32_t *)malloc(sizeof(int32_t) * sinks), *diags = (int32_t *)malloc(sizeof(int32_t) * window);
    for (int i = 0; i < sinks; i++) cols[i] = i;
    for (int i = 0; i < window; i++) diags[i] = i;
    maskplan *p = maskplan_new();
    maskplan_set_cols(p, cols, sinks);
    maskplan_set_diags(p, diags, window);
    free(cols);
    free(diags);
    return p;
}

// Block layouts (MaskPlan blocks only, the shape of XAttention's and FlexPrefill's plans): query
// block qb keeps its diagonal block and each earlier key block kb < qb with probability pct / 100, one
// xorshift64 draw per (qb, kb) in the order qb = 0, 1, ..., kb = 0 .. qb - 1 from a stream seeded per
// (head, pct), so the plan for n tokens is the first ceil(n / 64) query blocks of one plan. The
// benchmark times pct = BENCH_BLOCK_PCT[i]; layout names "blocks05", "blocks10", ... (two digits).
static const int BENCH_BLOCK_PCT[4] = {5, 10, 20, 30};

static inline uint64_t bench_blocks_seed(int h, int pct) {
    return (0x9E3779B97F4A7C15ull * (uint64_t)(h + 1)) ^ ((uint64_t)pct * 0xD1B54A32D192ED03ull) ^ 1ull;
}

// One draw of the stream s: whether the next (qb, kb) pair is kept.
static inline int bench_blocks_draw(uint64_t *s, int pct) {
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return (int)((*s * 2685821657736338717ull >> 33) % 100) < pct;
}

// The block layout of head h at pct percent for n >= 1 tokens. Caller frees (maskplan_free).
static inline maskplan *bench_blocks(int h, int pct, int n) {
    const int nb = (n + 63) / 64;
    int32_t *ptr = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nb + 1));
    int32_t *idx = (int32_t *)malloc(sizeof(int32_t) * ((size_t)nb * (nb + 1) / 2));
    uint64_t s = bench_blocks_seed(h, pct);
    int m = 0;
    ptr[0] = 0;
    for (int qb = 0; qb < nb; qb++) {
        for (int kb = 0; kb < qb; kb++)
            if (bench_blocks_draw(&s, pct)) idx[m++] = kb;
        idx[m++] = qb;
        ptr[qb + 1] = m;
    }
    maskplan *p = maskplan_new();
    maskplan_set_blocks(p, nb, ptr, idx);
    free(ptr);
    free(idx);
    return p;
}

#endif
