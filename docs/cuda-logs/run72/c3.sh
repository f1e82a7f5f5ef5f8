#!/bin/bash
# run 72, call 3 (model part 2): the estimation test (the kept block-sums dispatch of bc690ba, not run
# before) and its quick set under memcheck / racecheck
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/tests/cuda/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(|note| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; /usr/bin/time -f "%e s" timeout 280 compute-sanitizer --tool $t --error-exitcode 9 $B/tests/cuda/test_estimate_cuda quick 2>&1 | tail -2; done
} 2>&1 | tee $OUT/c3.log
