#!/bin/bash
# run 72, call 1 (.carry/gpu, binaries of branch dam-split): the masked kernels' full test (bitmap plans
# split: rows past the bitmaps on the GPU build) and the broken builds
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $B/cuda/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
for f in 1 2 3; do echo "== fault$f quick (must fail)"; $B/cuda/test_attention_masked_cuda_fault$f quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"; done
} 2>&1 | tee $OUT/c1.log
