#!/bin/bash
# run 67, call 4 (model part 3, assembled): the model on the GPU against the CPU, then full vs DAM vs
# StreamingLLM end to end at 8K / 32K / 128K (the default config's methods; c89490c)
source scripts/cuda-device-env.sh
B=build-cuda
{
ls -la models/ patterns/ | grep -E "gguf|h5"
echo "== test_model_cuda"; $B/tests/cuda/test_model_cuda 2>&1 | tail -4
echo "== E2E full / dam / streaming 8K 32K 128K"; $B/dam bench --device cuda --method full --method dam --method streaming --lengths 8192,32768,131072 --chunk 1048576 --warmup 1 --repeats 2 2>&1 | tail -12
} 2>&1 | tee $OUT/c4.log
