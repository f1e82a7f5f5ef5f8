#!/bin/bash
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_plan_host"; $B/tests/cuda/test_plan_host 2>&1 | tail -2
echo "== test_estimate_cuda"; /usr/bin/time -f "%e s" $B/tests/cuda/test_estimate_cuda 2>&1 | tail -2
echo "== test_attention_masked_cuda quick"; $B/cuda/test_attention_masked_cuda quick 2>&1 | tail -1
echo "== bench_estimate (new, all methods)"; $B/tests/cuda/bench_estimate --lengths 32768,131072 2>&1 | tail -9
} 2>&1 | tee $OUT/c1.log
