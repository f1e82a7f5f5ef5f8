#!/bin/bash
# run 85, call 4 (.carry/gpu, the committed decode): where SmolLM2's fixed ~11 us per decode call goes —
# the step time at tiny caches (1K, 4K keys: fixed cost only) and ncu's kernel duration per call at 32K
# (the kernel alone, without the gaps between launches)
source scripts/cuda-device-env.sh
B=build-cuda/cuda
{
echo "== bench 1024 4096 32768"; $B/bench_attention_decode_cuda 1024 4096 32768 2>&1 | tail -7
echo "== ncu decode_kernel at 32768 (first 90 launches: SmolLM2's 3 warm-up steps)"
ncu --clock-control none --metrics gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed -k regex:decode_kernel --launch-count 90 --print-summary per-kernel $B/bench_attention_decode_cuda 32768 2>&1 | grep -E "decode_kernel|duration|throughput" | cut -c1-140 | head -12
} 2>&1 | tee $OUT/c4.log
