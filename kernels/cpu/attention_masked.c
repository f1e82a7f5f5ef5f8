/* attention_masked.c — see attention_masked.h. */
#include "kernels/cpu/attention_masked.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "core/timer.h"
#include "kernels/cpu/attention.h"

/* SPARSE_RATIO: a visited block whose kept (row, key) pairs are fewer than 1/SPARSE_RATIO of the
 * tile's rows x keys skips sgemm and computes only the kept pairs (measured on AVX2, d = 64). */
enum { TILE_Q = 32, TILE_K = MASKPLAN_BLOCK, SPARSE_RATIO = 8 };

/* Bits 0 .. pos - j0 (keys j0 .. pos), 0 if pos < j0. */
static inline uint64_t causal_word(int64_t pos, int64_t j0) {
    if (pos < j0) return 0;
    return pos - j0 >= 63 ? ~0ull : (2ull << (pos - j0)) - 1;
}

/* One (row, head) of a visited block with a contiguous run of kept keys 0 .. vis-1 (attn_causal's
 * path): scores s[0 .. bk) become probabilities (0 beyond vis); updates the running max *m and sum
 * *l; returns the factor the output accumulator must be scaled by. */
static float softmax_prefix(float *restrict s, int vis, int bk, float *m, float *l) {
    float mx = *m;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < vis; j++) mx = s[j] > mx ? s[j] : mx;
    const float corr = *m == -INFINITY ? 0.0f : exp_poly(fmaxf(*m - mx, -87.0f));
    const float sum = attn_exp_row(s, vis, mx);
    for (int j = vis; j < bk; j++) s[j] = 0;
    *l = *l * corr + sum;
    *m = mx;
    return corr;
}

/* The same for an arbitrary keep word (bit j = key j kept, no bit at or beyond bk): masked keys
 * take no part in the max and get probability exactly 0. */
static float softmax_masked(float *restrict s, uint64_t word, int bk, float *m, float *l) {
    int32_t keep[TILE_K]; /* all ones = kept; 32-bit lanes so the selects below vectorise */
    const uint32_t lo = (uint32_t)word, hi = (uint32_t)(word >> 32);
    for (int j = 0; j < 32; j++) keep[j] = -(int32_t)((lo >> j) & 1u);
    for (int j = 0; j < 32; j++) keep[32 + j] = -(int32_t)((hi >> j) & 1u);
    float mx = *m;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < bk; j++) {
        const float x = keep[j] ? s[j] : -INFINITY;
        mx = x > mx ? x : mx;
    }
    const float corr = *m == -INFINITY ? 0.0f : exp_poly(fmaxf(*m - mx, -87.0f));
    for (int j = 0; j < bk; j++) {
        const float x = s[j] - mx;
        s[j] = keep[j] && x > -87.0f ? x : -87.0f;
    }
    for (int j = 0; j < bk; j++) s[j] = exp_poly(s[j]);
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < bk; j++) {
        s[j] = keep[j] ? s[j] : 0.0f;
        sum += s[j];
    }
    *l = *l * corr + sum;
    *m = mx;
    return corr;
}

/* One (row, head) of a sparsely kept block, without the tile products: scores of the kept keys only
 * (q · k_j for each set bit j of `word`, q already scaled, plus `bias` for the bits of `biased`, a
 * subset of `word`), online softmax update of *m, *l, and o = o · corr + sum_j p_j v_j. kb, vb: the
 * block's first key and value rows, [64][d]. */
static void sparse_row(const float *restrict qr, const float *restrict kb, const float *restrict vb, int d,
                       uint64_t word, uint64_t biased, float bias, float *m, float *l, float *restrict o) {
    float p[TILE_K];
    int idx[TILE_K], c = 0;
    float mx = *m;
    for (; word; word &= word - 1) {
        const int j = __builtin_ctzll(word);
        const float *kr = kb + (long)j * d;
        float acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int i = 0; i < d; i++) acc += qr[i] * kr[i];
        if ((biased >> j) & 1) acc += bias;
        p[c] = acc;
        idx[c++] = j;
        mx = acc > mx ? acc : mx;
    }
    const float corr = *m == -INFINITY ? 0.0f : exp_poly(fmaxf(*m - mx, -87.0f));
    float sum = 0;
    for (int t = 0; t < c; t++) sum += p[t] = exp_poly(fmaxf(p[t] - mx, -87.0f));
    *l = *l * corr + sum;
    *m = mx;
    if (corr != 1.0f)
        for (int i = 0; i < d; i++) o[i] *= corr;
    for (int t = 0; t < c; t++) {
        const float *vr = vb + (long)idx[t] * d, w = p[t];
#pragma omp simd
        for (int i = 0; i < d; i++) o[i] += w * vr[i];
    }
}

int attn_masked(float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k, const float *v,
                int kv_cap, int n_k, int n_heads, int n_kv_heads, int d, float scale, const maskplan *const *plans) {
    const int group = n_heads / n_kv_heads;
    const int rows_max = TILE_Q * group;
    const int n_tiles = (n_q + TILE_Q - 1) / TILE_Q;
    const int q_base = n_k - n_q; /* absolute position of query row 0 */
    const int n_kblocks = (n_k + TILE_K - 1) / TILE_K;
    const int n_threads = omp_get_max_threads();
    /* per thread: qt [rows][d] scaled queries, s [rows][TILE_K] scores then probabilities,
     * o [rows][d] unnormalised output, m [rows] running max, l [rows] running sum */
    const size_t per = (size_t)rows_max * d * 2 + (size_t)rows_max * TILE_K + 2 * (size_t)rows_max;
    float *pool = dam_malloc(per * n_threads * sizeof(float), "masked attention tiles");
    const size_t vis_per = ((size_t)n_kblocks + 63) / 64 * 64; /* one byte per key block */
    uint8_t *vis_pool = dam_malloc(vis_per * n_threads, "masked attention visit");
    uint64_t *word_pool = dam_malloc(sizeof(uint64_t) * rows_max * n_threads, "masked attention words");
    /* soft masks: per (row, head) the kept bits that get a logit bias, and the bias */
    bool any_bias = false;
    for (int h = 0; plans && h < n_heads; h++) any_bias |= maskplan_has_bias(plans[h]);
    uint64_t *bword_pool = any_bias ? dam_malloc(sizeof(uint64_t) * rows_max * n_threads, "masked attention bias") : NULL;
    float *bias_pool = any_bias ? dam_malloc(sizeof(float) * rows_max * n_threads, "masked attention bias") : NULL;
    int empty = 0;

#pragma omp parallel for schedule(dynamic, 1) collapse(2) reduction(+ : empty)
    for (int g = 0; g < n_kv_heads; g++) {
        for (int tile = 0; tile < n_tiles; tile++) {
            float *qt = pool + per * omp_get_thread_num();
            float *s = qt + (size_t)rows_max * d;
            float *o = s + (size_t)rows_max * TILE_K;
            float *m = o + (size_t)rows_max * d;
            float *l = m + rows_max;
            uint8_t *visit = vis_pool + vis_per * omp_get_thread_num();
            uint64_t *words = word_pool + (size_t)rows_max * omp_get_thread_num(); /* [rows] keep words */
            const maskplan *const *gp = plans ? plans + (size_t)g * group : NULL;
            bool tile_bias = false; /* some head of the group carries a bias */
            for (int gi = 0; gi < group && gp; gi++) tile_bias |= maskplan_has_bias(gp[gi]);
            uint64_t *bwords = tile_bias ? bword_pool + (size_t)rows_max * omp_get_thread_num() : NULL; /* [rows] */
            float *bias = tile_bias ? bias_pool + (size_t)rows_max * omp_get_thread_num() : NULL;     /* [rows] */

            const int t0 = tile * TILE_Q;
            const int tq = (n_q - t0) < TILE_Q ? (n_q - t0) : TILE_Q;
            const int rows = tq * group;
            const int64_t p0 = (int64_t)q_base + t0, p1 = p0 + tq - 1; /* positions of the tile's rows */
            const int kb_end = (int)(p1 / TILE_K) + 1;                  /* causal key blocks 0 .. kb_end-1 */

            bool all_dense = true;
            for (int gi = 0; gi < group && gp; gi++) all_dense &= gp[gi]->dense;
            if (!all_dense) { /* the union of the group's key blocks for these rows */
                memset(visit, 0, (size_t)kb_end);
                for (int gi = 0; gi < group; gi++) maskplan_mark_key_blocks(gp[gi], p0, p1, visit, kb_end);
            }

            /* rows are ordered (query token, head in group) */
            for (int t = 0; t < tq; t++)
                for (int gi = 0; gi < group; gi++) {
                    const float *src = q + (long)(t0 + t) * q_stride + (long)(g * group + gi) * d;
                    float *dst = qt + (long)(t * group + gi) * d;
                    for (int i = 0; i < d; i++) dst[i] = src[i] * scale;
                }
            memset(o, 0, sizeof(float) * rows * d);
            for (int r = 0; r < rows; r++) {
                m[r] = -INFINITY;
                l[r] = 0;
            }
            const float *kh = k + (long)g * kv_cap * d, *vh = v + (long)g * kv_cap * d;
            for (int kb = 0; kb < kb_end; kb++) {
                if (!all_dense && !visit[kb]) continue;
                const int64_t j0 = (int64_t)kb * TILE_K;
                const int bk = p1 + 1 - j0 < TILE_K ? (int)(p1 + 1 - j0) : TILE_K; /* keys j0 .. p1 */
                int kept = 0;
                bool blk_bias = false; /* some (row, head) of this block has biased pairs */
                for (int r = 0; r < rows; r++) {
                    const int64_t pos = p0 + r / group;
                    const maskplan *pl = gp ? gp[r % group] : NULL;
                    if (tile_bias) {
                        bwords[r] = 0;
                        bias[r] = 0;
                        if (pl && maskplan_has_bias(pl)) {
                            words[r] = maskplan_row_word_bias(pl, pos, j0, bwords + r, bias + r);
                            blk_bias |= bwords[r] != 0;
                            kept += __builtin_popcountll(words[r]);
                            continue;
                        }
                    }
                    words[r] = pl && !pl->dense ? maskplan_row_word(pl, pos, j0) : causal_word(pos, j0);
                    kept += __builtin_popcountll(words[r]);
                }
                if (kept == 0) continue;
                if (kept * SPARSE_RATIO < rows * bk) { /* few kept pairs: per-pair dot products beat the tile products */
                    for (int r = 0; r < rows; r++)
                        if (words[r])
                            sparse_row(qt + (long)r * d, kh + j0 * d, vh + j0 * d, d, words[r], blk_bias ? bwords[r] : 0,
                                       blk_bias ? bias[r] : 0.0f, m + r, l + r, o + (long)r * d);
                    continue;
                }
                /* S = Qt · K_blk^T  (rows × bk); inside the OpenMP region OpenBLAS runs single-threaded */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, bk, d, 1.0f, qt, d, kh + j0 * d, d, 0.0f, s,
                            TILE_K);
                if (blk_bias) /* soft masks: the bias joins the scaled scores before the softmax */
                    for (int r = 0; r < rows; r++) {
                        float *sr = s + (long)r * TILE_K;
                        for (uint64_t b = bwords[r]; b; b &= b - 1) sr[__builtin_ctzll(b)] += bias[r];
                    }
                for (int r = 0; r < rows; r++) {
                    float *sr = s + (long)r * TILE_K;
                    const uint64_t word = words[r];
                    if (word == 0) { /* nothing kept here: this row adds nothing to P·V */
                        memset(sr, 0, sizeof(float) * bk);
                        continue;
                    }
                    float corr;
                    if ((word & (word + 1)) == 0) /* keys 0 .. vis-1: a contiguous prefix */
                        corr = softmax_prefix(sr, word == ~0ull ? 64 : __builtin_ctzll(~word), bk, m + r, l + r);
                    else
                        corr = softmax_masked(sr, word, bk, m + r, l + r);
                    if (corr != 1.0f) {
                        float *orow = o + (long)r * d;
                        for (int i = 0; i < d; i++) orow[i] *= corr;
                    }
                }
                /* O += P · V_blk  (rows × d) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, bk, 1.0f, s, TILE_K, vh + j0 * d, d,
                            1.0f, o, d);
            }
            for (int t = 0; t < tq; t++)
                for (int gi = 0; gi < group; gi++) {
                    const int r = t * group + gi;
                    float *dst = out + (long)(t0 + t) * out_stride + (long)(g * group + gi) * d;
                    if (l[r] == 0) { /* no kept key: an invalid plan; zeros, counted, never NaN */
                        memset(dst, 0, sizeof(float) * d);
                        empty++;
                        continue;
                    }
                    const float inv = 1.0f / l[r];
                    for (int i = 0; i < d; i++) dst[i] = o[(long)r * d + i] * inv;
                }
        }
    }
    dam_free(vis_pool);
    dam_free(word_pool);
    dam_free(bword_pool);
    dam_free(bias_pool);
    dam_free(pool);
    return empty;
}

/* ---- benchmark ---- */

static uint64_t bench_rng = 0x2545F4914F6CDD1Dull;
static float bench_urand(void) { /* xorshift64*, uniform in [-1, 1) */
    bench_rng ^= bench_rng >> 12;
    bench_rng ^= bench_rng << 25;
    bench_rng ^= bench_rng >> 27;
    return (float)((double)((bench_rng * 2685821657736338717ull) >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

void attn_masked_bench(FILE *f, int n, int n_heads, int n_kv_heads, int d, int reps) {
    const size_t nq = (size_t)n * n_heads * d, nkv = (size_t)n_kv_heads * n * d;
    float *q = dam_malloc(sizeof(float) * nq, "bench q"), *o = dam_malloc(sizeof(float) * nq, "bench out");
    float *k = dam_malloc(sizeof(float) * nkv, "bench k"), *v = dam_malloc(sizeof(float) * nkv, "bench v");
    for (size_t i = 0; i < nq; i++) q[i] = bench_urand();
    for (size_t i = 0; i < nkv; i++) {
        k[i] = bench_urand();
        v[i] = bench_urand();
    }
    maskplan **dense = dam_malloc(sizeof *dense * n_heads, "bench plans");
    maskplan **dam = dam_malloc(sizeof *dam * n_heads, "bench plans");
    double density = 0;
    for (int h = 0; h < n_heads; h++) {
        dense[h] = maskplan_dense();
        dam[h] = maskplan_new();
        int32_t cols[16], diags[68];
        for (int i = 0; i < 4; i++) cols[i] = i;                  /* sinks */
        for (int i = 0; i < 12; i++) cols[4 + i] = 17 + 37 * i + h; /* verticals */
        for (int i = 0; i < 64; i++) diags[i] = i;                /* window */
        for (int i = 0; i < 4; i++) diags[64 + i] = 100 + 97 * i + 3 * h; /* far slashes */
        maskplan_set_cols(dam[h], cols, 16);
        maskplan_set_diags(dam[h], diags, 68);
        density += maskplan_density(dam[h], n) / n_heads;
    }
    const float scale = 1.0f / sqrtf((float)d);
    double best[3] = {INFINITY, INFINITY, INFINITY};
    for (int rep = 0; rep < reps + 1; rep++) { /* the first round warms up */
        for (int which = 0; which < 3; which++) {
            const double t = now_ms();
            if (which == 0) attn_causal(o, n_heads * d, q, n_heads * d, n, k, v, n, n, n_heads, n_kv_heads, d, scale);
            else
                attn_masked(o, n_heads * d, q, n_heads * d, n, k, v, n, n, n_heads, n_kv_heads, d, scale,
                            (const maskplan *const *)(which == 1 ? dense : dam));
            const double dt = now_ms() - t;
            if (rep > 0 && dt < best[which]) best[which] = dt;
        }
    }
    fprintf(f, "attention n=%d H=%d Hkv=%d d=%d threads=%d (best of %d)\n", n, n_heads, n_kv_heads, d,
            omp_get_max_threads(), reps);
    const double causal_flop = 2.0 * (double)n * (n + 1) * d * n_heads; /* QK^T and PV over causal pairs */
    fprintf(f, "  attn_causal                     %9.2f ms  (%.1f GFLOP/s)\n", best[0], causal_flop / best[0] / 1e6);
    fprintf(f, "  attn_masked dense plan          %9.2f ms  (%.1f GFLOP/s)\n", best[1], causal_flop / best[1] / 1e6);
    fprintf(f, "  attn_masked DAM-like plan       %9.2f ms  (density %.4f)\n", best[2], density);
    for (int h = 0; h < n_heads; h++) {
        maskplan_free(dense[h]);
        maskplan_free(dam[h]);
    }
    dam_free(dense);
    dam_free(dam);
    dam_free(q);
    dam_free(o);
    dam_free(k);
    dam_free(v);
}
