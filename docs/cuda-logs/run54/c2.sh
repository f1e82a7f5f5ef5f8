#!/bin/bash
source scripts/cuda-device-env.sh
cp .carry/gpu-m1/dam_old build-cuda/dam_old; cp .carry/gpu-m1/bench_prev /tmp/dam-gpu/
B=build-cuda; O=/tmp/dam-gpu
{
for i in 1 2 3; do
echo "== bench_estimate new ($i)"; $B/tests/cuda/bench_estimate --lengths 32768,131072 --method xattention --method flexprefill --method dam_online 2>&1 | tail -6
echo "== bench_estimate prev 157a359 ($i)"; $O/bench_prev --lengths 32768,131072 --method xattention --method flexprefill --method dam_online 2>&1 | tail -6
done
} 2>&1 | tee $OUT/c2.log
