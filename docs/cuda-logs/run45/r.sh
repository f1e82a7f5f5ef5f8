#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r45/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin
R=/tmp/r45; mkdir -p $R && tar xzf .carry/r45/bins.tgz -C $R
{
echo "== test_plan_host"; $R/test_plan_host 2>&1 | tail -1
echo "== test_attention_masked_cuda quick"; $R/test_attention_masked_cuda quick 2>&1 | tail -2
for i in 1 2; do
echo "== bench_estimate new $i"; $R/bench_estimate --lengths 32768,131072 2>&1 | tail -9
echo "== bench_estimate prev (afade14) $i"; $R/bench_prev --lengths 32768,131072 --method xattention 2>&1 | tail -2
done
} 2>&1 | tee $OUT/r.log
