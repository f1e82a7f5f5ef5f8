#!/bin/bash
# run 62, call 4: the model on the GPU and full attention end to end: default (64 x 128 at d = 64) vs
# 64 x 64 (WG=1) vs 192 x 128 (WG=3), same binary
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_model_cuda"; $B/tests/cuda/test_model_cuda 2>&1 | tail -6
for wg in 0 1 3; do
echo "== E2E full WG=$wg"; DAM_CUDA_WGMMA_WG=$wg $B/dam bench --device cuda --method full --lengths 32768,131072 --chunk 1048576 --warmup 1 --repeats 3 2>&1 | tail -2
done
echo "== E2E 32K / 128K, all dynamic methods (default)"; $B/dam bench --device cuda --method full --method minference --method xattention --method flexprefill --method dam_online --lengths 32768,131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -10
} 2>&1 | tee $OUT/c4.log
