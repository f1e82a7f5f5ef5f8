#!/bin/bash
# run 62, call 1: kernel tests with the 64 x 128 tiles (dense, windows >= 2048 at d = 64) and the 64 x 64
# ones; then the bench's defaults at d = 64 and d = 128
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $B/cuda/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
echo "== fault3 (must fail)"; $B/cuda/test_attention_masked_cuda_fault3 quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"
echo "== bench d64"; $B/cuda/bench_attention_masked_cuda 4096 16384 65536 2>&1 | grep -E "dense causal \(dense|window.*wgmma|DAM-like \(|blocks.*%.*density"
echo "== bench d128 16K"; $B/cuda/bench_attention_masked_cuda -s 32 8 128 16384 2>&1 | grep -E "dense causal \(dense|window.*wgmma"
} 2>&1 | tee $OUT/c1.log
