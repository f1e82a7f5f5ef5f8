#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r56/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r56; mkdir -p $R && tar xzf .carry/r56/bins.tgz -C $R
{
echo "== test_plan_host"; $R/test_plan_host 2>&1 | tail -1
for i in 1 2 3 4; do
echo "== bench_estimate new ($i)"; $R/bench_estimate --lengths 32768,131072 --method xattention --repeats 5 2>&1 | tail -2
echo "== bench_estimate prev 29d101f ($i)"; $R/bench_prev --lengths 32768,131072 --method xattention --repeats 5 2>&1 | tail -2
done
} 2>&1 | tee $OUT/r.log
