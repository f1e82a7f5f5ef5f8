/* test_estimate_cuda.c — the dynamic methods' GPU mask estimation (kernels/cuda/estimate.h and the
 * methods' plan_layer_cuda) against two independent references:
 *   1. float64 brute force written here (explicit loops, libm exp): MInference's column and
 *      diagonal sums of the last w rows (est_cuda_vertical_slash) and XAttention's block scores
 *      (est_cuda_xattention's scores), relative error <= 1e-11;
 *   2. the CPU methods (method_ops.plan_layer on fp32 copies of the same bf16 values): the GPU plans
 *      of minference, xattention, flexprefill and dam_online (plan_layer_cuda) keep exactly the same causal
 *      pairs, for the parameter sets of tests/test_dynamic.c (per-layer / per-head lists included);
 *      the one allowed difference is FlexPrefill's global cumulative selection (step 5) meeting
 *      gamma · nb exactly at a cell (grid inputs make such ties), checked by a float64 recomputation:
 *      one block (<= 64 x 64 pairs) more or fewer there is rounding, and is reported.
 * Inputs: queries and keys on a 1/4 grid (exact in bf16, and every q·k exact in fp32 whatever the
 * summation order, so the GPU's cuBLAS logits equal OpenBLAS's and the scores differ only by the
 * rounding of exp and of the softmax denominators), some with a sink key and needle keys, some with
 * key blocks shifted along a direction (block scores over orders of magnitude); NaN in the KV cache
 * past the prompt (a kernel that reads there gives NaN scores); a padded q row stride.
 * Shapes: n from 1 to 9000 (below / above one 64-block, not multiples of the strides, and XAttention's
 * 1024-row GEMM chunks at stride 8), GQA groups 1, 3, 4, 7, d 64 and 128; XAttention also at 4,300
 * tokens (stride 64, quick mode too), 20,000, 32,896 and 32,897 (the warp select's longest rows, then
 * the CTA select) and 200,000.
 * Also: FlexPrefill's covers on hand-made rows that need the exact sequential walk (est_cuda_cover_pool,
 * against the sequential definition) and its query-aware selection for a subset of heads, one or all
 * heads per chunk, against a float64 recomputation; top-k with exact ties and forced indices against
 * est_top_k (same set); XAttention's keep bits hold no block outside the causal triangle (the host
 * buffer is poisoned first), and its chunked paths (one head and one query block per chunk;
 * DAM_CUDA_XA_SMALL), both block-sums kernels (DAM_CUDA_XA_ROWS_KERNEL), both select kernels
 * (DAM_CUDA_XA_SELECT) and other row chunks (DAM_CUDA_XA_CHUNK_ROWS) give the same bits and scores,
 * bit for bit.
 * Usage: test_estimate_cuda [quick] (quick: shapes up to 300 tokens, for compute-sanitizer). Skips
 * (exit 0, "skip: ...") without a CUDA device. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "baselines/estimate.h"
#include "core/mem.h"
#include "harness/method.h"
#include "kernels/cuda/cuda_mem.h"
#include "kernels/cuda/estimate.h"
#include "kernels/maskplan.h"
#include "tests/method_util.h"
#include "tests/test.h"

enum { BLK = 64, N_LAYERS = 2 };

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) { /* xorshift64* */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static int irand(int n) { return (int)((next_u64() >> 33) % (uint64_t)n); }
static float grid(int lo, int hi) { return 0.25f * (float)(lo + irand(hi - lo + 1)); } /* multiples of 1/4 */

static uint16_t to_bf16(float x) { /* x is exact in bf16 (or NaN) */
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (uint16_t)(u >> 16);
}

/* One layer's prompt, on the host (fp32) and on the device (bf16, the GPU hook's layouts). */
typedef struct {
    int n, H, Hkv, d, q_stride, kv_cap;
    float *q, *k;      /* [n][q_stride], [Hkv][kv_cap][d] (NaN past n) */
    uint16_t *dq, *dk; /* device copies */
} input;

static input make_input(int n, int H, int Hkv, int d, int kind) {
    input in = {n, H, Hkv, d, H * d + 8, n + 5, NULL, NULL, NULL, NULL};
    const size_t nq = (size_t)n * in.q_stride, nk = (size_t)Hkv * in.kv_cap * d;
    in.q = dam_malloc(sizeof(float) * nq, "test q");
    in.k = dam_malloc(sizeof(float) * nk, "test k");
    for (size_t i = 0; i < nq; i++) in.q[i] = grid(-6, 6);
    for (int g = 0; g < Hkv; g++)
        for (int j = 0; j < in.kv_cap; j++)
            for (int c = 0; c < d; c++) in.k[((size_t)g * in.kv_cap + j) * d + c] = j < n ? grid(-6, 6) : NAN;
    for (int g = 0; g < Hkv && kind > 0; g++) {
        float dir[128];
        for (int c = 0; c < d; c++) dir[c] = grid(-2, 2);
        for (int i = 0; i < n; i++)
            for (int h = g * (H / Hkv); h < (g + 1) * (H / Hkv); h++)
                for (int c = 0; c < d; c++) in.q[(size_t)i * in.q_stride + h * d + c] += dir[c];
        if (kind == 1) { /* a sink and needles that match the group's queries */
            const int needles[] = {0, n / 3, n / 2 + 1, n > 7 ? n - 7 : 0};
            for (int t = 0; t < 4; t++)
                for (int c = 0; c < d; c++) in.k[((size_t)g * in.kv_cap + needles[t]) * d + c] = 2 * dir[c];
        } else { /* blocky: key block kb shifted by c_kb · dir */
            for (int kb = 0; kb * BLK < n; kb++) {
                const float ck = 0.25f * (float)(irand(17) - 8);
                for (int j = kb * BLK; j < n && j < kb * BLK + BLK; j++)
                    for (int c = 0; c < d; c++) in.k[((size_t)g * in.kv_cap + j) * d + c] += ck * dir[c];
            }
        }
    }
    uint16_t *hq = dam_malloc(sizeof(uint16_t) * nq, "test bf16 q"), *hk = dam_malloc(sizeof(uint16_t) * nk, "test bf16 k");
    for (size_t i = 0; i < nq; i++) hq[i] = to_bf16(in.q[i]);
    for (size_t i = 0; i < nk; i++) hk[i] = to_bf16(in.k[i]);
    in.dq = dam_cuda_malloc(sizeof(uint16_t) * nq, "test q");
    in.dk = dam_cuda_malloc(sizeof(uint16_t) * nk, "test k");
    cudaMemcpy(in.dq, hq, sizeof(uint16_t) * nq, cudaMemcpyHostToDevice);
    cudaMemcpy(in.dk, hk, sizeof(uint16_t) * nk, cudaMemcpyHostToDevice);
    dam_free(hk);
    dam_free(hq);
    return in;
}

static void free_input(input *in) {
    dam_cuda_free(in->dk);
    dam_cuda_free(in->dq);
    dam_free(in->k);
    dam_free(in->q);
}

static double logit(const input *in, int h, int i, int j) { /* q_i · k_j, exact */
    const float *q = in->q + (size_t)i * in->q_stride + (size_t)h * in->d;
    const float *k = in->k + ((size_t)(h / (in->H / in->Hkv)) * in->kv_cap + j) * in->d;
    double s = 0;
    for (int c = 0; c < in->d; c++) s += (double)q[c] * k[c];
    return s;
}

/* 1a. column / diagonal sums of the last w rows against float64 loops. */
static void check_vertical_slash(est_cuda_ws *ws, const input *in) {
    const int n = in->n, H = in->H;
    int *w = dam_malloc(sizeof(int) * H, "test w");
    /* per-head rows, 1 .. min(n, 80); for odd n the same w for the query heads of a KV head (one batched
     * product per KV head), else a different w per head (one product per head) */
    for (int h = 0; h < H; h++) w[h] = 1 + ((n % 2 ? h / (H / in->Hkv) : h) * 37 + n) % (n < 80 ? n : 80);
    double *dcol, *ddiag;
    est_cuda_vertical_slash(ws, in->dq, in->q_stride, in->dk, in->kv_cap, n, H, in->Hkv, in->d, w, &dcol, &ddiag);
    double *col = dam_malloc(sizeof(double) * (size_t)H * n, "test col"), *diag = dam_malloc(sizeof(double) * (size_t)H * n, "test diag");
    cudaMemcpy(col, dcol, sizeof(double) * (size_t)H * n, cudaMemcpyDeviceToHost);
    cudaMemcpy(diag, ddiag, sizeof(double) * (size_t)H * n, cudaMemcpyDeviceToHost);
    double *rc = dam_calloc((size_t)n, sizeof(double), "ref col"), *rd = dam_calloc((size_t)n, sizeof(double), "ref diag");
    double *p = dam_malloc(sizeof(double) * (size_t)n, "ref row");
    int bad = 0;
    double worst = 0;
    for (int h = 0; h < H; h++) {
        memset(rc, 0, sizeof(double) * (size_t)n);
        memset(rd, 0, sizeof(double) * (size_t)n);
        for (int r = 0; r < w[h]; r++) {
            const int i = n - w[h] + r;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= i; j++) p[j] = logit(in, h, i, j) / sqrt((double)in->d), mx = fmax(mx, p[j]);
            for (int j = 0; j <= i; j++) sum += p[j] = exp(p[j] - mx);
            for (int j = 0; j <= i; j++) rc[j] += p[j] / sum, rd[i - j] += p[j] / sum;
        }
        for (int j = 0; j < n; j++) {
            const double ec = fabs(col[(size_t)h * n + j] - rc[j]), ed = fabs(diag[(size_t)h * n + j] - rd[j]);
            const double e = fmax(ec / fmax(rc[j], 1e-300), ed / fmax(rd[j], 1e-300));
            if (!(ec <= 1e-11 * rc[j] + 1e-300 && ed <= 1e-11 * rd[j] + 1e-300)) bad++;
            else worst = fmax(worst, e);
        }
    }
    CHECK(bad == 0, "n %d H %d/%d d %d: %d column / diagonal sums off the float64 reference (rel > 1e-11)", n, H,
          in->Hkv, in->d, bad);
    CHECK(ddiag == dcol + (size_t)H * n, "n %d: the diagonal sums do not follow the column sums in one array", n);
    printf("  vertical-slash sums  n %5d H %d/%d d %3d: max rel err %.1e\n", n, H, in->Hkv, in->d, worst);
    /* the same sums with the heads in chunks (a scratch budget of one head, and of about 2.5 heads: the
     * last chunk shorter), bit for bit (the logits are exact, the order of additions is per head) */
    int w_max = 1;
    for (int h = 0; h < H; h++) w_max = w[h] > w_max ? w[h] : w_max;
    static const double CHUNK_HEADS[] = {0.0, 2.5};
    double *c2 = dam_malloc(sizeof(double) * 2 * (size_t)H * n, "test chunked sums");
    for (int c = 0; c < 2; c++) {
        char budget[32];
        snprintf(budget, sizeof budget, "%.0f", CHUNK_HEADS[c] > 0 ? CHUNK_HEADS[c] * 4.0 * w_max * n : 1.0);
        setenv("DAM_CUDA_EST_CHUNK_BYTES", budget, 1);
        est_cuda_vertical_slash(ws, in->dq, in->q_stride, in->dk, in->kv_cap, n, H, in->Hkv, in->d, w, &dcol, &ddiag);
        unsetenv("DAM_CUDA_EST_CHUNK_BYTES");
        cudaMemcpy(c2, dcol, sizeof(double) * 2 * (size_t)H * n, cudaMemcpyDeviceToHost);
        CHECK(memcmp(c2, col, sizeof(double) * (size_t)H * n) == 0 && memcmp(c2 + (size_t)H * n, diag, sizeof(double) * (size_t)H * n) == 0,
              "n %d H %d/%d: sums with a scratch budget of %s bytes differ from one chunk", n, H, in->Hkv, budget);
    }
    dam_free(c2);
    dam_free(p), dam_free(rd), dam_free(rc), dam_free(diag), dam_free(col), dam_free(w);
}

/* 1b. XAttention's block scores against float64 loops (definition steps 1-3 of xattention.c). */
static void check_xattention_scores(est_cuda_ws *ws, const input *in, int S) {
    const int n = in->n, H = in->H, nb = (n + BLK - 1) / BLK, N = (n + S - 1) / S, per = BLK / S;
    int *stride = dam_malloc(sizeof(int) * H, "test strides");
    double *tau = dam_malloc(sizeof(double) * H, "test tau");
    for (int h = 0; h < H; h++) stride[h] = S, tau[h] = 0.9;
    const int words = (nb + 63) / 64;
    uint64_t *keep = dam_malloc(sizeof(uint64_t) * (size_t)H * nb * words, "test keep");
    memset(keep, 0xAA, sizeof(uint64_t) * (size_t)H * nb * words);
    double *sc = dam_malloc(sizeof(double) * (size_t)H * nb * nb, "test scores");
    est_cuda_xattention(ws, in->dq, in->q_stride, in->dk, in->kv_cap, n, H, in->Hkv, in->d, stride, tau, keep, sc);
    int outside = 0, bad = 0; /* bits of non-causal key blocks (kb > qb, or past nb): none may be set */
    for (int h = 0; h < H; h++)
        for (int qb = 0; qb < nb; qb++)
            for (int kb = qb + 1; kb < words * 64; kb++)
                outside += (int)(keep[((size_t)h * nb + qb) * words + kb / 64] >> (kb % 64) & 1);
    double *z = dam_malloc(sizeof(double) * (size_t)N, "ref z"), *ref = dam_malloc(sizeof(double) * (size_t)nb * nb, "ref");
    double worst = 0;
    for (int h = 0; h < H && n <= 3000; h++) { /* brute force O(n² d): moderate n only */
        memset(ref, 0, sizeof(double) * (size_t)nb * nb);
        for (int u = 0; u < N; u++) {
            double mx = -INFINITY, sum = 0;
            for (int t = 0; t <= u; t++) {
                double a = 0;
                for (int m = 0; m < S; m++) {
                    const int i = u * S + S - 1 - m, j = t * S + m;
                    if (i < n && j < n) a += logit(in, h, i, j);
                }
                z[t] = a / (sqrt((double)in->d) * S), mx = fmax(mx, z[t]);
            }
            for (int t = 0; t <= u; t++) sum += z[t] = exp(z[t] - mx);
            for (int t = 0; t <= u; t++) ref[(size_t)(u / per) * nb + t / per] += z[t] / sum;
        }
        for (size_t c = 0; c < (size_t)nb * nb; c++) {
            const double g = sc[(size_t)h * nb * nb + c], e = fabs(g - ref[c]);
            if (!(e <= 1e-11 * ref[c] + 1e-300)) bad++;
            else worst = fmax(worst, ref[c] > 0 ? e / ref[c] : 0);
        }
    }
    /* the chunked paths give the same bits and scores: one head and one query block per chunk
     * (DAM_CUDA_EST_CHUNK_BYTES=1), and DAM_CUDA_XA_SMALL=1 (chunks of two heads, which split a KV
     * head's query heads, one query block per row chunk, the sorts in device memory as beyond 4,098
     * blocks, scalar strided copies); and each block-sums kernel forced (DAM_CUDA_XA_ROWS_KERNEL=cta /
     * warp: the same operations in the same order; the default is the warp kernel here at stride <= 8,
     * the CTA kernel above), also on the small chunks (rows past the first chunk, u0 > 0, in quick mode
     * too); each select kernel forced (DAM_CUDA_XA_SELECT=cta: the CTA's shared-memory sort, the default
     * beyond 512-entry sorts; warp: the register sort, also where DAM_CUDA_XA_SMALL would take the
     * sorts in device memory); other row chunks (DAM_CUDA_XA_CHUNK_ROWS=64, and 192 with the CTA
     * select); the logits are exact, so every GEMM shape gives the same ones */
    static const char *const VARIANTS[][4] = {
        {"DAM_CUDA_EST_CHUNK_BYTES", "1", NULL, NULL},        {"DAM_CUDA_XA_SMALL", "1", NULL, NULL},
        {"DAM_CUDA_XA_ROWS_KERNEL", "cta", NULL, NULL},       {"DAM_CUDA_XA_ROWS_KERNEL", "warp", NULL, NULL},
        {"DAM_CUDA_XA_ROWS_KERNEL", "cta", "DAM_CUDA_XA_SMALL", "1"},
        {"DAM_CUDA_XA_ROWS_KERNEL", "warp", "DAM_CUDA_XA_SMALL", "1"},
        {"DAM_CUDA_XA_SELECT", "cta", NULL, NULL},            {"DAM_CUDA_XA_SELECT", "warp", "DAM_CUDA_XA_SMALL", "1"},
        {"DAM_CUDA_XA_CHUNK_ROWS", "64", NULL, NULL},         {"DAM_CUDA_XA_CHUNK_ROWS", "192", "DAM_CUDA_XA_SELECT", "cta"}};
    uint64_t *keep2 = dam_malloc(sizeof(uint64_t) * (size_t)H * nb * words, "test keep");
    double *sc2 = dam_malloc(sizeof(double) * (size_t)H * nb * nb, "test scores");
    for (size_t v = 0; v < sizeof VARIANTS / sizeof VARIANTS[0]; v++) {
        if (strcmp(VARIANTS[v][1], "warp") == 0 &&
            ((nb > 514 && strcmp(VARIANTS[v][0], "DAM_CUDA_XA_SELECT") == 0) ||
             (N > 4096 && strcmp(VARIANTS[v][0], "DAM_CUDA_XA_ROWS_KERNEL") == 0)))
            continue; /* the warp select sorts at most 512 entries (nb - 2); the warp block sums take rows of
                       * at most 4,096 super-tokens */
        memset(keep2, 0x55, sizeof(uint64_t) * (size_t)H * nb * words);
        for (int e = 0; e < 4 && VARIANTS[v][e]; e += 2) setenv(VARIANTS[v][e], VARIANTS[v][e + 1], 1);
        est_cuda_xattention(ws, in->dq, in->q_stride, in->dk, in->kv_cap, n, H, in->Hkv, in->d, stride, tau, keep2, sc2);
        for (int e = 0; e < 4 && VARIANTS[v][e]; e += 2) unsetenv(VARIANTS[v][e]);
        char with[160];
        snprintf(with, sizeof with, "%s=%s%s%s%s%s", VARIANTS[v][0], VARIANTS[v][1], VARIANTS[v][2] ? " " : "",
                 VARIANTS[v][2] ? VARIANTS[v][2] : "", VARIANTS[v][2] ? "=" : "", VARIANTS[v][2] ? VARIANTS[v][3] : "");
        CHECK(memcmp(keep, keep2, sizeof(uint64_t) * (size_t)H * nb * words) == 0, "n %d H %d/%d S %d: keep bits differ with %s",
              n, H, in->Hkv, S, with);
        CHECK(memcmp(sc, sc2, sizeof(double) * (size_t)H * nb * nb) == 0, "n %d H %d/%d S %d: block scores differ with %s",
              n, H, in->Hkv, S, with);
    }
    dam_free(sc2), dam_free(keep2);
    CHECK(outside == 0, "n %d S %d: %d kept key blocks outside the causal triangle", n, S, outside);
    /* the cut given the same scores: est_xattention_cut (the CPU's sequential walk) on the GPU's scores
     * keeps exactly the GPU's blocks, at tau 0.9 and again at 0.5 and 1 (rows past 256 other blocks
     * give each thread of the select kernel's scan several entries) */
    uint8_t *cut = dam_malloc((size_t)nb * nb, "test cut");
    for (int t = 0; t < 3; t++) {
        static const double TAUS[3] = {0.9, 0.5, 1.0};
        if (t > 0) {
            for (int h = 0; h < H; h++) tau[h] = TAUS[t];
            est_cuda_xattention(ws, in->dq, in->q_stride, in->dk, in->kv_cap, n, H, in->Hkv, in->d, stride, tau, keep, sc);
        }
        int differ = 0;
        for (int h = 0; h < H; h++) {
            est_xattention_cut(sc + (size_t)h * nb * nb, nb, TAUS[t], cut);
            for (int qb = 0; qb < nb; qb++)
                for (int kb = 0; kb <= qb; kb++)
                    differ += cut[(size_t)qb * nb + kb] != (int)(keep[((size_t)h * nb + qb) * words + kb / 64] >> (kb % 64) & 1);
        }
        CHECK(differ == 0, "n %d H %d/%d S %d tau %g: %d blocks differ from est_xattention_cut on the same scores", n, H,
              in->Hkv, S, TAUS[t], differ);
    }
    dam_free(cut);
    CHECK(bad == 0, "n %d H %d/%d d %d S %d: %d block scores off the float64 reference (rel > 1e-11)", n, H, in->Hkv,
          in->d, S, bad);
    if (n <= 3000) printf("  xattention scores    n %5d H %d/%d d %3d S %2d: max rel err %.1e\n", n, H, in->Hkv, in->d, S, worst);
    dam_free(ref), dam_free(z), dam_free(sc), dam_free(keep), dam_free(tau), dam_free(stride);
}

/* 1c. top-k: est_cuda_top_k's indices and their order equal est_top_k's on the same scores (forced
 * indices as +inf), for one set of rows (H rows of n scores; kind 0: multiples of 1/4 from 0 to 1,
 * many exact ties; kind 1: continuous values spread over many binades, a few exact zeros and a -0.0,
 * which ties with +0.0 as on the CPU; kind 2: kind 1 with half the values negative). */
static void top_k_case(est_cuda_ws *ws, int n, int H, const int *forced, const int *k, int kind) {
    double *s = dam_malloc(sizeof(double) * (size_t)H * n, "test scores");
    for (int i = 0; i < H * n; i++)
        s[i] = kind == 0 ? 0.25 * irand(5)
             : ldexp(1.0 + (double)(next_u64() >> 12) / 4503599627370496.0, -irand(60)) * (kind == 2 && irand(2) ? -1 : 1);
    if (kind >= 1)
        for (int h = 0; h < H; h++) s[(size_t)h * n + n / 3] = 0.0, s[(size_t)h * n + n / 2] = -0.0, s[(size_t)h * n + n - 1] = 0.0;
    int k_max = 1;
    for (int h = 0; h < H; h++) k_max = k[h] > k_max ? k[h] : k_max;
    double *ds = dam_cuda_malloc(sizeof(double) * (size_t)H * n, "test scores");
    cudaMemcpy(ds, s, sizeof(double) * (size_t)H * n, cudaMemcpyHostToDevice);
    int32_t *top = dam_malloc(sizeof(int32_t) * (size_t)H * k_max, "test top"), *ref = dam_malloc(sizeof(int32_t) * n, "ref top");
    est_cuda_top_k(ws, ds, n, H, forced, k, top, k_max);
    for (int h = 0; h < H; h++) {
        double *sh = s + (size_t)h * n;
        for (int j = 0; j < forced[h]; j++) sh[j] = INFINITY;
        est_top_k(sh, n, k[h], ref);
        int differ = 0;
        for (int i = 0; i < k[h]; i++) differ += top[(size_t)h * k_max + i] != ref[i];
        CHECK(differ == 0, "top-k n %d head %d (k %d, forced %d, kind %d): %d of the k indices differ from est_top_k's (order included)",
              n, h, k[h], forced[h], kind, differ);
    }
    dam_cuda_free(ds);
    dam_free(ref), dam_free(top), dam_free(s);
}

/* The row kernel (k <= 8192) on short and (not quick) long rows, k = 1 and k = n, forced beyond k;
 * the CUB fallback (k > 8192) on the same kinds. */
static void check_top_k(est_cuda_ws *ws, bool quick) {
    const int f3[] = {0, 7, 40}, k3[] = {1, 100, 2999};
    top_k_case(ws, 3001, 3, f3, k3, 0);
    top_k_case(ws, 3001, 3, f3, k3, 1);
    const int f4[] = {50, 0, 1, 3}, k4[] = {10, 3001, 2048, 1};
    top_k_case(ws, 3001, 4, f4, k4, 1);
    const int f2[] = {4, 64}, k2[] = {8192, 256};
    if (!quick) top_k_case(ws, 40000, 2, f2, k2, 0), top_k_case(ws, 40000, 2, f2, k2, 1);
    const int fb[] = {4, 0}, kb[] = {9000, 20};
    top_k_case(ws, 12345, 2, fb, kb, 0);
    top_k_case(ws, 12345, 2, fb, kb, 1);
    /* the cut inside the zeros (k = n - 1: the last zero by index is left out, so -0.0 must tie with
     * +0.0), on the row kernel and on CUB's path */
    const int fz[] = {0}, kz[] = {3000}, kzb[] = {12344};
    top_k_case(ws, 3001, 1, fz, kz, 1);
    top_k_case(ws, 12345, 1, fz, kzb, 1);
    /* negative scores, rows shorter than a tile, k = 1 on every row (a sort of one entry), and rows
     * longer than one pass's 8 x 1024 elements (the gather's counts carried over) in quick mode too */
    const int fn[] = {0, 3, 0}, kn[] = {1, 1, 1}, ks[] = {700, 5, 699}, kl[] = {8000, 5, 1};
    top_k_case(ws, 700, 3, fn, kn, 2);
    top_k_case(ws, 700, 3, fn, ks, 2);
    top_k_case(ws, 9000, 3, fn, kl, 2);
}

/* 1d. est_cuda_dam_online directly, per-head probe rows and settings: the kept-pair count it returns
 * (dam_online's max_density check) equals maskplan_kept_pairs of the plan its patterns and blocks
 * make, and one head per chunk (DAM_CUDA_EST_CHUNK_BYTES=1), two heads per chunk and a shorter last
 * one, and CUB's segmented sort instead of the shared-memory row sort (DAM_CUDA_EST_CUB_SORT=1, the
 * path above 256K tokens) give the same patterns, blocks, depths and counts as the default path.
 * Also run at n = 200,000 (not in quick mode), where the row sorts fill their 40 KB of shared memory. Counts the sparse and the deepened heads
 * seen. */
static int g_sparse_heads, g_deepened_heads, g_deep_select, g_deep_sort; /* depth <= 16 / > 16 below the row length */

static void check_dam_online_direct(est_cuda_ws *ws, const input *in) {
    const int n = in->n, H = in->H, nb = (n + BLK - 1) / BLK, words = (nb + 63) / 64;
    est_dam_online_head *par = dam_malloc(sizeof *par * (size_t)H, "test dam_online settings");
    for (int h = 0; h < H; h++) {
        const double lambda = 0.5, eps = 1e-10, tau = 0.1 + 0.05 * (h % 3);
        const double base = (pow(eps, lambda) - 1) / lambda, cut = pow(lambda * (base + tau) + 1, 1 / lambda);
        static const double COVER[] = {0.8, 0.99, 0.9999};
        par[h] = (est_dam_online_head){1 + (h * 29 + n) % (n < 80 ? n : 80), {eps, lambda, base, tau, cut}, 0.5, 0,
                                       COVER[h % 3]};
    }
    /* the per-head scratch as estimate_dam_online.cu counts it: a budget of 2.5 heads makes chunks of
     * two heads and a shorter last one (chunk boundaries inside KV groups, runs of different w) */
    int w_max = 1;
    for (int h = 0; h < H; h++) w_max = par[h].w > w_max ? par[h].w : w_max;
    const double cells = (double)nb * (nb + 1) / 2;
    const double per_head = 4.0 * w_max * n + 32.0 * cells + 8.0 * w_max * nb + 8.0 * nb * words + 8.0 * nb * in->d + 2.0 * n;
    char two_heads[32];
    snprintf(two_heads, sizeof two_heads, "%.0f", 2.5 * per_head);
    enum { RUNS = 4 };
    est_dam_online_result *res[RUNS];
    uint8_t *sel[RUNS];
    uint64_t *blocks[RUNS];
    static const char *const KNOB[RUNS] = {NULL, "DAM_CUDA_EST_CHUNK_BYTES", "DAM_CUDA_EST_CUB_SORT", "DAM_CUDA_EST_CHUNK_BYTES"};
    const char *const VALUE[RUNS] = {NULL, "1", "1", two_heads};
    for (int run = 0; run < RUNS; run++) {
        res[run] = dam_malloc(sizeof(est_dam_online_result) * (size_t)H, "test dam_online results");
        sel[run] = dam_malloc((size_t)H * 2 * n, "test dam_online patterns");
        blocks[run] = dam_malloc(sizeof(uint64_t) * (size_t)H * nb * words, "test dam_online blocks");
        if (KNOB[run]) setenv(KNOB[run], VALUE[run], 1);
        est_cuda_dam_online(ws, in->dq, in->q_stride, in->dk, in->kv_cap, n, H, in->Hkv, in->d, 0, H, par, res[run], sel[run],
                            blocks[run]);
        if (KNOB[run]) unsetenv(KNOB[run]);
    }
    for (int h = 0; h < H; h++) {
        CHECK(res[0][h].depth >= 0 && res[0][h].depth <= nb, "dam_online n %d head %d: depth %d outside [0, %d]", n, h,
              res[0][h].depth, nb);
        if (res[0][h].depth >= nb) continue;
        g_sparse_heads++, g_deepened_heads += res[0][h].depth > 0;
        g_deep_select += res[0][h].depth > 0 && res[0][h].depth <= 16 && res[0][h].depth + 1 < nb;
        g_deep_sort += res[0][h].depth > 16 && res[0][h].depth + 1 < nb;
        maskplan *plan = maskplan_new(); /* as dam/online.c plan_from_gpu builds it */
        est_set_patterns(plan, n, sel[0] + (size_t)h * 2 * n);
        maskplan_set_blocks_bits(plan, nb, nb, blocks[0] + (size_t)h * nb * words);
        const int64_t ref = maskplan_kept_pairs(plan, n);
        CHECK(res[0][h].kept == ref, "dam_online n %d head %d: kept pairs %lld, the plan keeps %lld", n, h,
              (long long)res[0][h].kept, (long long)ref);
        maskplan_free(plan);
    }
    for (int run = 1; run < RUNS; run++) {
        CHECK(memcmp(sel[0], sel[run], (size_t)H * 2 * n) == 0, "dam_online n %d: patterns differ with %s=%s", n, KNOB[run],
              VALUE[run]);
        CHECK(memcmp(blocks[0], blocks[run], sizeof(uint64_t) * (size_t)H * nb * words) == 0,
              "dam_online n %d: blocks differ with %s=%s", n, KNOB[run], VALUE[run]);
        for (int h = 0; h < H; h++)
            CHECK(res[0][h].depth == res[run][h].depth && res[0][h].kept == res[run][h].kept,
                  "dam_online n %d head %d: depth / kept %d / %lld, with %s=%s %d / %lld", n, h, res[0][h].depth,
                  (long long)res[0][h].kept, KNOB[run], VALUE[run], res[run][h].depth, (long long)res[run][h].kept);
    }
    for (int run = 0; run < RUNS; run++) dam_free(res[run]), dam_free(sel[run]), dam_free(blocks[run]);
    dam_free(par);
}

/* FlexPrefill step 5 recomputed in float64 for head h (block means, block map, cells sorted by A
 * descending then index, sequential cumulative sum). keep: NULL, or [nb][nb] bytes that receive the
 * selected cells (the prefix whose cumulative sum stays <= gamma · nb, plus (0, 0)). Returns true if
 * the cumulative sum meets the limit gamma · nb within 1e-9 relative at the boundary cell, where
 * rounding (the GPU's parallel scan, another exp) may keep one block more or fewer than the CPU. */
static int cmp_cell(const void *a, const void *b) {
    const double *x = a, *y = b; /* {A, index} */
    if (x[0] != y[0]) return x[0] > y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static bool fp_select_ref(const input *in, int h, double gamma, uint8_t *keep) {
    const int n = in->n, d = in->d, nb = (n + BLK - 1) / BLK, g = h / (in->H / in->Hkv);
    const double scale = 1.0 / sqrt((double)d); /* as flexprefill.c */
    double *qbar = dam_calloc((size_t)nb * d, sizeof(double), "ref qbar"), *kbar = dam_calloc((size_t)nb * d, sizeof(double), "ref kbar");
    for (int i = 0; i < n; i++)
        for (int c = 0; c < d; c++) {
            qbar[(size_t)(i / BLK) * d + c] += in->q[(size_t)i * in->q_stride + (size_t)h * d + c];
            kbar[(size_t)(i / BLK) * d + c] += in->k[((size_t)g * in->kv_cap + i) * d + c];
        }
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < d; c++) {
            const int rows = (b + 1) * BLK < n ? BLK : n - b * BLK;
            qbar[(size_t)b * d + c] /= rows, kbar[(size_t)b * d + c] /= rows;
        }
    double *cell = dam_malloc(sizeof(double) * 2 * (size_t)nb * (nb + 1) / 2, "ref cells");
    size_t m = 0;
    for (int qb = 0; qb < nb; qb++) {
        double mx = -INFINITY, sum = 0;
        const size_t r0 = m;
        for (int kb = 0; kb <= qb; kb++, m++) {
            double z = 0;
            for (int c = 0; c < d; c++) z += qbar[(size_t)qb * d + c] * kbar[(size_t)kb * d + c];
            cell[2 * m] = z * scale, cell[2 * m + 1] = (double)qb * nb + kb;
            mx = fmax(mx, cell[2 * m]);
        }
        for (size_t i = r0; i < m; i++) sum += cell[2 * i] = exp(cell[2 * i] - mx);
        for (size_t i = r0; i < m; i++) cell[2 * i] /= sum;
    }
    qsort(cell, m, 2 * sizeof(double), cmp_cell);
    const double limit = gamma * nb, tol = 1e-9 * limit;
    double cum = 0, prev = 0;
    bool tie = false;
    if (keep) memset(keep, 0, (size_t)nb * nb), keep[0] = 1;
    for (size_t i = 0; i < m; i++) {
        prev = cum, cum += cell[2 * i];
        if (cum > limit) {
            tie = cum - limit <= tol || (i > 0 && limit - prev <= tol);
            break;
        }
        if (keep) keep[(size_t)cell[2 * i + 1]] = 1;
    }
    dam_free(cell), dam_free(kbar), dam_free(qbar);
    return tie;
}

static bool fp_boundary_tie(const input *in, int h, double gamma) { return fp_select_ref(in, h, gamma, NULL); }

/* 1e. FlexPrefill's covers and block pools (est_cuda_cover_pool) on hand-made sums, against the
 * definition (flexprefill.c cover(): entries sorted descending, added sequentially, 1 + the number of
 * inclusive sums <= g) and sequential block sums. The GPU decides a cover from a parallel scan when a
 * rounding bound separates the sums from g, else walks the row sequentially; these rows need the walk:
 *   head 0, v: 0.5 then n - 1 entries 2^-54. Sequentially 0.5 + 2^-54 rounds (to even) to 0.5, so
 *     every sum is 0.5 <= g = 0.5 and cover = n + 1; a tree adds the small entries together first
 *     and exceeds 0.5 (0.5 + 2 · 2^-54 = 0.5 + 2^-53 is exact), so a count from the scan alone is wrong.
 *   head 1, v: multiples of 2^-12 (exact sums), g = the sum of the largest n / 3 + 1 entries: the sum
 *     meets g exactly (counted, <=), cover = n / 3 + 2.
 *   head 3, v: sums to ~1 with g = 1: the sums end within rounding of g.
 * and these the scan alone: head 2 (g = 0.9 of a random row), the slashes (random rows; head 3's
 * zero but for 5 entries, total < g: cover = n + 1). v = col / 64 (col = 64 v, exact). */
static int cmp_desc(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static int cover_ref(const double *x, int n, double g, double *tmp) {
    memcpy(tmp, x, sizeof(double) * (size_t)n);
    qsort(tmp, (size_t)n, sizeof(double), cmp_desc);
    double cum = 0;
    int cnt = 0;
    for (int i = 0; i < n; i++) cnt += (cum += tmp[i]) <= g;
    return cnt + 1;
}

static void check_cover_pool(est_cuda_ws *ws, int n) {
    enum { H = 4 };
    const int nb = (n + BLK - 1) / BLK;
    const uint64_t rng_saved = rng; /* the other checks' inputs stay as they were */
    double *x = dam_malloc(sizeof(double) * 2 * H * (size_t)n, "test covers"), g[H]; /* x[h][0]: v, x[h][1]: s */
    for (int h = 0; h < H; h++)
        for (int t = 0; t < 2; t++) {
            double *r = x + ((size_t)h * 2 + t) * n, tot = 0;
            for (int j = 0; j < n; j++) tot += r[j] = (double)(1 + irand(1000)) * (1 + next_u64() % 1000003);
            for (int j = 0; j < n; j++) r[j] /= tot; /* random, total ~1 */
        }
    double *v0 = x, *v1 = x + 2 * (size_t)n, *s3 = x + 7 * (size_t)n, *tmp = dam_malloc(sizeof(double) * (size_t)n, "test sorted");
    for (int j = 0; j < n; j++) v0[j] = j == 0 ? 0.5 : 0x1p-54, v1[j] = (double)(1 + irand(64)) * 0x1p-12, s3[j] = 0;
    for (int t = 0; t < 5; t++) s3[irand(n)] = 0.01;
    g[0] = 0.5, g[2] = 0.9, g[3] = 1.0;
    memcpy(tmp, v1, sizeof(double) * (size_t)n);
    qsort(tmp, (size_t)n, sizeof(double), cmp_desc);
    g[1] = 0;
    for (int j = 0; j <= n / 3; j++) g[1] += tmp[j]; /* exact: multiples of 2^-12 below 2^40 */
    /* the constructions (their sequential covers) */
    CHECK(cover_ref(v0, n, g[0], tmp) == n + 1, "cover test: head 0 built wrong");
    CHECK(cover_ref(v1, n, g[1], tmp) == n / 3 + 2, "cover test: head 1 built wrong");
    double *col = dam_malloc(sizeof(double) * H * (size_t)n, "test col"), *diag = dam_malloc(sizeof(double) * H * (size_t)n, "test diag");
    for (int h = 0; h < H; h++)
        for (int j = 0; j < n; j++)
            col[(size_t)h * n + j] = 64 * x[((size_t)h * 2) * n + j], diag[(size_t)h * n + j] = 64 * x[((size_t)h * 2 + 1) * n + j];
    double *dcol = dam_cuda_malloc(sizeof(double) * H * (size_t)n, "test col"), *ddiag = dam_cuda_malloc(sizeof(double) * H * (size_t)n, "test diag");
    cudaMemcpy(dcol, col, sizeof(double) * H * (size_t)n, cudaMemcpyHostToDevice);
    cudaMemcpy(ddiag, diag, sizeof(double) * H * (size_t)n, cudaMemcpyHostToDevice);
    int count[2 * H];
    double *pool = dam_malloc(sizeof(double) * 2 * H * (size_t)nb, "test pools");
    est_cuda_cover_pool(ws, dcol, ddiag, n, H, 64, g, count, pool);
    int bad_pool = 0;
    for (int r = 0; r < 2 * H; r++) {
        const double *xr = x + (size_t)r * n;
        const int ref = cover_ref(xr, n, g[r / 2], tmp);
        CHECK(count[r] == ref, "cover n %d head %d %s: %d, sequential definition %d", n, r / 2, r % 2 ? "slashes" : "verticals",
              count[r], ref);
        for (int b = 0; b < nb; b++) {
            double a = 0;
            for (int j = b * BLK; j < n && j < (b + 1) * BLK; j++) a += xr[j];
            bad_pool += pool[(size_t)r * nb + b] != a;
        }
    }
    CHECK(bad_pool == 0, "cover n %d: %d block pools differ from the sequential sums", n, bad_pool);
    printf("  flexprefill covers   n %5d: %d %d %d %d %d %d %d %d\n", n, count[0], count[1], count[2], count[3], count[4],
           count[5], count[6], count[7]);
    dam_cuda_free(ddiag), dam_cuda_free(dcol);
    dam_free(pool), dam_free(diag), dam_free(col), dam_free(tmp), dam_free(x);
    rng = rng_saved;
}

/* 1f. FlexPrefill's query-aware selection (est_cuda_block_map_select) directly: heads 0, 2, 3, 5, ...
 * (h % 3 != 1: runs of heads and gaps) with per-head gamma, all heads of a chunk together and one head
 * per chunk (DAM_CUDA_EST_CHUNK_BYTES=1): the same bits; unselected heads all zero (the host buffer is
 * poisoned first); selected heads the float64 recomputation's cells (fp_select_ref), but for one cell
 * at a tie with gamma · nb. */
static void check_block_map_select(est_cuda_ws *ws, const input *in) {
    const int n = in->n, H = in->H, nb = (n + BLK - 1) / BLK, words = (nb + 63) / 64;
    const size_t hw = (size_t)nb * words;
    uint8_t *which = dam_malloc((size_t)H, "test which"), *ref = dam_malloc((size_t)nb * nb, "ref cells");
    double *gamma = dam_malloc(sizeof(double) * H, "test gamma");
    for (int h = 0; h < H; h++) which[h] = h % 3 != 1, gamma[h] = 0.3 + 0.2 * (h % 4);
    uint64_t *keep[2];
    for (int run = 0; run < 2; run++) {
        keep[run] = dam_malloc(sizeof(uint64_t) * H * hw, "test keep");
        memset(keep[run], 0xAA, sizeof(uint64_t) * H * hw);
        if (run == 1) setenv("DAM_CUDA_EST_CHUNK_BYTES", "1", 1);
        est_cuda_block_map_select(ws, in->dq, in->q_stride, in->dk, in->kv_cap, n, H, in->Hkv, in->d, which, gamma, keep[run]);
        unsetenv("DAM_CUDA_EST_CHUNK_BYTES");
    }
    CHECK(memcmp(keep[0], keep[1], sizeof(uint64_t) * H * hw) == 0, "block_map_select n %d: bits differ with one head per chunk", n);
    for (int h = 0; h < H; h++) {
        const uint64_t *kh = keep[0] + (size_t)h * hw;
        int set = 0, diff = 0;
        if (which[h]) fp_select_ref(in, h, gamma[h], ref);
        for (int qb = 0; qb < nb; qb++)
            for (int kb = 0; kb < words * 64; kb++) {
                const int bit = (int)(kh[(size_t)qb * words + kb / 64] >> (kb % 64) & 1);
                set += bit;
                if (which[h]) diff += bit != (kb < nb && ref[(size_t)qb * nb + kb]);
            }
        if (!which[h]) CHECK(set == 0, "block_map_select n %d head %d (not selected): %d bits set", n, h, set);
        else if (diff > 0 && !(diff == 1 && fp_select_ref(in, h, gamma[h], NULL)))
            CHECK(0, "block_map_select n %d head %d gamma %g: %d cells differ from the float64 selection", n, h, gamma[h], diff);
    }
    dam_free(keep[1]), dam_free(keep[0]), dam_free(gamma), dam_free(ref), dam_free(which);
}

/* ---- 2. plans of the methods: GPU (plan_layer_cuda) == CPU (plan_layer), pair by pair ---- */

static const char *const INSTANCES[] = {
    "{\"method\": \"minference\"}",
    "{\"method\": \"minference\", \"vertical_size\": [8, 30], \"slash_size\": 16, \"sink_columns\": 4, \"local_diagonals\": 8}",
    "{\"method\": \"minference\", \"vertical_size\": 20, \"slash_size\": 12, \"last_q\": 16, \"sink_columns\": 0,"
    " \"local_diagonals\": 1}",
    "{\"method\": \"minference\", \"vertical_size\": [[5, 9, 70], [300, 2, 1]], \"last_q\": [[1, 64, 200], [7, 7, 7]]}",
    "{\"method\": \"xattention\"}",
    "{\"method\": \"xattention\", \"stride\": 4, \"threshold\": 0.5}",
    "{\"method\": \"xattention\", \"stride\": 16, \"threshold\": 0.97}",
    "{\"method\": \"xattention\", \"stride\": 1, \"threshold\": 0.7}",
    "{\"method\": \"xattention\", \"stride\": 64, \"threshold\": 0.8}",
    "{\"method\": \"xattention\", \"stride\": [[2, 8, 32], [4, 4, 64]], \"threshold\": [0.3, 1]}",
    "{\"method\": \"flexprefill\"}",
    "{\"method\": \"flexprefill\", \"min_budget\": 64}",
    "{\"method\": \"flexprefill\", \"min_budget\": 0, \"tau\": 1, \"gamma\": 0.5}",
    "{\"method\": \"flexprefill\", \"min_budget\": 60, \"tau\": 0, \"gamma\": 0.95, \"max_budget\": 128}",
    "{\"method\": \"flexprefill\", \"min_budget\": 0, \"tau\": 0.4, \"gamma\": 0.3}",
    "{\"method\": \"flexprefill\", \"min_budget\": [[0, 200, 1000], [64, 64, 0]], \"tau\": [0.2, 5]}",
    "{\"method\": \"dam_online\"}",
    "{\"method\": \"dam_online\", \"tau\": 0.1, \"mu\": 0.5, \"coverage\": 0.9, \"max_density\": 1}",
    "{\"method\": \"dam_online\", \"coverage\": 0.6, \"max_density\": 0.9, \"last_q\": 16, \"min_pattern_cells\": 4}",
    "{\"method\": \"dam_online\", \"lambda\": 0, \"tau\": 4, \"mu\": 0.6, \"coverage\": 0.8, \"max_density\": 0.95}",
    "{\"method\": \"dam_online\", \"coverage\": 0.999, \"max_density\": 0.3}",
    "{\"method\": \"dam_online\", \"coverage\": 0.8, \"max_density\": 1, \"mu\": 0.9, \"last_q\": [[200, 64, 1], [90, 3, 64]]}",
    "{\"method\": \"dam_online\", \"mask_mode\": \"soft\"}",
    "{\"method\": \"dam_online\", \"tau\": 0.1, \"mu\": 0.5, \"coverage\": 0.9, \"max_density\": 1, \"mask_mode\": \"soft\","
    " \"w_min\": 0.05}",
};
enum { N_INSTANCES = sizeof INSTANCES / sizeof INSTANCES[0] };

/* Per-head lists of 3 heads are used only with H == 3. */
static bool make_method(const char *text, int H, method *m) {
    if (strstr(text, "[[") && H != 3) return false;
    method_from_json(text, N_LAYERS, H, m);
    return true;
}

/* The method's gamma if the config gives one number (FlexPrefill; default 0.9), else NAN. */
static double config_gamma(const char *text) {
    json_t *o = json_loads(text, 0, NULL), *g = json_object_get(o, "gamma");
    const double v = g == NULL ? 0.9 : json_is_number(g) ? json_number_value(g) : NAN;
    json_decref(o);
    return v;
}

static void check_plans(est_cuda_ws *ws, const input *in, const char *text) {
    method m;
    if (!make_method(text, in->H, &m)) return;
    const int n = in->n, H = in->H, words = (n + 63) / 64;
    maskplan **cpu = dam_calloc((size_t)H, sizeof *cpu, "cpu plans"), **gpu = dam_calloc((size_t)H, sizeof *gpu, "gpu plans");
    for (int layer = 0; layer < N_LAYERS; layer++) {
        m.ops->plan_layer(&m, layer, in->q, in->q_stride, n, in->k, in->kv_cap, H, in->Hkv, in->d, cpu);
        m.ops->plan_layer_cuda(&m, layer, in->dq, in->q_stride, n, in->dk, in->kv_cap, H, in->Hkv, in->d, ws, gpu);
        int64_t diff = 0, kept = 0;
        for (int h = 0; h < H; h++) {
            CHECK(maskplan_validate(gpu[h], n) == NULL, "%s layer %d head %d: invalid GPU plan", text, layer, h);
            int64_t dh = 0, bias_diff = 0;
            for (int i = 0; i < n; i++)
                for (int wd = 0; wd < words; wd++) {
                    uint64_t ba, bb;
                    float va, vb;
                    const uint64_t a = maskplan_row_word_bias(cpu[h], i, (int64_t)wd * 64, &ba, &va);
                    const uint64_t b = maskplan_row_word_bias(gpu[h], i, (int64_t)wd * 64, &bb, &vb);
                    dh += __builtin_popcountll(a ^ b);
                    kept += __builtin_popcountll(a);
                    bias_diff += ba != bb || !(fabsf(va - vb) <= 1e-6f * (1 + fabsf(va))); /* soft plans: log w */
                }
            CHECK(bias_diff == 0, "%s layer %d head %d: %lld row words with another bias than the CPU plan", text, layer,
                  h, (long long)bias_diff);
            /* FlexPrefill's one global cumulative selection: one block more or fewer at an exact tie */
            const double gamma = strstr(text, "flexprefill") ? config_gamma(text) : NAN;
            if (dh > 0 && dh <= BLK * BLK && !isnan(gamma) && fp_boundary_tie(in, h, gamma)) {
                printf("  note: %s layer %d head %d: one block differs at a cumulative tie with gamma * nb (rounding)\n",
                       text, layer, h);
                dh = 0;
            }
            diff += dh;
            maskplan_free(cpu[h]), maskplan_free(gpu[h]);
            cpu[h] = gpu[h] = NULL;
        }
        CHECK(diff == 0, "%s, n %d H %d/%d d %d layer %d: GPU plan differs from the CPU plan in %lld of %lld kept pairs",
              text, n, H, in->Hkv, in->d, layer, (long long)diff, (long long)kept);
    }
    dam_free(gpu), dam_free(cpu);
    method_free(&m);
}

int main(int argc, char **argv) {
    const bool quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        printf("skip: test_estimate_cuda: no CUDA device\n");
        return 0;
    }
    dam_cuda_require_device();
    static const struct { int n, H, Hkv, d, kind; } CASES[] = {
        {1, 2, 1, 64, 0},    {37, 3, 1, 64, 1},   {65, 9, 3, 64, 2},  {200, 4, 4, 128, 1}, {300, 3, 3, 64, 2},
        {1000, 7, 1, 64, 1}, {2113, 3, 1, 128, 2}, {3000, 8, 2, 64, 1}, {9000, 3, 3, 64, 2},
    };
    est_cuda_ws *ws = est_cuda_ws_new();
    check_top_k(ws, quick);
    check_cover_pool(ws, 5000);
    if (!quick) check_cover_pool(ws, 70001);
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        if (quick && CASES[c].n > 300) continue;
        input in = make_input(CASES[c].n, CASES[c].H, CASES[c].Hkv, CASES[c].d, CASES[c].kind);
        check_vertical_slash(ws, &in);
        const int strides[] = {1, 8, 64};
        for (int s = 0; s < 3; s++)
            if (!(in.n > 3000 && strides[s] == 1)) check_xattention_scores(ws, &in, strides[s]);
        check_dam_online_direct(ws, &in);
        check_block_map_select(ws, &in);
        for (int i = 0; i < N_INSTANCES; i++)
            if (!(in.n > 3000 && strstr(INSTANCES[i], "\"stride\": 1,"))) check_plans(ws, &in, INSTANCES[i]);
        free_input(&in);
    }
    { /* nb = 68 at stride 64: the warp select's steps within a lane's registers and its pivot on lanes
       * past the first (sorts of up to 128 entries, 4 a lane), in quick mode too (compute-sanitizer) */
        input in = make_input(4300, 2, 1, 64, 1);
        check_xattention_scores(ws, &in, 64);
        free_input(&in);
    }
    if (!quick) { /* SmolLM2's 32K shape at its edges: nb = 514, the warp select's longest rows (512 entries,
                   * 16 a lane; query block 513 in word 8) and nb = 515, the CTA select for every row */
        for (int n = 32896; n <= 32897; n++) {
            input in = make_input(n, 2, 1, 64, 2);
            check_xattention_scores(ws, &in, 8);
            free_input(&in);
        }
    }
    if (!quick) { /* XAttention's cut at nb = 313 (the CTA select's scan with 2 entries per thread, in the
                   * DAM_CUDA_XA_SELECT=cta and DAM_CUDA_XA_SMALL variants; the default is the warp select),
                   * strides 16, 32 (the block-sums kernels with two exps in flight), 64 */
        input in = make_input(20000, 3, 1, 64, 2);
        check_xattention_scores(ws, &in, 16);
        check_xattention_scores(ws, &in, 32);
        check_xattention_scores(ws, &in, 64);
        free_input(&in);
    }
    if (!quick) { /* nb = 3125: the shared-memory row sorts at their largest size (4096 entries, 40 KB); XAttention
                   * past the warp select's 512-entry sorts (the CTA select per row chunk) and past the warp
                   * block sums' 4,096 super-tokens */
        input in = make_input(200000, 2, 1, 64, 1);
        check_dam_online_direct(ws, &in);
        check_xattention_scores(ws, &in, 8);
        free_input(&in);
    }
    est_cuda_ws_free(ws);
    printf("  dam_online direct: %d sparse heads (%d deepened by the gate: %d to depth <= 16, %d deeper) checked\n",
           g_sparse_heads, g_deepened_heads, g_deep_select, g_deep_sort);
    CHECK(g_sparse_heads > 0 && (quick || (g_deep_select > 0 && g_deep_sort > 0)), /* quick: n <= 300, too short */
          "dam_online direct: no sparse head, or no head deepened by selection / by sorting: the check missed a path");
    CHECK(dam_cuda_mem_in_use() == 0, "%zu device bytes still allocated", dam_cuda_mem_in_use());
    return test_done("test_estimate_cuda");
}
