#!/bin/bash
source scripts/cuda-device-env.sh
cp .carry/gpu-m2/bench_old /tmp/dam-gpu/
B=build-cuda; O=/tmp/dam-gpu
{
for i in 1 2 3; do
echo "== bench_estimate new ($i)"; $B/tests/cuda/bench_estimate --lengths 32768,131072 --method xattention --method flexprefill 2>&1 | tail -4
echo "== bench_estimate old ffa56ce ($i)"; $O/bench_old --lengths 32768,131072 --method xattention --method flexprefill 2>&1 | tail -4
done
} 2>&1 | tee $OUT/c3.log
