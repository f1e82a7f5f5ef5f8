#!/bin/bash
# run 78, call 7 (.carry/gpu): the review's test gaps closed (a cut inside the zeros on both paths,
# negative scores, rows shorter than a tile, k = 1 everywhere, rows longer than one pass in quick
# mode): test_estimate_cuda full, quick under memcheck and racecheck
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; timeout 200 compute-sanitizer --tool $t --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2; done
} 2>&1 | tee $OUT/c7.log
