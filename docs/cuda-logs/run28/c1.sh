#!/bin/bash
source scripts/cuda-device-env.sh; tar xzf .carry/gpu/bin.tgz
B=build-cuda
{
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $B/cuda/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|kernel runs|ok \(| s$' | head -20
echo "== test_plan_host"; $B/tests/cuda/test_plan_host 2>&1 | tail -1
echo "== bench d64"; $B/cuda/bench_attention_masked_cuda 16384 65536 2>&1 | grep -i 'dam-like\|dense causal'
echo "== bench_estimate"; $B/tests/cuda/bench_estimate --lengths 32768 2>&1 | tail -6
} 2>&1 | tee $OUT/c1.log
