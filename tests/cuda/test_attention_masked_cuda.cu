// test_attention_masked_cuda.cu — attn_cuda_masked (kernels/cuda/attention_masked.h) on the GPU
// against a float64 brute force on the host whose mask comes from the rule of maskplan.h evaluated
// here on the raw parts (not through maskplan.c), as in tests/test_attention_masked.c.
// Inputs are random bf16 values; the reference uses the same bf16 values (as doubles), so the only
// differences are the kernel's fp32 arithmetic, the bf16 rounding of the probabilities before P·V
// and the bf16 rounding of the output.
// Tolerance: with |v| <= 1, the probability rounding moves o by at most u·Σp|v|/Σp <= u and the
// output rounding by at most u·|o| <= u, u = 2^-8 (bf16 unit roundoff), so |o - ref| <= 2^-7 = 7.8e-3
// (fp32 rounding adds ~1e-6); the relative L2 error ||o - ref|| / ||ref|| must also stay <= 1e-2.
// Cases: every plan kind (dense, columns, diagonals, blocks, sinks+window, DAM bitmap+columns+
// diagonals, all parts, sparse blocks), block plans on the wgmma kernel (block_cases: asserted to take
// it on sm_90, with dense heads and empty rows), different kinds within one GQA group, groups 1, 3, 4 and 7,
// lengths not multiples of 64, chunked prefill (queries not aligned to 64), decode, huge logits,
// every logit very negative, bitmap plans on the GPU build (bitmap_cases: all-kept, empty and mixed
// bitmap tiles, steps from 0, chunks inside and past the bitmap, DAM's PCL 512 at 2K; the build's cap
// on bitmap tiles: bitmap_tile_cap),
// soft masks (block bias), head_dim 64 and 128, dense plans on the dense path (the wgmma kernel,
// attention_wgmma.h, on sm_90: GQA groups 1, 3, 4, 6, 7, 8, lengths around its 64- and 128-row tiles), on the
// list path and on the mma.sync kernel's dense path (bit-identical to the list path), sinks + sliding
// window plans on the wgmma kernel (asserted to take it on sm_90) and on the list path, chunked
// prefill bit-identical to one-shot prefill (dense and sinks + window), every sparse plan with and without gathered tiles, every plan with the heads of a
// GQA group packed per CTA (ATTN_CUDA_PACK_GQA), a plan with empty rows (zeros, counted), masked keys with huge values (must weigh
// exactly 0), a 2500-token and a 4096-token case (rows sampled for the reference). The output is
// poisoned (NaN) before each run: an unwritten element fails; so are the KV rows past n_k (up to the
// capacity): a kernel that reads them fails.
// Run (needs an NVIDIA GPU, sm_90): make CUDA=1 && build/cuda/test_attention_masked_cuda
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/attention_masked.h"
#include "kernels/cuda/attention_plan.h"
#include "kernels/cuda/attention_plan_gpu.h"
#include "kernels/cuda/cuda_check.h"
#include "tests/ref_maskplan.h"
#include "tests/test.h"

#include "tests/cuda/test_util.h"  // rng (seed 0x9E3779B97F4A7C15), urand, irand, f2bf, bf2f


static int g_bias;
static int g_negative;  // q <= 0 and k >= 0: every logit is very negative (about -qscale * 8 * d^0.5 / 2)

static double ref_bias(const spec *s, long p, long j) { return ref_block_bias(s, s->bmat, s->nqb, p, j); }

enum { DENSE, COLS, DIAGS, BLOCKS, STREAMING, DAM, ALL, SPARSE_BLOCKS, N_KINDS, DAMLIKE = 50, EMPTY_ROWS = 100, BAND = 150,
       MANYCOLS = 200, BLOCK_HOLES = 250 /* blocks; query blocks qb % 3 == 1 keep nothing (empty rows) */,
       BLOCKS_DENSE = 300 /* blocks: the diagonal and 90 % of the earlier ones (XAttention-like) */,
       BLOCKS_ALL = 350 /* blocks: every causal block (fills the 128 x 128 tiles but the diagonal's) */,
       DAM_TILES = 400 /* DAM whose bitmap tiles are all kept (query block 0), empty (block 1 below its
                          diagonal tile; odd key tiles later), or random: the GPU build's three codes */ };
static int g_band_s, g_band_w;   // BAND: sinks 0 .. g_band_s - 1 and the window of g_band_w keys, every head
static int g_last_sink_window;   // the last plan was a sink + window plan (the wgmma kernel, no lists)
static int g_wgmma_device;       // compute capability 9.0: dense and sink + window plans take the wgmma kernel
static int g_last_wgmma;         // the last plan was routed to the wgmma kernel (dense or sink + window)
static int g_last_gpu_lists;     // the last plan's lists were built on the GPU (attention_plan_gpu.h)
static int g_last_block_bits;    // the last plan was a block plan run by the wgmma kernel from bits
static int g_last_block_fine;    // ... on its 64 x 64 tiles
static long g_list_runs[2];      // kernel runs on the list kernel with mma.sync [0] / wgmma [1] products
static long g_bitmap_gpu;        // default-path runs of plans with a bitmap whose lists the GPU built
static long g_block_cases[3];    // block plans on sm_90 whose default path is lists [0] / the bits on
                                 // coarse tiles [1] (only at d = 128 by default) / on 64 x 64 tiles [2]
static int g_last_wgmma_heads;   // ... and its dense heads given to the wgmma kernel
static const char *kind_name[] = {"dense", "cols", "diags", "blocks", "sinks+window", "dam", "all", "sparse-blocks"};

static spec make_spec(int kind, int n, int L) {
    spec s;
    memset(&s, 0, sizeof s);
    switch (kind) {
    case DENSE: s.dense = 1; break;
    case BAND:
        s.band_s = g_band_s;
        s.band_w = g_band_w;
        break;
    case COLS:
        s.ncols = 1 + irand(30);
        for (int i = 0; i < s.ncols; i++) s.cols[i] = i == 0 ? 0 : irand(n);
        break;
    case DIAGS:
        s.ndiags = 1 + irand(30);
        for (int i = 0; i < s.ndiags; i++) s.diags[i] = i == 0 ? 0 : irand(2) ? irand(80) : irand(n);
        break;
    case STREAMING:
        s.ncols = 4;
        for (int i = 0; i < 4; i++) s.cols[i] = 3 - i;
        s.ndiags = 1 + irand(70);
        for (int i = 0; i < s.ndiags; i++) s.diags[i] = i;
        break;
    case DAMLIKE:  // the benchmark's layout: 4 sinks + 12 columns < 512 + window 64 + 4 diagonals in 448..511
        s.ncols = 16;
        for (int i = 0; i < 16; i++) s.cols[i] = i < 4 ? i : 4 + irand(508);
        s.ndiags = 68;
        for (int i = 0; i < 68; i++) s.diags[i] = i < 64 ? i : 448 + irand(64);
        break;
    case EMPTY_ROWS:
        s.ncols = 1;
        s.cols[0] = 50;
        break;
    case MANYCOLS:  // more column keys than one gathered tile holds (GPU lists: several per item)
        s.ncols = 150 + irand(100);
        for (int i = 0; i < s.ncols; i++) s.cols[i] = irand(n);
        s.ndiags = 1;
        s.diags[0] = 0;
        break;
    default: break;
    }
    if (kind == BLOCKS || kind == ALL || kind == SPARSE_BLOCKS || kind == BLOCK_HOLES || kind == BLOCKS_DENSE || kind == BLOCKS_ALL ||
        (g_bias && kind != EMPTY_ROWS && kind != DAMLIKE && kind != BAND)) {
        s.nqb = (n + 63) / 64;
        s.ptr = (int32_t *)malloc(sizeof(int32_t) * (s.nqb + 1));
        s.idx = (int32_t *)malloc(sizeof(int32_t) * (kind == BLOCKS_DENSE || kind == BLOCKS_ALL ? (size_t)s.nqb * (s.nqb + 1) / 2 + 1
                                                                                                : s.nqb * 5 + 1));
        int w = 0;
        s.ptr[0] = 0;
        for (int qb = 0; qb < s.nqb; qb++) {
            if (kind == BLOCKS_DENSE || kind == BLOCKS_ALL) {
                for (int kb = 0; kb < qb; kb++)
                    if (kind == BLOCKS_ALL || irand(10)) s.idx[w++] = kb;
                s.idx[w++] = qb;
                s.ptr[qb + 1] = w;
                continue;
            }
            const int hole = kind == BLOCK_HOLES && qb % 3 == 1;
            const int listed = !hole && (kind == BLOCKS || kind == SPARSE_BLOCKS || kind == BLOCK_HOLES || (kind != ALL && irand(2)));
            if (listed) s.idx[w++] = kind == SPARSE_BLOCKS ? 0 : qb;
            int extra = kind == SPARSE_BLOCKS || hole ? 0 : irand(4);
            for (int i = 0; i < extra; i++) s.idx[w++] = irand(qb + 1);
            s.ptr[qb + 1] = w;
        }
    }
    if (g_bias && s.nqb) {
        const double lo = log(1e-6);
        s.bmat = (float *)malloc(sizeof(float) * s.nqb * s.nqb);
        for (int i = 0; i < s.nqb * s.nqb; i++) {
            const int r = irand(6);
            s.bmat[i] = r == 0 ? 0.0f : r == 1 ? (float)lo : (float)(lo * (urand() + 1) / 2);
        }
    }
    if (kind == DAM || kind == ALL || kind == DAM_TILES) {
        s.L = L;
        const int W = (L + 63) / 64;
        s.bits = (uint64_t *)malloc(sizeof(uint64_t) * L * W);
        for (int i = 0; i < L * W; i++) s.bits[i] = next_u64() & next_u64() & next_u64();
        for (int p = 0; p < L; p++) {
            if (p % 7 == 3)
                for (int w = 0; w < W; w++) s.bits[p * W + w] = 0;
            if (p % 11 == 5) s.bits[p * W] |= 1;
            else s.bits[p * W + p / 64] |= 1ull << (p % 64);
        }
        s.ncols = 4 + irand(12);
        for (int i = 0; i < s.ncols; i++) s.cols[i] = i < 4 ? i : irand(L);
        s.ndiags = 1 + irand(12);
        for (int i = 0; i < s.ndiags; i++) s.diags[i] = i == 0 ? 0 : irand(L);
        for (int p = 0; p < L && kind == DAM_TILES; p++)
            for (int j = 0; j <= p; j++) {
                const int qb = p / 64, kt = j / 64;
                const bool keep = qb == 0 || (qb == 1 && kt == 1) || (qb >= 2 && kt % 2 == 0 && irand(4) == 0) || j == p;
                s.bits[p * W + j / 64] = (s.bits[p * W + j / 64] & ~(1ull << (j % 64))) | ((uint64_t)keep << (j % 64));
            }
        if (kind == DAM && irand(2)) {
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
    if (s->band_w > 0) {  // ranges as a method builds them (baselines/streaming.c)
        int32_t *r = (int32_t *)malloc(sizeof(int32_t) * (s->band_s > s->band_w ? s->band_s : s->band_w));
        for (int i = 0; i < s->band_s || i < s->band_w; i++) r[i] = i;
        if (s->band_s) maskplan_set_cols(p, r, s->band_s);
        maskplan_set_diags(p, r, s->band_w);
        free(r);
    }
    if (s->nqb) maskplan_set_blocks(p, s->nqb, s->ptr, s->idx);
    if (s->L) maskplan_set_bitmap(p, s->L, s->bits);
    if (s->bmat) maskplan_set_block_bias_matrix(p, s->bmat, s->nqb);
    return p;
}

// float64 reference for query row t (all heads): softmax over the kept keys; none kept -> zeros.
static void reference_row(double *out, int t, const float *q, int n_q, const float *k, const float *v, int cap,
                          int n_k, int H, int Hkv, int d, double scale, const spec *specs, double *p, uint8_t *keep) {
    const int group = H / Hkv, pos = n_k - n_q + t;
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
        double *o = out + (long)h * d;
        for (int i = 0; i < d; i++) {
            double acc = 0;
            for (int j = 0; j <= pos; j++)
                if (keep[j]) acc += p[j] * vh[(long)j * d + i];
            o[i] = sum > 0 ? acc / sum : 0.0;
        }
    }
}

static const double TOL_ABS = 7.8125e-3, TOL_REL_L2 = 1e-2;
static double worst_abs, worst_rel;  // over all cases, for the summary
static long cases_run;

typedef struct {
    double max_abs, rel_l2;
    int empty, finite;
} result;

// Runs the kernel on given bf16 inputs (host copies) and compares with the reference on the rows
// t with t % row_step == 0 or t >= n_q - 8. Returns the result; out_host (optional) gets the output.
static result run_and_check(const uint16_t *qb, const uint16_t *kb, const uint16_t *vb, int n_q, int n_k, int cap,
                            int H, int Hkv, int d, const spec *specs, maskplan **plans, int flags, int row_step,
                            uint16_t *out_host) {
    const size_t nq = (size_t)n_q * H * d, nkv = (size_t)Hkv * cap * d;
    float *q = (float *)malloc(sizeof(float) * nq), *k = (float *)malloc(sizeof(float) * nkv),
          *v = (float *)malloc(sizeof(float) * nkv);
    for (size_t i = 0; i < nq; i++) q[i] = bf2f(qb[i]);
    for (size_t i = 0; i < nkv; i++) {
        k[i] = bf2f(kb[i]);
        v[i] = bf2f(vb[i]);
    }
    dam_bf16 *dq, *dk, *dv, *dout;
    int *dempty;
    CUDA_CHECK(cudaMalloc((void **)&dq, nq * 2));
    CUDA_CHECK(cudaMalloc((void **)&dk, nkv * 2));
    CUDA_CHECK(cudaMalloc((void **)&dv, nkv * 2));
    CUDA_CHECK(cudaMalloc((void **)&dout, nq * 2));
    CUDA_CHECK(cudaMalloc((void **)&dempty, sizeof(int)));
    CUDA_CHECK(cudaMemcpy(dq, qb, nq * 2, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(dk, kb, nkv * 2, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(dv, vb, nkv * 2, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemset(dout, 0xff, nq * 2));  // 0xffff: a NaN
    CUDA_CHECK(cudaMemset(dempty, 0, sizeof(int)));
    attn_cuda_plan *plan = attn_cuda_plan_build_ex((const maskplan *const *)plans, n_q, n_k, H, Hkv, flags);
    g_last_sink_window = plan->sink_window;
    g_last_wgmma = plan->sink_window || plan->wgmma || plan->block_bits;
    g_last_block_bits = plan->block_bits;
    g_last_block_fine = attn_cuda_block_fine(plan, d);
    if (!g_last_wgmma) g_list_runs[attn_cuda_list_wgmma(plan, d)]++;  // the plan ran on the list kernel
    g_last_gpu_lists = plan->gpu_lists;
    g_last_wgmma_heads = plan->n_wgmma_heads;
    const float scale = 1.0f / sqrtf((float)d);
    attn_cuda_masked(dout, H * d, dq, H * d, n_q, dk, dv, cap, n_k, H, Hkv, d, scale, plan, dempty, NULL);
    CUDA_CHECK(cudaDeviceSynchronize());
    uint16_t *ob = (uint16_t *)malloc(nq * 2);
    result r = {0, 0, 0, 1};
    CUDA_CHECK(cudaMemcpy(ob, dout, nq * 2, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(&r.empty, dempty, sizeof(int), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < nq; i++)
        if (!isfinite(bf2f(ob[i]))) r.finite = 0;
    double *ref = (double *)malloc(sizeof(double) * H * d), *p = (double *)malloc(sizeof(double) * n_k);
    uint8_t *keep = (uint8_t *)malloc(n_k);
    double num = 0, den = 0;
    for (int t = 0; t < n_q; t++) {
        if (t % row_step != 0 && t < n_q - 8) continue;
        reference_row(ref, t, q, n_q, k, v, cap, n_k, H, Hkv, d, scale, specs, p, keep);
        for (int i = 0; i < H * d; i++) {
            const double o = bf2f(ob[(size_t)t * H * d + i]), e = fabs(o - ref[i]);
            if (!(e <= r.max_abs)) r.max_abs = isnan(e) ? INFINITY : e;
            num += (o - ref[i]) * (o - ref[i]);
            den += ref[i] * ref[i];
        }
    }
    r.rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    if (!isfinite(r.rel_l2)) r.rel_l2 = INFINITY;
    if (out_host) memcpy(out_host, ob, nq * 2);
    attn_cuda_plan_free(plan);
    CUDA_CHECK(cudaFree(dq));
    CUDA_CHECK(cudaFree(dk));
    CUDA_CHECK(cudaFree(dv));
    CUDA_CHECK(cudaFree(dout));
    CUDA_CHECK(cudaFree(dempty));
    free(q); free(k); free(v); free(ob); free(ref); free(p); free(keep);
    return r;
}

static void rand_bf16(uint16_t *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = f2bf((float)(urand() * scale));
}

// kinds[h] (or (h + kind_shift) % N_KINDS) per head; returns the kernel's empty count.
static int run_case(int n_q, int n_k, int H, int Hkv, int d, double qscale, int L, const int *kinds, int kind_shift,
                    int row_step) {
    const int cap = (n_k + 5 + 7) / 8 * 8;  // larger than n_k: strides must use cap
    const size_t nq = (size_t)n_q * H * d, nkv = (size_t)Hkv * cap * d;
    uint16_t *q = (uint16_t *)malloc(nq * 2), *k = (uint16_t *)malloc(nkv * 2), *v = (uint16_t *)malloc(nkv * 2);
    rand_bf16(q, nq, qscale);
    rand_bf16(k, nkv, 1);
    if (g_negative) {
        for (size_t i = 0; i < nq; i++) q[i] |= 0x8000;   // sign bit set: q <= 0
        for (size_t i = 0; i < nkv; i++) k[i] &= 0x7fff;  // k >= 0
    }
    rand_bf16(v, nkv, 1);
    for (int g = 0; g < Hkv; g++)  // rows n_k .. cap-1 of the cache: NaN, which no kernel may read
        for (size_t i = (size_t)n_k * d; i < (size_t)cap * d; i++) k[(size_t)g * cap * d + i] = v[(size_t)g * cap * d + i] = 0x7fc0;
    spec *specs = (spec *)malloc(sizeof(spec) * H);
    maskplan **plans = (maskplan **)malloc(sizeof(maskplan *) * H);
    int expect_empty = 0, all_dense = 1, all_band = 1, any_bias = 0, any_bitmap = 0, n_dense = 0, blocks_only = 1;
    char names[256] = "";
    for (int h = 0; h < H; h++) {
        const int kind = kinds ? kinds[h] : (h + kind_shift) % N_KINDS;
        specs[h] = make_spec(kind, n_k, L);
        plans[h] = build(&specs[h]);
        all_dense &= kind == DENSE;
        all_band &= kind == BAND;
        n_dense += plans[h]->dense;
        any_bias |= !plans[h]->dense && plans[h]->blk_bias != NULL;
        any_bitmap |= !plans[h]->dense && plans[h]->bitmap_L > 0;
        blocks_only &= plans[h]->dense || (plans[h]->n_cols == 0 && plans[h]->n_diags == 0 && plans[h]->bitmap_L == 0 &&
                                           plans[h]->blk_bias == NULL);
        if (kind == EMPTY_ROWS) {
            for (int t = 0; t < n_q; t++) expect_empty += n_k - n_q + t < 50;
        } else if (kind == BLOCK_HOLES) {
            for (int t = 0; t < n_q; t++) expect_empty += (n_k - n_q + t) / 64 % 3 == 1;
        } else {
            const char *e = maskplan_validate(plans[h], n_k);
            CHECK(e == NULL, "test plan invalid: %s", e);
        }
        if (h < 8) {
            strcat(names, kind == EMPTY_ROWS ? "empty-rows" : kind == BLOCK_HOLES ? "block-holes" : kind == BLOCKS_DENSE ? "blocks-90%" : kind == BLOCKS_ALL ? "blocks-all" : kind == DAMLIKE ? "dam-like" : kind == DAM_TILES ? "dam-tiles" : kind == BAND ? "band"
                          : kind == MANYCOLS ? "many-cols" : kind_name[kind]);
            strcat(names, " ");
        }
    }
    uint16_t *o1 = (uint16_t *)malloc(nq * 2), *o2 = (uint16_t *)malloc(nq * 2);
    int ret = 0;
    // dense plans: the dense path (the wgmma kernel on an sm_90 device), then the list path on mma.sync
    // (every causal tile listed), then the mma.sync kernel's dense path, which must be bit-identical to
    // that list path, then that path with GQA heads packed per CTA, then the list path with its default
    // products (wgmma at d = 64 on sm_90, attn_cuda_list_wgmma); other plans: the default (lists built
    // on the GPU for columns, diagonals and unbiased blocks when n_q >= 128, asserted), then host
    // lists without gathered tiles, then GQA-packed CTAs, then for plans the GPU can build the other
    // build (host lists with gathered tiles where the default was the GPU's, else the GPU's, forced).
    // Bitmap plans (DAM's) are eligible: the GPU build lists their bitmap rows' tiles as host-made masks.
    const int eligible = !all_dense && !any_bias && !(all_band && g_wgmma_device);
    // block plans (every head dense or 64-blocks only, not all dense) take the wgmma kernel from bits on
    // sm_90 for n_q >= 128: at d = 64 its 64 x 64 tiles, at d = 128 its 128 x 128 tiles when their
    // efficiency is high enough, else 64 x 64 (computed here from the counts of the same
    // attn_plan_block_bits); and always with ATTN_CUDA_BLOCK_BITS (coarse tiles) and
    // ATTN_CUDA_BLOCK_FINE (64 x 64): two more passes
    const int all_blocks = blocks_only && !all_dense;
    const int gpu_default = eligible && n_q >= 128;
    int bits_default = 0, fine_default = 0;
    if (all_blocks && g_wgmma_device && attn_plan_blocks_only((const maskplan *const *)plans, H, n_k)) {
        uint64_t *b = (uint64_t *)malloc(sizeof(uint64_t) * attn_plan_block_bits_words(n_k) * H);
        int64_t kept, causal, wt;
        attn_plan_block_bits((const maskplan *const *)plans, H, n_k, (n_k - n_q) / 64, b, 0, &kept, &causal, &wt);
        bits_default = n_q >= 128;
        fine_default = bits_default && (d == 64 || (double)kept < ATTN_PLAN_BLOCK_BITS_MIN_EFFICIENCY * 4.0 * (double)wt);
        free(b);
        g_block_cases[bits_default + fine_default]++;
    }
    const int base_passes = all_dense ? 5 : !eligible ? 3 : n_dense > 0 ? 5 : 4;
    const int forced_pass = all_blocks && g_wgmma_device ? base_passes : -1;  // and forced_pass + 1: fine
    // (and for plans with dense heads among sparse ones: the GPU build with its dense heads on the list
    // kernel instead of the wgmma kernel)
    for (int pass = 0; pass < base_passes + 2 * (forced_pass >= 0); pass++) {
        const int forced = forced_pass >= 0 && pass >= forced_pass;
        const int flags = pass == forced_pass       ? ATTN_CUDA_BLOCK_BITS
                          : forced                  ? ATTN_CUDA_BLOCK_FINE
                          : pass == 0   ? 0
                          : pass == 4 ? (all_dense ? ATTN_CUDA_FORCE_LISTS : ATTN_CUDA_GPU_LISTS | ATTN_CUDA_NO_WGMMA)
                          : pass == 3 ? (all_dense     ? ATTN_CUDA_PACK_GQA | ATTN_CUDA_NO_WGMMA
                                         : gpu_default ? ATTN_CUDA_HOST_LISTS
                                                       : ATTN_CUDA_GPU_LISTS)
                          : pass == 2 ? (all_dense ? ATTN_CUDA_NO_WGMMA : ATTN_CUDA_PACK_GQA)
                          : all_dense ? ATTN_CUDA_FORCE_LISTS | ATTN_CUDA_NO_WGMMA
                                      : ATTN_CUDA_NO_GATHER;
        result r = run_and_check(q, k, v, n_q, n_k, cap, H, Hkv, d, specs, plans, flags, row_step, pass == 1 ? o2 : o1);
        const int gpu_expected = forced ? 0 : pass == 0 ? gpu_default && !bits_default : (flags & ATTN_CUDA_GPU_LISTS) != 0;
        if (pass == 0 && any_bitmap && g_last_gpu_lists) g_bitmap_gpu++;
        if (pass == 0 || (pass >= 3 && !all_dense))
            CHECK(g_last_gpu_lists == gpu_expected, "lists built on the %s, want the %s (n_q=%d n_k=%d H=%d flags=%d) [%s]",
                  g_last_gpu_lists ? "GPU" : "host", gpu_expected ? "GPU" : "host", n_q, n_k, H, flags, names);
        if (g_last_gpu_lists)  // dense heads among sparse ones: the wgmma kernel on sm_90
            CHECK(g_last_wgmma_heads == (g_wgmma_device && pass != 4 ? n_dense : 0),
                  "%d dense heads on the wgmma kernel, want %d (flags=%d) [%s]", g_last_wgmma_heads,
                  g_wgmma_device && pass != 4 ? n_dense : 0, flags, names);
        if (pass == 0 && all_dense && !g_bias && g_wgmma_device)
            CHECK(g_last_wgmma, "dense plans did not take the wgmma kernel (n_q=%d n_k=%d H=%d d=%d)", n_q, n_k, H, d);
        cases_run++;
        if (r.max_abs > worst_abs) worst_abs = r.max_abs;
        if (r.rel_l2 > worst_rel) worst_rel = r.rel_l2;
        CHECK(r.finite, "non-finite or unwritten output n_q=%d n_k=%d H=%d Hkv=%d d=%d L=%d [%s]", n_q, n_k, H, Hkv, d,
              L, names);
        CHECK(r.max_abs <= TOL_ABS && r.rel_l2 <= TOL_REL_L2,
              "max abs error %.3g rel L2 %.3g n_q=%d n_k=%d H=%d Hkv=%d d=%d qscale=%g L=%d flags=%d bias=%d [%s]",
              r.max_abs, r.rel_l2, n_q, n_k, H, Hkv, d, qscale, L, flags, g_bias, names);
        CHECK(r.empty == expect_empty, "%d empty rows reported, want %d (n_q=%d n_k=%d H=%d) [%s]", r.empty,
              expect_empty, n_q, n_k, H, names);
        if (pass == 2 && all_dense)
            CHECK(memcmp(o1, o2, nq * 2) == 0,
                  "mma.sync dense path and list path differ (n_q=%d n_k=%d H=%d Hkv=%d d=%d)", n_q, n_k, H, Hkv, d);
        if (pass == 0) ret = r.empty;
        CHECK(g_last_block_bits == (forced || (pass == 0 && bits_default)),
              "block-bits path %s (flags=%d, n_q=%d) [%s]", g_last_block_bits ? "taken" : "not taken", flags, n_q, names);
        if (g_last_block_bits)
            CHECK(g_last_block_fine == (forced ? pass > forced_pass : fine_default),
                  "block bits on %s tiles (flags=%d, efficiency rule says fine = %d) [%s]",
                  g_last_block_fine ? "64 x 64" : "coarse", flags, fine_default, names);
        if (pass == 0 && kinds && all_band && g_wgmma_device)
            CHECK(g_last_sink_window, "sink + window plans (S %d, W %d) did not take the wgmma path", g_band_s, g_band_w);
    }
    for (int h = 0; h < H; h++) {
        maskplan_free(plans[h]);
        free_spec(&specs[h]);
    }
    free(plans); free(specs); free(q); free(k); free(v); free(o1); free(o2);
    return ret;
}

// Masked keys weigh exactly 0: keys 7..9 and 71 sit in visited tiles but no head keeps them; their
// keys give the largest scores and their values are 1e30, so any weight (or a masked score in the
// row maximum) shows in the output.
static void masked_weigh_zero(void) {
    const int n = 100, H = 4, Hkv = 2, d = 64, cap = 104;
    const size_t nq = (size_t)n * H * d, nkv = (size_t)Hkv * cap * d;
    uint16_t *q = (uint16_t *)malloc(nq * 2), *k = (uint16_t *)malloc(nkv * 2), *v = (uint16_t *)malloc(nkv * 2);
    for (size_t i = 0; i < nq; i++) q[i] = f2bf((float)fabs(urand()));
    for (int g = 0; g < Hkv; g++)
        for (int j = 0; j < cap; j++)
            for (int i = 0; i < d; i++) {
                const int hidden = (j >= 7 && j <= 9) || j == 71;
                k[((size_t)g * cap + j) * d + i] = f2bf(hidden ? 3.0f : (float)urand());
                v[((size_t)g * cap + j) * d + i] = f2bf(hidden ? 1e30f : (float)urand());
            }
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
            specs[h].bits = (uint64_t *)calloc((size_t)n * 2, sizeof(uint64_t));
            for (int p = 0; p < n; p++)
                for (int j = 0; j <= p; j++)
                    if (!((j >= 7 && j <= 9) || j == 71) && (h == 2 || j % 3 != 1))
                        specs[h].bits[p * 2 + j / 64] |= 1ull << (j % 64);
        }
        plans[h] = build(&specs[h]);
    }
    result r = run_and_check(q, k, v, n, n, cap, H, Hkv, d, specs, plans, 0, 1, NULL);
    cases_run++;
    CHECK(r.finite && r.empty == 0 && r.max_abs <= TOL_ABS, "masked keys leak: max abs error %.3g, %d empty",
          r.max_abs, r.empty);
    for (int h = 0; h < H; h++) {
        maskplan_free(plans[h]);
        free(specs[h].bits);
    }
    free(q); free(k); free(v);
}

// The GPU build's cap on bitmap tiles (ATTN_PLAN_MAX_BITMAP_TILES): bitmaps of side 16,384 have
// 256 * 257 / 2 = 32,896 causal 64 x 64 tiles each, so 31 heads are eligible (1,019,776 tiles) and 32
// are not (1,052,672 > 2^20): the eligibility reads the sides only, so the plans here carry a side and
// no bitmap (never built or run), beside a dense head.
static void bitmap_tile_cap(void) {
    maskplan heads[33];
    const maskplan *ptrs[33];
    memset(heads, 0, sizeof heads);
    for (int h = 0; h < 33; h++) {
        heads[h].dense = h == 32;
        heads[h].bitmap_L = h == 32 ? 0 : 16384;
        ptrs[h] = &heads[h];
    }
    CHECK(attn_cuda_plan_gpu_eligible(ptrs + 1, 32), "31 bitmap heads of side 16384 and a dense one: not eligible");
    CHECK(!attn_cuda_plan_gpu_eligible(ptrs, 32), "32 bitmap heads of side 16384 (1,052,672 tiles): eligible");
}

static void all_cases(void) {
    bitmap_tile_cap();
    const int groups[][2] = {{4, 4}, {9, 3}, {7, 1}, {8, 2}};
    const int lens[] = {1, 63, 65, 100, 129, 300};
    for (int gi = 0; gi < 4; gi++) {
        const int H = groups[gi][0], Hkv = groups[gi][1];
        for (int li = 0; li < 6; li++)
            for (int shift = 0; shift < N_KINDS; shift += (H >= N_KINDS ? N_KINDS : 3))
                run_case(lens[li], lens[li], H, Hkv, 64, 1, 100, NULL, shift + li, 1);
        run_case(37, 300, H, Hkv, 64, 1, 100, NULL, gi, 1);      // chunked prefill: 37 queries after 263 keys
        run_case(37, 300, H, Hkv, 64, 1, 280, NULL, gi + 3, 1);  // ... straddling the bitmap edge
        run_case(100, 700, H, Hkv, 64, 1, 512, NULL, gi + 1, 1); // 100 queries after 600 keys
        run_case(1, 517, H, Hkv, 64, 1, 512, NULL, gi, 1);       // decode
        run_case(70, 70, H, Hkv, 128, 1, 50, NULL, gi, 1);       // head_dim 128
        run_case(129, 129, H, Hkv, 128, 1, 100, NULL, gi + 4, 1);
        run_case(37, 300, H, Hkv, 128, 1, 100, NULL, gi + 2, 1);
        const int dense[9] = {DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE};
        run_case(100, 100, H, Hkv, 64, 1, 100, dense, 0, 1);  // dense path and list path
        run_case(37, 300, H, Hkv, 128, 1, 100, dense, 0, 1);
        run_case(1, 517, H, Hkv, 64, 1, 100, dense, 0, 1);
        run_case(333, 333, H, Hkv, 64, 1, 100, dense, 0, 1);
    }
    const int bitmap_kinds[] = {5, 6, 5, 6, 5, 6, 5, 6, 5};  // DAM, ALL
    for (int L = 100; L <= 512; L += 412)
        for (int n = L - 1; n <= L + 1; n++) {
            run_case(n, n, 9, 3, 64, 1, L, bitmap_kinds, 0, 1);
            run_case(n, n, 7, 1, 64, 1, L, NULL, n, 1);
        }
    // huge logits: most probabilities underflow; masked keys must stay out of the max
    for (int shift = 0; shift < N_KINDS; shift += 3) run_case(65, 200, 9, 3, 64, 200, 100, NULL, shift, 1);
    run_case(300, 300, 9, 3, 64, 200, 100, bitmap_kinds, 0, 1);
    run_case(300, 300, 9, 3, 128, 200, 100, NULL, 1, 1);
    // every logit very negative (row maxima around -400 .. -800 after scaling): the offset is the
    // finite row maximum, never a sentinel
    g_negative = 1;
    for (int shift = 0; shift < N_KINDS; shift += 2) run_case(100, 300, 9, 3, 64, 200, 100, NULL, shift, 1);
    run_case(129, 129, 8, 2, 128, 200, 100, NULL, 3, 1);
    g_negative = 0;
}

// Huge logits (most probabilities underflow; masked keys must stay out of the max) and every logit
// very negative (the offset is the finite row maximum, never a sentinel), 300 tokens, d 64 (9 / 3
// heads) and d 128 (8 / 2), kinds[h] per head.
static void extreme_logit_cases(const int *kinds) {
    run_case(300, 300, 9, 3, 64, 200, 100, kinds, 0, 1);
    run_case(300, 300, 8, 2, 128, 200, 100, kinds, 0, 1);
    g_negative = 1;
    run_case(300, 300, 9, 3, 64, 200, 100, kinds, 0, 1);
    run_case(300, 300, 8, 2, 128, 200, 100, kinds, 0, 1);
    g_negative = 0;
}

// Dense plans (the wgmma kernel on sm_90): GQA groups 1, 3, 4, 6, 7, 8, head_dim 64 and 128,
// lengths around its 64- / 128-row and 64- / 128-key tiles, chunked prefill with queries not aligned to a tile,
// decode, many tiles per row (rows sampled), huge and very negative logits.
static void dense_cases(void) {
    int dense[32];
    for (int i = 0; i < 32; i++) dense[i] = DENSE;
    const int groups[][2] = {{4, 4}, {9, 3}, {8, 2}, {12, 2}, {7, 1}, {32, 4}};  // G = 1, 3, 4, 6, 7, 8
    const int lens[][2] = {{1, 1}, {127, 127}, {128, 128}, {129, 129}, {255, 255}, {300, 300}, {37, 300},
                           {100, 1000}, {1, 517}, {200, 129 + 256}};
    for (int gi = 0; gi < 6; gi++)
        for (int li = 0; li < 10; li++)
            for (int d = 64; d <= 128; d += 64)
                run_case(lens[li][0], lens[li][1], groups[gi][0], groups[gi][1], d, 1, 100, dense, 0, 1);
    run_case(3000, 3000, 9, 3, 64, 1, 100, dense, 0, 31);
    run_case(2900, 2900, 8, 2, 128, 1, 100, dense, 0, 29);
    run_case(1500, 4000, 9, 3, 128, 1, 100, dense, 0, 23);
    extreme_logit_cases(dense);
}

// Chunked prefill gives every row the bits of one-shot prefill (the model relies on it): rows
// c0 .. c0 + nc - 1 computed as one step of nc queries after c0 keys equal the same rows of the
// (n a multiple of 8: the KV capacity)
// n_k = n one-shot step, for dense plans and for sinks + window (band_w > 0), bit for bit.
static void chunk_invariance(int n, int c0, int nc, int H, int Hkv, int d, int band_s, int band_w) {
    const size_t nq = (size_t)n * H * d, nkv = (size_t)Hkv * n * d;
    uint16_t *q = (uint16_t *)malloc(nq * 2), *k = (uint16_t *)malloc(nkv * 2), *v = (uint16_t *)malloc(nkv * 2);
    uint16_t *o1 = (uint16_t *)malloc(nq * 2), *o2 = (uint16_t *)malloc(nq * 2);
    rand_bf16(q, nq, 1);
    rand_bf16(k, nkv, 1);
    rand_bf16(v, nkv, 1);
    dam_bf16 *dq, *dk, *dv, *dout;
    CUDA_CHECK(cudaMalloc((void **)&dq, nq * 2));
    CUDA_CHECK(cudaMalloc((void **)&dk, nkv * 2));
    CUDA_CHECK(cudaMalloc((void **)&dv, nkv * 2));
    CUDA_CHECK(cudaMalloc((void **)&dout, nq * 2));
    CUDA_CHECK(cudaMemcpy(dq, q, nq * 2, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(dk, k, nkv * 2, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(dv, v, nkv * 2, cudaMemcpyHostToDevice));
    spec sp;
    memset(&sp, 0, sizeof sp);
    sp.dense = band_w <= 0;
    sp.band_s = band_s;
    sp.band_w = band_w;
    maskplan **plans = (maskplan **)malloc(sizeof(maskplan *) * H);
    for (int h = 0; h < H; h++) plans[h] = build(&sp);
    const float scale = 1.0f / sqrtf((float)d);
    for (int pass = 0; pass < 2; pass++) {  // one-shot (n queries, n keys); the chunk (nc after c0)
        const int n_q = pass ? nc : n, n_k = pass ? c0 + nc : n;
        attn_cuda_plan *plan = attn_cuda_plan_build((const maskplan *const *)plans, n_q, n_k, H, Hkv);
        CUDA_CHECK(cudaMemset(dout, 0xff, nq * 2));
        attn_cuda_masked(dout, H * d, dq + (pass ? (size_t)c0 * H * d : 0), H * d, n_q, dk, dv, n, n_k, H, Hkv, d, scale,
                         plan, NULL, NULL);
        CUDA_CHECK(cudaDeviceSynchronize());
        CUDA_CHECK(cudaMemcpy(pass ? o2 : o1, dout, (size_t)n_q * H * d * 2, cudaMemcpyDeviceToHost));
        attn_cuda_plan_free(plan);
    }
    CHECK(memcmp(o1 + (size_t)c0 * H * d, o2, (size_t)nc * H * d * 2) == 0,
          "chunk of %d rows after %d keys differs from one-shot prefill of %d (H=%d Hkv=%d d=%d sinks %d window %d)", nc, c0,
          n, H, Hkv, d, band_s, band_w);
    cases_run += 2;
    for (int h = 0; h < H; h++) maskplan_free(plans[h]);
    free(plans); free(q); free(k); free(v); free(o1); free(o2);
    CUDA_CHECK(cudaFree(dq)); CUDA_CHECK(cudaFree(dk)); CUDA_CHECK(cudaFree(dv)); CUDA_CHECK(cudaFree(dout));
}

// sinks + window beside other kinds and dense heads (lists built on the GPU)
static const int mixed[9] = {BAND, COLS, DIAGS, BAND, SPARSE_BLOCKS, DENSE, BLOCKS, STREAMING, BAND};

// Sinks + sliding window, the same for every head (the wgmma kernel on sm_90, with no lists; then
// the list path twice): window smaller and larger than its 128-key tiles, sinks within, at and past a
// tile, no sinks, chunked prefill and decode, GQA groups 1, 3, 4, 6, 7, 8, head_dim 64 and 128.
static void band_cases(void) {
    int band[32];
    for (int i = 0; i < 32; i++) band[i] = BAND;
    const int sw[][2] = {{0, 1}, {0, 64}, {4, 100}, {128, 128}, {130, 129}, {64, 1000}, {1, 300}, {200, 50}};
    const int lens[][2] = {{300, 300}, {700, 700}, {37, 300}, {100, 1000}, {1, 517}, {129, 129}};
    const int groups[][2] = {{4, 4}, {9, 3}, {8, 2}, {12, 2}, {7, 1}, {32, 4}};
    for (int si = 0; si < 8; si++)
        for (int li = 0; li < 6; li++) {
            g_band_s = sw[si][0];
            g_band_w = sw[si][1];
            const int gi = (si + li) % 6;
            run_case(lens[li][0], lens[li][1], groups[gi][0], groups[gi][1], (si + li) % 2 ? 128 : 64, 1, 100, band, 0,
                     groups[gi][0] > 9 ? 3 : 1);
        }
    // longer steps; windows of >= 2048 keys take 128-key tiles at d = 64 (64-row CTAs), one-shot and
    // chunked; huge logits. Columns: sinks, window, n_q, n_k, H, H_kv, d, qscale, row step of the check
    const int longer[][9] = {{4, 1000, 3000, 3000, 9, 3, 64, 1, 31},  {128, 512, 1500, 4000, 8, 2, 128, 1, 23},
                             {4, 2500, 3000, 3000, 9, 3, 64, 1, 31},  {100, 2048, 700, 4100, 9, 3, 64, 1, 7},
                             {4, 64, 300, 300, 9, 3, 64, 200, 1}};
    for (int i = 0; i < 5; i++) {
        const int *c = longer[i];
        g_band_s = c[0];
        g_band_w = c[1];
        run_case(c[2], c[3], c[4], c[5], c[6], c[7], 100, band, 0, c[8]);
    }
    // sinks + window beside other kinds (lists built on the GPU): windows that cover whole tiles (every
    // offset of a tile kept: "all kept" without words), dense heads among sparse ones, chunked prefill
    const int mw[][2] = {{4, 300}, {128, 1000}, {0, 129}, {64, 64}};
    for (int i = 0; i < 4; i++) {
        g_band_s = mw[i][0];
        g_band_w = mw[i][1];
        run_case(1500, 1500, 9, 3, i % 2 ? 128 : 64, 1, 100, mixed, 0, 7);
        run_case(200, 1300, 9, 3, i % 2 ? 64 : 128, 1, 100, mixed, 0, 3);
    }
    // many columns (several gathered tiles per item, a full one included), blocks past key block 64
    // (two block-row words; the walk's later 32-tile steps), chunked, one-shot and decode
    const int many[9] = {MANYCOLS, BLOCKS, DIAGS, MANYCOLS, SPARSE_BLOCKS, DENSE, COLS, BLOCKS, MANYCOLS};
    run_case(300, 5000, 9, 3, 64, 1, 100, many, 0, 7);
    run_case(4500, 4500, 9, 3, 128, 1, 100, many, 0, 61);
    run_case(1, 5000, 9, 3, 64, 1, 100, many, 0, 1);
    run_case(130, 4097, 8, 2, 128, 1, 100, many, 1, 3);
}

// A few cases of each kind, for compute-sanitizer (memcheck, racecheck) runs.
// Block plans (every head dense or 64-blocks only: the wgmma kernel from bits on sm_90, on coarse
// or 64 x 64 tiles by head_dim and the efficiency rule, asserted, and on each forced; the list paths in the other
// passes): blocks beside dense heads and sparse blocks in one GQA group,
// query blocks that keep nothing (empty rows, counted), GQA groups 1, 3, 4, 7, 8, head_dim 64 and
// 128, lengths around the 64-blocks and the 128-key / 128- and 192-row tiles, chunked prefill,
// decode, 3000- to 9000-token cases (rows sampled; bit rows of 1-3 words), huge and very negative logits.
static void block_cases(bool quick) {
    int kinds[32];
    const int groups[][2] = {{4, 4}, {9, 3}, {8, 2}, {7, 1}, {32, 4}};
    const int lens[][2] = {{1, 1}, {63, 63}, {65, 65}, {129, 129}, {300, 300}, {37, 300}, {100, 1000}, {1, 517}, {200, 385}};
    for (int gi = 0; gi < (quick ? 2 : 5); gi++)
        for (int li = quick ? 3 : 0; li < (quick ? 6 : 9); li++)
            for (int d = 64; d <= 128; d += 64)
                for (int mix = 0; mix < 4; mix++) {
                    for (int h = 0; h < groups[gi][0]; h++)
                        kinds[h] = mix == 0 ? BLOCKS : mix == 1 ? (h % 3 == 0 ? DENSE : h % 3 == 1 ? SPARSE_BLOCKS : BLOCKS)
                                 : mix == 2 ? (h % 2 ? BLOCK_HOLES : BLOCKS) : (h % 4 == 3 ? DENSE : BLOCKS_DENSE);
                    run_case(lens[li][0], lens[li][1], groups[gi][0], groups[gi][1], d, 1, 100, kinds, 0, 1);
                }
    if (quick) return;
    for (int h = 0; h < 9; h++) kinds[h] = h % 3 ? BLOCKS_DENSE : BLOCK_HOLES;
    run_case(3000, 3000, 9, 3, 64, 1, 100, kinds, 0, 31);
    run_case(1500, 4000, 8, 2, 128, 1, 100, kinds, 0, 23);
    for (int h = 0; h < 9; h++) kinds[h] = BLOCKS_DENSE;
    run_case(3000, 3000, 9, 3, 64, 1, 100, kinds, 0, 31);  // dense enough for the bits by default
    run_case(2500, 4000, 8, 2, 128, 1, 100, kinds, 0, 23);
    // more than 4096 keys: bit rows of two and three words (key tiles kt >= 32 read word kt / 32 >= 1)
    run_case(600, 5000, 9, 3, 64, 1, 100, kinds, 0, 31);
    run_case(9000, 9000, 8, 2, 128, 1, 100, kinds, 0, 97);
    for (int h = 0; h < 9; h++) kinds[h] = h % 2 ? BLOCK_HOLES : BLOCKS_DENSE;
    run_case(5000, 5000, 9, 3, 64, 1, 100, kinds, 0, 53);
    run_case(300, 8500, 7, 1, 128, 1, 100, kinds, 0, 7);
    for (int h = 0; h < 9; h++) kinds[h] = h % 3 ? BLOCKS : BLOCK_HOLES;
    run_case(3000, 3000, 9, 3, 64, 1, 100, kinds, 0, 31);
    extreme_logit_cases(kinds);
    // every causal block (efficiency ~0.94 at 47 query blocks): the 128 x 128 tiles by default at d = 128
    for (int h = 0; h < 9; h++) kinds[h] = h % 4 == 3 ? DENSE : BLOCKS_ALL;
    run_case(3000, 3000, 8, 2, 128, 1, 100, kinds, 0, 31);
    run_case(1000, 3000, 9, 3, 64, 1, 100, kinds, 0, 31);
    if (g_wgmma_device)  // every default was taken somewhere (else a check above cannot have seen a path)
        CHECK(g_block_cases[0] > 0 && g_block_cases[1] > 0 && g_block_cases[2] > 0,
              "block plans by default: %ld on lists, %ld on coarse tiles, %ld on 64 x 64 tiles", g_block_cases[0],
              g_block_cases[1], g_block_cases[2]);
}

// Plans with a bitmap (DAM, DAM_TILES, ALL: bitmap, columns, diagonals, blocks) in steps of >= 128
// queries, so the default path is the GPU build (asserted in run_case): from position 0 (bitmap rows,
// then rows past them), a chunk that starts inside the bitmap, and in the full run a chunk wholly past
// it, head_dim 128, and DAM's PCL 512 at 2K.
static void bitmap_cases(bool quick) {
    const int kinds[] = {DAM_TILES, ALL, DAM, DAM_TILES, ALL, DAM, DAM_TILES, ALL, DAM};
    run_case(300, 300, 9, 3, 64, 1, 230, kinds, 0, 1);
    run_case(200, 450, 9, 3, 64, 1, 320, kinds, 0, 1);
    if (quick) return;  // (under compute-sanitizer: the small ones)
    run_case(200, 700, 9, 3, 64, 1, 300, kinds, 0, 1);
    run_case(300, 400, 8, 2, 128, 1, 200, kinds, 0, 1);
    run_case(2048, 2048, 9, 3, 64, 1, 512, kinds, 0, 7);
}

// Device arrays a and b of `bytes` bytes equal, byte for byte.
static bool device_equal(const void *a, const void *b, size_t bytes) {
    if (bytes == 0) return true;
    unsigned char *x = (unsigned char *)malloc(bytes), *y = (unsigned char *)malloc(bytes);
    CUDA_CHECK(cudaMemcpy(x, a, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(y, b, bytes, cudaMemcpyDeviceToHost));
    const bool same = memcmp(x, y, bytes) == 0;
    free(x), free(y);
    return same;
}

// attn_cuda_plan_build_layers (every layer's plans at once, the GPU builds batched) against
// attn_cuda_plan_build of each layer alone: six plan sets of one shape (bitmap plans twice, columns /
// diagonals / blocks with dense heads, all dense, sinks + window, and a NULL set) give the same paths,
// statistics and device arrays, byte for byte; at least three sets took the batched GPU build.
static void batch_case(int n_q, int n_k) {
    const int H = 9, Hkv = 3, L = 300, N_SETS = 6;
    const int kinds[N_SETS][9] = {
        {DAM_TILES, ALL, DAM, DAM_TILES, ALL, DAM, DAM_TILES, ALL, DAM},
        {0},  // NULL set
        {COLS, DIAGS, MANYCOLS, BLOCKS, DENSE, COLS, DIAGS, BLOCKS, MANYCOLS},
        {DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE},
        {BAND, BAND, BAND, BAND, BAND, BAND, BAND, BAND, BAND},
        {ALL, DAM, DAM_TILES, COLS, DENSE, DIAGS, DAM, ALL, DAM_TILES},
    };
    g_band_s = 4;
    g_band_w = 200;
    spec specs[N_SETS][9];
    maskplan *plans[N_SETS][9];
    const maskplan *const *sets[N_SETS];
    for (int i = 0; i < N_SETS; i++) {
        sets[i] = i == 1 ? NULL : (const maskplan *const *)plans[i];
        for (int h = 0; h < H && i != 1; h++) {
            specs[i][h] = make_spec(kinds[i][h], n_k, L);
            plans[i][h] = build(&specs[i][h]);
            const char *e = maskplan_validate(plans[i][h], n_k);
            CHECK(e == NULL, "batch test plan invalid: %s", e);
        }
    }
    attn_cuda_plan *batch[N_SETS];
    attn_cuda_plan_build_layers(sets, N_SETS, n_q, n_k, H, Hkv, batch);
    int n_gpu = 0;
    for (int i = 0; i < N_SETS; i++) {
        if (sets[i] == NULL) {
            CHECK(batch[i] == NULL, "batch: set %d has no plans but got a device plan", i);
            continue;
        }
        attn_cuda_plan *one = attn_cuda_plan_build(sets[i], n_q, n_k, H, Hkv), *b = batch[i];
        n_gpu += b->gpu_lists;
        CHECK(b->gpu_lists == one->gpu_lists && b->sink_window == one->sink_window && b->block_bits == one->block_bits &&
                  b->dense == one->dense && b->wgmma == one->wgmma,
              "batch n_q %d n_k %d set %d: another path (gpu_lists %d / %d)", n_q, n_k, i, b->gpu_lists, one->gpu_lists);
        CHECK(b->n_entries == one->n_entries && b->n_gathered == one->n_gathered && b->n_masks == one->n_masks &&
                  b->head_tiles == one->head_tiles && b->causal_tiles == one->causal_tiles && b->qb0 == one->qb0 &&
                  b->n_qt == one->n_qt && b->n_wgmma_heads == one->n_wgmma_heads && b->list_ctas == one->list_ctas &&
                  b->device_bytes == one->device_bytes && b->list_mma == one->list_mma && b->hc == one->hc &&
                  b->n_chunks == one->n_chunks && b->entry_ints == one->entry_ints && b->nkw == one->nkw,
              "batch n_q %d n_k %d set %d: statistics differ (entries %lld / %lld, gathered %lld / %lld)", n_q, n_k, i,
              (long long)b->n_entries, (long long)one->n_entries, (long long)b->n_gathered, (long long)one->n_gathered);
        if (b->gpu_lists && one->gpu_lists && b->n_entries == one->n_entries && b->n_gathered == one->n_gathered &&
            b->n_masks == one->n_masks) {
            const size_t items = (size_t)b->n_chunks * b->n_qt;
            CHECK(device_equal(b->d_tile_ptr, one->d_tile_ptr, sizeof(int32_t) * (items + 1)) &&
                      device_equal(b->d_entries, one->d_entries, sizeof(int32_t) * 4 * (size_t)b->n_entries) &&
                      device_equal(b->d_gather, one->d_gather, sizeof(int32_t) * 64 * (size_t)b->n_gathered) &&
                      device_equal(b->d_words, one->d_words, sizeof(uint64_t) * 64 * (size_t)b->n_masks) &&
                      device_equal(b->d_order, one->d_order, sizeof(int32_t) * 4 * items) &&
                      device_equal(b->d_parts, one->d_parts, sizeof(uint64_t) * 2 * (size_t)H * b->nkw) &&
                      (b->n_wgmma_heads == 0 ||
                       device_equal(b->d_wgmma_heads, one->d_wgmma_heads, sizeof(int32_t) * (size_t)b->n_wgmma_heads)),
                  "batch n_q %d n_k %d set %d: the device arrays differ from the single build's", n_q, n_k, i);
        }
        attn_cuda_plan_free(one);
        attn_cuda_plan_free(b);
        for (int h = 0; h < H; h++) maskplan_free(plans[i][h]), free_spec(&specs[i][h]);
    }
    const char *host_lists = getenv("DAM_CUDA_HOST_LISTS");  // (=1: every plan on the host build, none batched)
    if (!(host_lists && strcmp(host_lists, "1") == 0))
        CHECK(n_gpu >= 3, "batch n_q %d n_k %d: %d sets took the batched GPU build, want >= 3", n_q, n_k, n_gpu);
}

static void batch_cases(void) {
    if (g_bias) return;  // (with a block bias no plan takes the GPU build)
    batch_case(700, 700);
    batch_case(300, 450);  // a chunk from inside the bitmaps (qb0 = 2 of their 5 query blocks)
    batch_case(300, 900);  // a chunk past them (qb0 = 9)
}

static void quick_cases(void) {
    bitmap_tile_cap();
    if (!g_bias) block_cases(true);
    for (int shift = 0; shift < N_KINDS; shift += 3) {
        run_case(100, 100, 9, 3, 64, 1, 100, NULL, shift, 1);
        run_case(37, 300, 8, 2, 64, 1, 100, NULL, shift, 1);
        run_case(65, 129, 7, 1, 128, 1, 100, NULL, shift, 1);
    }
    const int dense[9] = {DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE};
    run_case(200, 200, 9, 3, 64, 1, 100, dense, 0, 1);
    run_case(100, 300, 8, 2, 128, 1, 100, dense, 0, 1);
    int band[9];
    for (int i = 0; i < 9; i++) band[i] = BAND;
    g_band_s = 4;
    g_band_w = 200;
    run_case(500, 500, 9, 3, 64, 1, 100, band, 0, 1);
    run_case(100, 400, 8, 2, 128, 1, 100, band, 0, 1);
    masked_weigh_zero();
    // lists built on the GPU (n_q >= 128): sinks + window beside other kinds and dense heads; many
    // columns (several gathered tiles per item) and blocks past key block 64 (two block-row words)
    g_band_s = 4;
    g_band_w = 300;
    run_case(200, 1300, 9, 3, 64, 1, 100, mixed, 0, 3);
    const int many[8] = {MANYCOLS, BLOCKS, DIAGS, MANYCOLS, DENSE, COLS, BLOCKS, MANYCOLS};
    run_case(150, 4300, 8, 2, 64, 1, 100, many, 0, 7);
    bitmap_cases(true);
    batch_cases();
    if (!g_bias)  // (with a block bias no bitmap plan is eligible)
        CHECK(g_bitmap_gpu > 0, "no bitmap plan took the GPU build on the default path");
}

int main(int argc, char **argv) {
    int dev;
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    printf("device: %s, sm_%d%d, %d SMs\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    g_wgmma_device = prop.major == 9 && prop.minor == 0;
    if (argc > 1 && strcmp(argv[1], "quick") == 0) {
        quick_cases();
        g_bias = 1;
        quick_cases();
        printf("quick: %ld kernel runs; worst max abs error %.3g, worst relative L2 error %.3g\n", cases_run, worst_abs,
               worst_rel);
        return test_done("attention_masked_cuda quick");
    }
    all_cases();
    g_bias = 1;  // the same cases with a block bias on every plan
    all_cases();
    g_bias = 0;
    // an invalid plan: rows 0 .. 49 of some heads keep nothing -> zeros, counted
    const int with_empty[] = {EMPTY_ROWS, DENSE, DIAGS, EMPTY_ROWS, STREAMING, EMPTY_ROWS};
    int e = run_case(100, 100, 6, 2, 64, 1, 100, with_empty, 0, 1);
    CHECK(e == 150, "empty rows counted %d, want 150", e);
    e = run_case(20, 100, 6, 2, 64, 1, 100, with_empty, 0, 1);
    CHECK(e == 0, "chunk beyond the empty rows: %d", e);
    masked_weigh_zero();
    bitmap_cases(false);
    batch_cases();
    // larger: many tiles per row (the cp.async pipeline), DAM-like layout and dense, rows sampled
    int damlike[32];
    for (int i = 0; i < 32; i++) damlike[i] = DAMLIKE;
    const int dense[9] = {DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE, DENSE};
    run_case(2500, 2500, 9, 3, 64, 1, 100, damlike, 0, 13);
    run_case(2500, 2500, 9, 3, 64, 1, 100, dense, 0, 29);
    run_case(1000, 4096, 9, 3, 64, 1, 100, dense, 0, 37);
    run_case(2500, 2500, 9, 3, 128, 1, 100, NULL, 3, 17);
    run_case(2000, 2000, 32, 8, 128, 1, 100, damlike, 0, 97);
    dense_cases();
    band_cases();
    block_cases(false);
    chunk_invariance(512, 100, 100, 9, 3, 64, 0, 0);
    chunk_invariance(512, 400, 100, 9, 3, 64, 0, 0);
    chunk_invariance(704, 300, 150, 8, 2, 128, 0, 0);
    chunk_invariance(1000, 500, 100, 9, 3, 64, 4, 300);
    chunk_invariance(1000, 700, 37, 8, 2, 128, 128, 129);
    // the list kernel ran with both products (wgmma at d = 64 on sm_90, mma.sync for d = 128, packed GQA
    // heads and the NO_WGMMA passes)
    CHECK(g_bitmap_gpu > 0, "no bitmap plan took the GPU build on the default path");
    CHECK(g_list_runs[0] > 0 && (g_list_runs[1] > 0) == g_wgmma_device, "list kernel runs: %ld on mma.sync, %ld on wgmma",
          g_list_runs[0], g_list_runs[1]);
    printf("%ld kernel runs (list kernel: %ld with mma.sync, %ld with wgmma products); worst max abs error %.3g (tolerance "
           "%.3g), worst relative L2 error %.3g (tolerance %.3g)\n",
           cases_run, g_list_runs[0], g_list_runs[1], worst_abs, TOL_ABS, worst_rel, TOL_REL_L2);
    return test_done("attention_masked_cuda");
}
