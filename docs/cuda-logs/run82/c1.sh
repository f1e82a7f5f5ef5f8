#!/bin/bash
# run 82, call 1 (.carry/gpu, branch plan-batch: plans of <= 4,096 items scan and sort in one CTA
# (scan_sort_small) instead of CUB; uploads through a kept page-locked buffer, asynchronous;
# .carry/gpu/bench_plan_build_prev.gz = run 81's): the masked kernels' full test (batch cases: the CUB path
# and the uploads in turns byte for byte against the default), quick under memcheck and racecheck,
# the broken builds, bench_plan_build new vs run 81's alternated (run 81: batch 4.08 / 3.78 / 4.21 /
# 11.20 / 274.6 ms at 2K / 8K / 32K / 128K / 1M)
source scripts/cuda-device-env.sh
B=build-cuda
P=/tmp/dam-gpu/bench_plan_build_prev
rm -f $P; gunzip -c .carry/gpu/bench_plan_build_prev.gz >$P && chmod +x $P
{
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" timeout 420 $B/cuda/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
for t in memcheck racecheck; do echo "== $t quick"; timeout 150 compute-sanitizer --tool $t --error-exitcode 9 $B/cuda/test_attention_masked_cuda quick 2>&1 | tail -2; done
for f in 1 2 3; do echo "== fault$f quick (must fail)"; $B/cuda/test_attention_masked_cuda_fault$f quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"; done
for i in 1 2; do
  echo "== bench_plan_build new ($i)"; $B/tests/cuda/bench_plan_build --patterns .carry/gpu/patterns.h5 --lengths 2048,8192,32768,131072 --repeats 5 | tail -4
  echo "== bench_plan_build run 81 ($i)"; $P --patterns .carry/gpu/patterns.h5 --lengths 2048,8192,32768,131072 --repeats 5 | tail -4
done
} 2>&1 | tee $OUT/c1.log
