#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r39/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=.carry/r39
{
echo "== test_estimate_cuda"; $R/test_estimate_cuda 2>&1 | tail -1
for i in 1 2 3; do
echo "== prev (d059629) $i"; $R/bench_prev --lengths 32768 --method minference --repeats 5 2>&1 | tail -1
echo "== new $i"; $R/bench_estimate --lengths 32768 --method minference --repeats 5 2>&1 | tail -1
done
} 2>&1 | tee $OUT/r.log
