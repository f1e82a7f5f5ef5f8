#!/bin/bash
# run 85, call 1 (.carry/gpu): decode's automatic split count sized from the kernel's occupancy
# (cudaOccupancyMaxActiveBlocksPerMultiprocessor: 3 CTAs per SM at d 64, 1 at d 128) instead of a
# fixed 2 per SM (run 9: SmolLM2 35 / 50 / 66 % of the copy bandwidth at 32K / 64K / 128K, Llama-3-8B
# shape 69 % at 32K: one CTA per SM fits at d 128, so its 264 CTAs ran in two waves); sweep of
# DAM_CUDA_DECODE_CTAS_PER_SM (2 = before) in the same call; test_attention_decode_cuda full and quick
# under memcheck
source scripts/cuda-device-env.sh
B=build-cuda/cuda
{
echo "== test_attention_decode_cuda (full)"; /usr/bin/time -f "%e s" $B/test_attention_decode_cuda 2>&1 | tail -2
echo "== memcheck quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_attention_decode_cuda quick 2>&1 | tail -2
for i in 1 2; do
for c in occupancy 2 1 3 4 6; do
  echo "== bench, CTAs per SM: $c ($i)"
  if [ $c = occupancy ]; then $B/bench_attention_decode_cuda 32768 65536 131072 262144 2>&1 | tail -9
  else DAM_CUDA_DECODE_CTAS_PER_SM=$c $B/bench_attention_decode_cuda 32768 65536 131072 262144 2>&1 | tail -9; fi
done
done
} 2>&1 | tee $OUT/c1.log
