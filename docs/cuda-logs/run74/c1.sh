#!/bin/bash
# run 74, call 1 (.carry/gpu, binaries of branch gpu-bitmap): bitmap plans (DAM's) on the GPU list build
# (their bitmap rows' tiles as host-made masks): the host half's test, the masked kernels' quick set, the
# plan-build benchmark (run 73 before: build_ms 19.2 / 18.0 / 18.4 / 28.7 / 338.7 ms at 2K / 8K / 32K /
# 128K / 1M), then the masked kernels' full test and the broken builds
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_plan_host"; $B/tests/cuda/test_plan_host 2>&1 | tail -2
echo "== test_attention_masked_cuda quick"; $B/cuda/test_attention_masked_cuda quick 2>&1 | grep -E 'FAIL|ok \(|quick:' | head -20
echo "== bench_plan_build"; $B/tests/cuda/bench_plan_build --patterns .carry/gpu/patterns.h5 --lengths 2048,8192,32768,131072,1048576 --repeats 5
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $B/cuda/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
for f in 1 2 3; do echo "== fault$f quick (must fail)"; $B/cuda/test_attention_masked_cuda_fault$f quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"; done
} 2>&1 | tee $OUT/c1.log
