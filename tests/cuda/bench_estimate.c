/* bench_estimate.c — the dynamic methods' mask estimation on the GPU against the attention it
 * serves (issue 8's target: estimation <= 25% of the attention time at n >= 32K), per layer:
 *   est_ms    the method's plan_layer_cuda (kernels/cuda/estimate.h) from the device q and KV cache,
 *             wall time between two device synchronisations (plans on the host at the end);
 *   conv_ms   attn_cuda_plan_build of those plans (host conversion + upload; the harness counts it
 *             as mask time too);
 *   attn_ms   the masked kernel with those plans (CUDA events); dense_ms the dense kernel;
 *   tiles     head tiles visited / causal head tiles (tile density of the plans);
 *   cpu_ms    (with --cpu) the CPU plan_layer on fp32 host copies, all cores (the path the GPU
 *             hook used before).
 * For xattention a second line splits est_ms (est_cuda_last_phases, medians): enqueue = host time to
 * queue the estimate's kernels, gpu = the device's span over them (kernels and gaps), wait = host time
 * from then until the keep bits are back; est_ms - enqueue - wait is the host's plan making.
 * Inputs: uniform bf16 q, k, v in [-1, 1) with a sink key and a shared direction per KV group (so
 * the estimates are not flat); latency of the estimation does not depend on content, the plans'
 * density does (real prompts: `dam bench --device cuda --method minference`).
 * Usage: bench_estimate [--cpu] [--shape smollm2|llama8b] [--lengths 32768,131072] [--repeats 3]
 *                       [--method minference|xattention|flexprefill|dam_online]... (default: all four)
 * Medians over the repeats after one warm-up. Needs a GPU (exit 0 with "skip: ..." otherwise). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "core/mem.h"
#include "core/timer.h"
#include "harness/method.h"
#include "kernels/cuda/attention_masked.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"
#include "tests/cuda/bench_host.h"
#include "kernels/cuda/estimate.h"
#include "tests/method_util.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float urand(void) { /* uniform in [-1, 1) */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (float)((double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0 * 2 - 1);
}
static uint16_t bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static float from_bf16(uint16_t b) {
    const uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
typedef struct {
    int n, H, Hkv, d;
    uint16_t *q, *k, *v, *out; /* device: [n][H d], [Hkv][n][d] x 2, [n][H d] */
    uint16_t *hq, *hk;         /* host bf16 copies (for --cpu) */
} layer_in;

static layer_in make_layer(int n, int H, int Hkv, int d) {
    layer_in L = {n, H, Hkv, d, NULL, NULL, NULL, NULL, NULL, NULL};
    const size_t nq = (size_t)n * H * d, nk = (size_t)Hkv * n * d;
    L.hq = dam_malloc(sizeof(uint16_t) * nq, "bench q");
    L.hk = dam_malloc(sizeof(uint16_t) * nk, "bench k");
    uint16_t *hv = dam_malloc(sizeof(uint16_t) * nk, "bench v");
    float dir[128];
    for (int g = 0; g < Hkv; g++) {
        for (int c = 0; c < d; c++) dir[c] = urand();
        for (int i = 0; i < n; i++)
            for (int h = g * (H / Hkv); h < (g + 1) * (H / Hkv); h++)
                for (int c = 0; c < d; c++) L.hq[((size_t)i * H + h) * d + c] = bf16(urand() + 0.5f * dir[c]);
        for (int j = 0; j < n; j++)
            for (int c = 0; c < d; c++) {
                const size_t x = ((size_t)g * n + j) * d + c;
                L.hk[x] = bf16(j == 0 ? 2 * dir[c] : urand());
                hv[x] = bf16(urand());
            }
    }
    L.q = dam_cuda_malloc(sizeof(uint16_t) * nq, "bench q");
    L.out = dam_cuda_malloc(sizeof(uint16_t) * nq, "bench out");
    L.k = dam_cuda_malloc(sizeof(uint16_t) * nk, "bench k");
    L.v = dam_cuda_malloc(sizeof(uint16_t) * nk, "bench v");
    CUDA_CHECK(cudaMemcpy(L.q, L.hq, sizeof(uint16_t) * nq, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(L.k, L.hk, sizeof(uint16_t) * nk, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(L.v, hv, sizeof(uint16_t) * nk, cudaMemcpyHostToDevice));
    dam_free(hv);
    return L;
}

static void free_layer(layer_in *L) {
    dam_cuda_free(L->q), dam_cuda_free(L->out), dam_cuda_free(L->k), dam_cuda_free(L->v);
    dam_free(L->hq), dam_free(L->hk);
}

/* Median kernel time (ms, CUDA events) of the masked kernel with plan p over `reps` runs after one. */
static double time_attention(const layer_in *L, const attn_cuda_plan *p, int reps) {
    cudaEvent_t a, b;
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
    double ms[16];
    const float scale = 1.0f / sqrtf((float)L->d);
    for (int r = -1; r < reps; r++) {
        CUDA_CHECK(cudaEventRecord(a, 0));
        attn_cuda_masked(L->out, L->H * L->d, L->q, L->H * L->d, L->n, L->k, L->v, L->n, L->n, L->H, L->Hkv, L->d, scale, p,
                         NULL, NULL);
        CUDA_CHECK(cudaEventRecord(b, 0));
        CUDA_CHECK(cudaEventSynchronize(b));
        float t;
        CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
        if (r >= 0) ms[r] = t;
    }
    CUDA_CHECK(cudaEventDestroy(a));
    CUDA_CHECK(cudaEventDestroy(b));
    return bench_median_d(ms, reps);
}

int main(int argc, char **argv) {
    bool cpu = false;
    const char *shape = "smollm2", *lengths = "32768,131072", *only[8];
    int n_only = 0;
    int reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpu")) cpu = true;
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc) shape = argv[++i];
        else if (!strcmp(argv[i], "--lengths") && i + 1 < argc) lengths = argv[++i];
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--method") && i + 1 < argc && n_only < 8) only[n_only++] = argv[++i];
        else {
            fprintf(stderr, "bench_estimate: unknown argument %s (usage in the file's header)\n", argv[i]);
            return 2;
        }
    }
    if (!bench_repeats_ok("bench_estimate", reps)) return 2;
    int H, Hkv, d;
    if (!strcmp(shape, "smollm2")) H = 9, Hkv = 3, d = 64;
    else if (!strcmp(shape, "llama8b")) H = 32, Hkv = 8, d = 128;
    else {
        fprintf(stderr, "bench_estimate: --shape must be smollm2 or llama8b, not %s\n", shape);
        return 2;
    }
    if (!bench_device_ok("bench_estimate")) return 0;
    static const char *const METHODS[] = {"{\"method\": \"minference\"}", "{\"method\": \"xattention\"}",
                                          "{\"method\": \"flexprefill\"}", "{\"method\": \"dam_online\"}"};
    printf("# bench_estimate: shape %s (H %d, KV %d, d %d), per layer, medians of %d after 1 warm-up\n", shape, H, Hkv, d, reps);
    printf("%8s %-11s %9s %9s %9s %9s %7s %8s %8s %9s\n", "tokens", "method", "est_ms", "conv_ms", "attn_ms", "dense_ms",
           "tiles", "est/attn", "est/dns", "cpu_ms");
    est_cuda_ws *ws = est_cuda_ws_new();
    for (const char *p = lengths; *p;) {
        const int n = atoi(p);
        if (n < 64) {
            fprintf(stderr, "bench_estimate: bad length in --lengths %s\n", lengths);
            return 2;
        }
        layer_in L = make_layer(n, H, Hkv, d);
        attn_cuda_plan *dense = attn_cuda_plan_build(NULL, n, n, H, Hkv);
        const double dense_ms = time_attention(&L, dense, reps);
        attn_cuda_plan_free(dense);
        for (size_t mi = 0; mi < sizeof METHODS / sizeof METHODS[0]; mi++) {
            bool run = n_only == 0;
            for (int o = 0; o < n_only; o++) {
                char key[64];
                snprintf(key, sizeof key, "\"%s\"", only[o]);
                run |= strstr(METHODS[mi], key) != NULL;
            }
            if (!run) continue;
            method m;
            method_from_json(METHODS[mi], 1, H, &m);
            maskplan **plans = dam_calloc((size_t)H, sizeof *plans, "bench plans");
            double est[16], conv[16], enq[16], gpu[16], wait[16];
            attn_cuda_plan *ap = NULL;
            for (int r = -1; r < reps; r++) {
                for (int h = 0; h < H; h++) maskplan_free(plans[h]), plans[h] = NULL;
                CUDA_CHECK(cudaDeviceSynchronize());
                double t0 = now_ms();
                m.ops->plan_layer_cuda(&m, 0, L.q, H * d, n, L.k, n, H, Hkv, d, ws, plans);
                CUDA_CHECK(cudaDeviceSynchronize());
                double t1 = now_ms();
                attn_cuda_plan_free(ap);
                ap = attn_cuda_plan_build((const maskplan *const *)plans, n, n, H, Hkv);
                if (r >= 0) est[r] = t1 - t0, conv[r] = now_ms() - t1;
                const est_cuda_phases ph = est_cuda_last_phases(ws);
                if (r >= 0) enq[r] = ph.enqueue_ms, gpu[r] = ph.gpu_ms, wait[r] = ph.wait_ms;
            }
            const double est_ms = bench_median_d(est, reps), conv_ms = bench_median_d(conv, reps),
                         attn_ms = time_attention(&L, ap, reps);
            double cpu_ms = NAN;
            if (cpu) { /* the host path: fp32 copies (counted) and plan_layer, once */
                double t0 = now_ms();
                float *q = dam_malloc(sizeof(float) * (size_t)n * H * d, "bench host q");
                float *k = dam_malloc(sizeof(float) * (size_t)Hkv * n * d, "bench host k");
                for (size_t i = 0; i < (size_t)n * H * d; i++) q[i] = from_bf16(L.hq[i]);
                for (size_t i = 0; i < (size_t)Hkv * n * d; i++) k[i] = from_bf16(L.hk[i]);
                maskplan **cp = dam_calloc((size_t)H, sizeof *cp, "bench cpu plans");
                m.ops->plan_layer(&m, 0, q, H * d, n, k, n, H, Hkv, d, cp);
                cpu_ms = now_ms() - t0;
                for (int h = 0; h < H; h++) maskplan_free(cp[h]);
                dam_free(cp), dam_free(k), dam_free(q);
            }
            printf("%8d %-11s %9.2f %9.2f %9.2f %9.2f %6.1f%% %7.1f%% %7.1f%% %9.1f\n", n, m.ops->kind, est_ms, conv_ms,
                   attn_ms, dense_ms, 100.0 * (double)ap->head_tiles / (double)ap->causal_tiles, 100 * est_ms / attn_ms,
                   100 * est_ms / dense_ms, cpu_ms);
            if (strcmp(m.ops->kind, "xattention") == 0)
                printf("%8s %-11s enqueue_ms %.3f  gpu_ms %.3f  wait_ms %.3f\n", "", "  phases", bench_median_d(enq, reps),
                       bench_median_d(gpu, reps), bench_median_d(wait, reps));
            fflush(stdout);
            attn_cuda_plan_free(ap);
            for (int h = 0; h < H; h++) maskplan_free(plans[h]);
            dam_free(plans);
            method_free(&m);
        }
        free_layer(&L);
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    est_cuda_ws_free(ws);
    return 0;
}
