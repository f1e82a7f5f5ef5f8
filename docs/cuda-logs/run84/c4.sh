#!/bin/bash
# run 84, call 4 (model part 3, assembled): the model-level checks of what 6384ac2 and the alignment
# synchronisation (attn_ctx_cuda) changed without a GPU run: test_model_cuda; the embedded default
# config on the GPU (its h5 comes back for `dam compare` against the CPU run); full vs DAM end to end
# at 8K / 32K / 128K and DAM at 1M with the stream-ordered pool (run 74 before the pool: 2,760 ms); the
# dynamic methods at 32K (XAttention's products now one launch per row chunk)
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== test_model_cuda"; /usr/bin/time -f "%e s" $B/tests/cuda/test_model_cuda 2>&1 | tail -6
echo "== dam run configs/default.json --device cuda"
/usr/bin/time -f "%e s" $B/dam run configs/default.json --device cuda -o $OUT/gpu_default.h5 --overwrite --progress none 2>&1 | tail -4
$B/dam inspect $OUT/gpu_default.h5 2>&1 | tail -60
echo "== bench full vs dam"; $B/dam bench --device cuda --method full --method dam --lengths 8192,32768,131072 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -8
echo "== bench dam 1M"; /usr/bin/time -f "%e s" $B/dam bench --device cuda --method dam --lengths 1048576 --chunk 1048576 --warmup 0 --repeats 1 2>&1 | tail -4
echo "== bench dynamic 32K"; $B/dam bench --device cuda --method minference --method xattention --method dam_online --lengths 32768 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -4
} 2>&1 | tee $OUT/c4.log
