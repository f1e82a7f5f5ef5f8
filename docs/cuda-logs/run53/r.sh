#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r53/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r53; mkdir -p $R && tar xzf .carry/r53/bins.tgz -C $R
{
echo "== test_plan_host"; $R/test_plan_host 2>&1 | tail -1
echo "== test_estimate_cuda"; $R/test_estimate_cuda 2>&1 | tail -1
echo "== test_attention_masked_cuda quick"; $R/test_attention_masked_cuda quick 2>&1 | tail -1
for i in 1 2 3; do
echo "== bench_estimate new ($i)"; $R/bench_estimate --lengths 32768,131072 --method xattention --method flexprefill 2>&1 | tail -4
echo "== bench_estimate prev 627302c ($i)"; $R/bench_prev --lengths 32768,131072 --method xattention --method flexprefill 2>&1 | tail -4
done
} 2>&1 | tee $OUT/r.log
