#!/bin/bash
# run 71: run 70 with the warp kernel's partial sums in shared memory (run 70 kept them in device memory,
# which counted against the estimate's scratch budget: fewer heads per chunk at 128K, 9 % slower there):
# test_estimate_cuda full, memcheck / racecheck quick, bench_estimate against c89490c alternated twice
mkdir -p /tmp/l && tar xzf .carry/r71/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r71; mkdir -p $R && tar xzf .carry/r71/bins.tgz -C $R
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(|note| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; timeout 100 compute-sanitizer --tool $t --error-exitcode 9 $R/test_estimate_cuda quick 2>&1 | tail -2; done
for i in 1 2; do
echo "== bench_estimate new ($i)"; $R/bench_estimate --lengths 32768,131072 --repeats 3 2>&1 | tail -9
echo "== bench_estimate prev c89490c ($i)"; $R/bench_prev --lengths 32768,131072 --repeats 3 2>&1 | tail -9
done
} 2>&1 | tee $OUT/r.log
