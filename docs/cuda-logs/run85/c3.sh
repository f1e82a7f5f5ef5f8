#!/bin/bash
# run 85, call 3 (.carry/gpu): the three-stage ring at d = 128 only for groups of at most 5 query heads
# (two CTAs fit an SM beside the static merge buffers, 2 KB per head; groups of 6-8 keep 4 stages);
# test_attention_decode_cuda full and quick under memcheck, the bench once (c2's figures expected)
source scripts/cuda-device-env.sh
B=build-cuda/cuda
{
echo "== test_attention_decode_cuda (full)"; /usr/bin/time -f "%e s" $B/test_attention_decode_cuda 2>&1 | tail -2
echo "== memcheck quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_attention_decode_cuda quick 2>&1 | tail -2
echo "== bench"; $B/bench_attention_decode_cuda 32768 65536 131072 262144 2>&1 | tail -10
} 2>&1 | tee $OUT/c3.log
