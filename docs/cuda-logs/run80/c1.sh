#!/bin/bash
# run 80, call 1 (.carry/gpu, binaries of branch plan-batch): every layer's GPU list build batched (attn_cuda_plan_build_layers)
# the masked kernels' full test (batch_cases: batched builds byte for byte equal to single ones), quick set under
# memcheck, the broken builds, bench_plan_build (batch_ms beside build_ms; run 77: build 5.26 / 5.26 / 9.36 / 16.44 / 284.82 ms)
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $B/cuda/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
echo "== memcheck quick"; compute-sanitizer --tool memcheck --error-exitcode 9 $B/cuda/test_attention_masked_cuda quick 2>&1 | tail -2
for f in 1 2 3; do echo "== fault$f quick (must fail)"; $B/cuda/test_attention_masked_cuda_fault$f quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"; done
echo "== bench_plan_build"; $B/tests/cuda/bench_plan_build --patterns .carry/gpu/patterns.h5 --lengths 2048,8192,32768,131072,1048576 --repeats 5
} 2>&1 | tee $OUT/c1.log
