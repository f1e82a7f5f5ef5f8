#!/bin/bash
# run 60, call 1: the kernel tests and benches of the 64 x 64 tiles as the d = 64 default
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_plan_host"; $B/tests/cuda/test_plan_host 2>&1 | tail -1
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $B/cuda/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
echo "== fault3 (must fail)"; $B/cuda/test_attention_masked_cuda_fault3 quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"
echo "== bench d64 16K"; $B/cuda/bench_attention_masked_cuda 16384 2>&1 | grep -vE "DAM-like,"
echo "== bench d128 16K"; $B/cuda/bench_attention_masked_cuda -s 32 8 128 16384 2>&1 | grep -E "dense causal \(dense|blocks|window"
} 2>&1 | tee $OUT/c1.log
