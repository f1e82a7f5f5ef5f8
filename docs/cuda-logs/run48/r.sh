#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r48/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=/tmp/r48; mkdir -p $R && tar xzf .carry/r48/bins.tgz -C $R
{
echo "== test_plan_host"; $R/test_plan_host 2>&1 | tail -1
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $R/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
echo "== bench 16K blocks"; $R/bench_attention_masked_cuda 16384 2>&1 | grep -E "blocks"
echo "== bench_estimate"; $R/bench_estimate --lengths 32768,131072 2>&1 | tail -9
} 2>&1 | tee $OUT/r.log
