#!/bin/bash
# run 74, call 3 (model part 2): the other GPU tests that build plans (quick)
source scripts/cuda-device-env.sh
B=build-cuda
{ echo "== test_estimate_cuda quick"; $B/tests/cuda/test_estimate_cuda quick 2>&1 | tail -1
  echo "== DAM_CUDA_WGMMA_WG=1 masked quick"; DAM_CUDA_WGMMA_WG=1 $B/cuda/test_attention_masked_cuda quick 2>&1 | tail -1; } 2>&1 | tee $OUT/c3.log
