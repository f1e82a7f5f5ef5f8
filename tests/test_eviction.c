/* test_eviction.c — decode-time KV eviction (harness/kv_evict.h, driven through the attention
 * context's hook harness/attn_ctx.h exactly as llama_forward drives it): `h2o` (baselines/h2o.c)
 * and `dam` with evict_kv (dam/evict.h), against references written here from the definitions.
 *
 * h2o: random queries, keys and values on a 1/2 grid (every q·k exact in fp32, so the method's
 *   fp32 dot products and the float64 reference agree on the logits), 2 layers, head_dim 16,
 *   prompts of 37 .. 200 tokens prefilled in chunks (one case with a step that holds the prompt's
 *   last rows and the first decode rows), GQA groups 1, 3 and 7, budgets in tokens and as
 *   fractions, some duplicated keys, and cases where a sink key takes every row's whole mass so
 *   that every other key scores exactly 0 (ties decide the heavy hitters). The reference keeps, per (layer, KV head),
 *   a held flag and a float64 score per key: every row adds the softmax probabilities (libm exp)
 *   of every query head of the group over the keys it attended; after the prompt and after every
 *   later row it keeps the `recent` latest keys and, among the other held keys, the `heavy` best
 *   by repeated arg-max (ties to the lower position). Checks: the held sets after the prompt and
 *   after every decode row are equal; prompt and decode outputs equal a float64 brute force that
 *   gives evicted keys −inf (and the test overwrites the cache entries of evicted keys with a huge
 *   key and value, which would dominate any row that gave them a non-zero probability); after a
 *   rewind to the
 *   prompt, a 3-row step reproduces the reference (the run's teacher forcing).
 * dam evict_kv: a hand-made pattern set (L = 8; 6 query heads in 2 GQA groups of 3, each head its
 *   own R, C and a few true-mask bits), written as a pattern file and loaded by the real `dam`
 *   method. Checks: the held sets at several positions equal the hand-computed union rule
 *   (literal sets, worked out in the comments) and, at every position, a brute force over the
 *   extended masks (a key is held iff some head of the group keeps it from some later row);
 *   decode outputs equal those of the same `dam` without eviction (1e-6), with the evicted keys'
 *   cache entries poisoned in the evicting run.
 * kv_bytes: hand-computed for tiny cases (dam, h2o, a method that does not evict).
 * Config errors: heavy with heavy_frac, budgets that differ inside a GQA group (exit 2).
 * Run: make build/tests/test_eviction && build/tests/test_eviction */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/mem.h"
#include "dam/patterns.h"
#include "harness/attn_ctx.h"
#include "harness/method.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) { /* xorshift64* */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static int irand(int n) { return (int)((next_u64() >> 33) % (uint64_t)n); }
static float grid(int lo, int hi) { return 0.5f * (float)(lo + irand(hi - lo + 1)); } /* multiples of 1/2 */

/* ---- a fake model and the data of one sequence ------------------------------------------------ */

typedef struct {
    int L, H, Hkv, d, n_total, qs;
    float *q;          /* [L][n_total][qs] queries (head h at h * d) */
    float *kall, *vall; /* [L][Hkv][n_total][d] every key and value of the sequence */
    float *k, *v;      /* [L][Hkv][n_total][d] the cache as the forward fills it (NaN until written) */
} world;

static world make_world(int L, int H, int Hkv, int d, int n_total) {
    world w = {L, H, Hkv, d, n_total, H * d + 3, NULL, NULL, NULL, NULL, NULL};
    const size_t nq = (size_t)L * n_total * w.qs, nk = (size_t)L * Hkv * n_total * d;
    w.q = malloc(sizeof(float) * nq);
    w.kall = malloc(sizeof(float) * nk);
    w.vall = malloc(sizeof(float) * nk);
    w.k = malloc(sizeof(float) * nk);
    w.v = malloc(sizeof(float) * nk);
    for (size_t i = 0; i < nq; i++) w.q[i] = grid(-2, 2);
    for (size_t i = 0; i < nk; i++) w.kall[i] = grid(-2, 2), w.vall[i] = grid(-2, 2);
    for (size_t i = 0; i < nk; i++) w.k[i] = w.v[i] = NAN;
    return w;
}

static void free_world(world *w) { free(w->q); free(w->kall); free(w->vall); free(w->k); free(w->v); }

static size_t kv_at(const world *w, int l, int g, int j) { return (((size_t)l * w->Hkv + g) * w->n_total + j) * w->d; }
static const float *qat(const world *w, int l, int p, int h) { return w->q + ((size_t)l * w->n_total + p) * w->qs + (size_t)h * w->d; }

/* Every layer global (full causal attention), as in llama; tests mark sliding-window layers. */
static llama_layer FAKE_LAYERS[16];

static llama_model fake_model(const world *w) {
    llama_model m;
    memset(&m, 0, sizeof m);
    if (w->L > 16) { fprintf(stderr, "fake_model: %d layers > 16\n", w->L); exit(1); }
    for (int l = 0; l < 16; l++) FAKE_LAYERS[l] = (llama_layer){.global = true};
    m.layers = FAKE_LAYERS;
    m.cfg.n_layers = w->L;
    m.cfg.n_heads = w->H;
    m.cfg.n_kv_heads = w->Hkv;
    m.cfg.head_dim = w->d;
    memset(m.sha256, 'a', 64);
    return m;
}

/* One forward step of rows p0 .. p0 + nq − 1 through the hook, layer by layer: writes the step's
 * keys and values into the cache first (as llama_forward does), outputs into out [nq][L][H·d]. */
static void step(attn_ctx *c, world *w, int p0, int nq, float *out) {
    const int os = w->L * w->H * w->d;
    for (int l = 0; l < w->L; l++) {
        for (int g = 0; g < w->Hkv; g++)
            for (int p = p0; p < p0 + nq; p++) {
                memcpy(w->k + kv_at(w, l, g, p), w->kall + kv_at(w, l, g, p), sizeof(float) * w->d);
                memcpy(w->v + kv_at(w, l, g, p), w->vall + kv_at(w, l, g, p), sizeof(float) * w->d);
            }
        if (!c->model->layers[l].global) continue; /* llama_forward never calls the hook there */
        attn_ctx_fn(c, l, out + (size_t)l * w->H * w->d, os, qat(w, l, p0, 0), w->qs, nq, w->k + kv_at(w, l, 0, 0),
                    w->v + kv_at(w, l, 0, 0), w->n_total, p0 + nq);
    }
}

static void make_method(const char *text, const llama_model *model, method *m) {
    json_error_t err;
    json_t *obj = json_loads(text, 0, &err), *res = json_object();
    if (!obj) {
        fprintf(stderr, "bad test JSON %s: %s\n", text, err.text);
        exit(1);
    }
    cfg_obj c = {"test", "methods[0]", obj, res};
    method_parse(&c, m);
    method_prepare(m, model);
    json_decref(obj);
    json_decref(res);
}

/* float64 attention of query (l, h) at row p over the keys with att[j] != 0 (j <= p): writes the
 * probabilities into P[0 .. p] (0 where not attended) and the output into o[d]. */
static void ref_attend(const world *w, int l, int h, int p, const uint8_t *att, double *P, double *o) {
    const int d = w->d, g = h / (w->H / w->Hkv);
    const float *q = qat(w, l, p, h);
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j <= p; j++) {
        if (!att[j]) { P[j] = -INFINITY; continue; }
        double s = 0;
        for (int c = 0; c < d; c++) s += (double)q[c] * w->kall[kv_at(w, l, g, j) + c];
        P[j] = s * (1.0 / sqrt((double)d));
        mx = fmax(mx, P[j]);
    }
    for (int j = 0; j <= p; j++) P[j] = att[j] ? exp(P[j] - mx) : 0, sum += P[j];
    for (int c = 0; c < d; c++) o[c] = 0;
    for (int j = 0; j <= p; j++) {
        P[j] /= sum;
        for (int c = 0; c < d; c++) o[c] += P[j] * w->vall[kv_at(w, l, g, j) + c];
    }
}

/* Compares the hook's output of row t of a step with the reference output o of (l, h). */
static int out_close(const world *w, const float *out, int t, int l, int h, const double *o, double tol) {
    const float *r = out + (size_t)t * w->L * w->H * w->d + (size_t)l * w->H * w->d + (size_t)h * w->d;
    for (int c = 0; c < w->d; c++)
        if (!(fabs(r[c] - o[c]) <= tol * (1 + fabs(o[c])))) return 0;
    return 1;
}

/* ---- h2o ------------------------------------------------------------------------------------ */

/* The float64 reference state: held[l][g][j], score[l][g][j]. */
typedef struct {
    int L, Hkv, n_total;
    uint8_t *held;
    double *score;
} ref_state;

static ref_state ref_new(const world *w) {
    ref_state r = {w->L, w->Hkv, w->n_total, malloc((size_t)w->L * w->Hkv * w->n_total),
                   calloc((size_t)w->L * w->Hkv * w->n_total, sizeof(double))};
    memset(r.held, 1, (size_t)w->L * w->Hkv * w->n_total);
    return r;
}
static ref_state ref_copy(const ref_state *a) {
    ref_state r = *a;
    const size_t n = (size_t)a->L * a->Hkv * a->n_total;
    r.held = malloc(n);
    r.score = malloc(n * sizeof(double));
    memcpy(r.held, a->held, n);
    memcpy(r.score, a->score, n * sizeof(double));
    return r;
}
static void ref_free(ref_state *r) { free(r->held); free(r->score); }
static uint8_t *rheld(ref_state *r, int l, int g) { return r->held + ((size_t)l * r->Hkv + g) * r->n_total; }
static double *rscore(ref_state *r, int l, int g) { return r->score + ((size_t)l * r->Hkv + g) * r->n_total; }

/* H2O's rule after row pos: keep keys pos − recent < j <= pos and the `heavy` best other held keys
 * (repeated arg-max, ties to the lower position); evict the rest. */
static void ref_h2o_evict(ref_state *r, int l, int g, int pos, int heavy, int recent) {
    uint8_t *held = rheld(r, l, g);
    const double *sc = rscore(r, l, g);
    const int w0 = pos - recent + 1;
    uint8_t *keep = calloc((size_t)r->n_total, 1);
    for (int t = 0; t < heavy; t++) {
        int best = -1;
        for (int j = 0; j < w0 && j <= pos; j++)
            if (held[j] && !keep[j] && (best < 0 || sc[j] > sc[best])) best = j;
        if (best < 0) break;
        keep[best] = 1;
    }
    for (int j = 0; j < w0 && j <= pos; j++)
        if (!keep[j]) held[j] = 0;
    free(keep);
}

/* Row p of every (layer, head) under the reference state: attends held keys < p plus p, checks the
 * hook's output (row t of out), adds the probabilities to the scores. Returns mismatching heads. */
static int ref_row(ref_state *r, const world *w, int p, const float *out, int t, bool check) {
    const int group = w->H / w->Hkv;
    uint8_t *att = malloc((size_t)p + 1);
    double *P = malloc(sizeof(double) * ((size_t)p + 1)), o[64];
    int bad = 0;
    for (int l = 0; l < w->L; l++)
        for (int h = 0; h < w->H; h++) {
            const uint8_t *held = rheld(r, l, h / group);
            for (int j = 0; j <= p; j++) att[j] = held[j] || j == p;
            ref_attend(w, l, h, p, att, P, o);
            if (check && !out_close(w, out, t, l, h, o, 2e-5)) bad++;
            double *sc = rscore(r, l, h / group);
            for (int j = 0; j <= p; j++) sc[j] += P[j];
        }
    free(P);
    free(att);
    return bad;
}

/* The cache entries of keys the reference has evicted are poisoned: a key of POISON in every
 * component would take all of a row's softmax mass, and its value would dominate the output, unless
 * the key gets probability exactly 0. (Finite, not NaN: the masked kernel may load an evicted entry
 * that shares a 64-key block with kept ones and multiply it by probability 0; see kv_evict.h.) */
#define POISON 1e4f
static void poison_evicted(world *w, ref_state *r, int upto) {
    for (int l = 0; l < w->L; l++)
        for (int g = 0; g < w->Hkv; g++)
            for (int j = 0; j < upto; j++)
                if (!rheld(r, l, g)[j])
                    for (int c = 0; c < w->d; c++) w->k[kv_at(w, l, g, j) + c] = w->v[kv_at(w, l, g, j) + c] = POISON;
}

/* Held sets of the context equal the reference's for keys 0 .. upto − 1; returns the first
 * mismatch as (l, g, j) in *where or -1. */
static int held_equal(const attn_ctx *c, ref_state *r, int upto, int *where) {
    for (int l = 0; l < r->L; l++)
        for (int g = 0; g < r->Hkv; g++)
            for (int j = 0; j < upto; j++)
                if (kv_evict_is_held(c->ev, l, g, j) != (bool)rheld(r, l, g)[j]) {
                    where[0] = l, where[1] = g, where[2] = j;
                    return 0;
                }
    return 1;
}

typedef struct {
    int n, H, Hkv, chunk, straddle, dups;
    int sink; /* key 0 takes every row's whole mass: every other key scores exactly 0 (ties everywhere) */
    const char *json; /* method config */
    int heavy, recent; /* the budgets the config gives for this n */
} h2o_case;

static void test_h2o_case(const h2o_case *hc) {
    const int n_dec = 12, n_total = hc->n + n_dec + 1, d = 16;
    world w = make_world(2, hc->H, hc->Hkv, d, n_total);
    if (hc->dups) /* keys 3, 5, 9 and 11 equal: equal logits in every row (not equal scores: causality) */
        for (int l = 0; l < w.L; l++)
            for (int g = 0; g < w.Hkv; g++)
                for (int t = 0; t < 3; t++)
                    memcpy(w.kall + kv_at(&w, l, g, (int[]){5, 9, 11}[t]), w.kall + kv_at(&w, l, g, 3), sizeof(float) * d);
    if (hc->sink) /* q·k_0 / 4 = 1000 more than any other logit: e^-1000 is 0 in float64 */
        for (int l = 0; l < w.L; l++) {
            for (int g = 0; g < w.Hkv; g++) w.kall[kv_at(&w, l, g, 0)] = 4000.0f;
            for (int p = 0; p < n_total; p++)
                for (int h = 0; h < w.H; h++) w.q[((size_t)l * n_total + p) * w.qs + (size_t)h * d] = 1.0f;
        }
    llama_model model = fake_model(&w);
    method m;
    make_method(hc->json, &model, &m);
    CHECK(method_evicts(&m) == EVICT_SCORED, "h2o evicts with scores");
    attn_ctx c;
    attn_ctx_init(&c, &model, &m);
    attn_ctx_prepare(&c, hc->n, n_total, false);
    CHECK(c.ev != NULL, "h2o has an eviction state");
    const int os = w.L * w.H * w.d;
    float *out = malloc(sizeof(float) * (size_t)n_total * os);
    ref_state r = ref_new(&w);
    char what[160];
    snprintf(what, sizeof what, "h2o %s n=%d H=%d/%d chunk %d%s%s%s", hc->json, hc->n, hc->H, hc->Hkv, hc->chunk,
             hc->straddle ? " straddle" : "", hc->dups ? " dups" : "", hc->sink ? " sink" : "");
    const int group = hc->H / hc->Hkv;

    /* prefill (the straddle case: one step holds the prompt's last 3 rows and the first 2 decode rows) */
    const int pre_end = hc->straddle ? hc->n + 2 : hc->n;
    int bad_out = 0;
    ref_state snap = {0, 0, 0, NULL, NULL}; /* the reference right after the prompt */
    for (int p0 = 0, nq; p0 < pre_end; p0 += nq) {
        nq = p0 + hc->chunk < pre_end ? hc->chunk : pre_end - p0;
        if (hc->straddle && p0 < hc->n - 3 && p0 + nq > hc->n - 3) nq = hc->n - 3 - p0;
        if (hc->straddle && p0 == hc->n - 3) nq = 5;
        step(&c, &w, p0, nq, out);
        for (int t = 0; t < nq; t++) {
            const int p = p0 + t;
            bad_out += ref_row(&r, &w, p, out, t, true);
            if (p >= hc->n - 1)
                for (int l = 0; l < w.L; l++)
                    for (int g = 0; g < w.Hkv; g++) ref_h2o_evict(&r, l, g, p, hc->heavy, hc->recent);
            if (p == hc->n - 1) snap = ref_copy(&r);
            if (p == hc->n - 1 && !hc->straddle) {
                int where[3] = {-1, -1, -1};
                CHECK(held_equal(&c, &r, hc->n, where), "%s: held after the prompt differs at layer %d KV head %d key %d",
                      what, where[0], where[1], where[2]);
            }
        }
    }
    CHECK(bad_out == 0, "%s: %d prompt (row, head) outputs differ from float64", what, bad_out);
    /* decode rows one at a time, evicted entries poisoned */
    int bad_held = 0, bad_dec = 0;
    for (int p = pre_end; p < hc->n + n_dec; p++) {
        poison_evicted(&w, &r, p);
        step(&c, &w, p, 1, out);
        bad_dec += ref_row(&r, &w, p, out, 0, true);
        for (int l = 0; l < w.L; l++)
            for (int g = 0; g < w.Hkv; g++) ref_h2o_evict(&r, l, g, p, hc->heavy, hc->recent);
        int where[3];
        if (!held_equal(&c, &r, p + 1, where) && bad_held++ == 0)
            CHECK(0, "%s: held after row %d differs at layer %d KV head %d key %d (method %d)", what, p, where[0], where[1],
                  where[2], kv_evict_is_held(c.ev, where[0], where[1], where[2]));
    }
    CHECK(bad_held == 0, "%s: %d decode rows with a different held set", what, bad_held);
    CHECK(bad_dec == 0, "%s: %d decode (row, head) outputs differ from float64 with evicted keys at -inf", what, bad_dec);
    /* the budget holds: at most heavy + recent keys after each row */
    int over = 0;
    for (int l = 0; l < w.L; l++)
        for (int g = 0; g < w.Hkv; g++) over += kv_evict_held_count(c.ev, l, g, hc->n + n_dec) > (int64_t)hc->heavy + hc->recent;
    CHECK(over == 0, "%s: more than heavy + recent keys held", what);

    /* rewind to the prompt and redo 3 rows in one step (teacher forcing) */
    attn_ctx_rewind_to_prompt(&c);
    memcpy(w.k, w.kall, sizeof(float) * (size_t)w.L * w.Hkv * n_total * d);
    memcpy(w.v, w.vall, sizeof(float) * (size_t)w.L * w.Hkv * n_total * d);
    poison_evicted(&w, &snap, hc->n);
    int where[3] = {-1, -1, -1};
    CHECK(held_equal(&c, &snap, hc->n + n_dec, where), "%s: held after the rewind differs at layer %d KV head %d key %d",
          what, where[0], where[1], where[2]);
    step(&c, &w, hc->n, 3, out);
    int bad_tf = 0;
    for (int t = 0; t < 3; t++) {
        bad_tf += ref_row(&snap, &w, hc->n + t, out, t, true);
        for (int l = 0; l < w.L; l++)
            for (int g = 0; g < w.Hkv; g++) ref_h2o_evict(&snap, l, g, hc->n + t, hc->heavy, hc->recent);
    }
    CHECK(bad_tf == 0, "%s: %d teacher-forced (row, head) outputs differ after the rewind", what, bad_tf);
    CHECK(held_equal(&c, &snap, hc->n + 3, where), "%s: held after the 3-row step differs at layer %d KV head %d key %d",
          what, where[0], where[1], where[2]);
    /* scores as the reference's (float64, up to summation order) */
    double worst = 0;
    for (int l = 0; l < w.L; l++)
        for (int g = 0; g < w.Hkv; g++)
            for (int j = 0; j < hc->n + 3; j++)
                if (rheld(&snap, l, g)[j])
                    worst = fmax(worst, fabs(kv_evict_score(c.ev, l, g, j) - rscore(&snap, l, g)[j]) /
                                            fmax(1.0, rscore(&snap, l, g)[j]));
    CHECK(worst < 1e-12, "%s: scores differ from the reference by %.3g (group %d)", what, worst, group);
    ref_free(&snap);
    ref_free(&r);
    free(out);
    attn_ctx_free(&c);
    method_free(&m);
    free_world(&w);
}

static void test_h2o(void) {
    static const int NS[] = {37, 64, 100, 129, 200};
    static const int GQA[][2] = {{2, 2}, {3, 1}, {7, 1}, {6, 2}};
    static const struct { const char *json; int heavy, recent; double fh, fr; } BUD[] = {
        {"{\"method\": \"h2o\", \"heavy\": 8, \"recent\": 5}", 8, 5, -1, -1},
        {"{\"method\": \"h2o\", \"heavy\": 0, \"recent\": 10}", 0, 10, -1, -1},
        {"{\"method\": \"h2o\", \"heavy\": 20, \"recent\": 0}", 20, 0, -1, -1},
        {"{\"method\": \"h2o\", \"heavy\": 3, \"recent\": 1}", 3, 1, -1, -1},
        {"{\"method\": \"h2o\"}", -1, -1, 0.1, 0.1}, /* the defaults: floor(0.1 n) each */
        {"{\"method\": \"h2o\", \"heavy_frac\": 0.25, \"recent\": 4}", -1, 4, 0.25, -1},
        {"{\"method\": \"h2o\", \"heavy\": 1000, \"recent\": 1000}", 1000, 1000, -1, -1}, /* evicts nothing */
    };
    enum { N_B = sizeof BUD / sizeof BUD[0] };
    int cases = 0;
    for (int a = 0; a < 5; a++)
        for (int g = 0; g < 4; g++) {
            const int b = (a * 4 + g) % N_B, n = NS[a];
            h2o_case hc = {n, GQA[g][0], GQA[g][1], (a + g) % 3 == 0 ? n : 16 + 11 * g, (a + g) % 5 == 2, (a + g) % 2, 0,
                           BUD[b].json, BUD[b].heavy >= 0 ? BUD[b].heavy : (int)floor(BUD[b].fh * n),
                           BUD[b].recent >= 0 ? BUD[b].recent : (int)floor(BUD[b].fr * n)};
            test_h2o_case(&hc);
            cases++;
        }
    /* every budget with GQA 3 on one length as well */
    for (int b = 0; b < N_B; b++) {
        h2o_case hc = {77, 3, 1, 32, b == 3, 1, 0, BUD[b].json, BUD[b].heavy >= 0 ? BUD[b].heavy : (int)floor(BUD[b].fh * 77),
                       BUD[b].recent >= 0 ? BUD[b].recent : (int)floor(BUD[b].fr * 77)};
        test_h2o_case(&hc);
        cases++;
    }
    /* exact ties: a sink takes all the mass, the heavy hitters after it are the lowest positions */
    for (int b = 0; b < N_B; b++) {
        h2o_case hc = {50 + 7 * b, b % 2 ? 2 : 3, b % 2 ? 2 : 1, 24, b == 2, 0, 1, BUD[b].json,
                       BUD[b].heavy >= 0 ? BUD[b].heavy : (int)floor(BUD[b].fh * (50 + 7 * b)),
                       BUD[b].recent >= 0 ? BUD[b].recent : (int)floor(BUD[b].fr * (50 + 7 * b))};
        test_h2o_case(&hc);
        cases++;
    }
    printf("  h2o: %d cases\n", cases);
}

/* ---- dam evict_kv ---------------------------------------------------------------------------- */

enum { DL = 8, DH = 6, DHKV = 2, DD = 8 };

/* The hand-made pattern set: per query head R, C and true-mask bits (i, j) (the main diagonal is
 * added by Stage 2). Group 0 = heads 0-2 (KV head 0), group 1 = heads 3-5 (KV head 1). */
static const struct {
    int nr, r[3], nc, c[3], nb, bits[3][2];
} PAT[DH] = {
    {1, {2}, 1, {1}, 1, {{7, 3}}},           /* h0: R {2}, C {1}, bit (7, 3) */
    {1, {4}, 0, {0}, 2, {{6, 0}, {7, 5}}},   /* h1: R {4}, bits (6, 0), (7, 5) */
    {0, {0}, 1, {5}, 0, {{0, 0}}},           /* h2: C {5} */
    {0, {0}, 2, {0, 2}, 1, {{7, 4}}},        /* h3: C {0, 2}, bit (7, 4) */
    {1, {1}, 0, {0}, 0, {{0, 0}}},           /* h4: R {1} */
    {1, {3}, 1, {6}, 1, {{5, 1}}},           /* h5: R {3}, C {6}, bit (5, 1) */
};

/* The extended mask of head h (docs/dam-spec.md §2), from PAT directly. */
static int ext_kept(int h, int p, int j) {
    if (j > p || j < 0) return 0;
    if (p < DL && j < DL) {
        if (p == j) return 1;
        for (int b = 0; b < PAT[h].nb; b++)
            if (PAT[h].bits[b][0] == p && PAT[h].bits[b][1] == j) return 1;
        return 0;
    }
    if (p == j) return 1;
    for (int i = 0; i < PAT[h].nr; i++)
        if (p - j == PAT[h].r[i]) return 1;
    for (int i = 0; i < PAT[h].nc; i++)
        if (j == PAT[h].c[i]) return 1;
    return 0;
}

/* Brute force: some head of group g keeps key j from some row p' in (pos, pos + DL + 1] (enough:
 * a column is kept from row max(pos + 1, L) on, a diagonal r < L from row j + r). */
static int reachable(int g, int pos, int j) {
    for (int h = g * 3; h < g * 3 + 3; h++)
        for (int p = pos + 1; p <= pos + DL + 1; p++)
            if (ext_kept(h, p, j)) return 1;
    return 0;
}

static void write_patterns(const char *path) {
    dam_params par;
    dam_params_default(&par);
    par.L = DL;
    dam_patterns *ps = dam_patterns_new(1, DH, &par);
    for (int h = 0; h < DH; h++) {
        dam_head *hd = dam_patterns_head(ps, 0, h);
        dam_head_set_diags(hd, PAT[h].r, PAT[h].nr);
        dam_head_set_cols(hd, PAT[h].c, PAT[h].nc);
        const int words = (DL + 63) / 64;
        for (int b = 0; b < PAT[h].nb; b++) hd->mask[PAT[h].bits[b][0] * words] |= 1ull << PAT[h].bits[b][1];
        hd->density = PAT[h].nb / (DL * (DL + 1) / 2.0);
    }
    dam_patterns_set_str(&ps->model_name, "hand-made");
    memset(ps->model_sha256, 'a', 64);
    dam_patterns_set_str(&ps->corpus, "data/jargon.txt.gz");
    memset(ps->corpus_sha256, 'b', 64);
    ps->corpus_tokens = 1000;
    dam_patterns_set_str(&ps->prefix, "none");
    ps->n_sequences = 16;
    dam_patterns_write(ps, path);
    dam_patterns_free(ps);
}

/* Held set of KV head g as a bit mask over keys 0 .. 63. */
static uint64_t held_bits(const attn_ctx *c, int g, int upto) {
    uint64_t b = 0;
    for (int j = 0; j < upto && j < 64; j++) b |= (uint64_t)kv_evict_is_held(c->ev, 0, g, j) << j;
    return b;
}
static uint64_t set_of(const int *v, int n) {
    uint64_t b = 0;
    for (int i = 0; i < n; i++) b |= 1ull << v[i];
    return b;
}

/* One sequence: prompt n (prefilled in chunks of `chunk`), decode rows n .. n + n_dec − 1 one at a
 * time, once with evict_kv and once without; literal expectations in want[] (pos, group, set). */
typedef struct {
    int pos, g, n;
    int keys[12];
} want_set;

static void test_dam_run(const char *pat, int n, int chunk, int n_dec, const want_set *want, int n_want) {
    const int n_total = n + n_dec + 1;
    world w = make_world(1, DH, DHKV, DD, n_total), w2 = make_world(1, DH, DHKV, DD, n_total);
    memcpy(w2.q, w.q, sizeof(float) * (size_t)n_total * w.qs);
    memcpy(w2.kall, w.kall, sizeof(float) * (size_t)DHKV * n_total * DD);
    memcpy(w2.vall, w.vall, sizeof(float) * (size_t)DHKV * n_total * DD);
    llama_model model = fake_model(&w);
    char js[512];
    method me, mp;
    snprintf(js, sizeof js, "{\"method\": \"dam\", \"name\": \"de\", \"patterns\": \"%s\", \"pcl\": %d, \"evict_kv\": true}", pat, DL);
    make_method(js, &model, &me);
    snprintf(js, sizeof js, "{\"method\": \"dam\", \"name\": \"dp\", \"patterns\": \"%s\", \"pcl\": %d}", pat, DL);
    make_method(js, &model, &mp);
    CHECK(method_evicts(&me) == EVICT_PLAIN && method_evicts(&mp) == EVICT_NONE, "evict_kv true / default false");
    attn_ctx ce, cp;
    attn_ctx_init(&ce, &model, &me);
    attn_ctx_init(&cp, &model, &mp);
    attn_ctx_prepare(&ce, n, n_total, false);
    attn_ctx_prepare(&cp, n, n_total, false);
    CHECK(ce.ev != NULL && cp.ev == NULL, "only evict_kv has an eviction state");
    const int os = DH * DD;
    float *oe = malloc(sizeof(float) * (size_t)n_total * os), *op = malloc(sizeof(float) * (size_t)n_total * os);
    for (int p0 = 0; p0 < n; p0 += chunk) {
        const int nq = p0 + chunk < n ? chunk : n - p0;
        step(&ce, &w, p0, nq, oe);
        step(&cp, &w2, p0, nq, op);
        CHECK(memcmp(oe, op, sizeof(float) * (size_t)nq * os) == 0, "dam n=%d: prompt rows %d.. differ with evict_kv", n, p0);
    }
    int bad_rule = 0, bad_out = 0, checked = 0;
    double worst = 0;
    for (int pos = n - 1; pos < n + n_dec; pos++) {
        if (pos >= n) {
            /* entries the method no longer holds are poisoned in the evicting run's cache */
            for (int g = 0; g < DHKV; g++)
                for (int j = 0; j < pos; j++)
                    if (!kv_evict_is_held(ce.ev, 0, g, j))
                        for (int c = 0; c < DD; c++) w.k[kv_at(&w, 0, g, j) + c] = w.v[kv_at(&w, 0, g, j) + c] = POISON;
            step(&ce, &w, pos, 1, oe);
            step(&cp, &w2, pos, 1, op);
            for (int x = 0; x < os; x++) {
                const double e = fabs((double)oe[x] - op[x]);
                if (!(e <= 1e-6)) bad_out++;
                worst = fmax(worst, isnan(e) ? INFINITY : e);
            }
        }
        for (int g = 0; g < DHKV; g++)
            for (int j = 0; j <= pos; j++)
                if (kv_evict_is_held(ce.ev, 0, g, j) != (bool)reachable(g, pos, j) && bad_rule++ == 0)
                    CHECK(0, "dam n=%d after row %d KV head %d key %d: held %d, reachable %d", n, pos, g, j,
                          kv_evict_is_held(ce.ev, 0, g, j), reachable(g, pos, j));
        for (int t = 0; t < n_want; t++)
            if (want[t].pos == pos) {
                const uint64_t got = held_bits(&ce, want[t].g, pos + 1), exp = set_of(want[t].keys, want[t].n);
                CHECK(got == exp, "dam n=%d after row %d KV head %d: held %#llx, hand-computed %#llx", n, pos, want[t].g,
                      (unsigned long long)got, (unsigned long long)exp);
                checked++;
            }
    }
    CHECK(bad_rule == 0, "dam n=%d: %d (row, key) held flags differ from the brute-force union rule", n, bad_rule);
    CHECK(bad_out == 0, "dam n=%d: %d decode outputs differ with evict_kv (worst %.3g)", n, bad_out, worst);
    CHECK(checked == n_want, "dam n=%d: %d of %d literal sets checked", n, checked, n_want);
    if (n == 6) { /* kv_bytes, hand-computed: after row 13 (n_past 14) KV head 0 holds {1, 5} and
                     j >= 14 − 4 = 10, KV head 1 {0, 2, 6} and j >= 14 − 3 = 11: 6 + 6 entries of K and V,
                     8 floats each: 12 · 2 · 8 · 4 = 768 bytes (without eviction 2 · 2 · 14 · 8 · 4) */
        llama_state st;
        memset(&st, 0, sizeof st);
        st.n_past = 14;
        st.kv_elem_bytes = 4; /* a CPU state: fp32 cache */
        CHECK(attn_ctx_kv_bytes(&ce, &st) == 768, "dam kv_bytes %zu, want 768", attn_ctx_kv_bytes(&ce, &st));
        CHECK(attn_ctx_kv_bytes(&cp, &st) == (size_t)2 * DHKV * 14 * DD * 4, "dam without eviction: kv_bytes %zu, want %d",
              attn_ctx_kv_bytes(&cp, &st), 2 * DHKV * 14 * DD * 4);
    }
    free(oe);
    free(op);
    attn_ctx_free(&ce);
    attn_ctx_free(&cp);
    method_free(&me);
    method_free(&mp);
    free_world(&w);
    free_world(&w2);
}

static void test_dam(const char *dir) {
    char pat[4096];
    snprintf(pat, sizeof pat, "%s/hand.h5", dir);
    write_patterns(pat);
    /* n = 6 < L: the bitmap region still matters for rows 6 and 7.
     * KV head 0 (h0 R{2} C{1} bit(7,3); h1 R{4} bits (6,0),(7,5); h2 C{5}): max R = 4, C = {1, 5}.
     *   pos 5: diagonals reach j >= max(6, 8) − 4 = 4; C {1, 5}; later bitmap rows: (6,0), (7,3), (7,5)
     *          → held {0, 1, 3, 4, 5} (2 evicted)
     *   pos 6: j >= 4; C; row 7: 3, 5 → {1, 3, 4, 5, 6}
     *   pos 7: j >= 4; C; no bitmap row left → {1, 4, 5, 6, 7}
     *   pos 8: j >= 9 − 4 = 5; C → {1, 5, 6, 7, 8}
     *   pos 10: j >= 7; C → {1, 5, 7, 8, 9, 10}
     * KV head 1 (h3 C{0,2} bit(7,4); h4 R{1}; h5 R{3} C{6} bit(5,1)): max R = 3, C = {0, 2, 6}.
     *   pos 5: j >= 8 − 3 = 5; C {0, 2}; row 7: 4 (row 5's bit is not later) → {0, 2, 4, 5}
     *   pos 6: j >= 5; C {0, 2, 6}; row 7: 4 → {0, 2, 4, 5, 6}
     *   pos 7: j >= 5 → {0, 2, 5, 6, 7}
     *   pos 8: j >= 6 → {0, 2, 6, 7, 8}
     *   pos 10: j >= 8 → {0, 2, 6, 8, 9, 10} */
    static const want_set W6[] = {
        {5, 0, 5, {0, 1, 3, 4, 5}},     {6, 0, 5, {1, 3, 4, 5, 6}},     {7, 0, 5, {1, 4, 5, 6, 7}},
        {8, 0, 5, {1, 5, 6, 7, 8}},     {10, 0, 6, {1, 5, 7, 8, 9, 10}}, {5, 1, 4, {0, 2, 4, 5}},
        {6, 1, 5, {0, 2, 4, 5, 6}},     {7, 1, 5, {0, 2, 5, 6, 7}},     {8, 1, 5, {0, 2, 6, 7, 8}},
        {10, 1, 6, {0, 2, 6, 8, 9, 10}},
    };
    test_dam_run(pat, 6, 4, 8, W6, sizeof W6 / sizeof W6[0]);
    /* n = 20 > L: pos 19: KV head 0 keeps j >= 20 − 4 = 16 and C {1, 5}; KV head 1 j >= 17 and {0, 2, 6};
     * pos 25: j >= 22 / j >= 23. */
    static const want_set W20[] = {
        {19, 0, 6, {1, 5, 16, 17, 18, 19}}, {19, 1, 6, {0, 2, 6, 17, 18, 19}},
        {25, 0, 6, {1, 5, 22, 23, 24, 25}}, {25, 1, 6, {0, 2, 6, 23, 24, 25}},
    };
    test_dam_run(pat, 20, 7, 10, W20, sizeof W20 / sizeof W20[0]);
    test_dam_run(pat, 61, 61, 70, NULL, 0); /* a longer run: the rule at every position */
    unlink(pat);
}

/* ---- kv_bytes and config errors ------------------------------------------------------------ */

static void test_kv_bytes(void) {
    /* h2o, 2 layers, 2 KV heads (MHA), head_dim 16, heavy 2 + recent 3, prompt 10: every
       (layer, KV head) holds 5 keys after the prompt and after each decode row: 2 · 2 · 5 entries
       of K and V, 16 floats each = 20 · 2 · 16 · 4 = 2560 bytes. Without eviction (heavy 100) the
       14 positions: 2 · 2 · 14 · 128 = 7168; `full` the same through llama_state_kv_bytes.
       Then layer 0 a sliding-window layer of 4 tokens (Gemma-3 style): it counts min(n_past, 4)
       positions per KV head whatever the method, gets no plan and NaN density; layer 1 as above.
       h2o: layer 1 2 · 5 + layer 0 2 · 4 = 18 entries · 128 B = 2304 B, the same after 4 decode
       rows. full: prompt 2 · 10 + 8 = 28 → 3584 B; at 14 positions 2 · 14 + 8 = 36 → 4608 B. */
    world w = make_world(2, 2, 2, 16, 16);
    llama_model model = fake_model(&w);
    const char *js[] = {"{\"method\": \"h2o\", \"heavy\": 2, \"recent\": 3}", "{\"method\": \"h2o\", \"heavy\": 100, \"recent\": 3}",
                        "{\"method\": \"full\"}"};
    const size_t want_prompt[2][3] = {{2560, 5120, 5120}, {2304, 3584, 3584}};
    const size_t want_end[2][3] = {{2560, 7168, 7168}, {2304, 4608, 4608}};
    for (int swa = 0; swa < 2; swa++) {
        FAKE_LAYERS[0] = swa ? (llama_layer){.global = false, .window = 4} : (llama_layer){.global = true};
        for (int i = 0; i < 3; i++) {
            method m;
            make_method(js[i], &model, &m);
            attn_ctx c;
            attn_ctx_init(&c, &model, &m);
            attn_ctx_prepare(&c, 10, 16, false);
            CHECK(!swa || (c.plans[0] == NULL && c.plans[1] == NULL), "%s: a sliding-window layer gets no plan", js[i]);
            float *out = malloc(sizeof(float) * 16 * 2 * 2 * 16);
            step(&c, &w, 0, 10, out);
            llama_state st;
            memset(&st, 0, sizeof st);
            st.n_past = 10;
            st.kv_elem_bytes = 4; /* a CPU state: fp32 cache */
            CHECK(attn_ctx_kv_bytes(&c, &st) == want_prompt[swa][i], "%s (sliding layer 0: %d): kv_bytes after the prompt %zu, want %zu",
                  js[i], swa, attn_ctx_kv_bytes(&c, &st), want_prompt[swa][i]);
            for (int p = 10; p < 14; p++) step(&c, &w, p, 1, out);
            st.n_past = 14;
            CHECK(attn_ctx_kv_bytes(&c, &st) == want_end[swa][i], "%s (sliding layer 0: %d): kv_bytes after 4 decode rows %zu, want %zu",
                  js[i], swa, attn_ctx_kv_bytes(&c, &st), want_end[swa][i]);
            if (swa) { /* density: NaN on the sliding layer, the mean over the global layer's heads */
                float dens[4];
                double mean = attn_ctx_collect(&c, NULL, dens);
                CHECK(isnan(dens[0]) && isnan(dens[1]) && !isnan(dens[2]) && mean == (dens[2] + dens[3]) / 2.0f,
                      "%s: density %g %g %g %g, mean %g", js[i], dens[0], dens[1], dens[2], dens[3], mean);
            }
            free(out);
            attn_ctx_free(&c);
            method_free(&m);
        }
    }
    FAKE_LAYERS[0] = (llama_layer){.global = true};
    free_world(&w);
}

/* Parses and prepares `text` for a model with H query heads over Hkv KV heads in a child; its exit status. */
static int parse_status(const char *text, int H, int Hkv) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(99);
        llama_model model;
        memset(&model, 0, sizeof model);
        model.cfg.n_layers = 2;
        model.cfg.n_heads = H;
        model.cfg.n_kv_heads = Hkv;
        model.cfg.head_dim = 16;
        method m;
        make_method(text, &model, &m);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_config(void) {
    CHECK(parse_status("{\"method\": \"h2o\", \"heavy\": 4, \"recent\": [[2, 2], [3, 3]]}", 2, 1) == 0, "group-wise budgets");
    CHECK(parse_status("{\"method\": \"h2o\", \"heavy\": 4, \"heavy_frac\": 0.1}", 2, 1) == 2, "heavy and heavy_frac");
    CHECK(parse_status("{\"method\": \"h2o\", \"recent\": 4, \"recent_frac\": 0.1}", 2, 1) == 2, "recent and recent_frac");
    CHECK(parse_status("{\"method\": \"h2o\", \"heavy\": [[2, 3], [2, 2]]}", 2, 1) == 2, "budgets differ inside a group");
    CHECK(parse_status("{\"method\": \"h2o\", \"heavy\": [[2, 3], [2, 2]]}", 2, 2) == 0, "per KV head budgets (MHA)");
    CHECK(parse_status("{\"method\": \"h2o\", \"heavy_frac\": 1.5}", 2, 1) == 2, "heavy_frac out of range");
    CHECK(parse_status("{\"method\": \"h2o\", \"recent\": -1}", 2, 1) == 2, "negative recent");
    CHECK(parse_status("{\"method\": \"h2o\", \"window\": 4}", 2, 1) == 2, "unknown key");
}

int main(void) {
    char dir[] = "/tmp/test_eviction.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_h2o();
    test_dam(dir);
    test_kv_bytes();
    test_config();
    rmdir(dir);
    return test_done("test_eviction");
}
