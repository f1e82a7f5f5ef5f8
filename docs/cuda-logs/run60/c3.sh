#!/bin/bash
# run 60, call 3: the kernel bench at 4K and 64K (d = 64 defaults)
source scripts/cuda-device-env.sh
B=build-cuda
{ echo "== bench d64 4K 64K"; $B/cuda/bench_attention_masked_cuda 4096 65536 2>&1 | grep -vE "DAM-like,"; } 2>&1 | tee $OUT/c3.log
