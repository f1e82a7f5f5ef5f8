#!/bin/bash
# cuda-stage.sh — copies the built CUDA programs (make cuda-build cuda-fault) and the device script
# into .carry/wt-cuda/ (ignored by git) of this checkout and of any extra checkout given as argument
# (the device tool sends the session's own checkout, which can be another worktree), so that a
# device run can carry ".carry/wt-cuda" and run: CUDA_BIN=.carry/wt-cuda .carry/wt-cuda/cuda-device-check.sh
set -eu
for root in . "$@"; do
    mkdir -p "$root/.carry/wt-cuda"
    cp build/cuda/test_attention_masked_cuda build/cuda/test_attention_masked_cuda_fault1 \
       build/cuda/test_attention_masked_cuda_fault2 build/cuda/test_attention_masked_cuda_fault3 \
       build/cuda/bench_attention_masked_cuda \
       scripts/cuda-device-check.sh "$root/.carry/wt-cuda/"
    git rev-parse HEAD >"$root/.carry/wt-cuda/COMMIT"
done
