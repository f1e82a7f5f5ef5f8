#!/bin/bash
# run 85, call 9 (model part 3 after c6 carried .carry/gpu and c7, c8 parts 1-2; binaries of b8ebed6):
# the model on the GPU with the changed decode merge — test_model_cuda (decode steps vs one-shot) and
# the embedded default config, whose generated answers go through the decode kernel (its h5 comes back
# for `dam compare` against run 84 c4's GPU file and the CPU file)
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_model_cuda"; /usr/bin/time -f "%e s" $B/tests/cuda/test_model_cuda 2>&1 | tail -6
echo "== dam run configs/default.json --device cuda"
/usr/bin/time -f "%e s" $B/dam run configs/default.json --device cuda -o $OUT/gpu_default.h5 --overwrite --progress none 2>&1 | tail -2
} 2>&1 | tee $OUT/c9.log
