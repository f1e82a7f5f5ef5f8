#!/bin/bash
# run 86, call 3 (.carry/gpu): c2's exp_neg dropped (block sums 5 % slower: not float64-bound); the
# block sums read each logit row once (each key block's sum relative to its own maximum, then scaled
# to the row's); the warp select's network as loops (the unrolled one overflows the instruction cache),
# its rows' bits assembled in shared memory; test_estimate_cuda's 200K XAttention case without the
# forced warp block sums (c2's full run exited there). Same checks and benches as c2.
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
gunzip -c .carry/gpu/bench_estimate_prev.gz > /tmp/bench_prev && chmod +x /tmp/bench_prev
gunzip -c .carry/gpu/bench_c1.gz > /tmp/bench_c1 && chmod +x /tmp/bench_c1
NCU="ncu --clock-control none --metrics gpu__time_duration.sum,sm__pipe_fp64_cycles_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda > /tmp/t.log 2>&1; echo "rc $?"; grep -E "FAIL|fail|ok \(" /tmp/t.log | head -20; tail -3 /tmp/t.log
echo "== memcheck quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; timeout 200 compute-sanitizer --tool racecheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2; do
echo "== bench new ($i)"; $B/bench_estimate --method xattention --lengths 32768,65536,131072 --repeats 9 2>&1 | tail -6
echo "== bench c1 ($i)"; /tmp/bench_c1 --method xattention --lengths 32768,65536,131072 --repeats 9 2>&1 | tail -6
echo "== bench prev ($i)"; /tmp/bench_prev --method xattention --lengths 32768,65536,131072 --repeats 9 2>&1 | tail -6
done
echo "== bench all methods 32K, 128K"; $B/bench_estimate --lengths 32768,131072 --repeats 7 2>&1 | tail -11
echo "== ncu new 32768"; $NCU -k regex:"xattention|strided|nvjet|gemm" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration|pct" | cut -c1-150
} 2>&1 | tee $OUT/c3.log
