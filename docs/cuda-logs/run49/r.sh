#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r49/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=/tmp/r49; mkdir -p $R && tar xzf .carry/r49/bins.tgz -C $R
{
echo "== test_plan_host"; $R/test_plan_host 2>&1 | tail -1
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $R/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
} 2>&1 | tee $OUT/r.log
