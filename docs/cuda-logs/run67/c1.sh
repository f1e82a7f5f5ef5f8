#!/bin/bash
# run 67, call 1 (binaries, libraries, data): the decode and element-wise kernels' tests (c89490c)
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_attention_decode_cuda quick"; $B/cuda/test_attention_decode_cuda quick 2>&1 | tail -1
echo "== test_ops_cuda"; $B/tests/cuda/test_ops_cuda 2>&1 | tail -1
echo "== test_plan_host"; $B/tests/cuda/test_plan_host 2>&1 | tail -1
} 2>&1 | tee $OUT/c1.log
