#!/bin/bash
# run 84, call 7 (.carry/gpu rebuilt): what is kept — the bitonic select back (c5-c6's radix select
# was slower), the products in one launch per row chunk (keys copied per query head), the block sums'
# float4 loads at 3 CTAs per SM, est_cuda_last_phases. test_estimate_cuda full (now with the
# DAM_CUDA_XA_PER_KV variants, bit for bit) and quick under memcheck; bench_estimate xattention
# alternated with DAM_CUDA_XA_PER_KV=1 (the products as before) three times; ncu per kernel at 32K
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
echo "== memcheck test_estimate_cuda quick"; timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2 3; do
echo "== bench_estimate ($i)"; $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
echo "== bench_estimate DAM_CUDA_XA_PER_KV=1 ($i)"; DAM_CUDA_XA_PER_KV=1 $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
done
echo "== ncu xattention 32768"; $NCU -k regex:"xattention|strided|nvjet" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | cut -c1-150
} 2>&1 | tee $OUT/c7.log
