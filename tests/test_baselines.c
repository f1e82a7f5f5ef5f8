/* test_baselines.c — the static baselines sliding_window, dilated, bigbird, longformer and moa, and
 * the kernel-only full_eager, through the method interface (config JSON → method_parse →
 * method_prepare → method_plan), with per-layer and per-layer × head parameter values.
 * For every method, prompt lengths n in {1, 37, 63, 64, 65, 100, 129, 200, 511, 512, 513} (plans
 * valid up to n_total = n + 7 decode positions) and every (layer, head) of a fake 2-layer × 3-head
 * model: maskplan_kept over every (p, j), j <= p + 1, equals a dense boolean mask that this file
 * builds from the method's written definition (the header comment of its baselines/ file), never
 * from the plan code; maskplan_validate passes; the exact kept-pair count and density over the
 * prompt equal the reference count.
 * bigbird: same seed → identical plans, different seed / head / layer → different random blocks,
 * plans do not depend on earlier calls or on the prompt length (transformers#20031), random blocks
 * are distinct earlier non-window non-global blocks and roughly uniform.
 * moa: the shipped profile configs/moa_smollm2-135m.json parses and fits the default model
 * (30 layers × 9 heads); bad profiles (missing file, wrong shape, negative α, β > 1, malformed JSON,
 * unknown key) exit with status 2 and one stderr line naming the file (forked children).
 * Run from the checkout: make build/tests/test_baselines && build/tests/test_baselines */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baselines/moa.h"
#include "core/mem.h"
#include "core/rng.h"
#include "harness/method.h"
#include "method_util.h"
#include "test.h"

enum { NL = 2, NH = 3, B = 64 };
static const int NS[] = {1, 37, 63, 64, 65, 100, 129, 200, 511, 512, 513};
enum { N_NS = sizeof NS / sizeof NS[0], EXTRA = 7 };

static char tmpdir[256];

/* A configured and prepared method from one methods[] JSON object, for a fake L × H model. */
static void make_method(const char *json, method *m, int L, int H) { method_from_json(json, L, H, m); }

/* ---- references, written from each method's definition ---- */

typedef enum { SW, DIL, BB, LF, MOA } kind;

/* Per-(layer, head) values of the parameters used in the configs below. */
static const int SW_W[NL][NH] = {{1, 64, 100}, {5, 300, 600}};
static const int DIL_W[NL][NH] = {{1, 8, 40}, {300, 3, 17}};
static const int DIL_D[NL][NH] = {{3, 1, 7}, {2, 64, 5}};
static const int DIL_S[NL] = {0, 4}; /* per-layer list */
static const int BB_G[NL][NH] = {{1, 2, 0}, {2, 0, 1}};
static const int BB_W[NL][NH] = {{1, 3, 2}, {2, 1, 4}};
static const int BB_R[NL][NH] = {{3, 1, 0}, {2, 5, 3}};
static const int BB_SEED = 7;
static const int LF_W[NL][NH] = {{1, 32, 512}, {100, 7, 64}};
static const int LF_G[NL][NH] = {{0, 1, 4}, {70, 2, 0}};
static const int LF_T[NL][NH] = {{0, 1, 64}, {100, 200, 7}};
static bool lf_global_decode; /* the configured global_decode of the longformer under test */
static const double MOA_A[NL][NH] = {{0, 16, 100.5}, {0, 512, 3}};
static const double MOA_B[NL][NH] = {{0, 0.25, 0.1}, {1, 0, 0.5}};
static const int MOA_S[NL][NH] = {{0, 4, 64}, {1, 0, 7}};

/* BigBird's random blocks of query block qb (bigbird.c's definition): Floyd's sampling of
 * min(r, m) values from [0, m), m = max(0, qb − w − g + 1), from the generator seeded by
 * (seed, layer, head, qb); returns the count, blocks (g + value) in out. */
static int bb_random(uint64_t seed, int layer, int head, int qb, int g, int w, int r, int *out) {
    int m = qb - w - g + 1;
    if (m < 0) m = 0;
    const int k = r < m ? r : m;
    rng_t a = rng_seed(seed, (uint64_t)layer);
    rng_t b = rng_seed(rng_next(&a), (uint64_t)head);
    rng_t x = rng_seed(rng_next(&b), (uint64_t)qb);
    int got = 0;
    for (int i = m - k; i < m; i++) {
        int t = (int)rng_range(&x, 0, i), dup = 0;
        for (int u = 0; u < got; u++) dup |= out[u] == g + t;
        out[got++] = g + (dup ? i : t);
    }
    return got;
}

/* Dense reference mask of (kind, layer, head) for a prompt of n tokens over rows 0 .. nt − 1:
 * ref[p * nt + j]. */
static void reference(kind k, int l, int h, int n, int nt, unsigned char *ref) {
    memset(ref, 0, (size_t)nt * nt);
    for (int p = 0; p < nt; p++)
        for (int j = 0; j <= p; j++) {
            bool keep = false;
            switch (k) {
            case SW: keep = p - j < SW_W[l][h]; break;
            case DIL: {
                const int r = p - j;
                keep = j < DIL_S[l] || (r % DIL_D[l][h] == 0 && r / DIL_D[l][h] < DIL_W[l][h]);
                break;
            }
            case BB: {
                const int qb = p / B, kb = j / B;
                keep = kb < BB_G[l][h] || kb > qb - BB_W[l][h];
                int rnd[64], nr = bb_random(BB_SEED, l, h, qb, BB_G[l][h], BB_W[l][h], BB_R[l][h], rnd);
                for (int u = 0; u < nr; u++) keep |= rnd[u] == kb;
                break;
            }
            case LF: {
                keep = p - j < LF_W[l][h] || j < LF_G[l][h];
                if (LF_T[l][h] > 0) {
                    const int a = (n - LF_T[l][h] > 0 ? n - LF_T[l][h] : 0) / B * B, e = ((n - 1) / B + 1) * B;
                    keep |= p >= a && p < e; /* the tail rows attend everything before them */
                    if (lf_global_decode)
                        keep |= p >= e; /* and so do the generated rows */
                    else
                        keep |= p >= e && j >= a && j < n; /* or these attend the tail tokens */
                }
                break;
            }
            case MOA: {
                double w = floor(MOA_A[l][h] + MOA_B[l][h] * n);
                if (w < 1) w = 1;
                keep = j < MOA_S[l][h] || p - j < w;
                break;
            }
            }
            ref[(size_t)p * nt + j] = keep;
        }
}

/* Plans of m against the reference of kind k for every n, layer and head. */
static void check_method(const char *label, kind k, const method *m) {
    int bad_cells = 0, bad_count = 0, bad_valid = 0;
    for (int ni = 0; ni < N_NS; ni++) {
        const int n = NS[ni], nt = n + EXTRA;
        unsigned char *ref = malloc((size_t)nt * nt);
        for (int l = 0; l < NL; l++)
            for (int h = 0; h < NH; h++) {
                maskplan *plan = method_plan(m, l, h, n, nt);
                CHECK(plan != NULL, "%s: no plan", label);
                if (plan == NULL) continue;
                const char *why = maskplan_validate(plan, nt);
                if (why && bad_valid++ < 3) CHECK(why == NULL, "%s n=%d layer %d head %d: invalid plan: %s", label, n, l, h, why);
                reference(k, l, h, n, nt, ref);
                int64_t count = 0;
                for (int p = 0; p < nt; p++)
                    for (int j = 0; j <= p + 1 && j < nt; j++) {
                        const bool want = j <= p && ref[(size_t)p * nt + j];
                        if (p < n && want) count++;
                        if (maskplan_kept(plan, p, j) != want && bad_cells++ < 5)
                            CHECK(false, "%s n=%d layer %d head %d: cell (%d, %d) kept=%d, definition says %d", label, n, l,
                                  h, p, j, !want, want);
                    }
                const int64_t got = maskplan_kept_pairs(plan, n);
                const double dens = maskplan_density(plan, n), want_dens = (double)count / ((double)n * (n + 1) / 2);
                if ((got != count || fabs(dens - want_dens) > 1e-12) && bad_count++ < 3)
                    CHECK(false, "%s n=%d layer %d head %d: kept pairs %lld density %.9f, reference %lld %.9f", label, n, l, h,
                          (long long)got, dens, (long long)count, want_dens);
                maskplan_free(plan);
            }
        free(ref);
    }
    CHECK(bad_cells == 0, "%s: %d cells differ from the definition", label, bad_cells);
    CHECK(bad_count == 0, "%s: %d kept-pair / density mismatches", label, bad_count);
    CHECK(bad_valid == 0, "%s: %d invalid plans", label, bad_valid);
}

/* JSON of an int matrix [NL][NH]. */
static void json_mat(char *buf, size_t size, const int m[NL][NH]) {
    snprintf(buf, size, "[[%d, %d, %d], [%d, %d, %d]]", m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2]);
}

static bool same_plan(const maskplan *a, const maskplan *b) {
    if (a->n_qblocks != b->n_qblocks || a->n_cols != b->n_cols || a->n_diags != b->n_diags) return false;
    if (a->n_qblocks && (memcmp(a->blk_ptr, b->blk_ptr, sizeof(int32_t) * (a->n_qblocks + 1)) ||
                         memcmp(a->blk_idx, b->blk_idx, sizeof(int32_t) * a->blk_ptr[a->n_qblocks])))
        return false;
    return true;
}

static void test_bigbird_random(void) {
    method s5a, s5b, s6;
    make_method("{\"method\": \"bigbird\", \"seed\": 5}", &s5a, NL, NH);
    make_method("{\"method\": \"bigbird\", \"seed\": 5}", &s5b, NL, NH);
    make_method("{\"method\": \"bigbird\", \"seed\": 6}", &s6, NL, NH);
    const int n = 4096;
    int differ_seed = 0, same_seed = 1, differ_head = 0, differ_layer = 0;
    maskplan *first = method_plan(&s5a, 0, 0, n, n);
    for (int l = 0; l < NL; l++)
        for (int h = 0; h < NH; h++) {
            maskplan *a = method_plan(&s5a, l, h, n, n), *b = method_plan(&s5b, l, h, n, n), *c = method_plan(&s6, l, h, n, n);
            same_seed &= same_plan(a, b);
            differ_seed += !same_plan(a, c);
            if (l == 0 && h > 0) differ_head += !same_plan(a, first);
            if (l == 1 && h == 0) differ_layer += !same_plan(a, first);
            /* each query block: global ∪ window plus min(3, m) distinct random earlier blocks */
            int bad = 0;
            for (int qb = 0; qb < a->n_qblocks; qb++) {
                int m = qb - 3 - 2 + 1 > 0 ? qb - 3 - 2 + 1 : 0, want = (qb + 1 < 5 ? qb + 1 : 5) + (m < 3 ? m : 3);
                bad += a->blk_ptr[qb + 1] - a->blk_ptr[qb] != want;
            }
            CHECK(bad == 0, "bigbird layer %d head %d: %d query blocks with the wrong number of key blocks", l, h, bad);
            maskplan_free(a);
            maskplan_free(b);
            maskplan_free(c);
        }
    CHECK(same_seed, "bigbird: the same seed gives different plans");
    CHECK(differ_seed == NL * NH, "bigbird: seed 6 equals seed 5 on %d of %d heads", NL * NH - differ_seed, NL * NH);
    CHECK(differ_head == NH - 1, "bigbird: heads share random blocks");
    CHECK(differ_layer == 1, "bigbird: layers share random blocks");
    /* no history: a short prompt in between changes nothing, and plans agree across lengths */
    maskplan *shortp = method_plan(&s5a, 0, 0, 100, 107);
    maskplan *again = method_plan(&s5a, 0, 0, n, n);
    CHECK(same_plan(first, again), "bigbird: the plan of a long prompt changed after a short one");
    bool prefix = shortp->n_qblocks == 2;
    for (int qb = 0; prefix && qb < 2; qb++)
        prefix = shortp->blk_ptr[qb + 1] == first->blk_ptr[qb + 1] &&
                 memcmp(shortp->blk_idx, first->blk_idx, sizeof(int32_t) * first->blk_ptr[qb + 1]) == 0;
    CHECK(prefix, "bigbird: the short prompt's blocks differ from the long prompt's first blocks");
    maskplan_free(shortp);
    maskplan_free(again);
    maskplan_free(first);
    method_free(&s5a);
    method_free(&s5b);
    method_free(&s6);

    /* roughly uniform: query block 50 (candidates 2 .. 47, 3 picks) over 1000 seeds */
    int hits[64] = {0}, outside = 0;
    for (int seed = 0; seed < 1000; seed++) {
        int rnd[8], nr = bb_random((uint64_t)seed, 0, 0, 50, 2, 3, 3, rnd);
        char json[128];
        snprintf(json, sizeof json, "{\"method\": \"bigbird\", \"seed\": %d}", seed);
        method m;
        make_method(json, &m, 1, 1);
        maskplan *p = method_plan(&m, 0, 0, 51 * B, 51 * B);
        int kept_rand = 0;
        for (int i = p->blk_ptr[50]; i < p->blk_ptr[51]; i++) {
            const int kb = p->blk_idx[i];
            if (kb < 2 || kb > 47) continue;
            kept_rand++;
            hits[kb]++;
            bool in_ref = false;
            for (int u = 0; u < nr; u++) in_ref |= rnd[u] == kb;
            outside += !in_ref;
        }
        outside += kept_rand != 3;
        maskplan_free(p);
        method_free(&m);
    }
    int lo = 1 << 30, hi = 0;
    for (int kb = 2; kb <= 47; kb++) {
        lo = hits[kb] < lo ? hits[kb] : lo;
        hi = hits[kb] > hi ? hits[kb] : hi;
    }
    CHECK(outside == 0, "bigbird: %d random-block choices differ from the reference sampling", outside);
    CHECK(lo >= 30 && hi <= 110, "bigbird: random blocks far from uniform (per-block counts %d .. %d, expected ~65)", lo, hi);
}

/* ---- moa profiles ---- */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static const char *prof_path_for_child;
static void load_profile_2x3(void) {
    char json[512];
    snprintf(json, sizeof json, "{\"method\": \"moa\", \"profile\": \"%s\"}", prof_path_for_child);
    method m;
    make_method(json, &m, NL, NH);
}

/* Runs f in a child with stderr to a file; returns the exit status (-1: no exit), message in msg. */
static int child_status(void (*f)(void), char *msg, size_t size) {
    char errpath[300];
    snprintf(errpath, sizeof errpath, "%s/stderr", tmpdir);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen(errpath, "w", stderr) == NULL) _exit(99);
        f();
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    FILE *e = fopen(errpath, "r");
    size_t got = e ? fread(msg, 1, size - 1, e) : 0;
    msg[got] = 0;
    if (e) fclose(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_bad_profile(const char *label, const char *text, const char *pattern) {
    char path[300], msg[1024];
    snprintf(path, sizeof path, "%s/%s.json", tmpdir, label);
    if (text) write_file(path, text);
    prof_path_for_child = path;
    const int st = child_status(load_profile_2x3, msg, sizeof msg);
    int lines = 0;
    for (const char *c = msg; *c; c++) lines += *c == '\n';
    CHECK(st == 2 && lines == 1 && strstr(msg, path) && strstr(msg, pattern),
          "bad profile %s: exit %d, %d lines, message \"%s\" (want status 2, one line naming %s and \"%s\")", label, st, lines,
          msg, path, pattern);
}

static void load_shipped_wrong_model(void) { moa_profile_load("configs/moa_smollm2-135m.json", 29, 9); }

static void test_moa_profiles(void) {
    /* the shipped profile fits the default model */
    moa_profile p = moa_profile_load("configs/moa_smollm2-135m.json", 30, 9);
    int ok = 1;
    double mean_w = 0;
    for (int i = 0; i < 30 * 9; i++) {
        ok &= p.alpha[i] >= 0 && p.beta[i] >= 0 && p.beta[i] <= 1;
        mean_w += moa_window(p.alpha[i], p.beta[i], 2048);
    }
    CHECK(ok, "shipped profile: values out of range");
    CHECK(mean_w / 270 >= 1 && mean_w / 270 <= 2048, "shipped profile: mean window %.1f at 2048", mean_w / 270);
    moa_profile_free(&p);
    method m;
    make_method("{\"method\": \"moa\"}", &m, 30, 9);
    maskplan *plan = method_plan(&m, 29, 8, 4096, 4100);
    CHECK(plan && maskplan_validate(plan, 4100) == NULL && plan->n_cols == 64, "shipped profile: plan of layer 29 head 8");
    maskplan_free(plan);
    method_free(&m);
    char msg[1024];
    CHECK(child_status(load_shipped_wrong_model, msg, sizeof msg) == 2 && strstr(msg, "configs/moa_smollm2-135m.json: alphas has 30 layer rows, the model has 29"),
          "shipped profile on a 29-layer model: %s", msg);

    /* bad profiles: exit 2, one line naming the file */
    const char *good_b = "\"betas\": [[0, 0, 0], [0, 0, 0]]";
    char text[512];
    expect_bad_profile("missing", NULL, "cannot open");
    snprintf(text, sizeof text, "{\"alphas\": [[0, 0], [0, 0]], %s}", good_b);
    expect_bad_profile("two_heads", text, "alphas[0]: must be a list of 3 per-head values");
    snprintf(text, sizeof text, "{\"alphas\": [[0, 0, 0], [0, 0, 0], [0, 0, 0]], %s}", good_b);
    expect_bad_profile("three_layers", text, "alphas has 3 layer rows, the model has 2 layers");
    snprintf(text, sizeof text, "{\"alphas\": [[0, 0, 0], [0, -5, 0]], %s}", good_b);
    expect_bad_profile("negative_alpha", text, "alphas[1][1]: -5 must be >= 0");
    expect_bad_profile("beta_above_one", "{\"alphas\": [[0, 0, 0], [0, 0, 0]], \"betas\": [[0, 0, 1.5], [0, 0, 0]]}",
                       "betas[0][2]: 1.5 must be <= 1");
    expect_bad_profile("no_betas", "{\"alphas\": [[0, 0, 0], [0, 0, 0]]}", "betas: required key is missing");
    expect_bad_profile("malformed", "{\"alphas\": [[0, 0, 0], [0, 0, 0]], ", "malformed JSON");
    snprintf(text, sizeof text, "{\"alphas\": [[0, 0, 0], [0, 0, 0]], %s, \"gamma\": 1}", good_b);
    expect_bad_profile("unknown_key", text, "gamma: unknown key");
    snprintf(text, sizeof text, "{\"alphas\": [[0, 0, 0], [0, \"x\", 0]], %s}", good_b);
    expect_bad_profile("not_a_number", text, "alphas[1][1]: must be a number");
}

/* A per-layer parameter list of the wrong length is an input error naming the method and key. */
static void bad_shape(void) {
    method m;
    make_method("{\"method\": \"bigbird\", \"name\": \"bb\", \"random_blocks\": [1, 2, 3]}", &m, NL, NH);
}

int main(void) {
    setenv("DAM_ROOT", ".", 0); /* run from the checkout: the default MoA profile is under the root */
    const size_t mem0 = dam_mem_in_use();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_baselines.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) return 1;
    char json[1024], a[128], b[128], c[128];
    method m;

    json_mat(a, sizeof a, SW_W);
    snprintf(json, sizeof json, "{\"method\": \"sliding_window\", \"window\": %s}", a);
    make_method(json, &m, NL, NH);
    check_method("sliding_window", SW, &m);
    method_free(&m);

    json_mat(a, sizeof a, DIL_W);
    json_mat(b, sizeof b, DIL_D);
    snprintf(json, sizeof json, "{\"method\": \"dilated\", \"window\": %s, \"dilation\": %s, \"sinks\": [%d, %d]}", a, b,
             DIL_S[0], DIL_S[1]);
    make_method(json, &m, NL, NH);
    check_method("dilated", DIL, &m);
    method_free(&m);

    char d[128];
    json_mat(a, sizeof a, BB_G);
    json_mat(b, sizeof b, BB_W);
    json_mat(c, sizeof c, BB_R);
    snprintf(d, sizeof d, "%d", BB_SEED);
    snprintf(json, sizeof json,
             "{\"method\": \"bigbird\", \"global_blocks\": %s, \"window_blocks\": %s, \"random_blocks\": %s, \"seed\": %s}", a,
             b, c, d);
    make_method(json, &m, NL, NH);
    check_method("bigbird", BB, &m);
    method_free(&m);

    json_mat(a, sizeof a, LF_W);
    json_mat(b, sizeof b, LF_G);
    json_mat(c, sizeof c, LF_T);
    for (int gd = 0; gd < 2; gd++) {
        lf_global_decode = gd;
        snprintf(json, sizeof json,
                 "{\"method\": \"longformer\", \"window\": %s, \"global_tokens\": %s, \"global_tail\": %s, \"global_decode\": %s}",
                 a, b, c, gd ? "true" : "false");
        make_method(json, &m, NL, NH);
        check_method(gd ? "longformer" : "longformer (global_decode false)", LF, &m);
        method_free(&m);
    }

    char prof[300], ptext[512];
    snprintf(prof, sizeof prof, "%s/moa2x3.json", tmpdir);
    snprintf(ptext, sizeof ptext, "{\"model\": \"fake\", \"alphas\": [[%g, %g, %g], [%g, %g, %g]], \"betas\": [[%g, %g, %g], [%g, %g, %g]], \"meta\": {}}",
             MOA_A[0][0], MOA_A[0][1], MOA_A[0][2], MOA_A[1][0], MOA_A[1][1], MOA_A[1][2], MOA_B[0][0], MOA_B[0][1],
             MOA_B[0][2], MOA_B[1][0], MOA_B[1][1], MOA_B[1][2]);
    write_file(prof, ptext);
    json_mat(a, sizeof a, MOA_S);
    snprintf(json, sizeof json, "{\"method\": \"moa\", \"profile\": \"%s\", \"sinks\": %s}", prof, a);
    make_method(json, &m, NL, NH);
    check_method("moa", MOA, &m);
    method_free(&m);

    /* full_eager: no plan, its own kernel, the whole prompt in one step */
    make_method("{\"method\": \"full_eager\"}", &m, NL, NH);
    CHECK(method_plan(&m, 0, 0, 100, 110) == NULL && m.ops->attend != NULL && method_whole_prompt(&m) &&
              !method_is_dynamic(&m) && !method_is_full(&m),
          "full_eager: interface flags");
    method_free(&m);
    /* the static methods are neither dynamic nor whole-prompt */
    const char *statics[] = {"sliding_window", "dilated", "bigbird", "longformer"};
    for (int i = 0; i < 4; i++) {
        snprintf(json, sizeof json, "{\"method\": \"%s\"}", statics[i]);
        make_method(json, &m, NL, NH);
        CHECK(!method_whole_prompt(&m) && !method_is_dynamic(&m) && m.ops->attend == NULL, "%s: interface flags", statics[i]);
        maskplan *p = method_plan(&m, 1, 2, 4096, 4200); /* defaults give valid plans */
        CHECK(p && maskplan_validate(p, 4200) == NULL, "%s: default plan invalid", statics[i]);
        maskplan_free(p);
        method_free(&m);
    }

    test_bigbird_random();
    test_moa_profiles();
    char msg[1024];
    CHECK(child_status(bad_shape, msg, sizeof msg) == 2 && strstr(msg, "method bb: random_blocks has 3 layer entries"),
          "per-layer list of the wrong length: %s", msg);

    CHECK(dam_mem_in_use() == mem0, "leaked %zu bytes", dam_mem_in_use() - mem0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_done("baselines");
}
