#!/bin/bash
# run 62, call 3: the model parts' middle call; the decode test meanwhile (unchanged kernel, a check)
source scripts/cuda-device-env.sh
B=build-cuda
{ echo "== test_attention_decode_cuda quick"; $B/cuda/test_attention_decode_cuda quick 2>&1 | tail -1; } 2>&1 | tee $OUT/c3.log
