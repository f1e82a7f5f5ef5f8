/* bench_plan_build.c — what DAM's static plans cost on the GPU before any attention runs, per prompt
 * (the harness's mask_ms for `--method dam`; docs/cuda.md "Plan conversion on the GPU"), summed over
 * the layers of a pattern file:
 *   prepare_ms  dam_plan + maskplan_validate of every (layer, head), OpenMP over them (attn_ctx_prepare's
 *               part);
 *   build_ms    attn_cuda_plan_build of each layer's plans (the default path: the GPU list build, the
 *               bitmap's tiles as host-made masks), wall time until the lists are complete on the device;
 *   host_ms     of which the host staging and its upload (attn_cuda_plan.host_ms);
 *   free_ms     attn_cuda_plan_free of those plans (the harness frees each after its attention);
 *   hostlist_ms build_ms with ATTN_CUDA_HOST_LISTS (every row on the host build: DAM's path before
 *               run 74);
 *   batch_ms    attn_cuda_plan_build_layers of all layers at once (the harness's path since branch
 *               plan-batch: the GPU builds batched, two device synchronisations in all), wall time;
 *               under it, the batched build's phases (attn_cuda_plan_gpu_last_phases, medians).
 * Usage: bench_plan_build [--patterns patterns/smollm2-135m.h5] [--kv-heads 3]
 *                         [--lengths 2048,8192,32768,131072] [--repeats 5]
 * Medians over the repeats after one warm-up. Needs a GPU (exit 0 with "skip: ..." otherwise). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "core/mem.h"
#include "core/timer.h"
#include "dam/patterns.h"
#include "dam/plan.h"
#include "kernels/cuda/attention_masked.h"
#include "kernels/cuda/attention_plan_gpu.h"
#include "kernels/cuda/cuda_mem.h"
#include "tests/cuda/bench_host.h"

/* Sum over the layers of attn_cuda_plan_build_ex's wall time (ms) with these flags (plans freed untimed). */
static double build_pass(maskplan **plans, int n_layers, int H, int Hkv, int n, int flags) {
    double sum = 0;
    for (int l = 0; l < n_layers; l++) {
        const double t0 = now_ms();
        attn_cuda_plan *p = attn_cuda_plan_build_ex((const maskplan *const *)(plans + (size_t)l * H), n, n, H, Hkv, flags);
        sum += now_ms() - t0;
        attn_cuda_plan_free(p);
    }
    return sum;
}

int main(int argc, char **argv) {
    const char *path = "patterns/smollm2-135m.h5", *lengths = "2048,8192,32768,131072";
    int Hkv = 3, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--patterns") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--kv-heads") && i + 1 < argc) Hkv = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lengths") && i + 1 < argc) lengths = argv[++i];
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench_plan_build: unknown argument %s (usage in the file's header)\n", argv[i]);
            return 2;
        }
    }
    if (!bench_repeats_ok("bench_plan_build", reps)) return 2;
    if (!bench_device_ok("bench_plan_build")) return 0;
    dam_patterns *pat = dam_patterns_read(path, NULL);
    const int NL = pat->n_layers, H = pat->n_heads;
    if (Hkv < 1 || H % Hkv != 0) {
        fprintf(stderr, "bench_plan_build: --kv-heads %d does not divide the pattern file's %d heads\n", Hkv, H);
        return 2;
    }
    maskplan **plans = dam_calloc((size_t)NL * H, sizeof *plans, "bench plans");
    printf("# bench_plan_build: %s (%d layers x %d heads, KV %d, PCL %d), sums over the layers, medians of %d after 1 warm-up\n",
           path, NL, H, Hkv, pat->par.L, reps);
    printf("%8s %11s %10s %9s %9s %12s %9s\n", "tokens", "prepare_ms", "build_ms", "host_ms", "free_ms", "hostlist_ms",
           "batch_ms");
    for (const char *s = lengths; *s;) {
        const int n = atoi(s);
        if (n < 64) {
            fprintf(stderr, "bench_plan_build: bad length in --lengths %s\n", lengths);
            return 2;
        }
        double prep[16], build[16], host[16], freed[16], hl[16], batch[16], ph[8][16];
        for (int r = -1; r < reps; r++) {
            for (int i = 0; i < NL * H; i++) maskplan_free(plans[i]); /* (attn_ctx_prepare frees untimed too) */
            double t0 = now_ms();
            int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : bad)  /* as attn_ctx_prepare */
            for (int i = 0; i < NL * H; i++) {
                plans[i] = dam_plan(pat, i / H, i % H);
                bad += maskplan_validate(plans[i], n) != NULL;
            }
            if (bad) {
                fprintf(stderr, "bench_plan_build: %s: %d plans invalid at n = %d\n", path, bad, n);
                return 2;
            }
            const double p_ms = now_ms() - t0;
            double b = 0, h = 0, f = 0;
            for (int l = 0; l < NL; l++) {
                double t1 = now_ms();
                attn_cuda_plan *p = attn_cuda_plan_build((const maskplan *const *)(plans + (size_t)l * H), n, n, H, Hkv);
                double t2 = now_ms();
                h += p->host_ms;
                attn_cuda_plan_free(p);
                f += now_ms() - t2;
                b += t2 - t1;
            }
            const double hb = build_pass(plans, NL, H, Hkv, n, ATTN_CUDA_HOST_LISTS);
            const maskplan *const **sets = dam_malloc(sizeof *sets * (size_t)NL, "bench plan sets");
            attn_cuda_plan **out = dam_malloc(sizeof *out * (size_t)NL, "bench device plans");
            for (int l = 0; l < NL; l++) sets[l] = (const maskplan *const *)(plans + (size_t)l * H);
            const double t3 = now_ms();
            attn_cuda_plan_build_layers(sets, NL, n, n, H, Hkv, out);
            const double bt = now_ms() - t3;
            const attn_cuda_plan_gpu_phases *g = attn_cuda_plan_gpu_last_phases();
            const double phv[8] = {g->setup_ms, g->stage_ms, g->upload_ms, g->queue1_ms,
                                   g->totals_ms, g->queue2_ms, g->sync_ms, g->release_ms};
            for (int i = 0; i < 8 && r >= 0; i++) ph[i][r] = phv[i];
            for (int l = 0; l < NL; l++) attn_cuda_plan_free(out[l]);
            dam_free(out), dam_free(sets);
            if (r >= 0) prep[r] = p_ms, build[r] = b, host[r] = h, freed[r] = f, hl[r] = hb, batch[r] = bt;
        }
        printf("%8d %11.2f %10.2f %9.2f %9.2f %12.2f %9.2f\n", n, bench_median_d(prep, reps), bench_median_d(build, reps),
               bench_median_d(host, reps), bench_median_d(freed, reps), bench_median_d(hl, reps), bench_median_d(batch, reps));
        printf("%8s batch phases (ms, medians): setup %.2f stage %.2f upload %.2f queue1 %.2f totals %.2f queue2 %.2f "
               "sync %.2f release %.2f\n", "", bench_median_d(ph[0], reps), bench_median_d(ph[1], reps),
               bench_median_d(ph[2], reps), bench_median_d(ph[3], reps), bench_median_d(ph[4], reps),
               bench_median_d(ph[5], reps), bench_median_d(ph[6], reps), bench_median_d(ph[7], reps));
        fflush(stdout);
        s = strchr(s, ',');
        if (!s) break;
        s++;
    }
    for (int i = 0; i < NL * H; i++) maskplan_free(plans[i]);
    dam_free(plans);
    dam_patterns_free(pat);
    return 0;
}
