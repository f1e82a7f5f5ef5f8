#!/bin/bash
# run 72, call 2 (model part 1): the masked kernels' quick set under memcheck and racecheck
source scripts/cuda-device-env.sh
B=build-cuda
{ for t in memcheck racecheck; do echo "== $t quick"; /usr/bin/time -f "%e s" timeout 280 compute-sanitizer --tool $t --error-exitcode 9 $B/cuda/test_attention_masked_cuda quick 2>&1 | tail -3; done; } 2>&1 | tee $OUT/c2.log
