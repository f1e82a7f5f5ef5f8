#!/bin/bash
# run 84, call 1 (.carry/gpu, main at 107f3e4 + XAttention's products in one launch per row chunk and
# est_cuda_last_phases): where XAttention's 0.86 ms estimate at 32K goes beyond its ~0.67 ms of
# kernels (run 78 c5) — enqueue / GPU span / wait per call; the one-launch products against the
# per-KV-head ones (DAM_CUDA_XA_PER_KV=1, the code before) alternated; ncu per kernel for both and
# sections of the select and block-sum kernels (the last row chunk); test_estimate_cuda full; then
# what 6384ac2 changed without a GPU run: test_attention_masked_cuda quick (batched builds),
# bench_plan_build (run 83: batch_ms 3.95 at 8K)
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
for i in 1 2; do
echo "== bench_estimate one launch ($i)"; $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
echo "== bench_estimate per KV head ($i)"; DAM_CUDA_XA_PER_KV=1 $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
done
echo "== bench_estimate dam_online, minference (phases: none)"; $B/bench_estimate --method dam_online --method minference --lengths 32768 --repeats 7 2>&1 | tail -2
echo "== ncu xattention 32768 one launch"; $NCU -k regex:"xattention|strided|gemm|sm90|Kernel|cutlass|memset" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | cut -c1-150
echo "== ncu xattention 32768 per KV head"; DAM_CUDA_XA_PER_KV=1 $NCU -k regex:"xattention|strided|gemm|sm90|Kernel|cutlass|memset" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | cut -c1-150
for k in xattention_select xattention_block_sums_warp; do
echo "== ncu sections $k (launch 4 of the warm-up: the last row chunk)"
timeout 120 ncu --clock-control none -k regex:$k --launch-skip 3 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -vE "^==PROF==|^ *-+ *$|^$" | cut -c1-140 | tail -110
done
echo "== test_attention_masked_cuda quick"; /usr/bin/time -f "%e s" build-cuda/cuda/test_attention_masked_cuda quick 2>&1 | tail -3
echo "== bench_plan_build"; $B/bench_plan_build --patterns .carry/gpu/patterns.h5 --lengths 2048,8192,32768,131072 --repeats 5 2>&1 | tail -12
} 2>&1 | tee $OUT/c1.log
