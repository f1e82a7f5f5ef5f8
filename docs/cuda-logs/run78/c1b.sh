#!/bin/bash
# run 78, call 1b (.carry/gpu): c1's first version of top_k_rows took 90 us at 32K (one load in
# flight per thread); this one loads eight per thread per pass. The same tests, the bench against the
# previous binary (3580980) alternated three times, ncu of top_k_rows at 32K and 128K
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
P=/tmp/dam-gpu/bench_estimate_prev
[ -x $P ] || { gunzip -c .carry/gpu/bench_estimate_prev.gz >$P && chmod +x $P; }
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; timeout 200 compute-sanitizer --tool $t --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2; done
for i in 1 2 3; do
echo "== bench_estimate new ($i)"; $B/bench_estimate --method minference --lengths 32768,131072 --repeats 5 2>&1 | tail -2
echo "== bench_estimate prev ($i)"; $P --method minference --lengths 32768,131072 --repeats 5 2>&1 | tail -2
done
for n in 32768 131072; do echo "== ncu top_k_rows $n"; $NCU -k regex:top_k_rows $B/bench_estimate --lengths $n --repeats 1 --method minference 2>&1 | grep -E "duration"; done
} 2>&1 | tee $OUT/c1b.log
