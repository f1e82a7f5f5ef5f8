#!/bin/bash
source scripts/cuda-device-env.sh
B=build-cuda
{ echo "== memcheck test_estimate_cuda quick"; compute-sanitizer --tool memcheck $B/tests/cuda/test_estimate_cuda quick 2>&1 | tail -2; } 2>&1 | tee $OUT/c3.log
