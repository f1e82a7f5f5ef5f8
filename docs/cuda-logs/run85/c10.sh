#!/bin/bash
# run 85, call 10 (.carry/gpu): after the last look removed XAttention's DAM_CUDA_XA_PER_KV switch (the old
# per-KV-head products, kept only for run 84's A/B): test_estimate_cuda full and quick under memcheck,
# bench_estimate xattention once (run 84 c7: est 0.81-0.86 ms at 32K)
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
echo "== memcheck quick"; timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
echo "== bench_estimate"; $B/bench_estimate --method xattention --lengths 32768 --repeats 7 2>&1 | tail -2
} 2>&1 | tee $OUT/c10.log
