#!/bin/bash
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/tests/cuda/test_estimate_cuda 2>&1 | grep -vE "^  (xattention scores|vertical|flexprefill covers)" | tail -4
echo "== memcheck quick"; compute-sanitizer --tool memcheck $B/tests/cuda/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; compute-sanitizer --tool racecheck $B/tests/cuda/test_estimate_cuda quick 2>&1 | tail -2
echo "== test_plan_host"; $B/tests/cuda/test_plan_host 2>&1 | tail -1
echo "== bench_estimate (new)"; $B/tests/cuda/bench_estimate --lengths 32768,131072 2>&1 | tail -9
} 2>&1 | tee $OUT/c1.log
