#!/bin/bash
# run 86, call 4 (.carry/gpu): the warp select's bits from ballots against the last kept entry (no
# atomics; c3: shared-memory atomics), the block sums' pointers __restrict__ and each key block's
# maximum kept in a register. test_estimate_cuda full and quick under memcheck / racecheck;
# bench_estimate xattention alternated with c3's binary (4dcfde9, bench_c3.gz) and 723f1bb's
# (bench_estimate_prev.gz) three times at 32K; ncu per kernel at 32K
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
gunzip -c .carry/gpu/bench_estimate_prev.gz > /tmp/bench_prev && chmod +x /tmp/bench_prev
gunzip -c .carry/gpu/bench_c3.gz > /tmp/bench_c3 && chmod +x /tmp/bench_c3
NCU="ncu --clock-control none --metrics gpu__time_duration.sum,sm__warps_active.avg.pct_of_peak_sustained_active --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda > /tmp/t.log 2>&1; echo "rc $?"; grep -E "FAIL|fail|ok \(" /tmp/t.log | head -20; tail -2 /tmp/t.log
echo "== memcheck quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; timeout 200 compute-sanitizer --tool racecheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2 3; do
echo "== bench new ($i)"; $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 9 2>&1 | tail -4
echo "== bench c3 ($i)"; /tmp/bench_c3 --method xattention --lengths 32768,131072 --repeats 9 2>&1 | tail -4
echo "== bench prev ($i)"; /tmp/bench_prev --method xattention --lengths 32768,131072 --repeats 9 2>&1 | tail -4
done
echo "== ncu new 32768"; $NCU -k regex:"xattention" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration|pct" | cut -c1-150
} 2>&1 | tee $OUT/c4.log
