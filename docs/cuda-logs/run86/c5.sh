#!/bin/bash
# run 86, call 5 (.carry/gpu): the warp select sizes each row's sort to the row (one launch over all
# query blocks: c4 sorted every row at the longest row's size). test_estimate_cuda full and quick under
# memcheck / racecheck; bench_estimate xattention alternated with c4's binary (bench_c4.gz) and
# 723f1bb's (bench_estimate_prev.gz) three times at 32K and 128K; all methods at 32K; ncu of the select
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
gunzip -c .carry/gpu/bench_estimate_prev.gz > /tmp/bench_prev && chmod +x /tmp/bench_prev
gunzip -c .carry/gpu/bench_c4.gz > /tmp/bench_c4 && chmod +x /tmp/bench_c4
NCU="ncu --clock-control none --metrics gpu__time_duration.sum,sm__warps_active.avg.pct_of_peak_sustained_active --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda > /tmp/t.log 2>&1; echo "rc $?"; grep -E "FAIL|fail|ok \(" /tmp/t.log | head -20; tail -2 /tmp/t.log
echo "== memcheck quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; timeout 200 compute-sanitizer --tool racecheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2 3; do
echo "== bench new ($i)"; $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 9 2>&1 | tail -4
echo "== bench c4 ($i)"; /tmp/bench_c4 --method xattention --lengths 32768,131072 --repeats 9 2>&1 | tail -4
echo "== bench prev ($i)"; /tmp/bench_prev --method xattention --lengths 32768,131072 --repeats 9 2>&1 | tail -4
done
echo "== bench all methods 32K"; $B/bench_estimate --lengths 32768 --repeats 9 2>&1 | tail -6
echo "== ncu new 32768"; $NCU -k regex:"xattention_select" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration|pct" | cut -c1-150
} 2>&1 | tee $OUT/c5.log
