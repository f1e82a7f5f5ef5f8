/* test_attention_masked.c — attn_masked against a float64 brute force whose mask comes from the rule
 * of maskplan.h evaluated here on the raw parts (not through maskplan.c): every plan kind, different
 * plans for the heads of one GQA group, groups 1, 3 and 7, lengths not multiples of 64, bitmap plans
 * at n = L - 1, L, L + 1 for L = 512 and 100, chunked prefill (37 queries after 263 keys), decode,
 * huge logits, head_dim 64 and 128, dense plans against attn_causal, and an invalid plan whose
 * empty rows must come back as zeros and be counted.
 * Soft masks: the same cases again with a block bias (every plan kind gets a random blocks part
 * with per-block biases in [log(1e-6), 0], some exactly 0 or log(1e-6)), the brute force adding
 * the bias of the rule in maskplan.h (block pairs kept by the blocks part alone, outside the bitmap
 * region, not dense) to the scaled scores; both kernel paths (tile products and per-pair) see
 * biased pairs; a bias in one head leaves the other heads' outputs bit-identical, and an all-zero
 * bias is no bias (bit-identical).
 * Run: make build/tests/test_attention_masked && build/tests/test_attention_masked */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_masked.h"
#include "kernels/maskplan.h"
#include "ref_maskplan.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) { /* xorshift64* */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static double urand(void) { return (double)(next_u64() >> 11) / (double)(1ull << 53) * 2.0 - 1.0; } /* [-1, 1) */
static int irand(int n) { return n <= 0 ? 0 : (int)((next_u64() >> 33) % (uint64_t)n); }


static int g_bias; /* make_spec adds blocks and a block bias to every plan */


/* The logit bias of a kept pair by the rule of maskplan.h (ref_maskplan.h). */
static double ref_bias(const spec *s, long p, long j) { return ref_block_bias(s, s->bmat, s->nqb, p, j); }

enum { DENSE, COLS, DIAGS, BLOCKS, STREAMING, DAM, ALL, SPARSE_BLOCKS, N_KINDS, EMPTY_ROWS = 100 };
static const char *kind_name[] = {"dense", "cols", "diags", "blocks", "sinks+window", "dam", "all", "sparse-blocks"};

/* A plan of the given kind valid for n keys (no empty row), except EMPTY_ROWS. L: bitmap side. */
static spec make_spec(int kind, int n, int L) {
    spec s;
    memset(&s, 0, sizeof s);
    switch (kind) {
    case DENSE: s.dense = 1; break;
    case COLS: /* column 0 keeps every row non-empty */
        s.ncols = 1 + irand(30);
        for (int i = 0; i < s.ncols; i++) s.cols[i] = i == 0 ? 0 : irand(n);
        break;
    case DIAGS:
        s.ndiags = 1 + irand(30);
        for (int i = 0; i < s.ndiags; i++) s.diags[i] = i == 0 ? 0 : irand(2) ? irand(80) : irand(n);
        break;
    case STREAMING: /* 4 sinks + a window of 1 .. 70 */
        s.ncols = 4;
        for (int i = 0; i < 4; i++) s.cols[i] = 3 - i;
        s.ndiags = 1 + irand(70);
        for (int i = 0; i < s.ndiags; i++) s.diags[i] = i;
        break;
    case EMPTY_ROWS: /* rows 0 .. 49 keep nothing */
        s.ncols = 1;
        s.cols[0] = 50;
        break;
    default: break;
    }
    if (kind == BLOCKS || kind == ALL || kind == SPARSE_BLOCKS || (g_bias && kind != EMPTY_ROWS)) {
        s.nqb = (n + 63) / 64;
        s.ptr = malloc(sizeof(int32_t) * (s.nqb + 1));
        s.idx = malloc(sizeof(int32_t) * (s.nqb * 5 + 1));
        int w = 0;
        s.ptr[0] = 0;
        for (int qb = 0; qb < s.nqb; qb++) {
            const int listed = kind == BLOCKS || kind == SPARSE_BLOCKS || (kind != ALL && irand(2));
            if (listed) s.idx[w++] = kind == SPARSE_BLOCKS ? 0 : qb; /* keeps the block's rows non-empty */
            int extra = kind == SPARSE_BLOCKS ? 0 : irand(4);
            for (int i = 0; i < extra; i++) s.idx[w++] = irand(qb + 1);
            s.ptr[qb + 1] = w;
        }
    }
    if (g_bias && s.nqb) { /* biases in [log(1e-6), 0]: some 0, some log(1e-6) */
        const double lo = log(1e-6);
        s.bmat = malloc(sizeof(float) * s.nqb * s.nqb);
        for (int i = 0; i < s.nqb * s.nqb; i++) {
            const int r = irand(6);
            s.bmat[i] = r == 0 ? 0.0f : r == 1 ? (float)lo : (float)(lo * (urand() + 1) / 2);
        }
    }
    if (kind == DAM || kind == ALL) { /* a bitmap corner with its diagonal, then columns and diagonals */
        s.L = L;
        const int W = (L + 63) / 64;
        s.bits = malloc(sizeof(uint64_t) * L * W);
        for (int i = 0; i < L * W; i++) s.bits[i] = next_u64() & next_u64() & next_u64();
        for (int p = 0; p < L; p++) {
            if (p % 7 == 3) /* some rows keep only their diagonal, some only key 0 */
                for (int w = 0; w < W; w++) s.bits[p * W + w] = 0;
            if (p % 11 == 5) s.bits[p * W] |= 1; /* key 0 */
            else s.bits[p * W + p / 64] |= 1ull << (p % 64);
        }
        s.ncols = 4 + irand(12);
        for (int i = 0; i < s.ncols; i++) s.cols[i] = i < 4 ? i : irand(L);
        s.ndiags = 1 + irand(12);
        for (int i = 0; i < s.ndiags; i++) s.diags[i] = i == 0 ? 0 : irand(L);
        if (kind == DAM && irand(2)) { /* with a window */
            int w = 8 + irand(56);
            for (int i = 0; i < w && s.ndiags < 80; i++) s.diags[s.ndiags++] = i;
        }
    }
    return s;
}

static void free_spec(spec *s) {
    free(s->bmat);
    free(s->ptr);
    free(s->idx);
    free(s->bits);
}

static maskplan *build(const spec *s) {
    maskplan *p = s->dense ? maskplan_dense() : maskplan_new();
    if (s->ncols) maskplan_set_cols(p, s->cols, s->ncols);
    if (s->ndiags) maskplan_set_diags(p, s->diags, s->ndiags);
    if (s->nqb) maskplan_set_blocks(p, s->nqb, s->ptr, s->idx);
    if (s->L) maskplan_set_bitmap(p, s->L, s->bits);
    if (s->bmat) maskplan_set_block_bias_matrix(p, s->bmat, s->nqb);
    return p;
}

/* float64 reference: each (row, head) separately, softmax over the kept keys; no kept key -> zeros. */
static void reference(double *out, const float *q, int n_q, const float *k, const float *v, int cap, int n_k, int H,
                      int Hkv, int d, double scale, const spec *specs) {
    int group = H / Hkv;
    double *p = malloc(sizeof(double) * n_k);
    uint8_t *keep = malloc(n_k);
    for (int t = 0; t < n_q; t++) {
        int pos = n_k - n_q + t;
        for (int h = 0; h < H; h++) {
            const float *qv = q + ((long)t * H + h) * d;
            const float *kh = k + (long)(h / group) * cap * d, *vh = v + (long)(h / group) * cap * d;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= pos; j++) {
                keep[j] = (uint8_t)ref_kept(&specs[h], pos, j);
                if (!keep[j]) continue;
                double s = 0;
                for (int i = 0; i < d; i++) s += (double)qv[i] * kh[(long)j * d + i];
                p[j] = s * scale + ref_bias(&specs[h], pos, j);
                if (p[j] > mx) mx = p[j];
            }
            for (int j = 0; j <= pos; j++)
                if (keep[j]) sum += (p[j] = exp(p[j] - mx));
            double *o = out + ((long)t * H + h) * d;
            for (int i = 0; i < d; i++) {
                double acc = 0;
                for (int j = 0; j <= pos; j++)
                    if (keep[j]) acc += p[j] * vh[(long)j * d + i];
                o[i] = sum > 0 ? acc / sum : 0.0;
            }
        }
    }
    free(p);
    free(keep);
}

/* kinds[h] (or kind_of_head(h) when kinds is NULL) for each head; returns the kernel's empty count. */
static int run_case(int n_q, int n_k, int H, int Hkv, int d, double qscale, int L, const int *kinds, int kind_shift) {
    int cap = n_k + 5; /* capacity larger than n_k: strides must use cap */
    float *q = dam_malloc(sizeof(float) * n_q * H * d, "q");
    float *k = dam_malloc(sizeof(float) * Hkv * cap * d, "k");
    float *v = dam_malloc(sizeof(float) * Hkv * cap * d, "v");
    float *o = dam_malloc(sizeof(float) * n_q * H * d, "o");
    double *ref = malloc(sizeof(double) * n_q * H * d);
    for (long i = 0; i < (long)n_q * H * d; i++) q[i] = (float)(urand() * qscale);
    for (long i = 0; i < (long)Hkv * cap * d; i++) {
        k[i] = (float)urand();
        v[i] = (float)urand();
    }
    spec *specs = malloc(sizeof(spec) * H);
    maskplan **plans = malloc(sizeof(maskplan *) * H);
    int expect_empty = 0;
    char names[256] = "";
    for (int h = 0; h < H; h++) {
        int kind = kinds ? kinds[h] : (h + kind_shift) % N_KINDS; /* heads of one group differ */
        specs[h] = make_spec(kind, n_k, L);
        plans[h] = build(&specs[h]);
        if (kind == EMPTY_ROWS) {
            for (int t = 0; t < n_q; t++) expect_empty += n_k - n_q + t < 50;
        } else {
            const char *e = maskplan_validate(plans[h], n_k);
            CHECK(e == NULL, "test plan %s invalid: %s", kind_name[kind], e);
        }
        if (h < 8) {
            strcat(names, kind == EMPTY_ROWS ? "empty-rows" : kind_name[kind]);
            strcat(names, " ");
        }
    }
    float scale = 1.0f / sqrtf((float)d);
    int empty = attn_masked(o, H * d, q, H * d, n_q, k, v, cap, n_k, H, Hkv, d, scale, (const maskplan *const *)plans);
    reference(ref, q, n_q, k, v, cap, n_k, H, Hkv, d, scale, specs);
    double max_err = 0;
    int finite = 1;
    for (long i = 0; i < (long)n_q * H * d; i++) {
        if (!isfinite(o[i])) finite = 0;
        double e = fabs(o[i] - ref[i]);
        if (e > max_err) max_err = e;
    }
    CHECK(finite, "non-finite output n_q=%d n_k=%d H=%d Hkv=%d d=%d L=%d [%s]", n_q, n_k, H, Hkv, d, L, names);
    CHECK(max_err < 2e-5 * (qscale > 10 ? 10 : 1), "max abs error %.3g n_q=%d n_k=%d H=%d Hkv=%d d=%d qscale=%g L=%d [%s]",
          max_err, n_q, n_k, H, Hkv, d, qscale, L, names);
    CHECK(empty == expect_empty, "%d empty rows reported, want %d (n_q=%d n_k=%d H=%d) [%s]", empty, expect_empty, n_q,
          n_k, H, names);
    for (int h = 0; h < H; h++) {
        maskplan_free(plans[h]);
        free_spec(&specs[h]);
    }
    free(plans);
    free(specs);
    dam_free(q); dam_free(k); dam_free(v); dam_free(o);
    free(ref);
    return empty;
}

/* Dense plans (and plans == NULL) against attn_causal: the same up to fp rounding. */
static void dense_vs_causal(int n_q, int n_k, int H, int Hkv, int d) {
    int cap = n_k;
    float *q = dam_malloc(sizeof(float) * n_q * H * d, "q");
    float *k = dam_malloc(sizeof(float) * Hkv * cap * d, "k");
    float *v = dam_malloc(sizeof(float) * Hkv * cap * d, "v");
    float *o1 = dam_malloc(sizeof(float) * n_q * H * d, "o1");
    float *o2 = dam_malloc(sizeof(float) * n_q * H * d, "o2");
    float *o3 = dam_malloc(sizeof(float) * n_q * H * d, "o3");
    for (long i = 0; i < (long)n_q * H * d; i++) q[i] = (float)urand();
    for (long i = 0; i < (long)Hkv * cap * d; i++) {
        k[i] = (float)urand();
        v[i] = (float)urand();
    }
    maskplan **plans = malloc(sizeof(maskplan *) * H);
    for (int h = 0; h < H; h++) plans[h] = maskplan_dense();
    float scale = 1.0f / sqrtf((float)d);
    attn_causal(o1, H * d, q, H * d, n_q, k, v, cap, n_k, H, Hkv, d, scale);
    int e2 = attn_masked(o2, H * d, q, H * d, n_q, k, v, cap, n_k, H, Hkv, d, scale, (const maskplan *const *)plans);
    int e3 = attn_masked(o3, H * d, q, H * d, n_q, k, v, cap, n_k, H, Hkv, d, scale, NULL);
    double d2 = 0, d3 = 0;
    for (long i = 0; i < (long)n_q * H * d; i++) {
        d2 = fmax(d2, fabs(o1[i] - o2[i]));
        d3 = fmax(d3, fabs(o1[i] - o3[i]));
    }
    CHECK(e2 == 0 && e3 == 0, "dense plans reported empty rows");
    CHECK(d2 < 1e-6 && d3 < 1e-6, "dense vs attn_causal: %.3g / %.3g (n_q=%d n_k=%d H=%d Hkv=%d d=%d)", d2, d3, n_q,
          n_k, H, Hkv, d);
    for (int h = 0; h < H; h++) maskplan_free(plans[h]);
    free(plans);
    dam_free(q); dam_free(k); dam_free(v); dam_free(o1); dam_free(o2); dam_free(o3);
}

/* Masked keys weigh exactly 0, not e^-87: keys 7 .. 9 and 71 sit in visited key blocks but no head
 * keeps them; their values are 1e36 and their keys give the largest scores, so any non-zero weight
 * (or a masked score in the row maximum) shows in the output. */
static void masked_weigh_zero(void) {
    const int n = 100, H = 4, Hkv = 2, d = 64;
    float *q = dam_malloc(sizeof(float) * n * H * d, "q"), *o = dam_malloc(sizeof(float) * n * H * d, "o");
    float *k = dam_malloc(sizeof(float) * Hkv * n * d, "k"), *v = dam_malloc(sizeof(float) * Hkv * n * d, "v");
    double *ref = malloc(sizeof(double) * n * H * d);
    for (long i = 0; i < (long)n * H * d; i++) q[i] = (float)fabs(urand());
    for (int g = 0; g < Hkv; g++)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < d; i++) {
                const int hidden = (j >= 7 && j <= 9) || j == 71;
                k[((long)g * n + j) * d + i] = hidden ? 3.0f : (float)urand();
                v[((long)g * n + j) * d + i] = hidden ? 1e36f : (float)urand();
            }
    /* group 0: a few columns (the per-pair path); group 1: bitmaps keeping every causal key but the
     * hidden ones (the tile-product path with a masked keep word) */
    spec specs[4];
    memset(specs, 0, sizeof specs);
    const int32_t cols[2][3] = {{0, 5, 10}, {0, 70, 72}};
    maskplan *plans[4];
    for (int h = 0; h < H; h++) {
        if (h < 2) {
            specs[h].ncols = 3;
            memcpy(specs[h].cols, cols[h], sizeof cols[h]);
        } else {
            specs[h].L = n;
            specs[h].bits = calloc((size_t)n * 2, sizeof(uint64_t));
            for (int p = 0; p < n; p++)
                for (int j = 0; j <= p; j++)
                    if (!((j >= 7 && j <= 9) || j == 71) && (h == 2 || j % 3 != 1))
                        specs[h].bits[p * 2 + j / 64] |= 1ull << (j % 64);
        }
        plans[h] = build(&specs[h]);
    }
    float scale = 1.0f / sqrtf((float)d);
    int empty = attn_masked(o, H * d, q, H * d, n, k, v, n, n, H, Hkv, d, scale, (const maskplan *const *)plans);
    reference(ref, q, n, k, v, n, n, H, Hkv, d, scale, specs);
    double max_err = 0;
    for (long i = 0; i < (long)n * H * d; i++) max_err = fmax(max_err, fabs(o[i] - ref[i]));
    CHECK(empty == 0 && max_err < 2e-5, "masked keys leak: max abs error %.3g, %d empty", max_err, empty);
    for (int h = 0; h < H; h++) {
        maskplan_free(plans[h]);
        free(specs[h].bits);
    }
    dam_free(q); dam_free(o); dam_free(k); dam_free(v);
    free(ref);
}

/* Random q, k, v for n_q queries after n_k keys; cap = n_k. */
static void rand_qkv(float **q, float **k, float **v, int n_q, int n_k, int H, int Hkv, int d, double qscale) {
    *q = dam_malloc(sizeof(float) * n_q * H * d, "q");
    *k = dam_malloc(sizeof(float) * Hkv * n_k * d, "k");
    *v = dam_malloc(sizeof(float) * Hkv * n_k * d, "v");
    for (long i = 0; i < (long)n_q * H * d; i++) (*q)[i] = (float)(urand() * qscale);
    for (long i = 0; i < (long)Hkv * n_k * d; i++) {
        (*k)[i] = (float)urand();
        (*v)[i] = (float)urand();
    }
}

/* Bit-identity: plans without a bias give the same bits whether or not another head of the
 * group carries one (the biased head takes the bias path, its neighbours' rows must not), and a
 * bias of 0 everywhere is no bias. Heads of every kind, groups 1, 3 and 7. */
static void bias_isolated(int n_q, int n_k, int H, int Hkv) {
    const int d = 64;
    float *q, *k, *v, *o1 = dam_malloc(sizeof(float) * n_q * H * d, "o1"), *o2 = dam_malloc(sizeof(float) * n_q * H * d, "o2");
    rand_qkv(&q, &k, &v, n_q, n_k, H, Hkv, d, 1);
    spec *specs = malloc(sizeof(spec) * H);
    maskplan **plans = malloc(sizeof(maskplan *) * H);
    for (int h = 0; h < H; h++) {
        specs[h] = make_spec(h % (H / Hkv) == 0 ? BLOCKS : (h + n_k) % N_KINDS, n_k, 100);
        plans[h] = build(&specs[h]);
    }
    const float scale = 1.0f / sqrtf((float)d);
    attn_masked(o1, H * d, q, H * d, n_q, k, v, n_k, n_k, H, Hkv, d, scale, (const maskplan *const *)plans);
    /* an all-zero bias on every head with blocks: stored as none, the same bits */
    for (int h = 0; h < H; h++)
        if (plans[h]->blk_ptr) {
            float *z = calloc((size_t)plans[h]->blk_ptr[plans[h]->n_qblocks] + 1, sizeof(float));
            maskplan_set_block_bias(plans[h], z);
            free(z);
        }
    attn_masked(o2, H * d, q, H * d, n_q, k, v, n_k, n_k, H, Hkv, d, scale, (const maskplan *const *)plans);
    CHECK(memcmp(o1, o2, sizeof(float) * n_q * H * d) == 0, "an all-zero bias changed the output (n_q=%d n_k=%d H=%d)",
          n_q, n_k, H);
    /* a real bias on head 0 of each group: the other heads keep their bits */
    for (int h = 0; h < H; h += H / Hkv) {
        const int nqb = plans[h]->n_qblocks;
        float *b = malloc(sizeof(float) * ((size_t)plans[h]->blk_ptr[nqb] + 1));
        for (int i = 0; i < plans[h]->blk_ptr[nqb]; i++) b[i] = (float)(log(1e-6) * (urand() + 1) / 2);
        maskplan_set_block_bias(plans[h], b);
        free(b);
    }
    attn_masked(o2, H * d, q, H * d, n_q, k, v, n_k, n_k, H, Hkv, d, scale, (const maskplan *const *)plans);
    int same = 1, changed = 0;
    for (int t = 0; t < n_q; t++)
        for (int h = 0; h < H; h++) {
            const int eq = memcmp(o1 + ((long)t * H + h) * d, o2 + ((long)t * H + h) * d, sizeof(float) * d) == 0;
            if (h % (H / Hkv) != 0) same &= eq;
            else changed += !eq;
        }
    CHECK(same, "a bias on another head changed an unbiased head's output (n_q=%d n_k=%d H=%d Hkv=%d)", n_q, n_k, H, Hkv);
    CHECK(changed > 0, "the bias changed nothing (n_q=%d n_k=%d H=%d Hkv=%d)", n_q, n_k, H, Hkv);
    for (int h = 0; h < H; h++) {
        maskplan_free(plans[h]);
        free_spec(&specs[h]);
    }
    free(plans);
    free(specs);
    dam_free(q); dam_free(k); dam_free(v); dam_free(o1); dam_free(o2);
}

/* Biased pairs on the per-pair path: a group of 7 where head 0 keeps only its diagonal key blocks
 * (biased) and the others column 0 — every visited block holds < 1/8 kept pairs — and the biased
 * pairs hold the largest scores (so a lost or doubled bias shows). */
static void bias_sparse_path(void) {
    const int n = 200, H = 7, Hkv = 1, d = 64;
    spec specs[7];
    memset(specs, 0, sizeof specs);
    maskplan *plans[7];
    const int nqb = (n + 63) / 64;
    for (int h = 0; h < H; h++) {
        if (h == 0) {
            specs[h].nqb = nqb;
            specs[h].ptr = malloc(sizeof(int32_t) * (nqb + 1));
            specs[h].idx = malloc(sizeof(int32_t) * nqb);
            specs[h].bmat = calloc((size_t)nqb * nqb, sizeof(float));
            specs[h].ptr[0] = 0;
            for (int qb = 0; qb < nqb; qb++) {
                specs[h].idx[qb] = qb;
                specs[h].ptr[qb + 1] = qb + 1;
                specs[h].bmat[qb * nqb + qb] = (float)(qb == 1 ? log(1e-6) : -3.0 - qb);
            }
            specs[h].ndiags = 0;
        } else {
            specs[h].ncols = 1;
            specs[h].cols[0] = 0;
        }
        plans[h] = build(&specs[h]);
    }
    float *q, *k, *v, *o = dam_malloc(sizeof(float) * n * H * d, "o");
    rand_qkv(&q, &k, &v, n, n, H, Hkv, d, 3);
    double *ref = malloc(sizeof(double) * n * H * d);
    const float scale = 1.0f / sqrtf((float)d);
    int empty = attn_masked(o, H * d, q, H * d, n, k, v, n, n, H, Hkv, d, scale, (const maskplan *const *)plans);
    reference(ref, q, n, k, v, n, n, H, Hkv, d, scale, specs);
    double max_err = 0;
    for (long i = 0; i < (long)n * H * d; i++) max_err = fmax(max_err, fabs(o[i] - ref[i]));
    CHECK(empty == 0 && max_err < 2e-5, "per-pair path with a bias: max abs error %.3g, %d empty", max_err, empty);
    for (int h = 0; h < H; h++) {
        maskplan_free(plans[h]);
        free_spec(&specs[h]);
    }
    dam_free(q); dam_free(k); dam_free(v); dam_free(o);
    free(ref);
}

/* The main loop of cases (each with and without biases). */
static void all_cases(void) {
    int groups[][2] = {{4, 4}, {9, 3}, {7, 1}, {14, 2}};
    const int lens[] = {1, 63, 65, 100, 129, 300};
    for (int gi = 0; gi < 4; gi++) {
        int H = groups[gi][0], Hkv = groups[gi][1];
        for (int li = 0; li < 6; li++)
            for (int shift = 0; shift < N_KINDS; shift += (H >= N_KINDS ? N_KINDS : 3))
                run_case(lens[li], lens[li], H, Hkv, 64, 1, 100, NULL, shift + li);
        run_case(37, 300, H, Hkv, 64, 1, 100, NULL, gi);     /* chunked prefill: 37 queries after 263 keys */
        run_case(37, 300, H, Hkv, 64, 1, 280, NULL, gi + 3); /* ... the chunk straddles the bitmap edge */
        run_case(1, 517, H, Hkv, 64, 1, 512, NULL, gi);      /* decode */
        run_case(1, 517, H, Hkv, 64, 1, 512, NULL, gi + 5);
        run_case(70, 70, H, Hkv, 128, 1, 50, NULL, gi);      /* head_dim 128 */
        run_case(129, 129, H, Hkv, 128, 1, 100, NULL, gi + 4);
        dense_vs_causal(100, 100, H, Hkv, 64);
        dense_vs_causal(37, 300, H, Hkv, 128);
        dense_vs_causal(1, 517, H, Hkv, 64);
    }
    /* bitmap plans at n = L - 1, L, L + 1 for L = 512 and L = 100 */
    const int bitmap_kinds[] = {5, 6, 5, 6, 5, 6, 5, 6, 5}; /* DAM, ALL */
    for (int L = 100; L <= 512; L += 412)
        for (int n = L - 1; n <= L + 1; n++) {
            run_case(n, n, 9, 3, 64, 1, L, bitmap_kinds, 0);
            run_case(n, n, 7, 1, 64, 1, L, NULL, n);
        }
    /* huge logits: most probabilities underflow; masked keys must stay out of the max */
    for (int shift = 0; shift < N_KINDS; shift += 3) run_case(65, 200, 9, 3, 64, 200, 100, NULL, shift);
    run_case(300, 300, 9, 3, 64, 200, 100, bitmap_kinds, 0);
}

int main(void) {
    size_t before = dam_mem_in_use();
    all_cases();
    g_bias = 1; /* the same cases with a block bias on every plan */
    all_cases();
    g_bias = 0;
    bias_isolated(100, 100, 4, 4);
    bias_isolated(300, 300, 9, 3);
    bias_isolated(37, 300, 7, 1);
    bias_isolated(1, 517, 9, 3);
    bias_sparse_path();
    /* an invalid plan: rows 0 .. 49 of some heads keep nothing -> zeros, counted */
    const int with_empty[] = {EMPTY_ROWS, DENSE, DIAGS, EMPTY_ROWS, STREAMING, EMPTY_ROWS};
    int e = run_case(100, 100, 6, 2, 64, 1, 100, with_empty, 0);
    CHECK(e == 150, "empty rows counted %d, want 150", e);
    e = run_case(20, 100, 6, 2, 64, 1, 100, with_empty, 0); /* rows at 80 .. 99: none empty */
    CHECK(e == 0, "chunk beyond the empty rows: %d", e);
    masked_weigh_zero();
    CHECK(dam_mem_in_use() == before, "leaked %zu bytes", dam_mem_in_use() - before);
    return test_done("attention_masked");
}
