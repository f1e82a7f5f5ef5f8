/* test_attention_eager.c — attn_eager (the materialising kernel of `full_eager`) against a float64
 * brute-force reference on random inputs: GQA groups 1, 3 and 7; lengths not multiples of 32/64;
 * chunked prefill (n_q < n_k); decode (n_q = 1); huge logits; head_dim 64 and 128. Also: the
 * score buffer is exactly 4 · n_heads · n_q · n_k bytes of the harness allocator's peak and is
 * freed; the output agrees with the tiled kernel attn_causal.
 * Run: make build/tests/test_attention_eager && build/tests/test_attention_eager */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/mem.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_eager.h"
#include "ref_attention.h"
#include "test.h"

static void run_case(int n_q, int n_k, int H, int Hkv, int d, double qscale) {
    int cap = n_k + 5; /* capacity larger than n_k: strides must use cap */
    float *q = dam_malloc(sizeof(float) * n_q * H * d, "q");
    float *k = dam_malloc(sizeof(float) * Hkv * cap * d, "k");
    float *v = dam_malloc(sizeof(float) * Hkv * cap * d, "v");
    float *o = dam_malloc(sizeof(float) * n_q * H * d, "o");
    float *oc = dam_malloc(sizeof(float) * n_q * H * d, "o causal");
    double *ref = malloc(sizeof(double) * n_q * H * d);
    for (long i = 0; i < (long)n_q * H * d; i++) q[i] = (float)(urand() * qscale);
    for (long i = 0; i < (long)Hkv * cap * d; i++) {
        k[i] = (float)urand();
        v[i] = (float)urand();
    }
    float scale = 1.0f / sqrtf((float)d);
    dam_mem_reset_peak();
    const size_t before = dam_mem_in_use();
    attn_eager(o, H * d, q, H * d, n_q, k, v, cap, n_k, H, Hkv, d, scale);
    CHECK(dam_mem_peak() - before == attn_eager_bytes(H, n_q, n_k), "peak grew by %zu bytes, want %zu (n_q=%d n_k=%d H=%d)",
          dam_mem_peak() - before, attn_eager_bytes(H, n_q, n_k), n_q, n_k, H);
    CHECK(dam_mem_in_use() == before, "score buffer not freed");
    attn_causal(oc, H * d, q, H * d, n_q, k, v, cap, n_k, H, Hkv, d, scale);
    ref_causal_attention(ref, q, n_q, k, v, cap, n_k, H, Hkv, d, scale);
    double max_err = 0, max_diff = 0;
    int finite = 1;
    for (long i = 0; i < (long)n_q * H * d; i++) {
        if (!isfinite(o[i])) finite = 0;
        double e = fabs(o[i] - ref[i]), c = fabs((double)o[i] - oc[i]);
        if (e > max_err) max_err = e;
        if (c > max_diff) max_diff = c;
    }
    const double tol = 2e-5 * (qscale > 10 ? 10 : 1);
    CHECK(finite, "non-finite output n_q=%d n_k=%d H=%d Hkv=%d d=%d", n_q, n_k, H, Hkv, d);
    CHECK(max_err < tol, "max abs error %.3g vs float64, n_q=%d n_k=%d H=%d Hkv=%d d=%d qscale=%g", max_err, n_q, n_k, H,
          Hkv, d, qscale);
    CHECK(max_diff < 2 * tol, "max abs difference %.3g vs attn_causal, n_q=%d n_k=%d", max_diff, n_q, n_k);
    dam_free(q); dam_free(k); dam_free(v); dam_free(o); dam_free(oc);
    free(ref);
}

int main(void) {
    test_seed(0x2545F4914F6CDD1Dull);
    size_t before = dam_mem_in_use();
    int groups[][2] = {{4, 4}, {9, 3}, {7, 1}};
    for (int gi = 0; gi < 3; gi++) {
        int H = groups[gi][0], Hkv = groups[gi][1];
        run_case(1, 1, H, Hkv, 64, 1);     /* a single token */
        run_case(100, 100, H, Hkv, 64, 1); /* not a multiple of 32 or 64 */
        run_case(129, 129, H, Hkv, 64, 3);
        run_case(37, 300, H, Hkv, 64, 1);  /* chunked prefill: 37 queries after 263 cached keys */
        run_case(1, 517, H, Hkv, 64, 1);   /* decode */
        run_case(70, 70, H, Hkv, 128, 1);  /* head_dim 128 */
    }
    run_case(65, 200, 9, 3, 64, 200);      /* huge logits: one key takes all the mass */
    run_case(33, 33, 6, 3, 40, 1);         /* head_dim not a multiple of 16 */
    run_case(512, 512, 9, 3, 64, 1);       /* SmolLM2's shape, one prefill chunk */
    CHECK(dam_mem_in_use() == before, "leaked %zu bytes", dam_mem_in_use() - before);
    return test_done("attention_eager");
}
