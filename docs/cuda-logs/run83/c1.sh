#!/bin/bash
# run 83, call 1 (.carry/gpu, main after the phase timers): where the batched build's ~0.1 ms per layer
# goes — bench_plan_build with the phases of attn_cuda_plan_build_layers' GPU build (run 81: batch_ms
# 4.08 / 3.78 / 4.21 / 11.20 ms at 2K / 8K / 32K / 128K)
source scripts/cuda-device-env.sh
B=build-cuda
$B/tests/cuda/bench_plan_build --patterns .carry/gpu/patterns.h5 --lengths 2048,8192,32768,131072 --repeats 5 2>&1 | tee $OUT/c1.log
