#!/bin/bash
# run 67, call 3 (model part 2): the estimation test's quick set (c89490c)
source scripts/cuda-device-env.sh
B=build-cuda
{ echo "== test_estimate_cuda quick"; $B/tests/cuda/test_estimate_cuda quick 2>&1 | tail -1; } 2>&1 | tee $OUT/c3.log
