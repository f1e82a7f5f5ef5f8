/* test_attention.c — attn_causal against a float64 brute-force reference on random inputs:
 * GQA groups 1, 3 and 7; lengths not multiples of the tile sizes; chunked prefill (n_q < n_k);
 * decode (n_q = 1); large logits (softmax saturated to a single key); head_dim 64 and 128.
 * attn_causal_window (sliding window, Gemma-3's local layers) against the same reference with the
 * window applied: windows smaller than, equal to and larger than a tile, not tile-aligned, wider
 * than the sequence (= attn_causal bit for bit), MQA with head_dim 256, chunked prefill whose
 * queries span more than one window, and decode far past the window. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "kernels/cpu/attention.h"
#include "ref_attention.h"
#include "test.h"

static void run_case_w(int n_q, int n_k, int H, int Hkv, int d, double qscale, int window) {
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
    float scale = 1.0f / sqrtf((float)d);
    if (window == 0) attn_causal(o, H * d, q, H * d, n_q, k, v, cap, n_k, H, Hkv, d, scale);
    else attn_causal_window(o, H * d, q, H * d, n_q, k, v, cap, n_k, H, Hkv, d, scale, window);
    ref_causal_attention_window(ref, q, n_q, k, v, cap, n_k, H, Hkv, d, scale, window);
    if (window >= n_k) { /* a window wider than the sequence is no window: attn_causal exactly */
        float *o2 = dam_malloc(sizeof(float) * n_q * H * d, "o2");
        attn_causal(o2, H * d, q, H * d, n_q, k, v, cap, n_k, H, Hkv, d, scale);
        CHECK(memcmp(o, o2, sizeof(float) * n_q * H * d) == 0, "window %d >= n_k %d differs from attn_causal", window, n_k);
        dam_free(o2);
    }
    double max_err = 0;
    int finite = 1;
    for (long i = 0; i < (long)n_q * H * d; i++) {
        if (!isfinite(o[i])) finite = 0;
        double e = fabs(o[i] - ref[i]);
        if (e > max_err) max_err = e;
    }
    CHECK(finite, "non-finite output n_q=%d n_k=%d H=%d Hkv=%d d=%d window=%d", n_q, n_k, H, Hkv, d, window);
    CHECK(max_err < 2e-5 * (qscale > 10 ? 10 : 1), "max abs error %.3g n_q=%d n_k=%d H=%d Hkv=%d d=%d qscale=%g window=%d",
          max_err, n_q, n_k, H, Hkv, d, qscale, window);
    dam_free(q); dam_free(k); dam_free(v); dam_free(o);
    free(ref);
}

static void run_case(int n_q, int n_k, int H, int Hkv, int d, double qscale) {
    run_case_w(n_q, n_k, H, Hkv, d, qscale, 0);
}

/* exp_poly against libm's double exp over [-87, 0]: relative error <= 4 ulp. */
static void test_exp(void) {
    double worst = 0;
    for (int i = 0; i <= 870000; i++) {
        float x = -87.0f * (float)i / 870000.0f;
        double ref = exp((double)x), got = exp_poly(x);
        double rel = fabs(got - ref) / ref;
        if (rel > worst) worst = rel;
    }
    CHECK(worst <= 4 * 5.96e-8, "exp_poly worst relative error %.3g", worst);
    CHECK(exp_poly(0.0f) == 1.0f, "exp(0) = %g", exp_poly(0.0f));
}

int main(void) {
    test_seed(0x9E3779B97F4A7C15ull);
    size_t before = dam_mem_in_use();
    test_exp();
    int groups[][2] = {{4, 4}, {9, 3}, {7, 1}, {14, 2}};
    for (int gi = 0; gi < 4; gi++) {
        int H = groups[gi][0], Hkv = groups[gi][1];
        run_case(1, 1, H, Hkv, 64, 1);        /* a single token */
        run_case(100, 100, H, Hkv, 64, 1);    /* not a multiple of 32 or 64 */
        run_case(129, 129, H, Hkv, 64, 3);
        run_case(37, 300, H, Hkv, 64, 1);     /* chunked prefill: 37 queries after 263 cached keys */
        run_case(1, 517, H, Hkv, 64, 1);      /* decode */
        run_case(70, 70, H, Hkv, 128, 1);     /* head_dim 128 */
    }
    run_case(65, 200, 9, 3, 64, 200);         /* huge logits: one key takes all the mass */
    run_case(33, 33, 6, 3, 40, 1);            /* head_dim not a multiple of 16: generic path */
    /* sliding windows */
    run_case_w(200, 200, 4, 1, 256, 1, 16);   /* MQA, head_dim 256 (Gemma-3), window inside a tile */
    run_case_w(200, 200, 4, 4, 64, 1, 64);    /* window = one key tile */
    run_case_w(300, 300, 9, 3, 64, 1, 100);   /* window not tile-aligned; later tiles skip whole blocks */
    run_case_w(150, 700, 4, 1, 64, 1, 100);   /* chunked prefill: 150 queries span more than a window */
    run_case_w(1, 900, 4, 1, 64, 1, 512);     /* decode far past the window (Gemma-3's 512) */
    run_case_w(1, 3, 4, 2, 64, 1, 1);         /* window 1: each query sees only itself */
    run_case_w(65, 200, 9, 3, 64, 200, 37);   /* huge logits with a window */
    run_case_w(90, 90, 4, 1, 64, 1, 512);     /* window wider than the sequence: attn_causal exactly */
    CHECK(dam_mem_in_use() == before, "leaked %zu bytes", dam_mem_in_use() - before);
    return test_done("attention");
}
