#!/bin/bash
# run 72, call 4 (model part 3, assembled): the model test, then full vs DAM end to end at 8K-128K (DAM's
# plans now split: compare run 67's mask_ms 24.6 / 47.2 / 131.4 ms)
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_model_cuda"; $B/tests/cuda/test_model_cuda 2>&1 | tail -4
echo "== E2E full / dam 2K-128K"; $B/dam bench --device cuda --method full --method dam --lengths 2048,4096,8192,32768,131072 --chunk 1048576 --warmup 1 --repeats 3 2>&1 | tail -12
} 2>&1 | tee $OUT/c4.log
