#!/bin/bash
# run 84, call 5 (.carry/gpu rebuilt): XAttention's select by a radix select over the order keys (no
# sort; c1's ncu: the bitonic select 127 us per estimate at 32K, shared-memory bound) and its block
# sums with float4 loads at 4 CTAs per SM (64 registers, some spills) against 3 (DAM_CUDA_XA_WARP_CTAS=3,
# 78 -> 80 registers) alternated; test_estimate_cuda full (GPU bits == CPU bits, every path), its
# quick set under memcheck and racecheck; ncu per kernel at 32K
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; timeout 240 compute-sanitizer --tool $t --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2; done
for i in 1 2 3; do
echo "== bench_estimate 4 CTAs ($i)"; $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
echo "== bench_estimate 3 CTAs ($i)"; DAM_CUDA_XA_WARP_CTAS=3 $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
done
echo "== ncu xattention 32768 (4 CTAs)"; $NCU -k regex:"xattention|strided|nvjet|memset" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | cut -c1-150
echo "== ncu xattention 32768 (3 CTAs)"; DAM_CUDA_XA_WARP_CTAS=3 $NCU -k regex:"xattention_block" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | cut -c1-150
echo "== ncu xattention 131072 select"; $NCU -k regex:"xattention_select" $B/bench_estimate --lengths 131072 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | cut -c1-150
} 2>&1 | tee $OUT/c5.log
