#!/bin/bash
# run 78, call 1 (.carry/gpu): est_cuda_top_k by radix select, one CTA per row (estimate_top_k.cu;
# MInference's top-k, was CUB's sort of whole rows): test_estimate_cuda full, its quick set under
# memcheck and racecheck, bench_estimate for minference against the previous binary (3605cd0's code:
# 3580980) alternated three times, ncu kernel times of minference at 32K
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
P=/tmp/dam-gpu/bench_estimate_prev
[ -x $P ] || { gunzip -c .carry/gpu/bench_estimate_prev.gz >$P && chmod +x $P; }
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(|note| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; timeout 200 compute-sanitizer --tool $t --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2; done
for i in 1 2 3; do
echo "== bench_estimate new ($i)"; $B/bench_estimate --method minference --lengths 32768,131072 --repeats 5 2>&1 | tail -3
echo "== bench_estimate prev ($i)"; $P --method minference --lengths 32768,131072 --repeats 5 2>&1 | tail -3
done
echo "== bench_estimate new, all four methods"; $B/bench_estimate --lengths 32768,131072 --repeats 5 2>&1 | tail -9
for b in $B/bench_estimate $P; do echo "== ncu minference 32768 ($b)"; $NCU $b --lengths 32768 --repeats 1 --method minference 2>&1 | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/' | head -60; done
} 2>&1 | tee $OUT/c1.log
