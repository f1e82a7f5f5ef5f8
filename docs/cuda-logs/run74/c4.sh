#!/bin/bash
# run 74, call 4 (model part 3, assembled): the model test, full vs DAM end to end at 2K-128K (run 72:
# DAM mask_ms 23.8 / 25.6 / 25.6 / 45.0 / 123.9 ms, full 4.9 / 9.4 / 20.4 / 143.8 / 1,695 ms), DAM at
# 1M (run 72: 2,383 ms, mask 1,091), and the default config on the GPU
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_model_cuda"; $B/tests/cuda/test_model_cuda 2>&1 | tail -2
echo "== E2E full / dam 2K-128K"; $B/dam bench --device cuda --method full --method dam --lengths 2048,4096,8192,16384,32768,131072 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -13
echo "== E2E dam 1M"; $B/dam bench --device cuda --method dam --lengths 1048576 --chunk 1048576 --warmup 0 --repeats 1 2>&1 | tail -1
} 2>&1 | tee $OUT/c4.log
