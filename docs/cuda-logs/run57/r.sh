#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r57/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r57; mkdir -p $R && tar xzf .carry/r57/bins.tgz -C $R
{
echo "== test_plan_host"; $R/test_plan_host 2>&1 | tail -2
echo "== test_estimate_cuda"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -E "xattention scores .*n 20000|FAIL|ok \(| s$" | head -20
echo "== memcheck quick"; compute-sanitizer --tool memcheck $R/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; compute-sanitizer --tool racecheck $R/test_estimate_cuda quick 2>&1 | tail -2
echo "== bench_estimate"; $R/bench_estimate --lengths 32768,131072 --method xattention --repeats 5 2>&1 | tail -2
} 2>&1 | tee $OUT/r.log
