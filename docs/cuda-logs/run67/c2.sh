#!/bin/bash
# run 67, call 2 (model part 1): compute-sanitizer memcheck of the masked kernels' quick set (c89490c)
source scripts/cuda-device-env.sh
B=build-cuda
{ echo "== memcheck test_attention_masked_cuda quick"; /usr/bin/time -f "%e s" timeout 250 compute-sanitizer --tool memcheck --error-exitcode 9 $B/cuda/test_attention_masked_cuda quick 2>&1 | tail -3; } 2>&1 | tee $OUT/c2.log
