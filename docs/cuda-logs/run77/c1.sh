#!/bin/bash
# run 77, call 1 (.carry/gpu, binaries of dam-prebuild): the bitmap masks uploaded straight into d_words
# (not kept in d_parts): the masked kernels' full test, quick set under memcheck, the broken builds, and
# bench_plan_build (run 76: build 4.40 / 4.36 / 6.80 / 15.18 / 283.84 ms)
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $B/cuda/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
echo "== memcheck quick"; compute-sanitizer --tool memcheck --error-exitcode 9 $B/cuda/test_attention_masked_cuda quick 2>&1 | tail -2
for f in 1 2 3; do echo "== fault$f quick (must fail)"; $B/cuda/test_attention_masked_cuda_fault$f quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"; done
echo "== bench_plan_build"; $B/tests/cuda/bench_plan_build --patterns .carry/gpu/patterns.h5 --lengths 2048,8192,32768,131072,1048576 --repeats 5
} 2>&1 | tee $OUT/c1.log
