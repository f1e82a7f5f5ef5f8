#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r37/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=.carry/r37
{
echo "== test_estimate_cuda"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -vE "^  (xattention scores|vertical|flexprefill covers)" | tail -4
echo "== memcheck quick"; compute-sanitizer --tool memcheck $R/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; compute-sanitizer --tool racecheck $R/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2; do
echo "== bench prev (fb3e930) $i"; $R/bench_prev --lengths 32768,131072 --method flexprefill 2>&1 | tail -2
echo "== bench new $i"; $R/bench_estimate --lengths 32768,131072 --method flexprefill 2>&1 | tail -2
done
} 2>&1 | tee $OUT/r.log
