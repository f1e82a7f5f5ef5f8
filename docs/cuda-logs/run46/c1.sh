#!/bin/bash
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_plan_host"; $B/tests/cuda/test_plan_host 2>&1 | tail -1
echo "== bench_attention_masked 16K (layouts)"; $B/cuda/bench_attention_masked_cuda 16384 2>&1 | tail -12
} 2>&1 | tee $OUT/c1.log
