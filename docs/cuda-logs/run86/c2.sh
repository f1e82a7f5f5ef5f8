#!/bin/bash
# run 86, call 2 (.carry/gpu): XAttention's select once per head chunk over all query blocks (the warp
# kernel, when the longest sort has <= 1,024 entries), its block sums' exps by exp_neg (a 16-entry
# table and a degree-7 polynomial, ~14 float64 operations against CUDA exp's ~24), the host's plans
# from the bits in one copying pass. test_estimate_cuda full (now with XAttention at 200K tokens) and
# quick under memcheck / racecheck; bench_estimate xattention alternated with c1's binary
# (bench_c1.gz) and 723f1bb's (bench_estimate_prev.gz) twice; all methods; ncu per kernel at 32K
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
gunzip -c .carry/gpu/bench_estimate_prev.gz > /tmp/bench_prev && chmod +x /tmp/bench_prev
gunzip -c .carry/gpu/bench_c1.gz > /tmp/bench_c1 && chmod +x /tmp/bench_c1
NCU="ncu --clock-control none --metrics gpu__time_duration.sum,sm__pipe_fp64_cycles_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$|200000" | head -20
echo "== memcheck quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; timeout 200 compute-sanitizer --tool racecheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2; do
echo "== bench new ($i)"; $B/bench_estimate --method xattention --lengths 32768,65536,131072 --repeats 9 2>&1 | tail -6
echo "== bench c1 ($i)"; /tmp/bench_c1 --method xattention --lengths 32768,65536,131072 --repeats 9 2>&1 | tail -6
echo "== bench prev ($i)"; /tmp/bench_prev --method xattention --lengths 32768,65536,131072 --repeats 9 2>&1 | tail -6
done
echo "== bench all methods 32K, 128K"; $B/bench_estimate --lengths 32768,131072 --repeats 7 2>&1 | tail -11
echo "== ncu new 32768"; $NCU -k regex:"xattention|strided|nvjet|gemm" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration|pct" | cut -c1-150
} 2>&1 | tee $OUT/c2.log
