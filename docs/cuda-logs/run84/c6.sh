#!/bin/bash
# run 84, call 6 (.carry/gpu rebuilt): the radix select made contention-free — it starts at the first
# bit where the row's keys differ (c5: every key of a row in one bin at the top levels, so 64-bit
# shared atomics on one address) and adds each warp's equal digits once (__match_any_sync); the block
# sums back at 3 CTAs per SM (c5: 4 CTAs slower) with float4 loads. test_estimate_cuda full, quick
# under memcheck / racecheck; bench_estimate xattention three times; ncu per kernel at 32K and the
# select at 128K
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; timeout 240 compute-sanitizer --tool $t --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2; done
for i in 1 2 3; do
echo "== bench_estimate ($i)"; $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
done
echo "== bench_estimate minference dam_online"; $B/bench_estimate --method minference --method dam_online --lengths 32768 --repeats 7 2>&1 | tail -2
echo "== ncu xattention 32768"; $NCU -k regex:"xattention|strided|nvjet" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | cut -c1-150
echo "== ncu xattention 131072 select"; $NCU -k regex:"xattention_select" $B/bench_estimate --lengths 131072 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | cut -c1-150
} 2>&1 | tee $OUT/c6.log
