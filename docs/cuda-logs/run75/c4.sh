#!/bin/bash
# run 75, call 4 (after c1-c3 carried .carry/gpu, gpu-m1, gpu-m2 with `source scripts/cuda-device-env.sh`
# only; this call carries gpu-m3): is DAM's attention slower with its lists built on the GPU (run 74:
# 128K non-mask time 170 ms median vs run 72's 110)? A/B in one call, alternated: default (GPU build)
# vs DAM_CUDA_HOST_LISTS=1 (every plan on the host build, run 67's path)
source scripts/cuda-device-env.sh
B=build-cuda
{
for i in 1 2 3; do
  for mode in gpu host; do
    echo "== $mode ($i)"
    if [ $mode = host ]; then export DAM_CUDA_HOST_LISTS=1; else unset DAM_CUDA_HOST_LISTS; fi
    $B/dam bench --device cuda --method dam --lengths 32768,131072 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -2
  done
done
unset DAM_CUDA_HOST_LISTS
echo "== full 128K"; $B/dam bench --device cuda --method full --lengths 131072 --chunk 1048576 --warmup 1 --repeats 3 2>&1 | tail -1
} 2>&1 | tee $OUT/c4.log
