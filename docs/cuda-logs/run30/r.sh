#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r30/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=.carry/r30
{
echo "== test (full)"; /usr/bin/time -f "%e s" $R/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|kernel runs|ok \(| s$' | head -20
echo "== bench d64 16K"; $R/bench_attention_masked_cuda 16384 2>&1 | grep -i 'dam-like'
echo "== bench_estimate"; $R/bench_estimate --lengths 32768,131072 2>&1 | tail -10
} 2>&1 | tee $OUT/r.log
