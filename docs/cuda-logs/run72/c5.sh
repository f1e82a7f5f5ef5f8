#!/bin/bash
# run 72, call 5: DAM at 1M (run 67: 2,422.5 ms, mask 1,461.5), the default config on the GPU, and the
# estimates per layer
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== E2E dam 1M"; $B/dam bench --device cuda --method dam --lengths 1048576 --chunk 1048576 --warmup 0 --repeats 1 2>&1 | tail -2
echo "== bench_estimate"; $B/tests/cuda/bench_estimate --lengths 32768,131072 --repeats 3 2>&1 | tail -9
} 2>&1 | tee $OUT/c5.log
