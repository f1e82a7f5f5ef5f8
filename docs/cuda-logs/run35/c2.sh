#!/bin/bash
source scripts/cuda-device-env.sh
mkdir -p /tmp/old && cp .carry/old/* /tmp/old/
B=build-cuda
{
for i in 1 2; do
echo "== bench_estimate old (c3ae04a) $i"; /tmp/old/bench_estimate --lengths 32768,131072 2>&1 | tail -8
echo "== bench_estimate new (fb3e930) $i"; $B/tests/cuda/bench_estimate --lengths 32768,131072 2>&1 | tail -8
done
} 2>&1 | tee $OUT/c2.log
