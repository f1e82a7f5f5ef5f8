#!/bin/bash
# run 73, call 1 (.carry/gpu, binaries of dam-split + bench_plan_build): where DAM's per-prompt plan
# time goes (run 72: mask_ms 23.8 ms at 2K, 25.6 at 8K with the split), and the CUDA API profile of it
source scripts/cuda-device-env.sh
B=build-cuda
P=.carry/gpu/patterns.h5
{
echo "== bench_plan_build"; $B/tests/cuda/bench_plan_build --patterns $P --lengths 2048,8192,32768,131072,1048576 --repeats 5
NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys /usr/local/cuda/nsight-systems*/bin/nsys 2>/dev/null | head -1)
echo "== nsys: ${NSYS:-none}"
if [ -n "$NSYS" ]; then
  $NSYS profile -t cuda,osrt -o /tmp/p8k --force-overwrite true $B/tests/cuda/bench_plan_build --patterns $P --lengths 8192 --repeats 3 >/dev/null 2>&1
  $NSYS stats --report cuda_api_sum,cuda_gpu_kern_sum,cuda_gpu_mem_time_sum --format csv /tmp/p8k.nsys-rep 2>&1 | head -80
fi
} 2>&1 | tee $OUT/c1.log
