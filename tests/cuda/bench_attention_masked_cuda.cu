// bench_attention_masked_cuda.cu — times attn_cuda_masked on the GPU: dense causal prefill
// (TFLOP/s, causal FLOPs 4·n²·d·H/2; the wgmma kernel on sm_90, then the mma.sync kernel's dense
// path) and MaskPlan-sparse layouts (ms: DAM-like, sinks + window, blocks at 5-30 %), next to the peers measured on
// the same kind of card in /work/shared/docs/anchors.md §0b (cuDNN and FlexAttention through
// PyTorch 2.11, 2026-11-29). Inputs: random bf16 in [-1, 1) generated on the device, several input
// sets rotated when one set would fit in L2. Timing: CUDA events around each launch, 3 warm-up
// launches, median of the repeats.
// Usage: [DAM_BENCH_PACK_GQA=1] [DAM_BENCH_DENSE_ONLY=1] bench_attention_masked_cuda [n ...]   (default 4096 16384 65536; H=9, KV=3, d=64)
//        bench_attention_masked_cuda -s H KV d n ...   (another shape)
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/attention_masked.h"
#include "kernels/cuda/cuda_check.h"
#include "tests/cuda/bench_layouts.h"
#include "tests/cuda/bench_util.h"

typedef struct {
    int sets;
    dam_bf16 *q[8], *k[8], *v[8], *o;
    int *empty;
} inputs;

// the wgmma kernel's block tiles as a bench row label
static const char *tiles_label(int fine, int d) {
    return fine ? "(wgmma 64x64)" : d == 64 ? "(wgmma 192x128)" : "(wgmma 128x128)";
}

// median ms of `reps` launches (after 3 warm-ups), rotating the input sets
static float time_it(const inputs *in, int n, int H, int Hkv, int d, const attn_cuda_plan *plan, int reps) {
    cudaEvent_t a, b;
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
    const float scale = 1.0f / sqrtf((float)d);
    float *ms = (float *)malloc(sizeof(float) * reps);
    for (int r = -3; r < reps; r++) {
        const int s = (r + 3) % in->sets;
        CUDA_CHECK(cudaEventRecord(a, 0));
        attn_cuda_masked(in->o, H * d, in->q[s], H * d, n, in->k[s], in->v[s], n, n, H, Hkv, d, scale, plan, in->empty,
                         NULL);
        CUDA_CHECK(cudaEventRecord(b, 0));
        CUDA_CHECK(cudaEventSynchronize(b));
        if (r >= 0) CUDA_CHECK(cudaEventElapsedTime(&ms[r], a, b));
    }
    const float med = bench_median(ms, reps);
    free(ms);
    CUDA_CHECK(cudaEventDestroy(a));
    CUDA_CHECK(cudaEventDestroy(b));
    return med;
}

// anchors.md §0b (H=9 KV=3 d=64: shape 0; H=32 KV=8 d=128: shape 1): cuDNN dense TFLOP/s; DAM-like
// cuDNN ms and Flex ms; sink(128)+window Flex ms. NAN where the anchors have no figure.
static double anchor_cudnn_tflops(int sh, int n) {
    if (sh == 0) return n == 4096 ? 259 : n == 16384 ? 423 : n == 65536 ? 449 : NAN;
    return n == 4096 ? 509 : n == 16384 ? 569 : n == 65536 ? 603 : NAN;
}
static double anchor_dam_cudnn_ms(int sh, int n) {
    if (sh == 0) return n == 16384 ? 0.735 : n == 65536 ? 11.06 : NAN;
    return n == 16384 ? 3.96 : n == 65536 ? 59.07 : NAN;
}
static double anchor_dam_flex_ms(int sh, int n) {
    if (sh == 0) return n == 16384 ? 0.936 : n == 65536 ? 7.39 : NAN;
    return n == 16384 ? 2.33 : n == 65536 ? 9.54 : NAN;
}
static double anchor_sw_flex_ms(int sh, int n, int w) {
    if (sh == 0) {
        if (n == 16384 && w == 4096) return 0.561;
        if (n == 65536 && w == 4096) return 2.255;
        if (n == 65536 && w == 1024) return 0.824;
    } else {
        if (n == 16384 && w == 1024) return 1.047;
        if (n == 65536 && w == 4096) return 11.78;
        if (n == 65536 && w == 1024) return 4.269;
    }
    return NAN;
}

int main(int argc, char **argv) {
    int H = 9, Hkv = 3, d = 64, ai = 1;
    if (argc > 4 && strcmp(argv[1], "-s") == 0) {
        H = atoi(argv[2]);
        Hkv = atoi(argv[3]);
        d = atoi(argv[4]);
        ai = 5;
    }
    int ns[16], nn = 0;
    for (; ai < argc && nn < 16; ai++) ns[nn++] = atoi(argv[ai]);
    if (nn == 0) {
        ns[0] = 4096; ns[1] = 16384; ns[2] = 65536;
        nn = 3;
    }
    // DAM_BENCH_PACK_GQA=1: every plan built with ATTN_CUDA_PACK_GQA (heads of a GQA group per CTA)
    const int bflags = getenv("DAM_BENCH_PACK_GQA") && atoi(getenv("DAM_BENCH_PACK_GQA")) ? ATTN_CUDA_PACK_GQA : 0;
    // DAM_BENCH_DENSE_ONLY=1: only the dense rows (wgmma and mma.sync paths)
    const int dense_only = getenv("DAM_BENCH_DENSE_ONLY") && atoi(getenv("DAM_BENCH_DENSE_ONLY"));
    const int sh = H == 9 && Hkv == 3 && d == 64 ? 0 : H == 32 && Hkv == 8 && d == 128 ? 1 : -1;
    int dev;
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    printf("device: %s, %d SMs, L2 %d MB; shape H=%d KV=%d d=%d, bf16%s\n", prop.name, prop.multiProcessorCount,
           prop.l2CacheSize >> 20, H, Hkv, d, bflags ? "; GQA heads packed per CTA" : "");
    printf("columns: n | kernel path | plan elem density | tile density | build ms | kernel ms (median) | TFLOP/s (causal "
           "FLOPs) or vs peers\n");
    for (int ni = 0; ni < nn; ni++) {
        const int n = ns[ni];
        const size_t nq = (size_t)n * H * d, nkv = (size_t)Hkv * n * d;
        const size_t set_bytes = (nq + 2 * nkv) * 2;
        inputs in;
        in.sets = (int)((256u << 20) / set_bytes) + 1;
        if (in.sets > 8) in.sets = 8;
        for (int s = 0; s < in.sets; s++) {
            CUDA_CHECK(cudaMalloc((void **)&in.q[s], nq * 2));
            CUDA_CHECK(cudaMalloc((void **)&in.k[s], nkv * 2));
            CUDA_CHECK(cudaMalloc((void **)&in.v[s], nkv * 2));
            fill_bf16<<<1024, 256>>>(in.q[s], nq, 3 * s + 1);
            CUDA_LAUNCH_CHECK("fill_bf16");
            fill_bf16<<<1024, 256>>>(in.k[s], nkv, 3 * s + 2);
            CUDA_LAUNCH_CHECK("fill_bf16");
            fill_bf16<<<1024, 256>>>(in.v[s], nkv, 3 * s + 3);
            CUDA_LAUNCH_CHECK("fill_bf16");
        }
        CUDA_CHECK(cudaMalloc((void **)&in.o, nq * 2));
        CUDA_CHECK(cudaMalloc((void **)&in.empty, sizeof(int)));
        CUDA_CHECK(cudaMemset(in.empty, 0, sizeof(int)));
        const int reps = n <= 4096 ? 100 : n <= 16384 ? 40 : 15;
        const double flops = 4.0 * n * (double)n * d * H / 2;

        attn_cuda_plan *dense = attn_cuda_plan_build_ex(NULL, n, n, H, Hkv, bflags);
        const float t_dense = time_it(&in, n, H, Hkv, d, dense, reps);
        const double cudnn_tf = sh >= 0 ? anchor_cudnn_tflops(sh, n) : NAN, cudnn_ms = flops / cudnn_tf / 1e9;
        printf("n=%-6d dense causal (dense path)   density 1        tiles 1       build %7.2f  %9.4f ms  %6.1f TFLOP/s "
               "(cuDNN %3.0f TFLOP/s = %.4f ms: ours %.2fx its time; %d input sets, %d reps)\n",
               n, dense->build_ms, t_dense, flops / t_dense / 1e9, cudnn_tf, cudnn_ms, t_dense / cudnn_ms, in.sets,
               reps);
        attn_cuda_plan_free(dense);
        dense = attn_cuda_plan_build_ex(NULL, n, n, H, Hkv, bflags | ATTN_CUDA_NO_WGMMA);
        const float t_mma = time_it(&in, n, H, Hkv, d, dense, reps);
        printf("n=%-6d dense causal (mma.sync path) density 1        tiles 1       build %7.2f  %9.4f ms  %6.1f TFLOP/s\n",
               n, dense->build_ms, t_mma, flops / t_mma / 1e9);
        attn_cuda_plan_free(dense);
        if (!dense_only) {  // the list path and the sparse layouts
            maskplan **plans = (maskplan **)malloc(sizeof(maskplan *) * H);

            for (int h = 0; h < H; h++) plans[h] = maskplan_dense();
            attn_cuda_plan *dl = attn_cuda_plan_build_ex((const maskplan *const *)plans, n, n, H, Hkv, ATTN_CUDA_FORCE_LISTS | bflags);
            const float t_dl = time_it(&in, n, H, Hkv, d, dl, reps);
            printf("n=%-6d dense causal (list path)    density 1        tiles 1       build %7.2f  %9.4f ms  %6.1f TFLOP/s "
                   "(plan %.1f MB on device)\n",
                   n, dl->build_ms, t_dl, flops / t_dl / 1e9, dl->device_bytes / 1e6);
            attn_cuda_plan_free(dl);
            for (int h = 0; h < H; h++) maskplan_free(plans[h]);

            // DAM-like layout
            double dens = 0;
            for (int h = 0; h < H; h++) {
                plans[h] = bench_dam_like(h);
                dens += maskplan_density(plans[h], n) / H;
            }
            attn_cuda_plan *dp = attn_cuda_plan_build_ex((const maskplan *const *)plans, n, n, H, Hkv, bflags);
            const float t_dam = time_it(&in, n, H, Hkv, d, dp, reps);
            const double tile_d = (double)dp->head_tiles / dp->causal_tiles;
            const double acud = sh >= 0 ? anchor_dam_cudnn_ms(sh, n) : NAN, cud = isnan(acud) ? cudnn_ms : acud;
            const double flex = sh >= 0 ? anchor_dam_flex_ms(sh, n) : NAN;
            printf("n=%-6d DAM-like (4 sinks+12 cols<512+win 64+4 diags 448-511) %s density %.5f tiles %.4f build %7.2f  "
                   "%9.4f ms  (vs ours dense %.1fx faster; cuDNN dense %.4f ms -> %.1fx; Flex %.3f ms -> %.1fx; ideal = "
                   "density x cuDNN = %.4f ms, ours / ideal = %.1fx; our dense x tile density = %.4f ms; %lld masks, "
                   "%lld gathered tiles, %.1f MB)\n",
                   n, dp->gpu_lists ? "(GPU lists)" : "(host lists)", dens, tile_d, dp->build_ms, t_dam, t_dense / t_dam, cud, cud / t_dam, flex, flex / t_dam, dens * cud,
                   t_dam / (dens * cud), tile_d * t_dense, (long long)dp->n_masks, (long long)dp->n_gathered,
                   dp->device_bytes / 1e6);
            attn_cuda_plan_free(dp);
            dp = attn_cuda_plan_build_ex((const maskplan *const *)plans, n, n, H, Hkv, ATTN_CUDA_HOST_LISTS | bflags);
            const float t_hl = time_it(&in, n, H, Hkv, d, dp, reps);
            printf("n=%-6d DAM-like, host lists                 density %.5f tiles %.4f build %7.2f  %9.4f ms  (%lld masks, "
                   "%lld gathered tiles)\n", n, dens, (double)dp->head_tiles / dp->causal_tiles, dp->build_ms, t_hl,
                   (long long)dp->n_masks, (long long)dp->n_gathered);
            attn_cuda_plan_free(dp);
            dp = attn_cuda_plan_build_ex((const maskplan *const *)plans, n, n, H, Hkv, ATTN_CUDA_NO_GATHER | bflags);
            const float t_ng = time_it(&in, n, H, Hkv, d, dp, reps);
            printf("n=%-6d DAM-like, no gathered tiles          density %.5f tiles %.4f build %7.2f  %9.4f ms\n", n, dens,
                   (double)dp->head_tiles / dp->causal_tiles, dp->build_ms, t_ng);
            attn_cuda_plan_free(dp);
            for (int h = 0; h < H; h++) maskplan_free(plans[h]);

            // sink(128) + window, as in the anchors' FlexAttention table
            const int windows[2] = {4096, 1024};
            for (int wi = 0; wi < 2; wi++) {
                const int w = windows[wi];
                if (w >= n) continue;
                for (int h = 0; h < H; h++) plans[h] = bench_sink_window(128, w);
                const double dsw = maskplan_density(plans[0], n);
                attn_cuda_plan *sp = attn_cuda_plan_build_ex((const maskplan *const *)plans, n, n, H, Hkv, bflags);
                const float t_sw = time_it(&in, n, H, Hkv, d, sp, reps);
                const double fl = sh >= 0 ? anchor_sw_flex_ms(sh, n, w) : NAN;
                printf("n=%-6d sink 128 + window %-5d %s density %.5f tiles %.4f build %7.2f  %9.4f ms  (cuDNN dense "
                       "%.4f ms -> %.1fx; Flex %.3f ms -> %.2fx; ideal %.4f ms, ours / ideal %.2fx)\n",
                       n, w, sp->sink_window ? "(wgmma)" : "(lists)", dsw, (double)sp->head_tiles / sp->causal_tiles,
                       sp->build_ms, t_sw, cudnn_ms, cudnn_ms / t_sw, fl, fl / t_sw, dsw * cudnn_ms,
                       t_sw / (dsw * cudnn_ms));
                attn_cuda_plan_free(sp);
                if (!bflags) {  // the same plans on the mma.sync kernel's lists
                    sp = attn_cuda_plan_build_ex((const maskplan *const *)plans, n, n, H, Hkv, ATTN_CUDA_NO_WGMMA);
                    const float t_l = time_it(&in, n, H, Hkv, d, sp, reps);
                    printf("n=%-6d sink 128 + window %-5d (lists) build %7.2f  %9.4f ms\n", n, w, sp->build_ms, t_l);
                    attn_cuda_plan_free(sp);
                }
                for (int h = 0; h < H; h++) maskplan_free(plans[h]);
            }
            // block layouts (bench_blocks: the diagonal block + 5 .. 30 % of the earlier ones): the default
            // path (sm_90: the wgmma kernel from bits, 64 x 64 tiles at d = 64; at d = 128 64 x 64 or 128 x 128
            // by the efficiency rule), then the same plans on the other tiles and on the list kernel (lists
            // built on the GPU)
            for (int bi = 0; bi < 4; bi++) {
                const int pct = BENCH_BLOCK_PCT[bi];
                double db = 0;
                for (int h = 0; h < H; h++) {
                    plans[h] = bench_blocks(h, pct, n);
                    db += maskplan_density(plans[h], n) / H;
                }
                attn_cuda_plan *bp = attn_cuda_plan_build_ex((const maskplan *const *)plans, n, n, H, Hkv, bflags);
                const float t_b = time_it(&in, n, H, Hkv, d, bp, reps);
                printf("n=%-6d blocks %2d %% %-15s density %.5f tiles %.4f build %7.2f  %9.4f ms  (cuDNN dense %.4f ms -> "
                       "%.1fx; ideal = density x cuDNN %.4f ms, ours / ideal %.2fx; our dense x density %.4f ms)\n",
                       n, pct, !bp->block_bits ? (bp->gpu_lists ? "(GPU lists)" : "(host lists)")
                               : tiles_label(attn_cuda_block_fine(bp, d), d), db,
                       (double)bp->head_tiles / bp->causal_tiles, bp->build_ms, t_b, cudnn_ms, cudnn_ms / t_b, db * cudnn_ms,
                       t_b / (db * cudnn_ms), db * t_dense);
                const int fine = bp->block_bits ? attn_cuda_block_fine(bp, d) : -1;
                attn_cuda_plan_free(bp);
                if (!bflags && fine >= 0) {  // the other tiles of the wgmma kernel
                    bp = attn_cuda_plan_build_ex((const maskplan *const *)plans, n, n, H, Hkv,
                                                 fine ? ATTN_CUDA_BLOCK_BITS : ATTN_CUDA_BLOCK_FINE);
                    const float t_o = time_it(&in, n, H, Hkv, d, bp, reps);
                    printf("n=%-6d blocks %2d %% %-15s build %7.2f  %9.4f ms\n", n, pct,
                           tiles_label(!fine, d), bp->build_ms, t_o);
                    attn_cuda_plan_free(bp);
                }
                if (!bflags) {
                    bp = attn_cuda_plan_build_ex((const maskplan *const *)plans, n, n, H, Hkv, ATTN_CUDA_GPU_LISTS);
                    const float t_l = time_it(&in, n, H, Hkv, d, bp, reps);
                    printf("n=%-6d blocks %2d %% (lists)         build %7.2f  %9.4f ms\n", n, pct, bp->build_ms, t_l);
                    attn_cuda_plan_free(bp);
                }
                for (int h = 0; h < H; h++) maskplan_free(plans[h]);
            }
            free(plans);
        }
        int empty = 0;
        CUDA_CHECK(cudaMemcpy(&empty, in.empty, sizeof(int), cudaMemcpyDeviceToHost));
        if (empty) {
            fprintf(stderr, "dam: bench: %d empty rows reported\n", empty);
            return 1;
        }
        for (int s = 0; s < in.sets; s++) {
            CUDA_CHECK(cudaFree(in.q[s]));
            CUDA_CHECK(cudaFree(in.k[s]));
            CUDA_CHECK(cudaFree(in.v[s]));
        }
        CUDA_CHECK(cudaFree(in.o));
        CUDA_CHECK(cudaFree(in.empty));
    }
    return 0;
}
