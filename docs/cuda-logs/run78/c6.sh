#!/bin/bash
# run 78, call 6 (.carry/gpu): dam_online's patterns and blocks copied back into the workspace's
# page-locked buffer (was malloc'd: c5 put ~0.24 ms of its 0.75 ms estimate at 32K outside the kernels).
# test_estimate_cuda full (GPU plans == CPU plans for dam_online among others), memcheck quick,
# bench_estimate dam_online against f675e27's binary alternated three times
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
P=/tmp/dam-gpu/bench_estimate_prev
rm -f $P; gunzip -c .carry/gpu/bench_estimate_prev.gz >$P && chmod +x $P
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
echo "== memcheck test_estimate_cuda quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2 3; do
echo "== bench_estimate new ($i)"; $B/bench_estimate --method dam_online --lengths 32768,131072 --repeats 5 2>&1 | tail -2
echo "== bench_estimate prev ($i)"; $P --method dam_online --lengths 32768,131072 --repeats 5 2>&1 | tail -2
done
} 2>&1 | tee $OUT/c6.log
