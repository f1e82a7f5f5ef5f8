#!/bin/bash
# run 76, call 1 (.carry/gpu): the GPU list build with its scratch kept across builds, one read-back of the
# totals and one allocation for the lists; attn_ctx_prepare / bench_plan_build's prepare in parallel. The
# masked kernels' quick set (every plan kind on both builds) plain and under memcheck, the broken builds,
# the estimation test (quick), and bench_plan_build (run 74: build 9.31 / 10.88 / 12.21 / 21.89 / 302.54 ms,
# free 1.82 / 1.88 / 3.06 / 4.89 / 9.78, prepare 5.7-6.0 serial)
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_attention_masked_cuda quick"; $B/cuda/test_attention_masked_cuda quick 2>&1 | grep -E 'FAIL|ok \(|quick:' | head -20
echo "== memcheck quick"; /usr/bin/time -f "%e s" compute-sanitizer --tool memcheck --error-exitcode 9 $B/cuda/test_attention_masked_cuda quick 2>&1 | tail -3
for f in 1 2 3; do echo "== fault$f quick (must fail)"; $B/cuda/test_attention_masked_cuda_fault$f quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"; done
echo "== test_estimate_cuda quick"; $B/tests/cuda/test_estimate_cuda quick 2>&1 | tail -1
echo "== bench_plan_build"; $B/tests/cuda/bench_plan_build --patterns .carry/gpu/patterns.h5 --lengths 2048,8192,32768,131072,1048576 --repeats 5
echo "== bench_estimate 32K (conv_ms: MInference's plans on the GPU build; run 72: 0.62 ms)"; $B/tests/cuda/bench_estimate --lengths 32768 --repeats 3 --method minference 2>&1 | tail -1
} 2>&1 | tee $OUT/c1.log
