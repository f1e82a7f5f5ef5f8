#!/bin/bash
# run 62, call 2: compute-sanitizer on the masked kernels' quick set
source scripts/cuda-device-env.sh
B=build-cuda
{
for tool in memcheck racecheck; do
echo "== $tool test_attention_masked_cuda quick"; /usr/bin/time -f "%e s" timeout 280 compute-sanitizer --tool $tool --error-exitcode 9 $B/cuda/test_attention_masked_cuda quick 2>&1 | tail -3
done
} 2>&1 | tee $OUT/c2.log
