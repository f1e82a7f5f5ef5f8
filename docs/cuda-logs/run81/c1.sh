#!/bin/bash
# run 81, call 1 (.carry/gpu, binaries of branch plan-batch at 73318e3: the batched build, device memory from
# the default pool (stream-ordered), the single build's staging without a nested parallel region;
# .carry/gpu/bench_estimate_prev.gz = main's at 8190b48): the kernel tests' quick sets (plain and under
# memcheck: the pool's stream-ordered frees), bench_plan_build (run 80 c1, before the two fixes: build
# 56-64 ms, host 45-59, batch 5.3 / 5.3 / 7.1 / 12.0 / 279 ms at 2K / 8K / 32K / 128K / 1M), the four
# dynamic methods' estimation alternated with main's binary (conv_ms is where the pool shows)
source scripts/cuda-device-env.sh
B=build-cuda
P=/tmp/dam-gpu/bench_estimate_prev
rm -f $P; gunzip -c .carry/gpu/bench_estimate_prev.gz >$P && chmod +x $P
{
for t in cuda/test_attention_masked_cuda cuda/test_attention_decode_cuda tests/cuda/test_estimate_cuda; do
  echo "== $t quick"; $B/$t quick 2>&1 | tail -1
  echo "== memcheck $t quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $B/$t quick 2>&1 | tail -2
done
echo "== test_ops_cuda"; $B/tests/cuda/test_ops_cuda 2>&1 | tail -1
echo "== bench_plan_build"; $B/tests/cuda/bench_plan_build --patterns .carry/gpu/patterns.h5 --lengths 2048,8192,32768,131072,1048576 --repeats 5
for i in 1 2; do
  echo "== bench_estimate new ($i)"; $B/tests/cuda/bench_estimate --lengths 32768 --repeats 5 2>&1 | tail -5
  echo "== bench_estimate main ($i)"; $P --lengths 32768 --repeats 5 2>&1 | tail -5
done
} 2>&1 | tee $OUT/c1.log
