#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r38/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=.carry/r38
{
echo "== test_estimate_cuda"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -vE "^  (xattention scores|flexprefill covers)" | tail -14
echo "== memcheck quick"; compute-sanitizer --tool memcheck $R/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; compute-sanitizer --tool racecheck $R/test_estimate_cuda quick 2>&1 | tail -2
echo "== bench"; $R/bench_estimate --lengths 32768 2>&1 | tail -5
} 2>&1 | tee $OUT/r.log
