/* test_dynamic.c — the dynamic methods (minference, xattention, flexprefill, dam_online) against
 * float64 re-implementations of their written definitions (the header comments of
 * baselines/minference.c, baselines/xattention.c, baselines/flexprefill.c, dam/online.c), built
 * here without baselines/estimate.c: top-k by repeated arg-max, cumulative thresholds by repeated
 * arg-max, antidiagonal sums by explicit loops, Box-Cox by its formula, dam_online's gate on a
 * dense boolean matrix recomputed from scratch after every step.
 *
 * Inputs: random queries and keys with entries on a 1/2 grid (some cases with a sink key and
 * "needle" keys that match the queries), so every q·k is exact in fp32 and the method's sgemm and
 * the reference agree exactly on the logits; ties are broken the documented way (lower index) on
 * both sides. Lengths 37, 64, 65, 100, 129, 200, 300 (below and above the 64-row estimation window
 * and one block), GQA groups 1, 3 and 7, a q row stride with padding, and NaN in the KV cache past
 * the prompt (a method that reads there gives NaN scores and a different plan).
 * Checks per (method, parameters, case): every causal pair of the plan equals the reference mask;
 * maskplan_validate passes; the plan is the same when computed again with another OpenMP thread
 * count after other plans ran; dam_online's plan reaches its coverage on the probe rows or is
 * dense; a stride that does not divide 64, and dam_online's w_min without mask_mode "soft" or out
 * of (0, 1], are refused with status 2.
 * dam_online mask_mode "soft" (step (e) of dam/online.c), per head against the hard reference of
 * the same parameters: dense iff the hard plan is dense; every pair the hard plan keeps is kept
 * with bias 0; every other causal pair is kept iff its block's weight w = A[qb][kb] / max_kb' A
 * (A recomputed here in float64) is >= w_min, with bias log w (1e-5); the plans (kept pairs and
 * biases) are the same on a second run.
 * Run: make build/tests/test_dynamic && build/tests/test_dynamic */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baselines/estimate.h"
#include "core/mem.h"
#include "harness/method.h"
#include "kernels/maskplan.h"
#include "method_util.h"
#include "test.h"

enum { BLK = 64, N_LAYERS = 2 };

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next_u64(void) { /* xorshift64* */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static int irand(int n) { return (int)((next_u64() >> 33) % (uint64_t)n); }
static float grid(int lo, int hi) { return 0.5f * (float)(lo + irand(hi - lo + 1)); } /* multiples of 1/2 */

/* One layer's prompt as plan_layer sees it. */
typedef struct {
    int n, H, Hkv, d, q_stride, kv_cap;
    float *q; /* [n][q_stride] */
    float *k; /* [Hkv][kv_cap][d], NaN past n */
} input;

static input make_input(int n, int H, int Hkv, int d, int peaky) {
    input in = {n, H, Hkv, d, H * d + 8, n + 5, NULL, NULL};
    in.q = dam_malloc(sizeof(float) * (size_t)n * in.q_stride, "test q");
    in.k = dam_malloc(sizeof(float) * (size_t)Hkv * in.kv_cap * d, "test k");
    for (size_t i = 0; i < (size_t)n * in.q_stride; i++) in.q[i] = grid(-2, 2);
    for (int g = 0; g < Hkv; g++)
        for (int j = 0; j < in.kv_cap; j++)
            for (int c = 0; c < d; c++) in.k[((size_t)g * in.kv_cap + j) * d + c] = j < n ? grid(-2, 2) : NAN;
    if (peaky) { /* a sink at key 0 and a few needle keys that resemble the queries of head group g */
        for (int g = 0; g < Hkv; g++) {
            float *dir = dam_malloc(sizeof(float) * d, "test dir");
            for (int c = 0; c < d; c++) dir[c] = grid(-1, 1);
            for (int i = 0; i < n; i++)
                for (int h = g * (H / Hkv); h < (g + 1) * (H / Hkv); h++)
                    for (int c = 0; c < d; c++) in.q[(size_t)i * in.q_stride + h * d + c] = grid(-1, 1) + dir[c];
            const int needles[] = {0, n / 3, n / 2 + 1, n - 7 > 0 ? n - 7 : 0};
            for (int t = 0; t < 4; t++)
                for (int c = 0; c < d; c++) in.k[((size_t)g * in.kv_cap + needles[t]) * d + c] = 2 * dir[c];
            dam_free(dir);
        }
    }
    if (peaky == 2) { /* blocky: every key block kb moves its keys by c_kb · dir (c_kb in -4 .. 4), so the
                       * block map A spans several orders of magnitude (soft weights down to ~1e-5) */
        for (int g = 0; g < Hkv; g++) {
            float *dir = dam_malloc(sizeof(float) * d, "test dir");
            for (int c = 0; c < d; c++) dir[c] = grid(-1, 1);
            for (int i = 0; i < n; i++)
                for (int h = g * (H / Hkv); h < (g + 1) * (H / Hkv); h++)
                    for (int c = 0; c < d; c++) in.q[(size_t)i * in.q_stride + h * d + c] += dir[c];
            for (int kb = 0; kb * BLK < n; kb++) {
                const float ck = grid(-8, 8);
                for (int j = kb * BLK; j < n && j < kb * BLK + BLK; j++)
                    for (int c = 0; c < d; c++) in.k[((size_t)g * in.kv_cap + j) * d + c] += ck * dir[c];
            }
            dam_free(dir);
        }
    }
    return in;
}

static void free_input(input *in) { dam_free(in->q); dam_free(in->k); }

static const float *qrow(const input *in, int h, int i) { return in->q + (size_t)i * in->q_stride + (size_t)h * in->d; }
static const float *krow(const input *in, int h, int j) {
    return in->k + ((size_t)(h / (in->H / in->Hkv)) * in->kv_cap + j) * in->d;
}
static double dot(const float *a, const float *b, int d) {
    double s = 0;
    for (int c = 0; c < d; c++) s += (double)a[c] * (double)b[c];
    return s;
}

static double dot_d(const double *a, const double *b, int d) {
    double s = 0;
    for (int c = 0; c < d; c++) s += a[c] * b[c];
    return s;
}

/* Exact probabilities of row i of head h over keys 0 .. i (p[j]); zeros after i. */
static void ref_row(const input *in, int h, int i, double *p) {
    const double sc = 1.0 / sqrt((double)in->d);
    double mx = -INFINITY, s = 0;
    for (int j = 0; j <= i; j++) {
        p[j] = dot(qrow(in, h, i), krow(in, h, j), in->d) * sc;
        if (p[j] > mx) mx = p[j];
    }
    for (int j = 0; j <= i; j++) s += p[j] = exp(p[j] - mx);
    for (int j = 0; j <= i; j++) p[j] /= s;
    for (int j = i + 1; j < in->n; j++) p[j] = 0;
}

/* Rows n-w .. n-1: P[r][j]. */
static double *ref_last(const input *in, int h, int w) {
    double *P = malloc(sizeof(double) * (size_t)w * in->n);
    for (int r = 0; r < w; r++) ref_row(in, h, in->n - w + r, P + (size_t)r * in->n);
    return P;
}

/* Index of the largest s[i] with !taken[i] and ok(i) (lowest index on ties), -1 if none. */
static int argmax(const double *s, const uint8_t *taken, int m) {
    int b = -1;
    for (int i = 0; i < m; i++)
        if (!taken[i] && (b < 0 || s[i] > s[b])) b = i;
    return b;
}

/* Block means of the rows of x (row i at x + i * stride) over blocks of 64, last block partial. */
static double *ref_means(const float *x, long stride, int n, int d) {
    const int nb = (n + BLK - 1) / BLK;
    double *o = calloc((size_t)nb * d, sizeof(double));
    for (int b = 0; b < nb; b++) {
        int cnt = 0;
        for (int i = b * BLK; i < n && i < b * BLK + BLK; i++, cnt++)
            for (int c = 0; c < d; c++) o[(size_t)b * d + c] += x[i * stride + c];
        for (int c = 0; c < d; c++) o[(size_t)b * d + c] /= cnt;
    }
    return o;
}

/* ---------------- parameters of one test instance ---------------- */
typedef struct {
    const char *json; /* the method object */
    /* minference */
    int vs[N_LAYERS], ss, lq, sinks, local;
    /* xattention */
    int stride;
    double thr;
    /* flexprefill */
    double gamma, ftau;
    int min_budget, max_budget;
    /* dam_online */
    double lambda, eps, dtau, mu, coverage, max_density;
    int min_cells;
    int soft;            /* mask_mode "soft" */
    double w_min[N_LAYERS];
} spec;

/* ---------------- references: mask[i * n + j] for j <= i ---------------- */

static void ref_minference(const input *in, int h, int layer, const spec *s, uint8_t *mask) {
    const int n = in->n, w = s->lq < n ? s->lq : n;
    double *P = ref_last(in, h, w), *col = calloc(n, sizeof(double)), *dg = calloc(n, sizeof(double));
    for (int r = 0; r < w; r++)
        for (int j = 0; j <= n - w + r; j++) {
            col[j] += P[(size_t)r * n + j];
            dg[n - w + r - j] += P[(size_t)r * n + j];
        }
    const int sinks = s->sinks < n ? s->sinks : n, local = s->local < n ? s->local : n;
    int kv = s->vs[layer] > sinks ? s->vs[layer] : sinks, ks = s->ss > local ? s->ss : local;
    if (kv > n) kv = n;
    if (ks > n) ks = n;
    uint8_t *cs = calloc(n, 1), *ds = calloc(n, 1);
    for (int j = 0; j < sinks; j++) cs[j] = 1;
    for (int o = 0; o < local; o++) ds[o] = 1;
    for (int t = sinks; t < kv; t++) cs[argmax(col, cs, n)] = 1;
    for (int t = local; t < ks; t++) ds[argmax(dg, ds, n)] = 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) mask[(size_t)i * n + j] = cs[j] || ds[i - j];
    free(P), free(col), free(dg), free(cs), free(ds);
}

_Static_assert(LDBL_MANT_DIG >= 64, "ref_xattention compares 63-bit integers exactly as long double");

static void ref_xattention(const input *in, int h, const spec *s, uint8_t *mask) {
    const int n = in->n, d = in->d, S = s->stride, N = (n + S - 1) / S, nb = (n + BLK - 1) / BLK;
    double *score = calloc((size_t)nb * nb, sizeof(double)), *z = calloc(N, sizeof(double));
    for (int u = 0; u < N; u++) {
        double mx = -INFINITY, sum = 0;
        for (int t = 0; t <= u; t++) {
            double a = 0;
            for (int m = 0; m < S; m++) { /* antidiagonal of the S x S tile (u, t) */
                const int i = u * S + S - 1 - m, j = t * S + m;
                if (i < n && j < n) a += dot(qrow(in, h, i), krow(in, h, j), d);
            }
            z[t] = a / (sqrt((double)d) * S);
            if (z[t] > mx) mx = z[t];
        }
        for (int t = 0; t <= u; t++) sum += z[t] = exp(z[t] - mx);
        for (int t = 0; t <= u; t++) score[(size_t)(u * S / BLK) * nb + t * S / BLK] += z[t] / sum;
    }
    uint8_t *keep = calloc((size_t)nb * nb, 1);
    for (int qb = 0; qb < nb; qb++) {
        /* sums in the method's fixed point: each score truncated to an integer multiple of 2^-56 */
        double *row = score + (size_t)qb * nb;
        uint64_t total = 0, cum;
        uint8_t *taken = keep + (size_t)qb * nb;
        for (int kb = 0; kb <= qb; kb++) total += (uint64_t)ldexp(row[kb], 56);
        for (int kb = qb + 1; kb < nb; kb++) taken[kb] = 2; /* not causal, never chosen */
        taken[0] = taken[qb] = 1;
        cum = (uint64_t)ldexp(row[0], 56) + (qb ? (uint64_t)ldexp(row[qb], 56) : 0);
        const double target = s->thr * (double)total; /* compared exactly: x86 long double holds any cum < 2^63 */
        while ((long double)cum < (long double)target) {
            const int b = argmax(row, taken, nb);
            if (b < 0) break;
            taken[b] = 1;
            cum += (uint64_t)ldexp(row[b], 56);
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) mask[(size_t)i * n + j] = keep[(size_t)(i / BLK) * nb + j / BLK] == 1;
    free(score), free(z), free(keep);
}

static int cmp_desc(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static int ref_cover(const double *x, int m, double g) {
    double *c = malloc(sizeof(double) * m), cum = 0;
    memcpy(c, x, sizeof(double) * m);
    qsort(c, m, sizeof(double), cmp_desc);
    int cnt = 0;
    for (int i = 0; i < m; i++)
        if ((cum += c[i]) <= g) cnt++;
    free(c);
    return cnt + 1;
}

/* Returns 1 if the head is query-aware (for coverage of both branches), -1 if dense. */
static int ref_flexprefill(const input *in, int h, const spec *s, uint8_t *mask) {
    const int n = in->n, d = in->d, nb = (n + BLK - 1) / BLK, minb = s->min_budget > BLK ? (s->min_budget + BLK - 1) / BLK : 1;
    if (n <= (2 * BLK > minb * BLK ? 2 * BLK : minb * BLK)) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) mask[(size_t)i * n + j] = 1;
        return -1;
    }
    int maxb = s->max_budget ? (s->max_budget + BLK - 1) / BLK : nb;
    if (maxb > nb) maxb = nb;
    double *P = ref_last(in, h, BLK), *v = calloc(n, sizeof(double)), *sl = calloc(n, sizeof(double));
    for (int r = 0; r < BLK; r++)
        for (int j = 0; j <= n - BLK + r; j++) {
            v[j] += P[(size_t)r * n + j] / BLK;
            sl[n - BLK + r - j] += P[(size_t)r * n + j] / BLK;
        }
    int nv = ref_cover(v, n, s->gamma) / BLK + 1, ns = ref_cover(sl, n, s->gamma) / BLK + 1;
    nv = nv < minb ? minb : nv > maxb ? maxb : nv;
    ns = ns < minb ? minb : ns > maxb ? maxb : ns;
    double *V = calloc(nb, sizeof(double)), *SL = calloc(nb, sizeof(double)), *a = calloc(nb, sizeof(double));
    for (int j = 0; j < n; j++) V[j / BLK] += v[j], SL[j / BLK] += sl[j];
    double *kbar = ref_means(krow(in, h, 0), d, n, d), *qm = calloc(d, sizeof(double));
    for (int i = n - BLK; i < n; i++)
        for (int c = 0; c < d; c++) qm[c] += qrow(in, h, i)[c] / (double)BLK;
    double mx = -INFINITY, sum = 0, js = 0;
    for (int b = 0; b < nb; b++) {
        for (int c = 0; c < d; c++) a[b] += qm[c] * kbar[(size_t)b * d + c];
        a[b] /= sqrt((double)d);
        mx = fmax(mx, a[b]);
    }
    for (int b = 0; b < nb; b++) sum += a[b] = exp(a[b] - mx);
    for (int b = 0; b < nb; b++) {
        a[b] /= sum;
        const double m = (a[b] + V[b]) / 2;
        if (a[b] > 0) js += 0.5 * a[b] * log(a[b] / m);
        if (V[b] > 0) js += 0.5 * V[b] * log(V[b] / m);
    }
    const int qa = sqrt(fmax(js, 0)) < s->ftau;
    if (qa) nv = ns = minb;
    if (nv > nb) nv = nb;
    if (ns > nb) ns = nb;
    uint8_t *cv = calloc(nb, 1), *cs = calloc(nb, 1), *keep = calloc((size_t)nb * nb, 1);
    cv[0] = cs[0] = 1;
    for (int t = 1; t < nv; t++) cv[argmax(V, cv, nb)] = 1;
    for (int t = 1; t < ns; t++) cs[argmax(SL, cs, nb)] = 1;
    if (nv == 0) cv[0] = 0;
    if (ns == 0) cs[0] = 0;
    for (int qb = 0; qb < nb; qb++)
        for (int kb = 0; kb <= qb; kb++) keep[(size_t)qb * nb + kb] = cv[kb] || cs[qb - kb];
    if (qa) {
        double *qbar = ref_means(qrow(in, h, 0), in->q_stride, n, d), *A = calloc((size_t)nb * nb, sizeof(double));
        uint8_t *taken = calloc((size_t)nb * nb, 1);
        for (int qb = 0; qb < nb; qb++) {
            double rm = -INFINITY, rs = 0;
            for (int kb = 0; kb <= qb; kb++) {
                A[qb * nb + kb] = dot_d(qbar + (size_t)qb * d, kbar + (size_t)kb * d, d) / sqrt((double)d);
                rm = fmax(rm, A[qb * nb + kb]);
            }
            for (int kb = 0; kb <= qb; kb++) rs += A[qb * nb + kb] = exp(A[qb * nb + kb] - rm);
            for (int kb = 0; kb <= qb; kb++) A[qb * nb + kb] /= rs;
            for (int kb = qb + 1; kb < nb; kb++) taken[qb * nb + kb] = 1;
        }
        double cum = 0;
        for (;;) {
            const int b = argmax(A, taken, nb * nb);
            if (b < 0 || (cum += A[b]) > s->gamma * nb) break;
            taken[b] = 1;
            keep[b] = 1;
        }
        keep[0] = 1;
        free(qbar), free(A), free(taken);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) mask[(size_t)i * n + j] = keep[(size_t)(i / BLK) * nb + j / BLK];
    free(P), free(v), free(sl), free(V), free(SL), free(a), free(kbar), free(qm), free(cv), free(cs), free(keep);
    return qa;
}

static double ref_boxcox(double x, double lam) { return lam == 0 ? log(x) : (pow(x, lam) - 1) / lam; }
static int ref_on(double p, const spec *s) {
    return ref_boxcox(p > s->eps ? p : s->eps, s->lambda) - ref_boxcox(s->eps, s->lambda) >= s->dtau;
}

/* Kept P mass of the probe rows under mask (sum over rows). */
static double ref_mass(const double *P, const uint8_t *mask, int n, int W) {
    double m = 0;
    for (int r = 0; r < W; r++)
        for (int j = 0; j <= n - W + r; j++)
            if (mask[(size_t)(n - W + r) * n + j]) m += P[(size_t)r * n + j];
    return m;
}

/* Returns 0: the matched patterns reach the coverage; 1: the gate added blocks; 2: dense.
 * A_out (nb x nb, or NULL) receives the block map A[qb][kb] (0 for kb > qb). */
static int ref_dam_online(const input *in, int h, const spec *s, uint8_t *mask, double *A_out) {
    const int n = in->n, d = in->d, nb = (n + BLK - 1) / BLK, W = s->lq < n ? s->lq : n, i0 = n - W;
    double *P = ref_last(in, h, W);
    int *hc = calloc(n, sizeof(int)), *hd = calloc(n, sizeof(int));
    for (int r = 0; r < W; r++)
        for (int j = 0; j <= i0 + r; j++)
            if (ref_on(P[(size_t)r * n + j], s)) hc[j]++, hd[i0 + r - j]++;
    uint8_t *col = calloc(n, 1), *dg = calloc(n, 1), *blk = calloc((size_t)nb * nb, 1);
    for (int c = 0; c < n; c++) {
        int cells = 0;
        for (int i = i0; i < n; i++) cells += i >= c;
        col[c] = cells >= s->min_cells && (double)hc[c] / cells >= s->mu;
        dg[c] = cells >= s->min_cells && (double)hd[c] / cells >= s->mu;
    }
    dg[0] = 1;
    double *qbar = ref_means(qrow(in, h, 0), in->q_stride, n, d), *kbar = ref_means(krow(in, h, 0), d, n, d);
    double *A = calloc((size_t)nb * nb, sizeof(double));
    for (int qb = 0; qb < nb; qb++) {
        double rm = -INFINITY, rs = 0;
        for (int kb = 0; kb <= qb; kb++) {
            A[qb * nb + kb] = dot_d(qbar + (size_t)qb * d, kbar + (size_t)kb * d, d) / sqrt((double)d);
            rm = fmax(rm, A[qb * nb + kb]);
        }
        for (int kb = 0; kb <= qb; kb++) rs += A[qb * nb + kb] = exp(A[qb * nb + kb] - rm);
        for (int kb = 0; kb <= qb; kb++) {
            A[qb * nb + kb] /= rs;
            long cells = 0, on = 0;
            for (int i = qb * BLK; i < n && i < qb * BLK + BLK; i++) {
                int c = 0; /* causal keys of row i in block kb */
                for (int j = kb * BLK; j < n && j < kb * BLK + BLK; j++) c += j <= i;
                for (int j = kb * BLK; j < n && j < kb * BLK + BLK && j <= i; j++) {
                    cells++;
                    on += ref_on(A[qb * nb + kb] / c, s);
                }
            }
            blk[qb * nb + kb] = cells >= s->min_cells && (double)on / cells >= s->mu;
        }
    }
#define BUILD()                                                                                     \
    for (int i = 0; i < n; i++)                                                                     \
        for (int j = 0; j <= i; j++) mask[(size_t)i * n + j] = col[j] || dg[i - j] || blk[(i / BLK) * nb + j / BLK];
    BUILD();
    double mass = ref_mass(P, mask, n, W);
    int code = 0, t = 0;
    if (mass < s->coverage * W) {
        code = 1;
        uint8_t *taken = calloc((size_t)nb * nb, 1);
        int *rank = calloc((size_t)nb * nb, sizeof(int));
        for (int qb = 0; qb < nb; qb++) {
            for (int kb = qb + 1; kb < nb; kb++) taken[qb * nb + kb] = 1;
            for (int r = 0; r <= qb; r++) {
                const int b = argmax(A + (size_t)qb * nb, taken + (size_t)qb * nb, nb);
                taken[qb * nb + b] = 1;
                rank[qb * nb + r] = b;
            }
        }
        for (; t < nb && mass < s->coverage * W; t++) {
            for (int qb = t; qb < nb; qb++) blk[qb * nb + rank[qb * nb + t]] = 1;
            BUILD();
            mass = ref_mass(P, mask, n, W);
        }
        if (t >= nb) code = 2;
        free(taken), free(rank);
    }
#undef BUILD
    if (code != 2) {
        long kept = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) kept += mask[(size_t)i * n + j];
        if ((double)kept / ((double)n * (n + 1) / 2.0) > s->max_density) code = 2;
    }
    if (code == 2)
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) mask[(size_t)i * n + j] = 1;
    if (A_out) memcpy(A_out, A, sizeof(double) * (size_t)nb * nb);
    free(P), free(hc), free(hd), free(col), free(dg), free(blk), free(qbar), free(kbar), free(A);
    return code;
}

/* ---------------- driver ---------------- */

enum { MINF, XATT, FLEX, DAMO };
static const char *kind_names[] = {"minference", "xattention", "flexprefill", "dam_online"};

/* One configured instance: its kind and its config object. */
typedef struct {
    int kind;
    const char *json;
} instance;

static const instance INSTANCES[] = {
    {MINF, "{\"method\": \"minference\"}"},
    {MINF, "{\"method\": \"minference\", \"vertical_size\": [8, 30], \"slash_size\": 16, \"sink_columns\": 4,"
           " \"local_diagonals\": 8}"},
    {MINF, "{\"method\": \"minference\", \"vertical_size\": 20, \"slash_size\": 12, \"last_q\": 16, \"sink_columns\": 0,"
           " \"local_diagonals\": 1}"},
    {XATT, "{\"method\": \"xattention\"}"},
    {XATT, "{\"method\": \"xattention\", \"stride\": 4, \"threshold\": 0.5}"},
    {XATT, "{\"method\": \"xattention\", \"stride\": 16, \"threshold\": 0.97}"},
    {XATT, "{\"method\": \"xattention\", \"stride\": 1, \"threshold\": 0.7}"},
    {XATT, "{\"method\": \"xattention\", \"stride\": 64, \"threshold\": 0.8}"},
    {FLEX, "{\"method\": \"flexprefill\"}"},
    {FLEX, "{\"method\": \"flexprefill\", \"min_budget\": 64}"},
    {FLEX, "{\"method\": \"flexprefill\", \"min_budget\": 0, \"tau\": 1, \"gamma\": 0.5}"},
    {FLEX, "{\"method\": \"flexprefill\", \"min_budget\": 60, \"tau\": 0, \"gamma\": 0.95, \"max_budget\": 128}"},
    {FLEX, "{\"method\": \"flexprefill\", \"min_budget\": 0, \"tau\": 0.4, \"gamma\": 0.3}"},
    {DAMO, "{\"method\": \"dam_online\"}"},
    {DAMO, "{\"method\": \"dam_online\", \"tau\": 0.1, \"mu\": 0.5, \"coverage\": 0.9, \"max_density\": 1}"},
    {DAMO, "{\"method\": \"dam_online\", \"coverage\": 0.6, \"max_density\": 0.9, \"last_q\": 16,"
           " \"min_pattern_cells\": 4, \"mask_mode\": \"hard\"}"},
    {DAMO, "{\"method\": \"dam_online\", \"lambda\": 0, \"tau\": 4, \"mu\": 0.6, \"coverage\": 0.8,"
           " \"max_density\": 0.95}"},
    {DAMO, "{\"method\": \"dam_online\", \"coverage\": 0.999, \"max_density\": 0.3}"},
    {DAMO, "{\"method\": \"dam_online\", \"coverage\": 0.8, \"max_density\": 1, \"mu\": 0.9}"},
    {DAMO, "{\"method\": \"dam_online\", \"mask_mode\": \"soft\"}"},
    {DAMO, "{\"method\": \"dam_online\", \"tau\": 0.1, \"mu\": 0.5, \"coverage\": 0.9, \"max_density\": 1,"
           " \"mask_mode\": \"soft\", \"w_min\": 0.05}"},
    {DAMO, "{\"method\": \"dam_online\", \"coverage\": 0.6, \"max_density\": 0.9, \"last_q\": 16,"
           " \"min_pattern_cells\": 4, \"mask_mode\": \"soft\", \"w_min\": 1e-6}"},
    {DAMO, "{\"method\": \"dam_online\", \"coverage\": 0.8, \"max_density\": 1, \"mu\": 0.9, \"mask_mode\": \"soft\","
           " \"w_min\": [0.5, 1e-3]}"},
};
enum { N_INSTANCES = sizeof INSTANCES / sizeof INSTANCES[0] };

/* A number of obj (or element l of a per-layer list), dflt when absent. */
static double num(json_t *obj, const char *key, int l, double dflt) {
    json_t *v = json_object_get(obj, key);
    if (v && json_is_array(v)) v = json_array_get(v, (size_t)l);
    return v ? json_number_value(v) : dflt;
}

/* The reference's parameters: the documented defaults, overridden by the instance's keys. */
static spec spec_of(const instance *ins) {
    json_t *o = json_loads(ins->json, 0, NULL);
    spec s = {.json = ins->json};
    for (int l = 0; l < N_LAYERS; l++) s.vs[l] = (int)num(o, "vertical_size", l, 64);
    s.ss = (int)num(o, "slash_size", 0, 256);
    s.lq = (int)num(o, "last_q", 0, 64);
    s.sinks = (int)num(o, "sink_columns", 0, 30);
    s.local = (int)num(o, "local_diagonals", 0, 100);
    s.stride = (int)num(o, "stride", 0, 8);
    s.thr = num(o, "threshold", 0, 0.9);
    s.gamma = num(o, "gamma", 0, 0.9);
    s.ftau = num(o, "tau", 0, ins->kind == FLEX ? 0.1 : 0.3);
    s.min_budget = (int)num(o, "min_budget", 0, 512);
    s.max_budget = (int)num(o, "max_budget", 0, 0);
    s.lambda = num(o, "lambda", 0, 0.5);
    s.eps = num(o, "epsilon", 0, 1e-10);
    s.dtau = s.ftau;
    s.mu = num(o, "mu", 0, 0.8);
    s.coverage = num(o, "coverage", 0, 0.95);
    s.max_density = num(o, "max_density", 0, 0.5);
    s.min_cells = (int)num(o, "min_pattern_cells", 0, 0);
    json_t *mode = json_object_get(o, "mask_mode");
    s.soft = mode && strcmp(json_string_value(mode), "soft") == 0;
    for (int l = 0; l < N_LAYERS; l++) s.w_min[l] = num(o, "w_min", l, 1e-3);
    json_decref(o);
    return s;
}

static void make_method(const char *text, int H, method *m) { method_from_json(text, N_LAYERS, H, m); }

/* FNV-1a over the kept bits and the logit biases of every causal pair (and the dense flag). */
static uint64_t plan_hash(const maskplan *p, int n) {
    uint64_t x = 1469598103934665603ull ^ (uint64_t)p->dense;
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            const float b = maskplan_bias(p, i, j);
            uint32_t bits;
            memcpy(&bits, &b, sizeof bits);
            x = (x ^ (uint64_t)maskplan_kept(p, i, j)) * 1099511628211ull;
            x = (x ^ bits) * 1099511628211ull;
        }
    return x;
}

static long soft_extra_pairs, soft_dropped_pairs; /* soft pairs beyond the hard plan; pairs dropped for w < w_min */
static double soft_min_w = 1;                      /* the smallest weight kept */

/* dam_online soft against the hard reference: mask (hard), A (block map), the code (2 = dense). */
static void check_soft(const spec *sp, const maskplan *p, const uint8_t *mask, const double *A, int code, int n,
                       int layer, int h) {
    CHECK(p->dense == (code == 2), "dam_online soft %s n=%d head %d: dense %d, hard reference code %d", sp->json, n, h,
          p->dense, code);
    if (p->dense) return;
    const int nb = (n + BLK - 1) / BLK;
    const double w_min = sp->w_min[layer];
    long bad = 0, fi = -1, fj = -1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            const int kept = maskplan_kept(p, i, j);
            const float b = maskplan_bias(p, i, j);
            int ok;
            if (mask[(size_t)i * n + j]) ok = kept && b == 0.0f;
            else {
                const double *row = A + (size_t)(i / BLK) * nb;
                double mx = 0;
                for (int kb = 0; kb <= i / BLK; kb++) mx = fmax(mx, row[kb]);
                const double w = row[j / BLK] / mx;
                if (fabs(w - w_min) <= 1e-9 * w_min) ok = 1; /* at the cut: either way */
                else if (w < w_min) {
                    ok = !kept;
                    soft_dropped_pairs++;
                } else {
                    ok = kept && fabs((double)b - log(w)) <= 1e-5 && b <= 0;
                    soft_extra_pairs++;
                    soft_min_w = fmin(soft_min_w, w);
                }
            }
            if (!ok && bad++ == 0) fi = i, fj = j;
        }
    CHECK(bad == 0, "dam_online soft %s n=%d layer %d head %d: %ld pairs wrong, first (%ld, %ld): kept %d bias %g, hard %d",
          sp->json, n, layer, h, bad, fi, fj, bad ? (int)maskplan_kept(p, fi, fj) : 0,
          bad ? (double)maskplan_bias(p, fi, fj) : 0.0, bad ? mask[fi * n + fj] : 0);
}

/* Runs the method on one input; returns the heads' plan hashes in hash[H]. With stats (not NULL):
 * checks every head against its reference and counts stats[code]++ per head (the reference's
 * outcome codes of flexprefill and dam_online). */
static void run_case(const instance *ins, const spec *sp, const method *m, const input *in, int layer, uint64_t *hash,
                     int *stats) {
    maskplan **out = calloc(in->H, sizeof *out);
    m->ops->plan_layer(m, layer, in->q, in->q_stride, in->n, in->k, in->kv_cap, in->H, in->Hkv, in->d, out);
    const int n = in->n;
    uint8_t *mask = calloc((size_t)n * n, 1);
    double *A = calloc((size_t)((n + BLK - 1) / BLK) * ((n + BLK - 1) / BLK), sizeof(double));
    for (int h = 0; h < in->H && !stats; h++) {
        hash[h] = plan_hash(out[h], n);
        maskplan_free(out[h]);
    }
    for (int h = 0; h < in->H && stats; h++) {
        const char *why = maskplan_validate(out[h], n);
        CHECK(why == NULL, "%s %s n=%d H=%d/%d head %d: invalid plan: %s", kind_names[ins->kind], ins->json, n, in->H,
              in->Hkv, h, why);
        int code = 0;
        switch (ins->kind) {
        case MINF: ref_minference(in, h, layer, sp, mask); break;
        case XATT: ref_xattention(in, h, sp, mask); break;
        case FLEX: code = ref_flexprefill(in, h, sp, mask) + 1; break; /* 0 dense, 1 VS, 2 QA */
        case DAMO: code = ref_dam_online(in, h, sp, mask, A); break;
        }
        stats[code]++;
        if (sp->soft) check_soft(sp, out[h], mask, A, code, n, layer, h);
        long bad = 0, first_i = -1, first_j = -1;
        for (int i = 0; i < n && !sp->soft; i++) /* soft: check_soft above */
            for (int j = 0; j <= i; j++)
                if ((int)maskplan_kept(out[h], i, j) != mask[(size_t)i * n + j] && bad++ == 0) first_i = i, first_j = j;
        CHECK(bad == 0, "%s %s n=%d H=%d/%d layer %d head %d: %ld pairs differ from the reference, first (%ld, %ld): plan "
              "%d, reference %d", kind_names[ins->kind], ins->json, n, in->H, in->Hkv, layer, h, bad, first_i, first_j,
              bad ? (int)maskplan_kept(out[h], first_i, first_j) : 0, bad ? mask[first_i * n + first_j] : 0);
        if (ins->kind == DAMO && !out[h]->dense) { /* the gate: coverage reached on the probe rows */
            const int W = sp->lq < n ? sp->lq : n;
            double *P = ref_last(in, h, W), mass = 0;
            for (int r = 0; r < W; r++)
                for (int j = 0; j <= n - W + r; j++)
                    if (maskplan_kept(out[h], n - W + r, j)) mass += P[(size_t)r * n + j];
            CHECK(mass / W >= sp->coverage - 1e-12, "dam_online %s n=%d head %d: coverage %.6f below %.6f and not dense",
                  ins->json, n, h, mass / W, sp->coverage);
            free(P);
        }
        hash[h] = plan_hash(out[h], n);
        maskplan_free(out[h]);
    }
    free(mask);
    free(A);
    free(out);
}

/* Plans of `text` for a 3-head model in a child; its exit status. */
static int parse_status(const char *text) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(99);
        method m;
        make_method(text, 3, &m);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* est_set_patterns and maskplan_set_blocks_bits (the GPU paths' plan builders) on a hand-made case, n = 130:
 * columns 0 and 100, diagonals 0 and 3, block (1, 0). Kept pairs, counted by hand: diagonal 0 keeps
 * all 130 rows; diagonal 3 rows 3..129 (127); column 0 rows 1..129 less rows 3 (diagonal 3 hits key
 * 0) = 128; column 100 rows 101..129 less row 103 (diagonal 3 hits key 100) = 28; block (1, 0): rows
 * 64..127 keep keys 0..63 = 64 x 64 = 4096, of which column 0 (64 rows), diagonal 3 (rows 64..66 hit
 * keys 61..63: 3 rows) already counted = 4029 new. Total 130 + 127 + 128 + 28 + 4029 = 4442. */
/* est_xattention_cut on hand-made power-of-two scores, where the kept score meets fl(tau · total)
 * exactly (the cut stops there: "while below"). One query block row qb = 4 of nb = 5: s = [1/4, 1/4,
 * 1/8, 1/8, 1/4] (kb 0 .. 4), total 1. tau 0.75: base s0 + s4 = 1/2, then kb 1 (1/4) -> 3/4 = target:
 * stop -> {0, 1, 4}. tau 0.76: also kb 2 (ties 1/8: lower kb first) -> 7/8 -> {0, 1, 2, 4}. tau 1:
 * every block -> total. tau 0.5: base already 1/2 -> {0, 4}. Rows qb < 4 are zero rows here (their own
 * 0 and diagonal blocks only). */
static void check_xattention_cut(void) {
    enum { NB = 5 };
    double s[NB * NB] = {0};
    const double row4[NB] = {0.25, 0.25, 0.125, 0.125, 0.25};
    for (int kb = 0; kb < NB; kb++) s[4 * NB + kb] = row4[kb];
    static const struct { double tau; uint8_t want[NB]; } CASES[] = {
        {0.75, {1, 1, 0, 0, 1}}, {0.76, {1, 1, 1, 0, 1}}, {1.0, {1, 1, 1, 1, 1}}, {0.5, {1, 0, 0, 0, 1}}};
    uint8_t keep[NB * NB];
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        memset(keep, 7, sizeof keep);
        est_xattention_cut(s, NB, CASES[c].tau, keep);
        CHECK(memcmp(keep + 4 * NB, CASES[c].want, NB) == 0, "est_xattention_cut tau %g: row 4 keeps %d%d%d%d%d", CASES[c].tau,
              keep[20], keep[21], keep[22], keep[23], keep[24]);
        int other = 0; /* rows 0 .. 3: blocks 0 and qb only; nothing above the diagonal */
        for (int qb = 0; qb < 4; qb++)
            for (int kb = 0; kb < NB; kb++) other += keep[qb * NB + kb] != (kb == 0 || kb == qb);
        CHECK(other == 0, "est_xattention_cut tau %g: %d wrong entries in rows 0-3", CASES[c].tau, other);
    }
}

static void check_plan_builders(void) {
    enum { N = 130 };
    uint8_t sel[2 * N] = {0};
    sel[0] = sel[100] = 1;         /* columns */
    sel[N + 0] = sel[N + 3] = 1;   /* diagonals */
    uint64_t bits[3] = {0, 1, 0};  /* nb = 3, one word per query block: block (1, 0) */
    maskplan *p = maskplan_new();
    est_set_patterns(p, N, sel);
    maskplan_set_blocks_bits(p, 3, 3, bits);
    CHECK(maskplan_kept_pairs(p, N) == 4442, "est_set_patterns / maskplan_set_blocks_bits: %lld kept pairs, 4442 by hand",
          (long long)maskplan_kept_pairs(p, N));
    maskplan_free(p);
}

int main(void) {
    check_plan_builders();
    check_xattention_cut();
    static const int NS[] = {37, 64, 65, 100, 129, 200, 300};
    static const int GQA[][2] = {{3, 3}, {3, 1}, {7, 1}};
    enum { N_N = sizeof NS / sizeof NS[0], N_G = 3, N_BLOCKY = 3, N_IN = N_N * N_G + N_BLOCKY };
    input in[N_IN];
    for (int a = 0; a < N_N; a++)
        for (int g = 0; g < N_G; g++) in[a * N_G + g] = make_input(NS[a], GQA[g][0], GQA[g][1], 64, (a + g) % 2);
    for (int b = 0; b < N_BLOCKY; b++) /* block-structured inputs, made after the others (same rng stream for those) */
        in[N_N * N_G + b] = make_input(NS[4 + b], GQA[b][0], GQA[b][1], 64, 2);
    const int threads = omp_get_max_threads();
    int stats[N_INSTANCES][3];
    memset(stats, 0, sizeof stats);
    for (int t = 0; t < N_INSTANCES; t++) {
        const instance *ins = &INSTANCES[t];
        const spec sp = spec_of(ins);
        uint64_t hash[N_IN][8], again[8];
        method m3, m7;
        make_method(ins->json, 3, &m3);
        make_method(ins->json, 7, &m7);
        for (int c = 0; c < N_IN; c++) run_case(ins, &sp, in[c].H == 3 ? &m3 : &m7, &in[c], c % N_LAYERS, hash[c], stats[t]);
        /* again, one thread, in reverse order, after everything above ran: the same plans */
        omp_set_num_threads(1);
        for (int c = N_IN - 1; c >= 0; c--) {
            run_case(ins, &sp, in[c].H == 3 ? &m3 : &m7, &in[c], c % N_LAYERS, again, NULL);
            CHECK(memcmp(again, hash[c], sizeof(uint64_t) * in[c].H) == 0, "%s %s n=%d: plans differ on a second run",
                  kind_names[ins->kind], ins->json, in[c].n);
        }
        omp_set_num_threads(threads);
        method_free(&m3);
        method_free(&m7);
        printf("  %-11s %-120s outcomes %d/%d/%d\n", kind_names[ins->kind], ins->json, stats[t][0], stats[t][1],
               stats[t][2]);
    }
    /* every branch was exercised: flexprefill dense / vertical-slash / query-aware, dam_online
     * patterns alone / gate / dense */
    int fl[3] = {0, 0, 0}, dm[3] = {0, 0, 0};
    for (int t = 0; t < N_INSTANCES; t++)
        for (int c = 0; c < 3; c++) {
            if (INSTANCES[t].kind == FLEX) fl[c] += stats[t][c];
            if (INSTANCES[t].kind == DAMO) dm[c] += stats[t][c];
        }
    CHECK(fl[0] > 0 && fl[1] > 0 && fl[2] > 0, "flexprefill branches dense %d, vertical-slash %d, query-aware %d", fl[0],
          fl[1], fl[2]);
    CHECK(dm[0] > 0 && dm[1] > 0 && dm[2] > 0, "dam_online outcomes patterns-only %d, gated %d, dense %d", dm[0], dm[1],
          dm[2]);
    /* soft plans added down-weighted pairs and dropped others below w_min */
    CHECK(soft_extra_pairs > 0 && soft_dropped_pairs > 0 && soft_min_w < 0.9,
          "dam_online soft: %ld extra pairs (smallest w %g), %ld dropped", soft_extra_pairs, soft_min_w, soft_dropped_pairs);
    printf("  dam_online soft: %ld pairs kept beyond the hard plans (smallest w %.3g), %ld dropped (w < w_min)\n",
           soft_extra_pairs, soft_min_w, soft_dropped_pairs);
    for (int i = 0; i < N_IN; i++) free_input(&in[i]);

    /* est_exp_shifted against libm's exp over the softmax range, and 0 below e^-708 */
    {
        enum { M = 4000 };
        double x[M], want[M], worst = 0;
        for (int i = 0; i < M; i++) {
            x[i] = 2.5 + (i < 3000 ? -745.0 * i / 2999.0 : -(double)(next_u64() >> 11) / (double)(1ull << 53) * (i % 2 ? 40 : 1e-6));
            want[i] = exp(x[i] - 2.5);
        }
        est_exp_shifted(x, M, 2.5);
        for (int i = 0; i < M; i++) {
            const double y = log(want[i]);
            if (y >= -708.0) worst = fmax(worst, fabs(x[i] - want[i]) / want[i]);
            else CHECK(x[i] == 0 || fabs(x[i] - want[i]) < 1e-300, "est_exp_shifted below e^-708: %g vs %g", x[i], want[i]);
        }
        CHECK(worst < 2e-15, "est_exp_shifted relative error %g", worst);
    }

    /* est_top_k = the head of est_order_desc, ties (many equal scores) included */
    for (int trial = 0; trial < 300; trial++) {
        const int m = 1 + irand(200), k = irand(m + 1), levels = 1 + irand(8);
        double *sc = malloc(sizeof(double) * m);
        int32_t *ord = malloc(sizeof(int32_t) * m), *top = malloc(sizeof(int32_t) * (m + 1));
        for (int i = 0; i < m; i++) sc[i] = irand(levels) == 0 ? INFINITY : (double)irand(levels);
        est_order_desc(sc, m, ord);
        est_top_k(sc, m, k, top);
        CHECK(memcmp(ord, top, sizeof(int32_t) * k) == 0, "est_top_k(m=%d, k=%d) differs from the sorted order", m, k);
        for (int i = 1; i < m; i++)
            CHECK(sc[ord[i - 1]] > sc[ord[i]] || (sc[ord[i - 1]] == sc[ord[i]] && ord[i - 1] < ord[i]),
                  "est_order_desc order at %d", i);
        free(sc), free(ord), free(top);
    }

    /* input errors: exit status 2 */
    static const char *const bad[] = {
        "{\"method\": \"dam_online\", \"mask_mode\": \"fuzzy\"}",
        "{\"method\": \"dam_online\", \"w_min\": 0.01}",
        "{\"method\": \"dam_online\", \"mask_mode\": \"hard\", \"w_min\": 0.01}",
        "{\"method\": \"dam_online\", \"mask_mode\": \"soft\", \"w_min\": 0}",
        "{\"method\": \"dam_online\", \"mask_mode\": \"soft\", \"w_min\": 1.5}",
        "{\"method\": \"dam_online\", \"coverage\": 1.5}",
        "{\"method\": \"xattention\", \"stride\": 3}",
        "{\"method\": \"xattention\", \"stride\": [8, 24]}",
        "{\"method\": \"xattention\", \"threshold\": 0}",
        "{\"method\": \"minference\", \"vertical\": 10}",
        "{\"method\": \"minference\", \"vertical_size\": [[8, 8], [8, 8]]}",
        "{\"method\": \"flexprefill\", \"gamma\": 1.5}",
        "{\"method\": \"flexprefill\", \"min_budget\": 1.5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(parse_status(bad[i]) == 2, "%s should be refused with status 2", bad[i]);
    CHECK(parse_status("{\"method\": \"xattention\", \"stride\": [[4, 8, 16], [32, 64, 2]]}") == 0,
          "per-layer x head strides that divide 64 are accepted");
    CHECK(parse_status("{\"method\": \"dam_online\", \"mask_mode\": \"soft\", \"w_min\": 1}") == 0,
          "mask_mode soft with w_min 1 is accepted");
    return test_done("dynamic");
}
