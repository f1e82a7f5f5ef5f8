#!/bin/bash
# run 60, call 4: the model on the GPU (test_model_cuda) and end to end, 64 x 64 tiles (default) vs the
# 192 x 128 tiles for dense attention (DAM_CUDA_WGMMA_WG=3, same binary)
source scripts/cuda-device-env.sh
B=build-cuda
ls -la models/
{
echo "== test_model_cuda"; /usr/bin/time -f "%e s" $B/tests/cuda/test_model_cuda 2>&1 | tail -6
echo "== passkey 1K, dynamic methods"
$B/dam run --device cuda -o /tmp/dyn.h5 --progress none \
  --set 'workloads=[{"task":"passkey","lengths":[1024],"depths":[0.5],"samples":1,"max_new_tokens":10}]' \
  --set 'methods=[{"method":"full"},{"method":"minference"},{"method":"xattention"},{"method":"flexprefill"},{"method":"dam_online"}]' 2>&1 | grep -E '^passkey|rror' | head
M="--method full --method minference --method xattention --method flexprefill --method dam_online"
echo "== E2E 32K"; $B/dam bench --device cuda $M --lengths 32768 --chunk 1048576 --warmup 1 --repeats 3 2>&1 | tail -7
echo "== E2E 32K full, WG=3"; DAM_CUDA_WGMMA_WG=3 $B/dam bench --device cuda --method full --lengths 32768 --chunk 1048576 --warmup 1 --repeats 3 2>&1 | tail -3
echo "== E2E 128K"; $B/dam bench --device cuda $M --lengths 131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -7
echo "== E2E 128K full, WG=3"; DAM_CUDA_WGMMA_WG=3 $B/dam bench --device cuda --method full --lengths 131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -3
echo "== E2E 128K full + xattention (again)"; $B/dam bench --device cuda --method full --method xattention --lengths 131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -4
} 2>&1 | tee $OUT/c4.log
